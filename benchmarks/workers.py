"""Workers (``mailflow worker``, PostgreSQL): 20 offices shared by 1, 2 and 3
worker processes on this machine, against the raw speed of the same servers
in the same run.

The deployment: ``mailflow.toml`` + ``offices/k00..k19.toml``, each office its
own Dovecot mailbox ``aduan-kNN`` and its own register pattern ``KNN/{year}/…``,
one private PostgreSQL schema per worker count (created, migrated, dropped).
Workers run as ``mailflow worker --concurrency 12 --hold 20``, as in
tests/test_workers.py. Each worker count gets fresh workers and a fresh schema
and runs three phases in turn:

* intake: the N complaint mails were delivered once per run over LMTP (4
  sessions) into a parked folder of the 20 mailboxes (N/20 each). With the
  workers started and watching (IMAP IDLE), every mailbox gets a server-side
  COPY of its parked mails into INBOX at t0 (all 20 within a fraction of a
  second); the figure is N / (t0 -> all N in ``complaints``). The workers send
  the acknowledgements and forwards meanwhile, as they would. Its limit: the
  ``minimal`` loop of the intake suite (imapclient FETCH + mail-parser, one
  process) over the same 20 INBOXes, in the same run.
* e2e: N complaints sent through the SMTP front on 4 connections, as fast as
  it takes them, round-robin to the 20 office addresses; the figure is
  N / (first send -> all N registered and every outbox row sent; the front
  answers 250 to a send only once Dovecot has the mail). Its limit: the raw
  script of the e2e suite (``benchmarks.rawpipe``: the same IMAP and SMTP
  traffic, no processing, one mailbox), in the same run.
* pickup: idle mailboxes, a complaint to a random office every ``GAP``
  seconds over SMTP; latency = the front's 250 (the mail is in Dovecot) ->
  the complaint's inbound message row (registration, the worker's clock: the
  same machine's), and -> the front's log line for its acknowledgement (as the
  latency suite measures the single daemon).

CPU per process group (workers, Dovecot, the SMTP front, PostgreSQL, this
process, other) over each phase is read from /proc (benchmarks/cpu.py) and
printed with each figure: it says which limit was reached.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import signal
import smtplib
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path

from benchmarks import cpu, e2e, fake
from benchmarks.harness import Row, Run, Stack, child_env, mailflow_cmd, median, percentile, ratio, wait_until
from benchmarks.intake import fetch_loop
from benchmarks.latency import relay_times
from devstack.config import write_deployment
from devstack.mailstack import DEFAULT_USERS

OFFICES = 20
CONCURRENCY, HOLD = 12, 20
GAP = 0.5  # seconds between complaints in the pickup phase
SOURCE = "BenchSource"
STAFF = tuple(u for u in DEFAULT_USERS if u != "aduan")  # staff roles, admin, citizens: where answers go
_ACK = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*from=<aduan-k\d\d@dukcapil\.test> "
                  r"to=\['([^']+)'\].*delivered")


def keys() -> list[str]:
    return [f"k{i:02d}" for i in range(OFFICES)]


def _user(key: str) -> str:
    return f"aduan-{key}"


def _address(key: str) -> str:
    return f"aduan-{key}@{fake.DOMAIN}"


# --------------------------------------------------------------------------- database
class Schema:
    """A private PostgreSQL schema (``search_path`` in the URL, as
    tests/support.pg_schema_url does), migrated to head; dropped by ``drop``."""

    def __init__(self, pg_url: str):
        from sqlalchemy import create_engine, text

        from mailflow.store import db

        self.name = "bench_w_" + secrets.token_hex(5)
        self._admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {self.name}"))
        sep = "&" if "?" in pg_url else "?"
        self.url = f"{pg_url}{sep}options=-csearch_path%3D{self.name}"
        self.engine = create_engine(self.url, pool_size=2)
        db.upgrade(self.engine)

    def scalar(self, sql: str, **params):
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params) -> list:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())

    def registered(self) -> int:
        return self.scalar("SELECT count(*) FROM complaints")

    def unsent(self) -> int:
        return self.scalar("SELECT count(*) FROM outbox WHERE state <> 'sent'")

    def watched(self) -> int:
        return self.scalar("SELECT count(*) FROM mailbox_state WHERE checked_at IS NOT NULL")

    def drop(self) -> None:
        from sqlalchemy import text

        self.engine.dispose()
        with self._admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {self.name} CASCADE"))
        self._admin.dispose()


def pg_usable(pg_url: str) -> str | None:
    """None if a schema can be created on ``pg_url``, else why not."""
    from sqlalchemy import create_engine, text

    if not pg_url:
        return "no PostgreSQL given (--pg-url '' and MAILFLOW_TEST_DATABASE_URL unset): workers need PostgreSQL"
    try:
        engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as exc:  # any failure to connect: the reason is printed, the suite skipped
        from benchmarks.generate import db_redact

        return f"{db_redact(pg_url)} not usable ({type(exc).__name__}: {exc})"[:300]
    return None


# --------------------------------------------------------------------------- the deployment
def _deployment(where: Path, stack: Stack, url: str) -> Path:
    return write_deployment(
        where, url=url, offices={key: _user(key) for key in keys()}, imap_port=stack.stack.imap_port,
        smtp_port=stack.stack.smtp_port, poll_interval=5,
        # Thousands of complaints from nine test citizens in minutes: the limits
        # that protect real people from mail loops would hold the answers.
        limits="auto_replies_per_address_per_day = 1000000\ncomplaints_per_hour_alert = 1000000")


class Workers:
    """``count`` ``mailflow worker`` processes on one deployment."""

    def __init__(self, config: Path, count: int, logdir: Path, concurrency: int = CONCURRENCY):
        env = {**child_env(), "MAILFLOW_CONFIG": str(config), "PYTHONUNBUFFERED": "1"}
        self.logs = [open(logdir / f"worker-{count}x{concurrency}-{k}.log", "wb") for k in range(count)]
        self.procs = [subprocess.Popen(mailflow_cmd("worker", "--concurrency", str(concurrency), "--hold", str(HOLD),
                                                    "--log-format", "text"),
                                       env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                      for log in self.logs]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def log_tails(self, lines: int = 15) -> str:
        """The last lines of each worker's log (for an error message)."""
        out = []
        for log in self.logs:
            log.flush()
            tail = Path(log.name).read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {Path(log.name).name}\n" + "\n".join(tail))
        return "\n".join(out)

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> float:
        """SIGTERM all at once (each hands its mailboxes back); returns the seconds to stop."""
        t = time.perf_counter()
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in self.logs:
            log.close()
        return time.perf_counter() - t


