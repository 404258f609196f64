"""The scan verdict, its wire shape, and reading it back from a result envelope correctly.

The seed system compared the whole result envelope to "safe" — always unequal — and so flagged every message.
`is_unsafe` reads `envelope["verdict"]["verdict"]` and treats an error envelope as "not known to be unsafe".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

VerdictKind = Literal["safe", "unsafe"]


@dataclass(frozen=True, slots=True)
class Verdict:
    verdict: VerdictKind
    categories: tuple[str, ...] = ()  # the categories that tripped (empty when safe)
    scores: dict[str, float] = field(default_factory=dict)
    scanner: str = ""

    @property
    def unsafe(self) -> bool:
        return self.verdict == "unsafe"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "categories": list(self.categories),
            "scores": dict(self.scores),
            "scanner": self.scanner,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        kind = data.get("verdict")
        if kind not in ("safe", "unsafe"):
            raise ValueError(f"verdict must be 'safe' or 'unsafe', got {kind!r}")
        return cls(
            kind,
            tuple(str(c) for c in data.get("categories") or ()),
            {str(k): float(v) for k, v in (data.get("scores") or {}).items()},
            str(data.get("scanner") or ""),
        )


def safe(scanner: str, scores: dict[str, float] | None = None) -> Verdict:
    return Verdict("safe", (), scores or {}, scanner)


def unsafe(scanner: str, categories: list[str], scores: dict[str, float] | None = None) -> Verdict:
    return Verdict("unsafe", tuple(dict.fromkeys(categories)), scores or {}, scanner)


class Scanner(Protocol):
    name: str

    async def scan(self, text: str) -> Verdict: ...


def verdict_of(envelope: Mapping[str, Any] | None) -> Verdict | None:
    """The Verdict inside a `safety_scan` result envelope, or None for an error/missing/malformed envelope."""
    if not isinstance(envelope, Mapping) or envelope.get("status") != "ok":
        return None
    inner = envelope.get("verdict")
    if isinstance(inner, str):  # an older worker answering {"verdict": "safe"}
        inner = {"verdict": inner}
    if not isinstance(inner, Mapping):
        return None
    try:
        return Verdict.from_dict(inner)
    except (ValueError, TypeError):
        return None


def is_unsafe(envelope: Mapping[str, Any] | None) -> bool:
    verdict = verdict_of(envelope)
    return verdict is not None and verdict.unsafe
