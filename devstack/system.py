"""What the mail stack needs from this machine (Debian or Ubuntu, Linux).

Installing Dovecot and openssl with apt and creating the ``vmail`` user
(:func:`ensure_installed`), free loopback ports, processes found through
``/proc``, files written atomically, and the clean-up of spools left by
killed stacks.  Nothing here knows the stack's state or Dovecot's config.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAIL_USER = "vmail"
DEBIAN_PACKAGES = ("dovecot-imapd", "dovecot-lmtpd", "openssl")
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


class MailStackError(RuntimeError):
    """The mail stack could not be installed, started or reached."""


def which(name: str) -> str | None:
    """The path of program ``name`` on PATH or in the sbin folders, or None."""
    path = os.environ.get("PATH", os.defpath) + os.pathsep + os.pathsep.join(_SBIN)
    return shutil.which(name, path=path)


def _privileged() -> list[str]:
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo"]
    raise MailStackError(
        "installing the mail stack's packages needs root or sudo; install "
        + " ".join(DEBIAN_PACKAGES)
        + " by hand"
    )


def _missing_packages() -> list[str]:
    if shutil.which("dpkg-query"):
        res = subprocess.run(
            ["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\\n", *DEBIAN_PACKAGES],
            capture_output=True,
            text=True,
        )
        installed = {
            line.split()[0]
            for line in res.stdout.splitlines()
            if line.split()[1:] == ["installed"]
        }
        return [p for p in DEBIAN_PACKAGES if p not in installed]
    missing = []
    if not which("dovecot") or not which("doveadm"):
        missing.append("dovecot-imapd")
    if not which("openssl"):
        missing.append("openssl")
    return missing


_INSTALL_SCRIPT = r"""
set -e
created=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\n# temporary, by mailflow scripts/mailstack\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  created=1
fi
trap 'if [ -n "$created" ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "$@" \
  || { apt-get update -q && apt-get install -y -q --no-install-recommends "$@"; }
"""


def ensure_installed(log=None) -> None:
    """Install Dovecot/openssl and create the ``vmail`` user when missing."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    missing = _missing_packages()
    if missing:
        if not shutil.which("apt-get"):
            raise MailStackError(f"missing {' '.join(missing)} and no apt-get to install them")
        log(f"mailstack: installing {' '.join(missing)} (system service kept stopped)")
        res = subprocess.run(
            [*_privileged(), "sh", "-c", _INSTALL_SCRIPT, "mailstack-install", *missing],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if res.returncode != 0 or _missing_packages():
            raise MailStackError(
                f"could not install {' '.join(missing)} (apt-get exit {res.returncode}):\n"
                + res.stdout[-3000:]
            )
    if not which("dovecot") or not which("doveadm") or not which("openssl"):
        raise MailStackError("dovecot, doveadm or openssl not found after installation")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(MAIL_USER)
        except KeyError:
            log(f"mailstack: creating system user {MAIL_USER}")
            nologin = "/usr/sbin/nologin" if os.path.exists("/usr/sbin/nologin") else "/bin/false"
            subprocess.run(
                ["useradd", "--system", "--user-group", "--no-create-home",
                 "--home-dir", "/nonexistent", "--shell", nologin, MAIL_USER],
                check=True,
            )


def mail_identity() -> pwd.struct_passwd:
    """The user that owns the mail: ``vmail`` when running as root, else oneself."""
    if os.geteuid() == 0:
        return pwd.getpwnam(MAIL_USER)
    return pwd.getpwuid(os.geteuid())


def free_port(host: str) -> int:
    """A TCP port free on ``host`` now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_ports(spec: list[str]) -> list[int]:
    """One free port per host in ``spec``, all different."""
    ports: list[int] = []
    for host in spec:
        for _ in range(50):
            port = free_port(host)
            if port not in ports:
                ports.append(port)
                break
    return ports


def imap_greets(host: str, port: int) -> bool:
    """True once the IMAP server sends its greeting (i.e. auth is ready too)."""
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            ok = sock.recv(256).startswith(b"* OK")
            if ok:
                sock.sendall(b"z LOGOUT\r\n")
                sock.recv(256)
            return ok
    except OSError:
        return False


def proc_state(pid: int) -> str | None:
    """Process state letter, or None if gone. Zombies count as gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return None
    return None if state in ("Z", "X") else state


def cmdline(pid: int) -> str:
    """The command line of process ``pid``, space-joined; "" if gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def alive(pid: int | None, marker: str) -> bool:
    """Process ``pid`` runs and its command line contains ``marker`` (not a reused pid)."""
    return bool(pid) and proc_state(pid) is not None and marker in cmdline(pid)


def read_pid(path: Path) -> int | None:
    """The pid in a pid file, or None if missing or unreadable."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def write_if_changed(path: Path, text: str, mode: int | None = None) -> bool:
    """Write atomically if the content changed; returns True if written."""
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def traversable(path: Path, pw: pwd.struct_passwd) -> bool:
    """Can user ``pw`` reach (search) ``path``?  Mode bits only, no ACLs."""
    if pw.pw_uid == os.geteuid():
        return True
    groups = set(os.getgrouplist(pw.pw_name, pw.pw_gid))
    for d in [path, *path.parents]:
        st = d.stat()
        if st.st_uid == pw.pw_uid:
            ok = st.st_mode & 0o100
        elif st.st_gid in groups:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            return False
    return True


def wait_gone(pids: list[int], timeout: float) -> bool:
    """Wait up to ``timeout`` s for every process of ``pids`` to end; True if they did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(proc_state(p) is None for p in pids):
            return True
        time.sleep(0.005)
    return all(proc_state(p) is None for p in pids)


def sweep_stale_spools() -> None:
    """Remove temp spools left by stacks whose state dir is gone (best effort).

    (A stack killed without ``stop`` leaves its spool; pytest later deletes
    its old tmp dirs, which makes the spool collectable here.)
    """
    for parent in ("/dev/shm", tempfile.gettempdir()):
        with contextlib.suppress(OSError):
            for entry in os.scandir(parent):
                if not entry.name.startswith("mailstack-") or not entry.is_dir(follow_symlinks=False):
                    continue
                with contextlib.suppress(OSError):
                    owner = Path(entry.path, "owner").read_text().strip()
                    if not owner or Path(owner).exists():
                        continue
                    if alive(read_pid(Path(entry.path, "run", "master.pid")), "dovecot"):
                        continue
                    shutil.rmtree(entry.path, ignore_errors=True)


def wait_ready_file(ready: Path, proc: subprocess.Popen | None, log: Path, what: str, timeout: float = 20) -> dict:
    """Wait until a server started by the devstack writes its JSON ``ready``
    file (it listens then) and return it. Raises :class:`MailStackError` with
    the tail of ``log`` if ``proc`` ends first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            return json.loads(ready.read_text())
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.01)
    tail = ""
    with contextlib.suppress(OSError):
        tail = log.read_text(errors="replace")[-3000:]
    raise MailStackError(f"{what} did not start; {log}:\n{tail}")
