"""Memory: peak RSS of the daemon process taking in many mails.

Two runs, each on a fresh SQLite desk (database on disk, /var/tmp): BIG
complaints with a 5 MB attachment each (random bytes, base64: ~6.8 MB per
mail) and SMALL ~2 KB ones.  The mails are delivered into Dovecot first (LMTP,
4 sessions), then ``mailflow poll --once`` runs as a child process: one intake
pass over all of them and one outbox drain (acknowledgements, and forwards
that attach the original).  Its peak RSS is the child's ``ru_maxrss`` from
``os.wait4`` in a small launcher process (see ``_LAUNCHER``).  For scale: the same command on an empty mailbox.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import fake
from benchmarks.harness import Row, Run, Stack, child_env, mailflow_cmd, make_desk

ATTACHMENT = 5 * 1024 * 1024


# Started from a small launcher process, not from this one: Linux carries the
# high-water RSS of the memory image a child had before exec into its
# ru_maxrss, and a child forked (vforked) from this benchmark process, which
# holds the test mails, would report this process's peak instead of its own.
_LAUNCHER = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "open(sys.argv[1], 'w').write(f'{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}')\n"
)


def _poll_once(config: Path, log: Path) -> tuple[float, float, int, str]:
    """(peak RSS MiB, seconds, exit code, summary line) of one ``mailflow poll --once``."""
    result = log.with_suffix(".rss")
    with open(log, "wb") as fh:
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _LAUNCHER, str(result),
                               *mailflow_cmd("poll", "--once", "--log-format", "json", "--config", str(config))],
                              env=child_env(), stdout=subprocess.PIPE, stderr=fh, stdin=subprocess.DEVNULL)
        secs = time.perf_counter() - t
    maxrss_kib, code = (int(x) for x in result.read_text().split())
    out = proc.stdout.decode(errors="replace").strip()
    return maxrss_kib / 1024, secs, code, out.splitlines()[-1] if out else ""


def _one(r: Run, stack: Stack, workdir: Path, name: str, mails: list[bytes]) -> None:
    for u in ("aduan", "admin", *fake.CITIZENS):
        stack.empty(u)
    desk = make_desk(stack, workdir / f"memory-{name}", build=False,
                     extra="[limits]\nmax_message_bytes = 26214400\n")
    load_s = stack.lmtp_deliver(mails, connections=4)
    size = sum(map(len, mails))
    rss, secs, code, summary = _poll_once(desk.config, workdir / f"memory-{name}.log")
    r.details.setdefault("memory", {})[name] = {"n": len(mails), "bytes": size, "load_seconds": load_s,
                                                "poll_seconds": secs, "exit": code, "summary": summary}
    r.add(Row("memory", f"peak RSS, `poll --once` on {len(mails):,} {name} mails", rss, "MiB",
              target="<= 200 MiB", met=rss <= 200 and code == 0,
              note=f"{size / len(mails) / 1024:,.0f} KiB each; {secs:.0f} s; exit {code}; {summary}"))
    (workdir / f"memory-{name}" / "mailflow.db").unlink(missing_ok=True)


def run(r: Run, stack: Stack, workdir: Path, *, big: int, small: int) -> None:
    for u in ("aduan",):
        stack.empty(u)
    desk = make_desk(stack, workdir / "memory-idle", build=False)
    rss, secs, code, _ = _poll_once(desk.config, workdir / "memory-idle.log")
    r.add(Row("memory", "peak RSS, `poll --once` on an empty mailbox (start-up)", rss, "MiB",
              note=f"{secs:.1f} s; exit {code}"))
    blob = os.urandom(ATTACHMENT)
    _one(r, stack, workdir, "5 MB-attachment", [fake.complaint_mail(i, run="mem", attachment=blob) for i in range(big)])
    _one(r, stack, workdir, "small", [fake.complaint_mail(i, run="mems") for i in range(small)])
    for u in ("aduan", "admin", *fake.CITIZENS):
        stack.empty(u)
