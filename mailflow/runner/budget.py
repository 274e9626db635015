"""Bounds on the time one mail may take, and a stop that does not wait.

``TimeBudget(seconds)`` around the handling of one mail: when the time is up,
``MailTooSlow`` is raised in the middle of it (a SIGALRM timer), the
transaction rolls back, and the caller quarantines the mail with that reason;
the daemon goes on with the next mail. Only the main thread can receive the
signal, so elsewhere (a test calling ``run_once`` from a worker thread) the
budget is not enforced and says so in its ``active`` flag.

``Interruptible``: while a mail is being handled, SIGTERM/SIGINT raise
``StopNow`` at once instead of waiting for the mail to finish: the transaction
rolls back and the mail stays in INBOX for the next start (nothing is lost;
see docs/RELIABILITY.md). ``StopNow`` is a ``BaseException``, so the
per-mail ``except Exception`` that quarantines a failing mail lets it through.
"""

from __future__ import annotations

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


class TimeBudget:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.active = False
        self._previous: object = None

    def _expired(self, _signum: int, _frame: FrameType | None) -> None:
        raise MailTooSlow(f"handling took longer than {self.seconds:g} s (limits.seconds_per_mail); "
                          "the mail is quarantined so that it cannot stall the daemon")

    def __enter__(self) -> TimeBudget:
        self.active = _main_thread() and self.seconds > 0
        if self.active:
            self._previous = signal.signal(signal.SIGALRM, self._expired)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)  # type: ignore[arg-type]


class Interruptible:
    """Within this block a stop signal raises ``StopNow`` (set up by the daemon's
    signal handler, which checks ``inside``)."""

    def __init__(self) -> None:
        self.inside = False

    def __enter__(self) -> Interruptible:
        self.inside = True
        return self

    def __exit__(self, *_exc: object) -> None:
        self.inside = False
