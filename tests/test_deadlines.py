"""Deadlines (mutu baku waktu) end to end on the real mail servers, with the
whole desk (intake, outbox, deadlines) running on an injected, movable clock:
reminders, breach actions once per visit, one summary after an outage, and
the clock stopped while the citizen is asked (#info). Plus the three mail
templates, and the deadline queries reading their indexes."""

from __future__ import annotations

import email
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace as NS
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from mailflow.core.render import Renderer, TemplateError
from mailflow.desk.deadlines import DeadlineResult, Deadlines
from mailflow.store import db
from mailflow.store.models import Complaint, Hop, StepVisit
from mailflow.store.queries import due_visits
from support import REPO, VALID_BODY, Clock, complaint_mail, reply
from support import received as mails

SHIPPED = REPO / "templates"
WIB = ZoneInfo("Asia/Jakarta")
MONDAY = datetime(2026, 11, 23, tzinfo=WIB)  # a Monday without a holiday; Bantul's default hours


def at(hour: int, minute: int = 0, day: int = 0) -> datetime:
    """Monday 23 November 2026 (plus ``day`` days) at hour:minute WIB."""
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


@pytest.fixture
def clock() -> Clock:
    return Clock(at(9))


def rules_with(tmp_path: Path, on_breach: str) -> str:
    """The Bantul rules with ``[deadlines] on_breach`` set (a copy; the shipped file is untouched)."""
    folder = tmp_path / f"rules-{on_breach}"
    folder.mkdir()
    (folder / "complaint-format.toml").write_text((REPO / "rules" / "complaint-format.toml").read_text("utf-8"), "utf-8")
    text = (REPO / "rules" / "bantul-email.toml").read_text("utf-8")
    assert text.count("[deadlines]\n") == 1 and "on_breach" not in text
    path = folder / "bantul-email.toml"
    path.write_text(text.replace("[deadlines]\n", f'[deadlines]\non_breach = "{on_breach}"\n'), "utf-8")
    return str(path)


def desk_at(make_desk, clock: Clock, tmp_path: Path, on_breach: str | None = None, **kw):
    """(stack, app, daemon, deadlines) on the injected clock; Bantul rules (default on_breach notify-next)."""
    if on_breach is not None:
        kw["rules"] = rules_with(tmp_path, on_breach)
    stack, app, daemon = make_desk(clock=clock, **kw)
    return stack, app, daemon, Deadlines(app.letters, app.factory, clock=clock)


