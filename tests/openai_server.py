"""A small OpenAI-compatible HTTP server for tests: chat completions (plain and SSE streaming), moderations, models.

Tests drive the real `openai` client against it. Each test scripts what the "model" does next and reads back every
request body the server received:

    async with FakeOpenAI() as server:
        server.script(reply("Hi!"), error(429), slow(5), stream(["He", "llo"], delay=0.05))
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test")
        ...
        assert server.chat_requests[0]["messages"][-1]["content"] == "..."

Scripted behaviours are consumed in order by chat completions; when the script is empty `server.default` answers
(or `server.responder(body)` if set). Moderations answer from `server.moderation_scores(text)` (all zero by default).
Guard models (Llama Guard) are plain chat completions: script `reply("unsafe\\nS1")`.

Run standalone for manual or e2e use: `python -m tests.openai_server --port 8089` (replies "Hello from the fake").
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


@dataclass
class Behaviour:
    """What the fake model does for one chat completion request."""

    text: str = "Hello from the fake"
    chunks: list[str] | None = None  # streamed pieces; default: `text` split into words
    chunk_delay: float = 0.0  # seconds between streamed chunks
    delay: float = 0.0  # seconds before answering at all (a slow provider)
    status: int = 200  # non-200: an OpenAI-style error body with this status
    error_message: str = "fake error"
    error_code: str | None = None
    refusal: str | None = None  # answer with a refusal instead of content
    finish_reason: str = "stop"
    usage: dict[str, int] | None = None  # default: counted from the words


def reply(text: str, **kw: Any) -> Behaviour:
    return Behaviour(text=text, **kw)


def stream(chunks: list[str], delay: float = 0.0, **kw: Any) -> Behaviour:
    return Behaviour(text="".join(chunks), chunks=list(chunks), chunk_delay=delay, **kw)


def error(status: int, message: str = "fake error", code: str | None = None) -> Behaviour:
    return Behaviour(status=status, error_message=message, error_code=code)


def slow(seconds: float, text: str = "finally") -> Behaviour:
    return Behaviour(text=text, delay=seconds)


def refusal(text: str = "I can't help with that.") -> Behaviour:
    return Behaviour(text="", refusal=text)


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


class FakeOpenAI:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.default = Behaviour()
        self.responder: Callable[[dict[str, Any]], Behaviour] | None = None
        self.moderation_scores: Callable[[str], dict[str, float]] = lambda text: {}
        self.requests: list[RecordedRequest] = []
        self._script: deque[Behaviour] = deque()
        self._closing = asyncio.Event()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    # --- scripting and inspection ---
    def script(self, *behaviours: Behaviour) -> None:
        self._script.extend(behaviours)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def moderation_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path.endswith("/moderations")]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # --- lifecycle ---
    async def start(self) -> FakeOpenAI:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/moderations", self._moderations)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        self._closing.set()  # wakes slow handlers so shutdown never waits for their sleep
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- handlers ---
    async def _record(self, request: web.Request) -> dict[str, Any]:
        body = await request.json() if request.can_read_body else {}
        self.requests.append(RecordedRequest(request.method, request.path, body, dict(request.headers)))
        return body

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            try:
                await asyncio.wait_for(self._closing.wait(), seconds)
            except TimeoutError:
                pass

    def _next(self, body: dict[str, Any]) -> Behaviour:
        if self._script:
            return self._script.popleft()
        if self.responder is not None:
            return self.responder(body)
        return self.default

    @staticmethod
    def _error(b: Behaviour) -> web.Response:
        kind = {429: "rate_limit_exceeded", 401: "invalid_request_error"}.get(b.status, "server_error")
        payload = {"error": {"message": b.error_message, "type": kind, "param": None, "code": b.error_code}}
        return web.json_response(payload, status=b.status)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        b = self._next(body)
        await self._sleep(b.delay)
        if b.status != 200:
            return self._error(b)
        model = body.get("model", "fake-model")
        cid = f"chatcmpl-fake{next(self._ids)}"
        created = int(time.time())
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        completion_tokens = len((b.refusal or b.text).split())
        usage = b.usage or {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if not body.get("stream"):
            message = {"role": "assistant", "content": None if b.refusal else b.text, "refusal": b.refusal}
            return web.json_response(
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": b.finish_reason}],
                    "usage": usage,
                    "system_fingerprint": None,
                }
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)

        async def send(delta: dict[str, Any], finish: str | None = None, *, choices: bool = True) -> None:
            chunk: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else [],
            }
            if include_usage:
                chunk["usage"] = None
            await resp.write(b"data: " + _json(chunk) + b"\n\n")

        await send({"role": "assistant", "content": "", "refusal": None})
        if b.refusal:
            await send({"refusal": b.refusal})
        else:
            pieces = b.chunks if b.chunks is not None else _words(b.text)
            for i, piece in enumerate(pieces):
                if i and b.chunk_delay:
                    await self._sleep(b.chunk_delay)
                await send({"content": piece})
        await send({}, b.finish_reason)
        if include_usage:
            final = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": [],
                "usage": usage,
            }
            await resp.write(b"data: " + _json(final) + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def _moderations(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        inputs = body.get("input", "")
        texts = inputs if isinstance(inputs, list) else [inputs]
        results = []
        for text in texts:
            scores = {c: 0.0 for c in MODERATION_CATEGORIES}
            scores.update(self.moderation_scores(str(text)))
            categories = {c: s >= 0.5 for c, s in scores.items()}
            results.append(
                {
                    "flagged": any(categories.values()),
                    "categories": categories,
                    "category_scores": scores,
                    "category_applied_input_types": {c: ["text"] for c in scores},
                }
            )
        return web.json_response(
            {
                "id": f"modr-fake{next(self._ids)}",
                "model": body.get("model", "omni-moderation-latest"),
                "results": results,
            }
        )

    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append(RecordedRequest(request.method, request.path, {}, dict(request.headers)))
        return web.json_response(
            {"object": "list", "data": [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "steward"}]}
        )


def _words(text: str) -> list[str]:
    """Split into word-sized pieces that join back to exactly `text` (spaces stay attached)."""
    pieces: list[str] = []
    for word in text.split(" "):
        pieces.append(word if not pieces else " " + word)
    return [p for p in pieces if p] or [text]


def _json(data: Any) -> bytes:
    return orjson.dumps(data)


async def _serve_forever(port: int) -> None:
    server = await FakeOpenAI(port=port).start()
    print(f"fake OpenAI server on {server.base_url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8089)
    asyncio.run(_serve_forever(parser.parse_args().port))
