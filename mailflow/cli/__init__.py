"""The ``mailflow`` command line (Typer).

Every command takes ``--config PATH`` (default ``./mailflow.toml``, or the
``MAILFLOW_CONFIG`` environment variable). Errors a user can fix are printed
as one line naming the fix, with exit code 2 (with or without ``--json``,
which every command that prints a result takes); NIK/KK are masked unless
``--reveal`` is given. What is said to a person is in English or Bahasa
Indonesia (``messages``: ``MAILFLOW_LANG``, ``[office] cli_language``). The commands live in the modules of this package, by
what they are for; importing it registers them all on ``app``.
"""

from __future__ import annotations

# In the order --help lists them.
from mailflow.cli import (  # noqa: F401  (registers the commands)
    auth,  # OAuth2 mailboxes (issue #13)
    backup,
    daemon,
    listing,
    mail,
    merge,
    offices,
    privacy,
    report,
    resend,
    setup,
    status,
    workers,
)
from mailflow.cli.base import CliContext, app, main

__all__ = ["CliContext", "app", "main"]
