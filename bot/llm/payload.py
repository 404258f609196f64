"""What the gateway sends and shows: the `llm_reply` payload, the live preview while chunks stream, and the one
short line a member sees when the job fails. Pure, so the cog only translates nextcord objects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bot.llm.context import ContextMessage
from bot.llm.output import DISCORD_LIMIT, sanitize_reply
from bot.llm.settings import ErrorMode


def reply_payload(
    *,
    prompt: str,
    username: str,
    user_id: int,
    guild_id: int | None,
    channel_id: int,
    guild_name: str = "",
    message_id: int = 0,
    chain: Sequence[ContextMessage] = (),
    channel_context: str | Iterable[str] = "",
    bot_name: str = "",
    instructions: str = "",
) -> dict[str, Any]:
    """The `llm_reply` payload: the seed's field names plus `context` (the reply chain BEFORE the message being
    answered, oldest first). Everything is plain JSON; no Discord object crosses the queue."""
    context = channel_context if isinstance(channel_context, str) else "\n".join(channel_context)
    return {
        "prompt": prompt,
        "username": username,
        "user_id": user_id,
        "guild_id": guild_id,
        "channel_id": channel_id,
        "guild_name": guild_name,
        "channel_context": context,
        "message_id": message_id,
        "context": [m.to_dict() for m in chain],
        "bot_name": bot_name,
        "instructions": instructions,
    }


def preview(chunks: Sequence[str], limit: int = DISCORD_LIMIT) -> str:
    """The text to show while a reply streams in: sanitised, and only the first message's worth (the rest goes to
    follow-up messages once the final result is in). A trailing cursor shows it is still being written."""
    text = sanitize_reply("".join(chunks))
    if len(text) > limit - 2:
        text = text[: limit - 2]
    return text + " ▌" if text else "…"


def user_error_line(error: str, mode: ErrorMode) -> str | None:
    """One short line for a failed `llm_reply` envelope, or None in silent mode (the log has the details)."""
    if mode == "silent":
        return None
    if error.startswith("job timed out") or "took too long" in error:
        return "Sorry, the model took too long to answer. Please try again later."
    if "declined" in error:
        return "Sorry, the model declined to answer that."
    if "rate limited" in error or "busy" in error or "quota" in error:
        return "Sorry, the AI service is busy right now. Please try again in a bit."
    return f"Sorry, I couldn't answer that ({error[:120]})."
