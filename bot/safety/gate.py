"""The gateway's pure safety decisions: is this message worth a scan, and what to do about a verdict."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from bot.safety.rules import normalize
from bot.safety.settings import ACTION_SEVERITY, Action, SafetyGuildSettings
from bot.safety.verdict import Verdict


@dataclass(frozen=True, slots=True)
class ScanFacts:
    guild_id: int | None  # None for a DM: never scanned
    channel_id: int
    author_is_bot: bool
    content: str
    parent_channel_id: int | None = None
    role_ids: frozenset[int] = frozenset()


class ScanDedupe:
    """Recently scanned content per guild (by digest, so memory stays small) with the verdict it got. Bounded."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self._seen: OrderedDict[tuple[int, bytes], tuple[float, Verdict | None]] = OrderedDict()
        self._max = max_entries

    @staticmethod
    def _key(guild_id: int, content: str) -> tuple[int, bytes]:
        return guild_id, hashlib.blake2b(" ".join(normalize(content).split()).encode(), digest_size=16).digest()

    def check_and_mark(self, guild_id: int, content: str, now: float, ttl: float) -> bool:
        """True if the content was seen within `ttl` seconds; otherwise remembers it (verdict pending)."""
        key = self._key(guild_id, content)
        hit = self._seen.get(key)
        if hit is not None and now - hit[0] < ttl:
            return True
        self._seen.pop(key, None)
        self._seen[key] = (now, None)
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return False

    def remember(self, guild_id: int, content: str, verdict: Verdict) -> None:
        key = self._key(guild_id, content)
        if key in self._seen:
            self._seen[key] = (self._seen[key][0], verdict)

    def cached(self, guild_id: int, content: str, now: float, ttl: float) -> Verdict | None:
        hit = self._seen.get(self._key(guild_id, content))
        return hit[1] if hit is not None and now - hit[0] < ttl else None


def should_scan(facts: ScanFacts, settings: SafetyGuildSettings, dedupe: ScanDedupe | None, now: float) -> bool:
    """Guild messages from people, long enough, outside exempt roles/channels, not scanned recently.
    A repeat inside the dedupe window returns False: apply `dedupe.cached(...)` to it instead of a new scan."""
    if facts.guild_id is None or facts.author_is_bot or not settings.enabled:
        return False
    if len(facts.content.strip()) < settings.min_length:
        return False
    if facts.role_ids & settings.exempt_role_ids:
        return False
    if facts.channel_id in settings.exempt_channel_ids or (facts.parent_channel_id or 0) in settings.exempt_channel_ids:
        return False
    if dedupe is not None and dedupe.check_and_mark(facts.guild_id, facts.content, now, settings.dedupe_seconds):
        return False
    return True


@dataclass(frozen=True, slots=True)
class ActionPlan:
    action: Action  # the most severe action among the flagged categories
    categories: tuple[str, ...]
    dry_run: bool  # True: only report what `action` would have been
    report: bool  # send an embed to the audit channel
    timeout_seconds: int = 0

    @property
    def enforce(self) -> bool:
        return self.action in ("delete", "timeout") and not self.dry_run


def action_for(verdict: Verdict, settings: SafetyGuildSettings) -> ActionPlan:
    if not verdict.unsafe:
        return ActionPlan("none", (), settings.dry_run, False)
    categories = verdict.categories or ("unspecified",)
    action: Action = "none"
    for category in categories:
        candidate = settings.action_for_category(category)
        if ACTION_SEVERITY[candidate] > ACTION_SEVERITY[action]:
            action = candidate
    report = bool(settings.audit_channel_id) and (action != "none")
    return ActionPlan(
        action,
        tuple(categories),
        settings.dry_run,
        report,
        settings.timeout_seconds if action == "timeout" else 0,
    )
