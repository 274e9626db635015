"""OAuth2 mailboxes: ``auth login``, ``auth status``, ``auth logout``
(docs/MAILBOXES.md). No command prints a token."""

from __future__ import annotations

import json
import os
import webbrowser
from datetime import UTC, datetime
from typing import Annotated

import typer

from mailflow.cli.base import ConfigOpt, JsonOpt, OfficeOpt, app, chosen, deployment_from, settings_from
from mailflow.config.settings import Settings
from mailflow.errors import ConfigError
from mailflow.store import db
from mailflow.store import tokens as store

auth_app = typer.Typer(help="OAuth2 mailboxes (Microsoft 365, Google): sign in, see and remove the stored token.",
                       no_args_is_help=True)
app.add_typer(auth_app, name="auth")


def _oauth_settings(settings: Settings) -> Settings:
    if settings.oauth2 is None or not settings.uses_oauth2:
        raise ConfigError(f"{settings.path}: office {settings.office.key!r} logs in with a password: set "
                          "imap.auth = \"oauth2\" and an [oauth2] table first (docs/MAILBOXES.md)")
    return settings


def _key(settings: Settings, tell=typer.echo) -> str:
    """The token key; a missing oauth2.key_file is created (owner-only) with a new key."""
    cfg = settings.oauth2
    assert cfg is not None
    if not cfg.key and cfg.key_file is not None and not cfg.key_file.exists():
        key = store.new_key()
        fd = os.open(cfg.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key + "\n")
        tell(f"wrote a new token key to {cfg.key_file} (owner-only; back it up with the database)")
        return key
    return cfg.key.reveal() or ""


def _factory(settings: Settings):
    engine = db.make_engine(settings.database_url)
    db.check_schema(engine)
    return engine, db.session_factory(engine)


