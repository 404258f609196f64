"""What every cog's admin commands share: who may run them, and answering privately without pinging anyone.

Discord hides commands registered with `default_member_permissions=MANAGE_SERVER` from other members, but a server
admin can override that in the integration settings, so each command re-checks with `require_admin` when it runs.
"""

from __future__ import annotations

import nextcord

MANAGE_SERVER = nextcord.Permissions(manage_guild=True)
GUILD_ONLY = [nextcord.InteractionContextType.guild]
NO_PINGS = nextcord.AllowedMentions.none()
NOT_ADMIN = "You need the Manage Server permission to do that."


def is_admin(interaction: nextcord.Interaction) -> bool:
    perms = interaction.permissions  # the invoker's resolved permissions in this channel, sent by Discord
    return interaction.guild_id is not None and (perms.manage_guild or perms.administrator)


async def reply(interaction: nextcord.Interaction, text: str) -> None:
    """An ephemeral answer (only the invoker sees it) that pings nobody, cut to Discord's 2,000 characters."""
    await interaction.response.send_message(text[:2000], ephemeral=True, allowed_mentions=NO_PINGS)


async def require_admin(interaction: nextcord.Interaction, refusal: str = NOT_ADMIN) -> bool:
    if is_admin(interaction):
        return True
    await reply(interaction, refusal)
    return False
