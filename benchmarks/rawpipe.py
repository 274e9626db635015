"""The raw counterpart of the daemon for the end-to-end benchmark (run as a subprocess).

It does the same protocol traffic as mailflow for each complaint, and nothing
else: poll INBOX (SEARCH UID n:*, every ``--poll`` seconds), FETCH
``BODY.PEEK[]`` in batches of 100, send two mails per complaint on one
aiosmtplib connection -- an acknowledgement to the sender and a forward to
admin@ with the original attached (message/rfc822) -- and MOVE the batch to
the processed folder.  Stops after ``--n`` complaints.

    python -m benchmarks.rawpipe --imap-port P --smtp-port Q --n N
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time

import aiosmtplib
from imapclient import IMAPClient

OFFICE = "aduan@dukcapil.test"
BODY = ("Terima kasih, aduan Anda telah kami terima dan didaftarkan.\r\n" * 20)


def _ack(raw: bytes, n: int) -> tuple[str, bytes]:
    m = re.search(rb"^From: .*<([^>]+)>", raw, re.M)
    to = m.group(1).decode() if m else "warga1@dukcapil.test"
    mid = re.search(rb"^Message-ID: (<[^>]+>)", raw, re.M | re.I)
    ref = mid.group(1).decode() if mid else ""
    head = (f"From: Dukcapil <{OFFICE}>\r\nTo: {to}\r\nSubject: [RAW/{n}] Tanda terima\r\n"
            f"Message-ID: <raw-ack-{n}@dukcapil.test>\r\nIn-Reply-To: {ref}\r\nReferences: {ref}\r\n"
            "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
    return to, head.encode() + BODY.encode()


def _forward(raw: bytes, n: int) -> bytes:
    b = f"raw-{n}"
    head = (f"From: Dukcapil <{OFFICE}>\r\nTo: admin@dukcapil.test\r\nSubject: [RAW/{n}] Aduan baru\r\n"
            f"Message-ID: <raw-fwd-{n}@dukcapil.test>\r\nAuto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n--{b}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n" + BODY + f"\r\n--{b}\r\n"
            "Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"aduan-asli.eml\"\r\n\r\n")
    return head.encode() + raw + f"\r\n--{b}--\r\n".encode()


async def main_async(args) -> int:
    imap = IMAPClient("127.0.0.1", port=args.imap_port, ssl=False, timeout=60)
    imap.login("aduan", "secret")
    if not imap.folder_exists(args.processed):
        imap.create_folder(args.processed)
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=args.smtp_port, start_tls=False, timeout=60)
    await smtp.connect()
    done, last = 0, 0
    deadline = time.monotonic() + args.timeout
    while done < args.n and time.monotonic() < deadline:
        imap.select_folder("INBOX")
        found = imap.search(["UID", f"{last + 1}:*"]) if last else imap.search("ALL")
        uids = sorted(u for u in found if u > last)
        if not uids:
            time.sleep(args.poll)
            continue
        for start in range(0, len(uids), 100):
            batch = uids[start:start + 100]
            data = imap.fetch(batch, ["BODY.PEEK[]", "RFC822.SIZE"])
            for uid in batch:
                raw = data[uid][b"BODY[]"]
                to, ack = _ack(raw, done)
                await smtp.sendmail(OFFICE, [to], ack)
                await smtp.sendmail(OFFICE, ["admin@dukcapil.test"], _forward(raw, done))
                done += 1
            imap.move(batch, args.processed)
            last = batch[-1]
    await smtp.quit()
    imap.logout()
    print(done)
    return 0 if done >= args.n else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.rawpipe")
    p.add_argument("--imap-port", type=int, required=True)
    p.add_argument("--smtp-port", type=int, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--poll", type=float, default=0.2)
    p.add_argument("--processed", default="mailflow/processed")
    p.add_argument("--timeout", type=float, default=600)
    return asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
