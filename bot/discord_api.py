"""Where nextcord sends its REST calls.

nextcord builds every REST URL (and the interaction/webhook URLs) from the class attribute
`nextcord.http.Route.BASE`; the gateway URL it then asks that REST API for (`GET /gateway`). So pointing
`Route.BASE` at another base URL is all it takes to run the real, unpatched client against the in-repo emulator
(`bot/emulator/`) for tests and `bot console`. It is process-wide: every client in the process follows it.
"""

from __future__ import annotations

DISCORD_API_BASE = "https://discord.com/api/v10"


def use_api_base(api_base: str = DISCORD_API_BASE) -> None:
    """Point nextcord's REST (and thereby its gateway discovery) at `api_base`, e.g. an emulator's
    `http://127.0.0.1:PORT/api/v10`; call with no argument to go back to real Discord."""
    from nextcord.http import Route  # imported here so pure-core modules can import this file cheaply

    Route.BASE = api_base.rstrip("/")


def current_api_base() -> str:
    from nextcord.http import Route

    return Route.BASE
