"""The project's local real mail servers: Dovecot (IMAP + LMTP) and an SMTP front.

Used by the pytest fixtures (``tests/conftest.py``), by benchmarks and, through
``scripts/mailstack``, from the shell::

    python3 -m devstack.mailstack start [--dir DIR] [--users-file F]
    python3 -m devstack.mailstack stop|status|env|reset|restart-imap|restart-smtp [--dir DIR]

From Python::

    from devstack.mailstack import MailStack
    stack = MailStack().start("/tmp/x")      # or MailStack.attach(dir) for a running one
    stack.send(raw, "warga1@dukcapil.test", "aduan+abc@dukcapil.test")
    [raw_back] = stack.wait_for("aduan", 1)
    stack.reset(); stack.stop()

What runs (all on loopback, on free ports chosen at start, nothing fixed):

* Dovecot 2.3 with its own config (``DIR/dovecot.conf``), its own base_dir,
  sdbox mailboxes, users from a passwd-file, every password ``secret``.
  ``aduan`` and ``aduan@dukcapil.test`` both log in (``auth_username_format =
  %Ln``); ``aduan+tag@dukcapil.test`` is delivered to aduan's INBOX.
  Listeners: ``IMAP_PORT`` (127.0.0.1, offers STARTTLS, plaintext login also
  allowed), ``IMAPS_PORT`` (127.0.0.1, implicit TLS) and ``IMAP_PLAIN_HOST:
  IMAP_PLAIN_PORT`` (127.0.0.2, does *not* offer STARTTLS: a ``local
  127.0.0.2 { ssl = no }`` block).  Special-use folders Drafts, Sent, Trash
  and Junk are auto-created and subscribed; the hierarchy separator is ``/``.
  LMTP on a unix socket (``LMTP_SOCKET``).
* :mod:`devstack.smtprelay` (aiosmtpd) on ``SMTP_PORT`` (no STARTTLS)
  and ``SMTP_STARTTLS_PORT``; it delivers to LMTP before answering 250.
* A throw-away CA (``DIR/ca.pem``) and a server certificate for
  ``localhost``, 127.0.0.1 and 127.0.0.2, kept across restarts of one DIR.

Where files live: ``DIR`` holds config, certificates, logs, ``env`` and
``state.json``.  Mail and Dovecot's sockets must be reachable by the mail user
(``vmail`` when running as root).  If DIR is (e.g. a pytest tmp dir, mode
0700 all the way up), they go to a private spool ``/dev/shm/mailstack-XXXX``
(or the system temp dir), linked as ``DIR/spool`` and removed by ``stop``:
mail then does not outlive the stack.  Otherwise mail is kept in ``DIR/mail``
across stop/start.
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator

DOMAIN = "dukcapil.test"
PASSWORD = "secret"
HOST = "127.0.0.1"
PLAIN_IMAP_HOST = "127.0.0.2"
MAIL_USER = "vmail"
ROLE_USERS = (
    "admin",
    "kasi-identitas",
    "kasi-pindah",
    "kasi-capil",
    "kasi-piak",
    "kabid",
    "kadis",
    "kasubag",
    "ketua-tim",
    "analis",
    "sekretariat",
)
DEFAULT_USERS = ("aduan", *ROLE_USERS, *(f"warga{i}" for i in range(1, 10)))
SPECIAL_FOLDERS = ("Drafts", "Sent", "Trash", "Junk")
ENV_KEYS = (
    "MAILSTACK_DIR",
    "MAILSTACK_DOMAIN",
    "MAILSTACK_PASSWORD",
    "MAILSTACK_HOST",
    "MAILSTACK_IMAP_PORT",
    "MAILSTACK_IMAPS_PORT",
    "MAILSTACK_IMAP_PLAIN_HOST",
    "MAILSTACK_IMAP_PLAIN_PORT",
    "MAILSTACK_SMTP_PORT",
    "MAILSTACK_SMTP_STARTTLS_PORT",
    "MAILSTACK_CA_FILE",
    "MAILSTACK_LMTP_SOCKET",
)
DEBIAN_PACKAGES = ("dovecot-imapd", "dovecot-lmtpd", "openssl")

_PKG_PARENT = Path(__file__).resolve().parents[1]  # the checkout: holds devstack/ and mailflow/
_USER_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
_MAX_SOCKET_DIR = 70  # AF_UNIX paths are limited to 107 bytes


class MailStackError(RuntimeError):
    """The mail stack could not be installed, started or reached."""


# --------------------------------------------------------------------------
# installation


def _which(name: str) -> str | None:
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
    if not _which("dovecot") or not _which("doveadm"):
        missing.append("dovecot-imapd")
    if not _which("openssl"):
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
    if not _which("dovecot") or not _which("doveadm") or not _which("openssl"):
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


def _mail_identity() -> pwd.struct_passwd:
    if os.geteuid() == 0:
        return pwd.getpwnam(MAIL_USER)
    return pwd.getpwuid(os.geteuid())


# --------------------------------------------------------------------------
# small helpers


def default_dir() -> Path:
    """``$MAILSTACK_DEFAULT_DIR``, else ``<repo>/var/mailstack``, else ``./var/mailstack``."""
    env = os.environ.get("MAILSTACK_DEFAULT_DIR")
    if env:
        return Path(env)
    if (_PKG_PARENT / "pyproject.toml").exists():
        return _PKG_PARENT / "var" / "mailstack"
    return Path.cwd() / "var" / "mailstack"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _free_ports(spec: list[str]) -> list[int]:
    ports: list[int] = []
    for host in spec:
        for _ in range(50):
            port = _free_port(host)
            if port not in ports:
                ports.append(port)
                break
    return ports


def _imap_greets(host: str, port: int) -> bool:
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


def _proc_state(pid: int) -> str | None:
    """Process state letter, or None if gone. Zombies count as gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return None
    return None if state in ("Z", "X") else state


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _alive(pid: int | None, marker: str) -> bool:
    return bool(pid) and _proc_state(pid) is not None and marker in _cmdline(pid)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _write(path: Path, text: str, mode: int | None = None) -> bool:
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


