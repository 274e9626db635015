"""The satisfaction survey (SKM) end to end on the real mail servers, on an
injected clock: a Palangka Raya complaint is answered; the answer brings
exactly one survey mail to the complainant; their rating reply (one number
and two element lines) is recorded and thanked once; a second rating reply
is logged but neither recorded nor thanked; a reply that is not a rating
still reopens the complaint, and its later closing asks nothing again; the
December report mailed to the Kepala Bidang and the Kepala Dinas shows the
IKM with its response count, beside October's figures."""

from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from mailflow.core.commands import parse_rating
from mailflow.core.survey import ElementSums, Rating, grade, ikm
from mailflow.store.models import Hop, SurveyResponse
from support import VALID_BODY, Clock, complaint_mail, mailflow_at, reply
from support import received as mails

WIB = ZoneInfo("Asia/Jakarta")


def wib(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WIB)


def handled(daemon) -> list[str]:
    return [o.action for o in daemon.run_once().outcomes]


def answer_complaint(stack, daemon, clock, citizen: str) -> None:
    """A Palangka Raya complaint from ``citizen``, reviewed, answered and sent within the morning."""
    start = clock.now
    stack.send(complaint_mail(VALID_BODY, sender=f"{citizen}@dukcapil.test", date=clock.now), citizen,
               ["aduan@dukcapil.test"])
    assert handled(daemon) == ["registered"]
    for minutes, user, kind, text in ((20, "admin", "staff/forward", "#teruskan Mohon diverifikasi."),
                                      (40, "analis", "staff/handover", "#jawab KTP-el Ibu sudah dicetak."),
                                      (50, "admin", "staff/send-confirmation", "#setuju")):
        clock.now = start.replace(minute=start.minute + minutes)
        reply(stack, user, mails(stack, user, kind)[-1], text)
        assert handled(daemon) == ["attached"]


