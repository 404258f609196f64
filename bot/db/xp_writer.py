"""Write-behind XP: accumulate per-member deltas in memory, flush them in one transaction every few seconds.

The leveling core calls `add()` on every awarded message (no I/O); `run_periodically()` lives in the gateway's task
group and flushes on an interval and once more on shutdown. A failed flush merges its deltas back, so nothing is lost;
the next flush retries them.
"""

from __future__ import annotations

import logging
from datetime import datetime

import anyio
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.xp import MemberKey, XPDelta, apply_xp_deltas

log = logging.getLogger(__name__)


class XPBuffer:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._pending: dict[MemberKey, XPDelta] = {}
        self._flush_lock = anyio.Lock()  # one flush at a time keeps the put-back merge simple

    @property
    def pending(self) -> dict[MemberKey, XPDelta]:
        """A copy of what has not been written yet (for tests and /rank-while-buffered)."""
        return dict(self._pending)

    def add(
        self,
        guild_id: int,
        user_id: int,
        xp: int,
        *,
        at: datetime | None,
        messages: int = 1,
        level: int | None = None,
    ) -> None:
        self._merge({(guild_id, user_id): XPDelta(xp=xp, messages=messages, last_xp_at=at, level=level)})

    def _merge(self, deltas: dict[MemberKey, XPDelta]) -> None:
        pending = self._pending
        for key, delta in deltas.items():
            old = pending.get(key)
            pending[key] = delta if old is None else old.merge(delta)

    async def flush(self) -> int:
        """Write everything pending; returns members written. On failure the deltas go back and the error is raised."""
        async with self._flush_lock:
            batch, self._pending = self._pending, {}
            if not batch:
                return 0
            try:
                # Shielded: a cancelled flush must not leave us unsure whether the transaction committed.
                with anyio.CancelScope(shield=True):
                    return await apply_xp_deltas(self._engine, batch)
            except BaseException:
                self._merge(batch)
                raise

    async def run_periodically(self, interval: float = 5.0) -> None:
        """Flush every `interval` seconds until cancelled, then flush one last time (shielded)."""
        try:
            while True:
                await anyio.sleep(interval)
                try:
                    await self.flush()
                except Exception:
                    log.exception("XP flush failed; %d members kept in memory for the next try", len(self._pending))
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await self.flush()
                except Exception:
                    log.exception("final XP flush failed; %d members' XP not saved", len(self._pending))
