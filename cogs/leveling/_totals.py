"""Each member's total XP as this gateway knows it: the stored total plus what the XP buffer has not written yet.

Level-ups are decided against this number, so it must count unflushed XP (else a level-up would be announced
again after the next flush) and must not count it twice (else one would be missed). LRU-bounded like the core.
"""

from __future__ import annotations

from collections import OrderedDict

MemberKey = tuple[int, int]  # (guild_id, user_id)


class KnownTotals:
    def __init__(self, max_members: int = 50_000) -> None:
        if max_members < 1:
            raise ValueError("max_members must be >= 1")
        self._max = max_members
        self._totals: OrderedDict[MemberKey, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._totals)

    def get(self, key: MemberKey) -> int | None:
        total = self._totals.get(key)
        if total is not None:
            self._totals.move_to_end(key)
        return total

    def set(self, key: MemberKey, total: int) -> None:
        self._totals[key] = total
        self._totals.move_to_end(key)
        if len(self._totals) > self._max:
            self._totals.popitem(last=False)

    def setdefault(self, key: MemberKey, total: int) -> int:
        """Keep a value another task stored meanwhile (it may already include newer awards)."""
        current = self.get(key)
        if current is not None:
            return current
        self.set(key, total)
        return total

    def forget(self, key: MemberKey) -> None:
        self._totals.pop(key, None)