# ------------------------------------------------------------------ helpers (as in test_ladder_e2e)
def parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def body(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def kinds(stack, user: str) -> list[str]:
    return [str(m["X-Mailflow-Kind"]) for m in mails(stack, user)]


def register(stack, daemon, sender: str = "warga1") -> str:
    stack.send(complaint_mail(VALID_BODY, sender=f"{sender}@dukcapil.test"), sender, ["aduan@dukcapil.test"])
    result = daemon.run_once()
    assert [o.action for o in result.outcomes] == ["registered"]
    return result.outcomes[0].complaint_number


def step(daemon, action: str = "attached") -> None:
    result = daemon.run_once()
    assert [o.action for o in result.outcomes] == [action], [(o.action, o.reason) for o in result.outcomes]


def run(deadlines: Deadlines, app) -> DeadlineResult:
    """One deadline pass, then one outbox drain (as the daemon's pass will do)."""
    result = deadlines.run_once()
    app.outbox.run_once()
    return result


def complaint(app, number: str | None = None) -> Complaint:
    with app.factory() as s:
        if number is not None:
            return s.scalar(select(Complaint).where(Complaint.number == number))
        return s.scalars(select(Complaint).order_by(Complaint.id)).all()[-1]


def visits(app, number: str) -> list[StepVisit]:
    with app.factory() as s:
        c = s.scalar(select(Complaint).where(Complaint.number == number))
        return list(s.scalars(select(StepVisit).where(StepVisit.complaint_id == c.id).order_by(StepVisit.id)))


def hops(app, kind: str | None = None) -> list[Hop]:
    with app.factory() as s:
        stmt = select(Hop).order_by(Hop.id)
        return list(s.scalars(stmt.where(Hop.kind == kind) if kind else stmt))


# ------------------------------------------------------------------ reminder, then breach (notify-next)
@pytest.mark.integration
def test_reminder_at_80_percent_then_breach_notice_to_the_next_rung_once_each(make_desk, clock, tmp_path):
    stack, app, daemon, deadlines = desk_at(make_desk, clock, tmp_path)
    number = register(stack, daemon)  # Monday 09:00 WIB: verifikasi-admin, 30 working minutes
    [visit] = visits(app, number)
    assert (visit.step, visit.role) == ("verifikasi-admin", "admin")
    assert (visit.remind_at, visit.due_at) == (at(9, 24), at(9, 30))  # 80% of 30 minutes

    clock.now = at(9, 20)
    assert not run(deadlines, app)
    assert mails(stack, "admin", "staff/reminder") == []

    clock.now = at(9, 24)
    result = run(deadlines, app)
    assert (result.reminded, result.breached, result.mails) == (1, 0, 1)
    [reminder] = mails(stack, "admin", "staff/reminder")
    text = body(reminder)
    assert reminder["Subject"].strip() == f"[{number}] Pengingat batas waktu: Verifikasi aduan oleh Admin Email"
    assert "Senin, 23 November 2026 09.30 WIB" in text  # the due time, in office time
    assert "30 menit (jam kerja)" in text and "sisa 6 menit" in text
    fwd = mails(stack, "admin", "staff/forward")[0]
    assert str(reminder["Reply-To"]) == str(fwd["Reply-To"]) and str(fwd["Reply-To"]) in text
    assert "#teruskan" in text and "#jawab" in text and "#info" in text
    assert reminder["X-Mailflow-Complaint"] == number

    assert not run(deadlines, app)  # once per visit
    clock.now = at(9, 29)
    assert not run(deadlines, app)
    assert len(mails(stack, "admin", "staff/reminder")) == 1

    clock.now = at(9, 31)
    result = run(deadlines, app)
    assert (result.reminded, result.breached, result.escalated, result.mails) == (0, 1, 0, 1)
    [notice] = mails(stack, "kasi-identitas", "staff/breach-notice")  # the section's Kasi: the next rung
    assert notice["Subject"].strip() == (f"[{number}] Melewati batas waktu: Verifikasi aduan oleh Admin Email (Admin Email)")
    text = body(notice)
    assert "Senin, 23 November 2026 09.30 WIB" in text and "1 menit (jam kerja)" in text
    assert "admin@dukcapil.test" in text and "Hanya Admin Email yang dapat menindaklanjuti" in text
    assert mails(stack, "admin", "staff/breach-notice") == []  # notify-next: the holder is not mailed
    c = complaint(app)
    assert (c.status, c.step, c.holder_role) == ("registered", "verifikasi-admin", "admin")  # nothing moved

    clock.now = at(10, 30)
    assert not run(deadlines, app)
    clock.now = at(9, 0, day=1)
    assert not run(deadlines, app)
    assert len(mails(stack, "kasi-identitas", "staff/breach-notice")) == 1
    assert kinds(stack, "admin") == ["staff/forward", "staff/reminder"]

    [visit] = visits(app, number)
    assert visit.ended_at is None and (visit.reminded_at, visit.breached_at) == (at(9, 24), at(9, 31))
    [reminded], [overdue] = hops(app, "reminded"), hops(app, "overdue")
    assert reminded.message_id == reminder["Message-ID"].strip("<>")
    assert overdue.message_id == notice["Message-ID"].strip("<>")
    assert "notify-next" in overdue.reason and reminded.actor == overdue.actor == "mailflow"

    # the Admin acts late: the visit closes outside the standard, the Kasi's clock starts
    clock.now = at(10, 0, day=1)
    reply(stack, "admin", fwd, "#teruskan Mohon diverifikasi.")
    step(daemon)
    old, new = visits(app, number)
    assert old.within_standard is False and (new.role, new.started_at) == ("kasi-identitas", at(10, 0, day=1))


# ------------------------------------------------------------------ escalate
@pytest.mark.integration
def test_escalate_moves_the_complaint_to_the_next_rung_who_can_act_on_it(make_desk, clock, tmp_path):
    stack, app, daemon, deadlines = desk_at(make_desk, clock, tmp_path, on_breach="escalate")
    number = register(stack, daemon)

    clock.now = at(9, 24)
    assert run(deadlines, app).reminded == 1
    clock.now = at(9, 45)
    result = run(deadlines, app)
    assert (result.reminded, result.breached, result.escalated, result.mails) == (0, 1, 1, 1)
    c = complaint(app)
    assert (c.status, c.step, c.holder_role) == ("in_progress", "verifikasi-kasi", "kasi-identitas")
    assert c.due_at == at(10, 15)
    [handover] = mails(stack, "kasi-identitas")
    assert handover["X-Mailflow-Kind"] == "staff/handover"
    assert handover["Subject"].strip() == f"[{number}] Diteruskan kepada Anda: Verifikasi aduan oleh Kepala Seksi"
    text = body(handover)
    assert "mailflow (otomatis)" in text and "Batas waktu tahap" in text and "diteruskan otomatis" in text
    assert "Senin, 23 November 2026 09.30 WIB" in text and "#kembalikan" in text
    assert kinds(stack, "admin") == ["staff/forward", "staff/reminder"]  # no breach mail to the Admin

    old, new = visits(app, number)
    assert (old.ended_at, old.within_standard, old.breached_at) == (at(9, 45), False, at(9, 45))
    assert (new.step, new.role, new.started_at, new.due_at, new.breached_at) == (
        "verifikasi-kasi", "kasi-identitas", at(9, 45), at(10, 15), None)
    assert [h.kind for h in hops(app) if h.kind != "sent"][-2:] == ["overdue", "forwarded"]
    forwarded = hops(app, "forwarded")[-1]
    assert (forwarded.from_state, forwarded.to_state, forwarded.actor) == ("verifikasi-admin", "verifikasi-kasi", "mailflow")

    assert not run(deadlines, app)
    assert len(mails(stack, "kasi-identitas")) == 1

    # the escalation is a real ladder move: the Kasi answers on it; the Admin sends
    clock.now = at(10, 0)
    reply(stack, "kasi-identitas", handover, "#jawab KTP-el Ibu sudah dicetak dan dapat diambil.")
    step(daemon)
    c = complaint(app)
    assert (c.status, c.step, c.holder_role, c.approved) == ("in_progress", "jawab-pemohon", "admin", True)


@pytest.mark.integration
def test_escalate_with_no_next_rung_tells_the_holder(make_desk, clock, tmp_path):
    stack, app, daemon, deadlines = desk_at(make_desk, clock, tmp_path, on_breach="escalate")
    number = register(stack, daemon)
    reply(stack, "admin", mails(stack, "admin")[0], "#jawab Sudah dicetak.")  # awaits the Kasi's approval
    step(daemon)
    assert complaint(app).status == "awaiting_approval"
    clock.now = at(11)
    result = run(deadlines, app)
    assert (result.breached, result.escalated) == (1, 0)
    [notice] = mails(stack, "kasi-identitas", "staff/breach-notice")
    assert "Mohon segera ditindaklanjuti" in body(notice) and "#setuju" in body(notice)
    assert complaint(app, number).status == "awaiting_approval"


# ------------------------------------------------------------------ no storm after an outage
@pytest.mark.integration
@pytest.mark.parametrize(("on_breach", "told"), [
    ("notify-holder", "admin"),
    ("notify-next", "kasi-identitas"),
    ("escalate", "kasi-identitas"),
])
def test_after_an_outage_one_summary_per_recipient(make_desk, clock, tmp_path, on_breach, told):
    stack, app, daemon, deadlines = desk_at(make_desk, clock, tmp_path, on_breach=on_breach)
    numbers = [register(stack, daemon, f"warga{i}") for i in (1, 2, 3)]
    before = {user: kinds(stack, user) for user in ("admin", "kasi-identitas", "kabid")}

    clock.now = at(9, day=3)  # Thursday 09:00: three working days later, nothing ran meanwhile
    result = run(deadlines, app)
    assert (result.reminded, result.breached, result.mails) == (0, 3, 1)
    assert result.escalated == (3 if on_breach == "escalate" else 0)
    new = {user: kinds(stack, user)[len(seen):] for user, seen in before.items()}
    assert new[told] == ["staff/deadline-summary"]
    assert all(not got for user, got in new.items() if user != told)
    [summary] = mails(stack, told, "staff/deadline-summary")
    text = body(summary)
    assert summary["Subject"].strip().startswith("Ringkasan batas waktu: 3 aduan")
    assert summary["X-Mailflow-Complaint"] is None and summary["Reply-To"] is None
    for number in numbers:
        assert text.count(f"{number} - KTP-el - ") == 1
    assert text.count("Senin, 23 November 2026 09.30 WIB") == 3
    assert text.count("Terlambat      : 25 jam (jam kerja)") == 3  # Mon 09:30-16:00, Tue, Wed, Thu 07:30-09:00
    for number in numbers:
        [first, *rest] = visits(app, number)
        assert first.reminded_at == first.breached_at == at(9, day=3)  # both marked: no stale reminder
        assert len(rest) == (1 if on_breach == "escalate" else 0)
    assert len(hops(app, "overdue")) == 3 and hops(app, "reminded") == []
    assert {h.message_id for h in hops(app, "overdue")} == {summary["Message-ID"].strip("<>")}

    assert not run(deadlines, app)
    assert len(mails(stack, told, "staff/deadline-summary")) == 1


@pytest.mark.integration
def test_reminders_due_together_come_as_one_summary(make_desk, clock, tmp_path):
    stack, app, daemon, deadlines = desk_at(make_desk, clock, tmp_path)
    numbers = [register(stack, daemon, f"warga{i}") for i in (1, 2)]
    clock.now = at(9, 5)
    third = register(stack, daemon, "warga3")
    clock.now = at(9, 26)  # the two first are at 87%, the third at 70%
    result = run(deadlines, app)
    assert (result.reminded, result.mails) == (2, 1)
    [summary] = mails(stack, "admin", "staff/deadline-summary")
    text = body(summary)
    assert all(n in text for n in numbers) and third not in text
    assert text.count("Mendekati batas waktu") == 2 and text.count("#teruskan") >= 2
    clock.now = at(9, 29)  # only the third now: a single ordinary reminder
    assert run(deadlines, app).reminded == 1
    [reminder] = mails(stack, "admin", "staff/reminder")
    assert reminder["X-Mailflow-Complaint"] == third


@pytest.mark.integration
def test_a_full_batch_leaves_the_rest_for_the_next_pass(make_desk, clock, tmp_path):
    stack, app, daemon, _ = desk_at(make_desk, clock, tmp_path)
    for i in (1, 2, 3):
        register(stack, daemon, f"warga{i}")
    deadlines = Deadlines(app.letters, app.factory, clock=clock, batch_size=2)
    clock.now = at(13)
    first = run(deadlines, app)
    assert (first.breached, first.more) == (2, True)
    second = run(deadlines, app)
    assert (second.breached, second.more) == (1, False)
    assert not run(deadlines, app)
    assert len(hops(app, "overdue")) == 3


@pytest.mark.integration
def test_a_broken_template_rolls_the_pass_back_and_marks_nothing(make_desk, clock, tmp_path):
    stack, app, daemon, deadlines = desk_at(make_desk, clock, tmp_path)
    number = register(stack, daemon)
    broken = tmp_path / "office-templates"
    (broken / "staff").mkdir(parents=True)
    (broken / "staff" / "reminder.txt.j2").write_text("{% set subject %}{{ complaint.nomor }}{% endset %}\n", "utf-8")
    deadlines.letters.renderer = Renderer([broken, SHIPPED])  # an office override with a typo
    clock.now = at(9, 25)
    result = run(deadlines, app)
    assert result.error and "staff/reminder" in result.error and "nomor" in result.error
    assert (result.reminded, result.mails) == (0, 0)
    assert visits(app, number)[0].reminded_at is None and hops(app, "reminded") == []
    deadlines.letters.renderer = Renderer([SHIPPED])  # fixed: the next pass does it
    assert run(deadlines, app).reminded == 1
    assert len(mails(stack, "admin", "staff/reminder")) == 1


# ------------------------------------------------------------------ the daemon's own pass
@pytest.mark.integration
def test_the_daemon_pass_does_the_deadlines_and_sends_their_mail(make_desk, clock, tmp_path):
    stack, app, daemon, _ = desk_at(make_desk, clock, tmp_path)
    number = register(stack, daemon)
    clock.now = at(9, 24)
    result = daemon.run_once()  # intake (nothing new), deadlines, outbox drain
    assert (result.outcomes, result.deadlines.reminded, result.drained.sent) == ([], 1, 1)
    assert "deadlines: 1 reminded" in result.summary()
    [reminder] = mails(stack, "admin", "staff/reminder")
    assert reminder["X-Mailflow-Complaint"] == number
    assert not daemon.run_once().deadlines
    assert len(mails(stack, "admin", "staff/reminder")) == 1


# ------------------------------------------------------------------ waiting for the citizen stops the clock
@pytest.mark.integration
def test_waiting_for_the_citizen_stops_the_clock(make_desk, clock, tmp_path):
    stack, app, daemon, deadlines = desk_at(make_desk, clock, tmp_path)
    number = register(stack, daemon)
    clock.now = at(9, 10)
    reply(stack, "admin", mails(stack, "admin")[0], "#info Mohon kirimkan foto bukti perekaman KTP-el.")
    step(daemon)
    c = complaint(app)
    assert (c.status, c.due_at) == ("waiting_citizen", None)

    for moment in (at(9, 24), at(9, 31), at(15), at(9, day=3)):
        clock.now = moment
        assert not run(deadlines, app)
    assert kinds(stack, "admin") == ["staff/forward"]
    assert kinds(stack, "kasi-identitas") == []
    visit, wait = visits(app, number)
    assert (visit.ended_at, visit.reminded_at, visit.breached_at) == (at(9, 10), None, None)
    # the wait is timed apart, as the citizen's (closing after silence: test_merge_e2e.py), not as the Admin's
    assert (wait.step, wait.role, wait.started_at, wait.ended_at) == ("menunggu-pelapor", "pemohon", at(9, 10), None)

    # the citizen answers on Thursday 10:00: the Admin's clock starts again from there
    clock.now = at(10, day=3)
    question = mails(stack, "warga1", "citizen/info-request")[0]
    reply(stack, "warga1", question, "Berikut fotonya, direkam 12 Agustus.")
    step(daemon)
    _, wait, again = visits(app, number)
    assert wait.ended_at == at(10, day=3) and wait.reminded_at is None
    assert (again.started_at, again.remind_at, again.due_at) == (at(10, day=3), at(10, 24, day=3), at(10, 30, day=3))
    clock.now = at(10, 20, day=3)
    assert not run(deadlines, app)
    clock.now = at(10, 24, day=3)
    assert run(deadlines, app).reminded == 1
    assert kinds(stack, "admin")[-1] == "staff/reminder"


# ------------------------------------------------------------------ the queries read their indexes
def test_the_deadline_queries_use_the_step_visit_indexes(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    db.upgrade(engine)
    now = at(9)
    expected = {"breach": "ix_step_visits_open_due", "reminder": "ix_step_visits_open_remind"}
    try:
        with engine.connect() as conn:
            for which, index in expected.items():
                compiled = due_visits(which, now, 100).compile(dialect=engine.dialect,
                                                               compile_kwargs={"render_postcompile": True})
                params = compiled.construct_params()
                values = ["2026-11-23 02:00:00.000000" if isinstance(params[k], datetime) else params[k]
                          for k in compiled.positiontup]
                plan = " | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled),
                                                                           tuple(values)))
                assert f"step_visits USING INDEX {index}" in plan, plan
                assert "SCAN complaints" not in plan and "SCAN step_visits" not in plan, plan
    finally:
        engine.dispose()


