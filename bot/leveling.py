"""The leveling rules: MEE6's XP curve, per-guild settings, anti-farm XP awards, role rewards, announcements.

Pure Python, no nextcord: the cog translates messages into `LevelingCore.on_message` calls, persists
the returned `Award` (the total XP lives in the database, not here), feeds the stored total to `apply_award`
and acts on the `LevelChange`. This runs on every message, so the hot path is a few dict/set operations.
"""

from __future__ import annotations

import math
import random
import re
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# --- The curve ---


def xp_for_next(level: int) -> int:
    """XP needed to go from `level` to `level + 1` (MEE6: 5·l² + 50·l + 100)."""
    if level < 0:
        raise ValueError(f"level must be >= 0, got {level}")
    return 5 * level * level + 50 * level + 100


def total_xp_for_level(level: int) -> int:
    """Total XP at which a member reaches `level` (0 for level 0, 100 for level 1, 4,675 for level 10).

    Closed form of sum(xp_for_next(i) for i in range(level)): 5·Σi² + 50·Σi + 100·l.
    """
    if level < 0:
        raise ValueError(f"level must be >= 0, got {level}")
    n = level
    return 5 * (n - 1) * n * (2 * n - 1) // 6 + 25 * (n - 1) * n + 100 * n


# Thresholds for levels 0..1000 (level 1000 needs ~1.7 billion XP, far beyond any real guild); bisect on
# this table is exact and ~100 ns. Totals beyond it fall back to a binary search on the closed form.
_TABLE_LEVELS = 1000
_THRESHOLDS: list[int] = [total_xp_for_level(level) for level in range(_TABLE_LEVELS + 1)]


def level_for_xp(total_xp: int) -> int:
    """The level reached with `total_xp` (exact: level l starts at total_xp_for_level(l), inclusive)."""
    if total_xp < 0:
        raise ValueError(f"total XP must be >= 0, got {total_xp}")
    if total_xp < _THRESHOLDS[-1]:
        return bisect_right(_THRESHOLDS, total_xp) - 1
    low, high = _TABLE_LEVELS, _TABLE_LEVELS * 2
    while total_xp_for_level(high) <= total_xp:
        low, high = high, high * 2
    # Invariant: total_xp_for_level(low) <= total_xp < total_xp_for_level(high).
    while high - low > 1:
        mid = (low + high) // 2
        if total_xp_for_level(mid) <= total_xp:
            low = mid
        else:
            high = mid
    return low


def progress(total_xp: int) -> tuple[int, int, int]:
    """(level, XP earned into the current level, XP the current level needs in total to reach the next)."""
    level = level_for_xp(total_xp)
    return level, total_xp - total_xp_for_level(level), xp_for_next(level)


# --- Settings ---

AnnounceMode = Literal["off", "same_channel", "dm", "channel"]
RewardMode = Literal["stack", "replace"]
ANNOUNCE_MODES: tuple[str, ...] = ("off", "same_channel", "dm", "channel")
REWARD_MODES: tuple[str, ...] = ("stack", "replace")
DEFAULT_TEMPLATE = "GG {user}, you reached level {level}!"
MAX_TEMPLATE_LENGTH = 1000
DISCORD_MESSAGE_LIMIT = 2000


