"""A deterministic mixed Discord message stream with ground-truth spam labels, for the gateway benchmarks.

`generate_stream()` returns messages sorted by time: mostly ordinary chat (including the hard cases a detector must
let through: quick bursts under the flood limit, short common phrases many people say, legit links and the guild's
own invite, an occasional mention or shout-y acronym, moderator announcements), plus spam incidents of each kind.
Every message carries its `kind` and, for spam, the `incident` it belongs to, so a benchmark can score recall per
incident and false positives on normal chat. Same arguments, same stream, byte for byte.

    .ci/env python -m bench.streams          # prints the mix
"""

from __future__ import annotations

import random
import string
from collections import Counter
from dataclasses import dataclass

from bot.antispam import MessageEvent, SpamSettings

DISCORD_EPOCH_MS = 1_420_070_400_000
STREAM_START = 1_796_342_400.0  # 2026-12-04T00:00:00Z: message ids are real snowflakes for this time

NORMAL = "normal"
FLOOD = "flood"
DUPLICATE = "duplicate"
MENTIONS = "mentions"
INVITE = "invite"
CAPS = "caps"
CROSS_CHANNEL = "cross_channel"
RAID = "raid"
SPAM_KINDS = (FLOOD, DUPLICATE, MENTIONS, INVITE, CAPS, CROSS_CHANNEL, RAID)

# Incidents per 100k messages; the rest is normal chat (about 93 % of messages).
INCIDENTS_PER_100K = {FLOOD: 150, DUPLICATE: 150, MENTIONS: 150, INVITE: 200, CAPS: 300, CROSS_CHANNEL: 150, RAID: 100}


@dataclass(slots=True)
class StreamMessage:
    event: MessageEvent
    kind: str
    incident: int  # -1 for normal chat
    author_name: str


@dataclass(frozen=True, slots=True)
class StreamShape:
    guild_ids: tuple[int, ...]
    channel_ids: dict[int, tuple[int, ...]]
    member_ids: tuple[int, ...]
    moderator_ids: frozenset[int]


def guild_settings(guild_id: int) -> SpamSettings:
    """The settings the benchmarks use: defaults, with each guild's own invite allow-listed."""
    return SpamSettings(invite_allowlist=frozenset({f"guild{guild_id}"}))


_WORDS = (
    "the a to and i you it is that of in for on with this was just so but not be have are lol my what do we "
    "game play tonight anyone server match patch update build raid boss loot drop level rank queue team gg "
    "coffee work school weekend movie music song album stream video clip pizza dinner cat dog photo art "
    "think know like really maybe pretty good great nice bad weird fun tired late early again still already "
    "who when where why how yeah nah okay sure thanks please sorry idk tbh imo btw brb"
).split()
_PHRASES = ("lol", "gm", "gn", "same", "thanks!", "ty", "haha yes", "good night", "omg", "nice", "gg wp", "brb")
_ACRONYMS = ("NASA", "GPU", "FPS", "RPG", "MMO", "USA", "PC", "DLC", "AFK", "OK")
_LEGIT_HOSTS = ("https://youtu.be/", "https://github.com/", "https://en.wikipedia.org/wiki/", "https://imgur.com/")
_SCAM_HOSTS = ("https://dlscord-nitro.gift/", "https://steamcommunity-gift.ru/", "https://discord-airdrop.com/")


