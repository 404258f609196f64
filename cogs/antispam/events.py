"""The anti-spam message stage: translate the message, ask the detector, and act on a verdict in the background.

The stage itself only does dictionary work (plus one database read the first time a guild is seen), marks the
message as spam so leveling and the LLM skip it, and hands deletions, strikes and punishments to a task in the
runner's task group, so a burst of spam never holds up the next message.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import nextcord
from nextcord.ext import commands

from bot import metrics
from bot.antispam import MessageEvent, Punishment, Rule, SpamDetector, SpamSettings, Verdict
from bot.db.moderation import add_strike, count_live_strikes, record_mod_action
from cogs.antispam import _actions
from cogs.antispam._logic import (
    RULE_LABELS,
    StrikeGate,
    describe_punishment,
    everyone_attempt,
    format_duration,
    primary_rule,
    punishment_for,
    reason_text,
)
from cogs.antispam.settings import GuildAntispam, SettingsStore

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.gateway import MessageContext, StewardBot

log = logging.getLogger(__name__)


def to_event(message: nextcord.Message, member: nextcord.Member, perms: nextcord.Permissions) -> MessageEvent:
    """nextcord message -> the detector's input. Mentions come from the text (`<@id>`, `<@&id>`), not from
    `message.mentions`, so a reply's implicit ping does not count as a mention the member typed."""
    assert message.guild is not None
    content = message.content or ""
    return MessageEvent(
        guild_id=message.guild.id,
        channel_id=message.channel.id,
        message_id=message.id,
        author_id=member.id,
        content=content,
        timestamp=message.created_at.timestamp(),
        role_ids=tuple(role.id for role in member.roles),
        mention_user_ids=tuple(message.raw_mentions),
        mention_role_ids=tuple(message.raw_role_mentions),
        mentions_everyone_attempt=everyone_attempt(content),
        can_mention_everyone=perms.mention_everyone,
        attachment_count=len(message.attachments),
        is_bot=member.bot,
        # Moderators police the channel themselves; administrators have every permission.
        is_exempt=perms.manage_messages or perms.administrator or member.id == message.guild.owner_id,
    )


