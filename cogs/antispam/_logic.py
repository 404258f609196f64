"""Pure decisions of the anti-spam cog: no nextcord, no I/O, time passed in.

The detector says *what* a message broke; these helpers decide what the cog does about it: which rule names the
action (for metrics and the mod log), which rung of the ladder a strike earns, who gets a new strike (so one raid
or one burst does not climb the whole ladder in a second), and how deletions group into bulk calls.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from bot.antispam import MessageRef, Punishment, Rule, SpamSettings

# The most telling rule names the action when a message broke several (a raid is also a duplicate, etc.).
RULE_PRIORITY: tuple[Rule, ...] = (
    Rule.RAID,
    Rule.CROSS_CHANNEL,
    Rule.EVERYONE,
    Rule.INVITES,
    Rule.BLOCKED_DOMAIN,
    Rule.MENTIONS,
    Rule.FLOOD,
    Rule.DUPLICATES,
    Rule.LINK_FLOOD,
    Rule.ATTACHMENTS,
    Rule.CAPS,
)

RULE_LABELS: dict[Rule, str] = {
    Rule.FLOOD: "sending messages too fast",
    Rule.DUPLICATES: "repeating the same message",
    Rule.MENTIONS: "mentioning too many people",
    Rule.EVERYONE: "trying to ping @everyone/@here",
    Rule.INVITES: "posting invites to other servers",
    Rule.LINK_FLOOD: "posting too many links",
    Rule.BLOCKED_DOMAIN: "posting a blocked link",
    Rule.CAPS: "writing in capitals",
    Rule.ATTACHMENTS: "posting too many attachments",
    Rule.CROSS_CHANNEL: "posting the same message in several channels",
    Rule.RAID: "taking part in a raid (the same message from several accounts)",
}

# `@everyone` / `@here` typed as text; Discord only pings when the author has the permission, so the *attempt* is
# what the content says, not the message's mention_everyone flag (which is false for members without it).
_EVERYONE = re.compile(r"@(everyone|here)\b")

# Bulk delete takes 2..100 message ids per call.
BULK_DELETE_MAX = 100


def primary_rule(rules: Iterable[Rule]) -> Rule:
    broken = set(rules)
    for rule in RULE_PRIORITY:
        if rule in broken:
            return rule
    raise ValueError("primary_rule needs at least one rule")


def everyone_attempt(content: str) -> bool:
    return bool(content) and _EVERYONE.search(content) is not None


def punishment_for(strike_number: int, settings: SpamSettings) -> Punishment:
    """The n-th live strike (1-based) gets the n-th rung; past the top the last rung repeats."""
    ladder = settings.ladder
    return ladder[max(1, min(strike_number, len(ladder))) - 1]


def describe_punishment(punishment: Punishment) -> str:
    if punishment.kind == "timeout":
        return f"timeout {format_duration(punishment.seconds)}"
    return punishment.kind


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds and seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def group_deletions(refs: Iterable[MessageRef]) -> dict[int, list[list[int]]]:
    """Message ids per channel, in the order given, split into bulk-delete sized batches."""
    per_channel: dict[int, list[int]] = {}
    for channel_id, message_id in refs:
        ids = per_channel.setdefault(channel_id, [])
        if message_id not in ids:
            ids.append(message_id)
    return {
        channel_id: [ids[i : i + BULK_DELETE_MAX] for i in range(0, len(ids), BULK_DELETE_MAX)]
        for channel_id, ids in per_channel.items()
    }


@dataclass(frozen=True, slots=True)
class StrikePlan:
    """Who gets a new strike for one verdict, and which messages still need deleting."""

    strike_member_ids: tuple[int, ...]
    delete: tuple[MessageRef, ...]


class StrikeGate:
    """Keeps one burst from climbing the whole ladder at once, in memory (strikes themselves live in the database).

    - The author of a flagged message gets a strike unless they got one less than `grace` seconds ago: a flood
      keeps breaking the flood rule on every message while the window is full, and those messages are deleted
      without a new strike, so a member is warned before the next rung.
    - The other participants of a raid get a strike only if they were not struck for a raid within the raid
      window: when a 4th account joins, the first three are not punished again for the same copies.
    - Messages already handed out for deletion are not deleted twice (saves API calls and 404s).
    Bounded: at most `max_entries` members and message refs are remembered, oldest dropped first.
    """

    def __init__(self, grace: float = 2.0, max_entries: int = 10_000) -> None:
        self.grace = grace
        self.max_entries = max_entries
        self._last_strike: OrderedDict[tuple[int, int], float] = OrderedDict()
        self._last_raid_strike: OrderedDict[tuple[int, int], float] = OrderedDict()
        self._deleted: OrderedDict[MessageRef, None] = OrderedDict()

    def plan(
        self,
        guild_id: int,
        author_id: int,
        member_ids: Iterable[int],
        rules: Iterable[Rule],
        delete: Iterable[MessageRef],
        now: float,
        settings: SpamSettings,
    ) -> StrikePlan:
        is_raid = Rule.RAID in set(rules)
        strike: list[int] = []
        if now - self._last_strike.get((guild_id, author_id), float("-inf")) >= self.grace:
            strike.append(author_id)
        if is_raid:
            for member_id in sorted(set(member_ids) - {author_id}):
                last = self._last_raid_strike.get((guild_id, member_id), float("-inf"))
                if now - last >= settings.raid_window:
                    strike.append(member_id)
        for member_id in strike:
            self._remember(self._last_strike, (guild_id, member_id), now)
            if is_raid:
                self._remember(self._last_raid_strike, (guild_id, member_id), now)
        fresh = tuple(ref for ref in delete if ref not in self._deleted)
        for ref in fresh:
            self._remember(self._deleted, ref, None)
        return StrikePlan(tuple(strike), fresh)

    def forget(self, guild_id: int, member_id: int) -> None:
        """After a pardon: the next offence counts at once."""
        self._last_strike.pop((guild_id, member_id), None)
        self._last_raid_strike.pop((guild_id, member_id), None)

    def _remember(self, table: OrderedDict, key: object, value: object) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.max_entries:
            table.popitem(last=False)


def reason_text(rules: Iterable[Rule], deleted: int) -> str:
    """One line for the audit log and the database: the rules in priority order and how many messages went."""
    broken = set(rules)
    names = ", ".join(rule.value for rule in RULE_PRIORITY if rule in broken)
    return f"anti-spam: {names}; {deleted} message(s) deleted"
