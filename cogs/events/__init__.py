"""Community events (the seed's core/events.py): welcome message and auto-role on join, deleted-message audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.events.commands import EventsCommands
from cogs.events.events import CommunityEvents
from cogs.events.settings import EventsStore

if TYPE_CHECKING:
    from bot.gateway import StewardBot


def setup(bot: StewardBot) -> None:
    if bot.services.db is None:
        raise RuntimeError("the events cog needs the database (services.db is not set)")
    store = EventsStore(bot.services.db)
    bot.services.extras["events_store"] = store
    bot.add_cog(CommunityEvents(bot, store))
    bot.add_cog(EventsCommands(bot, store))
