"""The chaos test: N complaints, and the staff replies that answer them, flow
through a real `mailflow run` daemon while it is SIGKILLed at random moments
K times and Dovecot and the SMTP relay are restarted at random moments. Then:
every complaint exactly once in the database, with gap-free numbers; each
citizen got exactly one acknowledgement and one answer (counted by
Message-ID in their real mailbox); no outbox row stuck or failed; the hop log
complete for every complaint, mail and send.

CI runs N = 200, K = 10. The long version (N = 2000, K = 50), whose figures
are in docs/RELIABILITY.md:

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
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from devstack.config import migrated_settings
from mailflow.runner.app import build
from mailflow.store.models import Complaint, Hop, Message, OutboxItem
from support import REPO, TEST_ENV, VALID_BODY, complaint_mail, write_config

pytestmark = pytest.mark.integration

CITIZENS = "warga1"  # every complainant is warga1+cN@: distinct addresses, one real mailbox
ADMIN, KASI = "admin", "kasi-identitas"  # Bantul: the Admin drafts (#jawab), the Kasi approves (#setuju)


def figures(request) -> tuple[int, int]:
    long = request.config.getoption("--chaos-long")
    n = int(os.environ.get("MAILFLOW_CHAOS_N", 2000 if long else 200))
    k = int(os.environ.get("MAILFLOW_CHAOS_K", 50 if long else 10))
    return n, k


def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


class Daemon:
    """`mailflow run` as a separate process, as an office runs it."""

    def __init__(self, config: Path, log: Path):
        self.config, self.log = config, log
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        env = {**os.environ, **TEST_ENV, "PYTHONPATH": str(REPO)}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "mailflow", "run", "--config", str(self.config),
                                          "--log-format", "json"], env=env, stdout=out, stderr=out)
        self.starts += 1

    def kill(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, f"the daemon died by itself; see {self.log}"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


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
            for user, kind, text in ((ADMIN, "staff/forward", "#jawab KTP-el Bapak/Ibu sudah dicetak."),
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
                            reply.set_content(f"{text}\n\n-- \n{user}\n")
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
    n, k = figures(request)
    stack = mail
    stack.relay_control(sent_copy=True)  # the relay files accepted mail in Sent, as Gmail does
    config = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'chaos.db'}", imap_port=stack.imap_port,
                          smtp_port=stack.smtp_port, imap_extra='sent_folder = "Sent"\nbatch_size = 50',
                          # 200 complaints in minutes is the test, not a flood to alert about
                          extra="[limits]\noutbox_retry_seconds = 1\ncomplaints_per_hour_alert = 100000\n")
    settings = migrated_settings(config, TEST_ENV)
    daemon = Daemon(config, tmp_path / "daemon.log")
    mailer = Mailer(stack)
    rng = random.Random(int(os.environ.get("MAILFLOW_CHAOS_SEED", "20261201")))
    started = time.monotonic()
    deadline = started + max(600, n * 1.5)
    stop_bot = threading.Event()
    errors: list = []
    events: Counter = Counter()

    daemon.start()
    bot = threading.Thread(target=staff_bot, args=(stack, mailer, stop_bot, deadline, errors), daemon=True)
    bot.start()

    # The citizens send while the chaos happens: K kills of the daemon, and
    # about K/2 restarts of each server, at random moments spread over the run.
    sources: dict[str, str] = {}  # citizen address -> Message-ID of their complaint
    plan = sorted([(rng.random(), "kill") for _ in range(k)]
                  + [(rng.random(), "imap") for _ in range(max(2, k // 2))]
                  + [(rng.random(), "smtp") for _ in range(max(2, k // 2))])
    per_step = max(1, n // (len(plan) + 1))
    sent = 0
    for when, what in plan + [(1.0, None)]:
        target = min(n, int(when * n) + 1)
        while sent < target:
            sent += 1
            address = f"{CITIZENS}+c{sent}@dukcapil.test"
            raw = complaint_mail(VALID_BODY, sender=address, subject=f"Pengaduan KTP-el {sent}")
            sources[address] = str(parsed(raw)["Message-ID"]).strip("<>")
            mailer.send(raw, address, "aduan", deadline)
        if what is None:
            break
        time.sleep(rng.uniform(0.0, 0.4) + per_step * 0.002)
        if what == "kill":
            daemon.kill()
            time.sleep(rng.uniform(0.0, 0.3))
            daemon.start()
        elif what == "imap":
            stack.restart_imap()
        else:
            stack.restart_smtp()
        events[what] += 1

    # Let it finish: every complaint answered and the outbox empty; a few more
    # kills land in the busy tail, when staff replies and answers are flowing.
    app = build(settings)
    try:
        tail_kills = 0
        while True:
            with app.factory() as s:
                closed = s.scalar(select(func.count()).select_from(Complaint).where(Complaint.status == "closed"))
                unsent = s.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.state != "sent"))
            if closed == n and unsent == 0:
                break
            assert time.monotonic() < deadline, f"not done in time: {closed}/{n} closed, {unsent} unsent; see {daemon.log}"
            assert not errors, errors
            if tail_kills < max(1, k // 5) and closed > n * (tail_kills + 1) / (k // 5 + 2):
                daemon.kill()
                daemon.start()
                tail_kills += 1
                events["kill"] += 1
            time.sleep(0.5)
        stop_bot.set()
        bot.join(30)
        assert daemon.stop() == 0, f"the daemon did not stop cleanly on SIGTERM; see {daemon.log}"
        elapsed = time.monotonic() - started
        assert events["kill"] >= k

        report = check_everything(stack, app, n, sources)
    finally:
        stop_bot.set()
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.proc.kill()
        app.close()

    report.update(n=n, k=events["kill"], imap_restarts=events["imap"], smtp_restarts=events["smtp"],
                  daemon_starts=daemon.starts, sender_retries=mailer.retries, seconds=round(elapsed, 1))
    print("\nchaos:", json.dumps(report))
    out = os.environ.get("MAILFLOW_CHAOS_REPORT")
    if out:
        Path(out).write_text(json.dumps(report, indent=2) + "\n")


def check_everything(stack, app, n: int, sources: dict[str, str]) -> dict:
    with app.factory() as s:
        complaints = s.scalars(select(Complaint).order_by(Complaint.seq)).all()
        # every complaint exactly once, numbered 1..N without a gap or a double
        assert len(complaints) == n
        assert [c.seq for c in complaints] == list(range(1, n + 1))
        assert sorted(c.complainant_email for c in complaints) == sorted(sources)
        source_ids = dict(s.execute(select(Message.id, Message.message_id).where(Message.direction == "in")).all())
        assert {c.complainant_email: source_ids[c.source_message_pk] for c in complaints} == sources
        assert all(c.status == "closed" for c in complaints)
        # the outbox: nothing stuck, nothing failed, one "sent" hop per mail
        rows = s.execute(select(OutboxItem.state, Message.message_id, OutboxItem.kind)
                         .join(Message, Message.id == OutboxItem.message_pk)).all()
        assert Counter(state for state, _, _ in rows) == Counter({"sent": len(rows)})
        sent_hops = Counter(s.scalars(select(Hop.message_id).where(Hop.kind == "sent")))
        assert sent_hops == Counter({mid: 1 for _, mid, _ in rows})
        kinds = Counter(kind for _, _, kind in rows)
        assert kinds == Counter({"citizen/acknowledgement": n, "staff/forward": n, "staff/approval-request": n,
                                 "citizen/answer": n}), kinds
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
    # acknowledgement and one answer, by Message-ID (a copy re-sent with the
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
    assert len(per_citizen) == 2 * n
    assert stack.count("aduan") == 0  # nothing left in the complaint inbox
    return {"citizen_mails": copies, "same_message_id_copies": copies - 2 * n,
            "duplicate_fetches_ignored": duplicates_seen}