class _Builder:
    def __init__(
        self, n_messages: int, n_members: int, n_guilds: int, channels_per_guild: int, duration: float, seed: int
    ) -> None:
        self.rng = random.Random(seed)
        self.duration = duration
        self.guild_ids = tuple(900_000_000_000_000_000 + g for g in range(n_guilds))
        self.channel_ids = {
            g: tuple(910_000_000_000_000_000 + i * 100 + c for c in range(channels_per_guild))
            for i, g in enumerate(self.guild_ids)
        }
        self.members = tuple(100_000_000_000_000_000 + m for m in range(n_members))
        self.moderators = frozenset(self.members[: n_guilds * 3])
        self.rows: list[tuple[float, int, int, int, str, dict, str, int]] = []  # (ts, guild, channel, author, ...)
        self.n_messages = n_messages

    def guild_of(self, member: int) -> int:
        return self.guild_ids[member % len(self.guild_ids)]

    def add(
        self,
        ts: float,
        member: int,
        content: str,
        kind: str,
        incident: int,
        channel: int | None = None,
        **extra: object,
    ) -> None:
        guild = self.guild_of(member)
        channel = channel if channel is not None else self.rng.choice(self.channel_ids[guild])
        self.rows.append((ts, guild, channel, member, content, extra, kind, incident))

    def chat_line(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.12:
            return rng.choice(_PHRASES)
        words = rng.choices(_WORDS, k=rng.randint(3, 16))
        if roll < 0.40:
            words[0] = words[0].capitalize()
        if roll > 0.97:
            words.insert(rng.randrange(len(words)), rng.choice(_ACRONYMS))
        return " ".join(words) + rng.choice(("", "", "", "!", "?", " :)", "..."))

    def spam_member(self) -> int:
        return self.rng.choice(self.members[len(self.moderators) :])

    # -- spam incidents ----------------------------------------------------------------------------------------

    def flood(self, incident: int, t: float) -> None:
        m = self.spam_member()
        ch = self.rng.choice(self.channel_ids[self.guild_of(m)])
        for i in range(self.rng.randint(8, 14)):
            self.add(t + i * self.rng.uniform(0.25, 0.6), m, self.chat_line() + f" {i}", FLOOD, incident, ch)

    def duplicate(self, incident: int, t: float) -> None:
        m = self.spam_member()
        ch = self.rng.choice(self.channel_ids[self.guild_of(m)])
        base = f"selling {self.rng.choice(('gold', 'accounts', 'boosts', 'skins'))} cheap, dm me for prices {incident}"
        for i in range(self.rng.randint(5, 7)):
            text = "".join(c.upper() if self.rng.random() < 0.15 else c for c in base)
            if i % 2:
                pos = self.rng.randrange(len(text))
                text = text[:pos] + "\u200b" + text[pos:]
            self.add(t + i * self.rng.uniform(3.0, 6.0), m, text, DUPLICATE, incident, ch)

    def mentions(self, incident: int, t: float) -> None:
        m = self.spam_member()
        guild_members = [x for x in self.rng.sample(self.members, 80) if self.guild_of(x) == self.guild_of(m)]
        if self.rng.random() < 0.5:  # one message pinging many people
            targets = tuple(guild_members[:6]) or (m,)
            text = " ".join(f"<@{x}>" for x in targets) + " look at this"
            self.add(t, m, text, MENTIONS, incident, mention_user_ids=targets)
        else:  # a storm of smaller pings
            for i in range(4):
                targets = tuple(guild_members[i * 3 : i * 3 + 3]) or (m,)
                text = " ".join(f"<@{x}>" for x in targets) + " wake up"
                self.add(t + i * 2.5, m, text, MENTIONS, incident, mention_user_ids=targets)

    def invite(self, incident: int, t: float) -> None:
        code = "".join(self.rng.choices(string.ascii_letters + string.digits, k=8))
        text = self.rng.choice(
            (
                "join my server discord.gg/{c}",
                "free roles at https://discord.gg/{c} !!",
                "new community https://discord.com/invite/{c} come",
            )
        )
        self.add(t, self.spam_member(), text.format(c=code), INVITE, incident)

    def caps(self, incident: int, t: float) -> None:
        text = ""
        while sum(map(str.isalpha, text)) < 12:
            text = " ".join(self.rng.choices(_WORDS, k=self.rng.randint(4, 10))).upper() + "!!!"
        self.add(t, self.spam_member(), text, CAPS, incident)

    def cross_channel(self, incident: int, t: float) -> None:
        m = self.spam_member()
        link = self.rng.choice(_SCAM_HOSTS) + "".join(self.rng.choices(string.ascii_lowercase, k=10))
        text = f"Free Discord Nitro for 3 months, claim it before it ends: {link}"
        everyone = self.rng.random() < 0.3
        if everyone:
            text = "@everyone " + text
        channels = self.rng.sample(self.channel_ids[self.guild_of(m)], self.rng.randint(3, 5))
        for i, ch in enumerate(channels):
            self.add(
                t + i * self.rng.uniform(0.5, 4.0),
                m,
                text,
                CROSS_CHANNEL,
                incident,
                ch,
                mentions_everyone_attempt=everyone,
            )

    def raid(self, incident: int, t: float) -> None:
        guild = self.rng.choice(self.guild_ids)
        pool = [x for x in self.rng.sample(self.members, 80) if self.guild_of(x) == guild and x not in self.moderators]
        raiders = pool[: self.rng.randint(3, 5)]
        text = self.rng.choice(
            (
                "this server is dead, everyone come watch my stream at twitch dot tv slash x{n}",
                "RAID TIME lol get rekt {n} hahaha",
                "check out https://free-robux.example/{n} for free stuff",
            )
        )
        ch = self.rng.choice(self.channel_ids[guild])
        for i, r in enumerate(raiders):
            self.add(t + i * self.rng.uniform(1.0, 10.0), r, text.format(n=incident), RAID, incident, ch)

    # -- normal chat --------------------------------------------------------------------------------------------

    def normal(self, count: int) -> None:
        rng = self.rng
        mods = sorted(self.moderators)
        active = self.members[len(mods) : len(mods) + 300]
        # Walk a shuffled member list so (nearly) every member speaks at least once, as in the 50k.
        order = list(self.members)
        rng.shuffle(order)
        added = walked = 0
        while added < count:
            t = rng.uniform(0, self.duration)
            roll = rng.random()
            if roll < 0.2:
                member = rng.choice(active)
            else:
                member = order[walked % len(order)]
                walked += 1
            if roll > 0.9995:  # a moderator announcement: allowed to ping everyone
                self.add(
                    t,
                    rng.choice(mods),
                    "@everyone event starts in 10 minutes in the stage channel",
                    NORMAL,
                    -1,
                    mentions_everyone_attempt=True,
                    can_mention_everyone=True,
                    is_exempt=True,
                )
                added += 1
                continue
            if roll > 0.995 and count - added >= 5:  # a quick legit burst, under the flood limit
                ch = rng.choice(self.channel_ids[self.guild_of(member)])
                for i in range(rng.randint(3, 5)):
                    self.add(t + i * 0.6, member, self.chat_line(), NORMAL, -1, ch)
                    added += 1
                continue
            extra: dict[str, object] = {}
            line = self.chat_line()
            if roll < 0.02:
                line += " " + rng.choice(_LEGIT_HOSTS) + "".join(rng.choices(string.ascii_letters, k=11))
            elif roll < 0.022:
                line += f" discord.gg/guild{self.guild_of(member)}"  # the guild's own invite
            elif roll < 0.07:
                target = rng.choice(self.members)
                line = f"<@{target}> " + line
                extra["mention_user_ids"] = (target,)
            elif roll < 0.08:
                extra["attachment_count"] = rng.randint(1, 3)
            self.add(t, member, line, NORMAL, -1, **extra)
            added += 1


def generate_stream(
    n_messages: int = 100_000,
    n_members: int = 50_000,
    n_guilds: int = 4,
    channels_per_guild: int = 6,
    duration: float = 3600.0,
    seed: int = 20261204,
) -> tuple[list[StreamMessage], StreamShape]:
    b = _Builder(n_messages, n_members, n_guilds, channels_per_guild, duration, seed)
    incident = 0
    scale = n_messages / 100_000
    for kind, per_100k in INCIDENTS_PER_100K.items():
        make = getattr(b, kind)
        for _ in range(max(1, round(per_100k * scale))):
            make(incident, b.rng.uniform(0, duration - 60))
            incident += 1
    b.normal(n_messages - len(b.rows))
    b.rows.sort(key=lambda r: r[0])
    out = []
    for seq, (ts, guild, channel, author, content, extra, kind, inc) in enumerate(b.rows[:n_messages]):
        stamp = STREAM_START + ts
        message_id = ((int(stamp * 1000) - DISCORD_EPOCH_MS) << 22) | (seq & 0x3FFFFF)
        event = MessageEvent(
            guild_id=guild,
            channel_id=channel,
            message_id=message_id,
            author_id=author,
            content=content,
            timestamp=stamp,
            **extra,
        )  # type: ignore[arg-type]
        out.append(StreamMessage(event, kind, inc, f"member{author % 1_000_000}"))
    shape = StreamShape(b.guild_ids, b.channel_ids, b.members, b.moderators)
    return out, shape


def main() -> None:
    stream, shape = generate_stream()
    kinds = Counter(m.kind for m in stream)
    incidents = Counter(m.kind for m in {(m.kind, m.incident): m for m in stream if m.incident >= 0}.values())
    authors = len({m.event.author_id for m in stream})
    print(
        f"{len(stream)} messages from {authors} members in {len(shape.guild_ids)} guilds over "
        f"{stream[-1].event.timestamp - stream[0].event.timestamp:.0f} s"
    )
    for kind, n in kinds.most_common():
        print(f"  {kind:14} {n:6} messages  {incidents.get(kind, 0):4} incidents")


if __name__ == "__main__":
    main()
