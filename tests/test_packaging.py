"""The wheel an office installs holds mailflow and what `mailflow init` copies
out of it, and nothing of the development checkout: no mail stack
(devstack/), no tests, benchmarks or scripts.

Builds the real wheel from this checkout with pip and the hatchling backend
(both in the venv: hatchling comes with the test extra), offline.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOT_SHIPPED = ("devstack/", "mailflow/testing/", "tests/", "benchmarks/", "scripts/")
IMPORTS_DEVSTACK = re.compile(rb"^\s*(?:from|import)\s+devstack\b", re.M)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Iterator[zipfile.ZipFile]:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "--wheel-dir", str(out), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"pip wheel failed (is hatchling in the venv? ./scripts/bootstrap):\n{proc.stderr}"
    [built] = out.glob("mailflow-*.whl")
    with zipfile.ZipFile(built) as zf:
        yield zf


def checkout_files(top: str) -> set[str]:
    root = REPO / top
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_the_wheel_holds_no_development_stack(wheel):
    names = wheel.namelist()
    assert not [n for n in names if n.startswith(NOT_SHIPPED)]
    tops = {n.split("/", 1)[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"mailflow"}
    importing = [n for n in names if n.endswith(".py") and IMPORTS_DEVSTACK.search(wheel.read(n))]
    assert importing == [], "shipped code must not import the development stack"


def test_the_wheel_holds_the_package_and_what_init_copies(wheel):
    names = set(wheel.namelist())
    assert {f"mailflow/{f}" for f in checkout_files("mailflow")} <= names
    assert {f"mailflow/_shipped/templates/{f}" for f in checkout_files("templates")} <= names
    assert {f"mailflow/_shipped/rules/{f}" for f in checkout_files("rules")} <= names
    assert any(n.startswith("mailflow/_shipped/templates/citizen/") for n in names)
    assert any(n.startswith("mailflow/_shipped/rules/") and n.endswith(".toml") for n in names)
    assert wheel.read("mailflow/_shipped/mailflow.toml") == (REPO / "mailflow.toml").read_bytes()
