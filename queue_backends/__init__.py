"""Queue backends behind one protocol: `memory` (one process) and `redis` (the wire contract, many hosts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from queue_backends.base import Delivery, QueueBackend, QueueStats, QueueUnavailable

if TYPE_CHECKING:
    from bot.config import Config

__all__ = ["Delivery", "QueueBackend", "QueueStats", "QueueUnavailable", "get_task_queue"]


def get_task_queue(config: Config) -> QueueBackend:
    """Build the backend the config asks for (redis when a URL is set, else memory, unless forced)."""
    if config.queue_backend == "redis":
        from queue_backends.redis import RedisQueue

        if not config.queue.redis_url:
            from bot.config import ConfigError

            raise ConfigError("queue.backend: 'redis' needs queue.redis_url (or $REDIS_URL)")
        return RedisQueue(
            config.queue.redis_url,
            config.queue.namespace,
            reliable=config.queue.reliable,
            default_result_ttl=config.queue.result_ttl,
            heartbeat_ttl=config.queue.heartbeat_ttl,
        )
    from queue_backends.memory import MemoryQueue

    return MemoryQueue(default_result_ttl=config.queue.result_ttl)
