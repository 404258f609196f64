"""`bot notify` posts the right embed to a real webhook route (the emulator's), and handles 404 and 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.emulator import Emulator
from bot.ops.notify import GREEN, GREY, OTHER_COLOUR, RED, StatusEvent, build_payload, colour_for, redact_webhook
from tests.ops.conftest import run_bot

pytestmark = pytest.mark.anyio


def test_colour_follows_status() -> None:
    assert colour_for("success") == GREEN
    assert colour_for("FAILURE") == RED
    assert colour_for("cancelled") == GREY
    assert colour_for("running") not in (GREEN, RED, GREY, OTHER_COLOUR)
    assert colour_for("something-else") == OTHER_COLOUR


def test_payload_has_fields_and_never_pings() -> None:
    ev = StatusEvent("deploy", "success", "v1.2 is live @everyone", ref="main", commit="0123456789abcdef", actor="ci")
    body = build_payload(ev)
    (embed,) = body["embeds"]
    assert body["allowed_mentions"] == {"parse": []}
    assert embed["title"] == "deploy: success"
    assert embed["description"] == "v1.2 is live @everyone"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields == {"Ref": "main", "Commit": "0123456789ab", "Actor": "ci"}


def test_redaction_hides_the_token() -> None:
    url = "https://discord.com/api/webhooks/123456/s3cr3t-t0ken"
    assert redact_webhook(url) == "https://discord.com/api/webhooks/123456/***"
    assert "s3cr3t" not in redact_webhook(url + "?wait=true")


async def test_notify_posts_a_coloured_embed(emulator: Emulator, tmp_path: Path) -> None:
    guild = emulator.create_guild("Ops")
    hook = emulator.create_webhook(guild.system_channel_id)  # type: ignore[arg-type]
    env = {"STATUS_WEBHOOK": emulator.webhook_direct_url(hook)}
    args = ["--event", "deploy", "--status", "failure", "--summary", "rollout failed", "--ref", "main"]
    args += ["--commit", "abcdef1234567890", "--actor", "alice", "--url", "https://ci.example/run/7"]
    proc = await run_bot("notify", *args, "--component", "gateway", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    (call,) = [e.data for e in emulator.events.events if e.kind == "webhook_execute"]
    (embed,) = call["json"]["embeds"]
    assert embed["color"] == RED
    assert embed["title"] == "gateway deploy: failure"
    assert embed["url"] == "https://ci.example/run/7"
    assert {f["name"]: f["value"] for f in embed["fields"]} == {
        "Component": "gateway",
        "Ref": "main",
        "Commit": "abcdef123456",
        "Actor": "alice",
    }
    (message,) = emulator.messages(guild.system_channel_id)  # type: ignore[arg-type]
    assert message.embeds[0]["description"] == "rollout failed"
    assert hook.token not in (proc.stdout + proc.stderr).decode()


async def test_deleted_webhook_warns_and_exits_0(emulator: Emulator, tmp_path: Path) -> None:
    guild = emulator.create_guild("Ops")
    hook = emulator.create_webhook(guild.system_channel_id)  # type: ignore[arg-type]
    emulator.fail_webhook(hook, 404)
    env = {"STATUS_WEBHOOK": emulator.webhook_direct_url(hook)}
    proc = await run_bot("notify", "--event", "ci", "--status", "success", env=env, cwd=tmp_path)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "warning" in err and "404" in err
    assert hook.token not in err + proc.stdout.decode()
    assert emulator.messages(guild.system_channel_id) == []  # type: ignore[arg-type]


async def test_other_http_errors_exit_1_with_one_line(emulator: Emulator, tmp_path: Path) -> None:
    guild = emulator.create_guild("Ops")
    hook = emulator.create_webhook(guild.system_channel_id)  # type: ignore[arg-type]
    emulator.fail_webhook(hook, 500)
    env = {"STATUS_WEBHOOK": emulator.webhook_direct_url(hook)}
    proc = await run_bot("notify", "--event", "ci", "--status", "success", env=env, cwd=tmp_path)
    err = proc.stderr.decode().strip()
    assert proc.returncode == 1
    assert len(err.splitlines()) == 1 and "HTTP 500" in err
    assert hook.token not in err