def test_on_postgresql_the_rows_are_locked_and_skipped_by_another_daemon():
    sql = str(due_visits("breach", at(9), 10, lock=True).compile(dialect=postgresql.dialect()))
    assert sql.rstrip().endswith("FOR UPDATE OF step_visits, complaints SKIP LOCKED")


# ------------------------------------------------------------------ the templates

T = at(9, 31)
REPLY = "aduan+adu-2026-000123.mfrggzdfmztwq2lk@dukcapil.test"
OFFICE = NS(name="Dinas Kependudukan dan Pencatatan Sipil Kabupaten Bantul", complaint_address="aduan@dukcapil.test",
            timezone="Asia/Jakarta", website="")
COMPLAINT = NS(number="ADU/2026/000123", name="Siti Aminah", email="warga1@dukcapil.test", nik="3402014501900001",
               kk="3402011203150004", phone="081234567890", address="Jl. Parangtritis Km 5, Sewon, Bantul",
               category_name="KTP-el", section="Seksi Identitas Penduduk",
               description="KTP-el saya sudah direkam bulan Agustus tetapi belum dicetak.", created_at=at(9))
STEP = NS(name="Verifikasi aduan oleh Admin Email", standard="30 menit", standard_minutes=30)
DAY_STEP = NS(name="Telaah Kepala Bidang", standard="1 hari kerja", standard_minutes=0)
HOLDER = NS(name="Admin Email", addresses="admin@dukcapil.test")
COMMANDS = [NS(word="#jawab", meaning="jawaban"), NS(word="#teruskan", meaning="teruskan"),
            NS(word="#catatan", meaning="catatan")]


