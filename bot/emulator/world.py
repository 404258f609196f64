"""The emulator's state and the payloads rendered from it; no I/O here, so REST, gateway and tests share it."""

from __future__ import annotations

import re
import secrets
from typing import Any

from bot.emulator.models import (
    ADMINISTRATOR,
    DEFAULT_BOT_PERMISSIONS,
    DM,
    EVERYONE_PERMISSIONS,
    TEXT,
    THREAD,
    Attachment,
    Channel,
    Command,
    Guild,
    Member,
    Message,
    Role,
    Snowflakes,
    User,
    Webhook,
    attachment_payload,
    channel_payload,
    member_payload,
    role_payload,
    user_payload,
)

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")


class World:
    def __init__(self, bot_name: str = "Steward") -> None:
        self.ids = Snowflakes()
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.commands: dict[int, Command] = {}
        self.webhooks: dict[int, Webhook] = {}
        self.bot = self.create_user(bot_name, bot=True)
        self.application_id = self.bot.id  # Discord gives a bot user the id of its application
        self.attachment_base = ""  # set by the server once it knows its URL

    # --- creation -------------------------------------------------------------------------------------------
    def create_user(self, username: str, *, bot: bool = False, id: int | None = None) -> User:
        user = User(id=id or self.ids.next(), username=username, bot=bot, global_name=username)
        self.users[user.id] = user
        return user

    def create_guild(
        self,
        name: str,
        *,
        id: int | None = None,
        owner_id: int | None = None,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        everyone_permissions: int = EVERYONE_PERMISSIONS,
    ) -> Guild:
        """A guild the bot is in, with @everyone, a managed bot role and a #general text channel."""
        guild_id = id or self.ids.next()
        owner = owner_id or self.create_user(f"{name}-owner").id
        guild = Guild(id=guild_id, name=name, owner_id=owner)
        guild.roles[guild_id] = Role(id=guild_id, guild_id=guild_id, name="@everyone", permissions=everyone_permissions)
        self.guilds[guild_id] = guild
        bot_role = self.create_role(guild_id, self.bot.username, permissions=bot_permissions, managed=True)
        self.add_member(guild_id, owner)
        self.add_member(guild_id, self.bot.id, roles=[bot_role.id])
        guild.system_channel_id = self.create_channel(guild_id, "general").id
        return guild

    def create_role(
        self,
        guild_id: int,
        name: str,
        *,
        permissions: int = 0,
        position: int | None = None,
        color: int = 0,
        managed: bool = False,
        mentionable: bool = False,
    ) -> Role:
        guild = self.guilds[guild_id]
        if position is None:
            position = 1  # like Discord: a new role goes just above @everyone, below the bot's own role
        for other in guild.roles.values():
            if other.id != guild_id and other.position >= position:
                other.position += 1
        role = Role(
            id=self.ids.next(),
            guild_id=guild_id,
            name=name,
            permissions=permissions,
            position=position,
            color=color,
            managed=managed,
            mentionable=mentionable,
        )
        guild.roles[role.id] = role
        return role

    def create_channel(
        self, guild_id: int, name: str, *, type: int = TEXT, parent_id: int | None = None, topic: str | None = None
    ) -> Channel:
        guild = self.guilds[guild_id]
        channel = Channel(
            id=self.ids.next(),
            type=type,
            name=name,
            guild_id=guild_id,
            position=len(guild.channel_ids),
            parent_id=parent_id,
            topic=topic,
        )
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        return channel

    def create_thread(self, parent_id: int, name: str, *, owner_id: int | None = None) -> Channel:
        parent = self.channels[parent_id]
        assert parent.guild_id is not None, "threads live in guild channels"
        thread = self.create_channel(parent.guild_id, name, type=THREAD, parent_id=parent_id)
        thread.owner_id = owner_id or self.bot.id
        return thread

    def dm_channel(self, user_id: int) -> Channel:
        """The DM channel between the bot and `user_id`, created on first use like Discord's."""
        for channel in self.channels.values():
            if channel.type == DM and channel.recipient_ids == [user_id]:
                return channel
        channel = Channel(id=self.ids.next(), type=DM, recipient_ids=[user_id])
        self.channels[channel.id] = channel
        return channel

    def add_member(
        self, guild_id: int, user_id: int, *, roles: list[int] | None = None, nick: str | None = None
    ) -> Member:
        member = Member(guild_id=guild_id, user_id=user_id, roles=list(roles or []), nick=nick)
        self.guilds[guild_id].members[user_id] = member
        return member

    def create_webhook(self, channel_id: int, name: str = "webhook") -> Webhook:
        channel = self.channels[channel_id]
        hook = Webhook(
            id=self.ids.next(),
            token=secrets.token_urlsafe(51),
            channel_id=channel_id,
            guild_id=channel.guild_id,
            name=name,
        )
        self.webhooks[hook.id] = hook
        return hook

    def new_message(
        self,
        channel_id: int,
        author_id: int,
        content: str = "",
        *,
        mentions: list[int] | None = None,
        attachments: list[Attachment] | None = None,
        reference: int | None = None,
        **extra: Any,
    ) -> Message:
        """Store a message; mentions default to the <@id> / <@&id> written in `content`, as Discord parses them."""
        channel = self.channels[channel_id]
        if mentions is None:
            mentions = [int(m) for m in USER_MENTION.findall(content) if int(m) in self.users]
        extra.setdefault("mention_roles", [int(r) for r in ROLE_MENTION.findall(content)])
        extra.setdefault("mention_everyone", "@everyone" in content or "@here" in content)
        message = Message(
            id=self.ids.next(),
            channel_id=channel_id,
            guild_id=channel.guild_id,
            author_id=author_id,
            content=content,
            mentions=mentions,
            attachments=attachments or [],
            reference=(
                {"message_id": str(reference), "channel_id": str(channel_id), "guild_id": _str(channel.guild_id)}
                if reference
                else None
            ),
            **extra,
        )
        for att in message.attachments:
            att.url = f"{self.attachment_base}/attachments/{channel_id}/{att.id}/{att.filename}"
        channel.messages[message.id] = message
        return message

    # --- queries --------------------------------------------------------------------------------------------
    def find_message(self, message_id: int) -> Message | None:
        for channel in self.channels.values():
            if message_id in channel.messages:
                return channel.messages[message_id]
        return None

    def permissions(self, guild_id: int, user_id: int) -> int:
        """Guild-level permissions (channel overwrites are not modelled); owner and ADMINISTRATOR get everything."""
        guild = self.guilds[guild_id]
        if user_id == guild.owner_id:
            return (1 << 53) - 1
        member = guild.members.get(user_id)
        if member is None:
            return 0
        value = guild.everyone.permissions
        for role_id in member.roles:
            if role_id in guild.roles:
                value |= guild.roles[role_id].permissions
        return (1 << 53) - 1 if value & ADMINISTRATOR else value

    def top_role_position(self, guild_id: int, user_id: int) -> int:
        guild = self.guilds[guild_id]
        member = guild.members.get(user_id)
        if member is None:
            return -1
        return max([guild.roles[r].position for r in member.roles if r in guild.roles] + [0])

    def guild_commands(self, guild_id: int | None) -> list[Command]:
        return [c for c in self.commands.values() if c.guild_id == guild_id]

    # --- payloads -------------------------------------------------------------------------------------------
    def user_payload(self, user_id: int) -> dict[str, Any]:
        return user_payload(self.users[user_id])

    def member_payload(self, guild_id: int, user_id: int, *, with_user: bool = True) -> dict[str, Any]:
        member = self.guilds[guild_id].members[user_id]
        return member_payload(member, self.users[user_id] if with_user else None)

    def channel_payload(self, channel_id: int) -> dict[str, Any]:
        return channel_payload(self.channels[channel_id], self.users)

    def role_payload(self, guild_id: int, role_id: int) -> dict[str, Any]:
        return role_payload(self.guilds[guild_id].roles[role_id])

    def message_payload(self, message: Message) -> dict[str, Any]:
        guild = self.guilds.get(message.guild_id) if message.guild_id else None
        author = self.users[message.author_id]
        data: dict[str, Any] = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "author": user_payload(author),
            "content": message.content,
            "timestamp": message.timestamp,
            "edited_timestamp": message.edited_timestamp,
            "tts": message.tts,
            "mention_everyone": message.mention_everyone,
            "mentions": [],
            "mention_roles": [str(r) for r in message.mention_roles],
            "attachments": [attachment_payload(a) for a in message.attachments],
            "embeds": message.embeds,
            "components": message.components,
            "reactions": [
                {"emoji": _emoji_payload(e), "count": len(u), "me": self.bot.id in u, "burst_count": 0}
                for e, u in message.reactions.items()
                if u
            ],
            "pinned": False,
            "type": 19 if message.reference else 0,
            "flags": message.flags,
        }
        if message.webhook_id:
            data["webhook_id"] = str(message.webhook_id)
        if message.reference:
            data["message_reference"] = message.reference
            referenced = self.find_message(int(message.reference["message_id"]))
            data["referenced_message"] = (
                self.message_payload(referenced) if referenced and not referenced.deleted else None
            )
        for uid in message.mentions:
            mention = user_payload(self.users[uid])
            if guild and uid in guild.members:
                mention["member"] = member_payload(guild.members[uid])
            data["mentions"].append(mention)
        if guild is not None:
            data["guild_id"] = str(guild.id)
            if message.author_id in guild.members and not message.webhook_id:
                data["member"] = member_payload(guild.members[message.author_id])
        return data

    def guild_create_payload(self, guild_id: int) -> dict[str, Any]:
        guild = self.guilds[guild_id]
        channels = [self.channels[c] for c in guild.channel_ids]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "system_channel_id": _str(guild.system_channel_id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "features": [],
            "roles": [role_payload(r) for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "joined_at": guild.members[self.bot.id].joined_at,
            "large": False,
            "unavailable": False,
            # Every member is sent and member_count matches, so nextcord counts the guild as chunked.
            "member_count": len(guild.members),
            "members": [member_payload(m, self.users[m.user_id]) for m in guild.members.values()],
            "channels": [channel_payload(c, self.users) for c in channels if c.type != THREAD],
            "threads": [channel_payload(c, self.users) for c in channels if c.type == THREAD],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "application_id": None,
        }

    def command_payload(self, command: Command) -> dict[str, Any]:
        data = {
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            "description": "",
            "options": [],
            **command.body,
        }
        data.update(
            id=str(command.id),
            application_id=str(command.application_id),
            version=str(command.version),
            type=command.type,
            name=command.name,
        )
        if command.guild_id is not None:
            data["guild_id"] = str(command.guild_id)
        return data


def resolve_pings(message: Message, allowed: dict[str, Any] | None, replied_author_id: int | None) -> None:
    """Fill `pinged_*` and `mention_everyone` the way Discord applies `allowed_mentions` to a message.

    No `allowed_mentions` at all means Discord's default: every user, role and @everyone written is pinged.
    """
    parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
    users = {int(u) for u in (allowed or {}).get("users") or []}
    roles = {int(r) for r in (allowed or {}).get("roles") or []}
    message.pinged_user_ids = [u for u in message.mentions if "users" in parse or u in users]
    message.pinged_role_ids = [r for r in message.mention_roles if "roles" in parse or r in roles]
    replied = True if allowed is None else bool(allowed.get("replied_user", False))
    if replied_author_id is not None and replied and replied_author_id not in message.pinged_user_ids:
        message.pinged_user_ids.append(replied_author_id)
    message.mention_everyone = message.mention_everyone and "everyone" in parse


def _str(value: int | None) -> str | None:
    return str(value) if value is not None else None


def _emoji_payload(emoji: str) -> dict[str, Any]:
    # Custom emoji arrive as name:id in the URL; unicode ones as the character itself.
    if ":" in emoji:
        name, _, emoji_id = emoji.partition(":")
        return {"id": emoji_id, "name": name}
    return {"id": None, "name": emoji}
