"""Safety: each scanner flags and passes what it should, the job's envelope, reading verdicts, gateway decisions."""

from __future__ import annotations

import openai
import pytest

from bot.config import Config
from bot.llm.provider import Endpoint
from bot.safety.gate import ScanDedupe, ScanFacts, action_for, should_scan
from bot.safety.guard import GuardScanner, parse_guard
from bot.safety.moderation import ModerationScanner, judge
from bot.safety.rules import RuleLists, RulesScanner, is_lookalike
from bot.safety.settings import SafetyGuildSettings
from bot.safety.verdict import Verdict, is_unsafe, verdict_of
from bot.worker import Worker
from queue_backends.memory import MemoryQueue
from tests.llm.conftest import with_worker
from tests.openai_server import FakeOpenAI, reply

pytestmark = pytest.mark.anyio

# --- rules -----------------------------------------------------------------------------------------------------------

RULES = RulesScanner(RuleLists(words={"profanity": ["badword", "ass"], "self_harm": ["kill yourself"]}))


@pytest.mark.parametrize(
    "text",
    [
        "this is a badword",
        "B4DW0RD!",  # leetspeak and case
        "bad\u200bword",  # zero-width space inside
        "b\u200ba\u200bd\u200bw\u200bo\u200br\u200bd",
        "b a d w o r d",  # spelled out
        "b.a.d.w.o.r.d",
        "baaaadwooord",  # stretched
        "ｂａｄｗｏｒｄ",  # fullwidth look-alikes (NFKC)
        "you should k1ll y0urself",
    ],
)
def test_rules_flag_evasions(text: str) -> None:
    verdict = RULES.check(text)
    assert verdict.unsafe, text
    assert verdict.scanner == "rules"
    assert set(verdict.categories) <= {"profanity", "self_harm"} and verdict.categories


@pytest.mark.parametrize("text", ["a classy assessment of the class", "good words only", "kill the process", ""])
def test_rules_pass_clean_text_without_scunthorpe_problems(text: str) -> None:
    assert RULES.check(text) == Verdict("safe", (), {}, "rules")


def test_rules_links_invites_patterns() -> None:
    scanner = RulesScanner(
        RuleLists(words={}, patterns={"doxxing": [r"\b\d{3}-\d{3}-\d{4}\b"]}, allowed_invites=frozenset({"ourguild"}))
    )
    assert scanner.check("call me at 555-123-4567").categories == ("doxxing",)
    assert scanner.check("join discord.gg/abc123").categories == ("invite",)
    assert not scanner.check("join discord.gg/ourguild").unsafe
    assert scanner.check("FREE NITRO https://dlscord-gift.com/claim").categories == ("scam_link",)
    assert scanner.check("free nitro here https://some-random.xyz/x").categories == ("scam_link",)
    assert scanner.check("see https://grabify.link/abc").categories == ("scam_link",)
    assert not scanner.check("docs at https://discord.com/developers and https://discord.js.org").unsafe
    assert not scanner.check("is free nitro worth it? https://discord.com/nitro").unsafe
    assert is_lookalike("steamcomunity.ru") and not is_lookalike("steamcommunity.com")


# --- openai moderation -----------------------------------------------------------------------------------------------


def test_thresholds_per_category() -> None:
    scores = {"harassment": 0.65, "sexual/minors": 0.25, "violence": 0.1}
    assert judge(scores) == ["sexual/minors"]  # 0.65 < default 0.7, but minors is stricter (0.2)
    assert judge(scores, {"harassment": 0.6}) == ["harassment", "sexual/minors"]
    assert judge(scores, {"sexual/minors": 0.3}) == []


async def test_moderation_scanner_against_endpoint(fake_openai: FakeOpenAI) -> None:
    fake_openai.moderation_scores = lambda text: {"harassment": 0.9, "self-harm/intent": 0.45} if "mean" in text else {}
    endpoint = Endpoint.of(fake_openai.base_url, "sk-x", timeout=5, max_retries=0)
    async with openai.AsyncOpenAI(base_url=endpoint.base_url, api_key="sk-x", max_retries=0) as client:
        scanner = ModerationScanner(client, endpoint, thresholds={"self-harm/intent": 0.5})
        bad = await scanner.scan("a mean message")
        good = await scanner.scan("a kind message")
    assert bad.unsafe and bad.categories == ("harassment",)  # self-harm/intent 0.45 < its raised 0.5
    assert bad.scores["self-harm/intent"] == 0.45 and bad.scanner == "openai"
    assert not good.unsafe and good.scores["harassment"] == 0.0
    assert [r["model"] for r in fake_openai.moderation_requests] == ["omni-moderation-latest"] * 2
    assert fake_openai.moderation_requests[0]["input"] == "a mean message"


