"""Workers sharing many offices through PostgreSQL (mailflow/runner/worker.py),
on the real mail stack: 20 offices (20 Dovecot mailboxes, each with its own
register pattern), 3 `mailflow worker` processes, 2,000 complaints arriving
while one worker is SIGKILLed and another started. Every complaint is
registered once, in its office, with gap-free numbers, and gets exactly one
acknowledgement and one forward; the killed worker's mailboxes are watched
again within 40 s.

PostgreSQL only (workers need it): skipped where MAILFLOW_TEST_DATABASE_URL is
not set; CI sets it. The size can be lowered for a quick local run with
MAILFLOW_TEST_WORKER_COMPLAINTS (the figures printed say what ran)."""

from __future__ import annotations

import email
import json
import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from devstack.config import write_deployment
from support import REPO, TEST_ENV, VALID_BODY, complaint_mail, private_pg_schema

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

OFFICES = 20
COMPLAINTS = int(os.environ.get("MAILFLOW_TEST_WORKER_COMPLAINTS", "2000"))
CITIZENS = [f"warga{i}" for i in range(1, 10)]
TAKEOVER_LIMIT = 40.0
HEARTBEAT_GAP = 4.0  # > the workers' heartbeat interval: the living have beaten since the kill


def _keys() -> list[str]:
    return [f"k{i:02d}" for i in range(OFFICES)]


@pytest.fixture
def pg_schema():
    with private_pg_schema("w_", ": workers need PostgreSQL") as url:
        yield url


def _deployment(tmp_path: Path, stack, url: str) -> Path:
    """mailflow.toml holding what the offices share, and offices/k00..k19.toml."""
    return write_deployment(
        tmp_path, url=url, offices={k: f"aduan-{k}" for k in _keys()}, imap_port=stack.imap_port,
        smtp_port=stack.smtp_port, poll_interval=5,
        # 2,000 complaints from nine test citizens: the per-address limit on
        # automatic mail (which protects real people) would hold most answers.
        limits="auto_replies_per_address_per_day = 100000\ncomplaints_per_hour_alert = 100000",
        # Sent copies in each office's Sent folder (as Gmail and Exchange file
        # them): a send the SIGKILL cut short is resolved from there, not repeated.
        imap_extra='sent_folder = "Sent"')


def _env(config: Path) -> dict[str, str]:
    return {**os.environ, **TEST_ENV, "MAILFLOW_CONFIG": str(config), "PYTHONUNBUFFERED": "1"}


def _start_worker(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mailflow", "worker", "--concurrency", "12", "--hold", "20",
                             "--log-format", "text"],
                            cwd=REPO, env=_env(config), stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _inject(stack, mails: list[tuple[str, bytes]], progress: list[int]) -> None:
    """Hand the mails to Dovecot over LMTP (4 sessions), as the office's mail server would."""
    lock = threading.Lock()
    queue = list(enumerate(mails))

    def run() -> None:
        lmtp = smtplib.LMTP(stack.lmtp_socket, timeout=120)
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    _, (rcpt, raw) = queue.pop(0)
                lmtp.sendmail("warga@dukcapil.test", [rcpt], raw)
                with lock:
                    progress[0] += 1
                time.sleep(0.004)  # a stream, not one burst
        finally:
            lmtp.quit()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _last_looked_by(engine, pid: int) -> list[str]:
    """The offices whose mailbox the process ``pid`` looked at last."""
    with engine.connect() as conn:
        return sorted(conn.execute(text("SELECT office FROM mailbox_state WHERE checked_by LIKE :p"),
                                   {"p": f"%:{pid}"}).scalars())