class AntispamEvents(commands.Cog):
    def __init__(self, bot: StewardBot, engine: AsyncEngine) -> None:
        self.bot = bot
        self.engine = engine
        self.store = SettingsStore(engine)
        self.detector = SpamDetector(self.store.spam_settings)
        self.gate = StrikeGate()
        self.warning_lifetime = _actions.WARN_DELETE_AFTER  # seconds; tests shorten it
        # Reading the live count and adding a strike must not interleave for one member.
        self._strike_lock = anyio.Lock()

    # -- the stage -----------------------------------------------------------------------------------------------

    async def message_stage(self, message: nextcord.Message, ctx: MessageContext) -> None:
        guild = message.guild
        member = message.author
        if guild is None or not isinstance(member, nextcord.Member) or member.bot:
            return  # DMs, webhooks and bots are never anti-spam targets
        config = await self.store.get(guild.id)  # warms the cache the detector reads synchronously
        if getattr(message.channel, "parent_id", None) in config.spam.exempt_channel_ids:
            return  # a thread inherits its channel's exemption (the detector only sees the thread's own id)
        perms = message.channel.permissions_for(member)  # type: ignore[union-attr]
        verdict = self.detector.check(to_event(message, member, perms))
        if not verdict.is_spam:
            return
        ctx.is_spam = True
        ctx.deleted = True  # the current message is always among the deletions
        plan = self.gate.plan(
            guild.id,
            member.id,
            verdict.member_ids,
            verdict.rules,
            verdict.delete,
            message.created_at.timestamp(),
            config.spam,
        )
        log.info(
            "guild %s: message %s by %s broke %s; deleting %d, striking %s",
            guild.id,
            message.id,
            member.id,
            ",".join(sorted(r.value for r in verdict.rules)),
            len(plan.delete),
            list(plan.strike_member_ids),
        )
        self.bot.background(
            self.enforce, guild.id, message.channel.id, member.id, verdict, plan.delete, plan.strike_member_ids, config
        )

    # -- acting on a verdict -------------------------------------------------------------------------------------

    async def enforce(
        self,
        guild_id: int,
        channel_id: int,
        author_id: int,
        verdict: Verdict,
        delete: tuple[tuple[int, int], ...],
        strike_member_ids: tuple[int, ...],
        config: GuildAntispam,
    ) -> None:
        rule = primary_rule(verdict.rules)
        reason = reason_text(verdict.rules, len(delete))
        deleted = await _actions.delete_messages(self.bot, delete, reason) if delete else 0
        if deleted:
            metrics.SPAM_ACTIONS.labels(rule=rule.value, action="delete").inc(deleted)
        warnings: dict[str, list[int]] = {}  # warning text -> members: a raid gets one message, not one per account
        for member_id in strike_member_ids:
            try:
                await self.strike(guild_id, channel_id, member_id, rule, verdict, deleted, config, warnings)
            except Exception:  # one member's failure (e.g. the database hiccups) must not spare the others
                log.exception("guild %s: striking member %s failed", guild_id, member_id)
        for text, member_ids in warnings.items():
            sent = await _actions.send_warning(self.bot, channel_id, member_ids, text)
            if not isinstance(sent, str):
                self.bot.background(_actions.delete_later, sent, self.warning_lifetime)

    async def strike(
        self,
        guild_id: int,
        channel_id: int,
        member_id: int,
        rule: Rule,
        verdict: Verdict,
        deleted: int,
        config: GuildAntispam,
        warnings: dict[str, list[int]],
    ) -> None:
        """Add a strike and apply its rung; a warning is added to `warnings` for the caller to post."""
        settings = config.spam
        now = datetime.now(UTC)
        async with self._strike_lock:
            live = await count_live_strikes(self.engine, guild_id, member_id, now=now)
            expires = now + timedelta(seconds=settings.strike_expiry)  # same rule as the pure StrikeLadder
            await add_strike(self.engine, guild_id, member_id, rule.value, expires_at=expires, now=now)
        number = live + 1
        punishment = punishment_for(number, settings)
        reason = f"{reason_text(verdict.rules, deleted)}; strike {number}"
        error = None
        if punishment.kind == "warn":
            warnings.setdefault(self._warning_text(number, settings, rule), []).append(member_id)
        else:
            error = await _actions.punish(self.bot, guild_id, member_id, punishment, f"anti-spam: {rule.value}")
        if punishment.kind in ("kick", "ban") and error is None:
            self.detector.forget_member(guild_id, member_id)
        await record_mod_action(
            self.engine,
            guild_id,
            member_id,
            str(punishment),
            rule=rule.value,
            reason=reason if error is None else f"{reason}; FAILED: {error}",
            now=now,
        )
        if error is None:
            metrics.SPAM_ACTIONS.labels(rule=rule.value, action=punishment.kind).inc()
        if config.modlog_channel_id is not None:
            embed = modlog_embed(
                member_id, channel_id, punishment, number, settings.strike_expiry, verdict, deleted, error
            )
            await _actions.post_modlog(self.bot, config.modlog_channel_id, embed)

    @staticmethod
    def _warning_text(number: int, settings: SpamSettings, rule: Rule) -> str:
        following = punishment_for(number + 1, settings)
        text = f"please stop {RULE_LABELS[rule]}: your message was removed."
        if following.kind != "warn":
            text += f" Next time: {describe_punishment(following)}."
        return text


def modlog_embed(
    member_id: int,
    channel_id: int,
    punishment: Punishment,
    number: int,
    expiry: float,
    verdict: Verdict,
    deleted: int,
    error: str | None,
) -> nextcord.Embed:
    """Mentions inside embeds never ping, so the member and channel can be shown as mentions."""
    action = describe_punishment(punishment)
    embed = nextcord.Embed(
        title=f"Anti-spam: {action}" + (" (failed)" if error else ""),
        description=f"<@{member_id}> in <#{channel_id}>",
        colour=nextcord.Colour.red() if error else nextcord.Colour.orange(),
        timestamp=datetime.now(UTC),
    )
    embed.add_field(name="Rules", value=", ".join(sorted(r.value for r in verdict.rules)))
    embed.add_field(name="Strike", value=f"{number} (expires after {format_duration(expiry)})")
    embed.add_field(name="Messages deleted", value=str(deleted))
    if error:
        embed.add_field(name="Error", value=error[:1000], inline=False)
    embed.set_footer(text=f"member id {member_id}")
    return embed
