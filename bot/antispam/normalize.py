"""Text helpers for the detector: normalization for duplicate matching, link/invite extraction, caps ratio.

Everything here is a pure function of a string, linear in its length (Discord caps messages at 4000 characters),
with cheap fast paths for the common case of plain chat (no URL, no capitals).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Zero-width and invisible formatting characters spammers insert to dodge exact matching.
_INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\ufeff"
)
_STRIP_INVISIBLE = str.maketrans("", "", _INVISIBLE)

# Longer texts are compared on their start only: enough to tell copies apart, bounded cost and memory.
MAX_NORMALIZED = 512


def strip_invisible(text: str) -> str:
    return text.translate(_STRIP_INVISIBLE)


def normalize(text: str) -> str:
    """Casefolded text without zero-width characters or any whitespace, cut to MAX_NORMALIZED characters."""
    if not text.isascii():  # invisible characters are all non-ASCII: most chat skips the translate
        text = text.translate(_STRIP_INVISIBLE)
    return "".join(text.casefold().split())[:MAX_NORMALIZED]


_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'`|]+", re.IGNORECASE)
# Invites are recognised with or without a scheme: "discord.gg/abc" alone is the classic spam form.
_INVITE = re.compile(
    r"(?:https?://)?(?:www\.)?(?:discord(?:app)?\.com/invite|discord\.gg|dsc\.gg)/([a-z0-9-]+)", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Links:
    urls: tuple[str, ...]
    domains: tuple[str, ...]
    invite_codes: tuple[str, ...]  # lowercased

    @property
    def count(self) -> int:
        return len(self.urls)


NO_LINKS = Links((), (), ())


def extract_links(text: str) -> Links:
    """URLs (with scheme or www.), their hosts, and Discord invite codes. Invisible characters are removed first
    so "disc\u200bord.gg/x" is still an invite."""
    if "." not in text:  # no URL can exist without a dot: skips the regexes for most chat
        return NO_LINKS
    if not text.isascii():
        text = strip_invisible(text)
    invites = tuple(code.lower() for code in _INVITE.findall(text))
    urls = [m.rstrip(".,;:!?)]}") for m in _URL.findall(text)]
    if invites:
        # Scheme-less invites are links too; avoid counting "https://discord.gg/x" twice.
        seen = {u.lower() for u in urls}
        for m in _INVITE.finditer(text):
            whole = m.group(0)
            if not any(whole.lower() in u for u in seen):
                urls.append(whole)
    if not urls:
        return NO_LINKS
    return Links(tuple(urls), tuple(_host(u) for u in urls), invites)


def invite_code(url: str) -> str | None:
    """The lowercased invite code if `url` is a Discord invite, else None."""
    match = _INVITE.search(url)
    return match.group(1).lower() if match else None


def _host(url: str) -> str:
    rest = url.split("://", 1)[-1]
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].lower().rstrip(".")
    return host.removeprefix("www.")


def domain_blocked(host: str, blocked: frozenset[str]) -> bool:
    """True if `host` or any parent domain is in `blocked` (so blocking "scam.ru" also blocks "a.scam.ru")."""
    while host:
        if host in blocked:
            return True
        _, _, host = host.partition(".")
    return False


def caps_ratio(text: str, min_letters: int) -> float:
    """Share of capitals among letters, or 0.0 when there are fewer than `min_letters` letters."""
    if text.lower() == text:  # no capitals at all: the usual case, decided in C
        return 0.0
    letters = sum(map(str.isalpha, text))
    if letters < min_letters or letters == 0:
        return 0.0
    return sum(map(str.isupper, text)) / letters