@pytest.mark.integration
def test_the_answer_brings_one_survey_whose_rating_is_recorded_thanked_once_and_reported(make_desk):
    clock = Clock(wib(10, 26, 9))  # October: a month before, for the report's previous-month column
    stack, app, daemon = make_desk(clock=clock, rules="palangkaraya-online.toml")
    answer_complaint(stack, daemon, clock, "warga5")
    daemon.run_once()

    clock.now = wib(11, 23, 9)  # Monday 23 November
    answer_complaint(stack, daemon, clock, "warga1")
    daemon.run_once()  # drain
    [answer] = mails(stack, "warga1", "citizen/answer")
    [survey] = mails(stack, "warga1", "citizen/survey")
    number = str(survey["X-Mailflow-Complaint"])
    assert str(survey["To"]) == "warga1@dukcapil.test" and survey["Auto-Submitted"] == "auto-replied"
    assert survey["In-Reply-To"] == answer["In-Reply-To"]  # threaded to the citizen's complaint mail
    assert str(survey["Reply-To"]) == str(answer["Reply-To"])  # the complaint's own reply address
    body = survey.get_body(("plain",)).get_content()
    assert "1 = tidak baik" in body and "4 = sangat baik" in body and "9: Sarana dan prasarana" in body

    # the citizen rates: 4 overall, element 1 = 3 and element 3 = 2, and a suggestion
    clock.now = wib(11, 24, 10)
    reply(stack, "warga1", survey, "4\n1: 3\n3: 2\nPetugasnya ramah, terima kasih.")
    assert handled(daemon) == ["rated"]
    daemon.run_once()
    [thanks] = mails(stack, "warga1", "citizen/survey-thanks")
    assert thanks["Subject"] == f"[{number}] Terima kasih atas penilaian Anda" and thanks["X-Mailflow-Complaint"] == number
    assert "Nilai Anda: 4 (sangat baik)" in thanks.get_body(("plain",)).get_content()
    assert "Unsur layanan yang Anda nilai: 2 dari 9" in thanks.get_body(("plain",)).get_content()
    with app.factory() as s:
        assert s.scalar(select(func.count()).select_from(SurveyResponse)) == 2  # October's and November's
        [row] = s.scalars(select(SurveyResponse).where(SurveyResponse.rated_at.is_not(None)))
        assert (row.overall, row.u1, row.u2, row.u3, row.u9) == (4, 3, 4, 2, 4)
        assert row.rated_at == wib(11, 24, 10) and row.comment == "Petugasnya ramah, terima kasih."

    # a second rating reply: logged, not recorded, not thanked again, and it reopens nothing
    clock.now = wib(11, 24, 11)
    reply(stack, "warga1", survey, "1")
    assert handled(daemon) == ["rated"]
    daemon.run_once()
    assert len(mails(stack, "warga1", "citizen/survey-thanks")) == 1
    with app.factory() as s:
        [row] = s.scalars(select(SurveyResponse).where(SurveyResponse.rated_at.is_not(None)))
        assert (row.overall, row.u1, row.later_replies) == (4, 3, 1)
        reasons = [h.reason for h in s.scalars(select(Hop).where(Hop.kind == "rated").order_by(Hop.id))]
    assert reasons[0].startswith("rating recorded: 4 (U1=3, U3=2)")
    assert reasons[1].startswith("a later rating reply: not recorded")

    # a reply that is not a rating is the citizen's follow-up as before (it reopens the complaint);
    # when the complaint is answered again, no second survey is sent
    clock.now = wib(11, 24, 13)
    reply(stack, "warga1", answer, "KTP-el saya ternyata belum bisa diambil.")
    assert handled(daemon) == ["attached"]
    clock.now = wib(11, 24, 14)
    reply(stack, "analis", mails(stack, "analis", "staff/citizen-follow-up")[-1], "#jawab Silakan diambil besok.")
    assert handled(daemon) == ["attached"]
    clock.now = wib(11, 24, 14, 30)
    reply(stack, "admin", mails(stack, "admin", "staff/send-confirmation")[-1], "#setuju")
    assert handled(daemon) == ["attached"]
    daemon.run_once()
    assert len(mails(stack, "warga1", "citizen/answer")) == 2
    assert len(mails(stack, "warga1", "citizen/survey")) == 1  # never asked twice

    # the report mailed on the first working day of December shows the IKM and October beside November
    clock.now = wib(12, 1, 8)
    assert daemon.run_once().report.sent
    [to_kadis] = [m for m in mails(stack, "kadis", "staff/monthly-report") if "November" in m["Subject"]]
    files = {p.get_filename(): p.get_payload(decode=True) for p in to_kadis.iter_attachments()}
    page = files["laporan-pengaduan-2026-11.html"].decode("utf-8")
    # IKM: elements U1 3, U2 4, U3 2, U4..U9 4: mean (3 + 4 + 2 + 6 x 4) / 9 = 3.6667 x 25 = 91.67, grade A
    assert "91,67" in page and "Sangat Baik" in page
    text = to_kadis.get_body(("plain",)).get_content()
    assert "Indeks Kepuasan Masyarakat" in text and "91,67 (A, Sangat Baik; 1 responden)" in text
    json_report = json.loads(mailflow_at(clock, "report", "--month", "2026-11", "--format", "json",
                                         "--config", str(app.settings.path)).stdout)
    sat = json_report["satisfaction"]
    assert sat["overall"]["ikm"] == 91.67 and sat["overall"]["responses"] == 1 and sat["asked"] == 1
    assert sat["overall"]["grade"] == "A" and sat["by_category"][0]["key"] == "ktp-el"
    assert json_report["previous"]["month"] == "2026-10" and json_report["previous"]["received"] == 1


# ------------------------------------------------------------------ the pure parts, as tables
@pytest.mark.parametrize(("reply_text", "expected"), [
    ("4", (4, (None,) * 9, "")),
    ("3 baik", (3, (None,) * 9, "")),
    ("Nilai: 2", (2, (None,) * 9, "")),
    ("#nilai 1", (1, (None,) * 9, "")),
    ("4/4", (4, (None,) * 9, "")),
    ("4 - puas sekali", (4, (None,) * 9, "")),
    ("1: 4\n2: 3\nU9 = 1", (None, (4, 3, None, None, None, None, None, None, 1), "")),
    ("3\n1: 4\n1: 2\nterima kasih", (3, (2,) + (None,) * 8, "terima kasih")),
    ("1\nKTP saya belum jadi", (1, (None,) * 9, "KTP saya belum jadi")),
    ("5", None),
    ("0", None),
    ("2026", None),
    ("4 hari lalu saya minta KK", None),
    ("KTP saya belum jadi", None),
    ("", None),
    ("10: 4", None),
])
def test_a_rating_reply_is_read_or_left_as_an_ordinary_mail(reply_text, expected):
    assert parse_rating(reply_text) == expected


