"""The project's local real mail servers: Dovecot (IMAP + LMTP) and an SMTP front.

Used by the pytest fixtures (``tests/conftest.py``), by benchmarks and, through
``scripts/mailstack``, from the shell::

    python3 -m devstack.mailstack start [--dir DIR] [--users-file F] [--authserv-id ID] [--oauth]
    python3 -m devstack.mailstack stop|status|env|reset|restart-imap|restart-smtp [--dir DIR]

From Python::

    from devstack.mailstack import MailStack
    stack = MailStack().start("/tmp/x")      # or MailStack.attach(dir) for a running one
    stack.send(raw, "warga1@dukcapil.test", "aduan+abc@dukcapil.test")
    stack.send(raw, "kasi-capil", "aduan", login=True)   # as from the staff member's own client
    [raw_back] = stack.wait_for("aduan", 1)
    stack.reset(); stack.stop()

What runs (all on loopback, on free ports chosen at start, nothing fixed):

* Dovecot 2.3 with its own config (:mod:`devstack.dovecot`): IMAP with and
  without STARTTLS, IMAPS, LMTP on a unix socket; users from a passwd-file,
  every password ``secret``; ``aduan+tag@dukcapil.test`` lands in aduan's INBOX.
* :mod:`devstack.smtprelay` (aiosmtpd) on ``SMTP_PORT`` (no STARTTLS)
  and ``SMTP_STARTTLS_PORT``; it delivers to LMTP before answering 250
  (started and stopped by :mod:`devstack.relayproc`).  Like the office's
  receiving server it stamps ``Authentication-Results`` (``pass`` when sent
  logged in as the ``From:``, else :meth:`~MailStack.set_auth_policy`'s).
* A throw-away CA (``DIR/ca.pem``) and a server certificate for
  ``localhost``, 127.0.0.1 and 127.0.0.2, kept across restarts of one DIR.

Also here: what the machine must have (:mod:`devstack.system`: apt, the
``vmail`` user), the mailbox helpers (:mod:`devstack.mailboxes`) and the
command line (:mod:`devstack.cli`).

Where files live: ``DIR`` holds config, certificates, logs, ``env`` and
``state.json``.  Mail and Dovecot's sockets must be reachable by the mail user
(``vmail`` when running as root).  If DIR is (e.g. a pytest tmp dir, mode
0700 all the way up), they go to a private spool ``/dev/shm/mailstack-XXXX``
(or the system temp dir), linked as ``DIR/spool`` and removed by ``stop``:
mail then does not outlive the stack.  Otherwise mail is kept in ``DIR/mail``
across stop/start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from devstack import dovecot, oauthproc, relayproc
from devstack.authres import DEFAULT_AUTHSERV_ID
from devstack.dovecot import HOST, PLAIN_IMAP_HOST
from devstack.mailboxes import MailboxHelpers
from devstack.system import (
    MailStackError,
    alive,
    ensure_installed,
    free_port,
    free_ports,
    imap_greets,
    mail_identity,
    read_pid,
    sweep_stale_spools,
    traversable,
    write_if_changed,
)

DOMAIN = "dukcapil.test"
PASSWORD = "secret"
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
    "MAILSTACK_AUTHSERV_ID",
)

_PKG_PARENT = Path(__file__).resolve().parents[1]  # the checkout: holds devstack/ and mailflow/
_USER_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_MAX_SOCKET_DIR = 70  # AF_UNIX paths are limited to 107 bytes


def default_dir() -> Path:
    """``$MAILSTACK_DEFAULT_DIR``, else ``<repo>/var/mailstack``, else ``./var/mailstack``."""
    env = os.environ.get("MAILSTACK_DEFAULT_DIR")
    if env:
        return Path(env)
    if (_PKG_PARENT / "pyproject.toml").exists():
        return _PKG_PARENT / "var" / "mailstack"
    return Path.cwd() / "var" / "mailstack"


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


class MailStack(MailboxHelpers):
    """A running (or to be started) stack in one state directory.  ``authserv_id``:
    the id the SMTP front stamps Authentication-Results with (``""``: none; None:
    ``mx.dukcapil.test`` when starting, unchanged on a running stack)."""

    def __init__(self, dir: str | os.PathLike[str] | None = None, authserv_id: str | None = None,
                 oauth: bool = False) -> None:
        self.dir = Path(dir if dir is not None else default_dir()).absolute()
        # Also run the OAuth2 server (devstack/oauthserver.py), and let Dovecot and
        # the SMTP front accept XOAUTH2 tokens it issued (passwords keep working).
        self.oauth = oauth
        self._oauth_proc: subprocess.Popen | None = None
        self._want_authserv_id = authserv_id
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

    # ---- the OAuth2 server (oauth=True) -----------------------------------
    @property
    def oauth_http_port(self) -> int:
        return self._state["ports"]["oauth_http"]

    @property
    def oauth_url(self) -> str:
        """The OAuth2 server's HTTPS base (certificate from ``ca_file``)."""
        return f"https://{HOST}:{self._state['ports']['oauth_https']}"

    @property
    def introspection_url(self) -> str:
        return f"http://{HOST}:{self.oauth_http_port}/introspect"

    def oauth_control(self, **settings: object) -> dict:
        """Steer the OAuth2 server (``lifetime=``, ``expire=True``,
        ``revoke=True``, ``auto_approve=``); returns its counters."""
        return oauthproc.control(self.oauth_http_port, **settings)

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
    def authserv_id(self) -> str:
        return self._state.get("authserv_id", DEFAULT_AUTHSERV_ID)

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
            "MAILSTACK_AUTHSERV_ID": self.authserv_id,
            # Only on a stack started with oauth=True (`scripts/mailstack start --oauth`).
            **({"MAILSTACK_OAUTH_URL": self.oauth_url, "MAILSTACK_OAUTH_INTROSPECTION_URL": self.introspection_url}
               if self._state.get("oauth") else {}),
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
        write_if_changed(self._p("state.json"), json.dumps(self._state, indent=2) + "\n")
        write_if_changed(self._p("env"), self.env_text())

    @classmethod
    def attach(cls, dir: str | os.PathLike[str] | None = None) -> MailStack:
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
        pid = read_pid(self.run_dir / "master.pid")
        return pid if alive(pid, str(self.conf)) else None

    def _relay_pid(self) -> int | None:
        return relayproc.running_pid(self.dir)

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
        authserv_id: str | None = None,
    ) -> MailStack:
        """Start (or, if already running, just update users of) the stack; a
        different ``authserv_id`` (see :class:`MailStack`) restarts the SMTP front."""
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
        wanted = authserv_id if authserv_id is not None else self._want_authserv_id
        if had_state and self.running():
            self._state["users"] = all_users
            self._write_users(mail_identity())
            if wanted is not None and wanted != self.authserv_id:
                self._state["authserv_id"] = wanted
                self.restart_smtp()
            self._save_state()
            return self
        if had_state:
            self._stop_processes()  # half-running or stale: start clean
        ensure_installed(log)
        pw = mail_identity()
        self._state["users"] = all_users
        self._state["authserv_id"] = DEFAULT_AUTHSERV_ID if wanted is None else wanted
        self._prepare_dirs(pw)
        dovecot.make_certs(self.dir)
        self._write_users(pw)
        self._state.setdefault("ports", {})
        self._state["oauth"] = self.oauth
        if self.oauth:
            self._start_oauth()
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
        elif traversable(self.dir, pw):
            spool, temp = self.dir, False
        else:
            sweep_stale_spools()
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

    def _write_users(self, pw: pwd.struct_passwd) -> None:
        users = self.users
        write_if_changed(self._p("users"), "".join(f"{u}\n" for u in users))
        mail = self.spool / "mail"
        lines = [
            f"{u}:{{PLAIN}}{self.password}:{pw.pw_uid}:{pw.pw_gid}::{mail}/{u}::\n" for u in users
        ]
        write_if_changed(self.spool / "passwd", "".join(lines), mode=0o644)

    def _start_oauth(self) -> None:
        self._oauth_proc = oauthproc.spawn(self.dir, user=self.address("aduan"))
        try:
            info = oauthproc.wait_ready(self.dir, self._oauth_proc)
        except BaseException:
            oauthproc.stop(self.dir, self._oauth_proc)
            raise
        self._state["ports"].update(oauth_http=info["http_port"], oauth_https=info["https_port"])
        write_if_changed(self._p("dovecot-oauth2.conf.ext"), dovecot.oauth2_text(self.introspection_url))

    def _start_dovecot(self, pw: pwd.struct_passwd, new_ports: bool) -> None:
        attempts = 5 if new_ports else 20
        for attempt in range(attempts):
            if new_ports:
                imap, imaps = free_ports([HOST, HOST])
                plain = free_port(PLAIN_IMAP_HOST)
                self._state["ports"].update(imap=imap, imaps=imaps, imap_plain=plain)
            write_if_changed(self.conf, dovecot.config_text(instance=self.instance, dir=self.dir, spool=self.spool,
                                                         run=self.run_dir, domain=self.domain,
                                                         ports=self._state["ports"], pw=pw,
                                                         oauth2=bool(self._state.get("oauth"))))
            code, msg = dovecot.launch(self.conf, self.dir)
            if code == 0:
                self._wait_dovecot()
                return
            if "in use" in msg and attempt + 1 < attempts:
                time.sleep(0 if new_ports else 0.25)
                continue
            raise MailStackError(f"dovecot -c {self.conf} failed (exit {code}):\n{msg[-3000:]}")

    def _wait_dovecot(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        ports = self._state["ports"]
        while time.monotonic() < deadline:
            if (
                self._dovecot_pid()
                and os.path.exists(self.lmtp_socket)
                and imap_greets(HOST, ports["imap"])
            ):
                return
            time.sleep(0.01)
        raise MailStackError(f"dovecot did not come up within {timeout}s; see {self.dir}/dovecot.log")

    def _spawn_relay(self, port: int, starttls_port: int) -> None:
        self._relay_proc = relayproc.spawn(self.dir, lmtp_socket=self.lmtp_socket, domain=self.domain,
                                           password=self.password, port=port, starttls_port=starttls_port,
                                           authserv_id=self.authserv_id,
                                           introspect=self.introspection_url if self._state.get("oauth") else "")

    def _wait_relay(self) -> None:
        ports = self._state["ports"]
        ports["smtp"], ports["smtp_starttls"] = relayproc.wait_ready(self.dir, self._relay_proc)

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
        proc, self._oauth_proc = self._oauth_proc, None
        oauthproc.stop(self.dir, proc)
        if self._state.get("run_dir"):
            self._stop_dovecot()

    def _stop_dovecot(self) -> None:
        dovecot.stop(self.instance, self.conf, self.run_dir)

    def _stop_relay(self) -> None:
        proc, self._relay_proc = self._relay_proc, None
        relayproc.stop(self.dir, proc)

    def restart_imap(self) -> None:
        """Restart Dovecot (IMAP and LMTP) on the same ports, keeping the mail.

        Open IMAP sessions are cut; SMTP deliveries during the gap get 451.
        """
        self._require_state()
        self._stop_dovecot()
        self._start_dovecot(mail_identity(), new_ports=False)

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

    def _require_state(self) -> None:
        if not self._state and not self._load_state():
            raise MailStackError(f"no mail stack in {self.dir}")


if __name__ == "__main__":
    from devstack.cli import main

    sys.exit(main())
