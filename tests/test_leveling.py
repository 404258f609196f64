from __future__ import annotations

import dataclasses
import json
import random

import pytest

from bot.leveling import (
    DEFAULT_TEMPLATE,
    Award,
    LevelingCore,
    LevelingSettings,
    LevelingSettingsError,
    apply_award,
    apply_xp,
    level_for_xp,
    progress,
    render_template,
    rewards_for_level,
    set_xp,
    total_xp_for_level,
    xp_for_next,
)

GUILD, USER, CHANNEL = 1, 100, 10

# --- the curve ---

# Published MEE6 totals (level -> total XP); the issue names levels 1 and 10 explicitly.
KNOWN_TOTALS = {
    0: 0,
    1: 100,
    2: 255,
    3: 475,
    4: 770,
    5: 1150,
    10: 4675,
    20: 23_850,
    50: 268_375,
    100: 1_899_250,
}


@pytest.mark.parametrize(("level", "total"), sorted(KNOWN_TOTALS.items()))
def test_total_xp_matches_known_table(level: int, total: int) -> None:
    assert total_xp_for_level(level) == total


def test_total_xp_is_the_running_sum_of_the_per_level_formula() -> None:
    running = 0
    for level in range(2000):
        assert total_xp_for_level(level) == running, level
        running += 5 * level * level + 50 * level + 100
        assert xp_for_next(level) == 5 * level**2 + 50 * level + 100


def test_level_for_xp_at_thresholds_and_one_below() -> None:
    # Levels inside the precomputed table and beyond it (the binary-search fallback) alike.
    for level in [*range(1, 60), 999, 1000, 1001, 2500, 10_000]:
        threshold = total_xp_for_level(level)
        assert level_for_xp(threshold) == level
        assert level_for_xp(threshold - 1) == level - 1
        assert level_for_xp(threshold + 1) == level
    assert level_for_xp(0) == 0
    assert level_for_xp(99) == 0
    assert level_for_xp(100) == 1
    assert level_for_xp(4674) == 9
    assert level_for_xp(4675) == 10


def test_level_for_xp_rejects_negative_totals() -> None:
    with pytest.raises(ValueError, match="total XP"):
        level_for_xp(-1)
    with pytest.raises(ValueError):
        xp_for_next(-1)


def test_progress() -> None:
    assert progress(0) == (0, 0, 100)
    assert progress(99) == (0, 99, 100)
    assert progress(100) == (1, 0, 155)
    assert progress(4700) == (10, 25, xp_for_next(10))
    assert xp_for_next(10) == 1100


# --- apply_award / multi-level jumps ---


def test_apply_award_without_level_up() -> None:
    change = apply_award(50, Award(GUILD, USER, 20, 0.0))
    assert change.new_total == 70
    assert (change.old_level, change.new_level) == (0, 0)
    assert not change.leveled_up
    assert list(change.levels_reached) == []


def test_apply_award_exactly_at_threshold_levels_up() -> None:
    change = apply_award(80, Award(GUILD, USER, 20, 0.0))
    assert (change.old_level, change.new_level, change.new_total) == (0, 1, 100)
    assert change.leveled_up


def test_several_levels_at_once() -> None:
    change = apply_xp(90, 4675 - 90)  # /xp give from level 0 straight to level 10
    assert (change.old_level, change.new_level) == (0, 10)
    assert list(change.levels_reached) == list(range(1, 11))


def test_removing_xp_levels_down_and_never_goes_negative() -> None:
    change = apply_xp(300, -1000)
    assert (change.old_level, change.new_level, change.new_total) == (2, 0, 0)
    assert not change.leveled_up
    assert set_xp(4675, 255).new_level == 2


# --- settings ---


def test_settings_round_trip_through_json() -> None:
    settings = LevelingSettings(
        role_multipliers={1234567890123456789: 2.0},
        channel_multipliers={42: 0.5},
        no_xp_channel_ids=frozenset({7, 8}),
        no_xp_role_ids=frozenset({9}),
        announce_mode="channel",
        announce_channel_id=555,
        reward_mode="replace",
        keep_xp_on_leave=False,
    )
    restored = LevelingSettings.from_dict(json.loads(json.dumps(settings.to_dict())))
    assert restored == settings
    assert LevelingSettings.from_dict({}) == LevelingSettings()
    assert LevelingSettings().announce_template == DEFAULT_TEMPLATE


@pytest.mark.parametrize(
    ("data", "bad_key"),
    [
        ({"xp_min": 30, "xp_max": 20}, "xp_max"),
        ({"xp_min": -1}, "xp_min"),
        ({"xp_min": True}, "xp_min"),
        ({"cooldown_seconds": "soon"}, "cooldown_seconds"),
        ({"announce_mode": "shout"}, "announce_mode"),
        ({"announce_mode": "channel"}, "announce_channel_id"),
        ({"reward_mode": "merge"}, "reward_mode"),
        ({"announce_template": "   "}, "announce_template"),
        ({"keep_xp_on_leave": "yes"}, "keep_xp_on_leave"),
        ({"role_multipliers": {"123": -2}}, "role_multipliers[123]"),
        ({"channel_multipliers": {"abc": 2}}, "channel_multipliers['abc']"),
        ({"no_xp_role_ids": "123"}, "no_xp_role_ids"),
        ({"no_xp_channel_ids": ["x"]}, "no_xp_channel_ids"),
        ({"xp_per_message": 5}, "xp_per_message"),
    ],
)
def test_invalid_settings_name_the_bad_key(data: dict[str, object], bad_key: str) -> None:
    with pytest.raises(LevelingSettingsError) as caught:
        LevelingSettings.from_dict(data)
    assert caught.value.key == bad_key
    assert bad_key in str(caught.value)


