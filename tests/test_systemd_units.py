"""The systemd units in contrib/systemd/ (docs/DEPLOY.md) are valid: checked
with systemd's own `systemd-analyze verify` (with ExecStart pointed at this
checkout's mailflow, which must exist for the check), and they run the
commands the docs say."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO

UNITS = REPO / "contrib" / "systemd"
INSTALLED = "/opt/mailflow/bin/mailflow"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_the_units_pass_systemd_analyze_verify(tmp_path):
    mailflow = Path(sys.executable).with_name("mailflow")
    assert mailflow.exists()
    names = []
    for unit in UNITS.glob("*.service"):
        text = unit.read_text()
        assert INSTALLED in text
        name = unit.name.replace("@.service", "@1.service")  # an instance of the template
        (tmp_path / name).write_text(text.replace(INSTALLED, str(mailflow)))
        names.append(name)
    assert sorted(names) == ["mailflow-worker@1.service", "mailflow.service"]
    res = subprocess.run(["systemd-analyze", "verify", "--man=no", *names], cwd=tmp_path, capture_output=True,
                         text=True, env={"SYSTEMD_LOG_LEVEL": "warning", "PATH": "/usr/bin:/bin"})
    problems = [line for line in (res.stdout + res.stderr).splitlines() if line.strip()]
    assert res.returncode == 0 and problems == [], problems


def test_the_units_run_the_commands_the_docs_name():
    worker = (UNITS / "mailflow-worker@.service").read_text()
    daemon = (UNITS / "mailflow.service").read_text()
    assert f"ExecStart={INSTALLED} worker " in worker and f"ExecStart={INSTALLED} run " in daemon
    for text in (worker, daemon):
        assert "KillSignal=SIGTERM" in text and "UMask=0077" in text and "User=mailflow" in text
    deploy = (REPO / "docs" / "DEPLOY.md").read_text()
    assert "mailflow-worker@.service" in deploy and "mailflow.service" in deploy
