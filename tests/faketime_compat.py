"""A pytest plugin for scripts/test-dates only (``-p tests.faketime_compat``):
makes ``time.sleep`` work under Debian's libfaketime 0.9.10 when the
monotonic clock is left real. Not loaded by the normal test run.

Why it is needed: Python 3.11 sleeps with ``clock_nanosleep(CLOCK_MONOTONIC,
TIMER_ABSTIME, ...)``, and libfaketime 0.9.10 shifts that absolute time by the
faked start date even when told not to fake the monotonic clock, so the kernel
gets a negative time and every ``time.sleep`` fails with EINVAL
(https://github.com/wolfcw/libfaketime/issues/426, fixed after 0.9.10). Faking
the monotonic clock instead is worse: 0.9.10 does not intercept
``sem_clockwait``, so every lock or event wait with a timeout hangs for years.

What it does: if ``time.sleep(0)`` fails that way, ``time.sleep`` becomes a
``select()`` with a relative timeout, which libfaketime passes through
unchanged; where libfaketime works (a fixed version, or no libfaketime) nothing
is replaced. Only this process: the command-line subprocesses the tests start
do not sleep.
"""

from __future__ import annotations

import errno
import select
import time

import pytest

_REPLACED = pytest.StashKey[bool]()


def _relative_sleep(seconds: float) -> None:
    """``time.sleep`` by a relative wait: select() with no descriptors."""
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    # PEP 475: an interrupted select() is retried with the time left.
    select.select([], [], [], seconds)


def _sleep_is_broken() -> bool:
    try:
        time.sleep(0)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            return True
        raise
    return False


def pytest_configure(config) -> None:
    if _sleep_is_broken():
        time.sleep = _relative_sleep
        config.stash[_REPLACED] = True


def pytest_report_header(config) -> str:
    replaced = config.stash.get(_REPLACED, False)
    return ("faketime_compat: time.sleep replaced by a relative select() (libfaketime #426)" if replaced
            else "faketime_compat: time.sleep works, left as it is")
