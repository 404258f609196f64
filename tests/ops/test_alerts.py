"""The bot's own alerts: the policy (plain logic, clock passed in) and the real thing posting to a webhook."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from bot.config import Config
from bot.emulator import Emulator
from bot.ops.alerts import AlertPolicy, QueueSnapshot
from bot.ops.notify import GREY, RED
from tests.e2e.steward_fixtures import make_world, running_steward


def _kinds(policy: AlertPolicy, snap: QueueSnapshot, now: float) -> list[str]:
    return [ev.component + ":" + ev.status for ev in policy.observe(snap, now)]


def test_no_workers_fires_after_the_grace_then_rate_limits() -> None:
    policy = AlertPolicy(interval=600, no_workers_after=60, backlog_threshold=100)
    none = QueueSnapshot(tasks=3, processing=0, dead=0, live_workers=0)
    assert _kinds(policy, none, 1000) == []
    assert _kinds(policy, none, 1060) == []  # exactly a minute: not yet
    assert _kinds(policy, none, 1061) == ["workers:failure"]
    assert _kinds(policy, none, 1200) == []  # same kind within the interval
    assert _kinds(policy, none, 1662) == ["workers:failure"]


def test_a_worker_coming_back_resets_the_no_worker_clock() -> None:
    policy = AlertPolicy(no_workers_after=60)
    assert _kinds(policy, QueueSnapshot(0, 0, 0, 0), 0) == []
    assert _kinds(policy, QueueSnapshot(0, 0, 0, 1), 50) == []
    assert _kinds(policy, QueueSnapshot(0, 0, 0, 0), 100) == []
    assert _kinds(policy, QueueSnapshot(0, 0, 0, 0), 150) == []  # 50 s since it went away again


def test_backlog_and_dead_letter_growth() -> None:
    policy = AlertPolicy(interval=600, backlog_threshold=10)
    assert _kinds(policy, QueueSnapshot(10, 0, 5, 2), 0) == []  # at the threshold; first dead count is the baseline
    assert _kinds(policy, QueueSnapshot(11, 0, 5, 2), 1) == ["queue:warning"]
    assert _kinds(policy, QueueSnapshot(50, 0, 6, 2), 2) == ["queue:failure"]  # backlog rate limited, dead grew
    assert _kinds(policy, QueueSnapshot(50, 0, 6, 2), 3) == []  # no growth
    assert _kinds(policy, QueueSnapshot(50, 0, 9, 2), 4) == []  # grew, but within the interval


@pytest.mark.anyio
async def test_running_bot_posts_started_dead_letter_and_stopped_alerts(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    hook = emulator.create_webhook(world.channel_id, "alerts")

    def customize(cfg: Config) -> None:
        cfg.notify.status_webhook = emulator.webhook_direct_url(hook)
        cfg.metrics.queue_poll_interval = 0.05

    def posted() -> list[dict]:
        return [e.data["json"]["embeds"][0] for e in emulator.events.events if e.kind == "webhook_execute"]

    async with running_steward(emulator, tmp_path, cogs=["status"], customize=customize) as rt:
        assert [e["title"] for e in posted()] == ["all bot: started"]
        await anyio.sleep(0.2)  # the watcher takes its dead-letter baseline
        rt.queue.push_raw(b"{not json")  # the memory queue's raw door: a malformed task, dead-lettered by the worker
        await emulator.wait_for(lambda e: e.kind == "webhook_execute" and "Dead-letter" in str(e.data), timeout=5)
        alert = posted()[1]
        assert alert["color"] == RED and "Dead-letter list grew from 0 to 1" in alert["description"]
    stopped = posted()[-1]
    assert stopped["title"] == "all bot: stopped" and stopped["color"] == GREY
    assert len(posted()) == 3
