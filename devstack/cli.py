"""The mail stack's command line: ``scripts/mailstack COMMAND``.

Run as ``python -m devstack.mailstack`` (what ``scripts/mailstack`` does,
with ``PYTHONPATH`` set to the checkout); :data:`USAGE` is its help.
"""

from __future__ import annotations

import argparse
import os
import sys

from devstack.mailstack import MailStack, MailStackError, default_dir

USAGE = """\
usage: scripts/mailstack COMMAND [--dir DIR] [--users-file F] [--authserv-id ID] [--oauth]

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
  --authserv-id ID the SMTP front stamps every accepted mail with
                   "Authentication-Results: ID; spf=R ...; dkim=R ...; dmarc=R ..."
                   (R: pass when sent logged in as its From:, else fail for
                   @dukcapil.test and none for other domains), removing ones
                   with ID it came with. Default mx.dukcapil.test, "" for no
                   stamping; on a running stack, restarts the SMTP front
                   when changed (start only)
  --oauth          also run the OAuth2 server (devstack/oauthserver.py) and
                   let Dovecot and the SMTP front take XOAUTH2 tokens it
                   issued, checked by introspection (start only; passwords
                   keep working). Steer it with a JSON POST to
                   $MAILSTACK_OAUTH_INTROSPECTION_URL's /control
                   ({"lifetime": 5}, {"expire": true}, {"revoke": true})

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
  MAILSTACK_AUTHSERV_ID         the id stamped in Authentication-Results ("": none)
  MAILSTACK_OAUTH_URL           (--oauth) the OAuth2 server, HTTPS (MAILSTACK_CA_FILE):
                                /<tenant>/v2.0/.well-known/openid-configuration, .../token ...
  MAILSTACK_OAUTH_INTROSPECTION_URL  (--oauth) RFC 7662 introspection, plain HTTP

files in DIR: dovecot.conf dovecot.log smtprelay.log env state.json ca.pem
server.pem users (and spool/ -> the mail when DIR is not reachable by vmail).
Inspect with: doveadm -c DIR/dovecot.conf mailbox list -u aduan
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="mailstack", usage=USAGE, add_help=False)
    p.add_argument("command", nargs="?")
    p.add_argument("--dir")
    p.add_argument("--users-file")
    p.add_argument("--authserv-id")
    p.add_argument("--oauth", action="store_true")
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
    stack = MailStack(d, oauth=args.oauth)
    try:
        if args.command == "start":
            stack.start(users_file=args.users_file, authserv_id=args.authserv_id)
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
