"""The emulator's world: users, guilds, channels, members, roles, messages, commands, webhooks.

Plain dataclasses plus `*_payload` functions that render them the way Discord's API v10 does, with exactly the
keys nextcord 3.2 reads unconditionally (a missing key there is a KeyError deep inside the client).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits the emulator enforces (https://discord.com/developers/docs/topics/permissions).
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
MANAGE_NICKNAMES = 1 << 27
MANAGE_ROLES = 1 << 28
MODERATE_MEMBERS = 1 << 40

EVERYONE_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | ADD_REACTIONS | READ_MESSAGE_HISTORY | EMBED_LINKS | ATTACH_FILES
# What a moderation bot is typically invited with; tests that check "missing permission" paths lower this.
DEFAULT_BOT_PERMISSIONS = (
    EVERYONE_PERMISSIONS
    | MANAGE_MESSAGES
    | KICK_MEMBERS
    | BAN_MEMBERS
    | MANAGE_ROLES
    | MANAGE_NICKNAMES
    | MODERATE_MEMBERS
)

TEXT, DM, THREAD = 0, 1, 11


class Snowflakes:
    """Snowflake ids whose timestamp part strictly increases, one millisecond per id.

    Strictly increasing timestamps mean consecutive guilds land on different shards ((id >> 22) % count), which
    is what a sharding test needs, and ids still sort by creation like Discord's.
    """

    def __init__(self) -> None:
        self._last_ms = 0
        self._counter = itertools.count()

    def next(self) -> int:
        ms = max(int(time.time() * 1000) - DISCORD_EPOCH_MS, self._last_ms + 1)
        self._last_ms = ms
        return (ms << 22) | (next(self._counter) & 0xFFF)


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None


@dataclass
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    mentionable: bool = False
    managed: bool = False


@dataclass
class Member:
    guild_id: int
    user_id: int
    roles: list[int] = field(default_factory=list)  # never contains @everyone, like Discord
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)
    communication_disabled_until: str | None = None


@dataclass
class Attachment:
    id: int
    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None
    url: str = ""


@dataclass
class Message:
    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    mentions: list[int] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    tts: bool = False
    flags: int = 0
    components: list[dict[str, Any]] = field(default_factory=list)
    reference: dict[str, Any] | None = None
    allowed_mentions: dict[str, Any] | None = None  # what the sender asked for; kept for assertions
    edited_timestamp: str | None = None
    timestamp: str = field(default_factory=iso_now)
    webhook_id: int | None = None
    interaction_id: int | None = None
    reactions: dict[str, list[int]] = field(default_factory=dict)  # emoji -> user ids, in order
    deleted: bool = False
    # Who this message actually notifies after `allowed_mentions` is applied (Discord's "ping" semantics).
    pinged_user_ids: list[int] = field(default_factory=list)
    pinged_role_ids: list[int] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & 64)


@dataclass
class Channel:
    id: int
    type: int
    name: str | None = None
    guild_id: int | None = None
    position: int = 0
    parent_id: int | None = None
    owner_id: int | None = None  # threads
    recipient_ids: list[int] = field(default_factory=list)  # DMs
    topic: str | None = None
    messages: dict[int, Message] = field(default_factory=dict)  # insertion order == id order


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    bans: dict[int, str | None] = field(default_factory=dict)  # user id -> reason
    system_channel_id: int | None = None

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]


@dataclass
class Command:
    id: int
    application_id: int
    guild_id: int | None
    name: str
    type: int
    body: dict[str, Any]  # what the client sent, echoed back
    version: int = 1


@dataclass
class Webhook:
    id: int
    token: str
    channel_id: int
    guild_id: int | None
    name: str
    answer_status: int | None = None  # set to make the webhook answer e.g. 404 (deleted upstream)


def user_payload(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.username,
        "global_name": user.global_name,
        "discriminator": "0",
        "avatar": None,
        "bot": user.bot,
        "public_flags": 0,
    }


def role_payload(role: Role) -> dict[str, Any]:
    return {
        "id": str(role.id),
        "name": role.name,
        "permissions": str(role.permissions),
        "position": role.position,
        "color": role.color,
        "colors": {"primary_color": role.color, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": role.managed,
        "mentionable": role.mentionable,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }


def member_payload(member: Member, user: User | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "roles": [str(r) for r in member.roles],
        "nick": member.nick,
        "avatar": None,
        "joined_at": member.joined_at,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": member.communication_disabled_until,
    }
    if user is not None:
        data["user"] = user_payload(user)
    return data


def channel_payload(channel: Channel, users: dict[int, User]) -> dict[str, Any]:
    last = next(reversed(channel.messages), None)
    data: dict[str, Any] = {
        "id": str(channel.id),
        "type": channel.type,
        "last_message_id": str(last) if last else None,
        "flags": 0,
    }
    if channel.type == DM:
        data["recipients"] = [user_payload(users[uid]) for uid in channel.recipient_ids]
        return data
    data.update(
        guild_id=str(channel.guild_id),
        name=channel.name,
        position=channel.position,
        parent_id=str(channel.parent_id) if channel.parent_id else None,
        rate_limit_per_user=0,
        nsfw=False,
        topic=channel.topic,
        permission_overwrites=[],
    )
    if channel.type == THREAD:
        data.update(
            owner_id=str(channel.owner_id),
            message_count=len(channel.messages),
            member_count=1,
            thread_metadata={
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso_now(),
                "locked": False,
            },
        )
    return data


def attachment_payload(att: Attachment) -> dict[str, Any]:
    return {
        "id": str(att.id),
        "filename": att.filename,
        "size": len(att.data),
        "url": att.url,
        "proxy_url": att.url,
        "content_type": att.content_type,
        "description": att.description,
    }
