"""The layering rule: mailflow/core is pure, so it imports none of the other
layers and none of the IO libraries (docs: ../shared/STYLE.md)."""

from __future__ import annotations

import ast

import pytest

from support import REPO

FORBIDDEN = ("mailflow.config", "mailflow.store", "mailflow.edges", "mailflow.desk", "mailflow.runner",
             "mailflow.cli", "mailflow.report", "sqlalchemy", "imapclient", "aiosmtplib")


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("path", sorted((REPO / "mailflow" / "core").glob("*.py")), ids=lambda p: p.name)
def test_core_imports_no_other_layer(path):
    bad = [name for name in _imports(path) if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)]
    assert not bad, f"{path.name} imports {bad}"
