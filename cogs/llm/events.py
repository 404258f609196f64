"""The LLM message stage: decide whether to answer (quick, in the pipeline), then build the context, queue the
`llm_reply` job and stream its answer into a reply in a background task.

The stage never awaits the model, the queue or Discord's history: it asks the TriggerGate and the in-memory
cooldown and spawns. The reply-chain walk (which may fetch messages), the daily quota (a database read), the wait
for the worker (up to `queue.wait_timeouts.llm_reply`) and every Discord send happen in the background task.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import nextcord
from nextcord.ext import commands

from bot.jobs import JobTimeout
from bot.llm.context import ContextLimits
from bot.llm.payload import reply_payload, user_error_line
from bot.llm.quota import Cooldowns, UsageSnapshot, check_quota, load_usage, record_usage, tokens_of
from bot.llm.settings import LLMGuildSettings
from bot.llm.triggers import Trigger, TriggerGate
from cogs._settings import GuildSettingsStore
from cogs.llm._reply import LiveReply, reply_mentions
from cogs.llm._translate import message_facts, prompt_text, reply_chain
from queue_backends.base import QueueUnavailable

if TYPE_CHECKING:
    from bot.gateway import MessageContext, StewardBot

log = logging.getLogger(__name__)

TYPING_INTERVAL = 8.0  # Discord shows "typing" for ~10 s per trigger
# An earlier stage (the safety cog) may leave `ctx.notes[SAFETY_HOLD]`: awaited before answering, True when the
# message may still be answered (its scan did not lead to a deletion or timeout). It bounds its own wait.
SAFETY_HOLD = "safety_hold"
SafetyHold = Callable[[], Awaitable[bool]]
DM_GUILD = 0  # usage of direct messages is recorded under guild 0
DB_GRACE = 5.0  # seconds a usage query may still take once shutdown began


class LLMEvents(commands.Cog):
    def __init__(self, bot: StewardBot, store: GuildSettingsStore[LLMGuildSettings]) -> None:
        self.bot = bot
        self.store = store
        cfg = bot.config.llm
        self.enabled = bool(cfg.base_url)
        self.gate = TriggerGate(dms_enabled=cfg.allow_dms)
        self.cooldowns = Cooldowns()
        self.limits = ContextLimits(cfg.max_context_messages, cfg.max_context_chars)

    # -- the stage -----------------------------------------------------------------------------------------------

    async def message_stage(self, message: nextcord.Message, ctx: MessageContext) -> None:
        if ctx.is_spam or not self.enabled or self.bot.user is None:
            return
        guild_id = message.guild.id if message.guild else None
        settings = await self.store.get(guild_id) if guild_id is not None else None
        facts = message_facts(self.bot, message)
        now = time.time()
        trigger = self.gate.decide(facts, settings, now=now)
        if trigger is None:
            return
        quota_settings = settings or LLMGuildSettings()
        key = guild_id if guild_id is not None else DM_GUILD
        # The cooldown is checked and marked here, synchronously, so two quick messages cannot both pass it.
        cooldown = check_quota(
            quota_settings, UsageSnapshot(), last_request_at=self.cooldowns.last(key, facts.author_id), now=now
        )
        if not cooldown.allowed:
            log.info("llm: %s in guild %s is cooling down", facts.author_id, key)
            self.bot.background(self._answer_briefly, message, cooldown.message)
            return
        self.cooldowns.mark(key, facts.author_id, now)
        ctx.notes["llm_trigger"] = trigger.value
        self.bot.background(self.respond, message, trigger, quota_settings, ctx.notes.get(SAFETY_HOLD))

    # -- the background task -------------------------------------------------------------------------------------

    async def respond(
        self,
        message: nextcord.Message,
        trigger: Trigger,
        settings: LLMGuildSettings,
        safety_hold: SafetyHold | None = None,
    ) -> None:
        if safety_hold is not None and not await safety_hold():
            log.info("llm: not answering %s: the safety scan acted on it", message.id)
            return
        guild = message.guild
        key = guild.id if guild else DM_GUILD
        engine = self.bot.services.db
        now = time.time()
        if engine is not None:
            # Shielded (here and below): at shutdown the runner cancels background tasks, then disposes the engine;
            # a query cut off half-way leaves a connection whose forced close can hang the event loop's exit.
            usage = UsageSnapshot()  # a read that does not finish in time counts as no usage yet
            with anyio.CancelScope(shield=True), anyio.move_on_after(DB_GRACE):
                usage = await load_usage(engine, key, message.author.id, now)
            decision = check_quota(settings, usage, last_request_at=None, now=now)
            if not decision.allowed:
                log.info("llm: %s in guild %s over quota (%s)", message.author.id, key, decision.reason)
                await self._answer_briefly(message, decision.message)
                return
            # Count the request now, not when the answer is in: answers take seconds, and requests made meanwhile
            # must see it. Tokens are added once the worker reports them.
            with anyio.CancelScope(shield=True), anyio.move_on_after(DB_GRACE):
                await record_usage(engine, key, message.author.id, now, requests=1)
        chain = await reply_chain(self.bot, message, self.limits)
        me = guild.me if guild else self.bot.user
        payload = reply_payload(
            prompt=prompt_text(message),
            username=getattr(message.author, "display_name", None) or message.author.name,
            user_id=message.author.id,
            guild_id=guild.id if guild else None,
            channel_id=message.channel.id,
            guild_name=guild.name if guild else "",
            message_id=message.id,
            chain=chain,
            bot_name=getattr(me, "display_name", "") or "",
            instructions=settings.instructions,
        )
        live = LiveReply(message)
        log.info("llm: answering %s (%s, %d context message(s))", message.id, trigger.value, len(chain))
        failure: str | None = None
        try:
            envelope = await self._run_with_typing(message.channel, live, payload, str(message.author.id))
        except JobTimeout:
            log.warning("llm: no answer for %s within the wait timeout", message.id)
            failure = "job timed out"
        except QueueUnavailable:
            failure = "the AI service is busy (queue unavailable)"
        else:
            if envelope.get("status") != "ok":
                failure = str(envelope.get("error") or "unknown error")
                log.warning("llm: job for %s failed: %s", message.id, failure)
        if failure is not None:
            if engine is not None:  # a question the bot could not answer does not use up the member's day
                with anyio.CancelScope(shield=True), anyio.move_on_after(DB_GRACE):
                    await record_usage(engine, key, message.author.id, now, requests=-1)
            await self._fail(live, failure, settings)
            return
        # Token metrics are counted where the worker runs the job (bot/ops/instrument.py), not here.
        if engine is not None:
            with anyio.CancelScope(shield=True), anyio.move_on_after(DB_GRACE):
                await record_usage(engine, key, message.author.id, now, requests=0, tokens=tokens_of(envelope))
        try:
            await live.finish(str(envelope.get("reply") or ""))
        except nextcord.HTTPException as exc:  # e.g. the question was deleted meanwhile
            log.warning("llm: could not post the answer to %s: %s", message.id, exc)

    async def _run_with_typing(
        self, channel: nextcord.abc.Messageable, live: LiveReply, payload: dict[str, Any], requested_by: str
    ) -> dict[str, Any]:
        async def keep_typing() -> None:
            while not live.started:  # once the reply shows, the growing message says enough
                try:
                    await channel.trigger_typing()
                except nextcord.HTTPException:
                    return
                await anyio.sleep(TYPING_INTERVAL)

        async with anyio.create_task_group() as tg:
            tg.start_soon(keep_typing)
            try:
                return await self.bot.services.jobs.run(
                    "llm_reply", payload, requested_by=requested_by, on_chunk=live.on_chunk
                )
            finally:
                tg.cancel_scope.cancel()

    async def _fail(self, live: LiveReply, error: str, settings: LLMGuildSettings) -> None:
        try:
            await live.fail(user_error_line(error, settings.error_mode))
        except nextcord.HTTPException as exc:
            log.warning("llm: could not post the error line for %s: %s", live.message.id, exc)

    async def _answer_briefly(self, message: nextcord.Message, text: str) -> None:
        try:
            await message.reply(text, allowed_mentions=reply_mentions(message.author), mention_author=True)
        except nextcord.HTTPException as exc:
            log.warning("llm: could not answer %s: %s", message.id, exc)
