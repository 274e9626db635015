"""Fill a mailflow database with many realistic complaints, fast.

    python -m benchmarks.generate --complaints 1000000 --url sqlite:////var/tmp/big.db
    python -m benchmarks.generate --complaints 1000000 \
        --url postgresql+psycopg://postgres@127.0.0.1:5432/mailflow_bench

The schema is made by mailflow's own migrations (``db.upgrade``, to
``--revision``, default head); then the rows are bulk-loaded: SQLite through
``executemany`` in large transactions with foreign-key checks off, PostgreSQL
through ``COPY`` with ``session_replication_role = replica`` (foreign-key
triggers off).  The rows are consistent by construction (every id they point
at exists), so skipping the checks only skips work.

What one complaint brings (over the last ``--years`` years, newest last):

SQLite gets no ANALYZE (mailflow never runs it); PostgreSQL gets VACUUM
ANALYZE, as autovacuum would do soon after such a load.

* closed (all but the last two weeks, and 2% of older ones still open):
  5 messages (the citizen's complaint, acknowledgement, forward, the staff
  reply, the answer), 11 hops (received with no complaint id yet, parsed,
  registered, acknowledged, forwarded, 3 sent, received, answered, closed),
  3 outbox rows (sent), 2 step visits (ended);
* open: 3 messages, 7 hops, 2 outbox rows, 1 open step visit with due and
  reminder times (half of them past due), ``due_at`` set; ``waiting_citizen``
  complaints have no due time, as the workflow leaves them.

Raw message bytes are small (~250 B): the scale benchmark is about rows and
indexes, not blob size.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import make_url

from benchmarks import fake
from mailflow.core.vocabulary import OPEN_STATUSES

CATEGORIES = (
    ("ktp-el", "KTP-el", "identitas", "kasi-identitas"),
    ("kk", "Kartu Keluarga", "pindah", "kasi-pindah"),
    ("akta-kelahiran", "Akta Kelahiran", "capil", "kasi-capil"),
    ("pindah-datang", "Pindah Datang", "pindah", "kasi-pindah"),
    ("ikd", "IKD", "identitas", "kasi-identitas"),
    ("lainnya", "Lainnya", "lainnya", "kasi-piak"),
)
OPEN_STEP = {  # status -> (step, holder role or None for the section's Kasi)
    "registered": ("verifikasi-admin", "admin"),
    "in_progress": ("verifikasi-kasi", None),
    "awaiting_approval": ("jawaban-kasi", None),
    "waiting_citizen": ("kirim", None),
}
OFFICE = "aduan@dukcapil.test"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

COMPLAINT_COLS = (
    "id", "number", "year", "seq", "status", "channel", "category", "category_name", "section",
    "complainant_name", "complainant_email", "nik", "kk", "phone", "address", "description", "step",
    "holder_role", "step_started_at", "due_at", "draft", "draft_role", "draft_step", "approved",
    "answered_step", "answered_role", "answered_at", "reply_token", "source_message_pk", "parent_id",
    "created_at", "updated_at", "closed_at",
)
MESSAGE_COLS = (
    "id", "direction", "message_id", "dedupe_key", "sha256", "size", "raw", "subject", "from_addr", "to_addrs",
    "in_reply_to", "mailbox", "uidvalidity", "uid", "classification", "complaint_id", "created_at",
)
HOP_COLS = ("id", "at", "complaint_id", "message_pk", "kind", "actor", "from_state", "to_state", "message_id", "reason")
OUTBOX_COLS = (
    "id", "message_pk", "complaint_id", "kind", "envelope_from", "recipients", "state", "attempts", "last_error",
    "next_attempt_at", "created_at", "sent_at",
)
VISIT_COLS = (
    "id", "complaint_id", "step", "role", "section", "started_at", "standard_minutes", "remind_at", "due_at",
    "ended_at", "working_minutes", "within_standard", "reminded_at", "breached_at",
)


class Clock:
    """Timestamps as the database's own text, without datetime objects per row.

    SQLite (SQLAlchemy's DATETIME storage): ``YYYY-MM-DD HH:MM:SS.ffffff`` in
    UTC; PostgreSQL COPY: the same with ``+00``."""

    def __init__(self, dialect: str, start: datetime, days: int):
        self.start = int((start - EPOCH).total_seconds()) // 86400 * 86400
        self.suffix = ".000000" if dialect == "sqlite" else "+00"
        self._days = [(EPOCH + timedelta(seconds=self.start + d * 86400)).strftime("%Y-%m-%d ") for d in range(days + 60)]
        self._tod = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]

    def at(self, t: int) -> str:
        """``t``: seconds since ``start``."""
        return self._days[t // 86400] + self._tod[t % 86400] + self.suffix


@dataclass
class Counts:
    complaints: int = 0
    messages: int = 0
    hops: int = 0
    outbox: int = 0
    step_visits: int = 0
    seconds: float = 0.0
    by_status: dict = field(default_factory=dict)

    def rows(self) -> int:
        return self.complaints + self.messages + self.hops + self.outbox + self.step_visits


class Generator:
    """Builds the rows of complaints ``lo..hi`` (ids are fixed by position, so chunks are independent)."""

    def __init__(self, dialect: str, total: int, years: float, now: datetime, seed: int = 6):
        self.dialect = dialect
        self.total = total
        self.span = int(years * 365 * 86400)
        self.now = now
        start = now - timedelta(seconds=self.span)
        self.clock = Clock(dialect, start, int(years * 365) + 2)
        self.t_now = int((now - EPOCH).total_seconds()) - self.clock.start
        self.rng = random.Random(seed)
        self.seq_by_year: dict[int, int] = {}
        self.msg_id = self.hop_id = self.out_id = self.visit_id = 0
        self.blob = dialect == "sqlite"

    def _raw(self, mid: str, frm: str, to: str, subject: str) -> bytes:
        return (f"Message-ID: <{mid}>\r\nFrom: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                "Isi surel dipersingkat untuk uji skala.\r\n").encode()

    def chunk(self, lo: int, hi: int, counts: Counts):
        C, M, H, Ob, V = [], [], [], [], []
        clk, rng, t_now = self.clock, self.rng, self.t_now
        two_weeks = 14 * 86400
        for i in range(lo, hi):
            cid = i + 1
            t = int(self.span * (i + 0.5) / self.total)  # created, oldest first
            day_str = clk._days[t // 86400]
            year = int(day_str[:4])
            seq = self.seq_by_year.get(year, 0) + 1
            self.seq_by_year[year] = seq
            number = f"ADU/{year}/{seq:06d}"
            recent = t_now - t < two_weeks
            if recent or rng.random() < 0.02:
                status = OPEN_STATUSES[i % 4] if recent else OPEN_STATUSES[(i // 7) % 4]
            else:
                status = "closed"
            counts.by_status[status] = counts.by_status.get(status, 0) + 1
            cat_key, cat_name, section, kasi = CATEGORIES[i % len(CATEGORIES)]
            citizen = fake.sender(i)
            ts = clk.at(t)
            in_mid = f"bench-{i}@warga.test"
            m_in = self.msg_id + 1
            m_ack, m_fwd = m_in + 1, m_in + 2
            subj = f"Pengaduan {cat_name} ({i})"
            M.append((m_in, "in", in_mid, f"mid:{in_mid}", "0" * 64, 250, self._raw(in_mid, citizen, OFFICE, subj),
                      subj, citizen, OFFICE, None, "INBOX", 1, i + 1, "normal", cid, ts))
            ack_mid = f"mailflow.{cid:024x}a@dukcapil.test"
            fwd_mid = f"mailflow.{cid:024x}f@dukcapil.test"
            ack_subj = f"[{number}] Tanda terima aduan"
            M.append((m_ack, "out", ack_mid, f"mid:{ack_mid}", "0" * 64, 250, self._raw(ack_mid, OFFICE, citizen, ack_subj),
                      ack_subj, OFFICE, citizen, in_mid, None, None, None, "citizen/acknowledgement", cid, ts))
            M.append((m_fwd, "out", fwd_mid, f"mid:{fwd_mid}", "0" * 64, 250, self._raw(fwd_mid, OFFICE, "admin@dukcapil.test", number),
                      f"[{number}] Aduan baru", OFFICE, "admin@dukcapil.test", None, None, None, None, "staff/forward", cid, ts))
            h = self.hop_id
            ts2 = clk.at(t + 2)
            H += [
                (h + 1, ts, None, m_in, "received", "mailflow", None, None, in_mid, "2048 bytes (IMAP INBOX)"),
                (h + 2, ts, cid, m_in, "parsed", citizen, None, None, in_mid, f"all required fields present; category {cat_name}"),
                (h + 3, ts, cid, m_in, "registered", "mailflow", None, "registered", in_mid, f"register number {number}"),
                (h + 4, ts, cid, m_ack, "acknowledged", "mailflow", None, None, ack_mid, f"acknowledgement queued for {citizen}"),
                (h + 5, ts, cid, m_fwd, "forwarded", "mailflow", "registered", "verifikasi-admin", fwd_mid,
                 "to Admin Email (admin@dukcapil.test) for step 'Verifikasi oleh Admin Email'"),
                (h + 6, ts2, cid, None, "sent", "mailflow", None, None, ack_mid, f"to {citizen}"),
                (h + 7, ts2, cid, None, "sent", "mailflow", None, None, fwd_mid, "to admin@dukcapil.test"),
            ]
            o = self.out_id
            Ob += [
                (o + 1, m_ack, cid, "citizen/acknowledgement", OFFICE, citizen, "sent", 1, None, ts, ts, ts2),
                (o + 2, m_fwd, cid, "staff/forward", OFFICE, "admin@dukcapil.test", "sent", 1, None, ts, ts, ts2),
            ]
            v = self.visit_id
            if status == "closed":
                t_reply = t + 1800 + (i % 7) * 600
                t_end = t_reply + 60
                rs, es = clk.at(t_reply), clk.at(t_end)
                m_rep, m_ans = m_in + 3, m_in + 4
                rep_mid, ans_mid = f"staff-{i}@dukcapil.test", f"mailflow.{cid:024x}j@dukcapil.test"
                M.append((m_rep, "in", rep_mid, f"mid:{rep_mid}", "0" * 64, 250, self._raw(rep_mid, "admin@dukcapil.test", OFFICE, number),
                          f"Re: [{number}] Aduan baru", "admin@dukcapil.test", OFFICE, fwd_mid, "INBOX", 1, None, "normal", cid, rs))
                M.append((m_ans, "out", ans_mid, f"mid:{ans_mid}", "0" * 64, 250, self._raw(ans_mid, OFFICE, citizen, number),
                          f"[{number}] Jawaban aduan", OFFICE, citizen, in_mid, None, None, None, "citizen/answer", cid, rs))
                H += [
                    (h + 8, rs, None, m_rep, "received", "mailflow", None, None, rep_mid, "900 bytes (IMAP INBOX)"),
                    (h + 9, rs, cid, m_ans, "answered", "admin@dukcapil.test", "verifikasi-admin", "closed", ans_mid,
                     "answer queued for the complainant"),
                    (h + 10, clk.at(t_reply + 2), cid, None, "sent", "mailflow", None, None, ans_mid, f"to {citizen}"),
                    (h + 11, es, cid, None, "closed", "mailflow", "jawab-pemohon", "closed", None, "answered and archived"),
                ]
                Ob.append((o + 3, m_ans, cid, "citizen/answer", OFFICE, citizen, "sent", 1, None, rs, rs, clk.at(t_reply + 2)))
                V += [
                    (v + 1, cid, "verifikasi-admin", "admin", section, ts, 30, clk.at(t + 1440), clk.at(t + 1800),
                     clk.at(t + 900), 15, True, None, None),
                    (v + 2, cid, "jawab-pemohon", "admin", section, clk.at(t + 900), 10, clk.at(t + 1380),
                     clk.at(t + 1500), rs, 10, t_reply <= t + 1500, None, None),
                ]
                self.msg_id += 5
                self.hop_id += 11
                self.out_id += 3
                self.visit_id += 2
                step, holder, started, due, closed_at = None, None, rs, None, es
                answered_step, answered_role, answered_at, upd = "jawab-pemohon", "admin", rs, es
            else:
                step, holder = OPEN_STEP[status]
                holder = holder or kasi
                started = ts
                # Half of the open ones are past due (due 30 working minutes after start
                # is approximated as 30 minutes; old stuck ones are long overdue).
                due_t = t + (1800 if i % 2 else two_weeks * 2)
                due = None if status == "waiting_citizen" else clk.at(due_t)
                if status != "waiting_citizen":
                    V.append((v + 1, cid, step, holder, section, ts, 30, clk.at(due_t - 360), due, None, None, None,
                              clk.at(due_t - 300) if due_t - 300 < t_now else None,
                              clk.at(due_t + 60) if due_t + 60 < t_now else None))
                    self.visit_id += 1
                self.msg_id += 3
                self.hop_id += 7
                self.out_id += 2
                closed_at = None
                answered_step = answered_role = answered_at = None
                upd = ts
            C.append((cid, number, year, seq, status, "email", cat_key, cat_name, section, fake.name(i), citizen,
                      fake.nik(i), fake.kk(i), f"0812{i % 100000000:08d}", f"Jl. Parangtritis Km {1 + i % 20}, Sewon, Bantul",
                      "KTP-el saya sudah direkam tetapi belum dicetak; mohon informasi kapan bisa diambil.",
                      step, holder, started, due, None, None, None, False, answered_step, answered_role, answered_at,
                      f"{cid:016x}", m_in, None, ts, upd, closed_at))
        counts.complaints += len(C)
        counts.messages += len(M)
        counts.hops += len(H)
        counts.outbox += len(Ob)
        counts.step_visits += len(V)
        return {"complaints": C, "messages": M, "hops": H, "outbox": Ob, "step_visits": V}


COLUMNS = {"complaints": COMPLAINT_COLS, "messages": MESSAGE_COLS, "hops": HOP_COLS, "outbox": OUTBOX_COLS,
           "step_visits": VISIT_COLS}
ORDER = ("complaints", "messages", "hops", "outbox", "step_visits")


def _load_sqlite(engine, gen: Generator, total: int, chunk: int, counts: Counts, log) -> None:
    raw = engine.raw_connection()
    try:
        con = raw.driver_connection
        con.isolation_level = None
        con.execute("PRAGMA foreign_keys=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-400000")
        sql = {t: f"INSERT INTO {t} ({', '.join(c)}) VALUES ({', '.join('?' * len(c))})" for t, c in COLUMNS.items()}
        for lo in range(0, total, chunk):
            rows = gen.chunk(lo, min(total, lo + chunk), counts)
            con.execute("BEGIN")
            for table in ORDER:
                con.executemany(sql[table], rows[table])
            con.execute("COMMIT")
            log(lo + chunk)
        con.execute("BEGIN")
        for year, seq in gen.seq_by_year.items():
            con.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (f"register:{year}", seq))
        con.execute("COMMIT")
        # No ANALYZE: mailflow never runs it, so an office's SQLite file has no
        # planner statistics either; the plans measured are the ones it gets.
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def _load_postgresql(engine, gen: Generator, total: int, chunk: int, counts: Counts, log) -> None:
    raw = engine.raw_connection()
    try:
        con = raw.driver_connection
        con.autocommit = False
        with con.cursor() as cur:
            cur.execute("SET session_replication_role = replica")  # no FK triggers during the load
            for lo in range(0, total, chunk):
                rows = gen.chunk(lo, min(total, lo + chunk), counts)
                for table in ORDER:
                    with cur.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as cp:
                        for row in rows[table]:
                            cp.write_row(row)
                con.commit()
                log(lo + chunk)
            for year, seq in gen.seq_by_year.items():
                cur.execute("INSERT INTO counters (name, value) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE "
                            "SET value = EXCLUDED.value", (f"register:{year}", seq))
            for table in ORDER:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            cur.execute("SET session_replication_role = origin")
            con.commit()
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
    finally:
        raw.close()


def generate(url: str, complaints: int, *, years: float = 3.0, revision: str = "head", chunk: int = 20000,
             now: datetime | None = None, log=print) -> Counts:
    """Create the schema at ``revision`` in an EMPTY database at ``url`` and load it."""
    from mailflow.store import db

    engine = db.make_engine(url)
    try:
        db.upgrade(engine, revision)
        with engine.connect() as conn:
            if conn.execute(text("SELECT count(*) FROM complaints")).scalar():
                raise SystemExit(f"{db_redact(url)} already has complaints; give an empty database")
        dialect = engine.dialect.name
        gen = Generator(dialect, complaints, years, now or datetime.now(UTC))
        counts = Counts()
        started = time.perf_counter()
        step = max(complaints // 10, chunk)
        mark = {"next": step}

        def progress(done: int) -> None:
            if done >= mark["next"] or done >= complaints:
                rate = counts.rows() / (time.perf_counter() - started)
                log(f"  {min(done, complaints):,} complaints, {counts.rows():,} rows, {rate:,.0f} rows/s")
                mark["next"] += step

        if dialect == "sqlite":
            _load_sqlite(engine, gen, complaints, chunk, counts, progress)
        elif dialect == "postgresql":
            _load_postgresql(engine, gen, complaints, chunk, counts, progress)
        else:
            raise SystemExit(f"unsupported database {dialect}")
        counts.seconds = time.perf_counter() - started
        return counts
    finally:
        engine.dispose()


def db_redact(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.generate", description=__doc__.split("\n\n")[0])
    p.add_argument("--complaints", type=int, default=1_000_000)
    p.add_argument("--url", required=True, help="SQLAlchemy URL of an empty database (created schema-less is fine)")
    p.add_argument("--years", type=float, default=3.0, help="spread the complaints over this many years")
    p.add_argument("--revision", default="head", help="schema revision to create (e.g. 0003 for the old indexes)")
    p.add_argument("--chunk", type=int, default=20000, help="complaints per transaction")
    args = p.parse_args(argv)
    counts = generate(args.url, args.complaints, years=args.years, revision=args.revision, chunk=args.chunk,
                      log=lambda m: print(m, file=sys.stderr))
    print(f"{db_redact(args.url)}: {counts.complaints:,} complaints, {counts.messages:,} messages, "
          f"{counts.hops:,} hops, {counts.outbox:,} outbox rows, {counts.step_visits:,} step visits "
          f"({counts.rows():,} rows) in {counts.seconds:.1f} s ({counts.rows() / counts.seconds:,.0f} rows/s); "
          f"statuses {counts.by_status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
