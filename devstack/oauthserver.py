"""A real, small OAuth2 authorization server on loopback, for tests and the devstack.

Run as ``python -m devstack.oauthserver`` (started by :mod:`devstack.mailstack`
when the stack is started with ``oauth=True``). It listens twice on
127.0.0.1: plain HTTP (``http_port``: what Dovecot and the SMTP front call to
introspect tokens) and HTTPS with the stack's certificate (``https_port``:
what msal insists on, and what mailflow talks to in tests). Both serve the
same endpoints; the path prefix is free, only the last part counts, so
``/<tenant>/oauth2/v2.0/token`` (Microsoft's shape) and ``/token`` both work:

- ``.../.well-known/openid-configuration``: discovery (msal reads it);
- ``.../devicecode``: RFC 8628 device authorization; the user code is
  approved at once when ``auto_approve`` is on (the default), else only by
  ``POST .../control {"approve": "<user code>"}``;
- ``.../authorize`` (or ``.../auth``, Google's name): the authorization-code endpoint; auto-approves and
  redirects to the ``redirect_uri`` (a loopback URL) with ``code`` and
  ``state``; PKCE (S256) is checked at the token endpoint;
- ``.../token``: grants ``authorization_code``, ``refresh_token`` (refresh
  tokens rotate: the old one stops working), ``device_code`` and
  ``client_credentials`` (the client secret is checked);
- ``.../introspect``: RFC 7662, ``token=...`` form POST -> ``{"active": ...,
  "username": ..., "scope": ..., "exp": ...}``;
- ``.../control``: JSON POST steering the server: ``{"lifetime": seconds}``
  for new access tokens, ``{"expire": true}`` ends every access token now,
  ``{"revoke": true}`` revokes every refresh token (and access token),
  ``{"auto_approve": false}``, ``{"token_status": 503}`` (the token
  endpoint fails so until ``0``); answers the counters (``issued``,
  ``refreshed``, ``introspected``, ...).

Users approve as ``--user`` (default ``aduan@dukcapil.test``); tokens of
client credentials stand for the same mailbox (as Exchange's service
principal with access to that one mailbox). Nothing is stored on disk.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import signal
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class Grant:
    user: str
    client_id: str
    scope: str


@dataclass
class State:
    user: str
    client_secret: str
    lifetime: float
    auto_approve: bool = True
    token_status: int = 0  # not 0: the token endpoint answers this HTTP status (a provider's outage)
    access: dict[str, tuple[Grant, float]] = field(default_factory=dict)  # token -> (grant, expires at)
    refresh: dict[str, Grant] = field(default_factory=dict)
    devices: dict[str, dict] = field(default_factory=dict)  # device_code -> {user_code, grant, approved}
    codes: dict[str, dict] = field(default_factory=dict)  # authorization code -> {grant, challenge, redirect_uri}
    counts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def issue(self, grant: Grant, with_refresh: bool = True) -> dict:
        token = "at-" + secrets.token_urlsafe(24)
        self.access[token] = (grant, time.time() + self.lifetime)
        self.count("issued")
        out = {"access_token": token, "token_type": "Bearer", "expires_in": int(self.lifetime) or 1,
               "ext_expires_in": int(self.lifetime) or 1, "scope": grant.scope}
        if with_refresh:
            refresh = "rt-" + secrets.token_urlsafe(24)
            self.refresh[refresh] = grant
            out["refresh_token"] = refresh
        return out


class Handler(BaseHTTPRequestHandler):
    server_version = "mailstack-oauth/1"
    state: State  # set on the class by serve()
    issuer: str

    def log_message(self, format: str, *args) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")

    # ------------------------------------------------------------ plumbing
    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, error: str, description: str, status: int = 400) -> None:
        self._send(status, {"error": error, "error_description": description})

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        if self.headers.get("Content-Type", "").startswith("application/json"):
            return {k: v for k, v in json.loads(raw or "{}").items()}
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):  # client_secret_basic
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            form.setdefault("client_id", cid)
            form.setdefault("client_secret", secret)
        return form

    def _endpoint(self) -> str:
        return urlsplit(self.path).path.rstrip("/").rpartition("/")[2]

    # ------------------------------------------------------------ GET
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path.endswith("/.well-known/openid-configuration"):
            base = self.issuer + url.path[: -len("/.well-known/openid-configuration")]
            base = base.removesuffix("/v2.0")
            self._send(200, {
                "issuer": base,
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "introspection_endpoint": f"{base}/oauth2/v2.0/introspect",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_GRANT,
                                          "client_credentials"],
                "code_challenge_methods_supported": ["S256"],
            })
        elif self._endpoint() in ("authorize", "auth"):  # Microsoft's and Google's names
            self._authorize({k: v[0] for k, v in parse_qs(url.query).items()})
        else:
            self._error("not_found", self.path, 404)

    def _authorize(self, q: dict[str, str]) -> None:
        redirect = q.get("redirect_uri", "")
        host = urlsplit(redirect).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            self._error("invalid_request", "redirect_uri must be a loopback URL")
            return
        if q.get("response_type") != "code" or not q.get("code_challenge") or q.get(
                "code_challenge_method") != "S256":
            self._error("invalid_request", "response_type=code with an S256 code_challenge is required")
            return
        st = self.state
        with st.lock:
            code = "ac-" + secrets.token_urlsafe(16)
            st.codes[code] = {"grant": Grant(st.user, q.get("client_id", ""), q.get("scope", "")),
                              "challenge": q["code_challenge"], "redirect_uri": redirect}
            st.count("authorized")
        query = urlencode({"code": code, **({"state": q["state"]} if "state" in q else {})})
        self.send_response(302)
        self.send_header("Location", f"{redirect}{'&' if '?' in redirect else '?'}{query}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    # ------------------------------------------------------------ POST
    def do_POST(self) -> None:
        try:
            form = self._form()
        except (ValueError, UnicodeDecodeError):
            self._error("invalid_request", "unreadable body")
            return
        endpoint = self._endpoint()
        with self.state.lock:
            if endpoint == "token":
                self._token(form)
            elif endpoint == "devicecode":
                self._devicecode(form)
            elif endpoint == "introspect":
                self._introspect(form)
            elif endpoint == "control":
                self._control(form)
            else:
                self._error("not_found", self.path, 404)

    def _devicecode(self, form: dict[str, str]) -> None:
        st = self.state
        device = "dc-" + secrets.token_urlsafe(16)
        user_code = secrets.token_hex(4).upper()
        st.devices[device] = {"user_code": user_code, "approved": st.auto_approve,
                              "grant": Grant(st.user, form.get("client_id", ""), form.get("scope", ""))}
        st.count("device_codes")
        uri = f"{self.issuer}/device"
        self._send(200, {"device_code": device, "user_code": user_code, "verification_uri": uri,
                         "expires_in": 300, "interval": 1,
                         "message": f"To sign in, open {uri} and enter the code {user_code}."})

    def _token(self, form: dict[str, str]) -> None:
        st = self.state
        if st.token_status:
            self._error("temporarily_unavailable", "the token service is down (control: token_status)",
                        st.token_status)
            return
        grant_type = form.get("grant_type", "")
        if grant_type == "refresh_token":
            grant = st.refresh.pop(form.get("refresh_token", ""), None)  # rotated: used once
            if grant is None:
                st.count("refresh_refused")
                self._error("invalid_grant", "The refresh token is invalid, expired or revoked.")
                return
            st.count("refreshed")
            self._send(200, st.issue(grant))
        elif grant_type == "authorization_code":
            entry = st.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if entry is None or entry["challenge"] != challenge or entry["redirect_uri"] != form.get("redirect_uri"):
                self._error("invalid_grant", "bad code, code_verifier or redirect_uri")
                return
            self._send(200, st.issue(entry["grant"]))
        elif grant_type == DEVICE_GRANT:
            entry = st.devices.get(form.get("device_code", ""))
            if entry is None:
                self._error("expired_token", "unknown device code")
            elif not entry["approved"]:
                self._error("authorization_pending", "the user has not approved yet")
            else:
                del st.devices[form["device_code"]]
                self._send(200, st.issue(entry["grant"]))
        elif grant_type == "client_credentials":
            if form.get("client_secret") != st.client_secret:
                self._error("invalid_client", "bad client secret", 401)
                return
            self._send(200, st.issue(Grant(st.user, form.get("client_id", ""), form.get("scope", "")),
                                     with_refresh=False))
        else:
            self._error("unsupported_grant_type", grant_type)

    def _introspect(self, form: dict[str, str]) -> None:
        st = self.state
        st.count("introspected")
        found = st.access.get(form.get("token", ""))
        if found is None or found[1] <= time.time():
            self._send(200, {"active": False})
            return
        grant, expires = found
        self._send(200, {"active": True, "username": grant.user, "scope": grant.scope, "exp": int(expires),
                         "client_id": grant.client_id, "token_type": "Bearer"})

    def _control(self, form: dict) -> None:
        st = self.state
        if "lifetime" in form:
            st.lifetime = float(form["lifetime"])
        if "token_status" in form:
            st.token_status = int(form["token_status"])
        if "auto_approve" in form:
            st.auto_approve = bool(form["auto_approve"])
        if form.get("approve"):
            for entry in st.devices.values():
                if entry["user_code"] == form["approve"]:
                    entry["approved"] = True
        if form.get("expire"):
            st.access = {t: (g, 0.0) for t, (g, _) in st.access.items()}
        if form.get("revoke"):
            st.refresh.clear()
            st.access.clear()
        self._send(200, {"lifetime": st.lifetime, "auto_approve": st.auto_approve, **st.counts})


def serve(args: argparse.Namespace) -> None:
    state = State(user=args.user, client_secret=args.client_secret, lifetime=args.lifetime)
    servers = []
    http = ThreadingHTTPServer((args.host, args.http_port), type("H", (Handler,), {"state": state}))
    servers.append(http)
    ports = {"http_port": http.server_address[1]}
    https_port = 0
    if args.cert:
        tls = ThreadingHTTPServer((args.host, args.https_port), Handler)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        https_port = tls.server_address[1]
        servers.append(tls)
        ports["https_port"] = https_port
    # The issuer (what discovery documents name) is the HTTPS side when there is one.
    issuer = f"https://{args.host}:{https_port}" if https_port else f"http://{args.host}:{ports['http_port']}"
    for srv in servers:
        srv.RequestHandlerClass = type("H", (Handler,), {"state": state, "issuer": issuer})
        srv.daemon_threads = True
    threads = [threading.Thread(target=srv.serve_forever, daemon=True) for srv in servers]
    for t in threads:
        t.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.ready_file:
        tmp = f"{args.ready_file}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"pid": os.getpid(), **ports}) + "\n")
        os.replace(tmp, args.ready_file)
    stop.wait()
    for srv in servers:
        srv.shutdown()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m devstack.oauthserver", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--http-port", type=int, default=0)
    p.add_argument("--https-port", type=int, default=0)
    p.add_argument("--cert", help="PEM certificate chain for the HTTPS listener (none: HTTP only)")
    p.add_argument("--key", help="PEM private key for the HTTPS listener")
    p.add_argument("--user", default="aduan@dukcapil.test", help="who approves device codes and authorizations")
    p.add_argument("--client-secret", default="test-client-secret", help="the secret of client credentials")
    p.add_argument("--lifetime", type=float, default=3600, help="seconds an access token lives")
    p.add_argument("--ready-file", help="JSON {pid, http_port, https_port} written once listening")
    serve(p.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
