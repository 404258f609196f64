"""Every rule of the pure anti-spam detector, at and just under its threshold, plus exemptions and memory bounds."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from bot.antispam import MessageEvent, Rule, SpamDetector, SpamSettings

GUILD = 1
_ids = itertools.count(1000)


def event(author: int = 7, content: str = "hello there", ts: float = 0.0, channel: int = 10, **kw) -> MessageEvent:
    return MessageEvent(
        guild_id=kw.pop("guild_id", GUILD),
        channel_id=channel,
        message_id=next(_ids),
        author_id=author,
        content=content,
        timestamp=ts,
        **kw,
    )


def detector(settings: SpamSettings | None = None, **kw) -> SpamDetector:
    s = settings or SpamSettings()
    return SpamDetector(lambda _guild: s, **kw)


def distinct(i: int) -> str:
    """Chat lines that are far from each other (no duplicate matches)."""
    words = ["apple", "river", "sunset", "keyboard", "violin", "planet", "garden", "rocket", "coffee", "mountain"]
    return f"{words[i % 10]} {i} {words[(i * 7 + 3) % 10]} number {i * 31}"


# -- flood -------------------------------------------------------------------------------------------------------


def test_flood_seven_messages_in_five_seconds_is_flagged() -> None:
    d = detector()
    verdicts = [d.check(event(content=distinct(i), ts=i * 0.7)) for i in range(7)]  # 7th at 4.2 s
    assert [Rule.FLOOD in v.rules for v in verdicts] == [False] * 6 + [True]


def test_flood_just_under_passes() -> None:
    d = detector()
    assert not any(d.check(event(content=distinct(i), ts=i * 0.8)).is_spam for i in range(6))
    # seven messages, but spread so no 5 s window holds more than six
    d = detector()
    assert not any(d.check(event(content=distinct(i), ts=i * 0.84)).is_spam for i in range(7))


def test_flood_counts_across_channels_and_is_per_member() -> None:
    d = detector()
    v = [d.check(event(content=distinct(i), ts=i * 0.1, channel=10 + i)) for i in range(7)]
    assert Rule.FLOOD in v[-1].rules
    d = detector()
    v = [d.check(event(author=i, content=distinct(i), ts=i * 0.1)) for i in range(20)]
    assert not any(x.is_spam for x in v)


# -- duplicates --------------------------------------------------------------------------------------------------


def test_four_near_duplicates_differing_by_zero_width_and_case_are_flagged_with_all_copies() -> None:
    d = detector()
    texts = [
        "Buy cheap gold now at my shop",
        "buy CHEAP gold now at my\u200b shop",
        "BUY cheap  gold\u200dnow at my shop",
        "buy cheap gold now at my sh\ufeffop!",
    ]
    events = [event(content=t, ts=i * 8.0) for i, t in enumerate(texts)]
    verdicts = [d.check(e) for e in events]
    assert [v.rules for v in verdicts[:3]] == [frozenset()] * 3
    assert verdicts[3].rules == {Rule.DUPLICATES}
    assert verdicts[3].delete == tuple((e.channel_id, e.message_id) for e in events)


def test_three_duplicates_pass_and_old_ones_expire() -> None:
    d = detector()
    assert not any(d.check(event(content="same old line here", ts=i * 5.0)).is_spam for i in range(3))
    # a fourth copy, but the first one is 30 s old by then: only three in the window
    d = detector()
    assert not any(d.check(event(content="same old line here", ts=i * 10.0)).is_spam for i in range(4))


def test_similarity_just_below_point_nine_is_not_a_duplicate() -> None:
    d = detector()
    # each line differs from the others in 2 of 10 characters: ratio 0.8
    lines = ["abcdefghij", "abcdefghXY", "abcdefghQR", "abcdefghMN"]
    assert not any(d.check(event(content=t, ts=i)).is_spam for i, t in enumerate(lines))


# -- mentions ----------------------------------------------------------------------------------------------------


def test_five_distinct_mentions_in_one_message() -> None:
    d = detector()
    assert d.check(event(mention_user_ids=(1, 2, 3), mention_role_ids=(9, 8))).rules == {Rule.MENTIONS}
    # four distinct (one user repeated) passes
    assert not detector().check(event(mention_user_ids=(1, 2, 3, 3, 3), mention_role_ids=(9,))).is_spam


def test_ten_mentions_within_fifteen_seconds() -> None:
    d = detector()
    verdicts = [d.check(event(content=distinct(i), ts=i * 3.0, mention_user_ids=(i, i + 100))) for i in range(5)]
    assert [Rule.MENTIONS in v.rules for v in verdicts] == [False] * 4 + [True]
    d = detector()  # nine mentions, or ten spread over more than 15 s, pass
    assert not any(
        d.check(event(content=distinct(i), ts=i * 3.8, mention_user_ids=(i, i + 100))).is_spam for i in range(5)
    )


def test_everyone_attempt_without_permission() -> None:
    d = detector()
    assert d.check(event(content="@everyone look", mentions_everyone_attempt=True)).rules == {Rule.EVERYONE}
    ok = event(content="@everyone meeting now", mentions_everyone_attempt=True, can_mention_everyone=True)
    assert not d.check(ok).is_spam


# -- links -------------------------------------------------------------------------------------------------------


def test_foreign_invites_flagged_allow_listed_pass() -> None:
    s = SpamSettings(invite_allowlist=frozenset({"ourserver"}))
    d = detector(s)
    assert d.check(event(author=1, content="join discord.gg/FreeStuff now")).rules == {Rule.INVITES}
    assert d.check(event(author=2, content="https://discord.com/invite/abc")).rules == {Rule.INVITES}
    assert d.check(event(author=3, content="disc\u200bord.gg/x1")).rules == {Rule.INVITES}
    assert not d.check(event(author=4, content="our home: https://discord.gg/OurServer")).is_spam
    assert not d.check(event(author=5, content="discord is great")).is_spam


def test_more_than_five_links_in_sixty_seconds() -> None:
    d = detector()
    verdicts = [d.check(event(content=f"see https://example.org/page/{i}", ts=i * 10.0)) for i in range(6)]
    assert [Rule.LINK_FLOOD in v.rules for v in verdicts] == [False] * 5 + [True]
    d = detector()  # five links pass; six links spread over 60 s pass
    assert not any(d.check(event(content=f"https://example.org/{i}", ts=i * 12.0)).is_spam for i in range(6))
    d = detector()  # six links in one message
    assert Rule.LINK_FLOOD in d.check(event(content=" ".join(f"https://a.io/{i}" for i in range(6)))).rules


def test_blocked_domain_and_subdomains() -> None:
    d = detector(SpamSettings(blocked_domains=frozenset({"scam.ru"})))
    assert d.check(event(author=1, content="free https://nitro.scam.ru/claim")).rules == {Rule.BLOCKED_DOMAIN}
    assert d.check(event(author=2, content="www.SCAM.ru/x")).rules == {Rule.BLOCKED_DOMAIN}
    assert not d.check(event(author=3, content="https://notscam.ru/ok")).is_spam


# -- caps and attachments ----------------------------------------------------------------------------------------


def test_caps() -> None:
    d = detector()
    assert d.check(event(author=1, content="THIS IS SO LOUD")).rules == {Rule.CAPS}
    assert d.check(event(author=2, content="SEVEN UPper")).rules == {Rule.CAPS}  # 7 of 10 letters = 70 %
    assert not d.check(event(author=3, content="NINEUPPER lowr")).is_spam  # 9 of 13 letters = 69 %
    assert not d.check(event(author=4, content="OMG WOW!!")).is_spam  # only 6 letters
    assert not d.check(event(author=5, content="I went to NASA and the ESA today")).is_spam


def test_attachments() -> None:
    d = detector()
    verdicts = [d.check(event(content="", ts=i * 5.0, attachment_count=c)) for i, c in enumerate([4, 4, 2, 1])]
    assert [Rule.ATTACHMENTS in v.rules for v in verdicts] == [False, False, False, True]
    d = detector()
    assert not any(d.check(event(content="", ts=i * 31.0, attachment_count=5)).is_spam for i in range(5))  # 10 max


# -- cross-channel and raid --------------------------------------------------------------------------------------

NITRO = "Free Discord Nitro for everyone! claim: https://dlscord-gift.com/abc"


def test_cross_channel_returns_all_copies() -> None:
    d = detector()
    events = [event(content=NITRO, ts=i * 2.0, channel=20 + i) for i in range(3)]
    verdicts = [d.check(e) for e in events]
    assert not verdicts[0].is_spam and not verdicts[1].is_spam
    assert verdicts[2].rules == {Rule.CROSS_CHANNEL}
    assert verdicts[2].delete == tuple((e.channel_id, e.message_id) for e in events)


def test_cross_channel_just_under_passes() -> None:
    d = detector()  # two channels only
    assert not any(d.check(event(content=NITRO, ts=i, channel=20 + i % 2)).is_spam for i in range(3))
    d = detector()  # three channels but over more than 60 s
    assert not any(d.check(event(content=NITRO, ts=i * 31.0, channel=20 + i)).is_spam for i in range(3))
    d = detector()  # short chat like "good morning" in three channels is not a scam
    assert not any(d.check(event(content="good morning!", ts=i, channel=20 + i)).is_spam for i in range(3))


def test_raid_three_accounts_same_message_returns_all_copies() -> None:
    d = detector()
    events = [event(author=100 + i, content="join the raid lol xD " * 2, ts=i * 5.0, channel=30) for i in range(3)]
    verdicts = [d.check(e) for e in events]
    assert not verdicts[0].is_spam and not verdicts[1].is_spam
    assert Rule.RAID in verdicts[2].rules
    assert verdicts[2].delete == tuple((e.channel_id, e.message_id) for e in events)
    assert verdicts[2].member_ids == {100, 101, 102}


def test_raid_by_same_link_with_varied_text() -> None:
    d = detector()
    texts = ["omg check https://evil.example/x", "wow look https://evil.example/x", "hey https://evil.example/x !!"]
    verdicts = [d.check(event(author=200 + i, content=t, ts=i)) for i, t in enumerate(texts)]
    assert verdicts[2].rules == {Rule.RAID}
    assert len(verdicts[2].delete) == 3


def test_raid_just_under_passes() -> None:
    d = detector()  # two accounts, each posting twice
    assert not any(
        d.check(event(author=300 + i % 2, content=NITRO, ts=i * 20.0 + 100 * (i % 2))).is_spam for i in range(2)
    )
    d = detector()  # three accounts but over more than 60 s
    assert not any(d.check(event(author=400 + i, content=NITRO, ts=i * 31.0)).is_spam for i in range(3))
    d = detector()  # three accounts in different guilds
    assert not any(d.check(event(author=500 + i, content=NITRO, ts=i, guild_id=i)).is_spam for i in range(3))


# -- exemptions and settings -------------------------------------------------------------------------------------


def test_exemptions() -> None:
    s = SpamSettings(exempt_role_ids=frozenset({55}), exempt_channel_ids=frozenset({99}))
    d = detector(s)
    loud = "EVERYBODY LOOK AT THIS"
    assert d.check(event(author=1, content=loud)).rules == {Rule.CAPS}
    assert not d.check(event(author=2, content=loud, is_bot=True)).is_spam
    assert not d.check(event(author=3, content=loud, is_exempt=True)).is_spam
    assert not d.check(event(author=4, content=loud, role_ids=(1, 55))).is_spam
    assert not d.check(event(author=5, content=loud, channel=99)).is_spam


def test_disabled_rule_and_changed_threshold_apply_at_once() -> None:
    current = {"s": SpamSettings()}
    d = SpamDetector(lambda _g: current["s"])
    assert d.check(event(author=1, content="SHOUTING VERY LOUD")).rules == {Rule.CAPS}
    current["s"] = current["s"].with_setting("caps", "off")
    assert not d.check(event(author=2, content="SHOUTING VERY LOUD")).is_spam
    current["s"] = replace(current["s"], flood_max_messages=2)
    verdicts = [d.check(event(author=3, content=distinct(i), ts=i)) for i in range(3)]
    assert Rule.FLOOD in verdicts[2].rules


def test_normal_chat_is_clean() -> None:
    d = detector()
    lines = [
        "hey, how's it going?",
        "pretty good, you?",
        "did you see the match yesterday",
        "yes! what a goal",
        "I'll be on tonight around 9",
        "ok see you then",
        "brb",
        "lol",
    ]
    assert not any(d.check(event(author=i % 3, content=t, ts=i * 2.0)).is_spam for i, t in enumerate(lines))


# -- memory bounds -----------------------------------------------------------------------------------------------


def test_members_are_capped_under_a_burst_of_distinct_members() -> None:
    d = detector(max_members=5_000)
    for i in range(100_000):  # all within one second: nothing expires, only the cap evicts
        d.check(event(author=i, content="hi", ts=i * 1e-5))
    assert d.tracked_members <= 5_000


def test_idle_members_and_copies_are_pruned_by_time() -> None:
    d = detector()
    for i in range(1_000):
        d.check(event(author=i, content=f"unique message number {i} with text", ts=float(i)))
    # at t=999 only the last minute of members and texts is still in any window
    assert d.tracked_members <= 62
    assert d.tracked_copies <= 62


@pytest.mark.parametrize("max_members", [1, 2])
def test_tiny_caps_still_work(max_members: int) -> None:
    d = detector(max_members=max_members)
    verdicts = [d.check(event(content=distinct(i), ts=i * 0.1)) for i in range(7)]
    assert Rule.FLOOD in verdicts[-1].rules


def test_members_sharing_the_guilds_own_invite_is_not_a_raid() -> None:
    d = detector(SpamSettings(invite_allowlist=frozenset({"ourserver"})))
    texts = ["come hang out discord.gg/ourserver", "invite your friends: discord.gg/OurServer", "discord.gg/ourserver"]
    assert not any(d.check(event(author=600 + i, content=t, ts=i)).is_spam for i, t in enumerate(texts))


def test_one_guilds_short_windows_do_not_prune_another_guilds_long_ones() -> None:
    slow = SpamSettings(flood_max_messages=2, flood_window=300.0)
    d = SpamDetector(lambda g: slow if g == 2 else SpamSettings())
    assert not d.check(event(author=1, content=distinct(1), ts=0.0, guild_id=2)).is_spam
    assert not d.check(event(author=1, content=distinct(2), ts=100.0, guild_id=2)).is_spam
    for i in range(50):  # newcomers in guild 1 (60 s windows) trigger pruning in between
        d.check(event(author=100 + i, content=distinct(i), ts=150.0 + i, guild_id=1))
    assert Rule.FLOOD in d.check(event(author=1, content=distinct(3), ts=250.0, guild_id=2)).rules
