"""What moderators read about a flagged message: the outcome line, and the audit-channel embed around it.

`outcome_text` and `report_fields` are plain Python (unit-tested directly); `report_embed` only wraps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import nextcord

from bot.safety.gate import ActionPlan
from bot.safety.verdict import Verdict

EXCERPT = 1000  # characters of the flagged message shown in the report
COLOUR = 0xE67E22
DRY_RUN_COLOUR = 0x95A5A6


@dataclass
class Outcome:
    """What the bot managed to do; `errors` holds one short line per failed Discord call."""

    deleted: bool = False
    timed_out: bool = False
    errors: list[str] = field(default_factory=list)


def duration_text(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def planned_text(plan: ActionPlan) -> str:
    """The plan as a verb phrase: "deleted the message", ..."""
    if plan.action == "timeout":
        return f"deleted the message and timed the author out for {duration_text(plan.timeout_seconds)}"
    if plan.action == "delete":
        return "deleted the message"
    if plan.action == "report":
        return "reported it"
    return "done nothing"


def outcome_text(plan: ActionPlan, outcome: Outcome) -> str:
    if plan.dry_run:
        return f"Dry run: I would have {planned_text(plan)}."
    if plan.action == "report":
        return "Reported only."
    done = []
    if outcome.deleted:
        done.append("deleted the message")
    if outcome.timed_out:
        done.append(f"timed the author out for {duration_text(plan.timeout_seconds)}")
    text = f"I {' and '.join(done)}." if done else "Nothing was done."
    if outcome.errors:
        text += " Failed: " + "; ".join(outcome.errors)
    return text


def action_record(plan: ActionPlan) -> str:
    """The `safety_flags.action` value: the planned action, prefixed in dry-run mode."""
    return f"dry_run:{plan.action}" if plan.dry_run else plan.action


def report_fields(
    *, author_id: int, author_name: str, channel_id: int, jump_url: str, verdict: Verdict, outcome_line: str
) -> list[tuple[str, str]]:
    scores = ", ".join(f"{c} {verdict.scores[c]:.2f}" for c in verdict.categories if c in verdict.scores)
    return [
        ("Author", f"<@{author_id}> ({author_name}, {author_id})"),
        ("Channel", f"<#{channel_id}> · [message]({jump_url})"),
        ("Categories", ", ".join(verdict.categories) or "unspecified"),
        ("Scanner", verdict.scanner + (f" ({scores})" if scores and verdict.scanner != "rules" else "")),
        ("Action", outcome_line),
    ]


def excerpt(content: str) -> str:
    text = content.strip() or "(no text)"
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def report_embed(message: nextcord.Message, verdict: Verdict, plan: ActionPlan, outcome_line: str) -> nextcord.Embed:
    embed = nextcord.Embed(
        title="Unsafe message" + (" (dry run)" if plan.dry_run else ""),
        description=excerpt(message.content),
        colour=DRY_RUN_COLOUR if plan.dry_run else COLOUR,
        timestamp=datetime.now(UTC),
    )
    fields = report_fields(
        author_id=message.author.id,
        author_name=str(message.author),
        channel_id=message.channel.id,
        jump_url=message.jump_url,
        verdict=verdict,
        outcome_line=outcome_line,
    )
    for name, value in fields:
        embed.add_field(name=name, value=value[:1024], inline=name in ("Author", "Channel"))
    embed.set_footer(text=f"message {message.id}")
    return embed
