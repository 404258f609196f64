"""`bot console`: the whole bot, offline, with a terminal chat standing in for Discord.

It starts the in-repo Discord emulator with a small demo server, runs Steward against it exactly as `bot run
--role=all` would (in-process queue, SQLite under <data_dir>/console), and lets you talk as a user:

    hello everyone              post in the current channel as the current user
    @Steward what's up?         @name is turned into a mention (the bot's name or any user's)
    /status                     run a slash command; options as key:value, e.g. /rank member:@bob
    /levels config announce_mode:dm     subcommands are plain words before the options
    :user bob   :channel bot-chat   :join carol   :leave   :who   :help   :quit

Everything the bot does (messages, edits, deletions, role changes, timeouts, kicks) is printed as it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from bot.config import Config
from bot.emulator import Emulator, EmulatorRefused, Event, describe
from bot.runner import Runtime, StartupError, serve, unwrap_startup_errors

HELP = __doc__.split("\n\n", 2)[2] if __doc__ else ""
QUIET_KINDS = {"http", "interaction_create", "command_registered", "command_deleted", "typing", "followup"}


@dataclass
class _Chat:
    emu: Emulator
    guild_id: int
    channel_id: int
    user_id: int

    def prompt(self) -> str:
        user = self.emu.world.users[self.user_id].username
        channel = self.emu.world.channels[self.channel_id].name
        return f"{user} #{channel}> "


def _demo_world(emu: Emulator) -> _Chat:
    guild = emu.create_guild("Steward Demo")
    emu.create_channel(guild.id, "bot-chat")
    emu.create_channel(guild.id, "mod-log")
    admin_role = emu.create_role(guild.id, "Admins", permissions=8)
    for name in ("alice", "bob", "admin"):
        user = emu.create_user(name)
        emu.add_member(guild.id, user.id)
        if name == "admin":
            emu.member(guild.id, user.id).roles.append(admin_role.id)
    alice = next(u for u in emu.world.users.values() if u.username == "alice")
    return _Chat(emu, guild.id, guild.system_channel_id, alice.id)  # type: ignore[arg-type]


def _find_user(emu: Emulator, name: str) -> int | None:
    name = name.lstrip("@").lower()
    for user in emu.world.users.values():
        if user.username.lower() == name:
            return user.id
    return None


def _mentions(emu: Emulator, text: str) -> str:
    """@name -> <@id> for known users (and the bot), so typing feels like Discord's client."""

    def repl(match: re.Match[str]) -> str:
        uid = _find_user(emu, match.group(1))
        return f"<@{uid}>" if uid else match.group(0)

    return re.sub(r"@([A-Za-z0-9_.]+)", repl, text)


def _slash_options(emu: Emulator, words: list[str]) -> tuple[list[str], dict[str, Any]]:
    path: list[str] = []
    options: dict[str, Any] = {}
    for word in words:
        if ":" in word:
            key, value = word.split(":", 1)
            uid = _find_user(emu, value) if value.startswith("@") else None
            options[key] = uid if uid else (int(value) if value.lstrip("-").isdigit() else value)
        else:
            path.append(word)
    return path, options


async def _handle_line(chat: _Chat, line: str, out: Any) -> bool:
    """One typed line; returns False to quit."""
    emu = chat.emu
    line = line.strip()
    if not line:
        return True
    if line.startswith(":"):
        cmd, *args = line[1:].split()
        if cmd in ("quit", "exit", "q"):
            return False
        if cmd == "help":
            out(HELP)
        elif cmd == "who":
            guild = emu.world.guilds[chat.guild_id]
            out("users: " + ", ".join(emu.world.users[m].username for m in guild.members))
            out(
                "channels: "
                + ", ".join(f"#{c.name}" for c in emu.world.channels.values() if c.guild_id == chat.guild_id)
            )
        elif cmd == "user" and args:
            uid = _find_user(emu, args[0])
            if uid is None:
                out(f"no user {args[0]!r} (try :join {args[0]})")
            else:
                chat.user_id = uid
        elif cmd == "channel" and args:
            name = args[0].lstrip("#")
            match = [c for c in emu.world.channels.values() if c.name == name and c.guild_id == chat.guild_id]
            if match:
                chat.channel_id = match[0].id
            else:
                out(f"no channel #{name}")
        elif cmd == "join" and args:
            uid = _find_user(emu, args[0]) or emu.create_user(args[0]).id
            await emu.member_join(chat.guild_id, uid)
            chat.user_id = uid
        elif cmd == "leave":
            await emu.member_leave(chat.guild_id, chat.user_id)
        else:
            out("unknown console command; :help lists them")
        return True
    try:
        if line.startswith("/"):
            name, *rest = shlex.split(line[1:])
            path, options = _slash_options(emu, rest)
            await emu.invoke_slash(
                chat.guild_id, chat.channel_id, chat.user_id, name, options, subcommand=path, wait_registered=2.0
            )
        else:
            await emu.post_message(chat.channel_id, chat.user_id, _mentions(emu, line))
    except EmulatorRefused as exc:
        out(f"(Discord would refuse that: {exc})")
    except (TimeoutError, ValueError, KeyError) as exc:
        out(f"(could not run that: {exc})")
    return True