@auth_app.command("login")
def login(
    flow: Annotated[str | None, typer.Option(
        help="device (Microsoft 365), client_credentials (Microsoft 365, app-only) or loopback (Google, "
             "or any provider with an authorization endpoint); default: oauth2.flow.")] = None,
    port: Annotated[int, typer.Option(help="loopback: the local port the browser is sent back to (0: any free one).")]
    = 0,
    browser: Annotated[bool, typer.Option(help="loopback: open the sign-in page in this machine's browser.")] = True,
    timeout: Annotated[float, typer.Option(help="loopback: seconds to wait for the sign-in.")] = 300,
    office: Annotated[str | None, typer.Option(help="The office (its key); default: the only or first one.")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Sign in as the office's mailbox and store its OAuth2 token, encrypted.

    Run it once per mailbox, as the admin, and again whenever `mailflow status`
    or an alert says the token could not be renewed."""
    from mailflow.edges import oauth_login

    settings = _oauth_settings(settings_from(config, office))
    cfg = settings.oauth2
    assert cfg is not None
    chosen_flow = flow or cfg.flow
    if chosen_flow not in ("device", "client_credentials", "loopback"):
        raise ConfigError(f"--flow: expected device, client_credentials or loopback, got {chosen_flow!r}")
    if chosen_flow in ("device", "client_credentials") and cfg.provider != "microsoft":
        raise ConfigError(f"--flow {chosen_flow}: only for provider \"microsoft\"; use --flow loopback")
    if chosen_flow == "client_credentials":
        cfg.client_secret.check()
        if not cfg.client_secret:
            raise ConfigError(f"{settings.path}: client credentials need oauth2.client_secret_env or "
                              "oauth2.client_secret_file")
    # With --json, stdout is the JSON result alone: what the admin must read goes to stderr.
    def tell(text: str) -> None:
        typer.echo(text, err=json_out)

    cipher = store.TokenCipher(_key(settings, tell))
    engine, factory = _factory(settings)
    try:
        account = settings.imap.username or ""
        if chosen_flow == "device":
            tokens = oauth_login.device_flow(cfg, tell)
        elif chosen_flow == "client_credentials":
            tokens = oauth_login.client_credentials(cfg)
        else:
            def show(url: str) -> None:
                tell(f"Sign in as {account} at this address (it sends the browser back to this machine):")
                tell(url)
                if browser:
                    webbrowser.open(url)
            tokens = oauth_login.loopback(cfg, show, port=port, timeout=timeout, login_hint=account)
        with factory.begin() as session:
            store.save(session, cipher, settings.office.key, account, cfg.provider, tokens, datetime.now(UTC))
    finally:
        engine.dispose()
    expires = datetime.fromtimestamp(tokens.expires_at, UTC).isoformat(timespec="seconds")
    refresh = "with a refresh token" if tokens.refresh_token else "renewed with the client secret"
    if json_out:
        typer.echo(json.dumps({"office": settings.office.key, "account": account, "provider": cfg.provider,
                               "flow": chosen_flow, "expires_at": expires, "refresh_token": bool(tokens.refresh_token),
                               "scopes": tokens.scope}, indent=2))
        return
    typer.echo(f"stored the OAuth2 token of {account} (office {settings.office.key}, {chosen_flow}, {refresh}); "
               f"the access token expires at {expires}, mailflow renews it")


@auth_app.command("status")
def status(office: OfficeOpt = None, json_out: JsonOpt = False, config: ConfigOpt = None) -> None:
    """The stored OAuth2 token of each OAuth2 mailbox: present, expiry, scopes (never the token).
    Exit code 1 if a mailbox has none or it cannot be decrypted."""
    deployment = deployment_from(config)
    rows = []
    for settings in chosen(deployment, office):
        if settings.oauth2 is None or not settings.uses_oauth2:
            continue
        cfg = settings.oauth2
        account = (settings.imap.username or "").lower()
        row = {"office": settings.office.key, "account": account, "provider": cfg.provider, "flow": cfg.flow,
               "stored": False, "expires_at": None, "expired": None, "renewable": None, "scopes": "",
               "updated_at": None, "problem": None}
        engine, factory = _factory(settings)
        try:
            with factory() as session:
                found = store.read(session, settings.office.key, account)
                if found is None:
                    row["problem"] = "no token stored: run `mailflow auth login`"
                else:
                    row.update(stored=True, expires_at=found.expires_at.isoformat(timespec="seconds"),
                               expired=found.expires_at <= datetime.now(UTC), scopes=found.scopes,
                               updated_at=found.updated_at.isoformat(timespec="seconds"))
                    try:
                        tokens = store.TokenCipher(cfg.key.reveal() or "").open(found.secret)
                        row["renewable"] = bool(tokens.refresh_token) or tokens.flow == "client_credentials"
                    except ConfigError as exc:
                        row["problem"] = str(exc)
        finally:
            engine.dispose()
        rows.append(row)
    if json_out:
        typer.echo(json.dumps({"mailboxes": rows}, indent=2))
    elif not rows:
        typer.echo("no office logs in with OAuth2 (imap.auth = \"oauth2\")")
    for row in rows if not json_out else []:
        if row["stored"]:
            state = "EXPIRED (renewed at the next login)" if row["expired"] else "valid"
            typer.echo(f"{row['office']}: {row['account']} ({row['provider']}, {row['flow']}): access token "
                       f"{state} until {row['expires_at']}; renewable: {'yes' if row['renewable'] else 'no'}; "
                       f"scopes: {row['scopes'] or '-'}; stored {row['updated_at']}")
        if row["problem"]:
            typer.echo(f"{row['office']}: {row['account']}: {row['problem']}")
    if any(row["problem"] for row in rows):
        raise typer.Exit(1)


@auth_app.command("logout")
def logout(
    office: Annotated[str | None, typer.Option(help="The office (its key); default: the only or first one.")] = None,
    json_out: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Delete the office's stored OAuth2 token (revoke the app's access at the
    provider too: Microsoft Entra / Google account settings)."""
    settings = _oauth_settings(settings_from(config, office))
    account = settings.imap.username or ""
    engine, factory = _factory(settings)
    try:
        with factory.begin() as session:
            gone = store.forget(session, settings.office.key, account)
    finally:
        engine.dispose()
    if json_out:
        typer.echo(json.dumps({"office": settings.office.key, "account": account, "removed": gone}))
        return
    typer.echo(f"removed the OAuth2 token of {account}" if gone else f"no OAuth2 token of {account} was stored")
