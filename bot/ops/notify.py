"""Coloured status embeds POSTed to a Discord webhook: deploys and CI (`bot notify`) and the bot's own alerts.

The webhook URL carries its token in the path, so it is a secret: it never appears in output or errors, only
`redact_webhook(url)` does. A 404 means the webhook was deleted upstream: a warning, not a failure, so a CI job
does not go red because someone tidied up a channel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

log = logging.getLogger(__name__)

# Discord embed colours (0xRRGGBB).
GREEN = 0x2ECC71
RED = 0xE74C3C
BLUE = 0x3498DB
YELLOW = 0xF1C40F
GREY = 0x95A5A6
PURPLE = 0x9B59B6

STATUS_COLOURS: dict[str, int] = {
    "success": GREEN,
    "succeeded": GREEN,
    "ok": GREEN,
    "started": BLUE,
    "failure": RED,
    "failed": RED,
    "error": RED,
    "running": BLUE,
    "in_progress": BLUE,
    "pending": YELLOW,
    "queued": YELLOW,
    "warning": YELLOW,
    "cancelled": GREY,
    "canceled": GREY,
    "skipped": GREY,
    "stopped": GREY,
}
OTHER_COLOUR = PURPLE

TIMEOUT = aiohttp.ClientTimeout(total=10)
FIELD_LIMIT = 1024  # Discord's embed field value limit
DESCRIPTION_LIMIT = 4096


class NotifyError(Exception):
    """The webhook refused the embed (other than 404); the message is one line with no secret in it."""


@dataclass
class StatusEvent:
    event: str  # "deploy", "ci", "bot", ...
    status: str  # success / failure / running / cancelled / anything else
    summary: str = ""
    ref: str = ""
    commit: str = ""
    actor: str = ""
    url: str = ""
    component: str = ""
    extra_fields: dict[str, str] = field(default_factory=dict)


def colour_for(status: str) -> int:
    return STATUS_COLOURS.get(status.strip().lower(), OTHER_COLOUR)


def build_payload(ev: StatusEvent, *, username: str = "Steward status", now: datetime | None = None) -> dict[str, Any]:
    """The webhook execute body: one embed, no pings (allowed_mentions empty)."""
    title = f"{ev.event}: {ev.status}" if not ev.component else f"{ev.component} {ev.event}: {ev.status}"
    embed: dict[str, Any] = {
        "title": title[:256],
        "color": colour_for(ev.status),
        "timestamp": (now or datetime.now(UTC)).isoformat(),
        "fields": [],
    }
    if ev.summary:
        embed["description"] = ev.summary[:DESCRIPTION_LIMIT]
    if ev.url.startswith(("http://", "https://")):
        embed["url"] = ev.url
    named = {"Component": ev.component, "Ref": ev.ref, "Commit": ev.commit[:12], "Actor": ev.actor}
    for name, value in {**named, **ev.extra_fields}.items():
        if value:
            embed["fields"].append({"name": name, "value": str(value)[:FIELD_LIMIT], "inline": True})
    return {"username": username, "embeds": [embed], "allowed_mentions": {"parse": []}}


def redact_webhook(url: str) -> str:
    """The webhook URL with its token replaced by ***: .../webhooks/<id>/***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable webhook URL>"
    segments = parts.path.split("/")
    if "webhooks" in segments:
        i = segments.index("webhooks")
        segments = [*segments[: i + 2], "***"] if len(segments) > i + 2 else segments
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, "/".join(segments), "", ""))


async def send(webhook_url: str, payload: dict[str, Any], *, session: aiohttp.ClientSession | None = None) -> bool:
    """POST the payload. True when delivered, False when the webhook is gone (404, logged as a warning);
    raises NotifyError for any other failure."""
    own = session is None
    session = session or aiohttp.ClientSession(timeout=TIMEOUT)
    where = redact_webhook(webhook_url)
    try:
        async with session.post(webhook_url, json=payload, params={"wait": "true"}) as resp:
            if resp.status == 404:
                log.warning("status webhook %s answered 404 (deleted?); notification dropped", where)
                return False
            if resp.status >= 400:
                detail = (await resp.text())[:200].replace("\n", " ")
                raise NotifyError(f"status webhook {where} answered HTTP {resp.status}: {detail}")
            return True
    except aiohttp.ClientError as exc:
        # aiohttp's messages can include the full URL: name the error type only.
        raise NotifyError(f"status webhook {where} unreachable ({type(exc).__name__})") from None
    except TimeoutError:
        raise NotifyError(f"status webhook {where} timed out") from None
    finally:
        if own:
            await session.close()


async def notify(webhook_url: str, ev: StatusEvent, *, username: str = "Steward status") -> bool:
    return await send(webhook_url, build_payload(ev, username=username))
