"""The `llm_reply` job: build the fenced conversation, ask the model (streaming through the queue), return the reply.

Payload (the seed's field names, plus ours):
    prompt, username, user_id, guild_id, channel_id, guild_name, channel_context  -- as the seed sent them
    context: [ContextMessage.to_dict(), ...]  -- the reply chain BEFORE the message being answered, oldest first
    message_id, bot_name, instructions (the guild's extra system-prompt text), stream (default: config llm.stream)
Result: {"reply": str, "usage": {"prompt_tokens", "completion_tokens", "total_tokens"[, "estimated"]},
         "model": str, "finish_reason": str | None, "streamed": bool}
Streamed chunks (deltas, concatenate them) appear on `<ns>:stream:<job_id>`; the result is authoritative.
"""

from __future__ import annotations

from typing import Any

from bot.config import LLMSettings
from bot.jobs import JobError
from bot.llm.context import ContextLimits, ContextMessage, build_messages
from bot.llm.output import sanitize_reply
from bot.llm.provider import Endpoint, chat, client_for
from bot.worker import JobContext, job

MAX_CONTEXT_ITEMS = 200  # a payload cannot make the worker chew on more than this, whatever the limits say


def endpoint_of(cfg: LLMSettings) -> Endpoint:
    return Endpoint.of(
        cfg.base_url, cfg.api_key, timeout=cfg.request_timeout, max_retries=cfg.max_retries, headers=cfg.extra_headers
    )


def chain_from_payload(payload: dict[str, Any]) -> list[ContextMessage]:
    raw = payload.get("context") or []
    if not isinstance(raw, list):
        raise JobError("bad payload: context must be a list")
    try:
        chain = [ContextMessage.from_dict(item) for item in raw[-MAX_CONTEXT_ITEMS:]]
    except (ValueError, AttributeError) as exc:
        raise JobError(f"bad payload: {str(exc)[:120]}") from None
    prompt = payload.get("prompt")
    if not isinstance(prompt, str):
        raise JobError("bad payload: prompt must be a string")
    try:
        user_id = int(payload.get("user_id") or 0)
        message_id = int(payload.get("message_id") or 0)
    except (TypeError, ValueError):
        raise JobError("bad payload: user_id and message_id must be numbers") from None
    chain.append(ContextMessage(user_id, str(payload.get("username") or "someone"), prompt, False, message_id))
    return chain


@job("llm_reply")
async def llm_reply(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    cfg = ctx.config.llm
    if not cfg.base_url:
        raise JobError("LLM replies are not configured on this worker")
    chain = chain_from_payload(payload)
    messages = build_messages(
        chain,
        system_prompt=cfg.system_prompt,
        limits=ContextLimits(cfg.max_context_messages, cfg.max_context_chars),
        guild_name=str(payload.get("guild_name") or ""),
        bot_name=str(payload.get("bot_name") or ""),
        channel_context=payload.get("channel_context") or None,
        guild_instructions=str(payload.get("instructions") or ""),
    )
    endpoint = endpoint_of(cfg)
    streaming = bool(payload.get("stream", cfg.stream))
    result = await chat(
        client_for(ctx.state, endpoint),
        endpoint=endpoint,
        model=cfg.model,
        messages=messages,
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        extra_body=cfg.extra_body,
        on_text=ctx.stream if streaming else None,
        stream_usage=cfg.stream_usage,
    )
    return {
        "reply": sanitize_reply(result.text),
        "usage": result.usage,
        "model": result.model or cfg.model,
        "finish_reason": result.finish_reason,
        "streamed": streaming,
    }
