"""Quota decisions: per-user and per-guild daily limits on requests and tokens, and a per-user cooldown.

Pure: the cog loads today's usage (`load_usage`, from `bot.db.llm_usage`) and the member's last request time, asks
`check_quota`, and on success enqueues and later records the real token count with `record_usage`. Days are UTC.
A check-then-record race between two gateways can overshoot a limit by a request or two; that is accepted (quotas
are a budget, not a security boundary) in exchange for no locks on the hot path.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from bot.llm.settings import LLMGuildSettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True, slots=True)
class UsageSnapshot:
    user_requests: int = 0
    user_tokens: int = 0
    guild_requests: int = 0
    guild_tokens: int = 0


@dataclass(frozen=True, slots=True)
class QuotaDecision:
    allowed: bool
    reason: str = ""  # machine-readable: "user_cooldown", "user_requests", ... ("" when allowed)
    message: str = ""  # one short line for the member
    retry_after: float | None = None  # seconds, for the cooldown


def usage_day(now: float) -> date:
    return datetime.fromtimestamp(now, UTC).date()


def _seconds_to_midnight(now: float) -> float:
    dt = datetime.fromtimestamp(now, UTC)
    return 86400 - (dt.hour * 3600 + dt.minute * 60 + dt.second + dt.microsecond / 1e6)


def check_quota(
    settings: LLMGuildSettings, usage: UsageSnapshot, *, last_request_at: float | None, now: float
) -> QuotaDecision:
    """May this member make one more request now? Limits of 0 mean unlimited."""
    if settings.user_cooldown and last_request_at is not None:
        wait = settings.user_cooldown - (now - last_request_at)
        if wait > 0:
            return QuotaDecision(
                False, "user_cooldown", f"Slow down a little: try again in {max(1, round(wait))}s.", wait
            )
    until_reset = _seconds_to_midnight(now)
    checks = (
        ("user_requests", settings.user_requests_per_day, usage.user_requests, "You have used today's questions"),
        ("user_tokens", settings.user_tokens_per_day, usage.user_tokens, "You have used today's reply budget"),
        (
            "guild_requests",
            settings.guild_requests_per_day,
            usage.guild_requests,
            "This server has used today's questions",
        ),
        (
            "guild_tokens",
            settings.guild_tokens_per_day,
            usage.guild_tokens,
            "This server has used today's reply budget",
        ),
    )
    for reason, limit, used, text in checks:
        if limit and used >= limit:
            hours = max(1, round(until_reset / 3600))
            return QuotaDecision(False, reason, f"{text}; it resets in about {hours}h (UTC midnight).", until_reset)
    return QuotaDecision(True)


class Cooldowns:
    """Last request time per (guild, user), bounded; the cooldown is short so memory is enough (no DB)."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._last: OrderedDict[tuple[int, int], float] = OrderedDict()
        self._max = max_entries

    def last(self, guild_id: int, user_id: int) -> float | None:
        return self._last.get((guild_id, user_id))

    def mark(self, guild_id: int, user_id: int, now: float) -> None:
        self._last.pop((guild_id, user_id), None)
        self._last[(guild_id, user_id)] = now
        while len(self._last) > self._max:
            self._last.popitem(last=False)


def tokens_of(result: dict) -> int:
    """Tokens a finished `llm_reply` result used (0 when the provider did not say)."""
    usage = result.get("usage") or {}
    return int(usage.get("total_tokens") or 0)


async def load_usage(engine: AsyncEngine, guild_id: int, user_id: int, now: float) -> UsageSnapshot:
    from bot.db.llm_usage import get_llm_usage

    day = usage_day(now)
    user = await get_llm_usage(engine, guild_id, day, user_id)
    guild = await get_llm_usage(engine, guild_id, day)
    return UsageSnapshot(user.requests, user.tokens, guild.requests, guild.tokens)


async def record_usage(
    engine: AsyncEngine, guild_id: int, user_id: int, now: float, *, requests: int = 1, tokens: int = 0
) -> None:
    from bot.db.llm_usage import increment_llm_usage

    await increment_llm_usage(engine, guild_id, user_id, usage_day(now), requests=requests, tokens=tokens)
