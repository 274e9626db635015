"""Merging (#gabung, ``mailflow merge``) and closing after silence, without a
mail server: the ladder's decisions as tables (every refusal with the state
unchanged), the rules' [waiting] and [merge] tables, and the three citizen
mails rendered. The same on the real mail stack: test_merge_e2e.py."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import datetime
from types import SimpleNamespace as NS
from zoneinfo import ZoneInfo

import pytest

from mailflow.config.rules import load_rules
from mailflow.core import ladder
from mailflow.core.ladder import (
    CitizenMail,
    CloseForSilence,
    Command,
    DeadlineNear,
    DeadlinePassed,
    Merge,
    MergeInto,
    MergeTarget,
    Note,
    Refuse,
    RemindCitizen,
    State,
    TellHolder,
)
from mailflow.core.render import Renderer
from mailflow.core.sop import WAITING_STEP
from mailflow.errors import RulesError
from support import REPO

BANTUL = load_rules(REPO / "rules" / "bantul-email.toml")
WIB = ZoneInfo("Asia/Jakarta")

AT_ADMIN = State("in_progress", "verifikasi-admin", "admin", "identitas")
WAITING = replace(AT_ADMIN, status="waiting_citizen")
APPROVING = State("awaiting_approval", "persetujuan", "kasi-identitas", "identitas", draft="Draf.",
                  draft_role="admin", draft_step="verifikasi-admin")
CLOSED = replace(AT_ADMIN, status="closed")
MERGED = replace(AT_ADMIN, status="merged")

OTHER = MergeTarget("ADU/2026/000001", "in_progress", same_complainant=True)
NUMBER = OTHER.number


def merge(target: MergeTarget | None = OTHER, role: str | None = "admin", *, by_admin: bool = False,
          number: str = NUMBER) -> Merge:
    return Merge(number, target, role, by_admin)


# ------------------------------------------------------------------ merging: what is merged
MERGES = [
    ("the holder merges an open duplicate", AT_ADMIN, merge(), replace(AT_ADMIN, status="merged")),
    ("while waiting for the citizen", WAITING, merge(), replace(WAITING, status="merged")),
    ("into a closed (answered) complaint", AT_ADMIN, merge(replace(OTHER, status="closed")),
     replace(AT_ADMIN, status="merged")),
    ("a draft awaiting approval is dropped", APPROVING, merge(role="kasi-identitas"),
     replace(APPROVING, status="merged", draft=None, draft_role=None, draft_step=None)),
    ("the admin (mailflow merge), whoever holds it", APPROVING, merge(role=None, by_admin=True),
     replace(APPROVING, status="merged", draft=None, draft_role=None, draft_step=None)),
]


@pytest.mark.parametrize(("state", "event", "after"), [row[1:] for row in MERGES], ids=[row[0] for row in MERGES])
def test_a_merge_closes_the_duplicate_as_merged(state, event, after):
    result = ladder.transition(state, event, BANTUL)
    assert result.state == after
    assert result.actions == (MergeInto(NUMBER),)


# ------------------------------------------------------------------ merging: what is refused, and why
REFUSED = [
    ("not the holder", AT_ADMIN, merge(role="kabid"), "hanya pemegang aduan"),
    ("not staff", AT_ADMIN, merge(role=None), "bukan petugas"),
    ("no number written", AT_ADMIN, merge(None, number=""), "memerlukan nomor register"),
    ("no such complaint in the office", AT_ADMIN, merge(None, number="ADU/2026/999999"),
     "ADU/2026/999999 tidak ditemukan di kantor ini"),
    ("into itself", AT_ADMIN, merge(replace(OTHER, is_self=True)), "dirinya sendiri"),
    ("into a merged complaint (no chains)", AT_ADMIN, merge(replace(OTHER, status="merged")),
     "sudah digabung ke aduan lain"),
    ("another complainant (personal data)", AT_ADMIN, merge(replace(OTHER, same_complainant=False)),
     "data pribadi"),
    ("the admin cannot merge another complainant's either", AT_ADMIN,
     merge(replace(OTHER, same_complainant=False), role=None, by_admin=True), "pelapor yang berbeda"),
    ("a closed duplicate", CLOSED, merge(), "sudah selesai"),
    ("a duplicate merged already", MERGED, merge(), "sudah digabung"),
]


@pytest.mark.parametrize(("state", "event", "why"), [row[1:] for row in REFUSED], ids=[row[0] for row in REFUSED])
def test_a_merge_is_refused_with_the_state_unchanged(state, event, why):
    result = ladder.transition(state, event, BANTUL)
    assert result.state == state
    [refusal] = result.actions
    assert isinstance(refusal, Refuse) and why in refusal.reason, refusal


def test_a_gabung_command_without_the_desk_is_refused_and_a_merged_complaint_takes_notes_only():
    # #gabung reaches the ladder as a Merge (the desk looks the number up); as a bare command it asks for one.
    result = ladder.transition(AT_ADMIN, Command("gabung", "", "admin"), BANTUL)
    assert result.refused and "nomor register" in result.actions[0].reason
    for word in ("jawab", "teruskan", "info"):
        result = ladder.transition(MERGED, Command(word, "Teks.", "admin"), BANTUL)
        assert result.refused and result.state == MERGED and "digabung" in result.actions[0].reason
    assert ladder.transition(MERGED, Command("catatan", "Catatan.", "admin"), BANTUL).actions == (Note("Catatan."),)
    assert ladder.allowed_words(MERGED, BANTUL) == ("catatan", "bantuan", "riwayat")
    # a citizen's mail on it never reopens it (the desk files it on the survivor before this)
    assert ladder.transition(MERGED, CitizenMail("Tambahan.", True), BANTUL).state == MERGED


def test_gabung_is_a_staff_word_no_rules_file_binds():
    from mailflow.core.sop import COMMAND_WORDS
    from mailflow.core.vocabulary import WORD_ALIASES, Word

    assert WORD_ALIASES["merge"] is Word.GABUNG and WORD_ALIASES["gabung"] is Word.GABUNG
    assert "gabung" not in COMMAND_WORDS


# ------------------------------------------------------------------ closing after silence
CLOCK = [
    ("waiting: the citizen is reminded", WAITING, DeadlineNear(WAITING_STEP), WAITING, (RemindCitizen(),)),
    ("waiting: closed, reopening goes back to the step that asked", WAITING, DeadlinePassed(WAITING_STEP),
     replace(WAITING, status="closed", answered_step="verifikasi-admin", answered_role="admin"),
     (CloseForSilence(),)),
    ("the citizen replied already: no reminder", AT_ADMIN, DeadlineNear(WAITING_STEP), AT_ADMIN, ()),
    ("the citizen replied already: not closed", AT_ADMIN, DeadlinePassed(WAITING_STEP), AT_ADMIN, ()),
    ("closed meanwhile: nothing", CLOSED, DeadlinePassed(WAITING_STEP), CLOSED, ()),
    ("merged meanwhile: nothing", MERGED, DeadlineNear(WAITING_STEP), MERGED, ()),
]


@pytest.mark.parametrize(("state", "event", "after", "actions"), [row[1:] for row in CLOCK],
                         ids=[row[0] for row in CLOCK])
def test_the_clock_of_a_wait_for_the_citizen(state, event, after, actions):
    result = ladder.transition(state, event, BANTUL)
    assert (result.state, result.actions) == (after, actions)


def test_a_reply_after_closing_for_silence_reopens_at_the_step_that_asked():
    closed = ladder.transition(WAITING, DeadlinePassed(WAITING_STEP), BANTUL).state
    result = ladder.transition(closed, CitizenMail("Ini keterangannya.", within_reopen_window=True), BANTUL)
    assert (result.state.status, result.state.step, result.state.holder) == ("in_progress", "verifikasi-admin", "admin")
    assert result.actions == (TellHolder("admin", "reopened", "Ini keterangannya."),)
    late = ladder.transition(closed, CitizenMail("Ini keterangannya.", within_reopen_window=False), BANTUL)
    assert late.state == closed and type(late.actions[0]).__name__ == "NewLinkedComplaint"


def test_a_staff_step_deadline_is_unchanged_by_the_wait():
    # the office's own clock events keep their meaning (reminder to the holder)
    assert ladder.transition(AT_ADMIN, DeadlineNear("verifikasi-admin"), BANTUL).actions == (ladder.Remind("admin"),)


# ------------------------------------------------------------------ the rules
def test_the_rules_default_to_lapor_and_can_be_set(tmp_path):
    assert (BANTUL.waiting.remind_days, BANTUL.waiting.close_days, BANTUL.merge.duplicate_days) == (5, 10, 14)
    (tmp_path / "complaint-format.toml").write_text((REPO / "rules" / "complaint-format.toml").read_text("utf-8"),
                                                    "utf-8")
    base = (REPO / "rules" / "bantul-email.toml").read_text("utf-8")
    path = tmp_path / "r.toml"
    path.write_text(base + "\n[waiting]\nremind_days = 3\nclose_days = 7\n\n[merge]\nduplicate_days = 30\n", "utf-8")
    rules = load_rules(path)
    assert (rules.waiting.remind_days, rules.waiting.close_days, rules.merge.duplicate_days) == (3, 7, 30)
    path.write_text(base + textwrap.dedent("""
        [waiting]
        remind_days = 10
        close_days = 10
    """), "utf-8")
    with pytest.raises(RulesError, match=r"key 'waiting.close_days': must be more than waiting.remind_days"):
        load_rules(path)


# ------------------------------------------------------------------ the citizen's mails
def _context(**extra):
    office = NS(name="Dinas Kependudukan dan Pencatatan Sipil Kabupaten Bantul",
                complaint_address="aduan@dukcapil.test", timezone="Asia/Jakarta", website="")
    complaint = NS(number="ADU/2026/000124", name="Siti Aminah", email="warga1@dukcapil.test",
                   nik="3402014501900001", kk="", phone="081234567890", address="Jl. Parangtritis",
                   category_name="KTP-el", section="Identitas", description="Belum dicetak.",
                   created_at=datetime(2026, 11, 23, 9, tzinfo=WIB))
    return dict(office=office, now=datetime(2026, 11, 30, 9, tzinfo=WIB), complaint=complaint,
                reply_address="aduan+adu-2026-000124.abc@dukcapil.test", original_subject="Pengaduan KTP-el", **extra)


@pytest.mark.parametrize(("kind", "extra", "must"), [
    ("citizen/merged", dict(survivor=NS(number="ADU/2026/000123", created_at=datetime(2026, 11, 20, tzinfo=WIB))),
     ["Mohon ikuti nomor register ADU/2026/000123", "digabung dengan aduan ADU/2026/000123"]),
    ("citizen/info-reminder", dict(question="Mohon kirimkan foto KTP-el 3402014501900001.", close_days=10,
                                   close_at=datetime(2026, 12, 7, 9, tzinfo=WIB)),
     ["Pengingat", "Mohon kirimkan foto KTP-el 340201******0001", "10 hari kerja"]),
    ("citizen/closed-no-reply", dict(close_days=10, reopen_days=7),
     ["kami tutup", "balas surel ini", "dalam 7 hari", "dalam 10\nhari kerja"]),
])
def test_the_citizen_mails_say_what_happened_and_never_show_the_whole_nik(kind, extra, must):
    out = Renderer([REPO / "templates"]).render(kind, **_context(**extra))
    text = out.subject + "\n" + out.body
    assert "ADU/2026/000124" in out.subject
    for phrase in must:
        assert phrase in text, (phrase, text)
    assert "3402014501900001" not in text