# --------------------------------------------------------------------------- mailboxes
def _clean(stack: Stack) -> None:
    """Empty every office's INBOX and mailflow/ folders (not the parked mail), and staff and citizen mailboxes."""
    for key in keys():
        stack.empty(_user(key), "INBOX")
        stack.stack.doveadm("mailbox", "delete", "-u", _user(key), "-r", "-s", "mailflow", check=False)
    for user in STAFF:
        stack.empty(user)


def _preload(stack: Stack, n: int) -> float:
    """N complaint mails, N/20 per office, delivered over LMTP and parked in SOURCE. Returns msg/s."""
    tag = f"wk{int(time.time())}"
    by_office: dict[str, list[bytes]] = {k: [] for k in keys()}
    for i in range(n):
        key = keys()[i % OFFICES]
        by_office[key].append(fake.complaint_mail(i, to=_address(key), run=tag))
    took = 0.0
    for key, mails in by_office.items():
        stack.empty(_user(key))
        took += stack.lmtp_deliver(mails, rcpt=_address(key), connections=4)
        stack.move_all(_user(key), "INBOX", SOURCE)
    return n / took


def _release(stack: Stack) -> None:
    """COPY every office's parked mail into its INBOX, 20 at once (a thread each)."""
    with ThreadPoolExecutor(OFFICES) as pool:
        list(pool.map(lambda k: stack.copy_folder(_user(k), SOURCE, "INBOX"), keys()))


