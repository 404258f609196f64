"""`Emulator`: the aiohttp server plus the Python API tests and the console drive it with.

    async with Emulator() as emu:
        guild = emu.create_guild("Test")
        alice = emu.create_user("alice"); emu.add_member(guild.id, alice.id)
        use_api_base(emu.api_base)               # bot.discord_api: point nextcord's REST at the emulator
        ... start a nextcord client with emu.token ...
        msg = await emu.post_message(guild.system_channel_id, alice.id, "hello")
        reply = await emu.wait_for_message(guild.system_channel_id, since=msg)

Everything runs on the caller's event loop; the API is not thread-safe (neither is nextcord).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.emulator.events import Event, EventLog
from bot.emulator.gateway import Gateway
from bot.emulator.http_util import ApiError, Body, error_response, json_response, read_body
from bot.emulator.interactions import InteractionRecord, build_options, find_command
from bot.emulator.models import TEXT, Attachment, Channel, Guild, Member, Message, Role, User, Webhook
from bot.emulator.rest import Rest
from bot.emulator.world import World, resolve_pings

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
BODY = web.RequestKey("body", Body)  # the parsed request body, read once by the middleware
DEFAULT_TOKEN = "emulator-bot-token"  # not a secret: the emulator only listens on 127.0.0.1


class EmulatorRefused(Exception):
    """A simulated user tried something Discord would not let them do (post while timed out, not a member...)."""


class Emulator:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        bot_name: str = "Steward",
        recommended_shards: int = 1,
    ) -> None:
        self.host, self.port, self.token = host, port, token
        self.recommended_shards = recommended_shards
        self.world = World(bot_name)
        self.owner = self.world.create_user("app-owner")
        self.events = EventLog()
        self.gateway = Gateway(self.world, token)
        self.unknown_routes: list[dict[str, Any]] = []
        self.interactions: dict[int, InteractionRecord] = {}
        self.interactions_by_token: dict[str, InteractionRecord] = {}
        self._rest = Rest(self)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- lifecycle ------------------------------------------------------------------------------------------
    @property
    def api_base(self) -> str:
        """What nextcord's Route.BASE must be set to (see bot.discord_api.use_api_base)."""
        return self.url + API_PREFIX

    @property
    def bot(self) -> User:
        return self.world.bot

    @property
    def application_id(self) -> int:
        return self.world.application_id

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        for method, path, handler in self._rest.routes():
            app.router.add_route(method, API_PREFIX + path, _with_body(handler))
        app.router.add_route("*", "/{tail:.*}", self._unknown_route)  # last: whatever nothing else matched
        return app

    async def start(self) -> str:
        """Listen on host:port (port 0 picks a free one); returns the base URL, e.g. http://127.0.0.1:40123."""
        self._runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self.gateway.url = f"ws://{host}:{port}/gateway"
        self.world.attachment_base = self.url
        log.info("Discord emulator listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- HTTP plumbing --------------------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        is_unknown = request.match_info.route.handler == self._unknown_route
        if not request.path.startswith(API_PREFIX + "/") and not is_unknown:
            return await handler(request)  # the websocket and attachment downloads
        resource = request.match_info.route.resource
        template = request.path if is_unknown or resource is None else resource.canonical.removeprefix(API_PREFIX)
        body = Body()
        authed = request.headers.get("Authorization") == f"Bot {self.token}"
        try:
            body = await read_body(request)
            request[BODY] = body
            token_route = template.startswith(("/interactions/", "/webhooks/{webhook_id}/{token}"))
            if not token_route and not authed and not is_unknown:
                raise ApiError(401, 0, "401: Unauthorized")
            response = await handler(request)
        except ApiError as error:
            response = error_response(error)
        record = {
            "method": request.method,
            "route": template,
            "path": request.path.removeprefix(API_PREFIX),
            "query": dict(request.query),
            "json": body.json,
            "files": [f.filename for f in body.files],
            "status": response.status,
            "unknown_route": is_unknown,
        }
        if record["unknown_route"]:
            self.unknown_routes.append(record)
        self.events.emit("http", record, self.world.bot.id if authed else None)
        return response

    async def _unknown_route(self, request: web.Request) -> web.Response:
        # Loud on purpose: a route the emulator does not serve must fail the test (fixtures assert
        # `unknown_routes` is empty), never pass as a silent 404.
        log.error("Discord emulator: unknown route %s %s", request.method, request.path)
        return json_response({"message": "404: Not Found", "code": 0}, status=404)

    async def _attachment(self, request: web.Request) -> web.Response:
        channel = self.world.channels.get(int(request.match_info["channel_id"]))
        wanted = int(request.match_info["attachment_id"])
        for message in channel.messages.values() if channel else []:
            for att in message.attachments:
                if att.id == wanted:
                    return web.Response(body=att.data, content_type=att.content_type or "application/octet-stream")
        return web.Response(status=404)

    # --- publishing effects (shared by REST handlers and the test API) --------------------------------------
    async def publish_message(self, message: Message, actor_id: int) -> None:
        payload = self.world.message_payload(message)
        self.events.emit("message_create", payload, actor_id)
        if not message.ephemeral:  # Discord never dispatches ephemeral messages
            await self.gateway.dispatch("MESSAGE_CREATE", payload, guild_id=message.guild_id)

    async def publish_edit(self, message: Message, actor_id: int) -> None:
        payload = self.world.message_payload(message)
        self.events.emit("message_update", payload, actor_id)
        if not message.ephemeral:
            await self.gateway.dispatch("MESSAGE_UPDATE", payload, guild_id=message.guild_id)

    async def publish_delete(self, message: Message, actor_id: int) -> None:
        message.deleted = True
        payload = {"id": str(message.id), "channel_id": str(message.channel_id)}
        if message.guild_id:
            payload["guild_id"] = str(message.guild_id)
        self.events.emit("message_delete", {**payload, "author_id": str(message.author_id)}, actor_id)
        await self.gateway.dispatch("MESSAGE_DELETE", payload, guild_id=message.guild_id)

    async def publish_bulk_delete(self, channel: Channel, messages: list[Message], actor_id: int) -> None:
        for message in messages:
            message.deleted = True
        payload: dict[str, Any] = {"ids": [str(m.id) for m in messages], "channel_id": str(channel.id)}
        if channel.guild_id:
            payload["guild_id"] = str(channel.guild_id)
        self.events.emit("bulk_delete", payload, actor_id)
        await self.gateway.dispatch("MESSAGE_DELETE_BULK", payload, guild_id=channel.guild_id)

    async def publish_reaction(self, message: Message, user_id: int, emoji: str, *, add: bool) -> None:
        users = message.reactions.setdefault(emoji, [])
        if add and user_id not in users:
            users.append(user_id)
        elif not add and user_id in users:
            users.remove(user_id)
        name, _, emoji_id = emoji.partition(":")
        payload: dict[str, Any] = {
            "user_id": str(user_id),
            "channel_id": str(message.channel_id),
            "message_id": str(message.id),
            "emoji": {"id": emoji_id or None, "name": name},
            "burst": False,
            "type": 0,
        }
        if message.guild_id:
            payload["guild_id"] = str(message.guild_id)
            if add and user_id in self.world.guilds[message.guild_id].members:
                payload["member"] = self.world.member_payload(message.guild_id, user_id)
        kind = "reaction_add" if add else "reaction_remove"
        self.events.emit(kind, {**payload, "emoji": emoji}, user_id)
        await self.gateway.dispatch(f"MESSAGE_{kind.upper()}", payload, guild_id=message.guild_id)

    async def publish_member_update(
        self, guild: Guild, user_id: int, actor_id: int | None, before: tuple[str | None, list[int], str | None]
    ) -> None:
        member = guild.members[user_id]
        nick, roles, timeout = before
        base = {"guild_id": str(guild.id), "user_id": str(user_id)}
        for role_id in member.roles:
            if role_id not in roles:
                self.events.emit(
                    "role_add", {**base, "role_id": str(role_id), "role_name": guild.roles[role_id].name}, actor_id
                )
        for role_id in roles:
            if role_id not in member.roles and role_id in guild.roles:
                self.events.emit(
                    "role_remove", {**base, "role_id": str(role_id), "role_name": guild.roles[role_id].name}, actor_id
                )
        if timeout != member.communication_disabled_until:
            self.events.emit(
                "timeout", {**base, "communication_disabled_until": member.communication_disabled_until}, actor_id
            )
        if nick != member.nick:
            self.events.emit("nick", {**base, "nick": member.nick}, actor_id)
        payload = {**self.world.member_payload(guild.id, user_id), "guild_id": str(guild.id)}
        self.events.emit("member_update", payload, actor_id)
        await self.gateway.dispatch("GUILD_MEMBER_UPDATE", payload, guild_id=guild.id)

    async def publish_member_remove(
        self, guild: Guild, user_id: int, kind: str, actor_id: int | None, *, reason: str | None = None
    ) -> None:
        guild.members.pop(user_id, None)
        self.events.emit(kind, {"guild_id": str(guild.id), "user_id": str(user_id), "reason": reason}, actor_id)
        user = self.world.user_payload(user_id)
        await self.gateway.dispatch("GUILD_MEMBER_REMOVE", {"guild_id": str(guild.id), "user": user}, guild_id=guild.id)
        if kind == "ban":
            await self.gateway.dispatch("GUILD_BAN_ADD", {"guild_id": str(guild.id), "user": user}, guild_id=guild.id)

    async def delete_recent_messages(self, guild: Guild, user_id: int, seconds: int) -> None:
        cutoff = datetime.now(UTC) - timedelta(seconds=seconds)
        for channel_id in guild.channel_ids:
            channel = self.world.channels[channel_id]
            doomed = [
                m
                for m in channel.messages.values()
                if m.author_id == user_id and not m.deleted and datetime.fromisoformat(m.timestamp) >= cutoff
            ]
            if doomed:
                await self.publish_bulk_delete(channel, doomed, self.world.bot.id)

    def webhook_user(self, hook: Webhook, username: str | None) -> User:
        # Discord shows webhook messages under a pseudo-user whose id is the webhook's.
        user = self.world.users.get(hook.id) or self.world.create_user(hook.name, bot=True, id=hook.id)
        user.username = username or hook.name
        return user

    # --- world setup (synchronous; do it before the client connects, or announce_guild afterwards) ----------
    def create_user(self, username: str, *, bot: bool = False, id: int | None = None) -> User:
        return self.world.create_user(username, bot=bot, id=id)

    def create_guild(self, name: str, **kwargs: Any) -> Guild:
        """A guild with @everyone, the bot (with a managed role holding `bot_permissions`) and #general."""
        return self.world.create_guild(name, **kwargs)

    def create_channel(self, guild_id: int, name: str, *, type: int = TEXT, topic: str | None = None) -> Channel:
        return self.world.create_channel(guild_id, name, type=type, topic=topic)

    def create_thread(self, parent_id: int, name: str, *, owner_id: int | None = None) -> Channel:
        return self.world.create_thread(parent_id, name, owner_id=owner_id)

    def create_role(self, guild_id: int, name: str, **kwargs: Any) -> Role:
        return self.world.create_role(guild_id, name, **kwargs)

    def add_member(
        self, guild_id: int, user_id: int, *, roles: list[int] | None = None, nick: str | None = None
    ) -> Member:
        return self.world.add_member(guild_id, user_id, roles=roles, nick=nick)

    def create_webhook(self, channel_id: int, name: str = "status") -> Webhook:
        return self.world.create_webhook(channel_id, name)

    def webhook_url(self, hook: Webhook) -> str:
        """The webhook URL as Discord shows it (https://discord.com/api/webhooks/{id}/{token}).

        This is what a self-hoster pastes into config; nextcord's `Webhook.from_url` only accepts this form, and
        then sends to `Route.BASE`, i.e. to the emulator once `use_api_base(emu.api_base)` is in effect.
        """
        return f"https://discord.com/api/webhooks/{hook.id}/{hook.token}"

    def webhook_direct_url(self, hook: Webhook) -> str:
        """The same webhook on the emulator itself, for notifiers that POST with a plain HTTP client."""
        return f"{self.api_base}/webhooks/{hook.id}/{hook.token}"

    def fail_webhook(self, hook: Webhook, status: int | None = 404) -> None:
        """Make the webhook answer `status` (404 = deleted upstream); None makes it work again."""
        hook.answer_status = status

    async def announce_guild(self, guild_id: int) -> None:
        """Dispatch GUILD_CREATE for a guild created after the client connected (the bot "joins" it)."""
        await self.gateway.dispatch("GUILD_CREATE", self.world.guild_create_payload(guild_id), guild_id=guild_id)

    async def reconnect_clients(self) -> None:
        """Send op 7 RECONNECT to every client; nextcord then RESUMEs and gets what it missed replayed."""
        await self.gateway.reconnect_all()

    # --- simulated users ------------------------------------------------------------------------------------
    def _check_can_post(self, channel: Channel, author_id: int) -> None:
        if author_id not in self.world.users:
            raise EmulatorRefused(f"no user {author_id}")
        if channel.guild_id is None:
            if author_id not in channel.recipient_ids:
                raise EmulatorRefused(f"user {author_id} is not in DM channel {channel.id}")
            return
        member = self.world.guilds[channel.guild_id].members.get(author_id)
        if member is None:
            raise EmulatorRefused(f"user {author_id} is not a member of guild {channel.guild_id}")
        until = member.communication_disabled_until
        if until and datetime.fromisoformat(until) > datetime.now(UTC):
            raise EmulatorRefused(f"user {author_id} is timed out until {until}")

    async def post_message(
        self,
        channel_id: int,
        author_id: int,
        content: str = "",
        *,
        mentions: list[int] | None = None,
        attachments: Iterable[tuple[str, bytes] | tuple[str, bytes, str]] = (),
        reference: int | Message | None = None,
        embeds: list[dict[str, Any]] | None = None,
    ) -> Message:
        """A user sends a message: stored, recorded as `message_create`, dispatched as MESSAGE_CREATE.

        `mentions` defaults to the <@id> written in `content`; attachments are (filename, bytes[, content type]).
        Raises EmulatorRefused when Discord would refuse (not a member, timed out).
        """
        channel = self.world.channels[channel_id]
        self._check_can_post(channel, author_id)
        files = [
            Attachment(id=self.world.ids.next(), filename=a[0], data=a[1], content_type=a[2] if len(a) > 2 else None)
            for a in attachments
        ]
        ref_id = reference.id if isinstance(reference, Message) else reference
        message = self.world.new_message(
            channel_id, author_id, content, mentions=mentions, attachments=files, reference=ref_id, embeds=embeds or []
        )
        replied = self.world.find_message(ref_id) if ref_id else None
        resolve_pings(message, None, replied.author_id if replied else None)
        await self.publish_message(message, author_id)
        return message

    async def post_dm(self, user_id: int, content: str, **kwargs: Any) -> Message:
        """A user DMs the bot."""
        channel = self.world.dm_channel(user_id)
        return await self.post_message(channel.id, user_id, content, **kwargs)

    async def edit_message(self, message: Message, content: str) -> Message:
        """The message's author edits it (MESSAGE_UPDATE)."""
        message.content = content
        message.edited_timestamp = datetime.now(UTC).isoformat()
        await self.publish_edit(message, message.author_id)
        return message

    async def delete_message(self, message: Message, *, actor_id: int | None = None) -> None:
        """The author (or a moderator `actor_id`) deletes a message (MESSAGE_DELETE)."""
        await self.publish_delete(message, actor_id or message.author_id)

    async def react(self, message: Message, user_id: int, emoji: str, *, add: bool = True) -> None:
        await self.publish_reaction(message, user_id, emoji, add=add)

    async def member_join(self, guild_id: int, user_id: int) -> Member:
        """`user_id` joins the guild (GUILD_MEMBER_ADD)."""
        guild = self.world.guilds[guild_id]
        if user_id in guild.bans:
            raise EmulatorRefused(f"user {user_id} is banned from guild {guild_id}")
        member = self.world.add_member(guild_id, user_id)
        payload = {**self.world.member_payload(guild_id, user_id), "guild_id": str(guild_id)}
        self.events.emit("member_join", {"guild_id": str(guild_id), "user_id": str(user_id)}, user_id)
        await self.gateway.dispatch("GUILD_MEMBER_ADD", payload, guild_id=guild_id)
        return member

    async def member_leave(self, guild_id: int, user_id: int) -> None:
        """`user_id` leaves the guild (GUILD_MEMBER_REMOVE)."""
        await self.publish_member_remove(self.world.guilds[guild_id], user_id, "member_leave", user_id)

    async def invoke_slash(
        self,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        subcommand: Iterable[str] = (),
        wait_registered: float = 5.0,
    ) -> InteractionRecord:
        """A user runs /name [subcommand group/subcommand...] option:value (INTERACTION_CREATE).

        Waits up to `wait_registered` seconds for the bot to register the command (nextcord syncs commands
        in the background after READY). Returns the record; `await record.response()` for the callback.
        """
        since = self.events.mark()
        command = find_command(self.world, name, guild_id)
        if command is None:
            await self.events.wait_for(
                lambda e: e.kind == "command_registered" and find_command(self.world, name, guild_id) is not None,
                timeout=wait_registered,
                since=since,
            )
            command = find_command(self.world, name, guild_id)
        assert command is not None
        opts, resolved = build_options(self.world, command, guild_id, tuple(subcommand), options or {})
        interaction_id, token = self.world.ids.next(), secrets.token_urlsafe(32)
        data: dict[str, Any] = {"id": str(command.id), "name": command.name, "type": 1}
        if opts:  # Discord leaves `options` out for a command invoked without any (nextcord's lazy load relies on it)
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        if command.guild_id:
            data["guild_id"] = str(command.guild_id)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": 2,
            "data": data,
            "channel_id": str(channel_id),
            "channel": self.world.channel_payload(channel_id),
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "context": 0 if guild_id else 1,
            "authorizing_integration_owners": {"0": str(guild_id)} if guild_id else {"1": str(user_id)},
        }
        if guild_id:
            perms = self.world.permissions(guild_id, user_id)
            payload.update(
                guild_id=str(guild_id),
                guild_locale="en-US",
                app_permissions=str(self.world.permissions(guild_id, self.bot.id)),
                member={**self.world.member_payload(guild_id, user_id), "permissions": str(perms)},
            )
        else:
            payload["user"] = self.world.user_payload(user_id)
        record = InteractionRecord(
            id=interaction_id,
            token=token,
            command=command,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            payload=payload,
        )
        self.interactions[interaction_id] = record
        self.interactions_by_token[token] = record
        self.events.emit("interaction_create", payload, user_id)
        await self.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=guild_id)
        return record

    # --- inspection -----------------------------------------------------------------------------------------
    def messages(self, channel_id: int, *, include_deleted: bool = False) -> list[Message]:
        return [m for m in self.world.channels[channel_id].messages.values() if include_deleted or not m.deleted]

    def member(self, guild_id: int, user_id: int) -> Member | None:
        return self.world.guilds[guild_id].members.get(user_id)

    def calls(self, method: str | None = None, route: str | None = None) -> list[dict[str, Any]]:
        """Recorded REST calls, filtered by method and route template (e.g. "/channels/{channel_id}/messages")."""
        return [
            e.data
            for e in self.events.events
            if e.kind == "http"
            and (method is None or e.data["method"] == method)
            and (route is None or e.data["route"] == route)
        ]

    async def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 5.0, since: int = 0) -> Event:
        return await self.events.wait_for(predicate, timeout=timeout, since=since)

    async def wait_for_message(
        self,
        channel_id: int,
        *,
        author_id: int | None = None,
        since: int | Message = 0,
        timeout: float = 5.0,
        predicate: Callable[[Message], bool] | None = None,
    ) -> Message:
        """The first message created in `channel_id` by `author_id` (default: the bot) after `since`.

        `since` is an event mark (`emu.events.mark()`) or a Message, meaning "created after that message".
        """
        author = author_id or self.bot.id
        after_id = since.id if isinstance(since, Message) else 0
        mark = 0 if isinstance(since, Message) else since

        def matches(event: Event) -> bool:
            d = event.data
            return (
                event.kind == "message_create"
                and int(d["channel_id"]) == channel_id
                and int(d["author"]["id"]) == author
                and int(d["id"]) > after_id
                and (predicate is None or predicate(self.world.channels[channel_id].messages[int(d["id"])]))
            )

        event = await self.events.wait_for(matches, timeout=timeout, since=mark)
        return self.world.channels[channel_id].messages[int(event.data["id"])]


def _with_body(handler: Callable[[web.Request, Body], Any]) -> Callable[[web.Request], Any]:
    async def route(request: web.Request) -> web.StreamResponse:
        return await handler(request, request.get(BODY) or Body())

    return route
