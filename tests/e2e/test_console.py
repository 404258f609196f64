"""`bot console` driven the way a person would: in tmux, typing with send-keys, reading the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.services import free_port, in_ci

BOT = str(Path(sys.executable).with_name("bot"))
ROOT = Path(__file__).resolve().parents[2]


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def _wait_for_screen(session: str, needle: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux("capture-pane", "-p", "-t", session, "-S", "-200")
        if needle in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} did not appear within {timeout}s; screen:\n{screen}")


@pytest.fixture
def fake_openai_process():  # type: ignore[no-untyped-def]
    """tests/openai_server.py as its own process (the console test is synchronous): replies "Hello from the fake"."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.openai_server", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and "fake OpenAI server" in proc.stdout.readline()
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def console_session(tmp_path: Path, fake_openai_process: str):
    if shutil.which("tmux") is None:
        if in_ci():
            pytest.fail("tmux is not installed; CI=true so this is a failure")
        pytest.skip("tmux is not installed")
    session = f"steward-console-{uuid.uuid4().hex[:8]}"
    env = {
        "STEWARD_BOT__DATA_DIR": str(tmp_path),
        # The default cogs; the LLM answers from the fake OpenAI-compatible server started for this test.
        "OPENAI_BASE_URL": fake_openai_process,
        "OPENAI_API_KEY": "test-key",
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "TERM": "xterm",
    }
    env_args = [f"{k}={v}" for k, v in env.items()]
    _tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", "env", "-i", *env_args, BOT, "console")
    try:
        yield session
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_console_chat_shows_the_bots_replies_and_exits_cleanly(console_session: str) -> None:
    _wait_for_screen(console_session, "Type :help for commands.")
    _tmux("send-keys", "-t", console_session, "/status", "Enter")
    _wait_for_screen(console_session, "Steward said: Worker `")
    # A plain typed message that mentions the bot gets the model's streamed answer as a reply.
    _tmux("send-keys", "-t", console_session, "@Steward hello there, how are you?", "Enter")
    _wait_for_screen(console_session, "Hello from the fake")
    _tmux("send-keys", "-t", console_session, ":user bob", "Enter")
    _wait_for_screen(console_session, "bob #general>")
    _tmux("send-keys", "-t", console_session, "C-c", "")
    _wait_for_screen(console_session, "bye")
