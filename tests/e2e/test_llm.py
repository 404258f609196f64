"""AI replies end to end: the real bot (`serve()`, as `bot run`) against the Discord emulator, its worker calling
the fake OpenAI-compatible server with the real `openai` client."""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from bot.config import Config
from bot.emulator import Emulator, Message
from bot.emulator.events import Event
from tests.e2e.steward_fixtures import World, make_world, running_steward
from tests.openai_server import FakeOpenAI, error, reply, slow, stream

pytestmark = pytest.mark.anyio

MESSAGES_ROUTE = "/channels/{channel_id}/messages"
MESSAGE_ROUTE = "/channels/{channel_id}/messages/{message_id}"
CURSOR = " ▌"


def llm_customizer(server: FakeOpenAI, **queue_timeouts: float):
    def customize(cfg: Config) -> None:
        cfg.llm.base_url = server.base_url
        cfg.llm.api_key = "sk-test-SECRET-e2e"
        cfg.llm.model = "fake-model"
        cfg.llm.max_retries = 0
        cfg.queue.wait_timeouts = {**cfg.queue.wait_timeouts, **queue_timeouts}

    return customize


@contextlib.asynccontextmanager
async def steward(
    emu: Emulator, tmp_path: Path, server: FakeOpenAI, *, cogs: list[str] | None = None, **timeouts: float
):
    async with running_steward(
        emu, tmp_path, cogs=["llm"] if cogs is None else cogs, customize=llm_customizer(server, **timeouts)
    ) as rt:
        yield rt


async def configure(emu: Emulator, world: World, **settings: Any) -> None:
    for key, value in settings.items():
        record = await emu.invoke_slash(
            world.guild_id, world.channel_id, world.admin_id, "llm", {"setting": key, "value": str(value)},
            subcommand=["config", "set"],
        )  # fmt: skip
        body = await record.response(timeout=10)
        assert body["data"]["content"].startswith("AI replies:"), body


def mention(emu: Emulator, text: str) -> str:
    return f"<@{emu.bot.id}> {text}"


def _is_final(content: str) -> bool:
    return not content.endswith(CURSOR.strip()) and content != "…"


def _replies_to(msg: Message):
    def match(m: Message) -> bool:
        return bool(m.reference) and int(m.reference["message_id"]) == msg.id

    return match


async def answer_to(emu: Emulator, msg: Message, timeout: float = 10.0) -> Message:
    """The bot's reply to `msg` once its content is final (no streaming cursor)."""
    first = await emu.wait_for_message(msg.channel_id, since=msg, timeout=timeout, predicate=_replies_to(msg))
    await emu.wait_for(
        lambda e: (
            e.kind in ("message_create", "message_update")
            and int(e.data["id"]) == first.id
            and _is_final(e.data.get("content") or "")
        ),
        timeout=timeout,
    )
    return first


def bot_message_calls(emu: Emulator) -> list[dict[str, Any]]:
    return emu.calls("POST", MESSAGES_ROUTE) + emu.calls("PATCH", MESSAGE_ROUTE)


