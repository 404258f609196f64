"""`/status`: round-trips a `ping` job through the queue and reports which worker answered and how fast."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.status.commands import StatusCog

if TYPE_CHECKING:
    from bot.gateway import StewardBot


def setup(bot: StewardBot) -> None:
    bot.add_cog(StatusCog(bot))
