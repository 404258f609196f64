from __future__ import annotations

import time
from typing import TYPE_CHECKING

import nextcord
from nextcord.ext import commands

from bot.jobs import JobTimeout
from queue_backends.base import QueueUnavailable

if TYPE_CHECKING:
    from bot.gateway import StewardBot


class StatusCog(commands.Cog):
    def __init__(self, bot: StewardBot) -> None:
        self.bot = bot

    @nextcord.slash_command(name="status", description="Check that the bot's workers answer, and how fast.")
    async def status(self, interaction: nextcord.Interaction) -> None:
        # Interactions are dispatched as their own tasks, so awaiting the job here blocks nobody else.
        await interaction.response.defer()
        jobs = self.bot.services.jobs
        started = time.perf_counter()
        try:
            result = await jobs.run("ping", {"sent_at": time.time()}, requested_by=str(interaction.user.id))
        except JobTimeout:
            await interaction.followup.send("No worker answered in time: are workers running?")
            return
        except QueueUnavailable:
            await interaction.followup.send("The job queue is unreachable right now.")
            return
        rtt_ms = (time.perf_counter() - started) * 1000
        if result.get("status") != "ok":
            await interaction.followup.send(f"The ping job failed: {result.get('error', 'unknown error')}")
            return
        backend = "in-process fallback" if jobs.using_fallback else jobs.primary.name
        latency = self.bot.latency * 1000 if self.bot.latency == self.bot.latency else float("nan")
        await interaction.followup.send(
            f"Worker `{result['worker_id']}` answered in {rtt_ms:.1f} ms via the {backend} queue. "
            f"Gateway latency {latency:.0f} ms."
        )