def _raw_minimal(stack: Stack, n: int) -> tuple[float, float]:
    """The intake suite's raw FETCH and minimal (FETCH + mail-parser) loops over
    the 20 INBOXes, one after the other in one process. Returns (raw, minimal) msg/s."""
    _clean(stack)
    _release(stack)
    rates = []
    for parse in (False, True):
        t = time.perf_counter()
        got = sum(fetch_loop(stack, 100, parse, user=_user(k)) for k in keys())
        rates.append(got / (time.perf_counter() - t))
        assert got == n, (got, n)
    _clean(stack)
    return rates[0], rates[1]


# --------------------------------------------------------------------------- phases
def _groups(stack: Stack, workers: Workers) -> cpu.Groups:
    st = stack.stack.status()
    return cpu.Groups(roots={"workers": workers.pids, "dovecot": [st["dovecot_pid"] or -1],
                             "smtp front": [st["smtprelay_pid"] or -1], "bench": [os.getpid()]},
                      names={"postgres": ["postgres", "postmaster"]})


def _wait(predicate, timeout: float, what: str, workers: Workers, step: float = 0.05) -> None:
    if not wait_until(lambda: predicate() or not workers.alive(), timeout, step) or not workers.alive():
        if workers.alive():
            raise RuntimeError(f"workers: timed out after {timeout:.0f} s waiting for {what}\n{workers.log_tails()}")
        raise RuntimeError(f"workers: a worker exited while waiting for {what}\n{workers.log_tails()}")


def _intake(stack: Stack, db: Schema, workers: Workers, n: int) -> dict:
    groups = _groups(stack, workers)
    before = cpu.snapshot(groups)
    t0 = time.perf_counter()
    _release(stack)
    released = time.perf_counter() - t0
    _wait(lambda: db.registered() >= n, 60 + n * 0.2, f"{n} complaints registered", workers)
    seconds = time.perf_counter() - t0
    use = cpu.usage(before, cpu.snapshot(groups))
    first, last = db.rows("SELECT min(created_at), max(created_at) FROM complaints")[0]
    _wait(lambda: db.unsent() == 0, 60 + n * 0.2, "the outbox sent", workers, step=0.2)
    return {"seconds": seconds, "rate": n / seconds, "release_s": released,
            "first_to_last_registered_s": (last - first).total_seconds(), "all_sent_s": time.perf_counter() - t0,
            "cpu": use}


def _send(stack: Stack, mails: list[tuple[str, str, bytes]]) -> float:
    """(sender, rcpt, raw) through the SMTP front on 4 connections; returns seconds."""
    chunks = [mails[i::4] for i in range(4)]

    def send(chunk):
        with smtplib.SMTP(stack.stack.host, stack.stack.smtp_port, timeout=60) as smtp:
            for sender, rcpt, raw in chunk:
                smtp.sendmail(sender, [rcpt], raw)

    t = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, chunks))
    return time.perf_counter() - t


def _e2e(stack: Stack, db: Schema, workers: Workers, n: int, base: int) -> dict:
    ks = keys()
    mails = [(fake.sender(base + i), _address(ks[i % OFFICES]),
              fake.complaint_mail(base + i, to=_address(ks[i % OFFICES]), run=f"we{base}")) for i in range(n)]
    already = db.registered()
    groups = _groups(stack, workers)
    before = cpu.snapshot(groups)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(1) as pool:
        inject = pool.submit(_send, stack, mails)
        _wait(lambda: db.registered() >= already + n and db.unsent() == 0, 60 + n * 0.5,
              f"{n} complaints registered and answered", workers, step=0.1)
        inject_s = inject.result()
    seconds = time.perf_counter() - t0
    use = cpu.usage(before, cpu.snapshot(groups))
    return {"seconds": seconds, "rate": n / seconds, "inject_s": inject_s, "arrival_rate": n / inject_s, "cpu": use}


