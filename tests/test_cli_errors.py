"""What a user sees when a file or the database cannot be used: one line
"mailflow: error: ..." naming the file or the URL (never its password) and the
fix, exit code 2, no traceback. Exception types decide it, in one place
(``mailflow.cli.base.main``, ``mailflow.store.db.describe_error``).

Permission cases run as a subprocess without root's power to override file
modes (``setpriv`` drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH when the
tests run as root), since a process cannot give that up for a while and get
it back; the others run in-process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailflow.store import db
from support import REPO, TEST_ENV, mailflow_at, write_config

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def unprivileged() -> list[str]:
    """The prefix that runs a command without overriding file modes."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file modes cannot be tested")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def mailflow_sub(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, **TEST_ENV, "PYTHONPATH": str(REPO)}
    env.pop("MAILFLOW_CONFIG", None)
    return subprocess.run([*unprivileged(), sys.executable, "-m", "mailflow", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def sqlite_office(tmp_path: Path) -> Path:
    database = tmp_path / "data" / "m.db"
    database.parent.mkdir()
    path = write_config(tmp_path, db_url=f"sqlite:///{database}")
    engine = db.make_engine(f"sqlite:///{database}")
    db.upgrade(engine)
    engine.dispose()
    return path


def unreadable_config(tmp_path: Path):
    path = sqlite_office(tmp_path)
    path.chmod(0)
    return mailflow_sub("queue", "--config", str(path)), [str(path), "cannot read", "chmod 600"]


def unreachable_postgresql(tmp_path: Path):
    path = write_config(tmp_path, db_url="postgresql+psycopg://mailflow:sekret@127.0.0.1:1/mailflow")
    return (mailflow_at(lambda: NOW, "queue", "--config", str(path)),
            ["postgresql+psycopg://mailflow:***@127.0.0.1:1/mailflow", "Connection refused", "database.url"])


def corrupt_sqlite(tmp_path: Path):
    path = sqlite_office(tmp_path)
    database = tmp_path / "data" / "m.db"
    for extra in (Path(f"{database}-wal"), Path(f"{database}-shm")):
        extra.unlink(missing_ok=True)
    database.write_bytes(b"this is no database, it is garbage \x00\xff" * 500)
    return mailflow_at(lambda: NOW, "queue", "--config", str(path)), [str(database), "not a usable SQLite database",
                                                                      "backup"]


def read_only_directory(command: str) -> Callable[[Path], tuple]:
    def case(tmp_path: Path):
        path = sqlite_office(tmp_path)
        (tmp_path / "data").chmod(0o555)
        try:
            return (mailflow_sub(command, "--config", str(path), timeout=30),
                    [str(tmp_path / "data" / "m.db"), "cannot be written", f"directory {tmp_path / 'data'}"])
        finally:
            (tmp_path / "data").chmod(0o755)
    return case


def init_unwritable(tmp_path: Path):
    target = tmp_path / "closed"
    target.mkdir(mode=0o555)
    try:
        return mailflow_sub("init", str(target)), [str(target / "mailflow.toml"), "Permission denied", "access"]
    finally:
        target.chmod(0o755)


CASES = {
    "unreadable config file": unreadable_config,
    "PostgreSQL on a closed port": unreachable_postgresql,
    "corrupt SQLite file": corrupt_sqlite,
    "read-only database directory (queue)": read_only_directory("queue"),
    "read-only database directory (run)": read_only_directory("run"),
    "init into a directory it cannot write": init_unwritable,
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_an_unusable_file_or_database_is_one_line_naming_it_and_the_fix(tmp_path, case):
    r, words = CASES[case](tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mailflow: error: "), r.stderr
    assert "Traceback" not in r.stderr and "sekret" not in r.stderr
    for word in words:
        assert word in lines[0], lines[0]


# ------------------------------------------------------------------ config check fails, not only warns
def test_config_check_fails_on_a_missing_secret(tmp_path):
    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}", password_env="MAILFLOW_TEST_UNSET_PW")
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    db.upgrade(engine)
    engine.dispose()
    r = mailflow_at(lambda: NOW, "config", "check", "--config", str(path))
    assert r.returncode == 1 and "FAILED" in r.stdout and "MAILFLOW_TEST_UNSET_PW" in r.stdout


def test_config_check_fails_on_a_schema_not_at_head_and_says_so_in_json(tmp_path):
    import json

    path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}")
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    db.upgrade(engine, "0009")
    engine.dispose()
    r = mailflow_at(lambda: NOW, "config", "check", "--json", "--config", str(path))
    report = json.loads(r.stdout)
    assert r.returncode == 1 and not report["ok"]
    (database,) = [c for c in report["checks"] if c["check"] == "database"]
    assert not database["ok"] and "mailflow db upgrade" in database["detail"]
    status = json.loads(mailflow_at(lambda: NOW, "db", "status", "--json", "--config", str(path)).stdout)
    assert (status["schema"], status["up_to_date"]) == ("0009", False)
