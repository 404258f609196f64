"""Responses nextcord can read, Discord-shaped errors, and request-body parsing (JSON or multipart)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# nextcord paces itself by these headers; without them it allows one request per route per second.
RATE_LIMIT_HEADERS = {"X-RateLimit-Limit": "10000", "X-RateLimit-Remaining": "9999", "X-RateLimit-Reset-After": "0.0"}


class ApiError(Exception):
    """An error Discord would answer with: HTTP status plus its JSON error code and message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def unknown(what: str, code: int) -> ApiError:
    return ApiError(404, code, f"Unknown {what}")


MISSING_PERMISSIONS = ApiError(403, 50013, "Missing Permissions")


def json_response(payload: Any, status: int = 200) -> web.Response:
    # Built by hand: nextcord's json_or_text wants Content-Type exactly "application/json", and aiohttp's
    # web.json_response appends "; charset=utf-8", which would make nextcord treat every answer as text.
    return web.Response(
        body=json.dumps(payload).encode(), status=status, content_type="application/json", headers=RATE_LIMIT_HEADERS
    )


def no_content() -> web.Response:
    return web.Response(status=204, headers=RATE_LIMIT_HEADERS)


def error_response(error: ApiError) -> web.Response:
    return json_response({"message": error.message, "code": error.code}, status=error.status)


@dataclass
class UploadedFile:
    index: int
    filename: str
    data: bytes
    content_type: str | None


@dataclass
class Body:
    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)


async def read_body(request: web.Request) -> Body:
    """JSON body, or multipart with `payload_json` plus `files[n]` parts, as nextcord sends uploads."""
    if not request.can_read_body:
        return Body()
    if request.content_type.startswith("multipart/"):
        body = Body()
        reader = await request.multipart()
        async for part in reader:
            name = part.name or ""  # type: ignore[union-attr]
            data = await part.read()  # type: ignore[union-attr]
            if name == "payload_json":
                body.json = json.loads(data)
            elif name.startswith("files["):
                index = int(name[len("files[") : -1])
                content_type = part.headers.get("Content-Type")  # type: ignore[union-attr]
                body.files.append(UploadedFile(index, part.filename or f"file{index}", bytes(data), content_type))  # type: ignore[union-attr]
        return body
    raw = await request.read()
    if not raw:
        return Body()
    try:
        return Body(json=json.loads(raw))
    except ValueError as exc:
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from exc
