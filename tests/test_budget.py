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


def test_in_another_thread_the_budget_interrupts_python_code():
    """An office thread of a Fleet: the timer raises in that thread between two
    Python steps (a loop of short steps, as every pattern on mail is linear)."""
    seen = []

    def worker():
        started = time.monotonic()
        try:
            with TimeBudget(0.3) as budget:
                seen.append(budget.active)
                while time.monotonic() - started < 5:
                    sum(range(1000))
        except MailTooSlow as exc:
            seen.append(("cut", round(time.monotonic() - started, 1), "limits.seconds_per_mail" in str(exc)))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen[0] is True
    assert seen[1][0] == "cut" and seen[1][1] < 2 and seen[1][2]


def test_in_another_thread_a_finished_block_is_never_interrupted_later():
    errors = []

    def worker():
        try:
            with TimeBudget(0.2):
                pass
            time.sleep(0.5)  # past the budget: the timer was cancelled
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert errors == []


def test_interrupt_from_another_thread_raises_stop_now_inside_the_block():
    inside = Interruptible()
    outcome = []
    entered = threading.Event()

    def worker():
        try:
            with inside:
                entered.set()
                started = time.monotonic()
                while time.monotonic() - started < 5:
                    sum(range(1000))
            outcome.append("finished")
        except StopNow:
            outcome.append("stopped")

    t = threading.Thread(target=worker)
    t.start()
    entered.wait(2)
    inside.interrupt()
    t.join(3)
    assert outcome == ["stopped"] and not inside.inside
    inside.interrupt()  # outside the block: nothing to stop, nothing raised


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
