"""Steward's anti-spam detector against DPY-Anti-Spam on the same mixed stream (issue 9).

    .ci/bench python -m bench.antispam_vs_dpy    # 100k messages, 50k members; --messages N for a quicker run

(.ci/bench is .ci/env with the `bench` extra, DPY-Anti-Spam among it, in a venv of its own.)

Both sides see the same 100k messages (bench/streams.py) in time order with time simulated from the messages'
timestamps. Steward gets `MessageEvent`s; DPY-Anti-Spam gets real `nextcord.Message` objects built by nextcord
itself from gateway-shaped payloads on a real `ConnectionState` (no mocks), and its documented entry point
`AntiSpamHandler.propagate` with the options closest to ours:
  duplicates  message_duplicate_count=4, message_duplicate_accuracy=90, message_interval=30 s (its core rule;
              its counter counts matching pairs, so 4 fires on the 3rd identical message — stricter than our 4
              messages, and the setting most favourable to its recall; --dpy-duplicate-count 5 matches ours);
  flood       MaxMessageLimiter(hard_cap=7, message_interval=5 s) — its hard cap plugin, per channel;
  mentions    AntiMassMention(min_mentions_per_message=5, total_mentions_before_punishment=10, time_period=15 s);
  no_punish=True so it only reports (our detector also only reports; acting is the cog's job); moderators ignored.
It has no rule for invites, links, caps, @everyone, cross-channel or raids.
Only the detection call is timed on both sides (building nextcord messages is not charged to DPY). Peak memory is
measured in a second pass under tracemalloc; nextcord's user cache is cleared after every message so it measures
DPY's own state.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import statistics
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bench.streams import NORMAL, SPAM_KINDS, StreamMessage, StreamShape, generate_stream, guild_settings
from bot.antispam import SpamDetector

# -- results -----------------------------------------------------------------------------------------------------


@dataclass
class SideResult:
    name: str
    durations_ns: list[int] = field(default_factory=list)
    flagged: set[int] = field(default_factory=set)  # stream indices flagged when they arrived
    peak_bytes: int | None = None
    extra: str = ""

    @property
    def total_s(self) -> float:
        return sum(self.durations_ns) / 1e9

    def pct_us(self, q: float) -> float:
        ordered = sorted(self.durations_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


# -- Steward -----------------------------------------------------------------------------------------------------


def run_steward(stream: list[StreamMessage], shape: StreamShape) -> SideResult:
    settings = {g: guild_settings(g) for g in shape.guild_ids}
    detector = SpamDetector(settings.__getitem__)
    result = SideResult("Steward")
    clock = time.perf_counter_ns
    check = detector.check
    durations = result.durations_ns
    for i, message in enumerate(stream):
        start = clock()
        verdict = check(message.event)
        durations.append(clock() - start)
        if verdict.rules:
            result.flagged.add(i)
    result.extra = f"tracked members at end: {detector.tracked_members}"
    return result


def steward_peak(stream: list[StreamMessage], shape: StreamShape) -> int:
    settings = {g: guild_settings(g) for g in shape.guild_ids}
    gc.collect()
    tracemalloc.start()
    detector = SpamDetector(settings.__getitem__)
    for message in stream:
        detector.check(message.event)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


# -- DPY-Anti-Spam -----------------------------------------------------------------------------------------------


def _import_dpy():
    import nextcord

    # DPY-Anti-Spam's nextcord adapter does `import discord` (nextcord 2.x shipped that alias; 3.x does not).
    sys.modules.setdefault("discord", nextcord)
    try:
        import antispam
        import antispam.core
        import antispam.plugins.anti_mass_mention
        import antispam.plugins.max_message_limiter
        from antispam.libs.dpy_forks.lib_nextcord import Nextcord
    except ModuleNotFoundError as exc:
        raise SystemExit(
            f"DPY-Anti-Spam is not installed ({exc}): run it with `.ci/bench python -m bench.antispam_vs_dpy`"
        ) from exc
    return nextcord, antispam, Nextcord


class _SimClock:
    """DPY-Anti-Spam reads the wall clock; a replayed stream needs the stream's clock instead."""

    def __init__(self) -> None:
        self.now = datetime.datetime.now(datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat()


class _DPYWorld:
    """A nextcord ConnectionState with the stream's guilds and channels, built the way the gateway would."""

    def __init__(self, nextcord, shape: StreamShape) -> None:
        self.nextcord = nextcord
        self.client = nextcord.Client(intents=nextcord.Intents.all())
        self.state = self.client._connection
        bot_id = 1
        self.state.user = nextcord.ClientUser(
            state=self.state,
            data={
                "id": bot_id,
                "username": "steward",
                "discriminator": "0",
                "avatar": None,
                "bot": True,
                "verified": True,
                "mfa_enabled": False,
                "flags": 0,
            },
        )
        self.channels = {}
        for g in shape.guild_ids:
            everyone = {
                "id": g,
                "name": "@everyone",
                "permissions": str(0x400 | 0x800),
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
            }
            admin = {
                "id": g + 1,
                "name": "bot",
                "permissions": str(0x8),
                "position": 1,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
            }
            data = {
                "id": g,
                "name": f"guild {g}",
                "owner_id": 2,
                "roles": [everyone, admin],
                "emojis": [],
                "stickers": [],
                "features": [],
                "member_count": len(shape.member_ids) // len(shape.guild_ids),
                "members": [
                    {
                        "user": {
                            "id": bot_id,
                            "username": "steward",
                            "discriminator": "0",
                            "avatar": None,
                            "bot": True,
                        },
                        "roles": [g + 1],
                        "joined_at": _iso(1.7e9),
                        "deaf": False,
                        "mute": False,
                    }
                ],
                "channels": [
                    {
                        "id": c,
                        "type": 0,
                        "name": f"chat-{c % 100}",
                        "position": i,
                        "permission_overwrites": [],
                        "guild_id": g,
                    }
                    for i, c in enumerate(shape.channel_ids[g])
                ],
            }
            guild = nextcord.Guild(data=data, state=self.state)
            self.state._add_guild(guild)
            for c in shape.channel_ids[g]:
                self.channels[c] = guild.get_channel(c)

    def message(self, m: StreamMessage):
        e = m.event

        def user(uid: int, name: str) -> dict:
            return {"id": uid, "username": name, "discriminator": "0", "avatar": None, "bot": e.is_bot}

        member = {"roles": list(e.role_ids), "joined_at": _iso(1.7e9), "deaf": False, "mute": False}
        data = {
            "id": e.message_id,
            "channel_id": e.channel_id,
            "guild_id": e.guild_id,
            "author": user(e.author_id, m.author_name),
            "member": member,
            "content": e.content,
            "timestamp": _iso(e.timestamp),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": e.mentions_everyone_attempt and e.can_mention_everyone,
            "mentions": [{**user(u, f"member{u % 1_000_000}"), "member": member} for u in e.mention_user_ids],
            "mention_roles": [str(r) for r in e.mention_role_ids],
            "attachments": [
                {
                    "id": e.message_id + k,
                    "filename": f"f{k}.png",
                    "size": 1000,
                    "url": "https://cdn.example/f.png",
                    "proxy_url": "https://cdn.example/f.png",
                }
                for k in range(e.attachment_count)
            ],
            "embeds": [],
            "pinned": False,
            "type": 0,
        }
        return self.nextcord.Message(state=self.state, channel=self.channels[e.channel_id], data=data)


async def _dpy_pass(
    stream: list[StreamMessage], shape: StreamShape, measure_memory: bool, duplicate_count: int
) -> SideResult:
    nextcord, antispam, nextcord_lib = _import_dpy()
    from antispam.enums import Library
    from antispam.plugins import AntiMassMention, MaxMessageLimiter
    from antispam.plugins.anti_mass_mention import MassMentionPunishment

    clock = _SimClock()
    for module in (antispam.core, antispam.plugins.anti_mass_mention, antispam.plugins.max_message_limiter):
        module.get_aware_time = clock

    class StreamClockNextcord(nextcord_lib):
        async def create_message(self, message):
            created = await super().create_message(message)
            created.creation_time = message.created_at  # the message's own (snowflake) time, not the wall clock
            return created

    class FloodCap(MaxMessageLimiter):
        hit = False

        async def do_punishment(self, member, message) -> None:
            FloodCap.hit = True

    world = _DPYWorld(nextcord, shape)
    options = antispam.Options(
        no_punish=True,
        message_duplicate_count=duplicate_count,
        message_duplicate_accuracy=90,
        message_interval=30_000,
        ignored_members=set(shape.moderator_ids),
    )
    handler = antispam.AntiSpamHandler(world.client, Library.NEXTCORD, options=options)
    handler.lib_handler = StreamClockNextcord(handler)
    handler.register_plugin(
        AntiMassMention(
            world.client, handler, min_mentions_per_message=5, total_mentions_before_punishment=10, time_period=15_000
        )
    )
    handler.register_plugin(FloodCap(handler, hard_cap=7, message_interval=5_000))
    await handler.init()

    result = SideResult("DPY-Anti-Spam")
    durations = result.durations_ns
    perf = time.perf_counter_ns
    users = world.state._users
    if measure_memory:
        gc.collect()
        tracemalloc.start()
    for i, m in enumerate(stream):
        message = world.message(m)
        clock.now = message.created_at
        FloodCap.hit = False
        start = perf()
        payload = await handler.propagate(message)
        durations.append(perf() - start)
        users.clear()  # nextcord's user cache is not DPY's memory; keep it out of the measurement
        if isinstance(payload, dict):
            continue
        plugin_results = {**payload.pre_invoke_extensions, **payload.after_invoke_extensions}
        if (
            payload.member_should_be_punished_this_message
            or FloodCap.hit
            or isinstance(plugin_results.get("AntiMassMention"), MassMentionPunishment)
        ):
            result.flagged.add(i)
    if measure_memory:
        result.peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result


def run_dpy(
    stream: list[StreamMessage], shape: StreamShape, measure_memory: bool = False, duplicate_count: int = 4
) -> SideResult:
    return asyncio.run(_dpy_pass(stream, shape, measure_memory, duplicate_count))


# -- report ------------------------------------------------------------------------------------------------------


def incidents(stream: list[StreamMessage]) -> dict[str, dict[int, list[int]]]:
    out: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, m in enumerate(stream):
        if m.incident >= 0:
            out[m.kind][m.incident].append(i)
    return out


def recall(result: SideResult, by_kind: dict[str, dict[int, list[int]]], kind: str) -> tuple[int, int]:
    groups = by_kind.get(kind, {})
    return sum(1 for idx in groups.values() if any(i in result.flagged for i in idx)), len(groups)


def table(rows: Iterable[Iterable[str]]) -> str:
    rows = [list(r) for r in rows]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = [
        "  ".join(cell.rjust(w) if c else cell.ljust(w) for c, (cell, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(stream: list[StreamMessage], sides: list[SideResult]) -> str:
    n = len(stream)
    normal = [i for i, m in enumerate(stream) if m.kind == NORMAL]
    by_kind = incidents(stream)
    rows: list[list[str]] = [["", *(s.name for s in sides)]]
    rows.append(["messages/s", *(f"{n / s.total_s:,.0f}" for s in sides)])
    rows.append(["p50 per message (µs)", *(f"{s.pct_us(0.50):.1f}" for s in sides)])
    rows.append(["p99 per message (µs)", *(f"{s.pct_us(0.99):.1f}" for s in sides)])
    rows.append(["max per message (µs)", *(f"{max(s.durations_ns) / 1000:.0f}" for s in sides)])
    rows.append(["peak memory (MiB)", *("-" if s.peak_bytes is None else f"{s.peak_bytes / 2**20:.1f}" for s in sides)])
    for kind in SPAM_KINDS:
        cells = []
        for s in sides:
            caught, total = recall(s, by_kind, kind)
            cells.append(f"{caught}/{total} ({100 * caught / total:.0f} %)" if total else "-")
        rows.append([f"caught: {kind}", *cells])
    rows.append(
        ["false positives (normal)", *(f"{sum(1 for i in normal if i in s.flagged)}/{len(normal)}" for s in sides)]
    )
    out = [table(rows)]
    if len(sides) == 2:
        a, b = sides
        out.append(
            f"\nspeed ratio {a.name}/{b.name}: {b.total_s / a.total_s:.1f}x messages/s, "
            f"p99 {b.pct_us(0.99) / a.pct_us(0.99):.1f}x lower"
        )
        if a.peak_bytes and b.peak_bytes:
            out.append(f"memory ratio {b.name}/{a.name}: {b.peak_bytes / a.peak_bytes:.1f}x")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc passes")
    parser.add_argument("--steward-only", action="store_true")
    parser.add_argument("--dpy-duplicate-count", type=int, default=4, help="DPY's message_duplicate_count")
    args = parser.parse_args(argv)

    stream, shape = generate_stream(n_messages=args.messages, n_members=args.members)
    authors = len({m.event.author_id for m in stream})
    print(
        f"stream: {len(stream):,} messages from {authors:,} members, {len(shape.guild_ids)} guilds, "
        f"{sum(len(c) for c in shape.channel_ids.values())} channels; python {sys.version.split()[0]}"
    )
    runs: list[tuple[str, Callable[[], SideResult]]] = [("Steward", lambda: run_steward(stream, shape))]
    if not args.steward_only:
        runs.append(("DPY-Anti-Spam", lambda: run_dpy(stream, shape, duplicate_count=args.dpy_duplicate_count)))
    sides = []
    for name, run in runs:
        started = time.perf_counter()
        gc.collect()
        side = run()
        print(f"{name}: timed pass in {time.perf_counter() - started:.1f} s wall {side.extra}", flush=True)
        sides.append(side)
    if not args.no_memory:
        sides[0].peak_bytes = steward_peak(stream, shape)
        if len(sides) > 1:
            sides[1].peak_bytes = run_dpy(stream, shape, True, args.dpy_duplicate_count).peak_bytes
    print()
    print(report(stream, sides))
    durations = sides[0].durations_ns
    print(f"\nSteward mean {statistics.fmean(durations) / 1000:.1f} µs per message")


if __name__ == "__main__":
    main()
