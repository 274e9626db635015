"""Where the shipped templates, rules and starter config live.

In a source checkout they are the top-level ``templates/``, ``rules/`` and
``mailflow.toml``; in an installed wheel they are copied to
``mailflow/_shipped/`` (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # mailflow/


def shipped(name: str) -> Path:
    """Return the shipped ``templates``, ``rules`` or ``mailflow.toml`` path."""
    inside = _PACKAGE / "_shipped" / name
    if inside.exists():
        return inside
    return _PACKAGE.parent / name


# Files mailflow writes hold personal data (the database: NIK numbers) or
# secrets; only the account that runs mailflow may read them (docs/SECURITY.md).
PRIVATE_MODE = 0o600


def create_private(path: Path) -> None:
    """Create ``path`` empty and owner-only if it does not exist (an existing file is left as it is)."""
    import os

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, owner-only (a file there already is made owner-only too)."""
    import os

    create_private(path)
    os.chmod(path, PRIVATE_MODE)
    path.write_bytes(data)


def readable_by_others(path: Path) -> bool:
    """Whether users other than the owner may read ``path`` (group or world bits)."""
    try:
        return bool(path.stat().st_mode & 0o044)
    except OSError:
        return False
