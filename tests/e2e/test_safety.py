"""Safety scans end to end: the real bot (`serve()`, as `bot run`) against the Discord emulator; the `rules` scanner
offline, the `openai` scanner through the real `openai` client against the fake OpenAI-compatible server."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from prometheus_client import REGISTRY

from bot.config import Config
from bot.db.moderation import list_mod_actions
from bot.db.safety import list_safety_flags
from bot.emulator import Emulator, Message
from tests.e2e.steward_fixtures import World, make_world, running_steward
from tests.openai_server import FakeOpenAI, reply

pytestmark = pytest.mark.anyio

UNSAFE = "honestly just kys already"  # the rules scanner's default self_harm list


async def configure(emu: Emulator, world: World, **settings: Any) -> None:
    for key, value in settings.items():
        record = await emu.invoke_slash(
            world.guild_id, world.channel_id, world.admin_id, "safety", {"setting": key, "value": str(value)},
            subcommand=["config", "set"],
        )  # fmt: skip
        body = await record.response(timeout=10)
        assert body["data"]["content"].startswith("Safety:"), body


async def deleted(emu: Emulator, msg: Message, timeout: float = 10.0) -> None:
    await emu.wait_for(lambda e: e.kind == "message_delete" and int(e.data["id"]) == msg.id, timeout=timeout)


def scans_answered() -> float:
    """Scans whose result the gateway has received so far (the producer-side wait histogram counts them)."""
    return REGISTRY.get_sample_value("steward_job_wait_seconds_count", {"job_type": "safety_scan"}) or 0.0


async def scans_settle(before: float, count: int) -> None:
    """Wait until `count` more scans than `before` have answered; what the gateway does with a verdict follows
    in the same task step, so a safe message left alone has really been judged."""
    with anyio.fail_after(10):
        while scans_answered() < before + count:  # noqa: ASYNC110 - a counter, no event to wait on
            await anyio.sleep(0.02)


def report_fields(msg: Message) -> dict[str, str]:
    (embed,) = msg.embeds
    return {f["name"]: f["value"] for f in embed["fields"]}


def assert_no_pings(msg: Message) -> None:
    assert msg.allowed_mentions is not None and msg.allowed_mentions["parse"] == []
    assert not msg.allowed_mentions.get("users") and not msg.allowed_mentions.get("roles")
    assert msg.pinged_user_ids == [] and msg.pinged_role_ids == [] and not msg.mention_everyone


async def test_an_unsafe_message_is_deleted_and_reported_and_a_safe_one_left_alone(
    emulator: Emulator, tmp_path: Path
) -> None:
    world = make_world(emulator)
    audit = emulator.create_channel(world.guild_id, "mod-log")
    async with running_steward(emulator, tmp_path, cogs=["safety"]) as rt:
        await configure(emulator, world, enabled="on", default_action="delete", audit_channel_id=f"<#{audit.id}>")
        before = scans_answered()
        fine = await emulator.post_message(world.channel_id, world.bob_id, "what a lovely day, see you all later")
        since = emulator.events.mark()
        bad = await emulator.post_message(world.channel_id, world.alice_id, f"<@{world.bob_id}> {UNSAFE}")
        await deleted(emulator, bad)
        report = await emulator.wait_for_message(audit.id, since=since)
        await scans_settle(before, 2)
        flags = await list_safety_flags(rt.db, world.guild_id)
        actions = await list_mod_actions(rt.db, world.guild_id)
    assert not emulator.world.find_message(fine.id).deleted
    assert report.embeds[0]["title"] == "Unsafe message"
    assert report.embeds[0]["description"] == f"<@{world.bob_id}> {UNSAFE}"
    fields = report_fields(report)
    assert fields["Author"].startswith(f"<@{world.alice_id}> (alice")
    assert fields["Categories"] == "self_harm" and fields["Scanner"] == "rules"
    assert fields["Action"] == "I deleted the message."
    assert_no_pings(report)  # the quoted message names bob; the report pings nobody
    assert [(f.message_id, f.verdict, f.action, f.scanner) for f in flags] == [(bad.id, "unsafe", "delete", "rules")]
    assert [(a.user_id, a.action, a.rule) for a in actions] == [(world.alice_id, "delete", "safety")]


async def test_an_edit_that_brings_in_unsafe_text_is_scanned_too(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["safety"]):
        await configure(emulator, world, enabled="on", category_actions="scam_link=delete")
        before = scans_answered()
        msg = await emulator.post_message(world.channel_id, world.alice_id, "check out my new blog post")
        await scans_settle(before, 1)
        assert not emulator.world.find_message(msg.id).deleted
        await emulator.edit_message(msg, "check out https://dlscord-nitro.gift/claim free nitro")
        await deleted(emulator, msg)


async def test_a_category_set_to_timeout_deletes_and_times_the_author_out(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    audit = emulator.create_channel(world.guild_id, "mod-log")
    async with running_steward(emulator, tmp_path, cogs=["safety"]) as rt:
        await configure(
            emulator, world, enabled="on", category_actions="self_harm=timeout", timeout_seconds=600,
            audit_channel_id=audit.id,
        )  # fmt: skip
        since = emulator.events.mark()
        bad = await emulator.post_message(world.channel_id, world.alice_id, UNSAFE)
        await deleted(emulator, bad)
        timeout = await emulator.wait_for(
            lambda e: e.kind == "timeout" and int(e.data["user_id"]) == world.alice_id, since=since, timeout=10
        )
        report = await emulator.wait_for_message(audit.id, since=since)
        actions = await list_mod_actions(rt.db, world.guild_id)
    until = datetime.fromisoformat(timeout.data["communication_disabled_until"])
    assert 590 <= (until - datetime.now(UTC)).total_seconds() <= 600
    assert report_fields(report)["Action"] == "I deleted the message and timed the author out for 10 min."
    assert sorted(a.action for a in actions) == ["delete", "timeout"]
    # A timed-out member cannot post: the emulator refuses like Discord.
    assert emulator.member(world.guild_id, world.alice_id).communication_disabled_until is not None


async def test_dry_run_only_reports_what_it_would_have_done(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    audit = emulator.create_channel(world.guild_id, "mod-log")
    async with running_steward(emulator, tmp_path, cogs=["safety"]) as rt:
        await configure(
            emulator, world, enabled="on", default_action="timeout", dry_run="on", audit_channel_id=audit.id
        )
        since = emulator.events.mark()
        bad = await emulator.post_message(world.channel_id, world.alice_id, UNSAFE)
        report = await emulator.wait_for_message(audit.id, since=since, timeout=10)
        flags = await list_safety_flags(rt.db, world.guild_id)
        actions = await list_mod_actions(rt.db, world.guild_id)
    assert report.embeds[0]["title"] == "Unsafe message (dry run)"
    assert report_fields(report)["Action"] == (
        "Dry run: I would have deleted the message and timed the author out for 10 min."
    )
    assert not emulator.world.find_message(bad.id).deleted
    assert emulator.member(world.guild_id, world.alice_id).communication_disabled_until is None
    assert not emulator.calls("DELETE", "/channels/{channel_id}/messages/{message_id}")
    assert not emulator.calls("PATCH", "/guilds/{guild_id}/members/{user_id}")
    assert [f.action for f in flags] == ["dry_run:timeout"] and actions == []


async def test_the_openai_scanner_flags_through_the_moderation_endpoint_and_repeats_reuse_the_verdict(
    emulator: Emulator, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    world = make_world(emulator)
    fake_openai.moderation_scores = lambda text: {"harassment/threatening": 0.93} if "hurt" in text else {}

    def customize(cfg: Config) -> None:
        cfg.llm.base_url = fake_openai.base_url  # the moderation endpoint defaults to the LLM endpoint
        cfg.llm.api_key = "sk-test"

    async with running_steward(emulator, tmp_path, cogs=["safety"], customize=customize):
        await configure(emulator, world, enabled="on", scanner="openai", default_action="delete")
        before = scans_answered()
        fine = await emulator.post_message(world.channel_id, world.bob_id, "good morning everyone")
        first = await emulator.post_message(world.channel_id, world.alice_id, "I will hurt you")
        await deleted(emulator, first)
        again = await emulator.post_message(world.channel_id, world.alice_id, "I  will HURT you")
        await deleted(emulator, again)
        await scans_settle(before, 2)
    assert not emulator.world.find_message(fine.id).deleted
    texts = [r["input"] for r in fake_openai.moderation_requests]
    assert sorted(texts) == ["I will hurt you", "good morning everyone"]  # the repeat was not scanned again
    assert {r["model"] for r in fake_openai.moderation_requests} == {"omni-moderation-latest"}


async def test_safety_test_command_shows_the_verdict_to_admins_only(emulator: Emulator, tmp_path: Path) -> None:
    world = make_world(emulator)
    async with running_steward(emulator, tmp_path, cogs=["safety"]):
        await configure(emulator, world, category_actions="self_harm=delete")
        answers = []
        for text in (UNSAFE, "have a nice day"):
            record = await emulator.invoke_slash(
                world.guild_id, world.channel_id, world.admin_id, "safety", {"text": text}, subcommand=["test"]
            )
            answers.append(emulator.world.find_message(await record.followup(0, timeout=10)))
        denied = await emulator.invoke_slash(
            world.guild_id, world.channel_id, world.alice_id, "safety", {"text": UNSAFE}, subcommand=["test"]
        )
        refusal = (await denied.response(timeout=10))["data"]["content"]
    unsafe, safe = answers
    assert unsafe.content.startswith("**unsafe** (rules): self_harm. On a real message I would have deleted")
    assert "Scans are off on this server" in unsafe.content  # `enabled` was never turned on
    assert safe.content == "**safe** (rules): nothing to do."
    assert all(m.ephemeral for m in answers)
    assert refusal == "You need the Manage Server permission to do that."


async def test_a_broken_scanner_leaves_messages_alone_and_logs_once(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world(emulator)
    caplog.set_level(logging.INFO)
    async with running_steward(emulator, tmp_path, cogs=["safety"]):
        # The guard-model scanner without safety.guard_base_url: every scan job answers with an error.
        await configure(emulator, world, enabled="on", scanner="llm", default_action="delete")
        before = scans_answered()
        posted = [await emulator.post_message(world.channel_id, world.alice_id, f"{UNSAFE} {n}") for n in range(3)]
        await scans_settle(before, 3)
    assert not any(emulator.world.find_message(m.id).deleted for m in posted)
    assert caplog.text.count("the llm scanner needs safety.guard_base_url") == 1


async def test_an_unsafe_message_to_the_bot_is_removed_and_never_answered(
    emulator: Emulator, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    world = make_world(emulator)
    fake_openai.default = reply("hello there")

    def customize(cfg: Config) -> None:
        cfg.llm.base_url = fake_openai.base_url
        cfg.llm.api_key = "sk-test"
        cfg.llm.max_retries = 0

    async with running_steward(emulator, tmp_path, customize=customize):  # the default cog list
        await configure(emulator, world, enabled="on", default_action="delete")
        bad = await emulator.post_message(world.channel_id, world.alice_id, f"<@{emulator.bot.id}> {UNSAFE}")
        await deleted(emulator, bad)
        ask = await emulator.post_message(world.channel_id, world.bob_id, f"<@{emulator.bot.id}> hi")
        answer = await emulator.wait_for_message(
            world.channel_id, since=ask, timeout=10,
            predicate=lambda m: bool(m.reference) and int(m.reference["message_id"]) == ask.id,
        )  # fmt: skip
        await emulator.wait_for(
            lambda e: (
                e.kind in ("message_create", "message_update")
                and int(e.data["id"]) == answer.id
                and e.data["content"] == "hello there"
            ),
            timeout=10,
        )
    assert len(fake_openai.chat_requests) == 1
    assert UNSAFE not in str(fake_openai.chat_requests)
