"""REST routes under /api/v10: the subset of Discord's API a moderation/chat bot uses.

Each handler reads the shared `World`, changes it, publishes the effect (event log + gateway dispatch) through
the `Emulator`, and answers with Discord-shaped JSON. `ROUTES` is the list documented in docs/emulator.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.emulator.http_util import (
    MISSING_PERMISSIONS,
    ApiError,
    Body,
    json_response,
    no_content,
    unknown,
)
from bot.emulator.interactions import CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, UPDATE_MESSAGE, InteractionRecord
from bot.emulator.models import (
    BAN_MEMBERS,
    KICK_MEMBERS,
    MANAGE_MESSAGES,
    MANAGE_NICKNAMES,
    MANAGE_ROLES,
    MODERATE_MEMBERS,
    SEND_MESSAGES,
    Attachment,
    Channel,
    Command,
    Guild,
    Message,
    iso_now,
)
from bot.emulator.world import resolve_pings

if TYPE_CHECKING:
    from bot.emulator.server import Emulator

EPHEMERAL, LOADING = 64, 128


class Rest:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.world = emu.world

    def routes(self) -> list[tuple[str, str, Any]]:
        """(method, path template under /api/v10, handler); order matters where templates overlap."""
        return [
            ("GET", "/users/@me", self.get_me),
            ("POST", "/users/@me/channels", self.create_dm),
            ("GET", "/users/{user_id}", self.get_user),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("POST", "/channels/{channel_id}/messages/bulk-delete", self.bulk_delete),
            ("GET", "/channels/{channel_id}/messages", self.history),
            ("POST", "/channels/{channel_id}/messages", self.create_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.add_reaction),
            (
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}",
                self.remove_reaction,
            ),
            ("GET", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}", self.get_reactions),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions", self.clear_reactions),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads", self.create_thread_from_message),
            ("POST", "/channels/{channel_id}/threads", self.create_thread),
            ("POST", "/channels/{channel_id}/typing", self.typing),
            ("GET", "/guilds/{guild_id}", self.get_guild),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self.get_roles),
            ("POST", "/guilds/{guild_id}/roles", self.create_role),
            ("PATCH", "/guilds/{guild_id}/roles/{role_id}", self.edit_role),
            ("DELETE", "/guilds/{guild_id}/roles/{role_id}", self.delete_role),
            ("GET", "/guilds/{guild_id}/members/search", self.search_members),
            ("GET", "/guilds/{guild_id}/members", self.list_members),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member),
            ("PATCH", "/guilds/{guild_id}/members/{user_id}", self.edit_member),
            ("DELETE", "/guilds/{guild_id}/members/{user_id}", self.kick),
            ("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.add_role),
            ("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.remove_role),
            ("GET", "/guilds/{guild_id}/bans", self.get_bans),
            ("GET", "/guilds/{guild_id}/bans/{user_id}", self.get_ban),
            ("PUT", "/guilds/{guild_id}/bans/{user_id}", self.ban),
            ("DELETE", "/guilds/{guild_id}/bans/{user_id}", self.unban),
            ("GET", "/applications/{app_id}/commands", self.get_commands),
            ("POST", "/applications/{app_id}/commands", self.upsert_command),
            ("PUT", "/applications/{app_id}/commands", self.overwrite_commands),
            ("GET", "/applications/{app_id}/commands/{command_id}", self.get_command),
            ("PATCH", "/applications/{app_id}/commands/{command_id}", self.edit_command),
            ("DELETE", "/applications/{app_id}/commands/{command_id}", self.delete_command),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self.get_commands),
            ("POST", "/applications/{app_id}/guilds/{guild_id}/commands", self.upsert_command),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self.overwrite_commands),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands/{command_id}", self.get_command),
            ("PATCH", "/applications/{app_id}/guilds/{guild_id}/commands/{command_id}", self.edit_command),
            ("DELETE", "/applications/{app_id}/guilds/{guild_id}/commands/{command_id}", self.delete_command),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self.interaction_callback),
            ("GET", "/webhooks/{webhook_id}/{token}", self.get_webhook),
            ("POST", "/webhooks/{webhook_id}/{token}", self.execute_webhook),
            ("GET", "/webhooks/{webhook_id}/{token}/messages/{message_id}", self.get_webhook_message),
            ("PATCH", "/webhooks/{webhook_id}/{token}/messages/{message_id}", self.edit_webhook_message),
            ("DELETE", "/webhooks/{webhook_id}/{token}/messages/{message_id}", self.delete_webhook_message),
        ]

    # --- lookups --------------------------------------------------------------------------------------------
    def _channel(self, request: web.Request) -> Channel:
        channel = self.world.channels.get(_id(request, "channel_id"))
        if channel is None:
            raise unknown("Channel", 10003)
        return channel

    def _message(self, request: web.Request, channel: Channel) -> Message:
        message = channel.messages.get(_id(request, "message_id"))
        if message is None or message.deleted:
            raise unknown("Message", 10008)
        return message

    def _guild(self, request: web.Request) -> Guild:
        guild = self.world.guilds.get(_id(request, "guild_id"))
        if guild is None:
            raise unknown("Guild", 10004)
        return guild

    def _user_id(self, request: web.Request) -> int:
        raw = request.match_info["user_id"]
        user_id = self.world.bot.id if raw == "@me" else _id(request, "user_id")
        if user_id not in self.world.users:
            raise unknown("User", 10013)
        return user_id

    def _require(self, guild_id: int | None, permission: int) -> None:
        if guild_id is not None and not self.world.permissions(guild_id, self.world.bot.id) & permission:
            raise MISSING_PERMISSIONS

    def _require_above(self, guild: Guild, user_id: int) -> None:
        # Discord's role hierarchy: the bot may only act on members whose top role is below its own.
        if user_id == guild.owner_id or self.world.top_role_position(guild.id, user_id) >= self.world.top_role_position(
            guild.id, self.world.bot.id
        ):
            raise MISSING_PERMISSIONS

    # --- users, gateway, application ------------------------------------------------------------------------
    async def get_me(self, request: web.Request, body: Body) -> web.Response:
        bot = self.world.bot
        return json_response({**self.world.user_payload(bot.id), "verified": True, "mfa_enabled": False, "flags": 0})

    async def get_user(self, request: web.Request, body: Body) -> web.Response:
        return json_response(self.world.user_payload(self._user_id(request)))

    async def create_dm(self, request: web.Request, body: Body) -> web.Response:
        recipient = int(body.json["recipient_id"])
        if recipient not in self.world.users:
            raise unknown("User", 10013)
        return json_response(self.world.channel_payload(self.world.dm_channel(recipient).id))

    async def get_gateway(self, request: web.Request, body: Body) -> web.Response:
        return json_response({"url": self.emu.gateway.url})

    async def get_gateway_bot(self, request: web.Request, body: Body) -> web.Response:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return json_response(
            {"url": self.emu.gateway.url, "shards": self.emu.recommended_shards, "session_start_limit": limit}
        )

    async def get_application(self, request: web.Request, body: Body) -> web.Response:
        bot = self.world.bot
        return json_response(
            {
                "id": str(self.world.application_id),
                "name": bot.username,
                "icon": None,
                "description": "Steward emulator application",
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": self.world.user_payload(self.emu.owner.id),
                "verify_key": "0" * 64,
                "summary": "",
                "flags": 0,
                "team": None,
            }
        )

    # --- channels and messages ------------------------------------------------------------------------------
    async def get_channel(self, request: web.Request, body: Body) -> web.Response:
        return json_response(self.world.channel_payload(self._channel(request).id))

    def _message_from_body(
        self, channel: Channel, author_id: int, data: dict[str, Any], body: Body, **extra: Any
    ) -> Message:
        reference = (data.get("message_reference") or {}).get("message_id")
        # File descriptions ride in payload_json's "attachments", matched to files[n] by id == n.
        described = {str(a.get("id")): a.get("description") for a in data.get("attachments") or []}
        attachments = [
            Attachment(
                id=self.world.ids.next(),
                filename=f.filename,
                data=f.data,
                content_type=_guess_type(f),
                description=described.get(str(f.index)),
            )
            for f in sorted(body.files, key=lambda f: f.index)
        ]
        message = self.world.new_message(
            channel.id,
            author_id,
            data.get("content") or "",
            attachments=attachments,
            reference=int(reference) if reference else None,
            embeds=data.get("embeds") or [],
            components=data.get("components") or [],
            tts=bool(data.get("tts")),
            flags=int(data.get("flags") or 0),
            allowed_mentions=data.get("allowed_mentions"),
            **extra,
        )
        replied = self.world.find_message(int(reference)) if reference else None
        resolve_pings(message, message.allowed_mentions, replied.author_id if replied else None)
        return message

    async def create_message(self, request: web.Request, body: Body) -> web.Response:
        channel = self._channel(request)
        self._require(channel.guild_id, SEND_MESSAGES)
        data = body.json or {}
        if not (data.get("content") or data.get("embeds") or body.files or data.get("components")):
            raise ApiError(400, 50006, "Cannot send an empty message")
        if len(data.get("content") or "") > 2000:
            raise ApiError(400, 50035, "Invalid Form Body: content must be 2000 or fewer in length.")
        message = self._message_from_body(channel, self.world.bot.id, data, body)
        await self.emu.publish_message(message, self.world.bot.id)
        return json_response(self.world.message_payload(message))

    async def history(self, request: web.Request, body: Body) -> web.Response:
        channel = self._channel(request)
        limit = int(request.query.get("limit", 50))
        messages = [m for m in channel.messages.values() if not m.deleted and not m.ephemeral]
        if before := request.query.get("before"):
            messages = [m for m in messages if m.id < int(before)]
        if after := request.query.get("after"):
            messages = [m for m in messages if m.id > int(after)][:limit]
        messages = sorted(messages, key=lambda m: m.id, reverse=True)[:limit]  # newest first, like Discord
        return json_response([self.world.message_payload(m) for m in messages])

    async def get_message(self, request: web.Request, body: Body) -> web.Response:
        channel = self._channel(request)
        return json_response(self.world.message_payload(self._message(request, channel)))

    async def edit_message(self, request: web.Request, body: Body) -> web.Response:
        channel = self._channel(request)
        message = self._message(request, channel)
        if message.author_id != self.world.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(message, body)
        await self.emu.publish_edit(message, self.world.bot.id)
        return json_response(self.world.message_payload(message))

    def _apply_edit(self, message: Message, body: Body) -> None:
        data = body.json or {}
        if "content" in data:
            message.content = data["content"] or ""
        if "embeds" in data:
            message.embeds = data["embeds"] or []
        if "components" in data:
            message.components = data["components"] or []
        if "flags" in data and data["flags"] is not None:
            message.flags = int(data["flags"])
        if "attachments" in data:  # the kept ones are listed by id; new uploads come as files[n]
            keep = {str(a.get("id")) for a in data["attachments"] or []}
            message.attachments = [a for a in message.attachments if str(a.id) in keep]
        for f in body.files:
            att = Attachment(id=self.world.ids.next(), filename=f.filename, data=f.data, content_type=_guess_type(f))
            att.url = f"{self.world.attachment_base}/attachments/{message.channel_id}/{att.id}/{att.filename}"
            message.attachments.append(att)
        if "allowed_mentions" in data:
            message.allowed_mentions = data["allowed_mentions"]
        message.edited_timestamp = iso_now()

    async def delete_message(self, request: web.Request, body: Body) -> web.Response:
        channel = self._channel(request)
        message = self._message(request, channel)
        if message.author_id != self.world.bot.id:
            self._require(channel.guild_id, MANAGE_MESSAGES)
        await self.emu.publish_delete(message, self.world.bot.id)
        return no_content()

    async def bulk_delete(self, request: web.Request, body: Body) -> web.Response:
        channel = self._channel(request)
        self._require(channel.guild_id, MANAGE_MESSAGES)
        ids = [int(i) for i in (body.json or {}).get("messages", [])]
        if not 2 <= len(ids) <= 100:
            raise ApiError(400, 50016, "You must provide between 2 and 100 message ids.")
        messages = [channel.messages[i] for i in ids if i in channel.messages and not channel.messages[i].deleted]
        await self.emu.publish_bulk_delete(channel, messages, self.world.bot.id)
        return no_content()

    async def add_reaction(self, request: web.Request, body: Body) -> web.Response:
        channel = self._channel(request)
        message = self._message(request, channel)
        await self.emu.publish_reaction(message, self.world.bot.id, request.match_info["emoji"], add=True)
        return no_content()

    async def remove_reaction(self, request: web.Request, body: Body) -> web.Response:
        channel = self._channel(request)
        message = self._message(request, channel)
        user_id = self._user_id(request)
        if user_id != self.world.bot.id:
            self._require(channel.guild_id, MANAGE_MESSAGES)
        await self.emu.publish_reaction(message, user_id, request.match_info["emoji"], add=False)
        return no_content()

    async def get_reactions(self, request: web.Request, body: Body) -> web.Response:
        message = self._message(request, self._channel(request))
        users = message.reactions.get(request.match_info["emoji"], [])
        return json_response([self.world.user_payload(u) for u in users])

    async def clear_reactions(self, request: web.Request, body: Body) -> web.Response:
        channel = self._channel(request)
        self._require(channel.guild_id, MANAGE_MESSAGES)
        self._message(request, channel).reactions.clear()
        return no_content()

    async def create_thread(self, request: web.Request, body: Body) -> web.Response:
        channel = self._channel(request)
        thread = self.world.create_thread(channel.id, (body.json or {}).get("name", "thread"))
        await self.emu.gateway.dispatch(
            "THREAD_CREATE", self.world.channel_payload(thread.id), guild_id=channel.guild_id
        )
        return json_response(self.world.channel_payload(thread.id), status=201)

    async def create_thread_from_message(self, request: web.Request, body: Body) -> web.Response:
        self._message(request, self._channel(request))
        return await self.create_thread(request, body)

    async def typing(self, request: web.Request, body: Body) -> web.Response:
        channel = self._channel(request)
        self.emu.events.emit(
            "typing", {"channel_id": str(channel.id), "user_id": str(self.world.bot.id)}, self.world.bot.id
        )
        return no_content()

    # --- guilds, roles, members -----------------------------------------------------------------------------
    async def get_guild(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        data = self.world.guild_create_payload(guild.id)
        for key in (
            "members",
            "channels",
            "threads",
            "voice_states",
            "presences",
            "joined_at",
            "large",
            "member_count",
        ):
            data.pop(key, None)  # REST's guild object is the GUILD_CREATE one without the gateway-only fields
        return json_response(data)

    async def get_guild_channels(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        return json_response(
            [self.world.channel_payload(c) for c in guild.channel_ids if self.world.channels[c].type != 11]
        )

    async def get_roles(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        return json_response([self.world.role_payload(guild.id, r) for r in guild.roles])

    async def create_role(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        self._require(guild.id, MANAGE_ROLES)
        data = body.json or {}
        role = self.world.create_role(
            guild.id,
            data.get("name", "new role"),
            permissions=int(data.get("permissions") or 0),
            color=int(data.get("color") or 0),
            mentionable=bool(data.get("mentionable")),
            position=1,
        )
        payload = self.world.role_payload(guild.id, role.id)
        await self.emu.gateway.dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": payload}, guild_id=guild.id
        )
        return json_response(payload)

    async def edit_role(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        self._require(guild.id, MANAGE_ROLES)
        role = guild.roles.get(_id(request, "role_id"))
        if role is None:
            raise unknown("Role", 10011)
        data = body.json or {}
        role.name = data.get("name", role.name)
        role.permissions = int(data.get("permissions", role.permissions))
        role.color = int(data.get("color", role.color) or 0)
        role.mentionable = bool(data.get("mentionable", role.mentionable))
        payload = self.world.role_payload(guild.id, role.id)
        await self.emu.gateway.dispatch(
            "GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": payload}, guild_id=guild.id
        )
        return json_response(payload)

    async def delete_role(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        self._require(guild.id, MANAGE_ROLES)
        role_id = _id(request, "role_id")
        if guild.roles.pop(role_id, None) is None:
            raise unknown("Role", 10011)
        for member in guild.members.values():
            if role_id in member.roles:
                member.roles.remove(role_id)
        await self.emu.gateway.dispatch(
            "GUILD_ROLE_DELETE", {"guild_id": str(guild.id), "role_id": str(role_id)}, guild_id=guild.id
        )
        return no_content()

    async def list_members(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        limit = int(request.query.get("limit", 1))
        after = int(request.query.get("after", 0))
        ids = sorted(u for u in guild.members if u > after)[:limit]
        return json_response([self.world.member_payload(guild.id, u) for u in ids])

    async def search_members(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        query = request.query.get("query", "").lower()
        limit = int(request.query.get("limit", 1))
        ids = [u for u in guild.members if self.world.users[u].username.lower().startswith(query)][:limit]
        return json_response([self.world.member_payload(guild.id, u) for u in ids])

    async def get_member(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        user_id = self._user_id(request)
        if user_id not in guild.members:
            raise unknown("Member", 10007)
        return json_response(self.world.member_payload(guild.id, user_id))

    async def edit_member(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        user_id = self._user_id(request)
        member = guild.members.get(user_id)
        if member is None:
            raise unknown("Member", 10007)
        data = body.json or {}
        if "nick" in data and user_id != self.world.bot.id:
            self._require(guild.id, MANAGE_NICKNAMES)
            self._require_above(guild, user_id)
        if "roles" in data:
            self._require(guild.id, MANAGE_ROLES)
        if "communication_disabled_until" in data:
            self._require(guild.id, MODERATE_MEMBERS)
            self._require_above(guild, user_id)
            until = data["communication_disabled_until"]
            if until is not None and (datetime.fromisoformat(until) - datetime.now().astimezone()).days >= 28:
                raise ApiError(400, 50035, "Invalid Form Body: timeouts can be at most 28 days")
        before = (member.nick, list(member.roles), member.communication_disabled_until)
        if "nick" in data:
            member.nick = data["nick"] or None
        if "roles" in data:
            member.roles = [int(r) for r in data["roles"] or [] if int(r) != guild.id]
        if "communication_disabled_until" in data:
            member.communication_disabled_until = data["communication_disabled_until"]
        await self.emu.publish_member_update(guild, user_id, self.world.bot.id, before)
        return json_response(self.world.member_payload(guild.id, user_id))

    async def add_role(self, request: web.Request, body: Body) -> web.Response:
        return await self._change_role(request, add=True)

    async def remove_role(self, request: web.Request, body: Body) -> web.Response:
        return await self._change_role(request, add=False)

    async def _change_role(self, request: web.Request, *, add: bool) -> web.Response:
        guild = self._guild(request)
        user_id = self._user_id(request)
        member = guild.members.get(user_id)
        if member is None:
            raise unknown("Member", 10007)
        role = guild.roles.get(_id(request, "role_id"))
        if role is None:
            raise unknown("Role", 10011)
        self._require(guild.id, MANAGE_ROLES)
        if role.position >= self.world.top_role_position(guild.id, self.world.bot.id) or role.managed:
            raise MISSING_PERMISSIONS  # Discord: a bot cannot grant a role at or above its own, nor a managed one
        before = (member.nick, list(member.roles), member.communication_disabled_until)
        if add and role.id not in member.roles:
            member.roles.append(role.id)
        elif not add and role.id in member.roles:
            member.roles.remove(role.id)
        await self.emu.publish_member_update(guild, user_id, self.world.bot.id, before)
        return no_content()

    async def kick(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        user_id = self._user_id(request)
        if user_id not in guild.members:
            raise unknown("Member", 10007)
        self._require(guild.id, KICK_MEMBERS)
        self._require_above(guild, user_id)
        await self.emu.publish_member_remove(guild, user_id, "kick", self.world.bot.id, reason=_reason(request))
        return no_content()

    async def get_bans(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        self._require(guild.id, BAN_MEMBERS)
        return json_response([{"user": self.world.user_payload(u), "reason": r} for u, r in guild.bans.items()])

    async def get_ban(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        user_id = self._user_id(request)
        if user_id not in guild.bans:
            raise unknown("Ban", 10026)
        return json_response({"user": self.world.user_payload(user_id), "reason": guild.bans[user_id]})

    async def ban(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        user_id = self._user_id(request)
        self._require(guild.id, BAN_MEMBERS)
        if user_id in guild.members:
            self._require_above(guild, user_id)
        guild.bans[user_id] = _reason(request)
        seconds = int((body.json or {}).get("delete_message_seconds") or 0)
        if user_id in guild.members:
            await self.emu.publish_member_remove(guild, user_id, "ban", self.world.bot.id, reason=_reason(request))
        else:
            self.emu.events.emit(
                "ban",
                {"guild_id": str(guild.id), "user_id": str(user_id), "reason": _reason(request)},
                self.world.bot.id,
            )
        if seconds:
            await self.emu.delete_recent_messages(guild, user_id, seconds)
        return no_content()

    async def unban(self, request: web.Request, body: Body) -> web.Response:
        guild = self._guild(request)
        user_id = self._user_id(request)
        self._require(guild.id, BAN_MEMBERS)
        if guild.bans.pop(user_id, "missing") == "missing":
            raise unknown("Ban", 10026)
        self.emu.events.emit("unban", {"guild_id": str(guild.id), "user_id": str(user_id)}, self.world.bot.id)
        return no_content()

    # --- application commands -------------------------------------------------------------------------------
    def _scope(self, request: web.Request) -> int | None:
        if _id(request, "app_id") != self.world.application_id:
            raise unknown("Application", 10002)
        return self._guild(request).id if "guild_id" in request.match_info else None

    def _command(self, request: web.Request, scope: int | None) -> Command:
        command = self.world.commands.get(_id(request, "command_id"))
        if command is None or command.guild_id != scope:
            raise unknown("application command", 10063)
        return command

    async def get_commands(self, request: web.Request, body: Body) -> web.Response:
        scope = self._scope(request)
        return json_response([self.world.command_payload(c) for c in self.world.guild_commands(scope)])

    def _upsert(self, scope: int | None, data: dict[str, Any]) -> Command:
        name, type_ = data["name"], int(data.get("type", 1))
        for command in self.world.guild_commands(scope):
            if command.name == name and command.type == type_:  # Discord's upsert: same name+type keeps its id
                command.body = data
                command.version += 1
                return command
        command = Command(
            id=self.world.ids.next(),
            application_id=self.world.application_id,
            guild_id=scope,
            name=name,
            type=type_,
            body=data,
        )
        self.world.commands[command.id] = command
        return command

    async def upsert_command(self, request: web.Request, body: Body) -> web.Response:
        scope = self._scope(request)
        command = self._upsert(scope, body.json)
        payload = self.world.command_payload(command)
        self.emu.events.emit("command_registered", payload, self.world.bot.id)
        return json_response(payload, status=201)

    async def overwrite_commands(self, request: web.Request, body: Body) -> web.Response:
        scope = self._scope(request)
        kept = [self._upsert(scope, data) for data in body.json or []]
        for command in self.world.guild_commands(scope):
            if command not in kept:
                del self.world.commands[command.id]
                self.emu.events.emit("command_deleted", self.world.command_payload(command), self.world.bot.id)
        payloads = [self.world.command_payload(c) for c in kept]
        for payload in payloads:
            self.emu.events.emit("command_registered", payload, self.world.bot.id)
        return json_response(payloads)

    async def get_command(self, request: web.Request, body: Body) -> web.Response:
        return json_response(self.world.command_payload(self._command(request, self._scope(request))))

    async def edit_command(self, request: web.Request, body: Body) -> web.Response:
        command = self._command(request, self._scope(request))
        command.body = {**command.body, **(body.json or {})}
        command.name = command.body["name"]
        command.version += 1
        payload = self.world.command_payload(command)
        self.emu.events.emit("command_registered", payload, self.world.bot.id)
        return json_response(payload)

    async def delete_command(self, request: web.Request, body: Body) -> web.Response:
        command = self._command(request, self._scope(request))
        del self.world.commands[command.id]
        self.emu.events.emit("command_deleted", self.world.command_payload(command), self.world.bot.id)
        return no_content()

    # --- interactions and webhooks (authenticated by the token in the URL, not the bot token) ---------------
    def _interaction(self, request: web.Request) -> InteractionRecord | None:
        record = self.emu.interactions_by_token.get(request.match_info["token"])
        if record is None:
            return None
        key = "interaction_id" if "interaction_id" in request.match_info else "webhook_id"
        expected = record.id if key == "interaction_id" else self.world.application_id
        return record if _id(request, key) == expected else None

    async def interaction_callback(self, request: web.Request, body: Body) -> web.Response:
        record = self._interaction(request)
        if record is None:
            raise unknown("interaction", 10062)
        if record.callbacks:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        data = body.json or {}
        record.callbacks.append(data)
        kind = int(data["type"])
        inner = data.get("data") or {}
        channel = self.world.channels[record.channel_id]
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            flags = int(inner.get("flags") or 0) | (LOADING if kind == DEFERRED_CHANNEL_MESSAGE else 0)
            message = self._message_from_body(
                channel, self.world.bot.id, {**inner, "flags": flags}, body, interaction_id=record.id
            )
            record.original_message_id = message.id
            await self.emu.publish_message(message, self.world.bot.id)
        elif kind == UPDATE_MESSAGE and record.original_message_id:
            message = channel.messages[record.original_message_id]
            self._apply_edit(message, Body(json=inner, files=body.files))
            await self.emu.publish_edit(message, self.world.bot.id)
        self.emu.events.emit(
            "interaction_response",
            {"interaction_id": str(record.id), "channel_id": str(record.channel_id), "type": kind, "data": inner},
            self.world.bot.id,
        )
        record.touch()
        return no_content()

    def _hook_message(self, request: web.Request, record: InteractionRecord | None) -> Message:
        raw = request.match_info["message_id"]
        if record is not None and raw == "@original":
            if record.original_message_id is None:
                raise unknown("Message", 10008)
            message_id = record.original_message_id
        else:
            message_id = _id(request, "message_id")
        message = self.world.find_message(message_id)
        if message is None or message.deleted:
            raise unknown("Message", 10008)
        return message

    def _webhook(self, request: web.Request) -> Any:
        hook = self.world.webhooks.get(_id(request, "webhook_id"))
        if hook is None or hook.token != request.match_info["token"]:
            raise unknown("Webhook", 10015)
        if hook.answer_status is not None:
            raise ApiError(hook.answer_status, 10015 if hook.answer_status == 404 else 0, "Unknown Webhook")
        return hook

    async def get_webhook(self, request: web.Request, body: Body) -> web.Response:
        hook = self._webhook(request)
        return json_response(
            {
                "id": str(hook.id),
                "type": 1,
                "token": hook.token,
                "channel_id": str(hook.channel_id),
                "guild_id": str(hook.guild_id) if hook.guild_id else None,
                "name": hook.name,
                "avatar": None,
                "application_id": None,
            }
        )

    async def execute_webhook(self, request: web.Request, body: Body) -> web.Response:
        data = body.json or {}
        record = self._interaction(request)
        if record is not None:  # an interaction follow-up
            channel = self.world.channels[record.channel_id]
            message = self._message_from_body(channel, self.world.bot.id, data, body, interaction_id=record.id)
            if record.original_message_id is None:
                record.original_message_id = message.id
            record.followup_ids.append(message.id)
            await self.emu.publish_message(message, self.world.bot.id)
            self.emu.events.emit(
                "followup",
                {"interaction_id": str(record.id), "message_id": str(message.id), "channel_id": str(channel.id)},
            )
            record.touch()
            return json_response(self.world.message_payload(message))
        hook = self._webhook(request)
        author = self.emu.webhook_user(hook, data.get("username"))
        message = self._message_from_body(
            self.world.channels[hook.channel_id], author.id, data, body, webhook_id=hook.id
        )
        await self.emu.publish_message(message, author.id)
        self.emu.events.emit(
            "webhook_execute", {"webhook_id": str(hook.id), "channel_id": str(hook.channel_id), "json": data}
        )
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(self.world.message_payload(message))
        return no_content()

    async def get_webhook_message(self, request: web.Request, body: Body) -> web.Response:
        record = self._interaction(request)
        if record is None:
            self._webhook(request)
        return json_response(self.world.message_payload(self._hook_message(request, record)))

    async def edit_webhook_message(self, request: web.Request, body: Body) -> web.Response:
        record = self._interaction(request)
        if record is None:
            self._webhook(request)
        message = self._hook_message(request, record)
        self._apply_edit(message, body)
        message.flags &= ~LOADING  # editing a deferred response replaces the "thinking..." placeholder
        await self.emu.publish_edit(message, self.world.bot.id)
        if record is not None:
            record.touch()
        return json_response(self.world.message_payload(message))

    async def delete_webhook_message(self, request: web.Request, body: Body) -> web.Response:
        record = self._interaction(request)
        if record is None:
            self._webhook(request)
        await self.emu.publish_delete(self._hook_message(request, record), self.world.bot.id)
        return no_content()


def _id(request: web.Request, key: str) -> int:
    try:
        return int(request.match_info[key])
    except ValueError:
        raise ApiError(400, 50035, f"Invalid Form Body: {key} is not a snowflake") from None


def _reason(request: web.Request) -> str | None:
    from urllib.parse import unquote

    reason = request.headers.get("X-Audit-Log-Reason")
    return unquote(reason) if reason else None


def _guess_type(f: Any) -> str | None:
    # nextcord labels every upload application/octet-stream; Discord sniffs the real type, so do we for images.
    head = f.data[:12]
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if head.startswith(b"GIF8"):
        return "image/gif"
    if head[8:12] == b"WEBP":
        return "image/webp"
    return f.content_type
