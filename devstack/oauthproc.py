"""The stack's OAuth2 server (:mod:`devstack.oauthserver`) as a process:
start it, wait until it listens, steer it, stop it.

It runs as ``python -m devstack.oauthserver`` in a session of its own,
logging to ``DIR/oauthserver.log``; once it listens it writes
``DIR/oauthserver.ready`` (JSON ``{pid, http_port, https_port}``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from devstack.dovecot import HOST
from devstack.system import alive, wait_gone, wait_ready_file

_CHECKOUT = Path(__file__).resolve().parents[1]
_MARKER = "devstack.oauthserver"
READY = "oauthserver.ready"
CLIENT_SECRET = "test-client-secret"


def spawn(dir: Path, *, user: str, lifetime: float = 3600) -> subprocess.Popen:
    """Start the server for the stack in ``dir`` on free loopback ports (HTTPS
    with the stack's certificate); returns at once (see :func:`wait_ready`)."""
    with contextlib.suppress(FileNotFoundError):
        (dir / READY).unlink()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_CHECKOUT), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-m", _MARKER, "--host", HOST, "--cert", str(dir / "server.pem"),
           "--key", str(dir / "server.key"), "--user", user, "--client-secret", CLIENT_SECRET,
           "--lifetime", str(lifetime), "--ready-file", str(dir / READY)]
    with open(dir / "oauthserver.log", "ab") as logf:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, cwd=str(dir), env=env,
                                start_new_session=True)


def wait_ready(dir: Path, proc: subprocess.Popen | None, timeout: float = 20) -> dict:
    """Wait until the server listens; returns ``{pid, http_port, https_port}``."""
    return wait_ready_file(dir / READY, proc, dir / "oauthserver.log", "OAuth2 server", timeout)


def running_pid(dir: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        pid = int(json.loads((dir / READY).read_text())["pid"])
        return pid if alive(pid, _MARKER) else None
    return None


def stop(dir: Path, proc: subprocess.Popen | None) -> None:
    pid = running_pid(dir)
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not wait_gone([pid], 5):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if proc is not None:
        if proc.poll() is None:
            proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    with contextlib.suppress(FileNotFoundError):
        (dir / READY).unlink()


def control(http_port: int, **settings: object) -> dict:
    """POST ``settings`` to the server's control endpoint (see
    :mod:`devstack.oauthserver`); returns its counters."""
    req = urllib.request.Request(f"http://{HOST}:{http_port}/control", data=json.dumps(settings).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def introspect(http_port: int, token: str) -> dict:
    """RFC 7662 introspection of ``token`` (what Dovecot and the SMTP front ask)."""
    data = f"token={urllib.parse.quote(token)}".encode()
    with urllib.request.urlopen(f"http://{HOST}:{http_port}/introspect", data=data, timeout=10) as resp:
        return json.loads(resp.read())
