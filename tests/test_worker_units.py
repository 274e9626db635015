"""The parts of mailflow/runner/worker.py that need no server: how the
database URL is handed to procrastinate, and the job set-up (names, queues,
locks, priorities) the fleet's guarantees rest on."""

from __future__ import annotations

import pytest

from mailflow.errors import ConfigError
from mailflow.runner import worker


@pytest.mark.parametrize(("url", "conninfo"), [
    ("postgresql+psycopg://mailflow@db.example/mailflow", "postgresql://mailflow@db.example/mailflow"),
    ("postgresql+psycopg://u:p%40ss@127.0.0.1:5432/test", "postgresql://u:p%40ss@127.0.0.1:5432/test"),
    ("postgresql://postgres@127.0.0.1/test?options=-csearch_path%3Dw_1",
     "postgresql://postgres@127.0.0.1/test?options=-csearch_path%3Dw_1"),
])
def test_a_postgresql_url_becomes_a_libpq_connection_string(url, conninfo):
    assert worker.procrastinate_conninfo(url) == conninfo


@pytest.mark.parametrize("url", ["sqlite:///mailflow.db", "sqlite:////var/lib/mailflow/m.db", "mysql://x@h/db"])
def test_workers_refuse_anything_but_postgresql_naming_the_alternative(url):
    with pytest.raises(ConfigError, match="needs PostgreSQL.*use `mailflow run`"):
        worker.procrastinate_conninfo(url)


def test_the_tick_outranks_watching_which_outranks_timers_and_sending():
    assert worker.TICK_PRIORITY > worker.WATCH_PRIORITY > worker.TIMERS_PRIORITY > worker.DRAIN_PRIORITY
    # a dead worker is noticed well within the 40 s the fleet promises
    assert worker.HEARTBEAT * 3 <= worker.STALLED_AFTER and worker.STALLED_AFTER + 2 * worker.TICK <= 40
