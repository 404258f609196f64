"""An in-repo Discord emulator: REST + gateway websocket on 127.0.0.1 that the real nextcord client talks to.

See docs/emulator.md for the routes served and what is (not) modelled.
"""

from bot.emulator.events import Event, EventLog, describe
from bot.emulator.interactions import InteractionRecord
from bot.emulator.models import Channel, Guild, Member, Message, Role, User, Webhook
from bot.emulator.server import DEFAULT_TOKEN, Emulator, EmulatorRefused

__all__ = [
    "DEFAULT_TOKEN",
    "Channel",
    "Emulator",
    "EmulatorRefused",
    "Event",
    "EventLog",
    "Guild",
    "InteractionRecord",
    "Member",
    "Message",
    "Role",
    "User",
    "Webhook",
    "describe",
]