def _printer(emu: Emulator, out: Any) -> Any:
    def on_event(event: Event) -> None:
        if event.kind in QUIET_KINDS:
            return
        if event.kind == "message_create" and int(event.data["author"]["id"]) != emu.bot.id:
            return  # the user's own lines are already on screen
        if event.kind == "interaction_response" and not (event.data.get("data") or {}).get("content"):
            return
        if event.kind == "message_create" and not (
            event.data.get("content") or event.data.get("embeds") or event.data.get("attachments")
        ):
            out("  * Steward is thinking...")
            return
        out(f"  * {describe(event)}")

    return on_event


async def _read_lines(queue: asyncio.Queue[str | None]) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        raw = await reader.readline()
        if not raw:
            await queue.put(None)
            return
        await queue.put(raw.decode(errors="replace"))


async def run_console(config: Config) -> None:
    out = _print
    emu = Emulator()
    await emu.start()
    chat = _demo_world(emu)
    config.discord.token = emu.token
    config.discord.api_base = emu.api_base
    config.discord.guild_ready_timeout = 0.05
    config.discord.sync_commands_on_start = True
    config.queue.backend = "memory"
    config.metrics.enabled = False
    config.bot.data_dir = str(Path(config.bot.data_dir) / "console")
    config.database.url = ""
    started = anyio.Event()
    runtime_box: list[Runtime] = []

    async def on_started(rt: Runtime) -> None:
        runtime_box.append(rt)
        started.set()

    unsubscribe = emu.events.subscribe(_printer(emu, out))
    served = anyio.Event()

    async def run_bot() -> None:
        try:
            await serve(config, "all", on_started=on_started, handle_signals=False)
        finally:
            served.set()

    try:
        async with unwrap_startup_errors(), anyio.create_task_group() as tg:
            tg.start_soon(run_bot)
            with anyio.fail_after(30):
                await started.wait()
                await runtime_box[0].bot.wait_until_ready()
            out("Steward is online in the emulated server 'Steward Demo'. Type :help for commands.")
            lines: asyncio.Queue[str | None] = asyncio.Queue()
            tg.start_soon(_read_lines, lines)
            tg.start_soon(_quit_on_signal, lines)
            while True:
                out(chat.prompt(), end="")
                line = await lines.get()
                if line is None or not await _handle_line(chat, line, out):
                    break
                await anyio.sleep(0.05)  # let the bot's immediate reactions print before the next prompt
            out("")
            runtime_box[0].stop()  # the same orderly shutdown as SIGTERM on `bot run`
            with anyio.move_on_after(20):
                await served.wait()
            tg.cancel_scope.cancel()
    finally:
        unsubscribe()
        with anyio.CancelScope(shield=True):
            await emu.stop()
        out("bye")


async def _quit_on_signal(lines: asyncio.Queue[str | None]) -> None:
    """Ctrl-C ends the chat like end-of-input does, so the bot shuts down in order."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            await lines.put(None)
            return


def _print(text: str, end: str = "\n") -> None:
    sys.stdout.write(text + end)
    sys.stdout.flush()


def main(config: Config) -> None:
    """Run the console; a start-up problem is one line on stderr and exit code 2."""
    try:
        with contextlib.suppress(KeyboardInterrupt):
            anyio.run(run_console, config)
    except StartupError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(exc.exit_code) from None