def _held_by_the_dead(engine, killed_at: datetime) -> list[str]:
    """The offices whose watch job runs on a worker that has not beaten since
    the kill (the killed process's procrastinate workers)."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT j.args->>'office' FROM procrastinate_jobs j JOIN procrastinate_workers w ON w.id = j.worker_id "
            "WHERE j.status = 'doing' AND j.task_name = 'mailflow.watch_mailbox' AND w.last_heartbeat < :k"),
            {"k": killed_at}).scalars()
        return sorted(rows)


def _wait(predicate, timeout: float, what: str, step: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_three_workers_share_twenty_offices_and_survive_a_sigkill(mailstack, tmp_path, pg_schema, capsys):
    stack = mailstack
    stack.start(users=[f"aduan-{k}" for k in _keys()])
    stack.reset()
    stack.relay_control(sent_copy=True)
    config = _deployment(tmp_path, stack, pg_schema)
    subprocess.run([sys.executable, "-m", "mailflow", "db", "upgrade"], cwd=REPO, env=_env(config), check=True,
                   capture_output=True)
    engine = create_engine(pg_schema)
    logs = tmp_path / "logs"
    logs.mkdir()
    workers = [_start_worker(config, logs / f"w{i}.log") for i in range(3)]
    try:
        # Every office watched before the stream starts (their first looks are the baseline).
        def all_watched():
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM mailbox_state WHERE checked_at IS NOT NULL")).scalar() \
                    == OFFICES
        _wait(all_watched, 90, "every office's mailbox to be watched")

        keys = _keys()
        mails = []
        for n in range(COMPLAINTS):
            key, citizen = keys[n % OFFICES], CITIZENS[n % len(CITIZENS)]
            raw = complaint_mail(VALID_BODY, sender=f"{citizen}@dukcapil.test", to=f"aduan-{key}@dukcapil.test",
                                 subject=f"Pengaduan KTP-el {n}")
            mails.append((f"aduan-{key}@dukcapil.test", raw))
        progress = [0]
        injector = threading.Thread(target=_inject, args=(stack, mails, progress))
        injector.start()

        # A third of the way in: SIGKILL the first worker, holding whatever it holds.
        _wait(lambda: progress[0] >= COMPLAINTS // 3, 300, "a third of the mail to arrive", step=0.1)
        victim = max(workers, key=lambda w: len(_last_looked_by(engine, w.pid)))  # the one watching most
        killed_at = datetime.now(UTC)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        time.sleep(HEARTBEAT_GAP)
        orphaned = _held_by_the_dead(engine, killed_at)
        print(f"\nSIGKILL at {killed_at:%H:%M:%S.%f}, holding {orphaned}")
        assert orphaned, "the killed worker watched no mailbox: the takeover would not be tested"
        first_look: dict[str, float] = {}

        def taken_over():
            with engine.connect() as conn:
                seen = conn.execute(text("SELECT office, checked_at FROM mailbox_state WHERE office = ANY(:o)"),
                                    {"o": orphaned}).all()
            for office, at in seen:
                if at is not None and at > killed_at and office not in first_look:
                    first_look[office] = (at - killed_at).total_seconds()
            return len(first_look) == len(orphaned)
        try:
            _wait(taken_over, 90, f"the killed worker's mailboxes {orphaned} to be watched again", step=0.2)
        except AssertionError:
            with engine.connect() as conn:
                jobs = conn.execute(text("SELECT id, task_name, args, status, lock, worker_id, scheduled_at, priority "
                                         "FROM procrastinate_jobs WHERE status IN ('todo', 'doing') ORDER BY id")).all()
                ws = conn.execute(text("SELECT id, last_heartbeat, now() FROM procrastinate_workers")).all()
                boxes = conn.execute(text("SELECT office, checked_at, checked_by FROM mailbox_state")).all()
            raise AssertionError(f"killed at {killed_at}\njobs {jobs}\nworkers {ws}\nboxes {boxes}") from None
        takeover = max(first_look.values(), default=0.0)

        # The fleet as `mailflow workers` shows it: the dead worker stalled, the
        # two alive watching the mailboxes, every office looked at.
        status = subprocess.run([sys.executable, "-m", "mailflow", "workers", "--json"], cwd=REPO,
                                env=_env(config), capture_output=True, text=True)
        assert status.returncode == 0, status.stderr
        fleet = json.loads(status.stdout)
        alive = [w for w in fleet["workers"] if not w["stalled"]]
        assert len(alive) == 2 * 3  # two processes, three procrastinate workers each (watch, work, tick)
        assert any(w["stalled"] for w in fleet["workers"])  # the killed one, until a new worker prunes it
        assert [o["office"] for o in fleet["offices"]] == _keys()
        assert all(o["checked_at"] for o in fleet["offices"])
        assert sum(1 for o in fleet["offices"] if o["watched_by"]) >= OFFICES // 2

        # Two thirds in: a new worker joins (a restart).
        _wait(lambda: progress[0] >= 2 * COMPLAINTS // 3, 300, "two thirds of the mail to arrive", step=0.1)
        workers.append(_start_worker(config, logs / "w3.log"))  # the killed one's place
        injector.join()

        def settled():
            with engine.connect() as conn:
                registered = conn.execute(text("SELECT count(*) FROM complaints")).scalar()
                unsent = conn.execute(text("SELECT count(*) FROM outbox WHERE state <> 'sent'")).scalar()
            return registered == COMPLAINTS and unsent == 0
        started = time.monotonic()
        _wait(settled, 600, "every complaint registered and answered")
        drained_in = time.monotonic() - started

        with engine.connect() as conn:
            per_office = dict(conn.execute(text(
                "SELECT office, count(*) FROM complaints GROUP BY office")).all())
            numbers = conn.execute(text("SELECT office, number, seq FROM complaints ORDER BY office, seq")).all()
            failed = conn.execute(text("SELECT count(*) FROM outbox WHERE state = 'failed'")).scalar()
            quarantined = conn.execute(text("SELECT count(*) FROM messages WHERE direction = 'in' "
                                            "AND complaint_id IS NULL")).scalar()
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        for w in workers:
            try:
                w.wait(60)
            except subprocess.TimeoutExpired:
                w.kill()
        stop_seconds = time.monotonic() - stopped_at
        engine.dispose()

    # Registered once each, in the office it was sent to, numbered 1..n there.
    assert per_office == {k: COMPLAINTS // OFFICES for k in keys}
    for key in keys:
        seqs = [seq for office, _, seq in numbers if office == key]
        assert seqs == list(range(1, len(seqs) + 1)), f"{key}: numbers with a gap or doubled"
        assert all(number.startswith(key.upper() + "/") for office, number, _ in numbers if office == key)
    assert failed == 0 and quarantined == 0

    # Exactly one acknowledgement and one forward per complaint, as the mailboxes hold them.
    acks: Counter[str] = Counter()
    for citizen in CITIZENS:
        for raw in stack.messages(citizen):
            msg = email.message_from_bytes(raw, policy=policy.default)
            if msg["X-Mailflow-Kind"] == "citizen/acknowledgement":
                acks[str(msg["Message-ID"])] += 1
    forwards: Counter[str] = Counter()
    for role in ("kasi-identitas", "admin"):
        for raw in stack.messages(role):
            msg = email.message_from_bytes(raw, policy=policy.default)
            if msg["X-Mailflow-Kind"] == "staff/forward":
                forwards[str(msg["Message-ID"])] += 1
    doubled = {mid: n for mid, n in (acks + forwards).items() if n > 1}
    with capsys.disabled():  # the figures belong in CI's output, passing or not
        print(f"\nworkers: {OFFICES} offices, {COMPLAINTS} complaints, 3 workers (one SIGKILLed with "
              f"{len(orphaned)} mailbox(es): {', '.join(orphaned) or '-'}; one started later); "
              f"acknowledgements {len(acks)} ({sum(acks.values())} delivered), forwards {len(forwards)} "
              f"({sum(forwards.values())} delivered), doubled {len(doubled)}; takeover {takeover:.1f} s "
              f"(per mailbox: {', '.join(f'{k} {v:.1f}' for k, v in sorted(first_look.items()))}); "
              f"settled {drained_in:.1f} s after the last mail arrived; SIGTERM stop {stop_seconds:.1f} s")
    assert len(acks) == COMPLAINTS and len(forwards) == COMPLAINTS
    assert not doubled
    assert takeover <= TAKEOVER_LIMIT


def test_sigterm_hands_every_job_back(mailstack, tmp_path, pg_schema):
    """A worker stopped by SIGTERM while it watches a mailbox (and its short-job
    slots are idle) waits for both of its procrastinate workers: the watch job
    ends as succeeded and its successor is queued, so no job is left 'doing'
    (which would hold the mailbox's lock until the stalled-job check, ~15 s)."""
    stack = mailstack
    stack.start(users=["aduan-k00"])
    stack.reset()
    config = write_deployment(tmp_path, url=pg_schema, offices={"k00": "aduan-k00"}, imap_port=stack.imap_port,
                              smtp_port=stack.smtp_port, log_level="INFO")
    subprocess.run([sys.executable, "-m", "mailflow", "db", "upgrade"], cwd=REPO, env=_env(config), check=True,
                   capture_output=True)
    engine = create_engine(pg_schema)
    log = tmp_path / "w.log"
    worker = _start_worker(config, log)
    try:
        def watching():
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM mailbox_state WHERE checked_at IS NOT NULL")).scalar()
        _wait(watching, 60, "the mailbox to be watched")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        with engine.connect() as conn:
            jobs = conn.execute(text("SELECT task_name, status FROM procrastinate_jobs "
                                     "WHERE status IN ('todo', 'doing') ORDER BY id")).all()
    finally:
        if worker.poll() is None:
            worker.kill()
        engine.dispose()
    assert ("mailflow.watch_mailbox", "todo") in jobs, jobs  # handed back
    assert all(status != "doing" for _, status in jobs), jobs
    output = log.read_text()
    assert "Traceback" not in output, output[-3000:]
