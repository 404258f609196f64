"""`/antispam ...`: show and change the guild's settings, exemptions, mod-log channel, and members' strikes.

`default_member_permissions` hides the command from members without Manage Server, but server admins can
override that in Discord's settings, so every subcommand checks the invoker's permissions again at run time.
All replies are ephemeral and ping nobody.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import nextcord
from nextcord import SlashOption
from nextcord.ext import commands

from bot.antispam import Rule, SpamSettings
from bot.db.moderation import count_live_strikes, list_mod_actions, pardon_strikes, record_mod_action
from cogs._admin import MANAGE_SERVER, reply, require_admin
from cogs.antispam._logic import describe_punishment, format_duration, punishment_for

if TYPE_CHECKING:
    from bot.gateway import StewardBot
    from cogs.antispam.events import AntispamEvents

log = logging.getLogger(__name__)

TEXT_CHANNELS = [
    nextcord.ChannelType.text,
    nextcord.ChannelType.news,
    nextcord.ChannelType.public_thread,
    nextcord.ChannelType.private_thread,
    nextcord.ChannelType.news_thread,
]


async def _lift_timeout(member: nextcord.Member, *, by: object) -> str:
    """A pardon also ends a running timeout (an admin expects "pardoned" to mean the member can talk again)."""
    until = member.communication_disabled_until
    if until is None or until <= nextcord.utils.utcnow():
        return ""
    try:
        await member.edit(timeout=None, reason=f"anti-spam pardon by {by}")
    except nextcord.HTTPException as exc:
        log.warning("could not lift the timeout of %s in guild %s: HTTP %s", member.id, member.guild.id, exc.status)
        return f"; their timeout could not be lifted (HTTP {exc.status}: does the bot have Moderate Members?)"
    return " and their timeout lifted"


def _shown(value: object) -> str:
    """One stored value as admins type it: lists comma-separated, an empty list as "none"."""
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return str(value)


def describe_settings(settings: SpamSettings, modlog_channel_id: int | None) -> str:
    on = [r.value for r in Rule if settings.enabled(r)]
    off = [r.value for r in Rule if not settings.enabled(r)]
    values = settings.to_dict()
    skip = {"enabled_rules", "ladder", "exempt_role_ids", "exempt_channel_ids"}
    thresholds = ", ".join(f"{k}={_shown(v)}" for k, v in values.items() if k not in skip)
    roles = " ".join(f"<@&{r}>" for r in sorted(settings.exempt_role_ids)) or "none"
    channels = " ".join(f"<#{c}>" for c in sorted(settings.exempt_channel_ids)) or "none"
    ladder = " → ".join(describe_punishment(p) for p in settings.ladder)
    return "\n".join(
        [
            "**Anti-spam settings**",
            f"Rules on: {', '.join(on) or 'none'}" + (f" · off: {', '.join(off)}" if off else ""),
            f"Ladder: {ladder} (strikes expire after {format_duration(settings.strike_expiry)})",
            f"Exempt roles: {roles} · exempt channels: {channels}",
            f"Mod log: {f'<#{modlog_channel_id}>' if modlog_channel_id else 'not set'}",
            f"Thresholds: {thresholds}",
            "Change one with `/antispam set <rule or setting> <value>` (a rule name takes on/off).",
        ]
    )


class AntispamCommands(commands.Cog):
    def __init__(self, bot: StewardBot, events: AntispamEvents) -> None:
        self.bot = bot
        self.events = events
        self.store = events.store

    @nextcord.slash_command(
        name="antispam",
        description="Anti-spam settings and strikes.",
        default_member_permissions=MANAGE_SERVER,
        contexts=[nextcord.InteractionContextType.guild],
    )
    async def antispam(self, interaction: nextcord.Interaction) -> None:
        pass  # only the subcommands run

    @antispam.subcommand(name="show", description="Show this server's anti-spam settings.")
    async def show(self, interaction: nextcord.Interaction) -> None:
        if not await self._check(interaction):
            return
        config = await self.store.get(interaction.guild_id)  # type: ignore[arg-type]
        await reply(interaction, describe_settings(config.spam, config.modlog_channel_id))

    @antispam.subcommand(name="set", description="Change one threshold, or switch a rule on/off.")
    async def set_(
        self,
        interaction: nextcord.Interaction,
        rule: str = SlashOption(description="A rule name (flood, raid, ...) or a setting (flood_max_messages, ...)"),
        value: str = SlashOption(description="on/off for a rule, a number, or a comma-separated list"),
    ) -> None:
        if not await self._check(interaction):
            return
        guild_id: int = interaction.guild_id  # type: ignore[assignment]
        current = await self.store.get(guild_id)
        key = rule.strip().lower()
        try:
            updated = current.spam.with_setting(key, value)  # validated by SpamSettings.from_dict
        except ValueError as exc:
            await reply(interaction, f"Not changed: {exc}")
            return
        await self.store.update(guild_id, spam=updated)
        if key in Rule._value2member_map_:
            shown = "on" if updated.enabled(Rule(key)) else "off"
        else:
            shown = _shown(updated.to_dict()[key])
        log.info("guild %s: %s set anti-spam %s to %s", guild_id, interaction.user.id, key, shown)  # type: ignore[union-attr]
        await reply(interaction, f"Anti-spam `{key}` is now `{shown}`; it applies from the next message.")

    @antispam.subcommand(name="modlog", description="Where anti-spam actions are posted (leave empty to stop).")
    async def modlog(
        self,
        interaction: nextcord.Interaction,
        channel: nextcord.abc.GuildChannel | None = SlashOption(
            description="The mod-log channel", required=False, channel_types=TEXT_CHANNELS
        ),
    ) -> None:
        if not await self._check(interaction):
            return
        channel_id = channel.id if channel is not None else None
        await self.store.update(interaction.guild_id, modlog_channel_id=channel_id)  # type: ignore[arg-type]
        await reply(interaction, f"Anti-spam actions go to <#{channel_id}>." if channel_id else "Mod log turned off.")

    @antispam.subcommand(name="exempt", description="Roles and channels anti-spam ignores.")
    async def exempt(self, interaction: nextcord.Interaction) -> None:
        pass

    @exempt.subcommand(name="add", description="Let anti-spam ignore a role or a channel.")
    async def exempt_add(
        self,
        interaction: nextcord.Interaction,
        role: nextcord.Role | None = SlashOption(description="A role to ignore", required=False),
        channel: nextcord.abc.GuildChannel | None = SlashOption(
            description="A channel to ignore", required=False, channel_types=TEXT_CHANNELS
        ),
    ) -> None:
        await self._exempt(interaction, role, channel, add=True)

    @exempt.subcommand(name="remove", description="Stop ignoring a role or a channel.")
    async def exempt_remove(
        self,
        interaction: nextcord.Interaction,
        role: nextcord.Role | None = SlashOption(description="A role", required=False),
        channel: nextcord.abc.GuildChannel | None = SlashOption(
            description="A channel", required=False, channel_types=TEXT_CHANNELS
        ),
    ) -> None:
        await self._exempt(interaction, role, channel, add=False)

    @antispam.subcommand(name="strikes", description="A member's live anti-spam strikes and recent actions.")
    async def strikes(
        self, interaction: nextcord.Interaction, member: nextcord.Member = SlashOption(description="The member")
    ) -> None:
        if not await self._check(interaction):
            return
        guild_id: int = interaction.guild_id  # type: ignore[assignment]
        config = await self.store.get(guild_id)
        live = await count_live_strikes(self.events.engine, guild_id, member.id)
        recent = await list_mod_actions(self.events.engine, guild_id, user_id=member.id, limit=5)
        following = describe_punishment(punishment_for(live + 1, config.spam))
        lines = [
            f"<@{member.id}> has {live} live strike(s) (they expire after "
            f"{format_duration(config.spam.strike_expiry)}); the next one means: {following}."
        ]
        for action in recent:
            lines.append(
                f"- <t:{int(action.created_at.timestamp())}:R> {action.action}"
                + (f" ({action.rule})" if action.rule else "")
                + (f" by <@{action.moderator_id}>" if action.moderator_id else "")
            )
        await reply(interaction, "\n".join(lines))

    @antispam.subcommand(name="pardon", description="Clear a member's anti-spam strikes.")
    async def pardon(
        self, interaction: nextcord.Interaction, member: nextcord.Member = SlashOption(description="The member")
    ) -> None:
        if not await self._check(interaction):
            return
        guild_id: int = interaction.guild_id  # type: ignore[assignment]
        cleared = await pardon_strikes(self.events.engine, guild_id, member.id)
        await record_mod_action(
            self.events.engine,
            guild_id,
            member.id,
            "pardon",
            moderator_id=interaction.user.id,  # type: ignore[union-attr]
            reason=f"{cleared} strike(s) pardoned",
        )
        self.events.gate.forget(guild_id, member.id)
        self.events.detector.forget_member(guild_id, member.id)
        lifted = await _lift_timeout(member, by=interaction.user)
        await reply(interaction, f"Pardoned <@{member.id}>: {cleared} strike(s) cleared{lifted}.")

    # -- helpers -------------------------------------------------------------------------------------------------

    async def _check(self, interaction: nextcord.Interaction) -> bool:
        return await require_admin(interaction, "You need the Manage Server permission to use /antispam.")

    async def _exempt(
        self,
        interaction: nextcord.Interaction,
        role: nextcord.Role | None,
        channel: nextcord.abc.GuildChannel | None,
        *,
        add: bool,
    ) -> None:
        if not await self._check(interaction):
            return
        if role is None and channel is None:
            await reply(interaction, "Name a role, a channel, or both.")
            return
        guild_id: int = interaction.guild_id  # type: ignore[assignment]
        spam = (await self.store.get(guild_id)).spam
        data = spam.to_dict()
        done = []
        for key, target, shown in (
            ("exempt_role_ids", role, f"<@&{role.id}>" if role else ""),
            ("exempt_channel_ids", channel, f"<#{channel.id}>" if channel else ""),
        ):
            if target is None:
                continue
            ids = set(data[key])
            (ids.add if add else ids.discard)(target.id)
            data[key] = sorted(ids)
            done.append(shown)
        try:
            updated = SpamSettings.from_dict(data)
        except ValueError as exc:  # cannot happen with ids from Discord, but never half-apply
            await reply(interaction, f"Not changed: {exc}")
            return
        await self.store.update(guild_id, spam=updated)
        verb = "now ignores" if add else "no longer ignores"
        await reply(interaction, f"Anti-spam {verb} {' and '.join(done)}.")
