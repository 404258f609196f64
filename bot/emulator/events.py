"""What happened in the emulator, in order: every REST call the bot made and every effect on the world.

Tests wait on it (`EventLog.wait_for`), a console subscribes to it (`EventLog.subscribe`) and prints
`describe(event)` for each one. Kinds:

- ``http``: one REST call; data = method, route (template), path, query, json, status.
- ``message_create`` / ``message_update`` / ``message_delete``: data = the message payload (delete: ids only);
  ``bulk_delete``: ids.
- ``reaction_add`` / ``reaction_remove``: channel_id, message_id, user_id, emoji.
- ``role_add`` / ``role_remove``: guild_id, user_id, role_id, role_name.
- ``member_update`` (nick/roles/timeout), ``timeout`` (communication_disabled_until set or cleared),
  ``kick``, ``ban``, ``unban``, ``member_join``, ``member_leave``: guild_id, user_id, ...
- ``interaction_create``, ``interaction_response`` (type, data), ``followup``: interaction ids.
- ``command_registered`` / ``command_deleted``: the command payload.
- ``webhook_execute``: webhook_id, status, json. ``typing``: channel_id, user_id.

``actor_id`` is who caused it: the bot's user id for REST calls, the simulated user's id for API calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str
    data: dict[str, Any]
    actor_id: int | None = None

    @property
    def channel_id(self) -> int | None:
        value = self.data.get("channel_id")
        return int(value) if value is not None else None


Subscriber = Callable[[Event], None]


@dataclass
class EventLog:
    events: list[Event] = field(default_factory=list)
    _subscribers: list[Subscriber] = field(default_factory=list)
    _waiters: list[tuple[Callable[[Event], bool], asyncio.Future[Event]]] = field(default_factory=list)

    def mark(self) -> int:
        """The sequence number the next event will get; pass it as `since=` to ignore earlier events."""
        return len(self.events)

    def emit(self, kind: str, data: dict[str, Any], actor_id: int | None = None) -> Event:
        event = Event(seq=len(self.events), kind=kind, data=data, actor_id=actor_id)
        self.events.append(event)
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(event):
                future.set_result(event)
        for subscriber in list(self._subscribers):
            subscriber(event)  # a subscriber that raises is a bug in the test or console; let it surface
        return event

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(event)` synchronously for every future event; returns a function that unsubscribes.

        For a terminal chat: `unsubscribe = emu.events.subscribe(queue.put_nowait)` and print from the queue.
        """
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def find(self, predicate: Callable[[Event], bool], since: int = 0) -> Event | None:
        for event in self.events[since:]:
            if predicate(event):
                return event
        return None

    async def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 5.0, since: int = 0) -> Event:
        """The first event at or after `since` matching `predicate`, waiting up to `timeout` seconds.

        Raises TimeoutError listing the last events, so a failing test says what did happen instead.
        """
        found = self.find(predicate, since)
        if found is not None:
            return found
        entry = (predicate, asyncio.get_running_loop().create_future())
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(entry[1], timeout)
        except TimeoutError:
            recent = "\n  ".join(describe(e) for e in self.events[max(since, len(self.events) - 15) :])
            raise TimeoutError(
                f"no matching emulator event within {timeout}s; last events:\n  {recent or '(none)'}"
            ) from None
        finally:
            self._waiters.remove(entry)


def describe(event: Event) -> str:
    """One human line per event, for a console and for timeout messages."""
    d = event.data
    match event.kind:
        case "http":
            return f"{d['method']} {d['path']} -> {d['status']}"
        case "message_create" | "message_update":
            verb = "said" if event.kind == "message_create" else "edited"
            author = d.get("author", {}).get("username", "?")
            extra = f" [+{len(d['attachments'])} file(s)]" if d.get("attachments") else ""
            return f"#{d['channel_id']} {author} {verb}: {d.get('content', '')}{extra}"
        case "message_delete":
            return f"#{d['channel_id']} message {d['id']} deleted"
        case "bulk_delete":
            return f"#{d['channel_id']} {len(d['ids'])} messages deleted"
        case "role_add" | "role_remove":
            verb = "given" if event.kind == "role_add" else "removed from"
            return f"role {d['role_name']} {verb} user {d['user_id']}"
        case "timeout":
            until = d["communication_disabled_until"]
            return f"user {d['user_id']} timed out until {until}" if until else f"user {d['user_id']} timeout lifted"
        case "kick" | "ban" | "unban" | "member_join" | "member_leave":
            return f"{event.kind.replace('_', ' ')}: user {d['user_id']} in guild {d['guild_id']}"
        case _:
            return f"{event.kind}: {d}"
