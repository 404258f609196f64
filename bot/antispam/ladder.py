"""The punishment ladder: which action a new strike earns, given the member's live strikes.

Pure (time passed in) so the cog, the `/antispam strikes` command and the tests share one rule: strikes older than
`strike_expiry` no longer count, the n-th live strike gets the n-th rung, and past the top the last rung repeats.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.antispam.settings import Punishment, SpamSettings


@dataclass(frozen=True, slots=True)
class StrikeDecision:
    action: Punishment
    strike_number: int  # 1 for the first live strike
    strikes: tuple[float, ...]  # the live strikes including the new one, oldest first: store these


def live_strikes(strikes: Iterable[float], now: float, expiry: float) -> tuple[float, ...]:
    """Strikes still counting at `now`, oldest first."""
    return tuple(sorted(t for t in strikes if now - t < expiry))


class StrikeLadder:
    @staticmethod
    def next_strike(strikes: Iterable[float], now: float, settings: SpamSettings) -> StrikeDecision:
        live = (*live_strikes(strikes, now, settings.strike_expiry), now)
        ladder = settings.ladder
        return StrikeDecision(ladder[min(len(live), len(ladder)) - 1], len(live), live)
