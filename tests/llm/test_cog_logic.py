"""The llm and safety cogs' own logic, without Discord: admin-text parsing, the settings store on real SQLite,
the safety report's outcome lines, and the hold the llm stage waits on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from bot.llm.settings import LLMGuildSettings
from bot.safety.gate import ActionPlan, action_for
from bot.safety.settings import SafetyGuildSettings
from bot.safety.verdict import unsafe
from cogs._settings import GuildSettingsStore, parse_setting, shown
from cogs.safety._report import Outcome, action_record, duration_text, outcome_text, report_fields
from cogs.safety.events import ScanHold


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[object]:
    from bot.db.engine import make_engine
    from bot.db.migrate import upgrade

    eng = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'cog.db'}")
    await upgrade(eng)
    yield eng
    await eng.dispose()


def test_admin_text_becomes_typed_settings() -> None:
    s = SafetyGuildSettings()
    assert parse_setting(SafetyGuildSettings, "enabled", " On ") is True
    assert parse_setting(SafetyGuildSettings, "audit_channel_id", "<#123456789012345678>") == 123456789012345678
    assert parse_setting(SafetyGuildSettings, "audit_channel_id", "off") == 0
    assert parse_setting(SafetyGuildSettings, "exempt_role_ids", "<@&11>, 22") == [11, 22]
    actions = parse_setting(SafetyGuildSettings, "category_actions", "scam_link=delete, self_harm=timeout")
    assert s.with_setting("category_actions", actions).action_for_category("self_harm") == "timeout"
    words = parse_setting(SafetyGuildSettings, "words", "spam=buy now|cheap pills")
    assert s.with_setting("words", words).words == {"spam": ("buy now", "cheap pills")}
    assert parse_setting(LLMGuildSettings, "user_cooldown", "2.5") == 2.5
    assert shown(LLMGuildSettings().with_setting("chat_channel_ids", [3, 1]).to_dict()["chat_channel_ids"]) == "1, 3"


@pytest.mark.parametrize(
    ("cls", "key", "value", "message"),
    [
        (SafetyGuildSettings, "audit_channel_id", "<#1> <#2>", "audit_channel_id: expected one channel"),
        (SafetyGuildSettings, "enabled", "maybe", "enabled: expected on/off"),
        (SafetyGuildSettings, "nonsense", "1", "nonsense: unknown setting"),
        (LLMGuildSettings, "user_requests_per_day", "lots", "user_requests_per_day: expected a number"),
        (SafetyGuildSettings, "category_actions", "scam_link", "category_actions: expected name=value pairs"),
    ],
)
def test_bad_admin_text_names_the_key(cls: type, key: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_setting(cls, key, value)


def test_a_bad_value_is_rejected_by_the_settings_not_half_applied() -> None:
    with pytest.raises(ValueError, match="default_action: must be one of"):
        SafetyGuildSettings().with_setting(
            "default_action", parse_setting(SafetyGuildSettings, "default_action", "ban")
        )


@pytest.mark.anyio
async def test_settings_store_persists_and_a_failed_change_saves_nothing(engine: object) -> None:
    store = GuildSettingsStore(engine, "safety", SafetyGuildSettings)  # type: ignore[arg-type]
    assert await store.get(1) == SafetyGuildSettings()
    await store.update(1, lambda s: s.with_setting("enabled", True))
    with pytest.raises(ValueError):
        await store.update(1, lambda s: s.with_setting("timeout_seconds", 0))
    fresh = GuildSettingsStore(engine, "safety", SafetyGuildSettings)  # type: ignore[arg-type]
    assert (await fresh.get(1)).enabled is True
    assert (await fresh.get(1)).timeout_seconds == 600
    assert (await fresh.get(2)).enabled is False


def _plan(action: str, *, dry_run: bool = False, seconds: int = 600) -> ActionPlan:
    settings = SafetyGuildSettings(default_action=action, dry_run=dry_run, timeout_seconds=seconds)  # type: ignore[arg-type]
    return action_for(unsafe("rules", ["self_harm"]), settings)


def test_outcome_lines_say_what_happened() -> None:
    assert outcome_text(_plan("report"), Outcome()) == "Reported only."
    assert outcome_text(_plan("delete"), Outcome(deleted=True)) == "I deleted the message."
    timeout = _plan("timeout", seconds=3600)
    assert outcome_text(timeout, Outcome(deleted=True, timed_out=True)) == (
        "I deleted the message and timed the author out for 1 h."
    )
    assert outcome_text(timeout, Outcome(deleted=True, errors=["timeout: 403 Missing Permissions"])) == (
        "I deleted the message. Failed: timeout: 403 Missing Permissions"
    )
    assert outcome_text(_plan("delete", dry_run=True), Outcome()) == "Dry run: I would have deleted the message."
    assert action_record(_plan("timeout", dry_run=True)) == "dry_run:timeout"
    assert [duration_text(s) for s in (45, 60, 90, 7200, 86400)] == ["45 s", "1 min", "90 s", "2 h", "1 d"]


def test_report_fields_name_author_channel_and_scores() -> None:
    verdict = unsafe("openai", ["harassment/threatening"], {"harassment/threatening": 0.934, "hate": 0.1})
    fields = dict(
        report_fields(
            author_id=1, author_name="alice", channel_id=2, jump_url="https://x/1", verdict=verdict, outcome_line="ok"
        )
    )
    assert fields["Author"] == "<@1> (alice, 1)"
    assert fields["Channel"] == "<#2> · [message](https://x/1)"
    assert fields["Scanner"] == "openai (harassment/threatening 0.93)"


@pytest.mark.anyio
async def test_the_hold_keeps_the_llm_waiting_until_the_verdict_and_no_longer_than_its_timeout() -> None:
    hold = ScanHold(timeout=5)
    answers: list[bool] = []

    async def waiter() -> None:
        answers.append(await hold.may_answer())

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.sleep(0.05)
        assert answers == []  # still waiting for the verdict
        hold.resolve(_plan("delete"))
    assert answers == [False]
    reported = ScanHold(timeout=5)
    reported.resolve(_plan("report"))
    assert await reported.may_answer() is True  # a report-only verdict does not silence the bot
    with anyio.fail_after(2):
        assert await ScanHold(timeout=0.05).may_answer() is True  # a scan that never answers does not block
    dry = ScanHold(timeout=5)
    dry.resolve(_plan("delete", dry_run=True))
    assert await dry.may_answer() is True
