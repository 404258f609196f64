"""nextcord objects -> the pure LLM core's inputs (MessageFacts, ContextMessage), and the reply-chain walk."""

from __future__ import annotations

import logging

import nextcord

from bot.llm.context import ContextLimits, ContextMessage
from bot.llm.triggers import MessageFacts

log = logging.getLogger(__name__)


def parent_channel_id(channel: object) -> int | None:
    return getattr(channel, "parent_id", None) if isinstance(channel, nextcord.Thread) else None


def role_ids(author: object) -> frozenset[int]:
    return frozenset(r.id for r in getattr(author, "roles", ()) if not r.is_default())


def cached_reference(bot: nextcord.Client, message: nextcord.Message) -> nextcord.Message | None:
    """The message `message` replies to, if Discord sent it along or the cache has it (no HTTP: stage-safe)."""
    ref = message.reference
    if ref is None or ref.message_id is None:
        return None
    if isinstance(ref.resolved, nextcord.Message):
        return ref.resolved
    if isinstance(ref.cached_message, nextcord.Message):
        return ref.cached_message
    return bot._connection._get_message(ref.message_id)


def message_facts(bot: nextcord.Client, message: nextcord.Message) -> MessageFacts:
    me = bot.user.id if bot.user else 0
    replied = cached_reference(bot, message)
    return MessageFacts(
        message_id=message.id,
        author_id=message.author.id,
        author_is_bot=message.author.bot or message.webhook_id is not None,
        guild_id=message.guild.id if message.guild else None,
        channel_id=message.channel.id,
        parent_channel_id=parent_channel_id(message.channel),
        role_ids=role_ids(message.author),
        # Typed mentions only: not @everyone, not a role, not the implicit ping of a reply.
        mentions_bot=me in message.raw_mentions,
        reply_to_bot=replied is not None and replied.author.id == me,
    )


def prompt_text(message: nextcord.Message) -> str:
    """What the model reads for a message: mentions shown as @names (the model never needs raw ids)."""
    text = message.clean_content.strip()
    if message.attachments:
        text += "\n" + " ".join(f"[attachment: {a.filename}]" for a in message.attachments)
    return text.strip()


def context_message(bot: nextcord.Client, message: nextcord.Message) -> ContextMessage:
    me = bot.user.id if bot.user else 0
    return ContextMessage(
        author_id=message.author.id,
        author_name=getattr(message.author, "display_name", None) or message.author.name,
        content=prompt_text(message),
        is_bot=message.author.id == me,
        message_id=message.id,
    )


async def reply_chain(bot: nextcord.Client, message: nextcord.Message, limits: ContextLimits) -> list[ContextMessage]:
    """The messages `message` replies to, oldest first, NOT including `message`; within `limits` (the message
    being answered counts as one message). Fetches what the cache lacks; a deleted or unreachable link ends it."""
    chain: list[ContextMessage] = []
    chars = len(message.content or "")
    seen = {message.id}
    current = message
    while len(chain) + 1 < limits.max_messages:
        ref = current.reference
        if ref is None or ref.message_id is None or ref.message_id in seen:
            break
        parent = cached_reference(bot, current)
        if parent is None:
            channel = current.channel
            if ref.channel_id and ref.channel_id != channel.id:
                channel = bot.get_channel(ref.channel_id) or channel
            try:
                parent = await channel.fetch_message(ref.message_id)  # type: ignore[union-attr]
            except (nextcord.NotFound, nextcord.Forbidden):
                break
            except nextcord.HTTPException as exc:
                log.info("reply chain of %s stops at %s: %s", message.id, ref.message_id, exc)
                break
        item = context_message(bot, parent)
        if chars + len(item.content) > limits.max_chars:
            break
        chars += len(item.content)
        chain.append(item)
        seen.add(parent.id)
        current = parent
    chain.reverse()
    return chain
