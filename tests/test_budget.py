"""The time one mail may take, and a stop that does not wait for it
(mailflow/runner/budget.py): a slow mail is cut off by the budget and a
SIGTERM during a mail ends it at once (the daemon rolls it back; it stays in
INBOX). Both are timers and signals of this process: no server needed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

import pytest

from mailflow.runner.budget import Interruptible, MailTooSlow, StopNow, TimeBudget

# A backtracking pattern on a line it cannot match: seconds of work inside the
# regex engine (C code), which the budget must still interrupt.
SLOW = re.compile(r"^\S.{0,250}\S+@\S+\.\w+:$")
LINE = "a" + "@a" * 6000


def test_the_budget_interrupts_work_inside_the_regex_engine():
    started = time.monotonic()
    with pytest.raises(MailTooSlow, match="longer than 1 s"), TimeBudget(1):
        SLOW.match(LINE)
    assert time.monotonic() - started < 5


def test_within_the_budget_nothing_happens_and_the_timer_is_gone_after():
    with TimeBudget(5) as budget:
        assert budget.active
        time.sleep(0.01)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_outside_the_main_thread_the_budget_is_not_enforced():
    seen = []

    def worker():
        with TimeBudget(1) as budget:
            seen.append(budget.active)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [False]


def test_a_stop_signal_during_a_mail_ends_it_at_once():
    inside = Interruptible()
    stop = threading.Event()

    def on_signal(_signum, _frame):
        stop.set()
        if inside.inside:
            raise StopNow

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        # From another process, as systemd sends it (a thread of ours could not
        # run while the regex engine holds the interpreter).
        subprocess.Popen(["sh", "-c", f"sleep 0.2; kill -TERM {os.getpid()}"])
        started = time.monotonic()
        with pytest.raises(StopNow), inside:
            SLOW.match(LINE + LINE)  # would take far longer than a second
        assert time.monotonic() - started < 1.5 and stop.is_set() and not inside.inside
    finally:
        signal.signal(signal.SIGTERM, previous)
