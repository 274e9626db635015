"""A complete mailflow.toml for a desk on the local mail stack.

One writer for the tests (``tests/support.py``, ``tests/conftest.py``), the
benchmarks (``benchmarks/harness.py``) and the demo (``scripts/demo.py``):
the Bantul office, ``aduan@dukcapil.test`` as the complaint address, IMAP and
SMTP on the stack's loopback ports.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from pathlib import Path

from devstack.mailstack import DOMAIN

REPO = Path(__file__).resolve().parents[1]  # the checkout: rules/ is beside devstack/


def _toml_str(value: object) -> str:
    # A JSON string is a valid TOML basic string (same escapes).
    return json.dumps(str(value), ensure_ascii=False)


def write_config(directory: Path, *, db_url: str, imap_port: int = 143, smtp_port: int = 25,
                 imap_security: str = "none", smtp_security: str = "none", ca_file: str | None = None,
                 rules: str = "bantul-email.toml", extra: str = "", host: str = "127.0.0.1",
                 imap_host: str | None = None, imap_extra: str = "", poll_interval: float = 1,
                 password_env: str = "TEST_IMAP_PASSWORD", batch_size: int | None = None,
                 timeout: float | None = 10, log_level: str | None = None, smtp_extra: str = "") -> Path:
    """Write ``directory/mailflow.toml`` for the local mail stack; return its path.

    ``rules`` is a file of the checkout's ``rules/`` (or an absolute path);
    the IMAP password is read from the environment variable ``password_env``.
    ``batch_size``, ``timeout`` (both sections) and ``log_level`` (a
    ``[logging]`` table) are written only when not None. ``imap_extra`` lines
    go inside ``[imap]``, ``smtp_extra`` ones inside ``[smtp]``; ``extra``
    (whole tables) is appended at the end.
    """
    ca = f"ca_file = {_toml_str(ca_file)}\n" if ca_file else ""
    timeout_line = f"timeout = {timeout}\n" if timeout is not None else ""
    batch = f"batch_size = {batch_size}\n" if batch_size is not None else ""
    imap_lines = "".join(line.strip() + "\n" for line in imap_extra.splitlines())
    logging = f'\n[logging]\nlevel = "{log_level}"\n' if log_level else ""
    text = (
        "[office]\n"
        'name = "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Bantul"\n'
        'timezone = "Asia/Jakarta"\n'
        f"rules = {_toml_str(REPO / 'rules' / rules)}\n"
        f'complaint_address = "aduan@{DOMAIN}"\n'
        f'alert_address = "admin@{DOMAIN}"\n'
        "\n[imap]\n"
        f"host = {_toml_str(imap_host or host)}\n"
        f"port = {imap_port}\n"
        f'security = "{imap_security}"\n'
        f"{ca}"
        'username = "aduan"\n'
        f"password_env = {_toml_str(password_env)}\n"
        f"poll_interval = {poll_interval}\n"
        f"{batch}{timeout_line}{imap_lines}"
        "\n[smtp]\n"
        f"host = {_toml_str(host)}\n"
        f"port = {smtp_port}\n"
        f'security = "{smtp_security}"\n'
        f"{ca}{timeout_line}"
        + "".join(line.strip() + "\n" for line in smtp_extra.splitlines())
        + "\n[database]\n"
        f"url = {_toml_str(db_url)}\n"
        f"{logging}"
    )
    path = Path(directory) / "mailflow.toml"
    path.write_text(text + textwrap.dedent(extra), encoding="utf-8")
    return path


def write_office(folder: Path, key: str, *, username: str, imap_port: int = 143, smtp_port: int = 25,
                 rules: str = "bantul-email.toml", register_pattern: str | None = None, host: str = "127.0.0.1",
                 name: str | None = None, password_env: str = "TEST_IMAP_PASSWORD", poll_interval: float = 1,
                 imap_extra: str = "", extra: str = "") -> Path:
    """Write ``folder/<key>.toml``: one more office of a deployment (its mailbox
    ``username`` on the local mail stack, which is also its complaint address's
    local part). ``imap_extra`` lines go inside ``[imap]`` (e.g.
    ``sent_folder = "Sent"``); ``extra`` (whole tables, e.g. ``[limits]``) is
    appended."""
    imap_lines = "".join(line.strip() + "\n" for line in imap_extra.splitlines())
    pattern = f"register_pattern = {_toml_str(register_pattern)}\n" if register_pattern else ""
    text = (
        "[office]\n"
        f"name = {_toml_str(name or f'Dinas Kependudukan dan Pencatatan Sipil {key.title()}')}\n"
        f"rules = {_toml_str(REPO / 'rules' / rules)}\n"
        f'complaint_address = "{username}@{DOMAIN}"\n'
        f'alert_address = "admin@{DOMAIN}"\n'
        f"{pattern}"
        "\n[imap]\n"
        f"host = {_toml_str(host)}\nport = {imap_port}\nsecurity = \"none\"\n"
        f"username = {_toml_str(username)}\npassword_env = {_toml_str(password_env)}\n"
        f"poll_interval = {poll_interval}\ntimeout = 10\n{imap_lines}"
        "\n[smtp]\n"
        f"host = {_toml_str(host)}\nport = {smtp_port}\nsecurity = \"none\"\ntimeout = 10\n"
    )
    Path(folder).mkdir(parents=True, exist_ok=True)
    path = Path(folder) / f"{key}.toml"
    path.write_text(text + textwrap.dedent(extra), encoding="utf-8")
    return path


def write_deployment(where: Path, *, url: str, offices: Mapping[str, str], imap_port: int, smtp_port: int,
                     limits: str = "", imap_extra: str = "", poll_interval: float = 1,
                     log_level: str = "WARNING") -> Path:
    """A deployment of several offices on the local mail stack: ``where/mailflow.toml``
    holding what they share (the database ``url``, the ``limits`` lines of its
    [limits] table, logging) and ``where/offices/<key>.toml`` for each of
    ``offices`` (key -> its mailbox user), each with its own register pattern
    (``K00/{year}/{seq:05d}`` for k00). Returns mailflow.toml's path."""
    where.mkdir(parents=True, exist_ok=True)
    config = where / "mailflow.toml"
    limits_table = f"[limits]\n{textwrap.dedent(limits).strip()}\n\n" if limits.strip() else ""
    config.write_text(f'[deployment]\noffices = "offices"\n\n[database]\nurl = {_toml_str(url)}\n\n'
                      f'{limits_table}[logging]\nlevel = "{log_level}"\n', encoding="utf-8")
    for i, (key, user) in enumerate(offices.items()):
        write_office(where / "offices", key, username=user, imap_port=imap_port, smtp_port=smtp_port,
                     register_pattern=f"{key.upper()}/{{year}}/{{seq:05d}}", name=f"Disdukcapil Uji {i}",
                     poll_interval=poll_interval, imap_extra=imap_extra)
    return config


def migrated_settings(path: Path, env: Mapping[str, str]):
    """Load ``path`` with ``env`` and bring its database to the newest schema.

    Returns mailflow's ``Settings``; creates or upgrades the database.
    """
    from mailflow.config.settings import load_settings
    from mailflow.store import db

    settings = load_settings(path, env=env)
    engine = db.make_engine(settings.database_url)
    try:
        db.upgrade(engine)
    finally:
        engine.dispose()
    return settings