def _traversable(path: Path, pw: pwd.struct_passwd) -> bool:
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


def read_users_file(path: str | os.PathLike[str]) -> list[str]:
    users = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        name = line.split("#", 1)[0].strip().lower()
        if not name:
            continue
        if "@" in name:
            local, _, domain = name.partition("@")
            if domain != DOMAIN:
                raise MailStackError(f"{path}: {name!r} is not @{DOMAIN}")
            name = local
        if not _USER_RE.match(name) or "+" in name:
            raise MailStackError(f"{path}: bad local part {name!r}")
        users.append(name)
    return users


def _fix_newlines(raw: bytes) -> bytes:
    # Convenience for hand-written test mail: LF-only text becomes CRLF.
    if b"\r" not in raw and b"\n" in raw:
        return raw.replace(b"\n", b"\r\n")
    return raw


# --------------------------------------------------------------------------
# the stack


class MailStack:
    """A running (or to be started) stack in one state directory."""

    def __init__(self, dir: str | os.PathLike[str] | None = None) -> None:
        self.dir = Path(dir if dir is not None else default_dir()).absolute()
        self._state: dict = {}
        self._relay_proc: subprocess.Popen | None = None
        self.domain = DOMAIN
        self.password = PASSWORD
        self.host = HOST

    # ---- paths ---------------------------------------------------------
    def _p(self, name: str) -> Path:
        return self.dir / name

    @property
    def spool(self) -> Path:
        return Path(self._state["spool"])

    @property
    def run_dir(self) -> Path:
        return Path(self._state["run_dir"])

    @property
    def conf(self) -> Path:
        return self._p("dovecot.conf")

    @property
    def instance(self) -> str:
        return "ms-" + hashlib.sha1(str(self.dir).encode()).hexdigest()[:10]

    # ---- env values ------------------------------------------------------
    @property
    def users(self) -> list[str]:
        return list(self._state.get("users", DEFAULT_USERS))

    @property
    def imap_port(self) -> int:
        return self._state["ports"]["imap"]

    @property
    def imaps_port(self) -> int:
        return self._state["ports"]["imaps"]

    @property
    def imap_plain_host(self) -> str:
        return PLAIN_IMAP_HOST

    @property
    def imap_plain_port(self) -> int:
        return self._state["ports"]["imap_plain"]

    @property
    def smtp_port(self) -> int:
        return self._state["ports"]["smtp"]

    @property
    def smtp_starttls_port(self) -> int:
        return self._state["ports"]["smtp_starttls"]

    @property
    def ca_file(self) -> str:
        return str(self._p("ca.pem"))

    @property
    def lmtp_socket(self) -> str:
        return str(self.run_dir / "lmtp")

    @property
    def env(self) -> dict[str, str]:
        return {
            "MAILSTACK_DIR": str(self.dir),
            "MAILSTACK_DOMAIN": self.domain,
            "MAILSTACK_PASSWORD": self.password,
            "MAILSTACK_HOST": self.host,
            "MAILSTACK_IMAP_PORT": str(self.imap_port),
            "MAILSTACK_IMAPS_PORT": str(self.imaps_port),
            "MAILSTACK_IMAP_PLAIN_HOST": self.imap_plain_host,
            "MAILSTACK_IMAP_PLAIN_PORT": str(self.imap_plain_port),
            "MAILSTACK_SMTP_PORT": str(self.smtp_port),
            "MAILSTACK_SMTP_STARTTLS_PORT": str(self.smtp_starttls_port),
            "MAILSTACK_CA_FILE": self.ca_file,
            "MAILSTACK_LMTP_SOCKET": self.lmtp_socket,
        }

    def env_text(self) -> str:
        return "".join(f"{k}={shlex.quote(v)}\n" for k, v in self.env.items())

    def address(self, user: str) -> str:
        """``aduan`` -> ``aduan@dukcapil.test``; full addresses pass through."""
        return user if "@" in user else f"{user}@{self.domain}"

    def __repr__(self) -> str:
        return f"MailStack({str(self.dir)!r}, running={self.running()})"

    # ---- state -----------------------------------------------------------
    def _load_state(self) -> bool:
        try:
            self._state = json.loads(self._p("state.json").read_text())
            return True
        except (OSError, ValueError):
            self._state = {}
            return False

    def _save_state(self) -> None:
        _write(self._p("state.json"), json.dumps(self._state, indent=2) + "\n")
        _write(self._p("env"), self.env_text())

    @classmethod
    def attach(cls, dir: str | os.PathLike[str] | None = None) -> "MailStack":
        """A handle on an already running stack (``$MAILSTACK_DIR`` if no dir)."""
        if dir is None and os.environ.get("MAILSTACK_DIR"):
            dir = os.environ["MAILSTACK_DIR"]
        stack = cls(dir)
        if not stack._load_state() or not stack.running():
            raise MailStackError(f"no mail stack running in {stack.dir}")
        return stack

    def _dovecot_pid(self) -> int | None:
        if not self._state:
            return None
        pid = _read_pid(self.run_dir / "master.pid")
        return pid if _alive(pid, str(self.conf)) else None

    def _relay_pid(self) -> int | None:
        pid = _read_pid(self._p("smtprelay.pid"))
        return pid if _alive(pid, "devstack.smtprelay") else None

    def running(self) -> bool:
        if not self._state and not self._load_state():
            return False
        return bool(self._dovecot_pid() and self._relay_pid())

    def status(self) -> dict:
        self._load_state()
        return {
            "dir": str(self.dir),
            "dovecot_pid": self._dovecot_pid(),
            "smtprelay_pid": self._relay_pid() if self._state else None,
            "running": self.running() if self._state else False,
            "env": self.env if self._state.get("ports") else {},
        }

    # ---- start -------------------------------------------------------------
    def start(
        self,
        dir: str | os.PathLike[str] | None = None,
        users_file: str | os.PathLike[str] | None = None,
        users: Iterable[str] = (),
        log=None,
    ) -> "MailStack":
        """Start (or, if already running, just update users of) the stack."""
        if dir is not None:
            self.dir = Path(dir).absolute()
        log = log or (lambda msg: print(msg, file=sys.stderr))
        self.dir.mkdir(parents=True, exist_ok=True)
        extra = list(users)
        if users_file is not None:
            extra += read_users_file(users_file)
        had_state = self._load_state()
        if extra or not had_state:
            self._state["extra_users"] = sorted(set(extra))
        all_users = list(DEFAULT_USERS) + [
            u for u in self._state.get("extra_users", []) if u not in DEFAULT_USERS
        ]
        if had_state and self.running():
            self._state["users"] = all_users
            self._write_users(_mail_identity())
            self._save_state()
            return self
        if had_state:
            self._stop_processes()  # half-running or stale: start clean
        ensure_installed(log)
        pw = _mail_identity()
        self._state["users"] = all_users
        self._prepare_dirs(pw)
        self._make_certs()
        self._write_users(pw)
        self._state.setdefault("ports", {})
        # The relay needs only the LMTP socket path: start it in parallel.
        self._spawn_relay(0, 0)
        try:
            self._start_dovecot(pw, new_ports=True)
            self._wait_relay()
        except BaseException:
            self._stop_processes()
            raise
        self._save_state()
        return self

    def _prepare_dirs(self, pw: pwd.struct_passwd) -> None:
        st = self.dir.stat()
        if st.st_uid == os.geteuid() and not st.st_mode & 0o001:
            os.chmod(self.dir, st.st_mode | 0o001)  # search only, for the mail user
        old_spool = self._state.get("spool")
        if old_spool and self._state.get("spool_is_temp") and Path(old_spool).is_dir():
            spool, temp = Path(old_spool), True
        elif _traversable(self.dir, pw):
            spool, temp = self.dir, False
        else:
            _sweep_stale_spools()
            parent = "/dev/shm" if os.access("/dev/shm", os.W_OK | os.X_OK) else tempfile.gettempdir()
            spool, temp = Path(tempfile.mkdtemp(prefix="mailstack-", dir=parent)), True
            os.chmod(spool, 0o711)
            (spool / "owner").write_text(str(self.dir) + "\n")
        if temp:
            link = self._p("spool")
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(spool)
        run = spool / "run"
        if len(str(run)) > _MAX_SOCKET_DIR:
            old_run = self._state.get("run_dir")
            if old_run and self._state.get("run_is_temp") and Path(old_run).is_dir():
                run = Path(old_run)
            else:
                run = Path(tempfile.mkdtemp(prefix="mailstack-run-", dir="/tmp"))
                os.chmod(run, 0o755)
            self._state["run_is_temp"] = True
        else:
            run.mkdir(exist_ok=True)
            self._state["run_is_temp"] = False
        self._state["spool"] = str(spool)
        self._state["spool_is_temp"] = temp
        self._state["run_dir"] = str(run)
        for sub in ("mail", "state"):
            (spool / sub).mkdir(exist_ok=True)
        os.chown(spool / "mail", pw.pw_uid, pw.pw_gid)
        self._state["mail_uid"] = pw.pw_uid

    def _make_certs(self) -> None:
        ca, ca_key = self._p("ca.pem"), self._p("ca.key")
        crt, key = self._p("server.pem"), self._p("server.key")
        if all(p.exists() for p in (ca, ca_key, crt, key)):
            return
        openssl = _which("openssl")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        tmp = self._p("certs.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        ext = tmp / "server.ext"
        ext.write_text(
            "basicConstraints = critical, CA:FALSE\n"
            "keyUsage = critical, digitalSignature, keyEncipherment\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:127.0.0.2\n"
            "subjectKeyIdentifier = hash\n"
            "authorityKeyIdentifier = keyid, issuer\n"
        )
        cmds = [
            [openssl, "req", "-x509", *ec, "-keyout", tmp / "ca.key", "-out", tmp / "ca.pem",
             "-days", "3650", "-subj", "/O=mailflow tests/CN=mailstack test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-addext", "subjectKeyIdentifier=hash"],
            [openssl, "req", *ec, "-keyout", tmp / "server.key", "-out", tmp / "server.csr",
             "-subj", "/O=mailflow tests/CN=localhost"],
            [openssl, "x509", "-req", "-in", tmp / "server.csr", "-CA", tmp / "ca.pem",
             "-CAkey", tmp / "ca.key", "-CAcreateserial", "-out", tmp / "server.pem",
             "-days", "3650", "-sha256", "-extfile", ext],
        ]
        for cmd in cmds:
            res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
            if res.returncode != 0:
                raise MailStackError(f"openssl failed: {' '.join(map(str, cmd))}\n{res.stderr}")
        for name in ("ca.key", "server.key"):
            os.chmod(tmp / name, 0o600)
        for name in ("ca.key", "server.key", "server.pem", "ca.pem"):
            os.replace(tmp / name, self._p(name))
        shutil.rmtree(tmp, ignore_errors=True)

    def _write_users(self, pw: pwd.struct_passwd) -> None:
        users = self.users
        _write(self._p("users"), "".join(f"{u}\n" for u in users))
        mail = self.spool / "mail"
        lines = [
            f"{u}:{{PLAIN}}{self.password}:{pw.pw_uid}:{pw.pw_gid}::{mail}/{u}::\n" for u in users
        ]
        _write(self.spool / "passwd", "".join(lines), mode=0o644)

    def _dovecot_config(self, pw: pwd.struct_passwd) -> str:
        ports = self._state["ports"]
        spool, run = self.spool, self.run_dir
        internal = pw.pw_name
        group = grp.getgrgid(pw.pw_gid).gr_name
        specials = "".join(
            f"  mailbox {name} {{\n    special_use = \\{name}\n    auto = subscribe\n  }}\n"
            for name in SPECIAL_FOLDERS
        )
        return f"""\
# Generated by devstack.mailstack -- private test instance, do not edit.
instance_name = {self.instance}
base_dir = {run}
state_dir = {spool}/state
log_path = {self.dir}/dovecot.log
hostname = mail.{self.domain}
postmaster_address = postmaster@{self.domain}
protocols = imap lmtp
listen = {HOST} {PLAIN_IMAP_HOST}
verbose_proctitle = yes
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {internal}
first_valid_uid = {pw.pw_uid}
last_valid_uid = 0
first_valid_gid = {pw.pw_gid}
last_valid_gid = 0

ssl = yes
ssl_cert = <{self.dir}/server.pem
ssl_key = <{self.dir}/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no

mail_location = sdbox:{spool}/mail/%n/sdbox
mail_fsync = never
mailbox_list_index = no
namespace inbox {{
  inbox = yes
  separator = /
{specials}}}

passdb {{
  driver = passwd-file
  args = {spool}/passwd
}}
userdb {{
  driver = passwd-file
  args = {spool}/passwd
}}

protocol imap {{
  mail_max_userip_connections = 1000
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {ports["imap"]}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {ports["imaps"]}
    ssl = yes
  }}
  inet_listener imap_plain {{
    address = {PLAIN_IMAP_HOST}
    port = {ports["imap_plain"]}
  }}
}}
# No slowing down after a failed login (tests try wrong passwords on purpose):
# no per-failure delay, and the anvil IP penalty switched off.
auth_failure_delay = 0
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
# The no-STARTTLS listener: connections to this local address get no TLS.
local {PLAIN_IMAP_HOST} {{
  ssl = no
}}
"""

    def _start_dovecot(self, pw: pwd.struct_passwd, new_ports: bool) -> None:
        dovecot = _which("dovecot")
        attempts = 5 if new_ports else 20
        for attempt in range(attempts):
            if new_ports:
                imap, imaps = _free_ports([HOST, HOST])
                plain = _free_port(PLAIN_IMAP_HOST)
                self._state["ports"].update(imap=imap, imaps=imaps, imap_plain=plain)
            _write(self.conf, self._dovecot_config(pw))
            log_path = self._p("dovecot.log")
            size = log_path.stat().st_size if log_path.exists() else 0
            with open(self._p("dovecot.start.out"), "wb") as out:
                # Output to a file, not a pipe: the daemon keeps inherited fds.
                res = subprocess.run(
                    [dovecot, "-c", str(self.conf)], stdin=subprocess.DEVNULL, stdout=out, stderr=out
                )
            if res.returncode == 0:
                self._wait_dovecot()
                return
            msg = self._p("dovecot.start.out").read_text(errors="replace")
            if log_path.exists():
                with open(log_path, errors="replace") as fh:
                    fh.seek(size)
                    msg += fh.read()
            if "in use" in msg and attempt + 1 < attempts:
                time.sleep(0 if new_ports else 0.25)
                continue
            raise MailStackError(f"dovecot -c {self.conf} failed (exit {res.returncode}):\n{msg[-3000:]}")

    def _wait_dovecot(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        ports = self._state["ports"]
        while time.monotonic() < deadline:
            if (
                self._dovecot_pid()
                and os.path.exists(self.lmtp_socket)
                and _imap_greets(HOST, ports["imap"])
            ):
                return
            time.sleep(0.01)
        raise MailStackError(f"dovecot did not come up within {timeout}s; see {self.dir}/dovecot.log")

    def _spawn_relay(self, port: int, starttls_port: int) -> None:
        for name in ("smtprelay.ready", "smtprelay.pid"):
            with contextlib.suppress(FileNotFoundError):
                self._p(name).unlink()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PKG_PARENT), env.get("PYTHONPATH", "")) if p
        )
        cmd = [
            sys.executable, "-m", "devstack.smtprelay",
            "--host", HOST,
            "--port", str(port),
            "--starttls-port", str(starttls_port),
            "--cert", str(self._p("server.pem")),
            "--key", str(self._p("server.key")),
            "--lmtp", self.lmtp_socket,
            "--domain", self.domain,
            "--users-file", str(self._p("users")),
            "--password", self.password,
            "--hostname", f"mail.{self.domain}",
            "--pidfile", str(self._p("smtprelay.pid")),
            "--ready-file", str(self._p("smtprelay.ready")),
            "--control", str(self._p("relay-control.json")),
        ]
        with open(self._p("smtprelay.log"), "ab") as logf:
            self._relay_proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                cwd=str(self.dir), env=env, start_new_session=True,
            )

    def _wait_relay(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        ready = self._p("smtprelay.ready")
        while time.monotonic() < deadline:
            if ready.exists():
                info = json.loads(ready.read_text())
                self._state["ports"]["smtp"] = info["port"]
                self._state["ports"]["smtp_starttls"] = info["starttls_port"]
                return
            if self._relay_proc is not None and self._relay_proc.poll() is not None:
                break
            time.sleep(0.01)
        tail = ""
        with contextlib.suppress(OSError):
            tail = self._p("smtprelay.log").read_text(errors="replace")[-3000:]
        raise MailStackError(f"SMTP relay did not start; {self.dir}/smtprelay.log:\n{tail}")

    # ---- stop / restart ------------------------------------------------------
    def stop(self) -> None:
        """Stop both servers; remove a temporary spool (and its mail)."""
        if not self._state and not self._load_state():
            return
        self._stop_processes()
        if self._state.get("run_is_temp"):
            shutil.rmtree(self._state["run_dir"], ignore_errors=True)
        if self._state.get("spool_is_temp"):
            shutil.rmtree(self._state["spool"], ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                self._p("spool").unlink()
        for name in ("state.json", "env", "smtprelay.ready", "dovecot.start.out"):
            with contextlib.suppress(FileNotFoundError):
                self._p(name).unlink()

    def _stop_processes(self) -> None:
        self._stop_relay()
        if self._state.get("run_dir"):
            self._stop_dovecot()

    def _stop_relay(self) -> None:
        pid = self._relay_pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not _wait_gone([pid], 5):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_gone([pid], 5)
        proc, self._relay_proc = self._relay_proc, None
        if proc is not None:  # our own child: also covers a relay still starting up
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        with contextlib.suppress(FileNotFoundError):
            self._p("smtprelay.pid").unlink()

    def _dovecot_procs(self) -> dict[int, str]:
        """Every live process of this Dovecot instance: {pid: proctitle}."""
        prefix = f"dovecot-{self.instance}/"
        master = f"-c {self.conf}"
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            cmd = _cmdline(int(entry))
            if cmd.startswith(prefix) or (cmd.endswith(master) and "dovecot" in cmd):
                if _proc_state(int(entry)) is not None:
                    found[int(entry)] = cmd
        return found

    def _stop_dovecot(self) -> None:
        # SIGTERM to every process of the instance at once: the master alone
        # lingers ~1 s waiting for its log process and leaves IMAP sessions
        # connected; this way all is gone in ~0.1 s and sessions are cut.
        procs = self._dovecot_procs()
        if not procs:
            return
        for pid in procs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        if not _wait_gone(list(procs), 5):
            for pid in self._dovecot_procs():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            _wait_gone(list(procs), 5)
        with contextlib.suppress(FileNotFoundError):
            (self.run_dir / "master.pid").unlink()

    def restart_imap(self) -> None:
        """Restart Dovecot (IMAP and LMTP) on the same ports, keeping the mail.

        Open IMAP sessions are cut; SMTP deliveries during the gap get 451.
        """
        self._require_state()
        self._stop_dovecot()
        self._start_dovecot(_mail_identity(), new_ports=False)

    def restart_smtp(self) -> None:
        """Restart the SMTP relay on the same two ports."""
        self._require_state()
        ports = self._state["ports"]
        self._stop_relay()
        for attempt in range(20):
            self._spawn_relay(ports["smtp"], ports["smtp_starttls"])
            try:
                self._wait_relay()
                return
            except MailStackError:
                if attempt == 19:
                    raise
                time.sleep(0.25)  # port not free yet

    def relay_control(self, *, faults: Iterable[dict] = (), sent_copy: bool = False) -> None:
        """Set how the SMTP front misbehaves (``faults``) and whether it files a
        copy of every accepted mail from a local user in that user's ``Sent``
        folder (``sent_copy``, as Gmail and Exchange do). Takes effect at the
        next SMTP command; each call starts the faults' counts again. See
        :mod:`devstack.smtprelay` for the fault format, e.g.
        ``{"stage": "data", "reply": "451 4.3.0 busy", "times": 2}``."""
        self._require_state()
        settings = {"faults": list(faults), "sent_copy": bool(sent_copy), "imap_port": self.imap_port}
        path = self._p("relay-control.json")
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        # The relay notices a change by (mtime, size); make two quick writes differ.
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, max(st.st_mtime_ns, self._control_stamp + 1)))
        self._control_stamp = path.stat().st_mtime_ns

    _control_stamp = 0

    def _require_state(self) -> None:
        if not self._state and not self._load_state():
            raise MailStackError(f"no mail stack in {self.dir}")

    # ---- mail helpers ----------------------------------------------------------
    def imap(self, user: str, password: str | None = None):
        """A logged-in :class:`imapclient.IMAPClient` (loopback, no TLS). Log out when done."""
        from imapclient import IMAPClient

        client = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=30)
        try:
            client.login(user, password if password is not None else self.password)
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    @contextlib.contextmanager
    def _session(self, user: str) -> Iterator:
        client = self.imap(user)
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def send(
        self,
        raw: bytes,
        mail_from: str,
        rcpt_to: str | Iterable[str],
        *,
        starttls: bool = False,
    ) -> dict:
        """Send ``raw`` through the SMTP front; returns smtplib's refused dict.

        Bare user names get ``@dukcapil.test``.  LF-only bytes are sent with
        CRLF; otherwise the bytes go out unchanged.
        """
        rcpts = [rcpt_to] if isinstance(rcpt_to, str) else list(rcpt_to)
        rcpts = [self.address(r) for r in rcpts]
        sender = self.address(mail_from) if mail_from else ""
        port = self.smtp_starttls_port if starttls else self.smtp_port
        with smtplib.SMTP(self.host, port, timeout=60) as smtp:
            if starttls:
                import ssl

                smtp.starttls(context=ssl.create_default_context(cafile=self.ca_file))
            return smtp.sendmail(sender, rcpts, _fix_newlines(raw))

    def count(self, user: str, folder: str = "INBOX") -> int:
        with self._session(user) as c:
            return _count(c, folder)

    def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Raw bytes of every message in ``folder``, in UID order (\\Seen untouched)."""
        with self._session(user) as c:
            return _fetch_all(c, folder)

    def wait_for(
        self, user: str, count: int, folder: str = "INBOX", timeout: float = 10
    ) -> list[bytes]:
        """Wait until ``folder`` holds at least ``count`` messages; return them all."""
        deadline = time.monotonic() + timeout
        with self._session(user) as c:
            while True:
                have = _count(c, folder)
                if have >= count:
                    return _fetch_all(c, folder)
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"{user}/{folder}: {have} message(s) after {timeout}s, wanted {count}"
                    )
                time.sleep(0.05)

    def deliver(
        self, user: str, raw: bytes, folder: str = "INBOX", flags: Iterable[str] = ()
    ) -> int | None:
        """IMAP APPEND ``raw`` to ``user``'s ``folder`` (created if needed); returns the UID."""
        with self._session(user) as c:
            if folder.upper() != "INBOX" and not c.folder_exists(folder):
                c.create_folder(folder)
            resp = c.append(folder, _fix_newlines(raw), flags=tuple(flags))
        text = resp.decode("ascii", "replace") if isinstance(resp, bytes) else str(resp)
        m = re.search(r"APPENDUID \d+ (\d+)", text)
        return int(m.group(1)) if m else None

    def doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``doveadm -c <this stack's config> ARGS``."""
        res = subprocess.run(
            [_which("doveadm") or "doveadm", "-c", str(self.conf), *args],
            capture_output=True,
            text=True,
        )
        if check and res.returncode != 0:
            raise MailStackError(f"doveadm {' '.join(args)} failed ({res.returncode}): {res.stderr}")
        return res

    def reset(self) -> None:
        """Empty every user's mailboxes (deleting created folders) and clear
        :meth:`relay_control` (no faults, no sent copies).

        A user with no live IMAP process gets a brand-new mail directory (UIDs
        restart at 1, no flags/subscriptions left).  A user with an open IMAP
        session is emptied through doveadm instead, so that session stays valid.
        """
        self._require_state()
        with contextlib.suppress(FileNotFoundError):
            self._p("relay-control.json").unlink()
        mail = self.spool / "mail"
        homes = [e for e in os.scandir(mail) if e.is_dir(follow_symlinks=False)]
        if not homes:
            return
        busy = self._busy_users()
        for entry in homes:
            if entry.name in busy:
                self._empty_with_doveadm(entry.name)
            else:
                shutil.rmtree(entry.path, ignore_errors=True)

    def _busy_users(self) -> set[str]:
        # verbose_proctitle: "dovecot-<instance>/imap [user ip state]"
        busy = set()
        for cmd in self._dovecot_procs().values():
            m = re.match(r"dovecot-[^/]+/imap \[(\S+)", cmd)
            if m:
                busy.add(m.group(1))
        return busy

    def _empty_with_doveadm(self, user: str) -> None:
        res = self.doveadm("mailbox", "list", "-u", user)
        names = [n for n in res.stdout.splitlines() if n]
        keep = {"INBOX", *SPECIAL_FOLDERS}
        roots = []
        for name in names:
            if name in keep:
                continue
            parent = name.rsplit("/", 1)[0] if "/" in name else None
            if parent is None or parent in keep:
                roots.append(name)
        if roots:
            self.doveadm("mailbox", "delete", "-u", user, "-r", "-s", *roots)
        self.doveadm("expunge", "-u", user, "mailbox", "*", "all")


