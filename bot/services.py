"""What a running gateway hands to its cogs: config, the job client, the database, the XP writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot import metrics
from bot.config import Config

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.jobclient import JobClient


@dataclass
class Services:
    config: Config
    jobs: JobClient
    db: AsyncEngine | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # per-feature shared objects (e.g. the XP writer)

    def metrics_message_seen(self) -> None:
        metrics.MESSAGES_SEEN.inc()