# --- guard model -----------------------------------------------------------------------------------------------------


def test_parse_guard_answers() -> None:
    assert parse_guard("safe") == (False, [])
    assert parse_guard("\n\nsafe\n") == (False, [])
    assert parse_guard("unsafe\nS1") == (True, ["violent_crimes"])
    assert parse_guard("unsafe\nS1,S10") == (True, ["violent_crimes", "hate"])
    assert parse_guard("unsafe\nS99") == (True, ["S99"])
    assert parse_guard("unsafe") == (True, ["unspecified"])
    with pytest.raises(ValueError):
        parse_guard("I think this is fine")


async def test_guard_scanner_against_endpoint(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("unsafe\nS1,S10"), reply("safe"))
    endpoint = Endpoint.of(fake_openai.base_url, "", timeout=5, max_retries=0)
    async with openai.AsyncOpenAI(base_url=endpoint.base_url, api_key="none", max_retries=0) as client:
        scanner = GuardScanner(client, endpoint, model="llama-guard3")
        bad = await scanner.scan("something violent and hateful")
        good = await scanner.scan("hello")
    assert bad == Verdict("unsafe", ("violent_crimes", "hate"), {"violent_crimes": 1.0, "hate": 1.0}, "llm")
    assert not good.unsafe
    assert fake_openai.chat_requests[0]["messages"] == [{"role": "user", "content": "something violent and hateful"}]
    assert fake_openai.chat_requests[0]["model"] == "llama-guard3"


# --- the job through a real worker -----------------------------------------------------------------------------------


async def test_safety_scan_job_all_scanners(fake_openai: FakeOpenAI, llm_config: Config) -> None:
    fake_openai.script(reply("unsafe\nS11"))
    fake_openai.moderation_scores = lambda text: {"violence": 0.95}
    q = MemoryQueue()
    settings = SafetyGuildSettings(words={"custom": ("zorp",)}).to_dict()

    async def body(worker: Worker) -> None:
        cases = [
            ({"text": "z0rp!", "settings": settings}, "unsafe", "rules", ["custom"]),
            ({"text": "hello friends", "settings": settings}, "safe", "rules", []),
            ({"text": "x", "scanner": "openai"}, "unsafe", "openai", ["violence"]),
            ({"text": "x", "scanner": "llm"}, "unsafe", "llm", ["suicide_self_harm"]),
        ]
        for payload, kind, scanner, categories in cases:
            task = await q.enqueue("safety_scan", payload)
            env = await q.wait_for_result(task.job_id, 5)
            assert env["status"] == "ok", env
            assert env["verdict"]["verdict"] == kind and env["verdict"]["scanner"] == scanner
            assert env["verdict"]["categories"] == categories
            assert is_unsafe(env) is (kind == "unsafe")
        task = await q.enqueue("safety_scan", {"text": "x", "settings": {"thresholds": {"violence": 2}}})
        assert await q.wait_for_result(task.job_id, 5) == {
            "status": "error",
            "error": "bad payload: settings.thresholds.violence: must be between 0 and 1, got 2.0",
        }

    await with_worker(q, llm_config, body)


# --- reading envelopes (the seed's bug) ------------------------------------------------------------------------------


def test_is_unsafe_reads_the_verdict_not_the_envelope() -> None:
    safe_env = {"status": "ok", "verdict": {"verdict": "safe", "categories": [], "scores": {}, "scanner": "rules"}}
    unsafe_env = {
        "status": "ok",
        "verdict": {"verdict": "unsafe", "categories": ["hate"], "scores": {}, "scanner": "x"},
    }
    assert safe_env != "safe"  # what the seed compared; it flagged every message
    assert is_unsafe(safe_env) is False
    assert is_unsafe(unsafe_env) is True
    assert verdict_of(unsafe_env).categories == ("hate",)
    assert is_unsafe({"status": "error", "error": "job timed out after 28s"}) is False
    assert is_unsafe({"status": "ok", "verdict": "unsafe"}) is True  # an old worker's bare string
    assert is_unsafe({"status": "ok", "verdict": {"verdict": "maybe"}}) is False
    assert is_unsafe(None) is False


