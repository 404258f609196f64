"""Make model output safe and sendable: no mass pings, and Discord-sized pieces with code fences kept balanced.

`allowed_mentions` on every send is the real guarantee that nothing pings; neutralising `@everyone`/`@here` here is
defence in depth (and keeps a preview in a log or embed from looking like a ping).
"""

from __future__ import annotations

import re

DISCORD_LIMIT = 2000
ZWSP = "\u200b"

_MASS_MENTION = re.compile(r"@(everyone|here)\b")
_FENCE = re.compile(r"^[ \t]*(```+)([^\s`]*)", re.MULTILINE)


def neutralize_mentions(text: str) -> str:
    """`@everyone` -> `@\u200beveryone` (renders the same, pings nobody). Idempotent."""
    return _MASS_MENTION.sub(lambda m: f"@{ZWSP}{m.group(1)}", text)


def sanitize_reply(text: str) -> str:
    """Everything the gateway does to model text before it becomes a Discord message."""
    return neutralize_mentions(text).strip()


def _open_fence(text: str, start_open: str | None) -> str | None:
    """The fence opener (e.g. "```py") still open at the end of `text`, given the one open at its start."""
    open_fence = start_open
    for m in _FENCE.finditer(text):
        open_fence = None if open_fence is not None else m.group(1) + m.group(2)
    return open_fence


def _cut_point(text: str, budget: int) -> tuple[int, int]:
    """Where to cut `text` (longer than budget): (end of this piece, start of the next). Prefers a paragraph break,
    then a line break, then a space; hard cut when the window has none. Separators are dropped, not duplicated."""
    window = text[: budget + 1]  # a separator right at the limit still counts
    for sep in ("\n\n", "\n", " "):
        idx = window.rfind(sep, 0, budget + 1)
        if idx > budget // 4:  # a break too near the start would leave a tiny piece
            return idx, idx + len(sep)
    return budget, budget


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Split `text` into pieces of at most `limit` characters on paragraph/line/word boundaries. A code block that
    spans a cut is closed at the end of one piece and reopened (same language) at the start of the next."""
    if limit < 32:
        raise ValueError("limit must be at least 32 characters")
    text = text.strip("\n")
    if not text:
        return []
    pieces: list[str] = []
    reopen: str | None = None  # fence opener carried into the next piece
    rest = text
    while rest:
        prefix = f"{reopen}\n" if reopen else ""
        if len(prefix) + len(rest) <= limit:
            pieces.append(prefix + rest)
            break
        budget = limit - len(prefix) - len("\n```")  # room to close a fence this piece leaves open
        end, nxt = _cut_point(rest, budget)
        body = rest[:end].rstrip("\n") if end < len(rest) else rest[:end]
        still_open = _open_fence(body, reopen)
        piece = prefix + body + ("\n```" if still_open else "")
        if piece.strip():
            pieces.append(piece)
        reopen = still_open
        rest = rest[nxt:].lstrip("\n") if not still_open else rest[nxt:]
    return pieces
