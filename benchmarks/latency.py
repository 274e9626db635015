"""Pickup latency: SMTP front accepts a complaint -> its acknowledgement reaches the SMTP front.

``mailflow run`` (the daemon's real loop: it waits with IMAP IDLE, and
re-checks the folder every ``imap.poll_interval`` seconds, set to POLL here,
long enough that every pickup measured is an IDLE announcement) runs as its
own process on a SQLite desk.  N complaints are sent one at a time at a steady
rate, each from its own address.  t0 = the moment the send of the complaint
returned 250 (the SMTP front answers only after Dovecot stored it).  t1 = the
moment the SMTP front logged the delivery of the acknowledgement to that
address (its log line, millisecond stamps, written just before it answers
250 to mailflow).  Latency = t1 - t0; p50 and p99 over N.
"""

from __future__ import annotations

import re
import smtplib
import subprocess
import time
from datetime import datetime
from pathlib import Path

from benchmarks import fake
from benchmarks.harness import Row, Run, Stack, child_env, mailflow_cmd, make_desk, percentile, terminate, wait_until

POLL = 30  # the re-check under IDLE: far above the latencies measured
_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*from=<aduan@dukcapil\.test> to=\['([^']+)'\].*delivered")


def relay_times(log: Path, offset: int, line: re.Pattern[str] = _LINE) -> dict[str, float]:
    """From the SMTP front's log after ``offset``: when each key (group 2 of
    ``line``) was first delivered, by the log's timestamp (group 1)."""
    out: dict[str, float] = {}
    with open(log, encoding="utf-8", errors="replace") as fh:
        fh.seek(offset)
        for entry in fh:
            m = line.match(entry)
            if m:
                out.setdefault(m.group(2), datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp())
    return out


def run(r: Run, stack: Stack, workdir: Path, *, n: int, rate: float) -> None:
    bench = "latency"
    for u in ("aduan", "admin", *fake.CITIZENS):
        stack.empty(u)
    stack.stack.doveadm("mailbox", "delete", "-u", "aduan", "-r", "-s", "mailflow", check=False)
    desk = make_desk(stack, workdir / "latency", build=False, poll_interval=POLL)
    relay_log = Path(stack.stack.dir) / "smtprelay.log"
    offset = relay_log.stat().st_size
    log = open(workdir / "latency-daemon.log", "wb")
    proc = subprocess.Popen(mailflow_cmd("run", "--log-format", "json", "--config", str(desk.config)),
                            env=child_env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    sent: dict[str, float] = {}
    try:
        wait_until(lambda: _folder_exists(stack, "mailflow/processed"), 30, 0.05)  # the daemon is connected
        base = 10_000_000 + int(time.time()) % 1_000_000 * 10  # fresh addresses per run
        with smtplib.SMTP(stack.stack.host, stack.stack.smtp_port, timeout=60) as smtp:
            start = time.monotonic()
            for k in range(n):
                i = base + k
                # steady rate: send k at start + k/rate
                delay = start + k / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                smtp.sendmail(fake.sender(i), ["aduan@dukcapil.test"], fake.complaint_mail(i, run="lat"))
                sent[fake.sender(i)] = time.time()
        wait_until(lambda: len(relay_times(relay_log, offset).keys() & sent.keys()) >= n, 30, 0.2)
    finally:
        terminate(proc)
        log.close()
    got = relay_times(relay_log, offset)
    lat = [got[a] - t0 for a, t0 in sent.items() if a in got]
    missing = n - len(lat)
    p50, p99 = (percentile(lat, 50), percentile(lat, 99)) if lat else (None, None)
    r.details["latency"] = {"poll_interval": POLL, "rate": rate, "n": n, "latencies": sorted(round(x, 4) for x in lat),
                            "missing": missing}
    note = f"{n} complaints at {rate:g}/s; mailflow run with IMAP IDLE (re-check every {POLL:g}s)"
    if missing:
        note += f"; {missing} acknowledgement(s) never arrived"
    r.add(Row(bench, "pickup p50: accepted -> ack at SMTP", p50, "s", limit_label="Dovecot announces new mail ~0.5 s after delivery",
              target="<= 0.6 s (with IDLE)", met=None if p50 is None else p50 <= 0.6 and not missing, note=note))
    r.add(Row(bench, "pickup p99", p99, "s", target="<= 1.0 s (with IDLE)",
              met=None if p99 is None else p99 <= 1.0 and not missing))


def _folder_exists(stack: Stack, folder: str) -> bool:
    c = stack.imap("aduan")
    try:
        return c.folder_exists(folder)
    finally:
        c.logout()