def template_contexts() -> dict[str, dict]:
    common = dict(office=OFFICE, now=T, complaint=COMPLAINT, reply_address=REPLY)
    item = dict(number=COMPLAINT.number, complaint=COMPLAINT, step=STEP, holder=HOLDER, new_step=None,
                started_at=at(9), due_at=at(9, 30), late_minutes=0, remaining_minutes=0, reply_address=REPLY,
                commands=COMMANDS)
    return {
        "staff/reminder": dict(common, role=NS(name="Admin Email"), step=STEP, started_at=at(9),
                               due_at=at(9, 30), remaining_minutes=6, commands=COMMANDS),
        "staff/breach-notice": dict(common, role=NS(name="Kepala Seksi Identitas Penduduk"), step=STEP,
                                    holder=HOLDER, started_at=at(9), due_at=at(9, 30), late_minutes=1,
                                    to_holder=False, commands=[]),
        "staff/deadline-summary": dict(
            office=OFFICE, now=T, role=NS(name="Kepala Seksi Identitas Penduduk"),
            counts=NS(reminder=1, overdue=1, escalated=1),
            items=[NS(**dict(item, kind="escalated", late_minutes=1, new_step=STEP)),
                   NS(**dict(item, kind="overdue", late_minutes=95, commands=[])),
                   NS(**dict(item, kind="reminder", remaining_minutes=4, step=DAY_STEP))]),
    }


