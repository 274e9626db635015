"""The chaos test: N complaints, and the staff replies that answer them, flow
through a real `mailflow run` daemon while it is SIGKILLed at random moments
K times and Dovecot and the SMTP relay are restarted at random moments. Then:
every complaint exactly once in the database, with gap-free numbers; each
citizen got exactly one acknowledgement and one answer (counted by
Message-ID in their real mailbox); no outbox row stuck or failed; the hop log
complete for every complaint, mail and send.

The workers variant runs the same scenario on PostgreSQL (a private schema)
with a deployment of three offices served by three `mailflow worker`
processes; each of the K kills SIGKILLs one worker at random and starts it
again. It is skipped where MAILFLOW_TEST_DATABASE_URL is not set (CI sets it).

CI runs N = 200, K = 10 (both variants). The long version (N = 2000, K = 50),
whose figures are in docs/RELIABILITY.md:

    ./scripts/test tests/test_chaos.py --chaos-long -s

Setting MAILFLOW_CHAOS_N / MAILFLOW_CHAOS_K overrides either figure.
"""

from __future__ import annotations

import email
import json
import os
import random
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from devstack.config import write_deployment
from mailflow.store import db
from mailflow.store.models import DEFAULT_OFFICE, Complaint, Hop, Message, OutboxItem
from support import REPO, TEST_ENV, VALID_BODY, complaint_mail, private_pg_schema, write_config

pytestmark = pytest.mark.integration

CITIZENS = "warga1"  # every complainant is warga1+cN@: distinct addresses, one real mailbox
ADMIN, KASI = "admin", "kasi-identitas"  # Bantul: the Admin drafts (#jawab), the Kasi approves (#setuju)
WORKERS, OFFICES = 3, ("k00", "k01", "k02")  # the workers variant: 3 processes, 3 offices
# 200 complaints in minutes is the test, not a flood to alert about
LIMITS_LINES = "outbox_retry_seconds = 1\ncomplaints_per_hour_alert = 100000\n"
LIMITS = "[limits]\n" + LIMITS_LINES


def figures(request) -> tuple[int, int]:
    long = request.config.getoption("--chaos-long")
    n = int(os.environ.get("MAILFLOW_CHAOS_N", 2000 if long else 200))
    k = int(os.environ.get("MAILFLOW_CHAOS_K", 50 if long else 10))
    return n, k


def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