def _wait_gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_proc_state(p) is None for p in pids):
            return True
        time.sleep(0.005)
    return all(_proc_state(p) is None for p in pids)


def _sweep_stale_spools() -> None:
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
                    if _alive(_read_pid(Path(entry.path, "run", "master.pid")), "dovecot"):
                        continue
                    shutil.rmtree(entry.path, ignore_errors=True)


def _count(client, folder: str) -> int:
    try:
        return int(client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])
    except Exception as exc:  # a folder not created yet counts as empty
        if "exist" in str(exc).lower():
            return 0
        raise


def _fetch_all(client, folder: str) -> list[bytes]:
    if folder.upper() != "INBOX" and not client.folder_exists(folder):
        return []
    client.select_folder(folder, readonly=True)
    uids = sorted(client.search("ALL"))
    out: list[bytes] = []
    for i in range(0, len(uids), 200):
        batch = uids[i : i + 200]
        data = client.fetch(batch, [b"BODY.PEEK[]"])
        out += [data[uid][b"BODY[]"] for uid in batch if uid in data]
    client.unselect_folder()
    return out


# --------------------------------------------------------------------------
# command line

USAGE = """\
usage: scripts/mailstack COMMAND [--dir DIR] [--users-file F]

Local real mail servers for mailflow's tests, demo and benchmarks:
Dovecot (IMAP/IMAPS/LMTP) + an aiosmtpd SMTP front, on loopback ports picked
at start.  Users: aduan, admin, kasi-identitas, kasi-pindah, kasi-capil,
kasi-piak, kabid, kadis, kasubag, ketua-tim, analis, sekretariat,
warga1..warga9 (+ --users-file, one local part per line), all @dukcapil.test,
all with password "secret".

commands:
  start          install what is missing (apt: dovecot-imapd dovecot-lmtpd
                 openssl; user vmail), start both servers, print the env.
                 On a running stack: update users, print the env.
  stop           stop both servers (a temporary spool is deleted with its mail)
  status         say whether it runs (exit 0) or not (exit 3), with pids/ports
  env            print DIR/env (exit 1 if not running)
  reset          empty every mailbox of every user
  restart-imap   restart Dovecot on the same ports, keeping the mail
  restart-smtp   restart the SMTP front on the same ports

options:
  --dir DIR        state directory (default: $MAILSTACK_DIR if set, else
                   <repo>/var/mailstack)
  --users-file F   extra users (start only)

env printed (also in DIR/env, shell syntax; `. DIR/env` or eval "$(... env)"):
  MAILSTACK_DIR MAILSTACK_DOMAIN=dukcapil.test MAILSTACK_PASSWORD=secret
  MAILSTACK_HOST=127.0.0.1
  MAILSTACK_IMAP_PORT           IMAP, offers STARTTLS (plaintext login allowed)
  MAILSTACK_IMAPS_PORT          IMAP over implicit TLS
  MAILSTACK_IMAP_PLAIN_HOST     127.0.0.2: the IMAP listener that never offers
  MAILSTACK_IMAP_PLAIN_PORT     STARTTLS (plaintext only)
  MAILSTACK_SMTP_PORT           SMTP without STARTTLS
  MAILSTACK_SMTP_STARTTLS_PORT  SMTP offering STARTTLS
  MAILSTACK_CA_FILE             CA that signed the servers' certificate
  MAILSTACK_LMTP_SOCKET         Dovecot LMTP unix socket

files in DIR: dovecot.conf dovecot.log smtprelay.log env state.json ca.pem
server.pem users (and spool/ -> the mail when DIR is not reachable by vmail).
Inspect with: doveadm -c DIR/dovecot.conf mailbox list -u aduan
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="mailstack", usage=USAGE, add_help=False)
    p.add_argument("command", nargs="?")
    p.add_argument("--dir")
    p.add_argument("--users-file")
    p.add_argument("-h", "--help", action="store_true")
    args = p.parse_args(argv)
    commands = ("start", "stop", "status", "env", "reset", "restart-imap", "restart-smtp")
    if args.help or args.command in (None, "help"):
        print(USAGE, end="")
        return 0
    if args.command not in commands:
        print(f"mailstack: unknown command {args.command!r}\n\n{USAGE}", file=sys.stderr, end="")
        return 2
    d = args.dir or os.environ.get("MAILSTACK_DIR") or default_dir()
    stack = MailStack(d)
    try:
        if args.command == "start":
            stack.start(users_file=args.users_file)
            print(stack.env_text(), end="")
        elif args.command == "stop":
            stack.stop()
        elif args.command == "status":
            st = stack.status()
            if not st["running"]:
                print(f"mailstack in {st['dir']}: not running"
                      f" (dovecot pid {st['dovecot_pid']}, smtprelay pid {st['smtprelay_pid']})")
                return 3
            print(f"mailstack in {st['dir']}: running "
                  f"(dovecot pid {st['dovecot_pid']}, smtprelay pid {st['smtprelay_pid']})")
            for k, v in st["env"].items():
                print(f"  {k}={v}")
        else:
            stack = MailStack.attach(d)
            if args.command == "env":
                print(stack.env_text(), end="")
            elif args.command == "reset":
                stack.reset()
            elif args.command == "restart-imap":
                stack.restart_imap()
            elif args.command == "restart-smtp":
                stack.restart_smtp()
    except MailStackError as exc:
        print(f"mailstack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
