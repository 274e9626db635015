"""The demo behind ./scripts/demo (see that script for what it shows)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devstack.config import write_config  # noqa: E402
from devstack.mailstack import DOMAIN, PASSWORD, MailStack  # noqa: E402

DEMO = REPO / "var" / "demo"
MAILS = REPO / "scripts" / "demo-mail"
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def say(text: str) -> None:
    print(f"\n{BOLD}== {text}{RESET}", flush=True)


def mailflow(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-m", "mailflow", *args, "--config", str(DEMO / "mailflow.toml")],
                         env=env, check=True, capture_output=True, text=True)
    return out.stdout


def staff_reply(stack, user: str, to_msg, text: str) -> None:
    """A staff member's reply as a mail client writes and sends it (logged in):
    text on top, quote below."""
    from email.message import EmailMessage
    from email.utils import make_msgid

    quoted = "\n".join("> " + line for line in to_msg.get_body(("plain",)).get_content().splitlines()[:10])
    msg = EmailMessage()
    msg["From"] = f"{user}@{DOMAIN}"
    msg["To"] = str(to_msg["Reply-To"])
    msg["Subject"] = "Re: " + str(to_msg["Subject"])
    msg["Message-ID"] = make_msgid(domain=DOMAIN)
    msg["In-Reply-To"] = msg["References"] = to_msg["Message-ID"]
    msg.set_content(f"{text}\n\nSalam,\n{user}\n\nPada Sen, 23 Nov 2026 10.15, Layanan Pengaduan "
                    f"<aduan@{DOMAIN}> menulis:\n{quoted}\n")
    stack.send(msg.as_bytes(), user, [str(to_msg["Reply-To"])], login=True)
    print(f"  {user}@{DOMAIN} replied: {text[:70]}")


def main() -> int:
    keep = "--keep" in sys.argv[1:]
    t0 = time.monotonic()
    say("Starting the local mail sandbox (Dovecot IMAP + SMTP relay on loopback)")
    stack = MailStack().start(DEMO / "mailstack")
    stack.reset()
    print(f"IMAP 127.0.0.1:{stack.imap_port} (STARTTLS), SMTP 127.0.0.1:{stack.smtp_starttls_port} (STARTTLS), "
          f"domain {DOMAIN}; users aduan, admin, kasi-*, kabid, kadis, warga1..9")

    for leftover in DEMO.glob("mailflow.db*"):
        leftover.unlink()
    write_config(DEMO, db_url="sqlite:///mailflow.db", imap_port=stack.imap_port,
                 smtp_port=stack.smtp_starttls_port, imap_security="starttls", smtp_security="starttls",
                 ca_file=stack.ca_file, password_env="MAILFLOW_IMAP_PASSWORD", timeout=None)
    env = {**os.environ, "MAILFLOW_IMAP_PASSWORD": PASSWORD, "PYTHONPATH": str(REPO)}
    say("Creating the database: mailflow db upgrade")
    print(mailflow("db", "upgrade", env=env).strip())

    say("Citizens send four mails to aduan@dukcapil.test")
    for path in sorted(MAILS.glob("*.eml")):
        raw = path.read_bytes()
        msg = message_from_bytes(raw, policy=policy.default)
        sender = msg["From"].addresses[0].addr_spec
        stack.send(raw, sender, [f"aduan@{DOMAIN}"])
        print(f"  {sender:<24} {msg['Subject']}")

    say("Running the daemon: mailflow run (it stops on SIGTERM after the current message)")
    daemon = subprocess.Popen([sys.executable, "-m", "mailflow", "run", "--config", str(DEMO / "mailflow.toml"),
                               "--log-format", "text"], env=env)
    try:
        # two acknowledgements, one rejection, two forwards
        stack.wait_for("warga1", 1, timeout=30)
        stack.wait_for("warga3", 1, timeout=30)
        stack.wait_for("warga2", 1, timeout=30)
        forwards = stack.wait_for("admin", 2, timeout=30)

        say("Staff act by replying from their mail client: the Admin drafts an answer (#jawab)")
        fwd = message_from_bytes(forwards[0], policy=policy.default)
        staff_reply(stack, "admin", fwd, "#jawab KTP-el Ibu sudah selesai dicetak dan dapat diambil di "
                    "kantor Kapanewon Sewon pada jam kerja dengan membawa bukti perekaman.")
        approval = message_from_bytes(stack.wait_for("kasi-identitas", 1, timeout=30)[-1], policy=policy.default)
        print(f"  kasi-identitas@{DOMAIN} received: {approval['Subject']}")
        say("The Kepala Seksi approves it (#setuju): the SOP says answers need at least a Kasi's approval")
        staff_reply(stack, "kasi-identitas", approval, "#setuju")
        stack.wait_for("warga1", 2, timeout=30)
        time.sleep(1.5)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)

    say("The queue: mailflow queue")
    print(mailflow("queue", env=env))
    say("One complaint's hop log: mailflow show ADU/2026/000001")
    print(mailflow("show", "ADU/2026/000001", env=env))

    say("What arrived in the mailboxes")
    for user in ("warga1", "warga2", "warga3", "warga4", "admin", "kasi-identitas"):
        for raw in stack.messages(user):
            msg = message_from_bytes(raw, policy=policy.default)
            print(f"  {user + '@' + DOMAIN:<24} {msg['Subject']}")
        if not stack.messages(user):
            print(f"  {user + '@' + DOMAIN:<24} {DIM}(nothing: an automatic reply is never answered){RESET}")
    ack = message_from_bytes(stack.messages("warga1")[0], policy=policy.default)
    say("The acknowledgement Siti Aminah received (threaded to her mail: In-Reply-To " + ack["In-Reply-To"] + ")")
    print(ack.get_body(("plain",)).get_content())
    answer = message_from_bytes(stack.messages("warga1")[-1], policy=policy.default)
    say("The answer she received after the Kasi's approval (same thread)")
    print(answer.get_body(("plain",)).get_content())
    rej = message_from_bytes(stack.messages("warga2")[0], policy=policy.default)
    say("The explanation Budi Santoso received (his complaint was not in the required format)")
    print(rej.get_body(("plain",)).get_content())

    print(f"{BOLD}Done in {time.monotonic() - t0:.0f} s.{RESET} Explore: "
          f".venv/bin/mailflow queue --config {DEMO.relative_to(REPO)}/mailflow.toml  (also: show, queue --outbox, resend)")
    if keep:
        print(f"The sandbox is still running; stop it with ./scripts/mailstack stop --dir {(DEMO / 'mailstack').relative_to(REPO)}")
    else:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