async def test_reply_chain_reaches_the_model_in_order(
    emulator: Emulator, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    world = make_world(emulator)
    fake_openai.script(reply("Got it: 7."), reply("It was 7."))
    async with steward(emulator, tmp_path, fake_openai):
        await configure(emulator, world, user_cooldown=0)
        ask = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "remember the number 7"))
        first = await answer_to(emulator, ask)
        assert first.content == "Got it: 7."
        # Bob joins the thread by replying to the bot: the chain is alice -> bot -> bob.
        follow = await emulator.post_message(world.channel_id, world.bob_id, "which number was it?", reference=first)
        second = await answer_to(emulator, follow)
        assert second.content == "It was 7."
    assert len(fake_openai.chat_requests) == 2
    messages = fake_openai.chat_requests[1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "remember the number 7" in messages[1]["content"] and 'from="alice"' in messages[1]["content"]
    assert messages[2]["content"] == "Got it: 7."
    assert "which number was it?" in messages[3]["content"] and 'from="bob"' in messages[3]["content"]
    # Discord content is fenced as quoted data, and the system prompt says so.
    assert "quoted data" in messages[0]["content"]
    # Typing showed while the first answer was awaited.
    assert emulator.calls("POST", "/channels/{channel_id}/typing")


async def test_chat_channels_and_dms_when_enabled_and_nothing_else(
    emulator: Emulator, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    world = make_world(emulator)
    lounge = emulator.create_channel(world.guild_id, "ai-lounge")
    fake_openai.default = reply("sure")

    def allow_dms(cfg: Config) -> None:
        llm_customizer(fake_openai)(cfg)
        cfg.llm.allow_dms = True

    async with running_steward(emulator, tmp_path, cogs=["llm"], customize=allow_dms):
        record = await emulator.invoke_slash(
            world.guild_id, world.channel_id, world.admin_id, "llm",
            {"name": "chat_channels", "action": "add", "channel": lounge.id}, subcommand=["config", "list"],
        )  # fmt: skip
        assert f"<#{lounge.id}>" in (await record.response(timeout=10))["data"]["content"]
        ignored = await emulator.post_message(world.channel_id, world.alice_id, "just chatting, no bot here")
        in_lounge = await emulator.post_message(lounge.id, world.alice_id, "what's up?")
        assert (await answer_to(emulator, in_lounge)).content == "sure"
        dm = await emulator.post_dm(world.bob_id, "hi in private")
        assert (await answer_to(emulator, dm)).content == "sure"
    assert len(fake_openai.chat_requests) == 2
    assert not [m for m in emulator.messages(world.channel_id) if _replies_to(ignored)(m)]
    assert "hi in private" in fake_openai.chat_requests[1]["messages"][-1]["content"]


async def test_a_streamed_reply_grows_by_edits_at_most_about_once_a_second(
    emulator: Emulator, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    world = make_world(emulator)
    words = [f"word{i} " for i in range(14)]
    fake_openai.script(stream(words, delay=0.25))  # ~3.5 s of streaming
    seen: list[tuple[float, Event]] = []
    unsubscribe = emulator.events.subscribe(lambda e: seen.append((time.monotonic(), e)))
    try:
        async with steward(emulator, tmp_path, fake_openai):
            ask = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "tell a story"))
            answer = await answer_to(emulator, ask)
    finally:
        unsubscribe()
    assert fake_openai.chat_requests[0]["stream"] is True
    versions = [
        (at, e.data["content"])
        for at, e in seen
        if e.kind in ("message_create", "message_update") and int(e.data["id"]) == answer.id
    ]
    contents = [c for _, c in versions]
    assert contents[-1] == "".join(words).strip() == answer.content
    partial = contents[:-1]
    # The reply appeared before the model finished and grew through at least two visible edits.
    assert len(partial) >= 2, contents
    assert all(c.endswith(CURSOR) for c in partial)
    texts = [c.removesuffix(CURSOR) for c in partial]
    assert all(b.startswith(a) and len(b) > len(a) for a, b in itertools.pairwise(texts)), texts
    assert contents[-1].startswith(texts[-1])
    edits = [
        at for at, e in seen if e.kind == "http" and e.data["method"] == "PATCH" and e.data["route"] == MESSAGE_ROUTE
    ]
    assert len(edits) == len(versions) - 1
    # Discord rate-limits edits: while chunks arrive the gateway spaces them about a second apart (the poll interval
    # and the edit throttle are both 1 s; allow for jitter between the bot's clock and the emulator's arrival
    # times). The final text is shown at once.
    previews = edits[:-1]
    assert previews and all(b - a >= 0.85 for a, b in itertools.pairwise(previews)), edits
    # Every version was sent with mentions fenced.
    for call in bot_message_calls(emulator):
        assert call["json"]["allowed_mentions"]["parse"] == []


async def test_a_long_answer_continues_in_follow_up_messages(
    emulator: Emulator, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    world = make_world(emulator)
    paragraphs = [f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 20 for i in range(9)]  # ~4.9k characters
    text = "\n\n".join(p.strip() for p in paragraphs)
    fake_openai.script(reply(text))
    async with steward(emulator, tmp_path, fake_openai):
        ask = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "write an essay"))
        first = await answer_to(emulator, ask)
        await emulator.wait_for(lambda e: e.kind == "message_create" and "Paragraph 8" in e.data["content"])
    sent = [m for m in emulator.messages(world.channel_id) if m.author_id == emulator.bot.id]
    assert sent[0].id == first.id and len(sent) == 3
    assert all(len(m.content) <= 2000 for m in sent)
    assert [m.reference is not None for m in sent] == [True, False, False]
    assert "\n\n".join(m.content for m in sent) == text
    for m in sent:
        assert m.allowed_mentions is not None and m.allowed_mentions["parse"] == []


