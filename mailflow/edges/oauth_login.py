"""Getting an OAuth2 mailbox's first token set: the flows ``mailflow auth
login`` runs (docs/MAILBOXES.md).

- ``device`` (Microsoft 365, with ``msal``): the admin opens the
  verification page on any device, enters the code shown, signs in as the
  mailbox; nothing needs to reach this machine.
- ``client_credentials`` (Microsoft 365, app-only, with ``msal``): the app's
  own secret; Exchange must grant the app's service principal access to the
  mailbox. The XOAUTH2 user is then the mailbox address.
- ``loopback`` (Google's installed-app flow, or any provider with an
  authorization endpoint): authorization code with PKCE (RFC 7636); the
  browser is sent back to ``http://127.0.0.1:<port>/`` where this command
  listens for the one redirect (RFC 8252), so no public redirect URI is needed.

Each returns a :class:`~mailflow.core.oauth.TokenSet`; none prints a token.
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer

from mailflow.config.settings import OAuth2Config
from mailflow.core.oauth import MICROSOFT_AUTHORITY, TokenSet, pkce_pair
from mailflow.edges.oauth import TokenEndpointError, token_request
from mailflow.errors import MailflowError

# Scopes msal adds itself and refuses to be given.
_MSAL_RESERVED = {"openid", "profile", "offline_access"}


class LoginFailed(MailflowError):
    """The provider refused or the admin did not finish the sign-in."""


def _msal_options(cfg: OAuth2Config) -> dict:
    options: dict = {"authority": cfg.authority, "timeout": cfg.timeout}
    if cfg.ca_file:
        options["http_client"] = _session(str(cfg.ca_file), cfg.timeout)
    if not cfg.authority.startswith(MICROSOFT_AUTHORITY + "/"):
        # A sovereign cloud or a test server: no instance discovery at Microsoft's.
        options.update(validate_authority=False, instance_discovery=False)
    return options


def _session(ca_file: str, timeout: float):
    """A requests session trusting ``ca_file`` (oauth2.ca_file) for msal.
    Not msal's ``verify=``: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
    in the environment override a session's CA file."""
    import functools

    import requests

    class Session(requests.Session):
        def merge_environment_settings(self, url, proxies, stream, verify, cert):
            merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
            merged["verify"] = ca_file
            return merged

    session = Session()
    session.verify = ca_file
    session.request = functools.partial(session.request, timeout=timeout)  # type: ignore[method-assign]
    return session


def _result(result: dict, flow: str, started: float) -> TokenSet:
    if "access_token" not in result:
        # error_description may be long (Microsoft adds trace ids): its first line says it.
        description = next(iter(str(result.get("error_description") or "").splitlines()), "")
        raise LoginFailed(f"the sign-in failed: {result.get('error', 'no token')}: {description}")
    return TokenSet.from_response(result, started, flow)


def device_flow(cfg: OAuth2Config, show: Callable[[str], None]) -> TokenSet:
    import msal

    app = msal.PublicClientApplication(cfg.client_id, **_msal_options(cfg))
    scopes = [s for s in cfg.scopes if s not in _MSAL_RESERVED]
    flow = app.initiate_device_flow(scopes=scopes)
    if "user_code" not in flow:
        raise LoginFailed(f"the device sign-in could not start: {flow.get('error')}: "
                          f"{flow.get('error_description', '')}")
    show(flow["message"])
    started = time.time()
    return _result(app.acquire_token_by_device_flow(flow), "device", started)


def client_credentials(cfg: OAuth2Config) -> TokenSet:
    import msal

    app = msal.ConfidentialClientApplication(cfg.client_id, client_credential=cfg.client_secret.reveal(),
                                             **_msal_options(cfg))
    started = time.time()
    return _result(app.acquire_token_for_client(scopes=list(cfg.scopes)), "client_credentials", started)


def loopback(cfg: OAuth2Config, show: Callable[[str], None], port: int = 0, timeout: float = 300,
             login_hint: str = "") -> TokenSet:
    """The authorization-code flow with PKCE and a loopback redirect. ``show``
    is given the URL to open in a browser."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    got: dict[str, str] = {}
    done = threading.Event()

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            if "code" not in query and "error" not in query:
                self.send_response(404)
                self.end_headers()
                return
            got.update(query)
            done.set()
            ok = "code" in query and query.get("state") == state
            body = ("mailflow: sign-in complete, you may close this page." if ok
                    else "mailflow: sign-in failed; see the terminal.").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # the code is in the URL: log nothing
            pass

    try:
        server = HTTPServer(("127.0.0.1", port), Redirect)
    except OSError as exc:
        raise LoginFailed(f"cannot listen on 127.0.0.1:{port} for the redirect ({exc.strerror}); "
                          "pass another --port") from None
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
    params = {"response_type": "code", "client_id": cfg.client_id, "redirect_uri": redirect_uri,
              "scope": " ".join(cfg.scopes), "state": state, "code_challenge": challenge,
              "code_challenge_method": "S256",
              # Google: a refresh token only with offline access, and again only when consent is asked.
              "access_type": "offline", "prompt": "consent"}
    if login_hint:
        params["login_hint"] = login_hint
    url = f"{cfg.auth_url}?{urllib.parse.urlencode(params)}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        show(url)
        if not done.wait(timeout):
            raise LoginFailed(f"no sign-in came back to {redirect_uri} within {int(timeout)} s")
    finally:
        server.shutdown()
        server.server_close()
    if got.get("state") != state:
        raise LoginFailed("the redirect carried a wrong state (another sign-in answered?); try again")
    if "error" in got:
        raise LoginFailed(f"the sign-in was refused: {got['error']}: {got.get('error_description', '')}")
    form = {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": redirect_uri,
            "client_id": cfg.client_id, "code_verifier": verifier}
    secret = cfg.client_secret.reveal() if cfg.client_secret else None
    if secret:
        form["client_secret"] = secret  # Google's Desktop-app clients have one (not confidential)
    started = time.time()
    try:
        answer = token_request(cfg, form)
    except TokenEndpointError as exc:
        raise LoginFailed(f"the token endpoint refused the code: {exc}") from None
    return TokenSet.from_response(answer, started, "loopback")
