"""The development mail stack: real local mail servers for tests, demo and benchmarks.

Not part of mailflow and not in its wheel; used from the checkout (the
scripts set ``PYTHONPATH`` to it).  ``MailStack`` (Dovecot IMAP/LMTP + an
aiosmtpd SMTP front) lives in :mod:`devstack.mailstack`, the SMTP front in
:mod:`devstack.smtprelay` (its LMTP client in :mod:`devstack.lmtp`, the
Authentication-Results it stamps in :mod:`devstack.authres`), the
mailflow.toml writer for a desk on the stack in :mod:`devstack.config`.
"""
