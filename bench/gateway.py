"""The gateway's per-message work, measured: spam detector + leveling core + safety-scan decision.

A deterministic mixed stream (bench/streams.py: 100k messages from 50k members, ~7 % spam of every kind) goes
through exactly what `on_message` does before any I/O: the anti-spam verdict, then for non-spam the XP award (and
level change), then whether the message would be enqueued for a safety scan. Prints messages/s, p50/p99/max per
message, and memory (tracemalloc peak of the cores' state, measured in a second pass so it does not slow the
timed one).

    .ci/env python -m bench.gateway [--messages 100000] [--members 50000]

Goal (issue 9): >= 20k messages/s on one core, p99 <= 1 ms.
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import time
import tracemalloc
from collections import Counter

from bench.streams import StreamMessage, generate_stream, guild_settings
from bot.antispam import SpamDetector
from bot.leveling import LevelingCore, LevelingSettings, apply_award
from bot.safety.gate import ScanDedupe, ScanFacts, should_scan
from bot.safety.settings import SafetyGuildSettings


def _pipeline():
    detector = SpamDetector(guild_settings)
    leveling_settings = LevelingSettings()
    leveling = LevelingCore(lambda _g: leveling_settings)
    safety_settings = SafetyGuildSettings(enabled=True)  # off by default; the bench measures the on path
    dedupe = ScanDedupe()
    totals: dict[tuple[int, int], int] = {}
    counts: Counter[str] = Counter()

    def handle(msg: StreamMessage) -> None:
        e = msg.event
        verdict = detector.check(e)
        if verdict.is_spam:
            counts["spam"] += 1
            return
        award = leveling.on_message(e.guild_id, e.author_id, e.channel_id, e.role_ids, e.content, e.timestamp, False)
        if award is not None:
            key = (e.guild_id, e.author_id)
            change = apply_award(totals.get(key, 0), award)
            totals[key] = change.new_total
            counts["xp_awards"] += 1
            counts["level_ups"] += change.leveled_up
        facts = ScanFacts(e.guild_id, e.channel_id, e.is_bot, e.content, None, frozenset(e.role_ids))
        if should_scan(facts, safety_settings, dedupe, e.timestamp):
            counts["scans_enqueued"] += 1

    return handle, counts


def run(stream: list[StreamMessage]) -> tuple[list[float], float, Counter[str]]:
    handle, counts = _pipeline()
    times: list[float] = []
    clock = time.perf_counter
    gc.collect()
    start = clock()
    for msg in stream:
        t0 = clock()
        handle(msg)
        times.append(clock() - t0)
    return times, clock() - start, counts


def peak_memory(stream: list[StreamMessage]) -> int:
    gc.collect()
    tracemalloc.start()
    handle, _ = _pipeline()
    for msg in stream:
        handle(msg)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the best is reported")
    args = parser.parse_args()
    stream, _shape = generate_stream(n_messages=args.messages, n_members=args.members)
    best: tuple[list[float], float, Counter[str]] | None = None
    for _ in range(args.repeat):
        result = run(stream)
        if best is None or result[1] < best[1]:
            best = result
    assert best is not None
    times, total, counts = best
    times.sort()
    n = len(times)
    pct = lambda q: times[min(n - 1, int(q * n))] * 1e6  # noqa: E731
    peak = peak_memory(stream)
    print(f"gateway per-message pipeline: {n:,} messages from {len({m.event.author_id for m in stream}):,} members")
    print(f"python {platform.python_version()} on {platform.machine()}, one core (single-threaded loop)")
    print()
    print(f"{'messages/s':<28}{n / total:>14,.0f}")
    print(f"{'p50 per message (µs)':<28}{pct(0.50):>14.1f}")
    print(f"{'p99 per message (µs)':<28}{pct(0.99):>14.1f}")
    print(f"{'max per message (µs)':<28}{times[-1] * 1e6:>14.0f}")
    print(f"{'peak memory of state (MiB)':<28}{peak / 2**20:>14.1f}")
    for key in ("spam", "xp_awards", "level_ups", "scans_enqueued"):
        print(f"{key:<28}{counts[key]:>14,}")
    goal_rate, goal_p99 = n / total >= 20_000, pct(0.99) <= 1000
    print()
    print(
        f"goal >= 20k msg/s: {'met' if goal_rate else 'NOT met'}; goal p99 <= 1 ms: {'met' if goal_p99 else 'NOT met'}"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
