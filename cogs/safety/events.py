"""The safety message stage: decide quickly whether a guild message needs a scan (`bot.safety.gate`), then queue
`safety_scan` and act on its verdict in a background task — never awaiting the scan inside `on_message`.

Identical content inside the guild's dedupe window is not scanned again: the earlier verdict is applied to the
repeat (a spammer pasting the same scam link ten times gets ten deletions from one scan). A repeat that arrives
while the first scan is still running is scanned on its own rather than waited for.

The stage leaves `ctx.notes["safety_hold"]` for later stages (the llm cog): an awaitable that says, once the verdict
is in (or after the scan's wait timeout), whether the message may still be answered.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import anyio
import nextcord
from nextcord.ext import commands

from bot.db.moderation import record_mod_action
from bot.db.safety import record_safety_flag
from bot.gateway import MessageContext
from bot.jobs import JobTimeout
from bot.safety.gate import ActionPlan, ScanDedupe, ScanFacts, action_for, should_scan
from bot.safety.settings import SafetyGuildSettings
from bot.safety.verdict import Verdict, verdict_of
from cogs.safety import _actions
from cogs.safety._report import Outcome, action_record, outcome_text, report_embed
from cogs.safety.settings import SafetyStore
from queue_backends.base import QueueUnavailable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.gateway import StewardBot

log = logging.getLogger(__name__)

SAFETY_HOLD = "safety_hold"  # the note the llm cog awaits (cogs/llm/events.py reads the same key)
DB_WRITE_GRACE = 5.0  # seconds a flag/mod-action write may finish in after shutdown began
FAILURE_LOG_INTERVAL = 300.0  # a broken scanner logs once per guild and reason every few minutes, not per message


class ScanHold:
    """Resolved with the action plan once the verdict is in; `may_answer` waits for it, bounded."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.plan: ActionPlan | None = None
        self._done = anyio.Event()

    def resolve(self, plan: ActionPlan | None) -> None:
        if not self._done.is_set():
            self.plan = plan
            self._done.set()

    async def may_answer(self) -> bool:
        with anyio.move_on_after(self.timeout):
            await self._done.wait()
        return self.plan is None or not self.plan.enforce


def role_ids(author: object) -> frozenset[int]:
    return frozenset(r.id for r in getattr(author, "roles", ()) if not r.is_default())


def scan_facts(message: nextcord.Message) -> ScanFacts:
    channel = message.channel
    return ScanFacts(
        guild_id=message.guild.id if message.guild else None,
        channel_id=channel.id,
        author_is_bot=message.author.bot or message.webhook_id is not None,
        content=message.content or "",
        parent_channel_id=getattr(channel, "parent_id", None) if isinstance(channel, nextcord.Thread) else None,
        role_ids=role_ids(message.author),
    )


