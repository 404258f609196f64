"""The gateway-side helpers (payload, preview, error lines) and the quota persisted through bot.db on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Config
from bot.llm.context import ContextMessage
from bot.llm.jobs import chain_from_payload
from bot.llm.payload import preview, reply_payload, user_error_line
from bot.llm.quota import check_quota, load_usage, record_usage
from bot.llm.settings import LLMGuildSettings
from bot.worker import Worker
from queue_backends.memory import MemoryQueue
from tests.llm.conftest import with_worker
from tests.openai_server import FakeOpenAI, reply

NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC).timestamp()


def test_payload_round_trips_into_the_chain_the_worker_builds() -> None:
    chain = [ContextMessage(2, "Bob", "earlier", False, 5), ContextMessage(9, "Steward", "answer", True, 6)]
    payload = reply_payload(
        prompt="now?", username="Alice", user_id=1, guild_id=3, channel_id=4, message_id=7, chain=chain
    )
    assert set(payload) >= {"prompt", "username", "guild_id", "channel_id", "user_id", "guild_name", "channel_context"}
    assert chain_from_payload(payload) == [*chain, ContextMessage(1, "Alice", "now?", False, 7)]


def test_preview_and_error_lines() -> None:
    assert preview([]) == "…"
    assert preview(["hi @every", "one"]) == "hi @\u200beveryone ▌"
    assert len(preview(["x" * 5000])) == 2000
    assert user_error_line("job timed out after 73s", "message").startswith("Sorry, the model took too long")
    assert user_error_line("the AI provider failed (HTTP 500)", "message") == (
        "Sorry, I couldn't answer that (the AI provider failed (HTTP 500))."
    )
    assert user_error_line("anything", "silent") is None


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[object]:
    from bot.db.engine import make_engine
    from bot.db.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'steward.db'}"
    await upgrade(url)
    eng = make_engine(url)
    yield eng
    await eng.dispose()


@pytest.mark.anyio
async def test_persisted_quota_blocks_the_n_plus_first_request(
    engine, fake_openai: FakeOpenAI, llm_config: Config
) -> None:
    """The cog's loop: check -> enqueue -> wait -> record tokens; the 4th request of a 3-a-day member is refused
    and never reaches the model, while another member still gets through."""
    settings = LLMGuildSettings(user_requests_per_day=3, user_cooldown=0)
    fake_openai.default = reply("ok")
    q = MemoryQueue()
    outcomes: list[str] = []

    async def ask(user_id: int) -> None:
        usage = await load_usage(engine, 10, user_id, NOON)
        decision = check_quota(settings, usage, last_request_at=None, now=NOON)
        if not decision.allowed:
            outcomes.append(decision.reason)
            return
        task = await q.enqueue(
            "llm_reply", reply_payload(prompt="hi", username="A", user_id=user_id, guild_id=10, channel_id=1)
        )
        result = await q.wait_for_result(task.job_id, 5)
        await record_usage(engine, 10, user_id, NOON, tokens=result["usage"]["total_tokens"])
        outcomes.append(result["reply"])

    async def body(worker: Worker) -> None:
        for _ in range(4):
            await ask(1)
        await ask(2)

    await with_worker(q, llm_config, body)
    assert outcomes == ["ok", "ok", "ok", "user_requests", "ok"]
    assert len(fake_openai.chat_requests) == 4
    usage = await load_usage(engine, 10, 1, NOON)
    assert usage.user_requests == 3 and usage.guild_requests == 4 and usage.user_tokens > 0
