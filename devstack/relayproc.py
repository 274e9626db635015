"""The stack's SMTP relay as a process: start it, wait until it listens, find it, stop it.

The relay (:mod:`devstack.smtprelay`) runs as ``python -m devstack.smtprelay``
in a session of its own, logging to ``DIR/smtprelay.log``.  It writes
``DIR/smtprelay.pid`` and, once it listens, ``DIR/smtprelay.ready`` (JSON
``{pid, port, starttls_port}``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack.dovecot import HOST
from devstack.system import MailStackError, alive, read_pid, wait_gone

_CHECKOUT = Path(__file__).resolve().parents[1]  # holds devstack/: the relay's PYTHONPATH
_MARKER = "devstack.smtprelay"  # in its command line: tells it from a reused pid


def spawn(dir: Path, *, lmtp_socket: str, domain: str, password: str, port: int,
          starttls_port: int) -> subprocess.Popen:
    """Start the relay for the stack in ``dir`` on ``port`` and ``starttls_port``
    (0: free ones); returns the child at once (see :func:`wait_ready`)."""
    for name in ("smtprelay.ready", "smtprelay.pid"):
        with contextlib.suppress(FileNotFoundError):
            (dir / name).unlink()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_CHECKOUT), env.get("PYTHONPATH", "")) if p
    )
    cmd = [
        sys.executable, "-m", _MARKER,
        "--host", HOST,
        "--port", str(port),
        "--starttls-port", str(starttls_port),
        "--cert", str(dir / "server.pem"),
        "--key", str(dir / "server.key"),
        "--lmtp", lmtp_socket,
        "--domain", domain,
        "--users-file", str(dir / "users"),
        "--password", password,
        "--hostname", f"mail.{domain}",
        "--pidfile", str(dir / "smtprelay.pid"),
        "--ready-file", str(dir / "smtprelay.ready"),
        "--control", str(dir / "relay-control.json"),
    ]
    with open(dir / "smtprelay.log", "ab") as logf:
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
            cwd=str(dir), env=env, start_new_session=True,
        )


def wait_ready(dir: Path, proc: subprocess.Popen | None, timeout: float = 20) -> tuple[int, int]:
    """Wait until the relay listens; returns its (port, starttls_port).

    Raises :class:`MailStackError` with its log's tail if ``proc`` ends first
    or ``timeout`` passes.
    """
    deadline = time.monotonic() + timeout
    ready = dir / "smtprelay.ready"
    while time.monotonic() < deadline:
        if ready.exists():
            info = json.loads(ready.read_text())
            return info["port"], info["starttls_port"]
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.01)
    tail = ""
    with contextlib.suppress(OSError):
        tail = (dir / "smtprelay.log").read_text(errors="replace")[-3000:]
    raise MailStackError(f"SMTP relay did not start; {dir}/smtprelay.log:\n{tail}")


def running_pid(dir: Path) -> int | None:
    """The pid of the relay of the stack in ``dir`` if it runs, else None."""
    pid = read_pid(dir / "smtprelay.pid")
    return pid if alive(pid, _MARKER) else None


def stop(dir: Path, proc: subprocess.Popen | None) -> None:
    """Stop the relay of ``dir`` (SIGTERM, SIGKILL after 5 s) and reap ``proc``,
    our own child if we started it (it may still be starting up)."""
    pid = running_pid(dir)
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not wait_gone([pid], 5):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            wait_gone([pid], 5)
    if proc is not None:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    with contextlib.suppress(FileNotFoundError):
        (dir / "smtprelay.pid").unlink()
