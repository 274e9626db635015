"""Wiring: build the parts of mailflow from validated settings (no globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from mailflow.config.paths import shipped
from mailflow.config.rules import load_rules
from mailflow.config.settings import Secret, Settings
from mailflow.core.render import PageRenderer, Renderer
from mailflow.core.sop import Rules
from mailflow.desk.deadlines import Deadlines
from mailflow.desk.digests import Digests
from mailflow.desk.intake import Intake
from mailflow.desk.letters import Letters
from mailflow.desk.privacy import Retention
from mailflow.edges.outbox import Outbox
from mailflow.report.monthly import MonthlyReport
from mailflow.runner.daemon import Daemon
from mailflow.store import db, sealing
from mailflow.store.models import utcnow


@dataclass
class App:
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    rules: Rules
    renderer: Renderer
    letters: Letters
    intake: Intake
    outbox: Outbox
    deadlines: Deadlines
    monthly_report: MonthlyReport
    retention: Retention | None = None  # privacy (issue 14): the retention pass of the rules' [privacy]
    owns_engine: bool = True  # False when the app is one office of a Fleet (which disposes the engine)

    def daemon(self, **kwargs) -> Daemon:
        digests = Digests(self.letters, self.factory, clock=self.intake.clock)
        return Daemon(self.settings, self.factory, self.intake, self.outbox, deadlines=self.deadlines,
                      monthly_report=self.monthly_report, digests=digests, retention=self.retention,
                      clock=self.intake.clock, **kwargs)

    def close(self) -> None:
        self.outbox.close()
        if self.owns_engine:
            self.engine.dispose()


def template_dirs(settings: Settings) -> list:
    dirs = []
    if settings.office.templates is not None:
        dirs.append(settings.office.templates)
    dirs.append(shipped("templates"))
    return dirs


@dataclass(frozen=True)
class Shared:
    """What the offices of one process share: the engine, its sessions, and
    the turns at writing (SQLite has one writer)."""

    engine: Engine
    factory: sessionmaker[Session]
    gate: db.WriteGate

    @classmethod
    def open(cls, url: str, check_schema: bool = True, key: Secret | None = None, **engine_options) -> Shared:
        """``key``: the database key sealing personal data (``[database] key_env/key_file``)."""
        engine = db.make_engine(url, **engine_options)
        if key is not None:
            sealing.attach(engine, sealing.Cipher.from_text(key.reveal() or ""))
        if check_schema:
            db.check_schema(engine)
        return cls(engine, db.session_factory(engine), db.WriteGate(engine))


def build(settings: Settings, *, clock: Callable[[], datetime] = utcnow, check_schema: bool = True,
          shared: Shared | None = None) -> App:
    """Every part of one office's desk, on its own engine or the ``shared`` one."""
    owns = shared is None
    shared = shared or Shared.open(settings.database_url, check_schema, key=settings.database_key)
    engine, factory, gate = shared.engine, shared.factory, shared.gate
    rules = load_rules(settings.office.rules, default_timezone=settings.office.timezone)
    renderer = Renderer(template_dirs(settings))
    letters = Letters(settings, rules, renderer)
    intake = Intake(settings, letters, clock=clock)
    outbox = Outbox(settings, factory, clock=clock, write_gate=gate)  # the intake and the sender take turns
    deadlines = Deadlines(letters, factory, clock=clock)
    monthly_report = MonthlyReport(letters, factory, PageRenderer(template_dirs(settings)), clock=clock)
    retention = Retention(rules, settings.office.key, factory, clock=clock, write_gate=gate)
    return App(settings, engine, factory, rules, renderer, letters, intake, outbox, deadlines, monthly_report,
               retention=retention, owns_engine=owns)
