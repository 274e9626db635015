"""The layering rule, as the import contracts in pyproject.toml state it
(``[tool.importlinter]``): each layer imports only those below it, the core is
pure, and storage and the IO edges import no desk. CI runs ``lint-imports``
too; this makes ``./scripts/test`` keep it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import REPO


def test_the_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--config", str(REPO / "pyproject.toml")], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