class SafetyEvents(commands.Cog):
    def __init__(self, bot: StewardBot, store: SafetyStore) -> None:
        self.bot = bot
        self.store = store
        self.dedupe = ScanDedupe()
        self._failures_logged: dict[tuple[int, str], float] = {}

    # -- the stage -----------------------------------------------------------------------------------------------

    async def message_stage(self, message: nextcord.Message, ctx: MessageContext) -> None:
        if ctx.is_spam or message.guild is None:
            return
        settings = await self.store.get(message.guild.id)
        facts = scan_facts(message)
        now = time.monotonic()
        if not should_scan(facts, settings, None, now):
            return
        hold = ScanHold(self.bot.config.wait_timeout("safety_scan"))
        ctx.notes[SAFETY_HOLD] = hold.may_answer
        guild_id, content = message.guild.id, facts.content
        if self.dedupe.check_and_mark(guild_id, content, now, settings.dedupe_seconds):
            cached = self.dedupe.cached(guild_id, content, now, settings.dedupe_seconds)
            if cached is not None:
                plan = action_for(cached, settings)
                hold.resolve(plan)
                if cached.unsafe:
                    self.bot.background(self.act, message, cached, plan, settings)
                return
        self.bot.background(self.scan_and_act, message, settings, hold)

    @commands.Cog.listener()
    async def on_message_edit(self, before: nextcord.Message, after: nextcord.Message) -> None:
        # Post something harmless, then edit the scam in: an edit with new text is scanned like a new message.
        if before.content != after.content:
            await self.message_stage(after, MessageContext())

    # -- the background task -------------------------------------------------------------------------------------

    async def scan(self, text: str, settings: SafetyGuildSettings, **ids: Any) -> Verdict:
        """Run one `safety_scan` job; raises ScanFailed with one short line."""
        payload = {"text": text, "scanner": settings.scanner, "settings": settings.to_dict(), **ids}
        try:
            envelope = await self.bot.services.jobs.run("safety_scan", payload, requested_by=str(ids.get("user_id")))
        except JobTimeout:
            raise ScanFailed("the scan took too long") from None
        except QueueUnavailable:
            raise ScanFailed("the job queue is unavailable") from None
        verdict = verdict_of(envelope)
        if verdict is None:
            raise ScanFailed(str(envelope.get("error") or "the scanner gave no verdict")[:200])
        return verdict

    async def scan_and_act(self, message: nextcord.Message, settings: SafetyGuildSettings, hold: ScanHold) -> None:
        assert message.guild is not None
        plan: ActionPlan | None = None
        try:
            try:
                verdict = await self.scan(
                    message.content,
                    settings,
                    guild_id=message.guild.id,
                    channel_id=message.channel.id,
                    message_id=message.id,
                    user_id=message.author.id,
                )
            except ScanFailed as exc:
                self._log_failure(message.guild.id, str(exc))
                return
            self.dedupe.remember(message.guild.id, message.content, verdict)
            plan = action_for(verdict, settings)
        finally:
            # Before acting (a waiting llm reply need not wait for the deletion), and on any failure too.
            hold.resolve(plan)
        if verdict.unsafe:
            await self.act(message, verdict, plan, settings)

    async def act(
        self, message: nextcord.Message, verdict: Verdict, plan: ActionPlan, settings: SafetyGuildSettings
    ) -> None:
        guild_id = message.guild.id  # type: ignore[union-attr]
        author_id = message.author.id
        reason = f"Steward safety: {', '.join(plan.categories)}"
        outcome = Outcome()
        if plan.enforce:
            error = await _actions.delete_message(self.bot, message.channel.id, message.id, reason)
            outcome.deleted = error is None
            if error:
                outcome.errors.append(error)
            if plan.action == "timeout":
                error = await _actions.time_out(self.bot, guild_id, author_id, plan.timeout_seconds, reason)
                outcome.timed_out = error is None
                if error:
                    outcome.errors.append(error)
        line = outcome_text(plan, outcome)
        log.info(
            "safety: message %s by %s in guild %s flagged %s by %s: %s",
            message.id,
            author_id,
            guild_id,
            ",".join(plan.categories),
            verdict.scanner,
            line,
        )
        await self._record(message, verdict, plan, outcome)
        if settings.audit_channel_id and plan.action != "none":
            await _actions.send_report(self.bot, settings.audit_channel_id, report_embed(message, verdict, plan, line))

    async def _record(self, message: nextcord.Message, verdict: Verdict, plan: ActionPlan, outcome: Outcome) -> None:
        engine = self.bot.services.db
        if engine is None:
            return
        guild_id = message.guild.id  # type: ignore[union-attr]
        # Shielded: at shutdown the runner cancels background tasks and then disposes the engine; a write cut off
        # half-way loses the record and leaves a connection whose forced close can hang the event loop's exit.
        with anyio.CancelScope(shield=True), anyio.move_on_after(DB_WRITE_GRACE):
            await self._write_records(engine, guild_id, message, verdict, plan, outcome)

    async def _write_records(
        self,
        engine: AsyncEngine,
        guild_id: int,
        message: nextcord.Message,
        verdict: Verdict,
        plan: ActionPlan,
        outcome: Outcome,
    ) -> None:
        try:
            await record_safety_flag(
                engine,
                guild_id=guild_id,
                channel_id=message.channel.id,
                message_id=message.id,
                user_id=message.author.id,
                verdict=verdict.verdict,
                categories={c: verdict.scores.get(c, 1.0) for c in verdict.categories},
                scanner=verdict.scanner,
                action=action_record(plan),
            )
            reason = f"safety: {', '.join(plan.categories)}"
            if outcome.deleted:
                await record_mod_action(engine, guild_id, message.author.id, "delete", rule="safety", reason=reason)
            if outcome.timed_out:
                await record_mod_action(engine, guild_id, message.author.id, "timeout", rule="safety", reason=reason)
        except Exception:  # the action happened; a lost record must not hide the report
            log.exception("safety: could not record the flag on message %s", message.id)

    def _log_failure(self, guild_id: int, reason: str) -> None:
        now = time.monotonic()
        key = (guild_id, reason)
        last = self._failures_logged.get(key)
        if last is not None and now - last < FAILURE_LOG_INTERVAL:
            return
        self._failures_logged[key] = now
        if len(self._failures_logged) > 1000:
            self._failures_logged.clear()
        log.warning("safety: scans in guild %s fail: %s (messages go unscanned until this is fixed)", guild_id, reason)


class ScanFailed(Exception):
    """A scan that produced no verdict (timeout, queue down, scanner error); the message is left alone."""
