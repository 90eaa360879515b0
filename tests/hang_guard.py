"""A per-test time limit, so a hang fails that test with a traceback instead of stalling the whole run.

A pytest plugin (stdlib + pytest only), used by ``tests/conftest.py``; not a test module.

* Each test (setup + call + teardown together) may run :data:`DEFAULT_LIMIT_S` seconds, or
  ``$INERTIA_TEST_TIMEOUT`` seconds when that is set (``0`` turns the guard off). Past the limit a ``SIGALRM``
  raises :class:`TestHangTimeout` where the test is, naming the test and the limit: the test fails with the
  traceback of where it hung, the stacks of every thread are written to its captured stderr when it has more
  than one, and the run goes on with the next test. The exception is a ``BaseException``, so ``except Exception`` in the code under test
  does not swallow it; while the phase still runs, it is raised again every :data:`REPEAT_S` seconds.
* A signal handler runs only between Python bytecodes: a hang inside one long C call (a torch reduction over
  10¹² entries, a regex that holds the GIL) is not interrupted. For that, pytest's own watchdog
  (``faulthandler_timeout`` with ``faulthandler_exit_on_timeout`` in ``pyproject.toml``, 60 s after this limit)
  dumps every thread's traceback and ends the run.

Only where ``signal.SIGALRM`` exists (POSIX) and on the main thread; elsewhere the guard does nothing.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import threading
import time

import pytest

#: seconds one test may run (setup + call + teardown) unless ``$INERTIA_TEST_TIMEOUT`` says otherwise
DEFAULT_LIMIT_S = 900.0
#: the environment variable that overrides :data:`DEFAULT_LIMIT_S` (seconds; 0 = off)
ENV = "INERTIA_TEST_TIMEOUT"
#: seconds between repeats of the exception while the timed-out phase still runs
REPEAT_S = 30.0
#: how much later than this guard pytest's faulthandler watchdog (``faulthandler_timeout``) is meant to fire
#: (it must fire later; the guard refuses to start otherwise and names this margin in its fix)
WATCHDOG_MARGIN_S = 60.0


class TestHangTimeout(BaseException):
    """A test ran past the per-test limit (raised by the guard's ``SIGALRM`` handler where the test was)."""

    __test__ = False  # not a test class, despite the name


def limit_s() -> float:
    """The per-test limit in seconds: ``$INERTIA_TEST_TIMEOUT`` if set, else :data:`DEFAULT_LIMIT_S`; 0 = off.

    Raises:
        pytest.UsageError: the variable is not a number ≥ 0.
    """
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_LIMIT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise pytest.UsageError(f"{ENV}={raw!r}: give the per-test limit in seconds (a number ≥ 0; 0 = off)")
    return value


_LIMIT = pytest.StashKey[float]()
_DEADLINE = pytest.StashKey[float]()
_OFF = object()  # "no alarm armed" (signal.signal may return None for a handler not set from Python)


def _usable() -> bool:
    return hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()


def pytest_configure(config):
    limit = limit_s()
    config.stash[_LIMIT] = limit
    watchdog = float(config.getini("faulthandler_timeout") or 0.0)
    if limit and watchdog and watchdog <= limit:
        raise pytest.UsageError(
            f"{ENV}={limit:g} s: pytest's faulthandler watchdog (faulthandler_timeout = {watchdog:g} s) would end "
            f"the run before the per-test guard fires; raise it too: -o faulthandler_timeout="
            f"{limit + WATCHDOG_MARGIN_S:g}")


def _arm(item, when: str) -> object:
    """Start the alarm for phase ``when`` of ``item``: the rest of the test's time (its deadline is set at setup)."""
    limit = item.config.stash.get(_LIMIT, 0.0)
    if not limit or not _usable():
        return _OFF
    if when == "setup" or _DEADLINE not in item.stash:
        item.stash[_DEADLINE] = time.monotonic() + limit
    left = max(item.stash[_DEADLINE] - time.monotonic(), 0.001)

    def on_alarm(signum, frame):
        if threading.active_count() > 1:  # the other threads' stacks (the exception shows this one's)
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        raise TestHangTimeout(f"{item.nodeid} ran past the per-test limit of {limit:g} s (in its {when}; the hang "
                              f"guard of tests/hang_guard.py, ${ENV} to change it): the traceback shows where it was")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, left, REPEAT_S)
    return previous


@contextlib.contextmanager
def _guarded(item, when: str):
    """The alarm armed for phase ``when`` of ``item`` while the block runs, the previous handler put back after."""
    previous = _arm(item, when)
    try:
        yield
    finally:
        if previous is not _OFF:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    with _guarded(item, "setup"):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    with _guarded(item, "call"):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    with _guarded(item, "teardown"):
        return (yield)
