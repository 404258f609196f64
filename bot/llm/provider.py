"""Talking to any OpenAI-compatible endpoint: one cached client per worker, streamed chat with coalesced chunks,
and provider errors turned into short job errors.

Error texts are what a Discord member may read; they never contain the API key, the base URL or the provider's own
message (OpenAI's 401 text echoes part of the key). The details go to the log, scrubbed of secrets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import openai

from bot.config import mask_url
from bot.jobs import JobError, RetryableJobError

log = logging.getLogger(__name__)

Sink = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    base_url: str
    api_key: str
    timeout: float = 70.0
    max_retries: int = 1
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls, base_url: str, api_key: str, *, timeout: float, max_retries: int, headers: Mapping[str, str] | None = None
    ) -> Endpoint:
        return cls(base_url, api_key, timeout, max_retries, tuple(sorted((headers or {}).items())))


def client_for(state: dict[str, Any], endpoint: Endpoint) -> openai.AsyncOpenAI:
    """The worker's client for `endpoint`, created once (its connection pool is reused across jobs)."""
    clients: dict[Endpoint, openai.AsyncOpenAI] = state.setdefault("openai_clients", {})
    client = clients.get(endpoint)
    if client is None:
        client = openai.AsyncOpenAI(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key or "none",  # local servers (Ollama, LM Studio) accept any key
            timeout=endpoint.timeout,
            max_retries=endpoint.max_retries,
            default_headers=dict(endpoint.headers) or None,
        )
        clients[endpoint] = client
    return client


async def close_clients(state: dict[str, Any]) -> None:
    """Close the worker's cached clients (on worker shutdown) so no connection outlives the event loop."""
    clients: dict[Endpoint, openai.AsyncOpenAI] = state.pop("openai_clients", {})
    for client in clients.values():
        await client.close()


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def provider_error(exc: Exception, *, endpoint: Endpoint, model: str = "") -> JobError:
    """A short, secret-free JobError for `exc` (RetryableJobError when another attempt may help); logs details."""
    status = getattr(exc, "status_code", None)
    log.warning(
        "AI provider %s failed: %s%s %s",
        mask_url(endpoint.base_url),
        type(exc).__name__,
        f" (HTTP {status})" if status else "",
        scrub(str(exc), [endpoint.api_key])[:300],
    )
    if isinstance(exc, openai.RateLimitError):
        if getattr(exc, "code", None) == "insufficient_quota":
            return JobError("the AI provider's quota is used up")
        return RetryableJobError("the AI provider is busy (rate limited)")
    if isinstance(exc, openai.APITimeoutError):
        return JobError("the AI provider took too long to answer")
    if isinstance(exc, openai.APIConnectionError):
        return RetryableJobError("could not reach the AI provider")
    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return JobError("the AI provider rejected the bot's credentials")
    if isinstance(exc, openai.NotFoundError):
        return JobError(f"the AI provider does not know the model {model[:80]!r}" if model else "not found")
    if isinstance(exc, openai.APIStatusError):
        return JobError(f"the AI provider failed (HTTP {exc.status_code})")
    return JobError(f"the AI provider failed ({type(exc).__name__})")


class Coalescer:
    """Buffers streamed text and hands it to `sink` at most every `interval` seconds or `max_chars` characters,
    so a fast model costs a handful of queue writes per second rather than one per token. Order is kept."""

    def __init__(self, sink: Sink, *, interval: float = 0.3, max_chars: int = 200) -> None:
        self.sink = sink
        self.interval = interval
        self.max_chars = max_chars
        self.flushes = 0
        self._parts: list[str] = []
        self._size = 0
        self._lock = anyio.Lock()

    async def add(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= self.max_chars:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:  # two flushes must reach the sink in order
            if not self._parts:
                return
            chunk = "".join(self._parts)
            self._parts.clear()
            self._size = 0
            self.flushes += 1
            await self.sink(chunk)

    async def tick_forever(self) -> None:
        while True:
            await anyio.sleep(self.interval)
            await self.flush()


@dataclass(slots=True)
class ChatResult:
    text: str
    usage: dict[str, int] = field(default_factory=dict)
    finish_reason: str | None = None
    refusal: str = ""
    model: str = ""
    seconds: float = 0.0


def estimate_usage(messages: list[dict[str, str]], text: str) -> dict[str, int]:
    # ~4 characters per token: good enough for a daily budget when the endpoint reports nothing.
    prompt = sum(len(m.get("content") or "") for m in messages) // 4 + 1
    completion = len(text) // 4 + 1
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "estimated": 1,
    }


async def chat(
    client: openai.AsyncOpenAI,
    *,
    endpoint: Endpoint,
    model: str,
    messages: list[dict[str, str]],
    temperature: float | None = None,
    max_tokens: int | None = None,
    extra_body: Mapping[str, Any] | None = None,
    on_text: Sink | None = None,
    stream_usage: bool = True,
    flush_interval: float = 0.3,
    flush_chars: int = 200,
) -> ChatResult:
    """One chat completion. With `on_text` the answer is streamed and handed over in coalesced chunks; without it
    one plain request. Raises JobError/RetryableJobError (see provider_error) and JobError on a refusal."""
    started = time.monotonic()
    kwargs: dict[str, Any] = {"model": model, "messages": messages}
    if temperature is not None:
        kwargs["temperature"] = temperature
    if max_tokens:
        kwargs["max_tokens"] = max_tokens
    if extra_body:
        kwargs["extra_body"] = dict(extra_body)
    try:
        if on_text is None:
            result = await _plain(client, kwargs)
        else:
            result = await _streamed(client, kwargs, on_text, stream_usage, flush_interval, flush_chars)
    except openai.OpenAIError as exc:
        raise provider_error(exc, endpoint=endpoint, model=model) from None
    result.seconds = time.monotonic() - started
    if not result.usage:
        result.usage = estimate_usage(messages, result.text)
    if not result.text.strip():
        if result.refusal or result.finish_reason == "content_filter":
            log.info("model %s declined: %s", model, result.refusal[:200])
            raise JobError("the model declined to answer that")
        raise JobError("the model returned an empty answer")
    return result


async def _plain(client: openai.AsyncOpenAI, kwargs: dict[str, Any]) -> ChatResult:
    completion = await client.chat.completions.create(**kwargs)
    if not completion.choices:
        return ChatResult("", model=completion.model or "")
    choice = completion.choices[0]
    usage = _usage(completion.usage)
    return ChatResult(
        choice.message.content or "",
        usage,
        choice.finish_reason,
        getattr(choice.message, "refusal", None) or "",
        completion.model or "",
    )


async def _streamed(
    client: openai.AsyncOpenAI,
    kwargs: dict[str, Any],
    on_text: Sink,
    stream_usage: bool,
    flush_interval: float,
    flush_chars: int,
) -> ChatResult:
    if stream_usage:
        kwargs["stream_options"] = {"include_usage": True}
    stream = await client.chat.completions.create(stream=True, **kwargs)
    result = ChatResult("")
    text: list[str] = []
    refusal: list[str] = []
    coalescer = Coalescer(on_text, interval=flush_interval, max_chars=flush_chars)
    async with anyio.create_task_group() as tg:
        tg.start_soon(coalescer.tick_forever)
        try:
            async for chunk in stream:
                result.model = chunk.model or result.model
                if chunk.usage is not None:
                    result.usage = _usage(chunk.usage)
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                        await coalescer.add(delta.content)
                    if getattr(delta, "refusal", None):
                        refusal.append(delta.refusal)
                    if choice.finish_reason:
                        result.finish_reason = choice.finish_reason
        finally:
            # Close the HTTP response even when the job is being cancelled (timeout), so the connection is freed.
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                await stream.close()
        await coalescer.flush()  # the whole answer is in the stream before the result is published
        tg.cancel_scope.cancel()
    result.text = "".join(text)
    result.refusal = "".join(refusal)
    return result


def _usage(usage: Any) -> dict[str, int]:
    if usage is None:
        return {}
    return {
        "prompt_tokens": int(usage.prompt_tokens or 0),
        "completion_tokens": int(usage.completion_tokens or 0),
        "total_tokens": int(usage.total_tokens or 0),
    }
