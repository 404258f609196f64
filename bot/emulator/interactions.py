"""Slash-command interactions: building INTERACTION_CREATE payloads and tracking what the bot answered."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from bot.emulator.models import Command
from bot.emulator.world import World

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER = 3, 4, 5, 6, 7, 8, 9, 10

# Interaction callback types (https://discord.com/developers/docs/interactions/receiving-and-responding)
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, AUTOCOMPLETE, MODAL = (
    1, 4, 5, 6, 7, 8, 9,
)  # fmt: skip


@dataclass
class InteractionRecord:
    """One interaction the emulator sent; await `response()` / `followup(n)` for what the bot answered."""

    id: int
    token: str
    command: Command
    guild_id: int | None
    channel_id: int
    user_id: int
    payload: dict[str, Any]
    callbacks: list[dict[str, Any]] = field(default_factory=list)  # raw callback bodies, in order
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def touch(self) -> None:
        self._changed.set()

    async def _until(self, check: Any, timeout: float, what: str) -> Any:
        async def poll() -> Any:
            while (result := check()) is None:
                self._changed.clear()
                await self._changed.wait()
            return result

        try:
            return await asyncio.wait_for(poll(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"interaction /{self.command.name} ({self.id}): no {what} within {timeout}s; "
                f"callbacks so far: {self.callbacks}"
            ) from None

    async def response(self, timeout: float = 5.0) -> dict[str, Any]:
        """The first interaction callback body ({"type": ..., "data": {...}})."""
        return await self._until(lambda: self.callbacks[0] if self.callbacks else None, timeout, "callback")

    async def followup(self, index: int = 0, timeout: float = 5.0) -> int:
        """The message id of follow-up number `index` (0-based)."""
        return await self._until(
            lambda: self.followup_ids[index] if len(self.followup_ids) > index else None, timeout, "follow-up"
        )


def find_command(world: World, name: str, guild_id: int | None) -> Command | None:
    """The command a user typing /name in `guild_id` would get: the guild's own first, then the global one."""
    for scope in ([guild_id] if guild_id else []) + [None]:
        for command in world.guild_commands(scope):
            if command.name == name and command.type == 1:
                return command
    return None


def build_options(
    world: World,
    command: Command,
    guild_id: int | None,
    path: tuple[str, ...],
    values: dict[str, Any],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Interaction `data.options` and `data.resolved` for /command <path...> name:value..., typed from the spec.

    Option types come from the registered command, as Discord's client would send them; an option or
    subcommand the command does not declare is a ValueError (a real user could not send it either).
    """
    resolved: dict[str, dict[str, Any]] = {}
    spec = command.body.get("options") or []
    chain: list[tuple[int, str]] = []
    for name in path:
        option = _spec(spec, name, command.name)
        if option["type"] not in (SUB_COMMAND, SUB_COMMAND_GROUP):
            raise ValueError(f"/{command.name}: {name!r} is not a subcommand or group")
        chain.append((option["type"], name))
        spec = option.get("options") or []
    leaf = [_leaf(world, guild_id, _spec(spec, name, command.name), value, resolved) for name, value in values.items()]
    options = leaf
    for type_, name in reversed(chain):
        options = [{"type": type_, "name": name, "options": options}]
    return options, resolved


def _spec(options: list[dict[str, Any]], name: str, command: str) -> dict[str, Any]:
    for option in options:
        if option["name"] == name:
            return option
    known = ", ".join(o["name"] for o in options) or "none"
    raise ValueError(f"/{command} has no option or subcommand {name!r} here (known: {known})")


def _leaf(
    world: World, guild_id: int | None, spec: dict[str, Any], value: Any, resolved: dict[str, Any]
) -> dict[str, Any]:
    type_ = spec["type"]
    if type_ in (USER, MENTIONABLE) and int(value) in world.users:
        uid = int(value)
        resolved.setdefault("users", {})[str(uid)] = world.user_payload(uid)
        if guild_id and uid in world.guilds[guild_id].members:
            resolved.setdefault("members", {})[str(uid)] = {
                **world.member_payload(guild_id, uid, with_user=False),
                "permissions": str(world.permissions(guild_id, uid)),
            }
        value = str(uid)
    elif type_ in (ROLE, MENTIONABLE) and guild_id and int(value) in world.guilds[guild_id].roles:
        resolved.setdefault("roles", {})[str(value)] = world.role_payload(guild_id, int(value))
        value = str(value)
    elif type_ == CHANNEL:
        resolved.setdefault("channels", {})[str(value)] = world.channel_payload(int(value))
        value = str(value)
    elif type_ == INTEGER:
        value = int(value)
    elif type_ == NUMBER:
        value = float(value)
    elif type_ == BOOLEAN:
        value = bool(value)
    elif type_ == STRING:
        value = str(value)
    return {"type": type_, "name": spec["name"], "value": value}
