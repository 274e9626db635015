"""Test helpers that ship with mailflow: the local real mail stack.

``MailStack`` (Dovecot IMAP/LMTP + an aiosmtpd SMTP front) lives in
:mod:`devstack.mailstack`; it is imported lazily so that importing this
package costs nothing and needs no test-only dependency.
"""

from __future__ import annotations

__all__ = ["MailStack", "MailStackError"]


def __getattr__(name: str):
    if name in __all__:
        from devstack import mailstack

        return getattr(mailstack, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
