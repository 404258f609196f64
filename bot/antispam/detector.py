"""The anti-spam detector: feed it one message at a time, it says which rules the message breaks.

Pure and synchronous (no nextcord, no I/O, time passed in) so it is unit-tested and benchmarked directly; the cog
translates nextcord messages to `MessageEvent` and acts on the `Verdict`.

Cost per message is small and bounded: each member keeps short deques capped by the thresholds themselves (a flood
check needs only the last `flood_max_messages + 1` timestamps), a new message is compared with at most
`duplicate_history` earlier ones (exact match first, then rapidfuzz with a length-based early exit), and raids are
found through a per-guild index keyed by the exact normalized text and by the set of links.
Memory is bounded: members and raid-index entries live in LRU-ordered dicts that are pruned from the old end when
they fall out of every window and evicted past a cap.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from rapidfuzz.fuzz import ratio as _fuzz_ratio

from bot.antispam.normalize import NO_LINKS, caps_ratio, domain_blocked, extract_links, invite_code, normalize
from bot.antispam.settings import Rule, SpamSettings

MessageRef = tuple[int, int]  # (channel_id, message_id)


@dataclass(slots=True)
class MessageEvent:
    guild_id: int
    channel_id: int
    message_id: int
    author_id: int
    content: str
    timestamp: float  # seconds; any monotonic-enough clock, the same one for every event
    role_ids: tuple[int, ...] = ()
    mention_user_ids: tuple[int, ...] = ()
    mention_role_ids: tuple[int, ...] = ()
    mentions_everyone_attempt: bool = False  # the content tried @everyone / @here
    can_mention_everyone: bool = False  # the author has the Mention Everyone permission here
    attachment_count: int = 0
    is_bot: bool = False
    is_exempt: bool = False  # e.g. Manage Messages; the cog decides


@dataclass(frozen=True, slots=True)
class Verdict:
    rules: frozenset[Rule] = frozenset()
    # Messages to delete: always the current one when spam; for duplicates, cross-channel and raid also the earlier
    # copies still in the window, in the order they were sent.
    delete: tuple[MessageRef, ...] = ()
    # Who took part: the author, plus the other accounts of a raid (the cog decides whom to strike).
    member_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_spam(self) -> bool:
        return bool(self.rules)


CLEAN = Verdict()


class _Member:
    """Sliding windows for one member in one guild; every deque is capped by a threshold. The rarely used windows
    (mentions, links, attachments) are created on first use: most members never need them, and an empty deque
    costs ~600 bytes."""

    __slots__ = ("attachments", "last_seen", "links", "mentions", "mentions_total", "recent", "times")

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        # (timestamp, normalized text, channel_id, message_id)
        self.recent: deque[tuple[float, str, int, int]] = deque()
        self.mentions: deque[tuple[float, int]] | None = None
        self.mentions_total = 0
        self.links: deque[float] | None = None
        self.attachments: deque[float] | None = None
        self.last_seen = 0.0


class _Copies:
    """Recent posts of one normalized text (or one link set) in a guild, for raid detection."""

    __slots__ = ("last_seen", "posts")

    def __init__(self) -> None:
        self.posts: deque[tuple[float, int, int, int]] = deque()  # (timestamp, author_id, channel_id, message_id)
        self.last_seen = 0.0


def _push_capped(window: deque[float], now: float, span: float, keep: int) -> bool:
    """Append `now`, drop entries older than `span` or beyond the newest `keep`; True if more than `keep - 1`
    remain, i.e. the threshold `keep - 1` was exceeded within `span`."""
    window.append(now)
    while len(window) > keep or (window and now - window[0] >= span):
        window.popleft()
    return len(window) >= keep


class SpamDetector:
    def __init__(
        self,
        settings_for_guild: Callable[[int], SpamSettings],
        *,
        max_members: int = 20_000,
        max_copies_per_guild: int = 5_000,
        max_posts_per_copy: int = 50,
    ) -> None:
        self._settings_for_guild = settings_for_guild
        self.max_members = max_members
        self.max_copies_per_guild = max_copies_per_guild
        self.max_posts_per_copy = max_posts_per_copy
        self._members: OrderedDict[tuple[int, int], _Member] = OrderedDict()
        self._copies: dict[int, OrderedDict[str, _Copies]] = {}
        self._longest_span = 0.0

    @property
    def tracked_members(self) -> int:
        return len(self._members)

    @property
    def tracked_copies(self) -> int:
        return sum(len(index) for index in self._copies.values())

    def forget_member(self, guild_id: int, author_id: int) -> None:
        """Drop a member's windows (after a pardon or a kick)."""
        self._members.pop((guild_id, author_id), None)

    # -- the check -------------------------------------------------------------------------------------------

    def check(self, event: MessageEvent) -> Verdict:
        settings = self._settings_for_guild(event.guild_id)
        if event.is_bot or event.is_exempt or not settings.enabled_rules:
            return CLEAN
        if event.channel_id in settings.exempt_channel_ids:
            return CLEAN
        if settings.exempt_role_ids and not settings.exempt_role_ids.isdisjoint(event.role_ids):
            return CLEAN

        now = event.timestamp
        member = self._member(event.guild_id, event.author_id, now, settings)
        enabled = settings.enabled_rules
        rules: set[Rule] = set()
        delete: dict[MessageRef, None] = {(event.channel_id, event.message_id): None}
        members = {event.author_id}

        if Rule.FLOOD in enabled and _push_capped(
            member.times, now, settings.flood_window, settings.flood_max_messages + 1
        ):
            rules.add(Rule.FLOOD)

        if Rule.MENTIONS in enabled and self._mentions(member, event, now, settings):
            rules.add(Rule.MENTIONS)
        if Rule.EVERYONE in enabled and event.mentions_everyone_attempt and not event.can_mention_everyone:
            rules.add(Rule.EVERYONE)

        links = extract_links(event.content) if event.content else NO_LINKS
        if links.count:
            if Rule.INVITES in enabled and any(c not in settings.invite_allowlist for c in links.invite_codes):
                rules.add(Rule.INVITES)
            if Rule.BLOCKED_DOMAIN in enabled and settings.blocked_domains:
                if any(domain_blocked(d, settings.blocked_domains) for d in links.domains):
                    rules.add(Rule.BLOCKED_DOMAIN)
            if Rule.LINK_FLOOD in enabled:
                if member.links is None:
                    member.links = deque()
                for _ in range(min(links.count, settings.link_max + 1)):
                    if _push_capped(member.links, now, settings.link_window, settings.link_max + 1):
                        rules.add(Rule.LINK_FLOOD)

        if Rule.ATTACHMENTS in enabled and event.attachment_count:
            if member.attachments is None:
                member.attachments = deque()
            for _ in range(min(event.attachment_count, settings.attachment_max + 1)):
                if _push_capped(member.attachments, now, settings.attachment_window, settings.attachment_max + 1):
                    rules.add(Rule.ATTACHMENTS)

        if Rule.CAPS in enabled and event.content:
            if caps_ratio(event.content, settings.caps_min_letters) >= settings.caps_ratio:
                rules.add(Rule.CAPS)

        norm = normalize(event.content) if event.content else ""
        if norm:
            self._repeats(member, event, norm, now, settings, rules, delete)
            if Rule.RAID in enabled:
                urls = links.urls
                if links.invite_codes and settings.invite_allowlist:
                    # Members sharing the guild's own invite is not a raid.
                    urls = tuple(u for u in urls if invite_code(u) not in settings.invite_allowlist)
                self._raid(event, norm, urls, now, settings, rules, delete, members)

        if not rules:
            return CLEAN
        return Verdict(frozenset(rules), tuple(delete), frozenset(members))

    # -- per-rule helpers --------------------------------------------------------------------------------------

    def _member(self, guild_id: int, author_id: int, now: float, settings: SpamSettings) -> _Member:
        key = (guild_id, author_id)
        members = self._members
        member = members.get(key)
        if member is None:
            member = members[key] = _Member()
            # Prune from the least-recently-active end: first whoever fell out of every window, then past the cap.
            # The span is the longest window any guild has used, so one guild's short windows never cut another's.
            span = _longest_window(settings)
            if span > self._longest_span:
                self._longest_span = span
            horizon = now - self._longest_span
            while len(members) > 1:
                oldest = next(iter(members.values()))
                if oldest.last_seen >= horizon and len(members) <= self.max_members:
                    break
                members.popitem(last=False)
        else:
            members.move_to_end(key)
        member.last_seen = now
        return member

    @staticmethod
    def _mentions(member: _Member, event: MessageEvent, now: float, settings: SpamSettings) -> bool:
        count = (
            len(set(event.mention_user_ids)) + len(set(event.mention_role_ids))
            if event.mention_user_ids or event.mention_role_ids
            else 0
        )
        window = member.mentions
        if window is None:
            if not count:
                return False
            window = member.mentions = deque()
        while window and now - window[0][0] >= settings.mention_window:
            member.mentions_total -= window.popleft()[1]
        if count:
            window.append((now, count))
            member.mentions_total += count
            # Each entry holds at least one mention, so `mention_window_total` entries already reach the limit.
            while len(window) > settings.mention_window_total:
                member.mentions_total -= window.popleft()[1]
        return count >= settings.mention_per_message or member.mentions_total >= settings.mention_window_total

    @staticmethod
    def _repeats(
        member: _Member,
        event: MessageEvent,
        norm: str,
        now: float,
        settings: SpamSettings,
        rules: set[Rule],
        delete: dict[MessageRef, None],
    ) -> None:
        """Duplicates and cross-channel copies, by comparing with the member's last few messages."""
        recent = member.recent
        span = max(settings.duplicate_window, settings.cross_channel_window)
        while recent and now - recent[0][0] >= span:
            recent.popleft()
        threshold = settings.duplicate_similarity
        cutoff = threshold * 100.0
        length = len(norm)
        similar: list[tuple[float, str, int, int]] = []
        for entry in recent:
            other = entry[1]
            if other == norm:
                similar.append(entry)
                continue
            # Indel similarity is at most 2*min/(a+b): skip the call when lengths alone rule a match out.
            other_length = len(other)
            if 2 * min(length, other_length) < threshold * (length + other_length):
                continue
            if _fuzz_ratio(norm, other, score_cutoff=cutoff):
                similar.append(entry)
        recent.append((now, norm, event.channel_id, event.message_id))
        while len(recent) > settings.duplicate_history:
            recent.popleft()
        if not similar:
            return

        enabled = settings.enabled_rules
        if Rule.DUPLICATES in enabled:
            dupes = [e for e in similar if now - e[0] < settings.duplicate_window]
            if len(dupes) + 1 >= settings.duplicate_count:
                rules.add(Rule.DUPLICATES)
                for e in dupes:
                    delete[(e[2], e[3])] = None
        if Rule.CROSS_CHANNEL in enabled and len(norm) >= settings.copy_min_length:
            copies = [e for e in similar if now - e[0] < settings.cross_channel_window]
            channels = {e[2] for e in copies}
            channels.add(event.channel_id)
            if len(channels) >= settings.cross_channel_count:
                rules.add(Rule.CROSS_CHANNEL)
                for e in copies:
                    delete[(e[2], e[3])] = None
        # Keep delete order chronological: earlier copies first, the current message last.
        current = (event.channel_id, event.message_id)
        if len(delete) > 1:
            delete.pop(current)
            delete[current] = None

    def _raid(
        self,
        event: MessageEvent,
        norm: str,
        urls: tuple[str, ...],
        now: float,
        settings: SpamSettings,
        rules: set[Rule],
        delete: dict[MessageRef, None],
        members: set[int],
    ) -> None:
        keys = []
        if len(norm) >= settings.copy_min_length:
            keys.append(norm)
        if urls:
            # Raiders vary the words but post the same link: index the link set too.
            keys.append("\x00links\x00" + " ".join(sorted({u.lower() for u in urls})))
        if not keys:
            return
        index = self._copies.get(event.guild_id)
        if index is None:
            index = self._copies[event.guild_id] = OrderedDict()
        window = settings.raid_window
        found: list[tuple[float, int, int, int]] = []
        grew = False
        for key in keys:
            copies = index.get(key)
            if copies is None:
                copies = index[key] = _Copies()
                grew = True
            else:
                index.move_to_end(key)
            posts = copies.posts
            while posts and now - posts[0][0] >= window:
                posts.popleft()
            posts.append((now, event.author_id, event.channel_id, event.message_id))
            while len(posts) > self.max_posts_per_copy:
                posts.popleft()
            copies.last_seen = now
            authors = {p[1] for p in posts}
            if len(authors) >= settings.raid_members:
                found.extend(posts)
                members.update(authors)
        # The index only grows on a new key: then prune texts nobody repeated within the window, and enforce the
        # cap (oldest first).
        horizon = now - window
        while grew and index:
            oldest = next(iter(index.values()))
            if oldest.last_seen >= horizon and len(index) <= self.max_copies_per_guild:
                break
            index.popitem(last=False)
        if found:
            rules.add(Rule.RAID)
            current = (event.channel_id, event.message_id)
            delete.pop(current, None)
            for post in sorted(found):
                delete[(post[2], post[3])] = None
            delete[current] = None


def _longest_window(settings: SpamSettings) -> float:
    return max(
        settings.flood_window,
        settings.duplicate_window,
        settings.mention_window,
        settings.link_window,
        settings.attachment_window,
        settings.cross_channel_window,
    )