def _pickup(stack: Stack, db: Schema, workers: Workers, n: int, base: int, seed: int) -> dict:
    rng = random.Random(seed)
    relay_log = Path(stack.stack.dir) / "smtprelay.log"
    offset = relay_log.stat().st_size
    sent: dict[str, tuple[str, float]] = {}  # Message-ID -> (sender, time of the 250)
    groups = _groups(stack, workers)
    before = cpu.snapshot(groups)
    with smtplib.SMTP(stack.stack.host, stack.stack.smtp_port, timeout=60) as smtp:
        start = time.monotonic()
        for k in range(n):
            delay = start + k * GAP - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            i, key = base + k, rng.choice(keys())
            smtp.sendmail(fake.sender(i), [_address(key)], fake.complaint_mail(i, to=_address(key), run=f"wp{base}"))
            sent[f"bench-wp{base}-{i}@warga.test"] = (fake.sender(i), time.time())  # stored without <>
    ids = list(sent)
    registered: dict[str, float] = {}

    def all_in() -> bool:
        for mid, at in db.rows("SELECT message_id, created_at FROM messages WHERE direction = 'in' "
                               "AND complaint_id IS NOT NULL AND message_id = ANY(:ids)", ids=ids):
            registered[mid] = at.replace(tzinfo=UTC).timestamp() if at.tzinfo is None else at.timestamp()
        return len(registered) >= n

    wait_until(all_in, 30 + HOLD * 2, 0.2)
    wait_until(lambda: len(relay_times(relay_log, offset, _ACK).keys() & {s for s, _ in sent.values()}) >= n, 30, 0.2)
    use = cpu.usage(before, cpu.snapshot(groups))
    acks = relay_times(relay_log, offset, _ACK)
    to_reg = [registered[mid] - t for mid, (_, t) in sent.items() if mid in registered]
    to_ack = [acks[s] - t for s, t in sent.values() if s in acks]

    def pcts(values: list[float]) -> tuple[float | None, float | None]:
        return (percentile(values, 50), percentile(values, 99)) if values else (None, None)

    return {"n": n, "gap": GAP, "registered": pcts(to_reg), "acknowledged": pcts(to_ack),
            "missing_registered": n - len(to_reg), "missing_acks": n - len(to_ack),
            "latencies_registered": sorted(round(x, 4) for x in to_reg), "cpu": use}


# --------------------------------------------------------------------------- the suite
def _limit_note(use: dict) -> str:
    """Which limit was reached, from the CPU figures."""
    if not use:
        return cpu.describe(use)
    top = max(((k, v) for k, v in use.items() if k not in ("total", "other") and v is not None), key=lambda kv: kv[1])
    if cpu.saturated(use):
        why = f"CPU-bound: both cores busy, most of it {top[0]}"
    else:
        why = "not CPU-bound: waiting (IMAP IDLE, the workers' turns)"
    return f"{why}; {cpu.describe(use)}"


def _variant(stack: Stack, pg_url: str, workdir: Path, count: int, slots: int, *, n_intake: int, n_e2e: int,
             n_pickup: int, base: int) -> dict:
    """The three phases on ``count`` fresh workers of ``slots`` watch slots each and a fresh schema."""
    _clean(stack)
    db = Schema(pg_url)
    config = _deployment(workdir / f"w{count}x{slots}", stack, db.url)
    workers = Workers(config, count, workdir, slots)
    out: dict = {"schema": db.name}
    try:
        t = time.perf_counter()
        want = min(OFFICES, count * slots)
        _wait(lambda: db.watched() >= want, 120, "the mailboxes to be watched", workers)
        out["start_s"] = time.perf_counter() - t
        out["intake"] = _intake(stack, db, workers, n_intake)
        out["e2e"] = _e2e(stack, db, workers, n_e2e, base=base)
        time.sleep(1)  # idle: the drains end, the watches sit in IDLE
        out["pickup"] = _pickup(stack, db, workers, n_pickup, base=base + 500_000, seed=base)
    finally:
        out["stop_s"] = workers.stop()
        db.drop()
    return out