@pytest.mark.parametrize(("ratings", "expected_ikm", "expected_grade"), [
    ([Rating(4, (None,) * 9)], 100.0, ("A", "Sangat Baik")),
    ([Rating(1, (None,) * 9)], 25.0, ("D", "Tidak Baik")),
    ([Rating(4, (None,) * 9), Rating(3, (None,) * 9)], 87.5, ("B", "Baik")),
    # the elements' means: U1 (3+2)/2, U2..U9 only the first response's 3: (2.5 + 8 x 3) / 9 x 25
    ([Rating(3, (None,) * 9), Rating(None, (2,) + (None,) * 8)], 73.61, ("C", "Kurang Baik")),
    ([], None, None),
])
def test_ikm_is_the_mean_of_element_means_times_25_with_its_grade(ratings, expected_ikm, expected_grade):
    index = ikm(ElementSums.of(r.scores() for r in ratings))
    assert index == expected_ikm and grade(index) == expected_grade


@pytest.mark.parametrize(("index", "letter"), [
    (100, "A"), (88.31, "A"), (88.30, "B"), (76.61, "B"), (76.60, "C"), (65.00, "C"), (64.99, "D"),
    (25, "D")])
def test_grade_boundaries_follow_the_regulation(index, letter):
    assert grade(index)[0] == letter


# ------------------------------------------------------------------ the two mails, rendered
def _survey_context(**over) -> dict:
    from types import SimpleNamespace as NS

    from mailflow.core.survey import ELEMENTS, SCALE

    office = NS(name="Dinas Kependudukan dan Pencatatan Sipil Kota Palangka Raya",
                complaint_address="aduan@dukcapil.test", timezone="Asia/Jakarta", website="")
    complaint = NS(number="ADU/2026/000001", name="Siti Aminah")
    ctx = dict(office=office, now=wib(11, 24, 10), complaint=complaint, reply_address="aduan+x.y@dukcapil.test",
               original_subject="Pengaduan KTP-el", scale=SCALE, elements=[q for _, q in ELEMENTS])
    ctx.update(over)
    return ctx


@pytest.mark.parametrize("elements", [True, False])
def test_the_survey_mail_asks_for_one_number_and_optionally_the_nine_elements(elements):
    from mailflow.core.render import Renderer
    from support import REPO

    ctx = _survey_context() if elements else _survey_context(elements=[])
    out = Renderer([REPO / "templates"]).render("citizen/survey", **ctx)
    assert out.subject == "[ADU/2026/000001] Survei kepuasan: mohon beri nilai layanan kami"
    lines = out.body.splitlines()
    assert [line.strip() for line in lines if "=" in line and line.strip()[:1].isdigit()] == [
        "1 = tidak baik", "2 = kurang baik", "3 = baik", "4 = sangat baik"]
    questions = [line.strip() for line in lines if re.match(r"^\s+[1-9]: ", line)]
    assert len(questions) == (9 if elements else 0)
    # every example the mail shows is a rating the parser reads
    assert parse_rating("4") is not None and all(parse_rating(q[:2] + " 4") for q in questions)
    assert out.body.endswith("\n") and "\n\n\n" not in out.body and "{{" not in out.body


@pytest.mark.parametrize(("overall", "given", "comment", "expected"), [
    (4, 0, False, "Nilai Anda: 4 (sangat baik)."),
    (None, 3, True, "Unsur layanan yang Anda nilai: 3 dari 9."),
])
def test_the_thanks_says_what_was_recorded(overall, given, comment, expected):
    from mailflow.core.render import Renderer
    from support import REPO

    out = Renderer([REPO / "templates"]).render(
        "citizen/survey-thanks", **_survey_context(overall=overall, elements_given=given, comment=comment))
    assert out.subject == "[ADU/2026/000001] Terima kasih atas penilaian Anda"
    assert expected in out.body and ("Saran Anda juga kami catat." in out.body) == comment
    assert "Penilaian hanya dicatat sekali" in out.body and "\n\n\n" not in out.body


