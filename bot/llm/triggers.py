"""Should the bot answer this message, and why? A pure decision; time and randomness are passed in.

The cog fills `MessageFacts` from a nextcord message and asks one `TriggerGate` per process. The gate remembers the
message ids it said yes to, so an edit, a duplicated gateway event or two matching triggers never produce two replies.
"""

from __future__ import annotations

import enum
import random
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from bot.llm.settings import LLMGuildSettings


class Trigger(enum.StrEnum):
    MENTION = "mention"
    REPLY = "reply"
    DM = "dm"
    CHANNEL = "channel"
    ACTIVE_CHAT = "active_chat"


@dataclass(frozen=True, slots=True)
class MessageFacts:
    message_id: int
    author_id: int
    author_is_bot: bool  # any bot or webhook, including this one
    guild_id: int | None  # None for a DM
    channel_id: int
    parent_channel_id: int | None = None  # the channel of a thread, so channel lists cover its threads
    role_ids: frozenset[int] = frozenset()
    mentions_bot: bool = False  # a direct @mention of the bot (not @everyone, not a role)
    reply_to_bot: bool = False  # a reply to one of the bot's messages


def is_permitted(facts: MessageFacts, s: LLMGuildSettings) -> bool:
    """Allow/block lists. Blocks always win; a non-empty allow list admits only what it names."""
    channels = {facts.channel_id} | ({facts.parent_channel_id} if facts.parent_channel_id else set())
    if facts.author_id in s.blocked_user_ids or facts.role_ids & s.blocked_role_ids:
        return False
    if channels & s.blocked_channel_ids:
        return False
    if s.allowed_channel_ids and not channels & s.allowed_channel_ids:
        return False
    if s.allowed_user_ids or s.allowed_role_ids:
        return facts.author_id in s.allowed_user_ids or bool(facts.role_ids & s.allowed_role_ids)
    return True


@dataclass
class _ChannelActivity:
    recent: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=64))  # (time, author)


class ActiveChat:
    """Detects a busy channel: at least N messages from at least M people within a window; bounded memory."""

    def __init__(self, max_channels: int = 2000) -> None:
        self._channels: OrderedDict[int, _ChannelActivity] = OrderedDict()
        self._guild_last: dict[int, float] = {}
        self._max_channels = max_channels

    def observe(self, channel_id: int, author_id: int, now: float) -> None:
        activity = self._channels.pop(channel_id, None) or _ChannelActivity()
        activity.recent.append((now, author_id))
        self._channels[channel_id] = activity  # most recently active last
        while len(self._channels) > self._max_channels:
            self._channels.popitem(last=False)

    def busy(self, channel_id: int, now: float, s: LLMGuildSettings) -> bool:
        activity = self._channels.get(channel_id)
        if activity is None:
            return False
        window = [(t, a) for t, a in activity.recent if now - t <= s.active_chat_window]
        return len(window) >= s.active_chat_messages and len({a for _, a in window}) >= s.active_chat_authors

    def cooling_down(self, guild_id: int, now: float, s: LLMGuildSettings) -> bool:
        last = self._guild_last.get(guild_id)
        return last is not None and now - last < s.active_chat_cooldown

    def fired(self, guild_id: int, channel_id: int, now: float) -> None:
        self._guild_last[guild_id] = now
        self._channels.pop(channel_id, None)  # start counting afresh after joining in


class TriggerGate:
    def __init__(self, *, dms_enabled: bool = False, remember: int = 5000) -> None:
        self.dms_enabled = dms_enabled
        self.active = ActiveChat()
        self._answered: OrderedDict[int, None] = OrderedDict()
        self._remember = remember

    def decide(
        self,
        facts: MessageFacts,
        settings: LLMGuildSettings | None,
        *,
        now: float,
        rng: random.Random | None = None,
    ) -> Trigger | None:
        """The trigger that makes the bot answer `facts`, or None. `settings` is the guild's (None in DMs).
        Call it for every message: it also feeds the active-chat detector."""
        if facts.author_is_bot or facts.message_id in self._answered:
            return None
        trigger = self._match(facts, settings, now, rng or random.Random())
        if trigger is not None:
            self._answered[facts.message_id] = None
            while len(self._answered) > self._remember:
                self._answered.popitem(last=False)
        return trigger

    def _match(self, facts: MessageFacts, s: LLMGuildSettings | None, now: float, rng: random.Random) -> Trigger | None:
        if facts.guild_id is None:
            return Trigger.DM if self.dms_enabled else None
        if s is None or not s.enabled:
            return None
        if s.active_chat:  # every human message counts towards "busy", even ones answered for another reason
            self.active.observe(facts.channel_id, facts.author_id, now)
        if not is_permitted(facts, s):
            return None
        if facts.mentions_bot and s.reply_on_mention:
            return Trigger.MENTION
        if facts.reply_to_bot and s.reply_on_reply:
            return Trigger.REPLY
        if facts.channel_id in s.chat_channel_ids or (facts.parent_channel_id or 0) in s.chat_channel_ids:
            return Trigger.CHANNEL
        if s.active_chat:
            if (
                self.active.busy(facts.channel_id, now, s)
                and not self.active.cooling_down(facts.guild_id, now, s)
                and rng.random() < s.active_chat_chance
            ):
                self.active.fired(facts.guild_id, facts.channel_id, now)
                return Trigger.ACTIVE_CHAT
        return None
