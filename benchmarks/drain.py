"""Outbox drain: raw aiosmtplib sends of N mails vs mailflow draining N outbox rows.

N acknowledgements (~2 KB, to the citizens' mailboxes) are queued with
``mailflow.store.outbox.add`` on a fresh SQLite desk.  raw: the very same bytes
and envelopes, read from the database beforehand, sent on one aiosmtplib
connection.  mailflow: ``Outbox.run_once()`` until nothing is due (it claims
200 rows per pass, marks each ``sending``, sends on one connection, marks it
``sent`` with a hop).  Between runs the rows are put back to ``pending`` and
the mailboxes emptied.  The two alternate (raw, mailflow, raw, ...), median
of each.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import select, update

from benchmarks import fake
from benchmarks.harness import Row, Run, Stack, make_desk, median, ratio
from benchmarks.intake import _profiler, _save_profile


def _fill(desk, n: int) -> None:
    from mailflow.edges.compose import Outgoing, compose, new_message_id
    from mailflow.store import outbox
    from mailflow.store.models import utcnow

    now = utcnow()
    body = fake.complaint_body(0) * 2
    with desk.app.factory.begin() as session:
        for i in range(n):
            out = Outgoing(kind="citizen/acknowledgement", to=(fake.sender(i),),
                           subject=f"[ADU/2026/{i:06d}] Tanda terima", body=body, in_reply_to=f"bench-{i}@warga.test")
            message_id = new_message_id(desk.settings.office.domain)
            outbox.add(session, office=desk.settings.office.key, raw=compose(desk.settings, out, message_id, now, None),
                       message_id=message_id, kind=out.kind, subject=out.subject, from_addr=desk.settings.smtp.from_address, to=out.to,
                       in_reply_to=out.in_reply_to, now=now)


def _reset(desk) -> None:
    from mailflow.store.models import OutboxItem, utcnow

    with desk.app.factory.begin() as session:
        session.execute(update(OutboxItem).values(state="pending", attempts=0, sent_at=None,
                                                  next_attempt_at=utcnow()))


def _rows(desk) -> list[tuple[str, list[str], bytes]]:
    from mailflow.store.models import Message, OutboxItem

    with desk.app.factory() as session:
        return [(o.envelope_from, o.recipients.split(","), raw) for o, raw in session.execute(
            select(OutboxItem, Message.raw).join(Message, Message.id == OutboxItem.message_pk).order_by(OutboxItem.id))]


async def _raw_send(host: str, port: int, rows) -> None:
    import aiosmtplib

    smtp = aiosmtplib.SMTP(hostname=host, port=port, start_tls=False, timeout=60)
    await smtp.connect()
    for env_from, rcpts, raw in rows:
        await smtp.sendmail(env_from, rcpts, raw)
    await smtp.quit()


def _clean(stack: Stack) -> None:
    for u in fake.CITIZENS:
        stack.empty(u)


def run(r: Run, stack: Stack, workdir: Path, *, n: int, repeats: int, profile: Path | None = None) -> None:
    bench = "outbox"
    desk = make_desk(stack, workdir / "drain")
    try:
        _fill(desk, n)
        rows = _rows(desk)
        size = sum(len(x[2]) for x in rows) / n
        raw_rates, mf_rates = [], []
        for k in range(repeats):
            _clean(stack)
            t = time.perf_counter()
            asyncio.run(_raw_send(stack.stack.host, stack.stack.smtp_port, rows))
            raw_rates.append(n / (time.perf_counter() - t))
            _clean(stack)
            _reset(desk)
            prof = _profiler(profile) if k == 0 else None
            sent = 0
            t = time.perf_counter()
            while True:
                res = desk.app.outbox.run_once()
                sent += res.sent
                if not res:
                    break
            mf_rates.append(sent / (time.perf_counter() - t))
            if prof is not None:
                _save_profile(prof, profile, "drain")
            assert sent == n, (sent, n)
        _clean(stack)
    finally:
        desk.close()
    raw_v, mf_v = median(raw_rates), median(mf_rates)
    r.details["outbox"] = {"raw": raw_rates, "mailflow": mf_rates, "bytes_each": size}
    r.add(Row(bench, f"drain {n:,} rows, one SMTP connection", mf_v, "msg/s", limit=raw_v,
              limit_label="raw aiosmtplib, same bytes", ratio=ratio(mf_v, raw_v), target=">= 80% of raw",
              met=(ratio(mf_v, raw_v) or 0) >= 0.8, note=f"{size:,.0f} B each; median of {repeats}"))
