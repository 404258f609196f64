"""Every role serves /metrics and /healthz: counters move with real traffic, health follows gateway and workers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp
import anyio
import pytest

from bot.config import Config
from bot.emulator import Emulator
from bot.ops.health import WorkerView, evaluate
from bot.runner import Runtime, serve
from tests.e2e.steward_fixtures import make_world, running_steward
from tests.services import require_redis

pytestmark = pytest.mark.anyio


def _with_metrics(cfg: Config) -> None:
    cfg.metrics.enabled = True
    cfg.metrics.port = 0
    cfg.metrics.queue_poll_interval = 0.1


async def _get(rt: Runtime, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{rt.metrics_port}{path}") as resp:
            return resp.status, await resp.text()


def _sample(text: str, name: str, labels: str = "") -> float:
    pattern = rf"^{re.escape(name)}{re.escape('{' + labels + '}') if labels else ''} (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_counters_move_with_emulator_traffic(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["status"], customize=_with_metrics) as rt:
        assert rt.metrics_port
        _, before = await _get(rt, "/metrics")
        for i in range(3):
            await emulator.post_message(world.channel_id, world.alice_id, f"hello {i}")
        interaction = await emulator.invoke_slash(world.guild_id, world.channel_id, world.alice_id, "status")
        await interaction.response()
        await interaction.followup(0, timeout=10)
        with anyio.fail_after(5):
            while True:
                status, after = await _get(rt, "/metrics")
                if _sample(after, "steward_messages_seen_total") - _sample(before, "steward_messages_seen_total") >= 3:
                    break
                await anyio.sleep(0.05)
    assert status == 200
    delta = {
        event: _sample(after, "steward_jobs_total", f'event="{event}",job_type="ping"')
        - _sample(before, "steward_jobs_total", f'event="{event}",job_type="ping"')
        for event in ("enqueued", "started", "succeeded", "failed")
    }
    assert delta == {"enqueued": 1, "started": 1, "succeeded": 1, "failed": 0}
    waits = 'job_type="ping"'
    assert (
        _sample(after, "steward_job_wait_seconds_count", waits)
        == _sample(before, "steward_job_wait_seconds_count", waits) + 1
    )
    assert _sample(after, "steward_job_run_seconds_count", waits) >= 1
    assert _sample(after, "steward_gateway_connected") == 1
    assert 'steward_queue_depth{list="tasks"}' in after


async def test_healthz_flips_when_the_worker_stops_and_the_gateway_disconnects(
    emulator: Emulator, tmp_path: Path
) -> None:
    make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["status"], customize=_with_metrics) as rt:
        status, body = await _get(rt, "/healthz")
        assert status == 200, body

        rt.workers[0].stop()
        status, body = await _get(rt, "/healthz")
        assert status == 503
        assert json.loads(body)["reasons"] == [f"worker {rt.workers[0].worker_id} stopped"]

        await rt.bot.close()
        status, body = await _get(rt, "/healthz")
        assert status == 503
        assert json.loads(body)["reasons"] == ["gateway disconnected", f"worker {rt.workers[0].worker_id} stopped"]
        _, metrics_text = await _get(rt, "/metrics")
        assert _sample(metrics_text, "steward_gateway_connected") == 0


async def test_worker_role_serves_metrics_and_health(redis_client: object, namespace: str, tmp_path: Path) -> None:
    cfg = Config()
    cfg.queue.redis_url = require_redis()
    cfg.queue.namespace = namespace
    cfg.queue.shutdown_grace = 1.0
    cfg.bot.data_dir = str(tmp_path)
    _with_metrics(cfg)
    started: anyio.Event = anyio.Event()
    box: list[Runtime] = []

    async def on_started(rt: Runtime) -> None:
        box.append(rt)
        started.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: serve(cfg, "worker", on_started=on_started, handle_signals=False))
        with anyio.fail_after(10):
            await started.wait()
        (rt,) = box
        status, body = await _get(rt, "/healthz")
        assert status == 200, body
        assert json.loads(body)["gateway"] is None  # a worker has no gateway to judge
        await redis_client.rpush(f"{namespace}:tasks", b"not json")  # type: ignore[attr-defined]
        with anyio.fail_after(5):
            while True:
                _, text = await _get(rt, "/metrics")
                if _sample(text, "steward_queue_depth", 'list="dead"') == 1:
                    break
                await anyio.sleep(0.05)
        rt.workers[0].stop()
        status, body = await _get(rt, "/healthz")
        assert status == 503 and "stopped" in body
        rt.stop()


def test_health_evaluation_of_stale_workers() -> None:
    # The take loop wakes at least once a second; silence beyond stale_after means Redis is down or it is wedged.
    report = evaluate(
        gateway_expected=False,
        gateway_connected=False,
        workers=[WorkerView("w1", stopping=False, last_take=100.0)],
        now=110.0,
        stale_after=30.0,
    )
    assert report.ok and report.reasons == []
    stale = evaluate(
        gateway_expected=False,
        gateway_connected=False,
        workers=[WorkerView("w1", stopping=False, last_take=100.0)],
        now=140.5,
        stale_after=30.0,
    )
    assert not stale.ok and stale.reasons == ["worker w1 has not dequeued for 40s"]
    no_gateway = evaluate(gateway_expected=True, gateway_connected=False, workers=[], now=0, stale_after=30)
    assert no_gateway.reasons == ["gateway disconnected"]


async def test_taken_metrics_port_is_one_line_at_start_up(emulator: Emulator, tmp_path: Path) -> None:
    from bot.runner import StartupError
    from tests.e2e.steward_fixtures import steward_config

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as taken:
        cfg = steward_config(emulator, tmp_path, cogs=["status"])
        cfg.metrics.enabled = True
        cfg.metrics.port = taken.extra(anyio.abc.SocketAttribute.local_port)
        with pytest.raises(StartupError, match=r"metrics\.port: cannot listen"):
            await serve(cfg, "all", handle_signals=False)
