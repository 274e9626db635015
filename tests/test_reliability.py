"""Nothing lost, nothing sent twice: each server fault, crash case, mail loop
and kind of hostile input on the real local mail servers (Dovecot + the SMTP
relay, which injects faults on request) and a real database.

The whole-system proof, with SIGKILLs and server restarts at random moments,
is tests/test_chaos.py; docs/RELIABILITY.md states the guarantees."""

from __future__ import annotations

import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import func, select, update

from mailflow.edges.mailbox import Mailbox
from mailflow.store.models import Complaint, Hop, Message, OutboxItem
from support import INVALID_BODY, REPO, TEST_ENV, VALID_BODY, complaint_mail, mailflow_at

pytestmark = pytest.mark.integration


# ------------------------------------------------------------------ helpers
class Clock:
    """A movable "now" for the desk (outbox backoff, 24-hour limits); it starts
    on a Monday at 09:00 WIB, whatever the date of the test run."""

    def __init__(self, now: datetime | None = None):
        self.now = now or datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def ids_in(stack, user: str, folder: str = "INBOX") -> list[str]:
    """The Message-IDs in a mailbox, one per stored copy (duplicates show twice)."""
    return [str(parsed(raw)["Message-ID"]).strip("<>") for raw in stack.messages(user, folder)]


def kinds_in(stack, user: str) -> list[str]:
    return [str(parsed(raw)["X-Mailflow-Kind"]) for raw in stack.messages(user)]


def hops(app, kind: str | None = None) -> list[Hop]:
    with app.factory() as s:
        stmt = select(Hop).order_by(Hop.id)
        return list(s.scalars(stmt.where(Hop.kind == kind) if kind else stmt))


def outbox_rows(app) -> list[tuple[OutboxItem, str]]:
    with app.factory() as s:
        return [(o, mid) for o, mid in s.execute(
            select(OutboxItem, Message.message_id).join(Message, Message.id == OutboxItem.message_pk)
            .order_by(OutboxItem.id))]


def count(app, model, *where) -> int:
    with app.factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def first_number(app) -> str:
    with app.factory() as s:
        return s.scalar(select(Complaint.number).order_by(Complaint.id).limit(1))


def valid(i: int) -> bytes:
    return complaint_mail(VALID_BODY, sender=f"warga{i}@dukcapil.test")


def send_valid(stack, *numbers: int) -> None:
    for i in numbers:
        stack.send(valid(i), f"warga{i}", "aduan")


def actions(result) -> list[str]:
    return [o.action for o in result.outcomes]


def dead_pid() -> int:
    """The pid of a process that has exited (as a SIGKILLed daemon's)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ------------------------------------------------------------------ crash mid-send
CRASH_MID_SEND = """
import os, signal, sys
from mailflow.runner.app import build
from mailflow.config.settings import load_settings
from mailflow.edges.smtp import SmtpSender