class LevelingSettingsError(ValueError):
    """A per-guild setting is invalid; `key` names it so the admin command can say which one."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"leveling setting {key!r}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True, slots=True)
class LevelingSettings:
    """One guild's leveling configuration. Immutable: change it with `dataclasses.replace` (re-validates)."""

    xp_min: int = 15
    xp_max: int = 25
    cooldown_seconds: float = 60.0
    min_message_length: int = 3  # characters after stripping and collapsing whitespace
    role_multipliers: Mapping[int, float] = field(default_factory=dict)
    channel_multipliers: Mapping[int, float] = field(default_factory=dict)
    no_xp_channel_ids: frozenset[int] = frozenset()
    no_xp_role_ids: frozenset[int] = frozenset()
    announce_mode: AnnounceMode = "same_channel"
    announce_channel_id: int | None = None
    announce_template: str = DEFAULT_TEMPLATE
    reward_mode: RewardMode = "stack"
    keep_xp_on_leave: bool = True

    def __post_init__(self) -> None:
        _check_int("xp_min", self.xp_min, minimum=0)
        _check_int("xp_max", self.xp_max, minimum=0)
        if self.xp_max < self.xp_min:
            raise LevelingSettingsError("xp_max", f"must be >= xp_min ({self.xp_min}), got {self.xp_max}")
        _check_number("cooldown_seconds", self.cooldown_seconds)
        _check_int("min_message_length", self.min_message_length, minimum=0)
        for name in ("role_multipliers", "channel_multipliers"):
            for key, value in getattr(self, name).items():
                _check_int(f"{name}[{key!r}]", key, minimum=0)
                _check_number(f"{name}[{key!r}]", value)
        for name in ("no_xp_channel_ids", "no_xp_role_ids"):
            for item in getattr(self, name):
                _check_int(name, item, minimum=0)
        if self.announce_mode not in ANNOUNCE_MODES:
            raise LevelingSettingsError(
                "announce_mode", f"must be one of {', '.join(ANNOUNCE_MODES)}, got {self.announce_mode!r}"
            )
        if self.announce_channel_id is not None:
            _check_int("announce_channel_id", self.announce_channel_id, minimum=0)
        if self.announce_mode == "channel" and self.announce_channel_id is None:
            raise LevelingSettingsError("announce_channel_id", "is required when announce_mode is 'channel'")
        if not isinstance(self.announce_template, str) or not self.announce_template.strip():
            raise LevelingSettingsError("announce_template", "must be a non-empty string")
        if len(self.announce_template) > MAX_TEMPLATE_LENGTH:
            raise LevelingSettingsError("announce_template", f"must be <= {MAX_TEMPLATE_LENGTH} characters")
        if self.reward_mode not in REWARD_MODES:
            raise LevelingSettingsError(
                "reward_mode", f"must be one of {', '.join(REWARD_MODES)}, got {self.reward_mode!r}"
            )
        if not isinstance(self.keep_xp_on_leave, bool):
            raise LevelingSettingsError("keep_xp_on_leave", f"must be a boolean, got {self.keep_xp_on_leave!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LevelingSettings:
        """Build from stored JSON: ids may be strings (JSON object keys always are); missing keys default."""
        known = set(cls.__dataclass_fields__)
        for key in data:
            if key not in known:
                raise LevelingSettingsError(str(key), "unknown setting")
        kwargs: dict[str, Any] = dict(data)
        for name in ("role_multipliers", "channel_multipliers"):
            if name in kwargs:
                raw = kwargs[name]
                if not isinstance(raw, Mapping):
                    raise LevelingSettingsError(name, "must be a mapping of id to multiplier")
                kwargs[name] = {_parse_id(f"{name}[{k!r}]", k): v for k, v in raw.items()}
        for name in ("no_xp_channel_ids", "no_xp_role_ids"):
            if name in kwargs:
                raw = kwargs[name]
                if isinstance(raw, str | bytes) or not isinstance(raw, Collection):
                    raise LevelingSettingsError(name, "must be a list of ids")
                kwargs[name] = frozenset(_parse_id(name, item) for item in raw)
        if kwargs.get("announce_channel_id") is not None:
            kwargs["announce_channel_id"] = _parse_id("announce_channel_id", kwargs["announce_channel_id"])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: snowflake ids as strings (they exceed JavaScript's 2^53), sets as sorted lists."""
        return {
            "xp_min": self.xp_min,
            "xp_max": self.xp_max,
            "cooldown_seconds": self.cooldown_seconds,
            "min_message_length": self.min_message_length,
            "role_multipliers": {str(k): v for k, v in sorted(self.role_multipliers.items())},
            "channel_multipliers": {str(k): v for k, v in sorted(self.channel_multipliers.items())},
            "no_xp_channel_ids": [str(i) for i in sorted(self.no_xp_channel_ids)],
            "no_xp_role_ids": [str(i) for i in sorted(self.no_xp_role_ids)],
            "announce_mode": self.announce_mode,
            "announce_channel_id": (None if self.announce_channel_id is None else str(self.announce_channel_id)),
            "announce_template": self.announce_template,
            "reward_mode": self.reward_mode,
            "keep_xp_on_leave": self.keep_xp_on_leave,
        }


def _check_int(key: str, value: object, *, minimum: int) -> None:
    # bool is an int subclass; True as an XP amount is a bug in the caller, not a 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise LevelingSettingsError(key, f"must be an integer, got {value!r}")
    if value < minimum:
        raise LevelingSettingsError(key, f"must be >= {minimum}, got {value}")


def _check_number(key: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LevelingSettingsError(key, f"must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise LevelingSettingsError(key, f"must be a finite number >= 0, got {value}")


def _parse_id(key: str, value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise LevelingSettingsError(key, f"must be a Discord id, got {value!r}")


# --- Awards ---


@dataclass(frozen=True, slots=True)
class Award:
    """XP earned by one message; the cog adds `xp` to the member's stored total."""

    guild_id: int
    user_id: int
    xp: int
    timestamp: float


@dataclass(frozen=True, slots=True)
class LevelChange:
    old_level: int
    new_level: int
    new_total: int

    @property
    def leveled_up(self) -> bool:
        return self.new_level > self.old_level

    @property
    def levels_reached(self) -> range:
        """Every level newly reached (several when a big award or /xp give jumps levels); empty if none."""
        return range(self.old_level + 1, self.new_level + 1)


def apply_xp(old_total: int, delta: int) -> LevelChange:
    """Add `delta` (negative for /xp remove) to a stored total; totals never go below zero."""
    new_total = max(0, old_total + delta)
    return LevelChange(level_for_xp(max(0, old_total)), level_for_xp(new_total), new_total)


def apply_award(old_total: int, award: Award) -> LevelChange:
    return apply_xp(old_total, award.xp)


def set_xp(old_total: int, new_total: int) -> LevelChange:
    """For /xp set: the level change from one stored total to another."""
    return apply_xp(old_total, new_total - old_total)


@dataclass(slots=True)
class _MemberState:
    last_award_at: float
    last_content: str


class LevelingCore:
    """Decides, per message, whether a member earns XP and how much.

    Keeps only what the anti-farm rules need (last award time and last message per member) in an LRU-bounded
    dict; totals live in the database. Not thread-safe: call it from the event loop.
    """

    def __init__(
        self,
        settings_for_guild: Callable[[int], LevelingSettings],
        rng: random.Random | None = None,
        max_members: int = 100_000,
    ) -> None:
        if max_members < 1:
            raise ValueError("max_members must be >= 1")
        self._settings_for_guild = settings_for_guild
        self._rng = rng if rng is not None else random.Random()
        self._max_members = max_members
        self._members: OrderedDict[tuple[int, int], _MemberState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._members)

    def on_message(
        self,
        guild_id: int,
        user_id: int,
        channel_id: int,
        role_ids: Collection[int],
        content: str,
        timestamp: float,
        is_spam: bool,
    ) -> Award | None:
        """An `Award` if this message earns XP, else None. `timestamp` is in seconds (any steady clock)."""
        if is_spam:
            return None
        settings = self._settings_for_guild(guild_id)
        if channel_id in settings.no_xp_channel_ids:
            return None
        if settings.no_xp_role_ids and not settings.no_xp_role_ids.isdisjoint(role_ids):
            return None

        normalized = " ".join(content.casefold().split())
        key = (guild_id, user_id)
        state = self._members.get(key)
        if state is None:
            state = _MemberState(last_award_at=-math.inf, last_content="")
            self._members[key] = state
            if len(self._members) > self._max_members:
                self._members.popitem(last=False)
        else:
            self._members.move_to_end(key)
        # Every counted message becomes "the previous message", awarded or not, so alternating a repeat with
        # a cooldown-blocked message does not launder it.
        is_repeat = normalized == state.last_content
        state.last_content = normalized
        if is_repeat or len(normalized) < settings.min_message_length:
            return None
        if timestamp - state.last_award_at < settings.cooldown_seconds:
            return None

        base = self._rng.randint(settings.xp_min, settings.xp_max)
        xp = round(base * _multiplier(settings, channel_id, role_ids))
        if xp <= 0:
            return None
        state.last_award_at = timestamp
        return Award(guild_id, user_id, xp, timestamp)

    def forget_member(self, guild_id: int, user_id: int) -> None:
        """Drop a member's anti-farm state (on leave, or after /xp set so the next message counts)."""
        self._members.pop((guild_id, user_id), None)

    def forget_guild(self, guild_id: int) -> None:
        for key in [k for k in self._members if k[0] == guild_id]:
            del self._members[key]


def _multiplier(settings: LevelingSettings, channel_id: int, role_ids: Collection[int]) -> float:
    """The largest multiplier that applies (channel or any held role); 1.0 when none is configured for them.

    Only configured values compete, so a channel set to 0.5 really halves XP unless a role grants more.
    """
    best: float | None = settings.channel_multipliers.get(channel_id)
    if settings.role_multipliers:
        for role_id in role_ids:
            value = settings.role_multipliers.get(role_id)
            if value is not None and (best is None or value > best):
                best = value
    return 1.0 if best is None else best


# --- Role rewards ---


def rewards_for_level(
    rewards: Mapping[int, int],
    level: int,
    mode: RewardMode | str,
    held: Collection[int] | None = None,
) -> tuple[frozenset[int], frozenset[int]]:
    """(roles to add, roles to remove) so a member at `level` holds exactly the reward roles they should.

    `rewards` maps level -> role id. `stack`: every reward at or below the level. `replace`: only the highest
    reached. Either way reward roles for levels above `level` are removed (after /xp remove or a purge). With
    `held` (the member's current role ids) the result is the minimal change; without it, the full target.
    """
    if mode not in REWARD_MODES:
        raise ValueError(f"reward mode must be one of {', '.join(REWARD_MODES)}, got {mode!r}")
    reached = [(lvl, role) for lvl, role in rewards.items() if lvl <= level]
    if mode == "stack":
        wanted = {role for _, role in reached}
    else:
        wanted = {max(reached)[1]} if reached else set()
    unwanted = {role for role in rewards.values() if role not in wanted}
    if held is not None:
        held_set = set(held)
        return frozenset(wanted - held_set), frozenset(unwanted & held_set)
    return frozenset(wanted), frozenset(unwanted)


# --- Announcements ---

_PLACEHOLDER = re.compile(r"\{(user|level)\}")


def render_template(template: str, user_mention: str, level: int) -> str:
    """Substitute `{user}` and `{level}` only, literally.

    Never str.format: an admin-written `{user.__class__}` or `{0}` would reach into Python objects. Anything
    else in braces stays as typed. Capped to Discord's message length.
    """
    values = {"user": user_mention, "level": str(level)}
    text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    return text[:DISCORD_MESSAGE_LIMIT]


__all__ = [
    "ANNOUNCE_MODES",
    "DEFAULT_TEMPLATE",
    "REWARD_MODES",
    "Award",
    "LevelChange",
    "LevelingCore",
    "LevelingSettings",
    "LevelingSettingsError",
    "apply_award",
    "apply_xp",
    "level_for_xp",
    "progress",
    "render_template",
    "rewards_for_level",
    "set_xp",
    "total_xp_for_level",
    "xp_for_next",
]
