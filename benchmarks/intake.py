"""Intake throughput: raw FETCH, FETCH + mail-parser, and mailflow's full intake, of the same mails.

The N complaint mails are delivered once per run into Dovecot over LMTP
(protocol delivery, several parallel sessions) and parked in a folder
``BenchSource``; each variant gets a server-side COPY of them into INBOX.

* raw:      imapclient connect, login, SELECT, SEARCH ALL, UID FETCH
            ``BODY.PEEK[] RFC822.SIZE`` in batches of ``imap.batch_size`` (100),
            as ``mailflow.edges.mailbox.Mailbox.fetch`` asks.
* minimal:  the same loop plus ``mailparser.parse_from_bytes`` of every mail.
* mailflow: ``Daemon.intake_once()`` on a fresh SQLite desk: fetch, parse,
            validate, register, store, acknowledgement and forward queued,
            committed (one transaction per mail), moved to the processed folder.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks import fake
from benchmarks.harness import Row, Run, Sampler, Stack, make_desk, median, ratio

SOURCE = "BenchSource"


def fetch_loop(stack: Stack, batch: int, parse: bool, user: str = "aduan") -> int:
    """FETCH every mail of ``user``'s INBOX (and parse it with mail-parser when
    ``parse``): the raw and minimal variants. Returns how many."""
    import mailparser
    from imapclient import IMAPClient

    client = IMAPClient(stack.stack.host, port=stack.stack.imap_port, ssl=False, timeout=60)
    client.login(user, "secret")
    try:
        client.select_folder("INBOX")
        uids = sorted(client.search("ALL"))
        n = 0
        for start in range(0, len(uids), batch):
            data = client.fetch(uids[start:start + batch], ["BODY.PEEK[]", "RFC822.SIZE"])
            for uid in uids[start:start + batch]:
                raw = data[uid][b"BODY[]"]
                if parse:
                    mailparser.parse_from_bytes(raw)
                n += 1
        return n
    finally:
        client.logout()


def run(r: Run, stack: Stack, workdir: Path, *, n: int, repeats: int, profile: Path | None = None) -> None:
    bench = "intake"
    mails = [fake.complaint_mail(i, run=f"in{int(time.time())}") for i in range(n)]
    size = sum(map(len, mails)) / n
    stack.empty("aduan")
    conns = 4
    secs = stack.lmtp_deliver(mails, connections=conns)
    r.add(Row(bench, f"load {n:,} mails into Dovecot (LMTP, {conns} sessions; setup)", n / secs, "msg/s",
              note=f"{size:,.0f} B each; done once per run"))
    stack.move_all("aduan", "INBOX", SOURCE)

    def prepare() -> None:
        stack.empty("aduan", "INBOX", "mailflow/processed", "mailflow/quarantine")
        copied = stack.copy_folder("aduan", SOURCE, "INBOX")
        assert copied == n, copied

    results: dict[str, list[float]] = {"raw": [], "minimal": []}
    prepare()
    for _ in range(repeats):
        for variant, parse in (("raw", False), ("minimal", True)):
            t = time.perf_counter()
            got = fetch_loop(stack, 100, parse)
            results[variant].append(got / (time.perf_counter() - t))
            assert got == n, got

    # mailflow's full intake (one run per repeat, each on a fresh database)
    mf: list[float] = []
    outcomes_ok = True
    for k in range(max(1, repeats // 3) if n >= 2000 else repeats):
        prepare()
        desk = make_desk(stack, workdir / f"intake-{k}")
        daemon = desk.app.daemon()
        try:
            prof = _profiler(profile) if k == 0 else None
            sampler = Sampler(_counter(desk), 1.0)  # registered so far: does the rate hold up as N grows?
            sampler.start()
            t = time.perf_counter()
            outcomes = daemon.intake_once()
            dt = time.perf_counter() - t
            sampler.stop()
            if prof is not None:
                _save_profile(prof, profile, "intake")
        finally:
            daemon.mailbox.close()
            desk.close()
        registered = sum(1 for o in outcomes if o.action == "registered")
        outcomes_ok &= registered == n
        mf.append(registered / dt)
        curve = [(round(t, 1), c) for t, c in sampler.samples]
        r.details.setdefault("intake", {})[f"run{k}"] = {"seconds": dt, "registered": registered,
                                                        "outcomes": len(outcomes), "registered_over_time": curve}
        half = [c for c in curve if c[1] >= n // 2]
        if half and dt > 4:
            t_half = half[0][0]
            r.details["intake"][f"run{k}"]["rate_first_half"] = (n // 2) / t_half if t_half else None
            r.details["intake"][f"run{k}"]["rate_second_half"] = (n - n // 2) / (dt - t_half) if dt > t_half else None

    raw, minimal, mfv = median(results["raw"]), median(results["minimal"]), median(mf)
    r.details.setdefault("intake", {}).update(raw=results["raw"], minimal=results["minimal"], mailflow=mf)
    r.add(Row(bench, f"raw FETCH of {n:,} mails (batches of 100)", raw, "msg/s",
              note=f"median of {len(results['raw'])}"))
    r.add(Row(bench, "FETCH + mail-parser loop (minimal)", minimal, "msg/s", limit=raw, limit_label="raw FETCH",
              ratio=ratio(minimal, raw), note=f"median of {len(results['minimal'])}"))
    r.add(Row(bench, "mailflow full intake vs minimal", mfv, "complaints/s", limit=minimal,
              limit_label="minimal", ratio=ratio(mfv, minimal),
              target=">= 1,000/s and >= 50% of minimal",
              met=(mfv >= 1000 and (ratio(mfv, minimal) or 0) >= 0.5),
              note=(f"median of {len(mf)}; all {n:,} registered" if outcomes_ok else "NOT all registered")))
    r.add(Row(bench, "mailflow full intake vs raw FETCH", mfv, "complaints/s", limit=raw, limit_label="raw FETCH",
              ratio=ratio(mfv, raw)))
    stack.empty("aduan")


def _counter(desk):
    from sqlalchemy import func, select

    from mailflow.store.models import Complaint

    def count() -> int:
        with desk.app.factory() as session:
            return session.scalar(select(func.count()).select_from(Complaint))

    return count


def _profiler(profile: Path | None):
    if profile is None:
        return None
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("  (--profile: pyinstrument is not installed; pip install pyinstrument into .venv)")
        return None
    prof = Profiler(interval=0.001)
    prof.start()
    return prof


def _save_profile(prof, where: Path, name: str) -> None:
    prof.stop()
    where.mkdir(parents=True, exist_ok=True)
    (where / f"{name}.txt").write_text(prof.output_text(unicode=True, color=False))
    (where / f"{name}.html").write_text(prof.output_html())