# --- gateway decisions -----------------------------------------------------------------------------------------------


def test_should_scan_and_dedupe() -> None:
    s = SafetyGuildSettings(
        enabled=True, min_length=3, exempt_role_ids=frozenset({5}), exempt_channel_ids=frozenset({7})
    )
    dedupe = ScanDedupe(max_entries=3)
    msg = ScanFacts(guild_id=1, channel_id=2, author_is_bot=False, content="hello there")
    assert should_scan(msg, s, dedupe, now=0)
    assert not should_scan(msg, s, dedupe, now=10)  # identical content within the window
    assert not should_scan(ScanFacts(1, 2, False, "HELLO  there"), s, dedupe, now=20)  # same after normalising
    assert should_scan(ScanFacts(9, 2, False, "hello there"), s, dedupe, now=20)  # another guild
    assert should_scan(msg, s, dedupe, now=301)  # window over
    assert not should_scan(ScanFacts(None, 2, False, "a DM message"), s, dedupe, now=0)
    assert not should_scan(ScanFacts(1, 2, True, "from a bot"), s, dedupe, now=0)
    assert not should_scan(ScanFacts(1, 2, False, "hi"), s, dedupe, now=0)
    assert not should_scan(ScanFacts(1, 2, False, "mod talk", role_ids=frozenset({5})), s, dedupe, now=0)
    assert not should_scan(ScanFacts(1, 99, False, "thread msg", parent_channel_id=7), s, dedupe, now=0)
    assert not should_scan(msg, SafetyGuildSettings(enabled=False), None, now=0)
    verdict = Verdict("unsafe", ("hate",), {}, "rules")
    dedupe.remember(1, "bad thing", verdict)  # not marked: ignored
    assert dedupe.cached(1, "bad thing", 0, 300) is None
    assert should_scan(ScanFacts(1, 2, False, "bad thing"), s, dedupe, now=400)
    dedupe.remember(1, "bad thing", verdict)
    assert dedupe.cached(1, "bad thing", 410, 300) == verdict
    for i in range(5):  # bounded
        dedupe.check_and_mark(1, f"filler {i}", 500, 300)
    assert len(dedupe._seen) == 3


def test_action_for_picks_most_severe_and_honours_dry_run() -> None:
    s = SafetyGuildSettings(
        enabled=True, category_actions={"scam_link": "delete", "hate": "timeout", "invite": "none"}, audit_channel_id=42
    )
    assert action_for(Verdict("safe", (), {}, "rules"), s).action == "none"
    plan = action_for(Verdict("unsafe", ("invite", "scam_link"), {}, "rules"), s)
    assert (plan.action, plan.report, plan.enforce) == ("delete", True, True)
    plan = action_for(Verdict("unsafe", ("scam_link", "hate"), {}, "rules"), s)
    assert (plan.action, plan.timeout_seconds) == ("timeout", 600)
    assert action_for(Verdict("unsafe", ("invite",), {}, "rules"), s).action == "none"
    assert action_for(Verdict("unsafe", ("other",), {}, "rules"), s).action == "report"  # default_action
    dry = action_for(Verdict("unsafe", ("hate",), {}, "rules"), s.with_setting("dry_run", True))
    assert (dry.action, dry.dry_run, dry.report, dry.enforce) == ("timeout", True, True, False)


def test_safety_settings_round_trip_and_errors() -> None:
    s = SafetyGuildSettings(enabled=True, words={"x": ("a", "b")}, exempt_role_ids=frozenset({3, 1}))
    assert SafetyGuildSettings.from_dict(s.to_dict()) == s
    assert s.to_dict()["exempt_role_ids"] == [1, 3]
    with pytest.raises(ValueError, match=r"^scanner: must be one of"):
        SafetyGuildSettings.from_dict({"scanner": "magic"})
    with pytest.raises(ValueError, match=r"^nope: unknown setting"):
        SafetyGuildSettings.from_dict({"nope": 1})
    with pytest.raises(ValueError, match=r"^patterns.x: bad regex"):
        SafetyGuildSettings.from_dict({"patterns": {"x": ["("]}})
    with pytest.raises(ValueError, match=r"^category_actions.hate: must be one of"):
        SafetyGuildSettings.from_dict({"category_actions": {"hate": "explode"}})
