"""The shutdown watchdog of `bot run`: a process whose orderly exit hangs still ends, with code 1 and a log line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_HANGS = """
import time
from bot.runner import _exit_if_shutdown_hangs
_exit_if_shutdown_hangs(0.3)
time.sleep(30)  # a shutdown stuck on something that never finishes
"""

_FINISHES = """
from bot.runner import _exit_if_shutdown_hangs
_exit_if_shutdown_hangs(30)
print("done")  # a normal exit does not wait for the watchdog
"""


def test_a_hanging_shutdown_is_ended_by_the_watchdog() -> None:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _HANGS], cwd=ROOT, capture_output=True, text=True, timeout=20)
    assert proc.returncode == 1
    assert time.monotonic() - started < 15
    assert "shutdown did not finish within 0 s" in proc.stderr


def test_a_normal_exit_does_not_wait_for_the_watchdog() -> None:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _FINISHES], cwd=ROOT, capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0 and proc.stdout.strip() == "done"
    assert time.monotonic() - started < 15