def run(r: Run, stack: Stack, workdir: Path, *, pg_url: str, n_intake: int, n_e2e: int, n_pickup: int,
        variants: tuple[tuple[int, int], ...] = ((1, CONCURRENCY), (2, CONCURRENCY), (3, CONCURRENCY)),
        repeats: int = 1) -> None:
    """``variants``: (worker processes, --concurrency) pairs, each run on fresh workers and a fresh schema."""
    bench = "workers"
    why_not = pg_usable(pg_url)
    if why_not:
        r.notes.append(f"workers skipped: {why_not}")
        r.add(Row(bench, "workers (PostgreSQL)", None, "-", note=f"skipped: {why_not}"))
        return
    workdir.mkdir(parents=True, exist_ok=True)
    stack.stack.start(users=[_user(k) for k in keys()])  # the offices' mailboxes, beside the default users
    load = _preload(stack, n_intake)
    details: dict = {"offices": OFFICES, "hold": HOLD, "lmtp_load_rate": load, "variants": {}}
    r.details["workers"] = details

    raws, minimals = [], []
    for _ in range(repeats):
        raw, minimal = _raw_minimal(stack, n_intake)
        raws.append(raw)
        minimals.append(minimal)
    minimal = median(minimals)
    details.update(raw_fetch=raws, minimal=minimals)
    r.add(Row(bench, f"limit: FETCH + mail-parser of {n_intake:,} mails in 20 mailboxes (minimal, one process)",
              minimal, "msg/s", limit=median(raws), limit_label="raw FETCH", ratio=ratio(minimal, median(raws)),
              note=f"median of {repeats}"))

    e2e_raw = e2e.run_raw(stack, n_e2e, workdir, tag="workers-e2e-raw")
    raw_tp = n_e2e / e2e_raw["seconds"] if e2e_raw["seconds"] else None
    details["e2e_raw"] = {k: v for k, v in e2e_raw.items() if k != "samples"}
    r.add(Row(bench, f"limit: raw script, {n_e2e:,} complaints in over SMTP -> ack + forward out", raw_tp,
              "complaints/s", note="benchmarks.rawpipe, one mailbox (the e2e suite's raw variant)"))

    results = {}
    for n_th, (count, slots) in enumerate(variants, start=1):
        out = _variant(stack, pg_url, workdir, count, slots, n_intake=n_intake, n_e2e=n_e2e, n_pickup=n_pickup,
                       base=1_000_000 * n_th)
        details["variants"][f"{count}x{slots}"] = out
        results[(count, slots)] = out

    for (count, slots), out in results.items():
        label = f"{count} worker{'s' if count > 1 else ''}" + ("" if slots == CONCURRENCY else f" (--concurrency {slots})")
        intake, ee, pick = out["intake"], out["e2e"], out["pickup"]
        r.add(Row(bench, f"intake, {label}: {n_intake:,} waiting mails -> registered", intake["rate"], "complaints/s",
                  limit=minimal, limit_label="minimal, same run", ratio=ratio(intake["rate"], minimal),
                  note=_limit_note(intake["cpu"])))
        r.add(Row(bench, f"e2e, {label}: {n_e2e:,} in over SMTP -> ack + forward out", ee["rate"], "complaints/s",
                  limit=raw_tp, limit_label="raw script, same run", ratio=ratio(ee["rate"], raw_tp),
                  note=f"arrivals {ee['arrival_rate']:.0f}/s; " + _limit_note(ee["cpu"])))
        (p50, p99), (a50, a99) = pick["registered"], pick["acknowledged"]
        missing = (f"; {pick['missing_registered']} not registered" if pick["missing_registered"] else "") + \
            (f"; {pick['missing_acks']} acks not seen" if pick["missing_acks"] else "")
        r.add(Row(bench, f"pickup p50, {label}: accepted -> registered", p50, "s",
                  note=f"{n_pickup} complaints, one every {GAP:g} s to a random office; to the ack at the SMTP front: "
                       f"p50 {_s(a50)}" + missing))
        r.add(Row(bench, f"pickup p99, {label}", p99, "s", note=f"to the ack: p99 {_s(a99)}"))
    r.notes.append(f"workers: {OFFICES} offices, `mailflow worker --concurrency {CONCURRENCY} --hold {HOLD}` unless "
                   f"said; with fewer watch slots than offices (1 worker x {CONCURRENCY}) the other mailboxes wait "
                   f"their turn (up to {HOLD} s)")


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} s"

