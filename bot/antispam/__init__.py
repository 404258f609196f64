"""Anti-spam core: settings, the detector and the strike ladder. Pure Python, no nextcord."""

from bot.antispam.detector import CLEAN, MessageEvent, MessageRef, SpamDetector, Verdict
from bot.antispam.ladder import StrikeDecision, StrikeLadder, live_strikes
from bot.antispam.settings import DEFAULT_LADDER, DEFAULT_SETTINGS, Punishment, Rule, SpamSettings

__all__ = [
    "CLEAN",
    "DEFAULT_LADDER",
    "DEFAULT_SETTINGS",
    "MessageEvent",
    "MessageRef",
    "Punishment",
    "Rule",
    "SpamDetector",
    "SpamSettings",
    "StrikeDecision",
    "StrikeLadder",
    "Verdict",
    "live_strikes",
]
