"""Per-guild safety settings: which scanner, what to skip, what to do per category, and the guild's own lists."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.llm.settings import check_non_negative, settings_from_dict, settings_to_dict

ScannerName = Literal["rules", "openai", "llm"]
Action = Literal["none", "report", "delete", "timeout"]
ACTION_SEVERITY: dict[str, int] = {"none": 0, "report": 1, "delete": 2, "timeout": 3}


@dataclass(frozen=True, slots=True)
class SafetyGuildSettings:
    enabled: bool = False
    scanner: ScannerName = "rules"
    # what to scan
    min_length: int = 3  # shorter messages are not worth a scan
    exempt_role_ids: frozenset[int] = frozenset()
    exempt_channel_ids: frozenset[int] = frozenset()  # a thread is exempt when its parent channel is
    dedupe_seconds: float = 300.0  # identical content is scanned once in this window; its verdict is reused
    # what to do: the most severe action among the flagged categories; delete and timeout are reported too
    default_action: Action = "report"
    category_actions: dict[str, Action] = field(default_factory=dict)  # e.g. {"scam_link": "delete"}
    timeout_seconds: int = 600
    audit_channel_id: int = 0  # where reports go; 0 = nowhere (actions still apply)
    dry_run: bool = False  # report what would have been done, do nothing
    # scanner parameters
    thresholds: dict[str, float] = field(default_factory=dict)  # openai: category -> score threshold
    words: dict[str, tuple[str, ...]] = field(default_factory=dict)  # rules: category -> words/phrases (added)
    patterns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # rules: category -> regexes
    use_default_words: bool = True
    scam_domains: frozenset[str] = frozenset()  # rules: added to the built-in scam list
    flag_invites: bool = True
    allowed_invites: frozenset[str] = frozenset()  # the guild's own invite codes

    def __post_init__(self) -> None:
        check_non_negative(self)
        if not 0 < self.timeout_seconds <= 28 * 86400:
            raise ValueError(f"timeout_seconds: must be between 1 and 2419200, got {self.timeout_seconds}")
        for category, threshold in self.thresholds.items():
            if not 0.0 < threshold <= 1.0:
                raise ValueError(f"thresholds.{category}: must be between 0 and 1, got {threshold}")
        for category, patterns in self.patterns.items():
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"patterns.{category}: bad regex {pattern!r} ({exc})") from None

    def action_for_category(self, category: str) -> Action:
        return self.category_actions.get(category, self.default_action)

    def to_dict(self) -> dict[str, Any]:
        out = settings_to_dict(self)
        for key in ("words", "patterns"):
            out[key] = {k: list(v) for k, v in out[key].items()}
        return out

    @classmethod
    def from_dict(cls, data: Any) -> SafetyGuildSettings:
        return settings_from_dict(cls, data)

    def with_setting(self, key: str, value: Any) -> SafetyGuildSettings:
        return self.from_dict({**self.to_dict(), key: value})