DEADLINE_TEMPLATES = sorted(template_contexts())


@pytest.fixture
def renderer() -> Renderer:
    return Renderer([SHIPPED])


@pytest.mark.parametrize("name", DEADLINE_TEMPLATES)
def test_deadline_templates_render_tidy(renderer, name):
    out = renderer.render(name, **template_contexts()[name])
    assert "\n" not in out.subject and "  " not in out.subject
    assert out.body.endswith("\n") and not out.body.endswith("\n\n") and "\n\n\n" not in out.body
    assert all(line == line.rstrip() or line == "-- " for line in out.body.splitlines())
    assert "None" not in out.body and COMPLAINT.number in out.body
    assert "Senin, 23 November 2026 09.30 WIB" in out.body  # the due time, with the localtime filter


@pytest.mark.parametrize(("name", "var"), [(n, v) for n in DEADLINE_TEMPLATES for v in template_contexts()[n]
                                          if v != "now"])
def test_a_missing_variable_is_an_error_naming_it(renderer, name, var):
    ctx = template_contexts()[name]
    del ctx[var]
    # A variable only given to a filter (localtime, duration) is named by the filter's complaint instead.
    with pytest.raises(TemplateError, match=rf"{name}.*('{var}'|got (Strict)?Undefined)"):
        renderer.render(name, **ctx)