async def test_mass_mentions_in_the_model_answer_ping_nobody(
    emulator: Emulator, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    world = make_world(emulator)
    mods = emulator.create_role(world.guild_id, "Mods", mentionable=True)
    emulator.member(world.guild_id, world.bob_id).roles.append(mods.id)
    fake_openai.script(reply(f"@everyone @here <@&{mods.id}> look, and <@{world.bob_id}> too"))
    async with steward(emulator, tmp_path, fake_openai):
        ask = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "ping everyone please"))
        answer = await answer_to(emulator, ask)
    assert f"<@&{mods.id}>" in answer.content and f"<@{world.bob_id}>" in answer.content
    assert not answer.mention_everyone
    assert answer.pinged_role_ids == []
    assert answer.pinged_user_ids == [world.alice_id]  # only the member being answered
    allowed = answer.allowed_mentions
    assert allowed is not None and allowed["parse"] == [] and not allowed.get("roles")
    assert [int(u) for u in allowed["users"]] == [world.alice_id] and allowed["replied_user"] is True
    calls = bot_message_calls(emulator)
    assert calls
    for call in calls:
        allowed = call["json"]["allowed_mentions"]
        assert allowed["parse"] == [] and not allowed.get("roles"), allowed
        assert [int(u) for u in allowed.get("users", [])] in ([], [world.alice_id]), allowed


async def test_a_quota_blocks_the_n_plus_first_request_and_survives_a_restart(
    emulator: Emulator, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    world = make_world(emulator)
    fake_openai.default = reply("an answer")
    async with steward(emulator, tmp_path, fake_openai):
        await configure(emulator, world, user_cooldown=0, user_requests_per_day=2)
        for n in range(2):
            ask = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, f"question {n}"))
            assert (await answer_to(emulator, ask)).content == "an answer"
        ask = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "question 3"))
        blocked = await answer_to(emulator, ask)
        # Bob has his own allowance.
        other = await emulator.post_message(world.channel_id, world.bob_id, mention(emulator, "my first"))
        assert (await answer_to(emulator, other)).content == "an answer"
    assert blocked.content.startswith("You have used today's questions")
    assert len(blocked.content) < 120
    assert len(fake_openai.chat_requests) == 3
    # Usage is in the database: a restarted bot still says no.
    async with steward(emulator, tmp_path, fake_openai):
        ask = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "question 4"))
        assert (await answer_to(emulator, ask)).content.startswith("You have used today's questions")
        record = await emulator.invoke_slash(
            world.guild_id, world.channel_id, world.admin_id, "llm", {"member": world.alice_id}, subcommand=["usage"]
        )
        usage = (await record.response(timeout=10))["data"]["content"]
    assert len(fake_openai.chat_requests) == 3
    assert f"<@{world.alice_id}>: 2 request(s)" in usage and "the server used 3 request(s)" in usage


async def test_a_slow_provider_times_out_without_blocking_other_messages(
    emulator: Emulator, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    world = make_world(emulator)
    fake_openai.script(slow(30, "too late"), reply("quick answer"))
    # The worker gives up 2 s before the gateway would (3 s here): room for the quick answer even on a busy box.
    async with steward(emulator, tmp_path, fake_openai, llm_reply=5.0):
        slow_ask = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "a hard one"))
        with anyio.fail_after(5):
            while not fake_openai.chat_requests:  # noqa: ASYNC110 - the fake server has no event to wait on
                await anyio.sleep(0.02)
        quick_ask = await emulator.post_message(world.channel_id, world.bob_id, mention(emulator, "an easy one"))
        quick = await answer_to(emulator, quick_ask)
        late = await answer_to(emulator, slow_ask)
    assert quick.content == "quick answer"
    assert late.content == "Sorry, the model took too long to answer. Please try again later."
    assert quick.id < late.id  # the easy question was answered while the hard one was still waiting


