"""Per-guild anti-spam settings: every threshold, the rules switched on, exemptions and the punishment ladder.

Settings are a frozen dataclass so a guild's settings can be shared between the detector and the cog without copies;
`/antispam set` builds a new object with `with_setting` and the cog swaps it in (it takes effect on the next message).
`to_dict`/`from_dict` are the JSON persistence format; `from_dict` rejects unknown keys and wrong types with a
ValueError that names the key, so a bad admin command or a corrupted row never half-applies.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any


class Rule(enum.StrEnum):
    FLOOD = "flood"
    DUPLICATES = "duplicates"
    MENTIONS = "mentions"
    EVERYONE = "everyone"
    INVITES = "invites"
    LINK_FLOOD = "link_flood"
    BLOCKED_DOMAIN = "blocked_domain"
    CAPS = "caps"
    ATTACHMENTS = "attachments"
    CROSS_CHANNEL = "cross_channel"
    RAID = "raid"


PUNISHMENT_KINDS = ("warn", "timeout", "kick", "ban")


@dataclass(frozen=True, slots=True)
class Punishment:
    """One rung of the ladder: `warn`, `timeout` (with seconds), `kick` or `ban`."""

    kind: str
    seconds: int = 0

    @classmethod
    def parse(cls, text: str) -> Punishment:
        """`"warn"`, `"timeout:300"`, `"kick"`, `"ban"` — the form admins type and JSON stores."""
        kind, _, arg = text.strip().lower().partition(":")
        if kind not in PUNISHMENT_KINDS:
            raise ValueError(f"unknown punishment {text!r} (expected one of {', '.join(PUNISHMENT_KINDS)})")
        if kind == "timeout":
            if not arg.isdigit() or not 0 < int(arg) <= 28 * 86400:
                raise ValueError(f"timeout needs seconds between 1 and 2419200, e.g. 'timeout:300', not {text!r}")
            return cls("timeout", int(arg))
        if arg:
            raise ValueError(f"{kind} takes no argument: {text!r}")
        return cls(kind)

    def __str__(self) -> str:
        return f"timeout:{self.seconds}" if self.kind == "timeout" else self.kind


# Below these a rule fires on every ordinary message (0 mentions "reach" a limit of 0; one author is "a raid" of 1),
# so one admin typo would punish the whole server. Zero stays allowed where it means "none at all" (links, files).
_MINIMUMS = {
    "flood_max_messages": 1,
    "duplicate_count": 2,
    "duplicate_history": 1,
    "mention_per_message": 1,
    "mention_window_total": 1,
    "caps_min_letters": 1,
    "cross_channel_count": 2,
    "raid_members": 2,
}

DEFAULT_LADDER = (Punishment("warn"), Punishment("timeout", 300), Punishment("timeout", 3600), Punishment("kick"))


@dataclass(frozen=True, slots=True)
class SpamSettings:
    enabled_rules: frozenset[Rule] = frozenset(Rule)
    # flood: more than `flood_max_messages` in `flood_window` seconds from one member in the guild
    flood_max_messages: int = 6
    flood_window: float = 5.0
    # duplicates: `duplicate_count` near-identical messages (incl. the current one) within `duplicate_window`
    duplicate_count: int = 4
    duplicate_window: float = 30.0
    duplicate_similarity: float = 0.9
    # how many of a member's recent messages each new one is compared with (keeps the cost per message constant)
    duplicate_history: int = 10
    # mentions: distinct user+role mentions in one message, or in total within `mention_window`
    mention_per_message: int = 5
    mention_window_total: int = 10
    mention_window: float = 15.0
    # links
    invite_allowlist: frozenset[str] = frozenset()
    link_max: int = 5
    link_window: float = 60.0
    blocked_domains: frozenset[str] = frozenset()
    # caps: at least `caps_ratio` capitals in a message with at least `caps_min_letters` letters
    caps_ratio: float = 0.7
    caps_min_letters: int = 10
    # attachments: more than `attachment_max` within `attachment_window`
    attachment_max: int = 10
    attachment_window: float = 60.0
    # cross-channel: the same message from one member in `cross_channel_count` channels within the window
    cross_channel_count: int = 3
    cross_channel_window: float = 60.0
    # raid: the same message (or the same links) from `raid_members` distinct members within the window
    raid_members: int = 3
    raid_window: float = 60.0
    # shorter normalized messages ("gm", "lol", "same") never count as copies for cross-channel or raid: in a busy
    # guild three people saying "good morning" within a minute is chat, not a raid.
    copy_min_length: int = 16
    exempt_role_ids: frozenset[int] = frozenset()
    exempt_channel_ids: frozenset[int] = frozenset()
    ladder: tuple[Punishment, ...] = DEFAULT_LADDER
    strike_expiry: float = 3600.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", "float") and value < 0:
                raise ValueError(f"{f.name}: must not be negative, got {value}")
        for name, least in _MINIMUMS.items():
            if getattr(self, name) < least:
                raise ValueError(f"{name}: must be at least {least}, got {getattr(self, name)}")
        for name in ("duplicate_similarity", "caps_ratio"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: must be between 0 and 1, got {getattr(self, name)}")
        if not self.ladder:
            raise ValueError("ladder: needs at least one punishment")

    def enabled(self, rule: Rule) -> bool:
        return rule in self.enabled_rules

    # -- persistence ---------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: sets become sorted lists, the ladder a list of strings like "timeout:300"."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "ladder":
                value = [str(p) for p in value]
            elif isinstance(value, frozenset):
                value = sorted(str(v) for v in value) if f.name == "enabled_rules" else sorted(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpamSettings:
        """Missing keys take the defaults; unknown keys or wrong types raise ValueError naming the key."""
        if not isinstance(data, dict):
            raise ValueError(f"settings must be a JSON object, got {type(data).__name__}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise ValueError(f"{key}: unknown setting (known: {', '.join(sorted(known))})")
            kwargs[key] = _convert(key, known[key].type, value)
        return cls(**kwargs)

    def with_setting(self, key: str, text: str) -> SpamSettings:
        """Apply one admin-typed value (`/antispam set <key> <value>`): numbers, on/off for a rule name,
        comma-separated lists for sets and the ladder. Raises ValueError naming the key."""
        if key in Rule._value2member_map_:
            on = _parse_bool(key, text)
            rules = set(self.enabled_rules)
            (rules.add if on else rules.discard)(Rule(key))
            return dataclasses.replace(self, enabled_rules=frozenset(rules))
        fields = {f.name: f for f in dataclasses.fields(self)}
        if key not in fields:
            raise ValueError(f"{key}: unknown setting (try a rule name or one of {', '.join(sorted(fields))})")
        kind = fields[key].type
        value: Any
        if kind == "int":
            value = _parse_number(key, text, int)
        elif kind == "float":
            value = _parse_number(key, text, float)
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
            if kind == "frozenset[int]":
                value = [_parse_number(key, part, int) for part in value]
        merged = self.to_dict()
        merged[key] = value
        return SpamSettings.from_dict(merged)


def _parse_bool(key: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("on", "true", "yes", "1", "enable", "enabled"):
        return True
    if lowered in ("off", "false", "no", "0", "disable", "disabled"):
        return False
    raise ValueError(f"{key}: expected on or off, got {text!r}")


def _parse_number(key: str, text: str, kind: type) -> Any:
    try:
        return kind(text.strip())
    except ValueError:
        raise ValueError(f"{key}: expected {'a whole number' if kind is int else 'a number'}, got {text!r}") from None


def _convert(key: str, kind: str, value: Any) -> Any:
    """Check one JSON value against the field's declared type (annotations are strings under __future__)."""

    def bad(expected: str) -> ValueError:
        return ValueError(f"{key}: expected {expected}, got {type(value).__name__} {value!r}")

    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("a number")
        return float(value)
    if not isinstance(value, list | tuple | set | frozenset):
        raise bad("a list")
    if kind == "frozenset[int]":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise bad("a list of integer ids")
        return frozenset(value)
    if not all(isinstance(v, str) for v in value):
        raise bad("a list of strings")
    if kind == "frozenset[str]":
        return frozenset(v.strip().lower() for v in value if v.strip())
    if kind == "frozenset[Rule]":
        try:
            return frozenset(Rule(v) for v in value)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc} (rules: {', '.join(r.value for r in Rule)})") from None
    if kind == "tuple[Punishment, ...]":
        try:
            return tuple(Punishment.parse(v) for v in value)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    raise AssertionError(f"unhandled settings field type {kind} for {key}")  # a new field needs a case above


DEFAULT_SETTINGS = SpamSettings()

__all__ = ["DEFAULT_LADDER", "DEFAULT_SETTINGS", "PUNISHMENT_KINDS", "Punishment", "Rule", "SpamSettings"]
