"""The gateway websocket: HELLO, heartbeats, IDENTIFY -> READY + GUILD_CREATE, RESUME, sharded dispatch.

Frames are plain JSON TEXT (no zlib even when the client asks for `compress=zlib-stream`; nextcord accepts
both). A session survives its socket so that RESUME can replay what the client missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.emulator.world import World

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE, RESUME, RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, ACK = (
    0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11,
)  # fmt: skip
HEARTBEAT_INTERVAL_MS = 41_250

# Intents (https://discord.com/developers/docs/topics/gateway#gateway-intents) an event needs, as Discord
# enforces them: a bot that forgets GUILD_MEMBERS or MESSAGE_CONTENT here sees what it would see in production.
GUILD_MEMBERS = 1 << 1
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
GUILD_MESSAGE_TYPING = 1 << 11
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
DIRECT_MESSAGE_TYPING = 1 << 14
MESSAGE_CONTENT = 1 << 15

_GUILD_INTENT = {
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
    "MESSAGE_DELETE_BULK": GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": GUILD_MESSAGE_REACTIONS,
    "TYPING_START": GUILD_MESSAGE_TYPING,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
}
_DM_INTENT = {
    "MESSAGE_CREATE": DIRECT_MESSAGES,
    "MESSAGE_UPDATE": DIRECT_MESSAGES,
    "MESSAGE_DELETE": DIRECT_MESSAGES,
    "MESSAGE_REACTION_ADD": DIRECT_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": DIRECT_MESSAGE_REACTIONS,
    "TYPING_START": DIRECT_MESSAGE_TYPING,
}


@dataclass
class Session:
    id: str
    intents: int
    shard: tuple[int, int]
    ws: web.WebSocketResponse | None = None
    seq: int = 0
    sent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=1000))  # for RESUME replay

    def wants_guild(self, guild_id: int | None) -> bool:
        shard_id, count = self.shard
        if guild_id is None:  # DMs go to shard 0, as on Discord
            return shard_id == 0
        return (guild_id >> 22) % count == shard_id


class Gateway:
    def __init__(self, world: World, token: str) -> None:
        self.world = world
        self.token = token
        self.sessions: dict[str, Session] = {}
        self.url = ""  # ws://host:port/gateway, set by the server
        self.identified = asyncio.Event()

    @property
    def live_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.ws is not None and not s.ws.closed]

    # --- dispatch -------------------------------------------------------------------------------------------
    async def dispatch(self, event: str, data: dict[str, Any], *, guild_id: int | None) -> int:
        """Send `event` to every live session whose shard owns `guild_id` and whose intents allow it.

        Returns how many sessions got it.
        """
        sent = 0
        for session in list(self.sessions.values()):
            if not session.wants_guild(guild_id):
                continue
            needed = (_GUILD_INTENT if guild_id is not None else _DM_INTENT).get(event, 0)
            if needed and not session.intents & needed:
                continue
            payload = self._apply_content_intent(session, event, data, guild_id)
            if await self._send_dispatch(session, event, payload):
                sent += 1
        return sent

    def _apply_content_intent(
        self, session: Session, event: str, data: dict[str, Any], guild_id: int | None
    ) -> dict[str, Any]:
        # Without MESSAGE_CONTENT Discord blanks guild messages that neither mention the bot nor come from it.
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or session.intents & MESSAGE_CONTENT or guild_id is None:
            return data
        bot_id = str(self.world.bot.id)
        if data.get("author", {}).get("id") == bot_id or any(m["id"] == bot_id for m in data.get("mentions", [])):
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    async def _send_dispatch(self, session: Session, event: str, data: dict[str, Any]) -> bool:
        session.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.sent.append(frame)
        if session.ws is None or session.ws.closed:
            return False  # kept in `sent`; a RESUME replays it
        try:
            await session.ws.send_str(json.dumps(frame))
        except ConnectionError:
            return False
        return True

    async def reconnect_all(self) -> None:
        """Ask every client to reconnect (op 7), which makes nextcord RESUME on resume_gateway_url."""
        for session in self.live_sessions:
            assert session.ws is not None
            await session.ws.send_str(json.dumps({"op": RECONNECT, "d": None, "s": None, "t": None}))

    async def close_all(self) -> None:
        for session in self.live_sessions:
            assert session.ws is not None
            await session.ws.close(code=4000, message=b"emulator stopping")

    # --- the websocket --------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        await ws.send_str(
            json.dumps({"op": HELLO, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}, "s": None, "t": None})
        )
        session: Session | None = None
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op, d = frame.get("op"), frame.get("d")
                if op == HEARTBEAT:
                    await ws.send_str(json.dumps({"op": ACK, "d": None, "s": None, "t": None}))
                elif op == IDENTIFY:
                    session = await self._identify(ws, d)
                elif op == RESUME:
                    session = await self._resume(ws, d)
                elif op == REQUEST_MEMBERS and session is not None:
                    await self._members_chunk(session, d)
                elif op in (PRESENCE, VOICE):
                    pass  # accepted and ignored: presence and voice are not modelled
                else:
                    log.warning("emulator gateway: unhandled op %s", op)
        finally:
            if session is not None and session.ws is ws:
                session.ws = None
        return ws

    async def _identify(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> Session | None:
        if d.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        shard_id, count = d.get("shard") or (0, 1)
        session = Session(id=secrets.token_hex(16), intents=int(d.get("intents", 0)), shard=(shard_id, count), ws=ws)
        self.sessions[session.id] = session
        guild_ids = [g for g in self.world.guilds if session.wants_guild(g)]
        bot = self.world.bot
        ready = {
            "v": 10,
            "user": {**self.world.user_payload(bot.id), "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
            "session_id": session.id,
            "resume_gateway_url": self.url,
            "shard": [shard_id, count],
            "application": {"id": str(self.world.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "_trace": ["steward-emulator"],
        }
        await self._send_dispatch(session, "READY", ready)
        for guild_id in guild_ids:
            await self._send_dispatch(session, "GUILD_CREATE", self.world.guild_create_payload(guild_id))
        self.identified.set()
        return session

    async def _resume(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> Session | None:
        session = self.sessions.get(d.get("session_id", ""))
        if d.get("token") != self.token or session is None:
            await ws.send_str(json.dumps({"op": INVALID_SESSION, "d": False, "s": None, "t": None}))
            return None
        session.ws = ws
        last = d.get("seq") or 0
        for frame in list(session.sent):
            if frame["s"] > last:
                await ws.send_str(json.dumps(frame))
        await self._send_dispatch(session, "RESUMED", {"_trace": ["steward-emulator"]})
        return session

    async def _members_chunk(self, session: Session, d: dict[str, Any]) -> None:
        guild = self.world.guilds.get(int(d["guild_id"]))
        if guild is None:
            return
        wanted = {int(u) for u in d.get("user_ids") or []}
        query = (d.get("query") or "").lower()
        limit = d.get("limit") or len(guild.members)
        members = [
            self.world.member_payload(guild.id, uid)
            for uid in guild.members
            if (not wanted or uid in wanted) and self.world.users[uid].username.lower().startswith(query)
        ][:limit]
        chunk = {"guild_id": str(guild.id), "members": members, "chunk_index": 0, "chunk_count": 1}
        if d.get("nonce"):
            chunk["nonce"] = d["nonce"]
        await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)