def test_replace_revalidates() -> None:
    with pytest.raises(LevelingSettingsError, match="reward_mode"):
        dataclasses.replace(LevelingSettings(), reward_mode="bogus")  # type: ignore[arg-type]


# --- the core: cooldown and anti-farm ---


def make_core(settings: LevelingSettings | None = None, *, seed: int = 1, max_members: int = 1000) -> LevelingCore:
    chosen = settings or LevelingSettings()
    return LevelingCore(lambda guild_id: chosen, rng=random.Random(seed), max_members=max_members)


def say(
    core: LevelingCore,
    content: str,
    at: float,
    *,
    user: int = USER,
    guild: int = GUILD,
    channel: int = CHANNEL,
    roles: tuple[int, ...] = (),
    spam: bool = False,
) -> Award | None:
    return core.on_message(guild, user, channel, roles, content, at, spam)


def test_first_message_earns_15_to_25_xp() -> None:
    core = make_core()
    seen = set()
    for user in range(300):
        award = say(core, "hello everyone", 0.0, user=user)
        assert award is not None
        assert award.guild_id == GUILD and award.user_id == user and award.timestamp == 0.0
        seen.add(award.xp)
    assert seen == set(range(15, 26))


def test_cooldown_59_seconds_no_60_seconds_yes() -> None:
    core = make_core()
    assert say(core, "first message", 1000.0) is not None
    assert say(core, "second message", 1059.0) is None
    assert say(core, "third message", 1060.0) is not None
    # The cooldown counts from the last *award*, not the last message.
    assert say(core, "fourth message", 1119.9) is None
    assert say(core, "fifth message", 1120.0) is not None


def test_cooldown_is_per_member_and_per_guild() -> None:
    core = make_core()
    assert say(core, "hello", 0.0) is not None
    assert say(core, "hello", 1.0, user=USER + 1) is not None
    assert say(core, "hello", 2.0, guild=GUILD + 1) is not None
    assert say(core, "hello again", 3.0) is None


def test_spam_earns_nothing() -> None:
    core = make_core()
    assert say(core, "buy cheap stuff now", 0.0, spam=True) is None
    assert say(core, "a real message", 1.0) is not None


def test_short_messages_earn_nothing_and_do_not_start_the_cooldown() -> None:
    core = make_core()
    assert say(core, "  k ", 0.0) is None
    assert say(core, "ok", 1.0) is None
    assert say(core, "yes", 2.0) is not None  # exactly the minimum length


def test_repeat_of_previous_message_earns_nothing() -> None:
    core = make_core()
    assert say(core, "Good morning all", 0.0) is not None
    # Same text with different case/spacing, after the cooldown: still a repeat.
    assert say(core, "  good   MORNING all ", 100.0) is None
    assert say(core, "good morning everyone", 200.0) is not None


def test_repeat_is_compared_with_every_previous_message_not_only_awarded_ones() -> None:
    core = make_core()
    assert say(core, "farming text", 0.0) is not None
    assert say(core, "something else", 10.0) is None  # cooldown, but it is now the previous message
    assert say(core, "something else", 70.0) is None  # repeat of it
    assert say(core, "farming text", 80.0) is not None  # alternating is not a repeat of the previous one


def test_no_xp_channels_and_roles() -> None:
    core = make_core(LevelingSettings(no_xp_channel_ids=frozenset({66}), no_xp_role_ids=frozenset({77})))
    assert say(core, "in the bot channel", 0.0, channel=66) is None
    assert say(core, "muted member talks", 0.0, roles=(5, 77)) is None
    assert say(core, "normal chat", 0.0, roles=(5,)) is not None


# --- multipliers ---


def fixed_xp_settings(**kwargs: object) -> LevelingSettings:
    return LevelingSettings(xp_min=20, xp_max=20, **kwargs)  # type: ignore[arg-type]


def test_role_multiplier() -> None:
    core = make_core(fixed_xp_settings(role_multipliers={5: 1.5}))
    award = say(core, "booster speaks", 0.0, roles=(5,))
    assert award is not None and award.xp == 30


def test_largest_multiplier_applies_channel_vs_role() -> None:
    settings = fixed_xp_settings(role_multipliers={5: 1.5, 6: 3.0}, channel_multipliers={10: 2.0, 11: 4.0})
    core = make_core(settings)
    assert (a := say(core, "role beats channel", 0.0, channel=10, roles=(5, 6))) and a.xp == 60
    assert (a := say(core, "channel beats role", 0.0, user=2, channel=11, roles=(5, 6))) and a.xp == 80
    assert (a := say(core, "only channel", 0.0, user=3, channel=10)) and a.xp == 40
    assert (a := say(core, "nothing configured", 0.0, user=4, channel=99, roles=(1,))) and a.xp == 20


