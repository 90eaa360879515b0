"""The per-test hang guard (``tests/hang_guard.py``) on a throwaway test file, in a separate pytest process.

The inner run loads only the guard (``-p tests.hang_guard``, its own ini file, no ComfyUI), so it takes seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SLEEPERS = '''
import time

import pytest


@pytest.fixture
def slow_fixture():
    time.sleep(60)
    yield


def test_sleeps():
    time.sleep(60)


def test_swallows_exception():
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        try:
            time.sleep(60)
        except Exception:
            pass


def test_slow_setup(slow_fixture):
    pass


def test_quick():
    assert True
'''


def _run(tmp_path: Path, limit: str, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    (tmp_path / "test_sleepers.py").write_text(SLEEPERS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nfaulthandler_timeout = 120\n")
    env = {**os.environ, "INERTIA_TEST_TIMEOUT": limit, "PYTHONPATH": str(REPO)}
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.hang_guard",
                           "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), *args, str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return proc, time.monotonic() - t0


def test_a_test_past_the_limit_fails_naming_it_and_the_run_goes_on(tmp_path):
    proc, took = _run(tmp_path, "1")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    for name, phase in (("test_sleeps", "call"), ("test_swallows_exception", "call"), ("test_slow_setup", "setup")):
        assert (f"TestHangTimeout: test_sleepers.py::{name} ran past the per-test limit of 1 s (in its {phase}; the "
                "hang guard of tests/hang_guard.py, $INERTIA_TEST_TIMEOUT to change it)") in out, out
    assert "2 failed, 1 passed, 1 error" in out, out
    assert "time.sleep(60)" in out  # the traceback shows where each one was
    assert took < 40, took  # three 1 s limits, not three 60 s sleeps


def test_limit_must_be_a_number_and_stay_below_the_watchdog(tmp_path):
    proc, _ = _run(tmp_path, "soon")
    assert proc.returncode != 0 and "INERTIA_TEST_TIMEOUT='soon': give the per-test limit in seconds" in proc.stderr
    proc, _ = _run(tmp_path, "200")
    assert proc.returncode != 0 and "raise it too: -o faulthandler_timeout=260" in proc.stderr, proc.stderr
    proc, _ = _run(tmp_path, "0", "-k", "quick")  # 0 turns the guard off
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr
