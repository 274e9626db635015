"""`mailflow run` with a deployment of several offices on SQLite
(mailflow/runner/fleet.py): one process, one thread per office, each on its
own Dovecot mailbox with IMAP IDLE, its own register numbers and its own
acknowledgements; SIGTERM stops them all at once, exit code 0."""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
import time
from email import policy

import pytest
from sqlalchemy import create_engine, text

from devstack.config import write_deployment
from support import REPO, TEST_ENV, VALID_BODY, complaint_mail

pytestmark = pytest.mark.integration

OFFICES = {"bantul": "aduan-bantul", "sleman": "aduan-sleman"}


def test_one_process_serves_every_office_of_its_config(mail, tmp_path):
    stack = mail
    stack.start(users=list(OFFICES.values()))
    stack.reset()
    config = write_deployment(tmp_path, url=f"sqlite:///{tmp_path / 'mailflow.db'}", offices=OFFICES,
                              imap_port=stack.imap_port, smtp_port=stack.smtp_port, log_level="INFO")
    env = {**os.environ, **TEST_ENV, "MAILFLOW_CONFIG": str(config)}
    subprocess.run([sys.executable, "-m", "mailflow", "db", "upgrade"], cwd=REPO, env=env, check=True,
                   capture_output=True)
    log = (tmp_path / "run.log").open("wb")
    daemon = subprocess.Popen([sys.executable, "-m", "mailflow", "run", "--log-format", "text"], cwd=REPO, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        engine = create_engine(f"sqlite:///{tmp_path / 'mailflow.db'}")

        def looked_at() -> int:
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM mailbox_state WHERE checked_at IS NOT NULL")).scalar()
        deadline = time.monotonic() + 30
        while looked_at() < len(OFFICES) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert looked_at() == len(OFFICES), (tmp_path / "run.log").read_text()[-3000:]
        # Two complaints to each office, from two citizens.
        for n, (key, user) in enumerate(list(OFFICES.items()) * 2):
            stack.send(complaint_mail(VALID_BODY, sender=f"warga{n + 1}@dukcapil.test", to=f"{user}@dukcapil.test",
                                      subject=f"Pengaduan KTP-el {key} {n}"), f"warga{n + 1}", f"{user}@dukcapil.test")
        acks = [stack.wait_for(f"warga{n + 1}", 1, timeout=30)[0] for n in range(4)]
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(30)
        log.close()
    assert code == 0
    with engine.connect() as conn:
        numbers = sorted(conn.execute(text("SELECT office, number FROM complaints")).all())
    engine.dispose()
    # Each office numbers its own from 1 (the year is the run's: not asserted).
    assert [(office, number.split("/")[0], number.split("/")[2]) for office, number in numbers] == [
        ("bantul", "BANTUL", "00001"), ("bantul", "BANTUL", "00002"),
        ("sleman", "SLEMAN", "00001"), ("sleman", "SLEMAN", "00002")]
    for n, raw in enumerate(acks):
        msg = email.message_from_bytes(raw, policy=policy.default)
        office_user = list(OFFICES.values())[n % 2]
        assert msg["X-Mailflow-Kind"] == "citizen/acknowledgement"
        assert office_user in str(msg["From"]) or office_user in str(msg["Reply-To"])
    output = (tmp_path / "run.log").read_text()
    assert "mailflow running 2 offices: bantul, sleman" in output
