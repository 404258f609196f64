"""Logging set-up: plain lines on stderr, with every configured secret scrubbed from every record."""

from __future__ import annotations

import logging
import re

from bot.config import Config, secrets_of


class SecretFilter(logging.Filter):
    """Replaces secret values (tokens, API keys, passwords in URLs) with *** in every log record."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        usable = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, usable))) if usable else None

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        message = record.getMessage()
        if self._pattern.search(message):
            record.msg = self._pattern.sub("***", message)
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks are rendered later; render now so the secret can be scrubbed from them too.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._pattern.sub("***", text)
        return True


def setup_logging(config: Config | None = None, level: str | None = None) -> None:
    level_name = (level or (config.bot.log_level if config else "INFO")).upper()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    if config is not None:
        handler.addFilter(SecretFilter(secrets_of(config)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_name)
    # nextcord and the HTTP clients are chatty at INFO; their warnings still show.
    for noisy in ("nextcord", "httpx", "openai", "aiosqlite", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # Steward has no voice features; nextcord's warning about the voice library would only confuse.
    logging.getLogger("nextcord.client").addFilter(lambda r: "PyNaCl" not in r.getMessage())
