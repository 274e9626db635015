"""Who used the CPU during a phase: CPU seconds per group of processes, from /proc.

A snapshot reads ``/proc/<pid>/stat`` of every process (utime + stime, plus
cutime + cstime: the time of children it has reaped) and the machine's busy
time from ``/proc/stat``. A group is a set of root pids and all their
descendants (Dovecot's master and its imap/lmtp/auth children, the SMTP front,
the worker processes), or every process of a given name (``postgres``: the
server is shared, so its figure includes other clients' queries). Counting
what a parent reaped keeps short-lived children (an imap process per login,
a PostgreSQL backend per connection) in their group after they exit. "other"
is the machine's busy time not in any group (other users of the machine).

Linux only; on anything else every figure is None.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Groups:
    """``roots``: group name -> pids (with their descendants); ``names``:
    group name -> process names (``comm``) that belong to it wherever they are."""

    roots: Mapping[str, Iterable[int]] = field(default_factory=dict)
    names: Mapping[str, Iterable[str]] = field(default_factory=dict)


@dataclass
class Snapshot:
    at: float
    busy: float | None  # machine busy CPU seconds since boot
    per_group: dict[str, float]


def _procs() -> dict[int, tuple[str, int, float]]:
    """pid -> (comm, ppid, CPU seconds of it and its reaped children)."""
    out: dict[int, tuple[str, int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                data = fh.read().decode(errors="replace")
        except OSError:
            continue  # exited meanwhile
        comm = data[data.index("(") + 1:data.rindex(")")]
        rest = data[data.rindex(")") + 2:].split()
        ticks = sum(int(x) for x in rest[11:15])  # utime stime cutime cstime
        out[int(entry)] = (comm, int(rest[1]), ticks / _TICK)
    return out


def _busy() -> float | None:
    with open("/proc/stat") as fh:
        parts = fh.readline().split()[1:]
    v = [int(x) for x in parts]
    # user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / _TICK


def snapshot(groups: Groups) -> Snapshot:
    if not os.path.exists("/proc/stat"):
        return Snapshot(time.perf_counter(), None, {})
    procs = _procs()
    busy = _busy()
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    owner: dict[int, str] = {}
    for name, roots in groups.roots.items():
        stack = [p for p in roots if p in procs]
        while stack:
            pid = stack.pop()
            if pid not in owner:
                owner[pid] = name
                stack.extend(children.get(pid, ()))
    by_name = {comm: name for name, comms in groups.names.items() for comm in comms}
    per_group = {name: 0.0 for name in (*groups.roots, *groups.names)}
    for pid, (comm, _, secs) in procs.items():
        name = owner.get(pid) or by_name.get(comm)
        if name is not None:
            per_group[name] += secs
    return Snapshot(time.perf_counter(), busy, per_group)


def usage(before: Snapshot, after: Snapshot) -> dict[str, float | None]:
    """Percent of one core per group over the interval, "other", and "total"
    (the machine's busy time; ``os.cpu_count() * 100`` is all of it)."""
    wall = after.at - before.at
    if before.busy is None or after.busy is None or wall <= 0:
        return {}
    out: dict[str, float | None] = {}
    for name, secs in after.per_group.items():
        # A group can shrink (a process of it reaped by one outside it): clamp.
        out[name] = max(0.0, secs - before.per_group.get(name, 0.0)) / wall * 100
    total = (after.busy - before.busy) / wall * 100
    out["other"] = max(0.0, total - sum(v for v in out.values() if v is not None))
    out["total"] = total
    return out


def describe(use: Mapping[str, float | None]) -> str:
    """``"CPU (% of a core, 200 = both): workers 120, postgres 30, ... = 195 busy"``."""
    if not use:
        return "CPU use not measurable here"
    parts = ", ".join(f"{k} {v:.0f}" for k, v in use.items() if k != "total" and v is not None)
    cores = os.cpu_count() or 1
    return f"CPU (% of a core, {cores * 100} = all): {parts}; busy {use['total']:.0f}"


def saturated(use: Mapping[str, float | None], threshold: float = 0.85) -> bool:
    """Whether the machine was at least ``threshold`` busy over the interval."""
    total = use.get("total")
    return total is not None and total >= threshold * (os.cpu_count() or 1) * 100
