"""One home per vocabulary: the templates, the rules files and the CLI use
only the words of ``mailflow.core.vocabulary``, and every word there is used."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC
from pathlib import Path

import pytest

from mailflow.core.vocabulary import (
    ACTION_WORDS,
    OPEN_STATUSES,
    RUNNING_STATUSES,
    STATUS_WORDS,
    WORD_ALIASES,
    HopKind,
    MailKind,
    Notice,
    Status,
    Word,
    status_named,
)
from support import REPO

TEMPLATES = REPO / "templates"
MAIL_TEMPLATES = sorted(p for p in TEMPLATES.rglob("*.txt.j2") if not p.name.startswith("_"))
RULES_FILES = sorted(p for p in (REPO / "rules").glob("*.toml") if p.name != "complaint-format.toml")


def template_name(path: Path) -> str:
    return path.relative_to(TEMPLATES).as_posix().removesuffix(".txt.j2")


def test_every_mail_template_is_a_mail_kind_and_every_kind_has_one():
    assert {template_name(p) for p in MAIL_TEMPLATES} == {k.value for k in MailKind}


@pytest.mark.parametrize("path", MAIL_TEMPLATES, ids=template_name)
def test_templates_suggest_only_known_command_words(path):
    # What the mail says, not the template's {# comments #} for whoever edits it.
    text = re.sub(r"\{#.*?#\}", "", path.read_text("utf-8"), flags=re.S)
    words = {w.lower() for w in re.findall(r"[#＃]([A-Za-z]+)", text)}
    # Citizens write "#status" (core/commands.status_request); staff write the Word commands.
    known = {"status"} if template_name(path).startswith("citizen/") else set(WORD_ALIASES)
    assert words <= known, f"unknown #words in {template_name(path)}: {sorted(words - known)}"


def test_templates_compare_notice_kinds_with_known_words():
    text = (TEMPLATES / "staff" / "deadline-summary.txt.j2").read_text("utf-8")
    used = set(re.findall(r"\.kind == \"([a-z-]+)\"", text))
    assert used and used <= {n.value for n in Notice}


@pytest.mark.parametrize("path", RULES_FILES, ids=lambda p: p.name)
def test_rules_files_bind_only_action_words(path):
    data = tomllib.loads(path.read_text("utf-8"))
    words = {word for step in data["steps"] for word in step.get("actions", {})}
    assert words and words <= {w.value for w in ACTION_WORDS}


def test_every_word_has_its_label_and_aliases_are_unambiguous():
    for vocabulary in (Status, HopKind, Word):
        assert all(member.label for member in vocabulary), vocabulary
    spellings = [s for w in Word for s in (w.value, *w.aliases)]
    assert len(spellings) == len(set(spellings)) == len(WORD_ALIASES)


def test_status_lists_are_subsets_of_the_statuses():
    assert set(OPEN_STATUSES) == set(Status) - {Status.CLOSED, Status.MERGED}
    assert set(RUNNING_STATUSES) == set(OPEN_STATUSES) - {Status.WAITING_CITIZEN}
    assert set(STATUS_WORDS) == {*Status, "answered"}


@pytest.mark.parametrize(("typed", "status"), [
    ("in_progress", Status.IN_PROGRESS), ("diproses", Status.IN_PROGRESS), ("Menunggu Pelapor", Status.WAITING_CITIZEN),
    ("waiting-citizen", Status.WAITING_CITIZEN), ("SELESAI", Status.CLOSED), ("terdaftar", Status.REGISTERED),
    ("menunggu persetujuan", Status.AWAITING_APPROVAL), ("dijawab", None), ("open", None),
])
def test_status_named_reads_both_languages(typed, status):
    assert status_named(typed) == status


def test_the_hop_log_refuses_a_kind_that_is_not_a_hop_kind():
    from datetime import datetime

    from mailflow.store import hoplog

    class Session:
        info: dict = {}

    with pytest.raises(ValueError, match="unknown hop kind"):
        hoplog.record(Session(), "escalated", at=datetime(2026, 1, 5, tzinfo=UTC))
