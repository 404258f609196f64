"""Text for community events (pure): the welcome message and the deleted-message audit entry."""

from __future__ import annotations

import re
from dataclasses import dataclass

DISCORD_MESSAGE_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
_PLACEHOLDER = re.compile(r"\{(user|server|member_count)\}")


def render_welcome(template: str, user_mention: str, server: str, member_count: int | None) -> str:
    """Fill {user}, {server}, {member_count} literally; never str.format (an admin's `{0.__class__}` stays text)."""
    values = {
        "user": user_mention,
        "server": server,
        "member_count": str(member_count) if member_count is not None else "?",
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)[:DISCORD_MESSAGE_LIMIT]


@dataclass(frozen=True, slots=True)
class DeletedMessage:
    """What the audit log shows; `content` is None when the message was not in the bot's cache."""

    message_id: int
    channel_id: int
    author_id: int | None
    author_name: str | None
    content: str | None
    attachment_names: tuple[str, ...] = ()


def audit_fields(deleted: DeletedMessage) -> tuple[str, list[tuple[str, str]]]:
    """(description, [(field name, value)]) for the audit embed."""
    if deleted.content is None:
        description = "*The message was not in the bot's cache, so its content is unknown.*"
    elif deleted.content:
        description = _truncate(deleted.content, EMBED_DESCRIPTION_LIMIT)
    else:
        description = "*No text content.*"
    if deleted.author_id is None:
        author = "unknown"
    else:
        author = f"<@{deleted.author_id}> ({deleted.author_name or 'unknown'}, {deleted.author_id})"
    fields = [("Author", author), ("Channel", f"<#{deleted.channel_id}>")]
    if deleted.attachment_names:
        fields.append(("Attachments", _truncate(", ".join(deleted.attachment_names), 1024)))
    fields.append(("Message id", str(deleted.message_id)))
    return description, fields


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