class Processes:
    """mailflow processes (`mailflow run`, or `mailflow worker`s) as an office
    runs them, each with its log in ``logs``."""

    def __init__(self, argv: list[str], count: int, logs: Path):
        self.argv, self.logs = argv, logs
        self.procs: list[subprocess.Popen | None] = [None] * count
        self.starts = 0
        self.last_kill: datetime | None = None

    def start(self, i: int | None = None) -> None:
        """Start process ``i``, or all of them."""
        env = {**os.environ, **TEST_ENV, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        for j in range(len(self.procs)) if i is None else [i]:
            with open(self.logs / f"p{j}.log", "ab") as out:
                self.procs[j] = subprocess.Popen([sys.executable, "-m", "mailflow", *self.argv],
                                                 env=env, stdout=out, stderr=out)
            self.starts += 1

    def kill(self, rng: random.Random) -> int:
        """SIGKILL one of them (at random); returns which."""
        i = rng.randrange(len(self.procs)) if len(self.procs) > 1 else 0
        proc = self.procs[i]
        assert proc is not None and proc.poll() is None, f"process {i} died by itself; see {self.logs}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        self.last_kill = datetime.now(UTC)
        return i

    def stop(self) -> list[int]:
        """SIGTERM all; their exit codes."""
        running = [p for p in self.procs if p is not None]
        for p in running:
            p.send_signal(signal.SIGTERM)
        return [p.wait(60) for p in running]

    def kill_all(self) -> None:
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(10)


@dataclass
class Scene:
    """What a variant runs: its processes, its database, and its offices (key
    -> the mailbox user of its complaint address)."""

    processes: Processes
    db_url: str
    offices: dict[str, str]


class Mailer:
    """Sends mail as the citizens' and staff's own servers would: a refused or
    cut-off send is retried until the relay takes it (the relay is being
    restarted under it)."""

    def __init__(self, stack):
        self.stack = stack
        self.retries = 0

    def send(self, raw: bytes, sender: str, to: str, deadline: float, *, login: bool = False) -> None:
        while True:
            try:
                self.stack.send(raw, sender, to, login=login)
                return
            except (smtplib.SMTPException, OSError):
                self.retries += 1
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def staff_bot(stack, mailer: Mailer, stop: threading.Event, deadline: float, errors: list) -> None:
    """The Admin answers every forwarded complaint with #jawab; the Kasi approves
    every draft with #setuju; each staff mail is answered once (by Message-ID),
    from the staff member's own mailbox, to its Reply-To, threaded. A mail is
    done only once its reply was sent, so a restart in between loses nothing."""
    answered: set[str] = set()
    done_uid = {ADMIN: 0, KASI: 0}
    try:
        while not stop.is_set():
            for user, kind, words in ((ADMIN, "staff/forward", "#jawab KTP-el Bapak/Ibu sudah dicetak."),
                                      (KASI, "staff/approval-request", "#setuju")):
                try:
                    client = stack.imap(user)
                except Exception:  # Dovecot is restarting
                    continue
                try:
                    client.select_folder("INBOX", readonly=True)
                    uids = sorted(u for u in client.search(["UID", f"{done_uid[user] + 1}:*"]) if u > done_uid[user])
                    for uid in uids:
                        msg = parsed(client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"])
                        mid = str(msg["Message-ID"])
                        if msg["X-Mailflow-Kind"] == kind and mid not in answered:
                            reply = EmailMessage()
                            reply["From"] = f"{user}@dukcapil.test"
                            reply["To"] = str(msg["Reply-To"])
                            reply["Subject"] = "Re: " + str(msg["Subject"])
                            reply["Message-ID"] = make_msgid(domain="dukcapil.test")
                            reply["In-Reply-To"] = reply["References"] = mid
                            reply.set_content(f"{words}\n\n-- \n{user}\n")
                            mailer.send(reply.as_bytes(), user, str(msg["Reply-To"]), deadline, login=True)
                            answered.add(mid)
                        done_uid[user] = uid
                except Exception:  # the session was cut by a restart: look again
                    pass
                finally:
                    try:
                        client.logout()
                    except Exception:
                        pass
            stop.wait(0.3)
    except BaseException as exc:
        errors.append(exc)


def test_chaos_nothing_lost_nothing_doubled(request, mail, tmp_path):
    """`mailflow run`, one office, SQLite."""
    stack = mail
    url = f"sqlite:///{tmp_path / 'chaos.db'}"
    config = write_config(tmp_path, db_url=url, imap_port=stack.imap_port, smtp_port=stack.smtp_port,
                          imap_extra='sent_folder = "Sent"\nbatch_size = 50', extra=LIMITS)
    daemon = Processes(["run", "--config", str(config), "--log-format", "json"], 1, logs(tmp_path))
    run_chaos(request, stack, Scene(daemon, url, {DEFAULT_OFFICE: "aduan"}), "chaos")


@pytest.fixture
def pg_url():
    with private_pg_schema("chaos_", ": the workers variant needs PostgreSQL") as url:
        yield url


@pytest.mark.postgres
def test_chaos_workers_nothing_lost_nothing_doubled(request, mail, tmp_path, pg_url):
    """Three `mailflow worker`s, a deployment of three offices, PostgreSQL."""
    stack = mail
    offices = {key: f"aduan-{key}" for key in OFFICES}
    stack.start(users=list(offices.values()))  # each office its own mailbox
    stack.reset()
    config = write_deployment(tmp_path, url=pg_url, offices=offices, imap_port=stack.imap_port,
                              smtp_port=stack.smtp_port, limits=LIMITS_LINES, log_level="INFO",
                              imap_extra='sent_folder = "Sent"\nbatch_size = 50')
    workers = Processes(["worker", "--config", str(config), "--concurrency", "4", "--hold", "10",
                         "--log-format", "json"], WORKERS, logs(tmp_path))
    run_chaos(request, stack, Scene(workers, pg_url, offices), "chaos-workers")
    # SIGTERM handed every job back: none left 'doing' (holding its lock until
    # the stalled-job check) by a worker still alive after the last SIGKILL,
    # i.e. one that was stopped by SIGTERM
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            doing = conn.execute(text(
                "SELECT j.task_name, j.args FROM procrastinate_jobs j JOIN procrastinate_workers w "
                "ON w.id = j.worker_id WHERE j.status = 'doing' AND w.last_heartbeat > :killed"),
                {"killed": workers.last_kill}).all()
    finally:
        engine.dispose()
    assert doing == [], doing


def logs(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path


def run_chaos(request, stack, scene: Scene, label: str) -> None:
    """The scenario, on either variant: the citizens send while the processes
    are killed and the servers restarted; then everything is checked and the
    figures printed (and written to MAILFLOW_CHAOS_REPORT when set)."""
    n, k = figures(request)
    stack.relay_control(sent_copy=True)  # the relay files accepted mail in Sent, as Gmail does
    engine = db.make_engine(scene.db_url)
    db.upgrade(engine)
    factory = db.session_factory(engine)
    procs = scene.processes
    mailer = Mailer(stack)
    rng = random.Random(int(os.environ.get("MAILFLOW_CHAOS_SEED", "20261201")))
    started = time.monotonic()
    deadline = started + max(600, n * 1.5)
    stop_bot = threading.Event()
    errors: list = []
    events: Counter = Counter()
    keys = list(scene.offices)

    procs.start()
    bot = threading.Thread(target=staff_bot, args=(stack, mailer, stop_bot, deadline, errors), daemon=True)
    bot.start()

    # The citizens send while the chaos happens: K kills, and about K/2
    # restarts of each server, at random moments spread over the run. Citizen
    # i writes to office i mod the number of offices.
    sources: dict[str, tuple[str, str]] = {}  # citizen address -> (Message-ID of their complaint, office)
    plan = sorted([(rng.random(), "kill") for _ in range(k)]
                  + [(rng.random(), "imap") for _ in range(max(2, k // 2))]
                  + [(rng.random(), "smtp") for _ in range(max(2, k // 2))])
    per_step = max(1, n // (len(plan) + 1))
    sent = 0
    try:
        for when, what in plan + [(1.0, None)]:
            target = min(n, int(when * n) + 1)
            while sent < target:
                sent += 1
                address = f"{CITIZENS}+c{sent}@dukcapil.test"
                office = keys[sent % len(keys)]
                to = f"{scene.offices[office]}@dukcapil.test"
                raw = complaint_mail(VALID_BODY, sender=address, to=to, subject=f"Pengaduan KTP-el {sent}")
                sources[address] = (str(parsed(raw)["Message-ID"]).strip("<>"), office)
                mailer.send(raw, address, to, deadline)
            if what is None:
                break
            time.sleep(rng.uniform(0.0, 0.4) + per_step * 0.002)
            if what == "kill":
                killed = procs.kill(rng)
                time.sleep(rng.uniform(0.0, 0.3))
                procs.start(killed)
            elif what == "imap":
                stack.restart_imap()
            else:
                stack.restart_smtp()
            events[what] += 1

        # Let it finish: every complaint answered and the outbox empty; a few more
        # kills land in the busy tail, when staff replies and answers are flowing.
        tail_kills = 0
        while True:
            with factory() as s:
                closed = s.scalar(select(func.count()).select_from(Complaint).where(Complaint.status == "closed"))
                unsent = s.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.state != "sent"))
            if closed == n and unsent == 0:
                break
            assert time.monotonic() < deadline, f"not done in time: {closed}/{n} closed, {unsent} unsent; see {procs.logs}"
            assert not errors, errors
            if tail_kills < max(1, k // 5) and closed > n * (tail_kills + 1) / (k // 5 + 2):
                procs.start(procs.kill(rng))
                tail_kills += 1
                events["kill"] += 1
            time.sleep(0.5)
        stop_bot.set()
        bot.join(30)
        # The bot's last replies (to a copy of a staff mail that a restart delivered
        # twice) are taken in before the processes stop: the check below wants the
        # complaint inboxes empty, and under load they may still be on their way.
        settle = time.monotonic() + 60
        while any(stack.count(user) for user in scene.offices.values()) and time.monotonic() < settle:
            time.sleep(0.5)
        codes = procs.stop()
        assert codes == [0] * len(codes), f"not every process stopped cleanly on SIGTERM ({codes}); see {procs.logs}"
        elapsed = time.monotonic() - started
        assert events["kill"] >= k

        report = check_everything(stack, factory, n, sources, scene.offices)
    finally:
        stop_bot.set()
        procs.kill_all()
        engine.dispose()

    report.update(n=n, k=events["kill"], imap_restarts=events["imap"], smtp_restarts=events["smtp"],
                  process_starts=procs.starts, sender_retries=mailer.retries, seconds=round(elapsed, 1))
    if len(procs.procs) > 1:
        report.update(workers=len(procs.procs), offices=len(scene.offices))
    print(f"\n{label}:", json.dumps(report))
    out = os.environ.get("MAILFLOW_CHAOS_REPORT")  # the daemon's there, the workers' beside it (-workers)
    if out:
        path = Path(out) if label == "chaos" else Path(out).with_stem(Path(out).stem + label.removeprefix("chaos"))
        path.write_text(json.dumps(report, indent=2) + "\n")


def check_everything(stack, factory, n: int, sources: dict[str, tuple[str, str]], offices: dict[str, str]) -> dict:
    with factory() as s:
        complaints = s.scalars(select(Complaint).order_by(Complaint.office, Complaint.seq)).all()
        # every complaint exactly once, in the office it was sent to, numbered
        # 1..n there without a gap or a double
        assert len(complaints) == n
        expected = Counter(office for _, office in sources.values())
        for office in offices:
            assert [c.seq for c in complaints if c.office == office] == list(range(1, expected[office] + 1)), office
        assert sorted(c.complainant_email for c in complaints) == sorted(sources)
        source_ids = dict(s.execute(select(Message.id, Message.message_id).where(Message.direction == "in")).all())
        assert {c.complainant_email: (source_ids[c.source_message_pk], c.office) for c in complaints} == sources
        assert all(c.status == "closed" for c in complaints)
        # the outbox: nothing stuck, nothing failed, one "sent" hop per mail
        rows = s.execute(select(OutboxItem.state, Message.message_id, OutboxItem.kind)
                         .join(Message, Message.id == OutboxItem.message_pk)).all()
        assert Counter(state for state, _, _ in rows) == Counter({"sent": len(rows)})
        sent_hops = Counter(s.scalars(select(Hop.message_id).where(Hop.kind == "sent")))
        assert sent_hops == Counter({mid: 1 for _, mid, _ in rows})
        kinds = Counter(kind for _, _, kind in rows)
        assert kinds == Counter({"citizen/acknowledgement": n, "staff/forward": n, "staff/approval-request": n,
                                 "citizen/answer": n, "citizen/survey": n}), kinds
        # the hop log of every complaint tells its whole path, in order
        path = ["registered", "acknowledged", "forwarded", "drafted", "answered", "closed"]
        by_complaint: dict[int, list[str]] = {}
        for cid, kind in s.execute(select(Hop.complaint_id, Hop.kind).where(Hop.kind.in_(path)).order_by(Hop.id)):
            by_complaint.setdefault(cid, []).append(kind)
        assert all(by_complaint.get(c.id) == path for c in complaints)
        # every inbound mail archived with its "received" hop
        inbound = s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
        received = s.scalar(select(func.count(func.distinct(Hop.message_pk))).where(Hop.kind == "received"))
        assert inbound == received == 3 * n  # the complaint, the #jawab, the #setuju
        duplicates_seen = s.scalar(select(func.count()).select_from(Hop).where(
            Hop.kind == "ignored", Hop.reason.like("duplicate of message%")))
        quarantined = s.scalar(select(func.count()).select_from(Hop).where(Hop.kind == "quarantined"))
    assert quarantined == 0

    # what the citizens' real mailbox holds: per complaint exactly one
    # acknowledgement, one answer and one satisfaction survey, by Message-ID (a copy re-sent with the
    # same Message-ID after a server restart is counted, and reported)
    per_citizen: dict[tuple[str, str], set[str]] = {}
    copies = 0
    for raw in stack.messages(CITIZENS):
        msg = parsed(raw)
        kind = str(msg["X-Mailflow-Kind"])
        to = msg["To"].addresses[0].addr_spec.lower()
        per_citizen.setdefault((to, kind), set()).add(str(msg["Message-ID"]))
        copies += 1
    for address in sources:
        assert len(per_citizen.get((address, "citizen/acknowledgement"), ())) == 1, address
        assert len(per_citizen.get((address, "citizen/answer"), ())) == 1, address
        assert len(per_citizen.get((address, "citizen/survey"), ())) == 1, address
    assert len(per_citizen) == 3 * n
    assert all(stack.count(user) == 0 for user in offices.values())  # nothing left in the complaint inboxes
    return {"citizen_mails": copies, "same_message_id_copies": copies - 3 * n,
            "duplicate_fetches_ignored": duplicates_seen}
