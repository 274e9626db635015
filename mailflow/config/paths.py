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
