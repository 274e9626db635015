"""Bounds on the time one mail may take, and a stop that does not wait.

``TimeBudget(seconds)`` around the handling of one mail: when the time is up,
``MailTooSlow`` is raised in the middle of it, the transaction rolls back, and
the caller quarantines the mail with that reason; the daemon goes on with the
next mail. In the main thread the timer is SIGALRM, which also interrupts the
regular-expression engine; in another thread (an office of a Fleet, a
worker's job) it is an exception raised in that thread by a timer thread
(``raise_in``), which interrupts Python code between two steps -- every
pattern mailflow runs on mail is linear-time, so no single step is long.

``Interruptible``: while a mail is being handled, a stop raises ``StopNow`` at
once instead of waiting for the mail to finish: the transaction rolls back
and the mail stays in INBOX for the next start (nothing is lost; see
docs/RELIABILITY.md). ``StopNow`` is a ``BaseException``, so the per-mail
``except Exception`` that quarantines a failing mail lets it through.
"""

from __future__ import annotations

import ctypes
import signal
import threading
from types import FrameType

from mailflow.errors import MailflowError


class MailTooSlow(MailflowError):
    """Handling one mail took longer than limits.seconds_per_mail."""


class StopNow(BaseException):
    """A stop was asked for while a mail was being handled."""


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def raise_in(thread_id: int, exc_type: type[BaseException]) -> None:
    """Raise ``exc_type`` in the thread ``thread_id`` at its next Python step
    (CPython's documented PyThreadState_SetAsyncExc)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type))


class MailTooSlowInThread(MailTooSlow):
    """MailTooSlow raised by the timer of a thread's budget (an exception type,
    not an instance, is what ``raise_in`` can deliver)."""

    def __init__(self) -> None:
        super().__init__("handling took longer than limits.seconds_per_mail; the mail is quarantined so that it "
                         "cannot stall the daemon")


class TimeBudget:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.active = False
        self._previous: object = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._done = False

    def _expired(self, _signum: int, _frame: FrameType | None) -> None:
        raise MailTooSlow(f"handling took longer than {self.seconds:g} s (limits.seconds_per_mail); "
                          "the mail is quarantined so that it cannot stall the daemon")

    def _expired_in(self, thread_id: int) -> None:
        with self._lock:  # never after the block ended: the exception would land elsewhere
            if not self._done:
                raise_in(thread_id, MailTooSlowInThread)

    def __enter__(self) -> TimeBudget:
        self.active = self.seconds > 0
        if not self.active:
            return self
        if _main_thread():
            self._previous = signal.signal(signal.SIGALRM, self._expired)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        else:
            self._timer = threading.Timer(self.seconds, self._expired_in, (threading.get_ident(),))
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if not self.active:
            return
        if self._timer is not None:
            with self._lock:
                self._done = True
            self._timer.cancel()
        else:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)  # type: ignore[arg-type]


class Interruptible:
    """Within this block a stop raises ``StopNow``: from the daemon's signal
    handler in the main thread (which checks ``inside``), or by ``interrupt``
    from another thread (a Fleet's signal handler stopping an office thread)."""

    def __init__(self) -> None:
        self.inside = False
        self._thread = 0
        self._lock = threading.Lock()

    def __enter__(self) -> Interruptible:
        with self._lock:
            self.inside = True
            self._thread = threading.get_ident()
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self.inside = False

    def interrupt(self) -> None:
        """Raise StopNow in the thread inside the block, if one is (from another thread)."""
        with self._lock:
            if self.inside and self._thread != threading.get_ident():
                raise_in(self._thread, StopNow)