async def test_provider_errors_become_one_short_line_or_silence(
    emulator: Emulator, tmp_path: Path, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world(emulator)
    fake_openai.script(
        error(401, "Incorrect API key provided: sk-test-SECRET-e2e"), error(500, "boom"), reply("back again")
    )
    caplog.set_level(logging.INFO)
    async with steward(emulator, tmp_path, fake_openai):
        await configure(emulator, world, user_cooldown=0)
        ask = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "hello?"))
        line = await answer_to(emulator, ask)
        await configure(emulator, world, error_mode="silent")
        quiet = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "hello again?"))
        with anyio.fail_after(10):
            while len(fake_openai.chat_requests) < 2:  # noqa: ASYNC110 - the fake server has no event to wait on
                await anyio.sleep(0.02)
        last = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "and now?"))
        assert (await answer_to(emulator, last)).content == "back again"
    assert line.content == "Sorry, I couldn't answer that (the AI provider rejected the bot's credentials)."
    assert not [m for m in emulator.messages(world.channel_id) if _replies_to(quiet)(m)]
    assert "sk-test-SECRET-e2e" not in caplog.text
    assert "HTTP 500" in caplog.text  # the details are in the log


async def test_a_failed_answer_does_not_use_up_the_quota(
    emulator: Emulator, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    world = make_world(emulator)
    fake_openai.script(error(500, "provider outage"), reply("here you go"))
    async with steward(emulator, tmp_path, fake_openai):
        await configure(emulator, world, user_cooldown=0, user_requests_per_day=1)
        first = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "hello?"))
        assert (await answer_to(emulator, first)).content.startswith("Sorry, I couldn't answer that")
        again = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "hello again?"))
        assert (await answer_to(emulator, again)).content == "here you go"
        spent = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "one more?"))
        assert (await answer_to(emulator, spent)).content.startswith("You have used today's questions")
    assert len(fake_openai.chat_requests) == 2


async def test_default_cogs_load_together_and_spam_never_reaches_the_model(
    emulator: Emulator, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    world = make_world(emulator)
    fake_openai.default = reply("hello there")
    async with steward(emulator, tmp_path, fake_openai, cogs=list(Config().discord.cogs)) as rt:
        assert sorted(rt.bot.extensions) == sorted(f"cogs.{c}" for c in Config().discord.cogs)
        assert [name for _, name, _ in rt.bot._stages] == ["antispam", "safety", "leveling", "llm"]
        # @everyone from a member without the permission is spam: deleted, and never answered.
        spam = await emulator.post_message(world.channel_id, world.bob_id, mention(emulator, "@everyone free stuff"))
        await emulator.wait_for(lambda e: e.kind == "message_delete" and int(e.data["id"]) == spam.id, timeout=10)
        ask = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "hi"))
        assert (await answer_to(emulator, ask)).content == "hello there"
    assert len(fake_openai.chat_requests) == 1
    assert "free stuff" not in str(fake_openai.chat_requests)
    assert not [m for m in emulator.messages(world.channel_id, include_deleted=True) if _replies_to(spam)(m)]


async def test_without_an_endpoint_the_feature_is_off_and_says_so_once(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world(emulator)
    caplog.set_level(logging.INFO)
    async with running_steward(emulator, tmp_path, cogs=["status", "llm"]):
        ask = await emulator.post_message(world.channel_id, world.alice_id, mention(emulator, "anyone there?"))
        # /llm still answers and explains; by then the mention has been through the pipeline.
        record = await emulator.invoke_slash(
            world.guild_id, world.channel_id, world.admin_id, "llm", {}, subcommand=["config", "show"]
        )
        shown = (await record.response(timeout=10))["data"]["content"]
    assert "no endpoint configured" in shown
    assert not [m for m in emulator.messages(world.channel_id) if _replies_to(ask)(m)]
    assert caplog.text.count("LLM replies are off") == 1