# ------------------------------------------------------------------ who is asked, and when not
@pytest.fixture
def survey_desk(tmp_path):
    """The desk's Survey on a SQLite file (no mail server: it only queues mail); ``rules``
    is a copy of Palangka Raya's with ``[survey] enabled`` as given."""
    import shutil

    from mailflow.config.settings import load_settings
    from mailflow.desk.survey import Survey
    from mailflow.runner.app import build
    from mailflow.store import db
    from support import REPO, TEST_ENV, write_config

    apps = []

    def make(enabled: bool):
        where = tmp_path / f"desk-{len(apps)}"
        where.mkdir()
        shutil.copy(REPO / "rules" / "complaint-format.toml", where / "complaint-format.toml")
        text = (REPO / "rules" / "palangkaraya-online.toml").read_text("utf-8")
        assert "[survey]\n" in text and "enabled = true\n" in text
        (where / "rules.toml").write_text(text.replace("enabled = true\n", f"enabled = {str(enabled).lower()}\n"))
        settings = load_settings(write_config(where, db_url=f"sqlite:///{where / 'm.db'}",
                                              rules=str(where / "rules.toml")), env=TEST_ENV)
        engine = db.make_engine(settings.database_url)
        db.upgrade(engine)
        engine.dispose()
        app = build(settings, clock=lambda: wib(11, 24, 10))
        apps.append(app)
        return app, Survey(app.letters)

    yield make
    for app in apps:
        app.close()


def _closed_complaint(session, seq: int, email_address: str):
    from mailflow.store.models import Complaint

    c = Complaint(number=f"ADU/2026/{seq:06d}", year=2026, seq=seq, status="closed", channel="email",
                  category="ktp-el", category_name="KTP-el", section="identitas", complainant_name="Siti Aminah",
                  complainant_email=email_address, nik="6271010101900001", phone="0812", address="Jl.",
                  description="Uraian.", reply_token="t", created_at=wib(11, 23, 9), updated_at=wib(11, 23, 9),
                  closed_at=wib(11, 24, 10))
    session.add(c)
    session.flush()
    return c


def _queued(app, kind: str) -> list[str]:
    from mailflow.store.models import OutboxItem

    with app.factory() as s:
        return [r.recipients for r in s.scalars(select(OutboxItem).where(OutboxItem.kind == kind))]


def test_the_survey_goes_to_the_complainant_once_and_not_when_the_rules_switch_it_off(survey_desk):
    app, survey = survey_desk(enabled=True)
    with app.factory.begin() as s:
        c = _closed_complaint(s, 1, "warga1@dukcapil.test")
        assert survey.ask(s, c, wib(11, 24, 10)) is True
        assert survey.ask(s, c, wib(11, 24, 11)) is False  # asked before: never twice
    assert _queued(app, "citizen/survey") == ["warga1@dukcapil.test"]

    off, quiet = survey_desk(enabled=False)
    with off.factory.begin() as s:
        assert quiet.ask(s, _closed_complaint(s, 1, "warga1@dukcapil.test"), wib(11, 24, 10)) is False
        assert s.scalar(select(func.count()).select_from(SurveyResponse)) == 0
    assert _queued(off, "citizen/survey") == []


def test_the_survey_counts_within_the_per_address_limit_of_automatic_mail(survey_desk):
    app, survey = survey_desk(enabled=True)
    limit = app.settings.limits.auto_replies_per_address_per_day
    with app.factory.begin() as s:
        for seq in range(1, limit + 2):  # one complaint more than the limit, all from one address
            survey.ask(s, _closed_complaint(s, seq, "warga1@dukcapil.test"), wib(11, 24, 10))
    with app.factory() as s:  # hops are written at commit
        hops = [h.reason for h in s.scalars(select(Hop).where(Hop.kind == "ignored"))]
    assert len(_queued(app, "citizen/survey")) == limit
    assert len(hops) == 1 and hops[0].startswith("no satisfaction survey: warga1@dukcapil.test already got")
