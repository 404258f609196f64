"""Config precedence, validation errors as one line naming the key, secret masking, and the example file."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.config import Config, ConfigError, as_dict, load_config, mask_url, secrets_of
from cli import app

ROOT = Path(__file__).resolve().parent.parent


def test_example_file_is_generated_from_the_dataclasses() -> None:
    from bot.config_example import render

    committed = (ROOT / "config.example.toml").read_text()
    assert committed == render(), (
        "config.example.toml is stale: run `python -m bot.config_example > config.example.toml`"
    )


def test_example_file_documents_every_key_with_its_default() -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    defaults = Config()
    for section in dataclasses.fields(defaults):
        keys = {f.name for f in dataclasses.fields(getattr(defaults, section.name))}
        assert set(example.get(section.name, {})) == keys, f"[{section.name}] keys differ from bot/config.py"
    assert load_config(ROOT / "config.example.toml", env={}) == defaults


def test_precedence_defaults_file_env(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[queue]\nnamespace = "from-file"\nworker_concurrency = 3\n')
    cfg = load_config(path, env={"TASK_NAMESPACE": "from-env"})
    assert cfg.queue.namespace == "from-env"
    assert cfg.queue.worker_concurrency == 3
    assert cfg.queue.result_ttl == 300
    cfg = load_config(path, env={"STEWARD_QUEUE__WORKER_CONCURRENCY": "5", "STEWARD_DISCORD__COMMAND_GUILD_IDS": "1,2"})
    assert cfg.queue.worker_concurrency == 5
    assert cfg.discord.command_guild_ids == [1, 2]


def test_redis_url_switches_backend_to_redis() -> None:
    assert load_config(env={}, search_cwd=False).queue_backend == "memory"
    assert load_config(env={"REDIS_URL": "redis://127.0.0.1:6379/0"}, search_cwd=False).queue_backend == "redis"


@pytest.mark.parametrize(
    ("toml", "env", "needle"),
    [
        ("[queue]\nworker_concurency = 3\n", {}, "unknown key queue.worker_concurency"),
        ("[queu]\nnamespace = 'x'\n", {}, "unknown section [queu]"),
        ("[queue]\nworker_concurrency = 'many'\n", {}, "queue.worker_concurrency: expected int"),
        ("", {"REDIS_URL": "localhost:6379"}, "queue.redis_url"),
        ("", {"DATABASE_URL": "mysql://u:pw@h/db"}, "database.url"),
        ("", {"STEWARD_QUEUE__RELIABLE": "maybe"}, "queue.reliable: expected true/false"),
        ("[queue]\nbackend = 'kafka'\n", {}, "queue.backend: must be one of"),
        ("not toml [", {}, "not valid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path: Path, toml: str, env: dict, needle: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_secrets_are_masked() -> None:
    cfg = load_config(
        env={
            "DISCORD_TOKEN": "tok.en.value",
            "REDIS_URL": "redis://:hunter2@127.0.0.1:6379/0",
            "OPENAI_API_KEY": "sk-secret",
            "DATABASE_URL": "postgresql://bob:pw123@db/steward",
        },
        search_cwd=False,
    )
    shown = str(as_dict(cfg))
    for secret in ("tok.en.value", "hunter2", "sk-secret", "pw123"):
        assert secret not in shown
    assert "redis://:***@127.0.0.1:6379/0" in shown
    assert {"tok.en.value", "hunter2", "sk-secret", "pw123"} <= set(secrets_of(cfg))
    assert mask_url("postgresql://bob:pw123@db/x") == "postgresql://bob:***@db/x"


def test_cli_config_check_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(app, ["config", "check"], env={"DISCORD_TOKEN": "abc.def.ghi"})
    assert good.exit_code == 0, good.output
    assert "[queue]" in good.output and "abc.def.ghi" not in good.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[queue]\nresult_ttl = -5\n")
    result = runner.invoke(app, ["config", "check", "--config", str(bad)])
    assert result.exit_code == 2
    assert "queue.result_ttl" in result.output
