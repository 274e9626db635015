"""Personal data (issue 14), the pure and config parts: the rules' [privacy]
table (retention periods, staff NIK), the hop actors' pseudonyms, masking in
staff mail. The erasure, export and retention themselves run on the real
stack and databases in test_privacy_e2e.py."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailflow.config.rules import load_rules
from mailflow.config.settings import load_settings
from mailflow.core.render import Renderer
from mailflow.core.sop import PrivacyRules
from mailflow.desk.letters import Letters
from mailflow.desk.privacy import actor_pseudonym, describe_selector, mask_email
from mailflow.errors import RulesError
from mailflow.runner.app import template_dirs
from mailflow.store.models import Complaint
from support import REPO, TEST_ENV, write_config

NIK, KK = "3402014501900001", "3402011203150004"


def rules_with(tmp_path: Path, table: str) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(REPO / "rules", folder)
    path = folder / "bantul-email.toml"
    path.write_text(path.read_text() + "\n" + table)
    return path


def test_retention_defaults_when_the_rules_say_nothing():
    rules = load_rules(REPO / "rules" / "bantul-email.toml")
    assert rules.privacy == PrivacyRules() == PrivacyRules(365, 730, 1825, 1825, "full")


def test_the_privacy_table_sets_each_period_and_the_staff_nik(tmp_path):
    rules = load_rules(rules_with(tmp_path, "[privacy]\nraw_mail_days = 30\npersonal_data_days = 90\n"
                                            "hop_log_days = 365\ncomplaint_record_days = 3650\nstaff_nik = \"masked\"\n"))
    assert rules.privacy == PrivacyRules(30, 90, 365, 3650, "masked")


@pytest.mark.parametrize(("table", "key", "words"), [
    ("raw_mail_days = 800", "privacy.personal_data_days", ["at least privacy.raw_mail_days (800)"]),
    ("hop_log_days = 10", "privacy.hop_log_days", ["at least privacy.personal_data_days (730)"]),
    ("raw_mail_days = -1", "privacy.raw_mail_days", ["whole number of days", "-1"]),
    ("raw_mail_days = \"1y\"", "privacy.raw_mail_days", ["whole number"]),
    ("staff_nik = \"hidden\"", "privacy.staff_nik", ["full", "masked"]),
    ("keep = 1", "privacy.keep", ["unknown key"]),
])
def test_privacy_mistakes_are_refused_naming_the_key(tmp_path, table, key, words):
    path = rules_with(tmp_path, "[privacy]\n" + table + "\n")
    with pytest.raises(RulesError) as err:
        load_rules(path)
    message = str(err.value)
    assert f"key '{key}'" in message, message
    for word in words:
        assert word in message, message


def _letters(tmp_path: Path, table: str = "") -> Letters:
    settings = load_settings(write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'm.db'}"), env=TEST_ENV)
    rules = load_rules(rules_with(tmp_path, table) if table else settings.office.rules)
    return Letters(settings, rules, Renderer(template_dirs(settings)))


def _complaint() -> Complaint:
    return Complaint(number="ADU/2026/000001", complainant_name="Siti Aminah", complainant_email="w@x.test", nik=NIK,
                     kk=KK, phone="0812", address="Jl. A", category_name="KTP-el", section="identitas",
                     description="Uraian", created_at=datetime(2026, 11, 23, 2, tzinfo=UTC))


@pytest.mark.parametrize(("table", "nik", "kk"), [
    ("", NIK, KK),  # the default: staff check the NIK in SIAK
    ("[privacy]\nstaff_nik = \"full\"\n", NIK, KK),
    ("[privacy]\nstaff_nik = \"masked\"\n", "340201******0001", "340201******0004"),
])
def test_staff_mail_shows_the_nik_as_the_rules_say(tmp_path, table, nik, kk):
    shown = _letters(tmp_path, table).complaint(_complaint())
    assert (shown.nik, shown.kk) == (nik, kk)


@pytest.mark.parametrize(("actor", "pseudonym"), [
    ("mailflow", "mailflow"),  # the system is no person
    ("warga1@dukcapil.test", "pseudonym:pemohon"),  # the citizen of the complaint
    ("WARGA1@dukcapil.test", "pseudonym:pemohon"),
    ("admin@dukcapil.test", "pseudonym:admin"),  # a staff member: their role
    ("kasi-identitas@dukcapil.test", "pseudonym:kasi-identitas"),
    ("stranger@elsewhere.test", "pseudonym:pemohon"),  # anyone else who wrote in
    ("admin (root)", "pseudonym:admin"),  # an admin's command
    ("pseudonym:kabid", "pseudonym:kabid"),  # done already
])
def test_hop_actors_become_pseudonyms(actor, pseudonym):
    rules = load_rules(REPO / "rules" / "bantul-email.toml")
    assert actor_pseudonym(rules, {"warga1@dukcapil.test"})(actor) == pseudonym


def test_the_access_log_names_nobody():
    assert mask_email("warga1@dukcapil.test") == "w***@dukcapil.test"
    assert describe_selector(nik=NIK) == "by NIK 340201******0001"
    assert describe_selector(email="warga1@dukcapil.test") == "by e-mail w***@dukcapil.test"
    assert describe_selector(number="ADU/2026/000001") == "by number ADU/2026/000001"
