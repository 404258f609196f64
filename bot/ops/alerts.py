"""What the running bot tells the status webhook about itself, rate limited per kind.

`AlertPolicy` is plain logic (no I/O, clock passed in): feed it queue snapshots and it says which alerts are due.
Kinds: `started`/`stopped` (every process), `no_workers` (no live worker for longer than `no_workers_after`),
`backlog` (more than `backlog_threshold` tasks waiting), `dead_letters` (the dead-letter list grew). Each kind fires
at most once per `interval` seconds, so a flapping queue cannot flood the channel.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field

from bot.ops.notify import NotifyError, StatusEvent, notify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueSnapshot:
    tasks: int
    processing: int
    dead: int
    live_workers: int


@dataclass
class AlertPolicy:
    interval: float = 900.0
    no_workers_after: float = 60.0
    backlog_threshold: int = 100
    _last_sent: dict[str, float] = field(default_factory=dict)
    _no_workers_since: float | None = None
    _last_dead: int | None = None

    def allow(self, kind: str, now: float) -> bool:
        """True (and remembered) when `kind` has not fired within the interval."""
        last = self._last_sent.get(kind)
        if last is not None and now - last < self.interval:
            return False
        self._last_sent[kind] = now
        return True

    def observe(self, snap: QueueSnapshot, now: float) -> list[StatusEvent]:
        due: list[StatusEvent] = []
        if snap.live_workers == 0:
            if self._no_workers_since is None:
                self._no_workers_since = now
            silent = now - self._no_workers_since
            if silent > self.no_workers_after and self.allow("no_workers", now):
                due.append(
                    StatusEvent(
                        "alert",
                        "failure",
                        f"No live workers for {silent:.0f}s; {snap.tasks} task(s) waiting.",
                        component="workers",
                    )
                )
        else:
            self._no_workers_since = None
        if snap.tasks > self.backlog_threshold and self.allow("backlog", now):
            due.append(
                StatusEvent(
                    "alert",
                    "warning",
                    f"Queue backlog: {snap.tasks} task(s) waiting (threshold {self.backlog_threshold}), "
                    f"{snap.processing} in processing, {snap.live_workers} live worker(s).",
                    component="queue",
                )
            )
        if self._last_dead is not None and snap.dead > self._last_dead and self.allow("dead_letters", now):
            due.append(
                StatusEvent(
                    "alert",
                    "failure",
                    f"Dead-letter list grew from {self._last_dead} to {snap.dead}: see `bot queue dead list`.",
                    component="queue",
                )
            )
        self._last_dead = snap.dead
        return due


def lifecycle_event(status: str, role: str, instance: str = "") -> StatusEvent:
    name = instance or socket.gethostname()
    verb = "started" if status == "started" else "stopped"
    return StatusEvent("bot", status, f"Steward ({role}) {verb} on {name}.", component=role)


class Alerter:
    """Sends due alerts to the status webhook; never raises (an unreachable webhook must not stop the bot)."""

    def __init__(self, webhook_url: str, policy: AlertPolicy, *, username: str = "Steward") -> None:
        self.webhook_url = webhook_url
        self.policy = policy
        self.username = username
        self.sent: list[StatusEvent] = []

    async def send(self, ev: StatusEvent) -> None:
        if not self.webhook_url:
            return
        try:
            if await notify(self.webhook_url, ev, username=self.username):
                self.sent.append(ev)
        except NotifyError as exc:
            log.warning("alert not sent: %s", exc)

    async def lifecycle(self, status: str, role: str, instance: str, now: float) -> None:
        if self.policy.allow(status, now):
            await self.send(lifecycle_event(status, role, instance))

    async def observe(self, snap: QueueSnapshot, now: float) -> None:
        for ev in self.policy.observe(snap, now):
            await self.send(ev)