app = build(load_settings(sys.argv[1]))
claimed = app.outbox._claim()  # every due row is now "sending", claimed by this process
row = claimed[0]
app.outbox._loop.run_until_complete(SmtpSender(app.settings.smtp).send(row.env_from, row.rcpts, row.raw))
print(row.row_id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # after the server's 250, before "sent" is recorded
"""


def crash_mid_send(app) -> int:
    """Run a real daemon process that claims the due outbox rows, gets the
    first one accepted by the SMTP server, and is SIGKILLed before it can
    record that. Returns the id of the row the server accepted."""
    env = {**os.environ, **TEST_ENV, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", CRASH_MID_SEND, str(app.settings.path)], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return int(proc.stdout.split()[0])


def test_a_send_cut_short_by_sigkill_is_confirmed_from_the_sent_folder_not_sent_twice(make_desk):
    stack, app, daemon = make_desk(imap_extra='sent_folder = "Sent"')
    stack.relay_control(sent_copy=True)  # the SMTP server files what it accepts, as Gmail does
    send_valid(stack, 1, 2)
    assert [o.action for o in daemon.intake_once()] == ["registered", "registered"]
    accepted = crash_mid_send(app)
    states = {o.id: o.state for o, _ in outbox_rows(app)}
    assert set(states.values()) == {"sending"} and len(states) == 4

    result = daemon.run_once()
    assert (result.recovered.confirmed, result.recovered.requeued, result.drained.sent) == (1, 3, 3)
    rows = outbox_rows(app)
    assert {o.state for o, _ in rows} == {"sent"}
    assert all(o.claimed_by is None for o, _ in rows)
    # every mail reached its recipient exactly once
    everything = ids_in(stack, "warga1") + ids_in(stack, "warga2") + ids_in(stack, "admin")
    assert sorted(everything) == sorted(mid for _, mid in rows)
    # one "sent" hop per mail; the confirmed one says how it is known
    sent = hops(app, "sent")
    assert sorted(h.message_id for h in sent) == sorted(mid for _, mid in rows)
    [confirmed] = [h for h in sent if "Sent folder" in h.reason]
    assert confirmed.message_id == dict((o.id, mid) for o, mid in rows)[accepted]


def test_without_a_sent_folder_an_interrupted_mail_goes_again_with_the_same_message_id(make_desk):
    stack, app, daemon = make_desk()
    send_valid(stack, 1)
    daemon.intake_once()
    accepted = crash_mid_send(app)
    result = daemon.run_once()
    assert (result.recovered.confirmed, result.recovered.requeued, result.drained.sent) == (0, 2, 2)
    accepted_id = dict((o.id, mid) for o, mid in outbox_rows(app))[accepted]
    got = ids_in(stack, "warga1") + ids_in(stack, "admin")
    # The documented exception: the mail the server had accepted arrives twice,
    # as the same message (same Message-ID), which mail clients show once.
    assert got.count(accepted_id) == 2 and len(set(got)) == 2
    assert {o.state for o, _ in outbox_rows(app)} == {"sent"}


def test_a_row_a_live_daemon_is_sending_is_left_to_it_until_its_claim_expires(make_desk):
    clock = Clock()
    stack, app, daemon = make_desk(clock=clock)
    send_valid(stack, 1)
    daemon.intake_once()
    live = f"{socket.gethostname()}:{os.getppid()}:othertoken"  # another daemon on this host, alive
    with app.factory.begin() as s:
        s.execute(update(OutboxItem).values(state="sending", claimed_by=live, claimed_at=clock.now))
    result = daemon.run_once()
    assert not result.recovered and result.drained.sent == 0
    assert {o.state for o, _ in outbox_rows(app)} == {"sending"}
    with app.factory.begin() as s:  # that daemon hung for 20 minutes: its claim is taken over
        s.execute(update(OutboxItem).values(claimed_at=clock.now - timedelta(minutes=20)))
    result = daemon.run_once()
    assert (result.recovered.requeued, result.drained.sent) == (2, 2)
    # a claim by a process of this host that is gone is taken over at once
    send_valid(stack, 2)
    daemon.intake_once()
    with app.factory.begin() as s:
        s.execute(update(OutboxItem).where(OutboxItem.state == "pending")
                  .values(state="sending", claimed_by=f"{socket.gethostname()}:{dead_pid()}:x",
                          claimed_at=clock.now))
    assert daemon.run_once().recovered.requeued == 2


def test_a_drain_holds_about_claim_bytes_of_mail_at_once(make_desk):
    from mailflow.edges.outbox import Outbox

    stack, app, daemon = make_desk()
    send_valid(stack, 1, 2)
    daemon.intake_once()
    sizes = []
    with app.factory() as s:
        sizes = sorted(s.scalars(select(Message.size).where(Message.direction == "out")))
    small = Outbox(app.settings, app.factory, claim_bytes=sizes[0])  # room for one mail at a time
    try:
        assert [small.run_once().sent for _ in range(5)] == [1, 1, 1, 1, 0]
    finally:
        small.close()
    roomy = Outbox(app.settings, app.factory, claim_bytes=10 * max(sizes))
    try:
        send_valid(stack, 3, 4)
        daemon.intake_once()
        assert roomy.run_once().sent == 4
    finally:
        roomy.close()


def test_a_drain_asked_to_stop_hands_its_unsent_claim_back(make_desk):
    stack, app, daemon = make_desk()
    send_valid(stack, 1)
    daemon.intake_once()
    stop = threading.Event()
    stop.set()
    assert app.outbox.run_once(stop=stop).sent == 0
    assert [(o.state, o.attempts, o.claimed_by) for o, _ in outbox_rows(app)] == [("pending", 0, None)] * 2
    assert app.outbox.run_once().sent == 2


# ------------------------------------------------------------------ SMTP faults
def test_smtp_4xx_is_retried_with_backoff_and_sent_once(make_desk):
    clock = Clock()
    stack, app, daemon = make_desk(clock=clock)
    stack.relay_control(faults=[{"stage": "data", "sender": "aduan@", "reply": "451 4.3.0 antrean penuh, coba lagi",
                                 "times": 2}])
    send_valid(stack, 1)
    first = daemon.run_once()
    assert actions(first) == ["registered"]
    assert (first.drained.sent, first.drained.deferred) == (0, 2)
    rows = outbox_rows(app)
    assert all(o.state == "pending" and o.attempts == 1 and "451" in o.last_error for o, _ in rows)
    wait = min(o.next_attempt_at for o, _ in rows) - clock.now
    assert timedelta(seconds=15) <= wait <= timedelta(seconds=30)  # backoff with jitter, not at once
    assert daemon.run_once().drained == type(first.drained)()  # nothing due yet
    clock.now += timedelta(minutes=1)
    assert daemon.run_once().drained.sent == 2  # the two faults were used by the first drain
    assert sorted(kinds_in(stack, "warga1") + kinds_in(stack, "admin")) == ["citizen/acknowledgement", "staff/forward"]
    assert len(hops(app, "sent")) == 2 and hops(app, "failed") == []


def test_smtp_4xx_until_the_attempt_limit_fails_the_row_visibly_and_resend_sends_it(make_desk, tmp_path):
    clock = Clock()

    def mailflow(*args: str):  # the command line on the desk's clock, in this process (TEST_ENV)
        return mailflow_at(clock, *args)

    stack, app, daemon = make_desk(clock=clock, extra="[limits]\noutbox_max_attempts = 3\n")
    stack.relay_control(faults=[{"stage": "rcpt", "match": "warga1@", "sender": "aduan@",
                                 "reply": "452 4.2.2 mailbox penuh"}])
    send_valid(stack, 1)
    daemon.run_once()
    for _ in range(3):
        clock.now += timedelta(hours=2)
        daemon.run_once()
    by_kind = {o.kind: o for o, _ in outbox_rows(app)}
    ack = by_kind["citizen/acknowledgement"]
    assert (ack.state, ack.attempts) == ("failed", 3)
    assert "gave up after 3 attempts" in ack.last_error and "452 4.2.2 mailbox penuh" in ack.last_error
    assert by_kind["staff/forward"].state == "sent"  # the other mail was not held up
    [failed] = hops(app, "failed")
    assert "mailbox penuh" in failed.reason

    listing = mailflow("queue", "--outbox", "--config", str(app.settings.path))
    assert listing.returncode == 0 and "failed" in listing.stdout and "citizen/acknowledgement" in listing.stdout
    stack.relay_control()  # the citizen emptied the mailbox
    number = first_number(app)
    again = mailflow("resend", number, "--config", str(app.settings.path))
    assert again.returncode == 0 and "queued again" in again.stdout, again.stderr
    assert daemon.run_once().drained.sent == 1
    assert kinds_in(stack, "warga1") == ["citizen/acknowledgement"]
    assert "outbox empty" in mailflow("queue", "--outbox", "--config", str(app.settings.path)).stdout


def test_smtp_5xx_fails_the_row_at_once_with_the_servers_reason(make_desk):
    stack, app, daemon = make_desk()
    stack.relay_control(faults=[{"stage": "data", "match": "warga1@", "sender": "aduan@",
                                 "reply": "554 5.7.1 ditolak: kebijakan"}])
    send_valid(stack, 1)
    result = daemon.run_once()
    assert (result.drained.sent, result.drained.failed, result.drained.deferred) == (1, 1, 0)
    ack = {o.kind: o for o, _ in outbox_rows(app)}["citizen/acknowledgement"]
    assert (ack.state, ack.attempts) == ("failed", 1)
    assert ack.last_error == "554 5.7.1 ditolak: kebijakan"
    [failed] = hops(app, "failed")
    assert failed.reason == "554 5.7.1 ditolak: kebijakan"


def test_smtp_server_down_defers_everything_and_it_all_goes_once_it_is_back(make_desk):
    clock = Clock()
    stack, app, daemon = make_desk(clock=clock)
    stack._stop_relay()
    try:
        stack.deliver("aduan", valid(1))
        stack.deliver("aduan", valid(2))
        result = daemon.run_once()  # never raises for SMTP trouble
        assert actions(result) == ["registered", "registered"]
        assert (result.drained.sent, result.drained.deferred) == (0, 4)
        assert all("Connect" in o.last_error or "refused" in o.last_error.lower() for o, _ in outbox_rows(app))
    finally:
        stack.restart_smtp()
    clock.now += timedelta(minutes=5)
    assert daemon.run_once().drained.sent == 4
    assert len(ids_in(stack, "admin")) == 2 and len(ids_in(stack, "warga1")) == 1


def test_a_connection_dropped_after_data_is_retried_and_sent_once(make_desk):
    clock = Clock()
    stack, app, daemon = make_desk(clock=clock)
    stack.relay_control(faults=[{"stage": "drop", "sender": "aduan@", "times": 1}])
    send_valid(stack, 1)
    result = daemon.run_once()
    assert result.drained.sent == 0 and result.drained.deferred == 2
    clock.now += timedelta(minutes=5)
    assert daemon.run_once().drained.sent == 2
    assert len(ids_in(stack, "warga1")) == 1 and len(ids_in(stack, "admin")) == 1


# ------------------------------------------------------------------ IMAP faults
class CutAfter(Mailbox):
    """The real mailbox, with a real fault injected after the first message of a
    fetch: ``fault()`` restarts Dovecot or kicks the session server-side."""

    def __init__(self, cfg, fault):
        super().__init__(cfg)
        self.fault = fault
        self.armed = True

    def fetch(self, uids, max_bytes=None):
        for n, fetched in enumerate(super().fetch(uids, max_bytes)):
            yield fetched
            if n == 0 and self.armed:
                self.armed = False
                self.fault()


@pytest.mark.parametrize("fault", ["restart", "kick"])
def test_imap_server_lost_mid_fetch_loses_nothing_and_doubles_nothing(make_desk, fault):
    stack, app, _ = make_desk(imap_extra="batch_size = 2")  # five mails: three FETCH commands
    for i in range(1, 6):
        stack.deliver("aduan", valid(i))
    cut = (stack.restart_imap if fault == "restart"
           else lambda: stack.doveadm("kick", "aduan"))
    daemon = app.daemon(mailbox=CutAfter(app.settings.imap, cut))
    with pytest.raises(Exception) as err:
        daemon.run_once()
    assert err.type.__module__.split(".")[0] in ("imapclient", "imaplib", "socket", "ssl", "builtins", "mailflow")
    # The first batch (two mails, already fetched) was committed; the next FETCH
    # and the MOVE met the dead connection: both stay in INBOX.
    assert count(app, Complaint) == 2
    daemon._reset_connection()  # what run() does after a network error
    result = daemon.run_once()
    assert sorted(actions(result)) == ["duplicate"] * 2 + ["registered"] * 3
    assert count(app, Complaint) == 5
    assert stack.count("aduan") == 0 and stack.count("aduan", "mailflow/processed") == 5
    assert sorted(kinds_in(stack, "admin")) == ["staff/forward"] * 5
    assert all(len(ids_in(stack, f"warga{i}")) == 1 for i in range(1, 6))


def test_a_uidvalidity_change_rescans_the_folder_and_loses_nothing(make_desk):
    stack, app, daemon = make_desk(imap_extra='folder = "Aduan"')
    for i in (1, 2, 3):
        stack.deliver("aduan", valid(i), folder="Aduan")
    assert actions(daemon.run_once()) == ["registered"] * 3
    kept = valid(4)
    stack.deliver("aduan", kept, folder="Aduan")
    assert actions(daemon.run_once()) == ["registered"]
    with app.factory() as s:
        from mailflow.store.models import MailboxState

        before = s.get(MailboxState, ("default", "Aduan"))
        assert before.last_uid == 4
    # The mailbox is rebuilt (restored from a backup, migrated to a new server):
    # new UIDVALIDITY, UIDs from 1 again, below the last UID seen. One mail
    # already handled comes back with two new ones.
    daemon.mailbox.close()
    with stack._session("aduan") as c:
        c.delete_folder("Aduan")
        c.create_folder("Aduan")
    for raw in (kept, valid(5), valid(6)):
        stack.deliver("aduan", raw, folder="Aduan")
    result = daemon.run_once()
    assert sorted(actions(result)) == ["duplicate", "registered", "registered"]
    assert count(app, Complaint) == 6
    with app.factory() as s:
        after = s.get(MailboxState, ("default", "Aduan"))
        assert after.uidvalidity != before.uidvalidity and after.last_uid == 3


# ------------------------------------------------------------------ the loop itself
def run_in_thread(daemon) -> threading.Thread:
    thread = threading.Thread(target=daemon.run, kwargs={"install_signal_handlers": False}, daemon=True)
    thread.start()
    return thread


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.05)


def test_imap_idle_picks_a_complaint_up_at_once_and_sigterm_stops_it_promptly(make_desk, monkeypatch):
    stack, app, _ = make_desk(poll_interval=120)  # a poll would take two minutes
    daemon = app.daemon()
    thread = run_in_thread(daemon)
    try:
        time.sleep(1.0)  # idling now
        sent_at = time.monotonic()
        send_valid(stack, 1)
        wait_until(lambda: stack.count("warga1") == 1, 10, "the acknowledgement under IDLE")
        assert time.monotonic() - sent_at < 10 < 120
    finally:
        stopping = time.monotonic()
        daemon.stop()
        thread.join(10)
    assert not thread.is_alive() and time.monotonic() - stopping < 3


def test_without_idle_the_daemon_polls(make_desk):
    stack, app, _ = make_desk(imap_extra="idle = false")  # poll_interval = 1 (support.write_config)
    daemon = app.daemon()
    thread = run_in_thread(daemon)
    try:
        send_valid(stack, 1)
        wait_until(lambda: stack.count("warga1") == 1, 10, "the acknowledgement by polling")
    finally:
        daemon.stop()
        thread.join(10)
    assert not thread.is_alive()


def test_the_daemon_never_exits_on_a_network_error_and_catches_up(make_desk):
    stack, app, _ = make_desk()
    daemon = app.daemon()
    thread = run_in_thread(daemon)
    try:
        send_valid(stack, 1)
        wait_until(lambda: stack.count("warga1") == 1, 15, "the first acknowledgement")
        stack._stop_dovecot()  # IMAP and LMTP gone: the daemon backs off, and stays up
        time.sleep(3)
        assert thread.is_alive()
        stack.restart_imap()
        stack._stop_relay()  # now SMTP is gone
        stack.deliver("aduan", valid(2))
        wait_until(lambda: count(app, Complaint) == 2, 30, "the complaint taken in without SMTP")
        assert thread.is_alive()
        stack.restart_smtp()
        # deferred mail waits for its backoff (15-30 s for a first failure)
        with app.factory.begin() as s:
            s.execute(update(OutboxItem).where(OutboxItem.state == "pending")
                      .values(next_attempt_at=datetime.now(UTC)))
        wait_until(lambda: stack.count("warga2") == 1, 30, "the second acknowledgement after the outage")
    finally:
        daemon.stop()
        thread.join(15)
    assert not thread.is_alive()
    assert count(app, OutboxItem, OutboxItem.state != "sent") == 0


# ------------------------------------------------------------------ mail loops
def robot_replies(stack, robot: str) -> int:
    """An auto-responder that does not say it is one (no Auto-Submitted, no
    Precedence): it answers every mail in its inbox it has not answered yet,
    quoting it, to the Reply-To or From. Returns how many it answered now."""
    answered = 0
    with stack._session(robot) as c:
        c.select_folder("INBOX")
        for uid in c.search(["UNSEEN"]):
            raw = c.fetch([uid], ["BODY[]"])[uid][b"BODY[]"]  # BODY[] marks it \\Seen
            original = parsed(raw)
            reply = EmailMessage()
            reply["From"] = f"{robot}@dukcapil.test"
            reply["To"] = str(original["Reply-To"] or original["From"].addresses[0].addr_spec)
            reply["Subject"] = "Re: " + str(original["Subject"])
            reply["Message-ID"] = make_msgid(domain="robot.test")
            reply["In-Reply-To"] = reply["References"] = str(original["Message-ID"])
            quoted = "\n".join("> " + ln for ln in original.get_body(("plain",)).get_content().splitlines()[:20])
            reply.set_content("Terima kasih, surel Anda sudah kami terima.\n\n" + quoted)
            stack.send(reply.as_bytes(), robot, [reply["To"]])
            answered += 1
    return answered


def test_an_auto_responder_that_hides_it_is_stopped_after_the_limit(make_desk):
    stack, app, daemon = make_desk()  # limits.auto_replies_per_sender_per_day = 3 (the default)
    stack.send(complaint_mail(INVALID_BODY, sender="warga7@dukcapil.test"), "warga7", "aduan")
    for _ in range(8):  # eight rounds of it answering us and us answering it
        daemon.run_once()
        robot_replies(stack, "warga7")
    daemon.run_once()
    assert kinds_in(stack, "warga7") == ["citizen/format-rejected"] * 3
    assert robot_replies(stack, "warga7") == 0  # the loop has stopped
    stopped = [h for h in hops(app, "ignored") if "already got 3 automatic replies" in h.reason]
    assert len(stopped) >= 1 and count(app, Complaint) == 0
    assert len(hops(app, "rejected")) == 4  # every mail was still read and logged


def test_a_staff_auto_responder_on_a_refusal_is_stopped_after_the_limit(make_desk):
    stack, app, daemon = make_desk()
    send_valid(stack, 1)
    daemon.run_once()
    [forward] = [parsed(r) for r in stack.messages("admin")]
    # The Admin's client answers with nonsense to the reply address, over and over.
    for n in range(5):
        msg = EmailMessage()
        msg["From"], msg["To"] = "admin@dukcapil.test", str(forward["Reply-To"])
        msg["Subject"] = "Re: " + str(forward["Subject"])
        msg["Message-ID"] = make_msgid(domain="dukcapil.test")
        msg["In-Reply-To"] = str(forward["Message-ID"])
        msg.set_content(f"#entahlah {n}")
        stack.send(msg.as_bytes(), "admin", [msg["To"]], login=True)
        daemon.run_once()
    assert kinds_in(stack, "admin").count("staff/refused") == 3
    assert len(hops(app, "refused")) == 5
    assert any("already got 3 automatic replies" in h.reason for h in hops(app, "ignored"))


def test_our_own_mail_coming_back_is_never_answered(make_desk):
    stack, app, daemon = make_desk()
    stack.send(complaint_mail(INVALID_BODY, sender="warga3@dukcapil.test"), "warga3", "aduan")
    daemon.run_once()
    [rejection] = stack.messages("warga3")
    stack.send(rejection, "warga3", "aduan")  # forwarded back as it was, e.g. by a redirect rule
    result = daemon.run_once()
    assert actions(result) == ["duplicate"] and result.drained.sent == 0
    assert len(stack.messages("warga3")) == 1


# ------------------------------------------------------------------ bounces
def dsn(original: EmailMessage, failed: str, *, action: str = "failed", status: str = "5.1.1") -> bytes:
    """A delivery-status report (RFC 3464) as Postfix writes it, about ``original``."""
    headers = "".join(f"{k}: {v}\r\n" for k, v in original.items())
    boundary = "dsn-boundary"
    return (
        "From: MAILER-DAEMON@mx.warga.test (Mail Delivery System)\r\n"
        "To: aduan@dukcapil.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.warga.test')}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\n"
        f"I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
        f"<{failed}>: host mx.warga.test said: 550 {status} user unknown\r\n\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.warga.test\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{failed}>: Recipient address rejected: user unknown\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def test_a_bounced_acknowledgement_is_recorded_and_the_holder_told(make_desk):
    stack, app, daemon = make_desk()
    send_valid(stack, 4)
    daemon.run_once()
    [ack] = [parsed(r) for r in stack.messages("warga4")]
    stack.send(dsn(ack, "warga4@dukcapil.test"), "", "aduan")
    result = daemon.run_once()
    assert actions(result) == ["bounced"]
    [hop] = hops(app, "bounced")
    number = first_number(app)
    assert hop.complaint_id is not None and str(ack["Message-ID"]).strip("<>") in hop.reason
    notices = [parsed(r) for r in stack.messages("admin") if b"staff/bounce-notice" in r]
    [notice] = notices
    text = notice.get_body(("plain",)).get_content()
    assert notice["Subject"].strip() == f"[{number}] Surel tidak sampai kepada pelapor"
    assert "warga4@dukcapil.test" in text and "081234567890" in text and "user unknown" in text
    assert kinds_in(stack, "warga4") == ["citizen/acknowledgement"]  # nothing more to the failed address
    # the bounce of that notice is logged, never answered (no loop)
    stack.send(dsn(notice, "admin@dukcapil.test"), "", "aduan")
    result = daemon.run_once()
    assert actions(result) == ["bounced"] and result.drained.sent == 0


def test_a_delay_warning_is_logged_and_tells_nobody(make_desk):
    stack, app, daemon = make_desk()
    send_valid(stack, 4)
    daemon.run_once()
    [ack] = [parsed(r) for r in stack.messages("warga4")]
    stack.send(dsn(ack, "warga4@dukcapil.test", action="delayed", status="4.4.1"), "", "aduan")
    result = daemon.run_once()
    assert actions(result) == ["bounced"] and result.drained.sent == 0
    assert "delay warning" in hops(app, "bounced")[0].reason


def test_a_bounce_of_mail_to_staff_goes_to_the_admin_alert_address(make_desk):
    stack, app, daemon = make_desk()
    send_valid(stack, 1)
    daemon.run_once()
    [forward] = [parsed(r) for r in stack.messages("admin")]
    stack.send(dsn(forward, "kasi-lama@dukcapil.test"), "", "aduan")
    daemon.run_once()
    [notice] = [parsed(r) for r in stack.messages("admin") if b"staff/bounce-notice" in r]
    assert "berkas aturan" in notice.get_body(("plain",)).get_content()


# ------------------------------------------------------------------ hostile input
HEAD = b"From: Penguji <warga9@dukcapil.test>\r\nTo: aduan@dukcapil.test\r\nSubject: uji\r\nMessage-ID: <%s@uji.test>\r\n"


PEAK_RSS = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(proc.pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def hostile_mails() -> dict[str, bytes]:
    import base64

    def mid(name: str) -> bytes:
        return HEAD % name.encode()

    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nbagian %d\r\n" % i for i in range(5000))
    deep = b"Content-Type: text/plain\r\n\r\nisi\r\n"
    for i in range(300):
        deep = b"Content-Type: message/rfc822\r\n\r\nFrom: x@y.test\r\nSubject: n%d\r\n" % i + deep
    nested = b"Content-Type: text/plain\r\n\r\nisi\r\n"
    for i in range(300):
        nested = b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i) + nested + b"--n%d--\r\n" % i
    big = base64.encodebytes(os.urandom(22 * 1024 * 1024)).replace(b"\n", b"\r\n")
    return {
        "truncated": mid("truncated") + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/pla',
        "binary junk": bytes(range(256)) * 40,
        "8-bit and broken encoded headers": mid("8bit") + b"Subject: =?utf-8?B?!!!?= \xff\xfe \xc3\x28\r\nX-Bad: =?x-nope?Q?=ZZ?=\r\n\r\nNama: \xe9\r\n",
        "30 MB attachment": mid("big") + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
                            b"Content-Type: text/plain\r\n\r\nlampiran\r\n--b\r\nContent-Type: application/octet-stream\r\n"
                            b"Content-Transfer-Encoding: base64\r\n\r\n" + big + b"--b--\r\n",
        "MIME bomb": mid("bomb") + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n",
        "deep message/rfc822": mid("deep") + b"MIME-Version: 1.0\r\n" + deep,
        "deep multipart": mid("nested") + b"MIME-Version: 1.0\r\n" + nested,
        "1 MB header line": mid("longheader") + b"X-Long: " + b"a" * (1 << 20) + b"\r\n\r\nisi\r\n",
        "Content-Type lie": mid("lie") + b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="nothere"\r\n'
                            b"Content-Transfer-Encoding: base64\r\n\r\n" + VALID_BODY.encode(),
    }


def test_hostile_input_is_quarantined_or_handled_the_queue_goes_on_and_memory_stays_bounded(make_desk):
    stack, app, _ = make_desk()
    mails = hostile_mails()
    for raw in mails.values():
        stack.deliver("aduan", raw)
    stack.deliver("aduan", valid(1))  # an honest complaint behind all of them
    env = {**os.environ, **TEST_ENV, "PYTHONPATH": str(REPO)}
    # The daemon's peak RSS, measured by a small wrapper process: a child of
    # this (large) test process would inherit its high-water mark across exec.
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "mailflow", "poll", "--once",
                           "--config", str(app.settings.path)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    peak_mb = int(proc.stdout.split()[-1]) / 1024
    assert peak_mb < 200, f"peak RSS {peak_mb:.0f} MB"  # the 30 MB mail was never downloaded whole
    assert stack.count("aduan") == 0  # nothing stuck in the inbox
    quarantined = stack.count("aduan", "mailflow/quarantine")
    processed = stack.count("aduan", "mailflow/processed")
    assert quarantined + processed == len(mails) + 1
    with app.factory() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 1  # the honest one
        reasons = [h.reason for h in s.scalars(select(Hop).where(Hop.kind == "quarantined"))]
    for words in ("too large", "limits.max_mime_parts", "limits.max_mime_depth", "limits.max_header_bytes"):
        assert any(words in r for r in reasons), (words, reasons)
    assert quarantined == len(reasons) >= 5
    assert count(app, Message, Message.direction == "in") == len(mails) + 1  # every one archived
    assert "1 registered" in proc.stdout


# ------------------------------------------------------------------ fuzzing the intake entry point
def test_intake_fuzz_every_input_is_handled_or_refused_with_a_quarantinable_error(tmp_path):
    """Hypothesis drives Intake.process (the entry point of every inbound mail)
    on a real SQLite database: whatever the bytes, it returns an Outcome or
    raises one of the errors the daemon quarantines with a reason; nothing
    else, and a message that was handled is archived."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from mailflow.config.settings import load_settings
    from mailflow.core.mail import MessageParseError
    from mailflow.desk.delivery import Source
    from mailflow.errors import MessageTooLarge
    from mailflow.runner.app import build
    from mailflow.store import db
    from support import write_config
    from test_message import BODY_LINES, HEADER_LINES

    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'fuzz.db'}")
    desk_settings = load_settings(path, env=TEST_ENV)
    engine = db.make_engine(desk_settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    app = build(desk_settings, clock=Clock())  # what is read depends on the date (a NIK born "in the future")
    labels = st.sampled_from(["Nama", "NIK", "No. KK", "Alamat", "No. HP", "Jenis Layanan", "Uraian", "#NIK", "nama"])
    values = st.one_of(st.sampled_from(["Siti", "3402014501900001", "KTP-el", "Jl. X", "081234567890", ""]),
                       st.text(max_size=40))
    form = st.lists(st.tuples(labels, st.sampled_from([": ", " = ", "#", ":"]), values), max_size=9).map(
        lambda rows: "\n".join(f"{a}{b}{c}" for a, b, c in rows).encode("utf-8", "surrogatepass"))
    mails = st.one_of(
        st.binary(max_size=2000),
        st.builds(lambda h, b, f, eol: eol.join(h) + eol + eol + eol.join(b) + eol + f,
                  st.lists(HEADER_LINES, max_size=12), st.lists(BODY_LINES, max_size=12), form,
                  st.sampled_from([b"\r\n", b"\n", b"\r"])),
    )
    uid = iter(range(1, 10**9))

    @settings(max_examples=300, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(mails)
    def check(raw: bytes):
        source = Source("INBOX", 1, next(uid))
        try:
            with app.factory.begin() as s:
                outcome = app.intake.process(s, raw, source)
        except (MessageParseError, MessageTooLarge):
            with app.factory.begin() as s:  # what the daemon does next: it must work for any bytes
                outcome = app.intake.quarantine(s, raw, source, "fuzz")
            assert outcome.action == "quarantined"
            return
        assert outcome.action in ("registered", "rejected", "ignored", "duplicate", "attached", "bounced", "refused")
        with app.factory() as s:
            assert s.get(Message, outcome.message_pk) is not None

    try:
        check()
    finally:
        app.close()
