"""Settings: defaults < TOML file < environment.

Every key lives in a section dataclass below; `config.example.toml` documents each one with its default (a test
checks that the two agree). Well-known variables (`DISCORD_TOKEN`, `REDIS_URL`, ...) map to their key, and any key
can be overridden as `STEWARD_<SECTION>__<KEY>` (double underscore between section and key, since keys contain
single underscores), e.g. `STEWARD_QUEUE__WORKER_CONCURRENCY=4`.

Bad input is one `ConfigError` line naming the key; secrets are masked whenever the config is shown.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

from bot.typed import TypeMismatch, check_type

Role = Literal["all", "gateway", "worker"]

SECRET = {"secret": True}


class ConfigError(ValueError):
    """A configuration problem, phrased as one line that names the key."""


def _secret(default: str = "") -> Any:
    return field(default=default, metadata=SECRET)


@dataclass
class BotSettings:
    data_dir: str = "data"  # SQLite database and other local state live here
    log_level: str = "INFO"
    instance_name: str = ""  # shown in /status and notifier embeds; defaults to the host name


@dataclass
class DiscordSettings:
    token: str = _secret()
    api_base: str = "https://discord.com/api/v10"  # point at the in-repo emulator for tests and `bot console`
    cogs: list[str] = field(default_factory=lambda: ["status", "antispam", "leveling", "events", "llm", "safety"])
    sync_commands_on_start: bool = False  # `bot sync-commands` does it on demand without restart rate limits
    command_guild_ids: list[int] = field(default_factory=list)  # register slash commands per guild (instant)
    message_content_intent: bool = True
    members_intent: bool = True
    shard_ids: list[int] = field(default_factory=list)
    shard_count: int = 0
    guild_ready_timeout: float = 2.0  # seconds nextcord waits for more guilds before READY (emulator: ~0)


@dataclass
class QueueSettings:
    backend: Literal["auto", "memory", "redis"] = "auto"  # auto: redis when redis_url is set, else memory
    redis_url: str = _secret()
    namespace: str = "steward"
    result_ttl: int = 300  # seconds a result stays on <ns>:results:<job_id>
    worker_concurrency: int = 8  # jobs one worker process runs at once
    shutdown_grace: float = 20.0  # seconds in-flight jobs get to finish on SIGTERM
    reliable: bool = True  # BLMOVE into a processing list + heartbeats + reaper (at-least-once)
    max_attempts: int = 3  # a job is dead-lettered after this many failed attempts
    heartbeat_interval: float = 5.0
    heartbeat_ttl: float = 15.0  # a worker silent this long is presumed dead and its tasks are requeued
    wait_timeouts: dict[str, float] = field(
        default_factory=lambda: {"llm_reply": 75.0, "safety_scan": 30.0, "ping": 10.0}
    )
    default_wait_timeout: float = 30.0


@dataclass
class DatabaseSettings:
    url: str = _secret()  # empty: sqlite+aiosqlite:///<data_dir>/steward.db
    allow_experimental_postgres: bool = False  # read for old deployments; Postgres needs no flag any more
    message_retention_days: int = 30  # stored message content older than this is purged (every 6 h)


@dataclass
class LLMSettings:
    base_url: str = ""  # any OpenAI-compatible endpoint; empty = LLM replies off
    api_key: str = _secret()
    model: str = "gpt-4o-mini"
    temperature: float = 0.7
    max_tokens: int = 800
    system_prompt: str = "You are Steward, a friendly assistant in a Discord community. Be concise and helpful."
    extra_headers: dict[str, str] = field(default_factory=dict)
    extra_body: dict[str, Any] = field(default_factory=dict)
    max_context_messages: int = 25
    max_context_chars: int = 20000
    request_timeout: float = 70.0
    max_retries: int = 1  # the openai client's own quick retries; the worker retries 429s on top with backoff
    stream: bool = True  # stream tokens through the queue so the reply grows while the model writes
    stream_usage: bool = True  # ask for token usage on streams (stream_options); off for endpoints that reject it
    allow_dms: bool = False  # answer direct messages


@dataclass
class SafetySettings:
    moderation_model: str = "omni-moderation-latest"
    guard_base_url: str = ""  # OpenAI-compatible endpoint serving a guard model (e.g. Llama Guard)
    guard_api_key: str = _secret()
    guard_model: str = "llama-guard3"
    moderation_base_url: str = ""  # empty: llm.base_url (the moderation endpoint is OpenAI's)
    moderation_api_key: str = _secret()  # empty: llm.api_key


@dataclass
class MetricsSettings:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9108  # /metrics and /healthz; 0 picks a free port
    health_stale_after: float = 30.0  # /healthz fails when a worker has not dequeued for this long (seconds)
    queue_poll_interval: float = 15.0  # seconds between queue-depth refreshes (gauge and alerts)


@dataclass
class NotifySettings:
    status_webhook: str = _secret()  # Discord webhook URL for deploy/CI and bot alerts
    alerts: bool = True  # the running bot posts its own alerts (started/stopped, no workers, backlog, dead letters)
    alert_interval: float = 900.0  # seconds between two alerts of the same kind
    backlog_threshold: int = 100  # alert when more tasks than this are waiting
    no_workers_after: float = 60.0  # alert when no worker has been alive for this long (seconds)


@dataclass
class Config:
    bot: BotSettings = field(default_factory=BotSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    safety: SafetySettings = field(default_factory=SafetySettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)

    # --- derived values, computed in one place ---
    @property
    def queue_backend(self) -> Literal["memory", "redis"]:
        if self.queue.backend == "auto":
            return "redis" if self.queue.redis_url else "memory"
        return self.queue.backend

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{Path(self.bot.data_dir).resolve() / 'steward.db'}"

    def wait_timeout(self, job_type: str) -> float:
        return self.queue.wait_timeouts.get(job_type, self.queue.default_wait_timeout)


# Well-known environment variables, kept for compatibility with the seed system's deployments.
ENV_ALIASES: dict[str, tuple[str, str]] = {
    "DISCORD_TOKEN": ("discord", "token"),
    "REDIS_URL": ("queue", "redis_url"),
    "TASK_NAMESPACE": ("queue", "namespace"),
    "DATABASE_URL": ("database", "url"),
    "ALLOW_EXPERIMENTAL_POSTGRES": ("database", "allow_experimental_postgres"),
    "OPENAI_API_KEY": ("llm", "api_key"),
    "OPENAI_BASE_URL": ("llm", "base_url"),
    "STATUS_WEBHOOK": ("notify", "status_webhook"),
}
ENV_PREFIX = "STEWARD_"

# Keys whose value must parse as a URL, with the schemes accepted.
URL_KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("queue", "redis_url"): ("redis", "rediss", "unix"),
    ("discord", "api_base"): ("http", "https"),
    ("llm", "base_url"): ("http", "https"),
    ("safety", "guard_base_url"): ("http", "https"),
    ("notify", "status_webhook"): ("http", "https"),
}


def _sections() -> dict[str, type]:
    hints = typing.get_type_hints(Config)
    return {f.name: hints[f.name] for f in dataclasses.fields(Config)}


def _field_types(section_cls: type) -> dict[str, Any]:
    return typing.get_type_hints(section_cls)


def _coerce(key: str, value: Any, typ: Any, *, from_env: bool) -> Any:
    """Check (TOML) or parse (environment strings) `value` as `typ`; raise ConfigError naming `key`."""
    if from_env and isinstance(value, str):
        value = _parse_env_string(key, value, typ)
    try:
        return check_type(key, value, typ)
    except TypeMismatch as exc:
        raise ConfigError(str(exc)) from None


def _parse_env_string(key: str, raw: str, typ: Any) -> Any:
    origin = get_origin(typ)
    if typ is bool:
        low = raw.strip().lower()
        if low in {"1", "true", "yes", "on"}:
            return True
        if low in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{key}: expected true/false, got {raw!r}")
    if typ is int or typ is float:
        try:
            return typ(raw.strip())
        except ValueError:
            raise ConfigError(f"{key}: expected {typ.__name__}, got {raw!r}") from None
    if origin is list:
        (item,) = get_args(typ)
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        return [_parse_env_string(f"{key}[{i}]", p, item) for i, p in enumerate(parts)]
    if origin is dict:
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError(f"{key}: expected a JSON object, got {raw!r}") from None
        return parsed
    return raw


def _check_url(key: str, url: str, schemes: tuple[str, ...]) -> None:
    if not url:
        return
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"{key}: not a valid URL ({exc}): {mask_url(url)}") from None
    if parts.scheme not in schemes or (parts.scheme != "unix" and not parts.hostname):
        raise ConfigError(f"{key}: expected a {'/'.join(schemes)} URL with a host, got {mask_url(url)!r}")


def _check_database_url(url: str) -> None:
    if not url:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"database.url: not a valid database URL: {mask_url(url)!r}") from None
    backend = parsed.get_backend_name()
    if backend not in {"sqlite", "postgresql", "postgres"}:
        raise ConfigError(f"database.url: only sqlite and postgresql are supported, got {backend!r}")


def mask_url(url: str) -> str:
    """The URL with its password (if any) replaced by ***, safe for logs and errors.

    A regex rather than a URL parser, so that unparsable input is masked too; greedy up to the last `@` before the
    path, because passwords may contain `@` and `:` (scheme://user:PASSWORD@host).
    """
    return _PASSWORD_IN_URL.sub(r"\1***@", url)


_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*:)[^\s/]*@")


def _apply(cfg: Config, section: str, key: str, value: Any, *, source: str, from_env: bool) -> None:
    sections = _sections()
    if section not in sections:
        raise ConfigError(f"{source}: unknown section [{section}] (known: {', '.join(sections)})")
    target = getattr(cfg, section)
    types_ = _field_types(type(target))
    if key not in types_:
        raise ConfigError(f"{source}: unknown key {section}.{key}")
    setattr(target, key, _coerce(f"{section}.{key}", value, types_[key], from_env=from_env))


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None, *, search_cwd: bool = True
) -> Config:
    """Build the effective config: defaults, then the TOML file, then the environment."""
    env = os.environ if env is None else env
    cfg = Config()
    if path is None and search_cwd and Path("config.toml").is_file():
        path = Path("config.toml")
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        for section, values in data.items():
            if not isinstance(values, dict):
                raise ConfigError(f"{path}: top-level key {section!r} must be a [section]")
            for key, value in values.items():
                _apply(cfg, section, key, value, source=str(path), from_env=False)
    for name, (section, key) in ENV_ALIASES.items():
        if name in env:
            _apply(cfg, section, key, env[name], source=f"${name}", from_env=True)
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            section, key = name[len(ENV_PREFIX) :].lower().split("__", 1)
            _apply(cfg, section, key, value, source=f"${name}", from_env=True)
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    for (section, key), schemes in URL_KEYS.items():
        _check_url(f"{section}.{key}", getattr(getattr(cfg, section), key), schemes)
    _check_database_url(cfg.database.url)
    positive = {
        "queue.worker_concurrency": cfg.queue.worker_concurrency,
        "queue.result_ttl": cfg.queue.result_ttl,
        "queue.max_attempts": cfg.queue.max_attempts,
        "database.message_retention_days": cfg.database.message_retention_days,
    }
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"{key}: must be at least 1, got {value}")
    if not cfg.queue.namespace or any(c.isspace() for c in cfg.queue.namespace):
        raise ConfigError(f"queue.namespace: must be non-empty with no spaces, got {cfg.queue.namespace!r}")
    if cfg.queue.heartbeat_ttl <= cfg.queue.heartbeat_interval:
        raise ConfigError("queue.heartbeat_ttl: must be longer than queue.heartbeat_interval")


def as_dict(cfg: Config, *, mask_secrets: bool = True) -> dict[str, dict[str, Any]]:
    """The effective config as plain data; secrets shown as *** (URLs keep their host, lose their password)."""
    out: dict[str, dict[str, Any]] = {}
    for section in dataclasses.fields(cfg):
        obj = getattr(cfg, section.name)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if mask_secrets and f.metadata.get("secret") and value:
                value = (
                    mask_url(value)
                    if "://" in value and "@" in value
                    else (value if "://" in value and f.name != "status_webhook" else "***")
                )
            values[f.name] = value
        out[section.name] = values
    return out


def secrets_of(cfg: Config) -> list[str]:
    """Every non-empty secret value, so log filters can scrub them."""
    found = []
    for section in dataclasses.fields(cfg):
        obj = getattr(cfg, section.name)
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.metadata.get("secret") and value:
                found.append(value)
                parsed_pw = urlsplit(value).password if "://" in value else None
                if parsed_pw:
                    found.append(parsed_pw)
    return found
