"""What every benchmark shares: result rows, the table, the mail stack, desks.

A *desk* is what ``tests/conftest.py`` builds too: a real ``mailflow.toml``
for the local mail stack, a database upgraded by mailflow's migrations, and
``mailflow.runner.app.build`` on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from devstack import config as devstack_config

REPO = Path(__file__).resolve().parents[1]
ENV = {"TEST_IMAP_PASSWORD": "secret", "MAILFLOW_ALLOW_FAST_POLL": "1"}


@dataclass
class Row:
    """One figure, beside its limit measured in the same run."""

    bench: str
    figure: str
    value: float | None
    unit: str
    limit: float | None = None  # the raw speed of the same servers, measured alongside
    limit_label: str = ""
    ratio: float | None = None  # value / limit
    target: str = ""
    met: bool | None = None  # None: no target, or not measurable here
    note: str = ""


@dataclass
class Run:
    quick: bool
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    details: dict = field(default_factory=dict)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(f"  {row.bench}: {row.figure} = {fmt(row.value)} {row.unit}"
              + (f" (limit {fmt(row.limit)}, ratio {row.ratio:.2f})" if row.limit is not None and row.ratio is not None else "")
              + (f" [{row.note}]" if row.note else ""), file=sys.stderr, flush=True)
        return row


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def table(rows: list[Row]) -> str:
    head = ["benchmark", "figure", "mailflow", "unit", "limit (same run)", "ratio", "target", "met"]
    body = []
    for r in rows:
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        limit = f"{fmt(r.limit)} ({r.limit_label})" if r.limit is not None else (r.limit_label or "-")
        body.append([r.bench, r.figure, fmt(r.value), r.unit, limit, "-" if r.ratio is None else f"{r.ratio:.2f}",
                     r.target or "-", met])
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
             "| " + " | ".join("-" * w for w in widths) + " |"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(b, widths)) + " |" for b in body]
    return "\n".join(lines)


def machine() -> dict:
    info = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    with contextlib.suppress(OSError):
        info["loadavg_at_start"] = os.getloadavg()
    with contextlib.suppress(Exception):
        out = subprocess.run(["dovecot", "--version"], capture_output=True, text=True).stdout.strip()
        info["dovecot"] = out
    return info


def write_json(run: Run, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(run.started)),
        "seconds": round(time.time() - run.started, 1),
        "quick": run.quick,
        "machine": machine(),
        "rows": [asdict(r) for r in run.rows],
        "notes": run.notes,
        "details": run.details,
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- the stack
def state_parent() -> str:
    """/dev/shm when usable (the stack's mail and sockets live there), else the temp dir."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK | os.X_OK) else tempfile.gettempdir()


class Stack:
    """The project's local mail stack, started in a temp dir for one benchmark run."""

    def __init__(self) -> None:
        from devstack.mailstack import MailStack

        self.dir = tempfile.mkdtemp(prefix="mailflow-bench-", dir=state_parent())
        os.chmod(self.dir, 0o755)  # the mail user must reach the spool: mail stays in DIR/mail
        self.stack = MailStack()
        self.stack.start(self.dir, log=lambda m: print(m, file=sys.stderr))

    def stop(self) -> None:
        self.stack.stop()
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- IMAP helpers ------------------------------------------------------------------
    def imap(self, user: str = "aduan"):
        return self.stack.imap(user)

    def empty(self, user: str, *folders: str) -> None:
        """Expunge every message of ``folders`` (default: INBOX and every other folder) of ``user``."""
        args = ["expunge", "-u", user]
        if folders:
            for f in folders:
                self.stack.doveadm(*args, "mailbox", f, "all", check=False)
        else:
            self.stack.doveadm(*args, "mailbox", "*", "all", check=False)

    def count(self, user: str, folder: str = "INBOX") -> int:
        return self.stack.count(user, folder)

    def copy_folder(self, user: str, source: str, target: str = "INBOX") -> int:
        """Server-side COPY of every message of ``source`` into ``target``; returns the count."""
        c = self.imap(user)
        try:
            c.select_folder(source, readonly=True)
            uids = c.search("ALL")
            for i in range(0, len(uids), 2000):
                c.copy(uids[i:i + 2000], target)
            return len(uids)
        finally:
            c.logout()

    def move_all(self, user: str, source: str, target: str) -> int:
        c = self.imap(user)
        try:
            if not c.folder_exists(target):
                c.create_folder(target)
            c.select_folder(source)
            uids = c.search("ALL")
            for i in range(0, len(uids), 2000):
                c.move(uids[i:i + 2000], target)
            return len(uids)
        finally:
            c.logout()

    # ---- delivery --------------------------------------------------------------------
    def lmtp_deliver(self, mails: list[bytes], rcpt: str = "aduan@dukcapil.test", connections: int = 4,
                     sender: str = "bench@warga.test") -> float:
        """Deliver ``mails`` to Dovecot's LMTP socket over ``connections`` parallel
        sessions (protocol delivery, as the SMTP front does it). Returns seconds."""
        import smtplib

        chunks = [mails[i::connections] for i in range(connections)]

        def worker(chunk: list[bytes]) -> None:
            lmtp = smtplib.LMTP(self.stack.lmtp_socket, timeout=120)
            try:
                for raw in chunk:
                    lmtp.sendmail(sender, [rcpt], raw)
            finally:
                with contextlib.suppress(Exception):
                    lmtp.quit()

        started = time.perf_counter()
        with ThreadPoolExecutor(connections) as pool:
            list(pool.map(worker, chunks))
        return time.perf_counter() - started


# --------------------------------------------------------------------------- desks
def write_config(directory: Path, *, db_url: str, imap_port: int, smtp_port: int, poll_interval: float = 1,
                 batch_size: int = 100, extra: str = "") -> Path:
    """``devstack.config.write_config`` (what the tests write) with the benchmarks' settings:
    FETCH batches of ``batch_size``, 60 s timeouts, WARNING logs."""
    return devstack_config.write_config(directory, db_url=db_url, imap_port=imap_port, smtp_port=smtp_port,
                                        poll_interval=poll_interval, batch_size=batch_size, timeout=60,
                                        log_level="WARNING", extra=extra)


@dataclass
class Desk:
    dir: Path
    config: Path
    settings: object
    app: object | None = None

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
            self.app = None


def make_desk(stack: Stack | None, where: Path, *, db_url: str | None = None, build: bool = True,
              poll_interval: float = 1, extra: str = "", imap_port: int | None = None,
              smtp_port: int | None = None) -> Desk:
    """A mailflow config + migrated database (+ the built App unless ``build=False``)."""
    from mailflow.runner.app import build as build_app

    where.mkdir(parents=True, exist_ok=True)
    url = db_url or f"sqlite:///{where / 'mailflow.db'}"
    path = write_config(where, db_url=url, imap_port=imap_port or (stack.stack.imap_port if stack else 143),
                        smtp_port=smtp_port or (stack.stack.smtp_port if stack else 25),
                        poll_interval=poll_interval, extra=extra)
    settings = devstack_config.migrated_settings(path, ENV)
    desk = Desk(where, path, settings)
    if build:
        desk.app = build_app(settings)
    return desk


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(ENV)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def terminate(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM (a clean stop, as an office's supervisor sends), SIGKILL if it hangs."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def mailflow_cmd(*args: str) -> list[str]:
    """``mailflow ARGS`` run by this interpreter (the worktree's .venv)."""
    return [sys.executable, "-m", "mailflow", *args]


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sampler(threading.Thread):
    """Calls ``fn`` every ``interval`` seconds in the background; keeps (t, value)."""

    def __init__(self, fn, interval: float = 0.5):
        super().__init__(daemon=True)
        self.fn, self.interval = fn, interval
        self.samples: list[tuple[float, object]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        t0 = time.perf_counter()
        while not self._halt.is_set():
            with contextlib.suppress(Exception):
                self.samples.append((time.perf_counter() - t0, self.fn()))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)
