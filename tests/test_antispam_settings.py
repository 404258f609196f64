"""SpamSettings persistence and validation, and the strike ladder."""

from __future__ import annotations

import json

import pytest

from bot.antispam import Punishment, Rule, SpamSettings, StrikeLadder, live_strikes


def test_round_trip_through_json() -> None:
    s = SpamSettings(
        enabled_rules=frozenset({Rule.FLOOD, Rule.RAID}),
        flood_window=7.5,
        invite_allowlist=frozenset({"ourserver"}),
        exempt_role_ids=frozenset({3, 1}),
        ladder=(Punishment("warn"), Punishment("timeout", 60), Punishment("ban")),
    )
    data = json.loads(json.dumps(s.to_dict()))
    assert data["ladder"] == ["warn", "timeout:60", "ban"]
    assert data["exempt_role_ids"] == [1, 3]
    assert SpamSettings.from_dict(data) == s
    assert SpamSettings.from_dict({}) == SpamSettings()


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"flood_windw": 5}, "flood_windw"),
        ({"flood_max_messages": "6"}, "flood_max_messages"),
        ({"flood_max_messages": 6.5}, "flood_max_messages"),
        ({"flood_max_messages": True}, "flood_max_messages"),
        ({"flood_window": "5"}, "flood_window"),
        ({"exempt_role_ids": [1, "2"]}, "exempt_role_ids"),
        ({"exempt_channel_ids": 5}, "exempt_channel_ids"),
        ({"enabled_rules": ["flood", "nope"]}, "enabled_rules"),
        ({"ladder": ["warn", "timeout"]}, "ladder"),
        ({"ladder": ["warn", "explode"]}, "ladder"),
        ({"ladder": []}, "ladder"),
        ({"caps_ratio": 1.5}, "caps_ratio"),
        ({"link_max": -1}, "link_max"),
        ({"blocked_domains": [3]}, "blocked_domains"),
        # limits under which every ordinary message would break the rule
        ({"raid_members": 1}, "raid_members"),
        ({"cross_channel_count": 1}, "cross_channel_count"),
        ({"duplicate_count": 1}, "duplicate_count"),
        ({"mention_per_message": 0}, "mention_per_message"),
        ({"mention_window_total": 0}, "mention_window_total"),
        ({"flood_max_messages": 0}, "flood_max_messages"),
    ],
)
def test_validation_names_the_key(data: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        SpamSettings.from_dict(data)


def test_with_setting_parses_admin_text() -> None:
    s = SpamSettings()
    assert s.with_setting("flood_max_messages", "10").flood_max_messages == 10
    assert s.with_setting("flood_window", "2.5").flood_window == 2.5
    assert Rule.CAPS not in s.with_setting("caps", "off").enabled_rules
    assert Rule.CAPS in s.with_setting("caps", "off").with_setting("caps", "on").enabled_rules
    assert s.with_setting("blocked_domains", "Scam.ru, evil.com").blocked_domains == {"scam.ru", "evil.com"}
    assert s.with_setting("exempt_channel_ids", "5,6").exempt_channel_ids == {5, 6}
    assert [str(p) for p in s.with_setting("ladder", "warn,timeout:600,kick").ladder] == ["warn", "timeout:600", "kick"]
    assert s.with_setting("raid_members", "2").raid_members == 2
    assert s.with_setting("link_max", "0").link_max == 0  # "no links at all" is a choice, not a typo
    for key, text in [("flood_max_messages", "many"), ("caps", "maybe"), ("nonsense", "1"), ("ladder", "slap")]:
        with pytest.raises(ValueError, match=key):
            s.with_setting(key, text)


# -- the ladder --------------------------------------------------------------------------------------------------


def test_ladder_escalates_then_repeats_the_top() -> None:
    s = SpamSettings()
    strikes: tuple[float, ...] = ()
    seen = []
    for t in (0.0, 10.0, 20.0, 30.0, 40.0):
        decision = StrikeLadder.next_strike(strikes, t, s)
        strikes = decision.strikes
        seen.append((decision.strike_number, str(decision.action)))
    assert seen == [(1, "warn"), (2, "timeout:300"), (3, "timeout:3600"), (4, "kick"), (5, "kick")]


def test_strikes_expire_after_an_hour() -> None:
    s = SpamSettings()
    assert live_strikes([0.0, 100.0, 3650.0], 3650.0, s.strike_expiry) == (100.0, 3650.0)
    d = StrikeLadder.next_strike([0.0, 100.0], 3650.0, s)  # the first strike just expired
    assert (d.strike_number, str(d.action), d.strikes) == (2, "timeout:300", (100.0, 3650.0))
    d = StrikeLadder.next_strike([0.0, 100.0], 3599.0, s)  # just under an hour: both still count
    assert (d.strike_number, str(d.action)) == (3, "timeout:3600")
    short = SpamSettings(strike_expiry=60.0)
    assert str(StrikeLadder.next_strike([0.0], 61.0, short).action) == "warn"
