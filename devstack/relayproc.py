"""The stack's SMTP relay as a process: start it, wait until it listens, find it, stop it.

The relay (:mod:`devstack.smtprelay`) runs as ``python -m devstack.smtprelay``
in a session of its own, logging to ``DIR/smtprelay.log``.  It writes
``DIR/smtprelay.pid`` and, once it listens, ``DIR/smtprelay.ready`` (JSON
``{pid, port, starttls_port}``).  Tests steer it at run time through its
control file ``DIR/relay-control.json`` (:func:`update_control`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from devstack.dovecot import HOST
from devstack.system import alive, read_pid, wait_gone, wait_ready_file

_CHECKOUT = Path(__file__).resolve().parents[1]  # holds devstack/: the relay's PYTHONPATH
_MARKER = "devstack.smtprelay"  # in its command line: tells it from a reused pid
CONTROL_FILE = "relay-control.json"


def spawn(dir: Path, *, lmtp_socket: str, domain: str, password: str, port: int,
          starttls_port: int, authserv_id: str, introspect: str = "") -> subprocess.Popen:
    """Start the relay for the stack in ``dir`` on ``port`` and ``starttls_port``
    (0: free ones), stamping Authentication-Results as ``authserv_id`` (``""``:
    not at all), taking XOAUTH2 tokens checked at the ``introspect`` URL if
    given; returns the child at once (see :func:`wait_ready`)."""
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
        "--control", str(dir / CONTROL_FILE),
        "--authserv-id", authserv_id,
        *(["--introspect", introspect] if introspect else []),
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
    info = wait_ready_file(dir / "smtprelay.ready", proc, dir / "smtprelay.log", "SMTP relay", timeout)
    return info["port"], info["starttls_port"]


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


def update_control(dir: Path, **settings: object) -> None:
    """Set ``settings`` (JSON values) in the relay's control file, keeping the
    ones not given; the relay applies them from its next SMTP command on (see
    :mod:`devstack.smtprelay` for the keys)."""
    path = dir / CONTROL_FILE
    current: dict = {}
    old_mtime = 0
    with contextlib.suppress(OSError, ValueError):
        old_mtime = path.stat().st_mtime_ns
        current = json.loads(path.read_text(encoding="utf-8") or "{}")
    current.update(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    # The relay notices a change by (mtime, size): make two quick writes differ,
    # also across a reset() that deleted the file in between.
    floor = max(old_mtime, _last_written.get(path, 0))
    st = path.stat()
    if st.st_mtime_ns <= floor:
        os.utime(path, ns=(st.st_atime_ns, floor + 1))
    _last_written[path] = path.stat().st_mtime_ns


_last_written: dict[Path, int] = {}  # control file -> the mtime this process last gave it