def test_breach_notice_to_the_holder_explains_the_commands(renderer):
    ctx = dict(template_contexts()["staff/breach-notice"], role=NS(name="Admin Email"), to_holder=True,
               commands=COMMANDS)
    out = renderer.render("staff/breach-notice", **ctx)
    assert out.subject == "[ADU/2026/000123] Melewati batas waktu: Verifikasi aduan oleh Admin Email"
    assert "#teruskan" in out.body and REPLY in out.body and "Hanya" not in out.body


def test_summary_lists_each_complaint_with_its_state(renderer):
    out = renderer.render("staff/deadline-summary", **template_contexts()["staff/deadline-summary"])
    assert out.subject == ("Ringkasan batas waktu: 3 aduan (1 diteruskan kepada Anda, 1 melewati batas waktu, "
                           "1 mendekati batas waktu)")
    assert out.body.count("ADU/2026/000123 - KTP-el - Siti Aminah") == 3
    assert "DITERUSKAN OTOMATIS" in out.body and "MELEWATI BATAS WAKTU" in out.body
    assert "1 jam 35 menit (jam kerja)" in out.body and "4 menit (jam kerja)" in out.body
    assert "1 hari kerja" in out.body and "1 hari kerja (jam kerja)" not in out.body
    assert "hanya Admin Email yang dapat menindaklanjuti" in out.body


def test_late_by_less_than_a_working_minute_is_said_so(renderer):
    # e.g. due at the 16:00 closing, the pass ran at 16:05: no working minute has passed since
    ctx = dict(template_contexts()["staff/breach-notice"], late_minutes=0)
    out = renderer.render("staff/breach-notice", **ctx)
    assert "terlampaui kurang dari 1 menit (jam kerja)" in out.body and ": 0 menit" not in out.body
    assert "Terlambat      : kurang dari 1 menit (jam kerja)" in out.body.splitlines()
