"""The `safety_scan` job.

Payload: {"text": str, "scanner": "rules"|"openai"|"llm" (default "rules"), "settings": SafetyGuildSettings dict
          (optional; its thresholds/words/patterns/... parametrise the scanner), plus any ids the caller wants logged}
Result:  {"verdict": {"verdict": "safe"|"unsafe", "categories": [...], "scores": {...}, "scanner": "..."}}
Read it with `bot.safety.verdict.is_unsafe(envelope)` / `verdict_of(envelope)`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson

from bot.config import Config
from bot.jobs import JobError
from bot.llm.provider import Endpoint, client_for
from bot.safety.guard import GuardScanner
from bot.safety.moderation import ModerationScanner
from bot.safety.rules import DEFAULT_SCAM_DOMAINS, DEFAULT_WORDS, RuleLists, RulesScanner
from bot.safety.settings import SafetyGuildSettings
from bot.safety.verdict import Scanner, safe
from bot.worker import JobContext, job

MAX_TEXT = 4000  # Discord's own maximum (Nitro); longer payloads are cut, not rejected


def rule_lists(settings: SafetyGuildSettings) -> RuleLists:
    words: dict[str, list[str]] = {k: list(v) for k, v in DEFAULT_WORDS.items()} if settings.use_default_words else {}
    for category, extra in settings.words.items():
        words.setdefault(category, []).extend(extra)
    return RuleLists(
        words=words,
        patterns=settings.patterns,
        scam_domains=DEFAULT_SCAM_DOMAINS | settings.scam_domains,
        flag_invites=settings.flag_invites,
        allowed_invites=frozenset(c.lower() for c in settings.allowed_invites),
    )


def _rules_scanner(state: dict[str, Any], settings: SafetyGuildSettings) -> RulesScanner:
    # Compiling a guild's lists costs more than scanning one message: keep the last few hundred compiled.
    cache: OrderedDict[bytes, RulesScanner] = state.setdefault("rules_scanners", OrderedDict())
    key = orjson.dumps(settings.to_dict(), option=orjson.OPT_SORT_KEYS)
    scanner = cache.pop(key, None) or RulesScanner(rule_lists(settings))
    cache[key] = scanner
    while len(cache) > 256:
        cache.popitem(last=False)
    return scanner


def make_scanner(name: str, settings: SafetyGuildSettings, config: Config, state: dict[str, Any]) -> Scanner:
    if name == "rules":
        return _rules_scanner(state, settings)
    if name == "openai":
        base_url = config.safety.moderation_base_url or config.llm.base_url
        if not base_url:
            raise JobError("the openai scanner needs safety.moderation_base_url or llm.base_url")
        endpoint = Endpoint.of(
            base_url,
            config.safety.moderation_api_key or config.llm.api_key,
            timeout=20.0,
            max_retries=config.llm.max_retries,
        )
        return ModerationScanner(
            client_for(state, endpoint), endpoint, model=config.safety.moderation_model, thresholds=settings.thresholds
        )
    if name == "llm":
        if not config.safety.guard_base_url:
            raise JobError("the llm scanner needs safety.guard_base_url")
        endpoint = Endpoint.of(
            config.safety.guard_base_url, config.safety.guard_api_key, timeout=20.0, max_retries=config.llm.max_retries
        )
        return GuardScanner(client_for(state, endpoint), endpoint, model=config.safety.guard_model)
    raise JobError(f"unknown scanner {name[:40]!r} (expected rules, openai or llm)")


@job("safety_scan")
async def safety_scan(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    text = payload.get("text")
    if not isinstance(text, str):
        raise JobError("bad payload: text must be a string")
    try:
        settings = SafetyGuildSettings.from_dict(payload.get("settings") or {})
    except ValueError as exc:
        raise JobError(f"bad payload: settings.{str(exc)[:150]}") from None
    name = str(payload.get("scanner") or settings.scanner)
    scanner = make_scanner(name, settings, ctx.config, ctx.state)
    if not text.strip():
        return {"verdict": safe(scanner.name).to_dict()}
    verdict = await scanner.scan(text[:MAX_TEXT])
    return {"verdict": verdict.to_dict()}