def test_a_reducing_multiplier_applies_when_it_is_the_only_one() -> None:
    core = make_core(fixed_xp_settings(channel_multipliers={10: 0.5}, role_multipliers={5: 2.0}))
    assert (a := say(core, "memes channel", 0.0, channel=10)) and a.xp == 10
    assert (a := say(core, "booster in memes", 0.0, user=2, channel=10, roles=(5,))) and a.xp == 40


def test_multiplier_result_is_rounded_and_zero_means_no_award() -> None:
    core = make_core(LevelingSettings(xp_min=15, xp_max=15, channel_multipliers={10: 1.1, 11: 0.0}))
    assert (a := say(core, "rounded xp here", 0.0, channel=10)) and a.xp == 16  # 16.5 -> 16 (banker's)
    assert say(core, "zero multiplier", 0.0, user=2, channel=11) is None


# --- bounded state ---


def test_member_state_is_lru_bounded() -> None:
    core = make_core(max_members=3)
    for user in range(3):
        assert say(core, "hello there", 0.0, user=user) is not None
    assert say(core, "touch user zero", 1.0, user=0) is None  # user 0 becomes most recent
    assert say(core, "newcomer", 2.0, user=9) is not None  # evicts user 1, the least recent
    assert len(core) == 3
    assert say(core, "user one again", 3.0, user=1) is not None  # forgotten, so no cooldown
    assert say(core, "user zero again", 4.0, user=0) is None  # still remembered


def test_forget_member_and_guild() -> None:
    core = make_core()
    say(core, "hello there", 0.0)
    say(core, "hello there", 0.0, guild=2)
    core.forget_member(GUILD, USER)
    assert say(core, "hello there", 1.0) is not None
    core.forget_guild(2)
    assert say(core, "hello there", 1.0, guild=2) is not None


# --- role rewards ---

REWARDS = {5: 500, 10: 1000, 20: 2000}


def test_rewards_stack_mode() -> None:
    assert rewards_for_level(REWARDS, 4, "stack") == (frozenset(), frozenset({500, 1000, 2000}))
    assert rewards_for_level(REWARDS, 5, "stack") == (frozenset({500}), frozenset({1000, 2000}))
    assert rewards_for_level(REWARDS, 15, "stack") == (frozenset({500, 1000}), frozenset({2000}))
    assert rewards_for_level(REWARDS, 99, "stack") == (frozenset({500, 1000, 2000}), frozenset())


def test_rewards_replace_mode_keeps_only_the_highest() -> None:
    assert rewards_for_level(REWARDS, 4, "replace") == (frozenset(), frozenset({500, 1000, 2000}))
    assert rewards_for_level(REWARDS, 12, "replace") == (frozenset({1000}), frozenset({500, 2000}))
    assert rewards_for_level(REWARDS, 20, "replace") == (frozenset({2000}), frozenset({500, 1000}))


def test_rewards_with_held_roles_give_the_minimal_change() -> None:
    # A member who just reached 10 in replace mode: gets 1000, loses 500, untouched unrelated role 42.
    assert rewards_for_level(REWARDS, 10, "replace", held={500, 42}) == (frozenset({1000}), frozenset({500}))
    assert rewards_for_level(REWARDS, 10, "stack", held={500, 1000}) == (frozenset(), frozenset())
    # After /xp remove the member no longer qualifies for level 20's role.
    assert rewards_for_level(REWARDS, 12, "stack", held={500, 1000, 2000}) == (frozenset(), frozenset({2000}))


def test_rewards_reject_unknown_mode() -> None:
    with pytest.raises(ValueError, match="reward mode"):
        rewards_for_level(REWARDS, 10, "merge")


# --- announcement templates ---


def test_render_template_substitutes_user_and_level() -> None:
    assert render_template(DEFAULT_TEMPLATE, "<@123>", 7) == "GG <@123>, you reached level 7!"
    assert render_template("{user} {user} L{level}", "<@1>", 2) == "<@1> <@1> L2"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{user.__class__}", "{user.__class__}"),
        ("{0}", "{0}"),
        ("{user.__init__.__globals__}", "{user.__init__.__globals__}"),
        ("{level!r:>99999}", "{level!r:>99999}"),
        ("{}", "{}"),
        ("{{user}}", "{<@1>}"),
        ("{level", "{level"),
    ],
)
def test_render_template_does_not_evaluate_format_fields(template: str, expected: str) -> None:
    assert render_template(template, "<@1>", 3) == expected


def test_render_template_leaves_unknown_fields_literal() -> None:
    assert render_template("{user.__class__} hit {level} {0}", "<@1>", 3) == "{user.__class__} hit 3 {0}"


def test_render_template_is_capped_to_discord_message_length() -> None:
    assert len(render_template("{user}" * 300, "<@123456789012345678>", 1)) == 2000
