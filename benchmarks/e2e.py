"""End to end under load: complaints in through SMTP at the top delivery rate,
acknowledgement and forward out through SMTP, mailflow vs a raw script.

For each variant a consumer runs as its own process -- ``mailflow run`` (the
real daemon loop, SQLite desk) or ``benchmarks.rawpipe`` (the same IMAP and
SMTP traffic, no processing) -- both polling every ``POLL`` seconds.  Then N
complaints are sent through the SMTP front on 4 parallel connections as fast
as they are accepted (each is in Dovecot when its 250 comes back).  Sampled
every 0.25 s over IMAP STATUS: the INBOX backlog (arrived, not yet taken in)
and the mail delivered to the citizens' and admin's mailboxes.  Throughput =
N / (time from the first send to the last of the 2N outbound mails being in
its mailbox).
"""

from __future__ import annotations

import contextlib
import smtplib
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks import fake
from benchmarks.harness import Row, Run, Stack, child_env, mailflow_cmd, make_desk, ratio, terminate, wait_until

POLL = 0.2
CONNECTIONS = 4
CITIZENS = fake.CITIZENS


class Watch:
    """Persistent IMAP sessions for STATUS counts of the mailboxes that matter."""

    def __init__(self, stack: Stack):
        self.clients = {u: stack.imap(u) for u in ("aduan", "admin", *CITIZENS)}

    def counts(self) -> tuple[int, int]:
        backlog = _status(self.clients["aduan"], "INBOX")
        delivered = sum(_status(self.clients[u], "INBOX") for u in ("admin", *CITIZENS))
        return backlog, delivered

    def processed_exists(self) -> bool:
        return self.clients["aduan"].folder_exists("mailflow/processed")

    def close(self) -> None:
        for c in self.clients.values():
            with contextlib.suppress(Exception):
                c.logout()


def _status(client, folder: str) -> int:
    return int(client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])


def _clean(stack: Stack) -> None:
    for user in ("aduan", "admin", *CITIZENS):
        stack.empty(user)
    stack.stack.doveadm("mailbox", "delete", "-u", "aduan", "-r", "-s", "mailflow", check=False)


def _inject(stack: Stack, mails: list[bytes]) -> float:
    chunks = [mails[i::CONNECTIONS] for i in range(CONNECTIONS)]

    def worker(chunk):
        with smtplib.SMTP(stack.stack.host, stack.stack.smtp_port, timeout=60) as smtp:
            for i, raw in chunk:
                smtp.sendmail(fake.sender(i), ["aduan@dukcapil.test"], raw)

    t = time.perf_counter()
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        list(pool.map(worker, chunks))
    return time.perf_counter() - t


def _variant(stack: Stack, cmd: list[str], n: int, tag: str, timeout: float, logdir: Path) -> dict:
    _clean(stack)
    mails = [(i, fake.complaint_mail(i, run=tag)) for i in range(n)]
    log = open(logdir / f"{tag}.log", "wb")
    proc = subprocess.Popen(cmd, env=child_env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    watch = Watch(stack)
    try:
        if not wait_until(watch.processed_exists, 30, 0.05):
            raise RuntimeError(f"{cmd[:4]} did not connect to IMAP in 30 s; see {log.name}")
        samples: list[tuple[float, int, int]] = []
        t0 = time.perf_counter()
        with ThreadPoolExecutor(1) as pool:
            inj = pool.submit(_inject, stack, [m for m in mails])
            end = None
            while time.perf_counter() - t0 < timeout:
                backlog, delivered = watch.counts()
                samples.append((time.perf_counter() - t0, backlog, delivered))
                if delivered >= 2 * n:
                    end = samples[-1][0]
                    break
                if proc.poll() is not None and inj.done():
                    break
                time.sleep(0.25)
            inject_s = inj.result()
        return {"seconds": end, "inject_s": inject_s, "max_backlog": max(s[1] for s in samples),
                "backlog_at_inject_end": next((b for t, b, _ in samples if t >= inject_s), samples[-1][1]),
                "delivered": samples[-1][2], "samples": samples[::4]}
    finally:
        watch.close()
        terminate(proc)
        log.close()


def run_raw(stack: Stack, n: int, workdir: Path, tag: str = "e2e-raw") -> dict:
    """The raw script (``benchmarks.rawpipe``) on N complaints sent through the
    SMTP front: what the servers allow. Its ``seconds`` is None if it did not finish."""
    s = stack.stack
    workdir.mkdir(parents=True, exist_ok=True)
    return _variant(stack, [sys.executable, "-m", "benchmarks.rawpipe", "--imap-port", str(s.imap_port),
                            "--smtp-port", str(s.smtp_port), "--n", str(n), "--poll", str(POLL)],
                    n, tag, 60 + n * 0.5, workdir)


def run(r: Run, stack: Stack, workdir: Path, *, n: int) -> None:
    bench = "e2e"
    timeout = 60 + n * 0.5
    workdir.mkdir(parents=True, exist_ok=True)
    raw = run_raw(stack, n, workdir)
    desk = make_desk(stack, workdir / "e2e", build=False, poll_interval=POLL)
    mf = _variant(stack, mailflow_cmd("run", "--log-format", "json", "--config", str(desk.config)), n,
                  "e2e-mailflow", timeout, workdir)
    r.details["e2e"] = {"raw": raw, "mailflow": mf, "poll_interval": POLL, "connections": CONNECTIONS}
    raw_tp = n / raw["seconds"] if raw["seconds"] else None
    mf_tp = n / mf["seconds"] if mf["seconds"] else None
    r.add(Row(bench, f"arrival rate: {n:,} complaints over SMTP, {CONNECTIONS} connections (mailflow run)",
              n / mf["inject_s"], "msg/s", limit=n / raw["inject_s"], limit_label="same, raw run",
              note="the SMTP front's top delivery rate while each consumer runs"))
    r.add(Row(bench, "throughput: complaint in -> ack + forward out", mf_tp, "complaints/s", limit=raw_tp,
              limit_label="raw IMAP+SMTP script", ratio=ratio(mf_tp, raw_tp), target=">= 90% of raw",
              met=None if mf_tp is None or raw_tp is None else mf_tp / raw_tp >= 0.9,
              note=f"poll {POLL}s both" + ("" if mf["seconds"] else f"; mailflow did not finish in {timeout:.0f} s "
                                                                   f"({mf['delivered']}/{2 * n} out)")))
    r.add(Row(bench, "max INBOX backlog (arrived, not taken in)", mf["max_backlog"], "mails", limit=raw["max_backlog"],
              limit_label="raw script", target="bounded (not growing with N)",
              met=mf["max_backlog"] <= max(200, 0.1 * n),
              note=f"{mf['max_backlog'] / n:.0%} of N; backlog when injection ended: {mf['backlog_at_inject_end']}"))
