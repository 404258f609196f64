"""Run the Discord emulator on its own: `python -m bot.emulator --port 8790`.

Prints the API base and token to give the bot (STEWARD's config / `use_api_base`), then logs every effect
(messages, edits, deletions, roles, timeouts...) until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from bot.emulator.demo import seed_demo
from bot.emulator.events import Event, describe
from bot.emulator.server import DEFAULT_TOKEN, Emulator


async def serve(host: str, port: int, token: str, demo: bool, show_http: bool) -> None:
    emu = Emulator(host=host, port=port, token=token)
    world = seed_demo(emu) if demo else None
    await emu.start()
    print(f"Discord emulator on {emu.url}", flush=True)
    print(f"  API base (Route.BASE): {emu.api_base}")
    print(f"  gateway:               {emu.gateway.url}")
    print(f"  bot token:             {emu.token}")
    print(f"  application id:        {emu.application_id}", flush=True)
    if world is not None:
        print(f"  demo world:            {world}", flush=True)

    def show(event: Event) -> None:
        if event.kind != "http" or show_http:
            print(describe(event), flush=True)

    emu.events.subscribe(show)
    try:
        await asyncio.Event().wait()  # until Ctrl-C cancels us
    finally:
        await emu.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--no-demo", action="store_true", help="start with an empty world")
    parser.add_argument("--http", action="store_true", help="also print every REST call")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.token, not args.no_demo, args.http))


if __name__ == "__main__":
    main()
