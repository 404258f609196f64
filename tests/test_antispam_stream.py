"""The benchmark stream is deterministic and labelled, and the detector catches every labelled incident in it."""

from __future__ import annotations

from collections import defaultdict

from bench.streams import NORMAL, SPAM_KINDS, generate_stream, guild_settings
from bot.antispam import SpamDetector


def test_stream_is_deterministic_and_mixed() -> None:
    a, shape = generate_stream(n_messages=3_000, n_members=1_500)
    b, _ = generate_stream(n_messages=3_000, n_members=1_500)
    assert [(m.event, m.kind, m.incident) for m in a] == [(m.event, m.kind, m.incident) for m in b]
    assert len(a) == 3_000
    assert [m.event.timestamp for m in a] == sorted(m.event.timestamp for m in a)
    assert len({m.event.message_id for m in a}) == 3_000
    assert {m.kind for m in a} == {NORMAL, *SPAM_KINDS}
    assert sum(m.kind == NORMAL for m in a) > 0.9 * len(a)
    assert {m.event.guild_id for m in a} == set(shape.guild_ids)


def test_detector_catches_every_incident_without_false_positives() -> None:
    stream, shape = generate_stream(n_messages=6_000, n_members=3_000, seed=7)
    settings = {g: guild_settings(g) for g in shape.guild_ids}
    detector = SpamDetector(settings.__getitem__)
    caught: dict[str, set[int]] = defaultdict(set)
    incidents: dict[str, set[int]] = defaultdict(set)
    false_positives = []
    for m in stream:
        verdict = detector.check(m.event)
        if m.kind == NORMAL:
            if verdict.is_spam:
                false_positives.append((m.event.content, verdict.rules))
            continue
        incidents[m.kind].add(m.incident)
        if verdict.is_spam:
            caught[m.kind].add(m.incident)
    assert false_positives == []
    assert {k: len(v) for k, v in caught.items()} == {k: len(v) for k, v in incidents.items()}
