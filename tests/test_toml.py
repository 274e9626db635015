"""The one TOML reader (mailflow.config.toml): files that cannot be read, the
shape of every error, and values the loaders used to crash on."""

from __future__ import annotations

import shutil
import textwrap
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from mailflow.config import calendar, complaint_format, rules, settings
from mailflow.config.rules import load_rules
from mailflow.config.toml import Expect, Source, Table, key_of, read
from mailflow.errors import ConfigError, RulesError
from support import REPO


@pytest.mark.parametrize(("loc", "key"), [
    (("steps", 3, "role"), "steps[3].role"),
    (("fields", 1, "aliases", 0), "fields[1].aliases[0]"),
    (("calendar", "closed", "2026-08-18"), "calendar.closed.2026-08-18"),
    (("office",), "office"),
    ("answer.approver", "answer.approver"),
])
def test_keys_are_dotted_with_list_indexes(loc, key):
    assert key_of(loc) == key


@pytest.mark.parametrize(("content", "words"), [
    (None, "no such rules file"),
    (b'name = "\xff"\n', "not UTF-8 text (byte 0xff at offset 8)"),
    (b"[office\n", "not valid TOML"),
    ("directory", "cannot read the file"),
])
def test_a_file_that_cannot_be_read_is_one_error_naming_it(tmp_path, content, words):
    path = tmp_path / "x.toml"
    if content == "directory":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(RulesError) as err:
        read(path, RulesError, "no such rules file")
    assert str(err.value).startswith(f"{path}: ") and words in str(err.value)


def test_mailflow_toml_that_is_not_utf8_is_a_config_error(tmp_path):
    path = tmp_path / "mailflow.toml"
    path.write_bytes(b'[office]\nname = "Dinas \xe9"\n')  # Latin-1, as an old editor may save it
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        settings.load_settings(path, env={})


class _Inner(Table):
    unknown_hint = "; see the docs"
    n: int = Field(1, description="a whole number")


class _Outer(Table):
    items: list[_Inner] = Field(default_factory=list, description="a list of tables")
    named: dict[str, _Inner] = Field(default_factory=dict, description="a table of tables")


@pytest.mark.parametrize(("data", "message"), [
    ({"items": [{}, {"n": "1"}]}, "key 'at.items[1].n': expected a whole number, got '1'"),
    ({"named": {"x": {"m": 1}}}, "key 'at.named.x.m': unknown key (known: n); see the docs"),
    ({"items": 5}, "key 'at.items': expected a list of tables, got 5"),
])
def test_errors_name_the_key_inside_the_data(data, message):
    with pytest.raises(RulesError) as err:
        Source("f.toml", RulesError).validate(_Outer, data, at=("at",))
    assert str(err.value) == f"f.toml: {message}"


def _schemas() -> list[type[BaseModel]]:
    found = []
    for module in (settings, rules, complaint_format, calendar):
        found += [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Table) and v is not Table]
    return found


@pytest.mark.parametrize("schema", _schemas(), ids=lambda s: f"{s.__module__}.{s.__name__}")
def test_every_key_of_every_schema_says_what_it_expects(schema):
    # Without a description an error would fall back to the enclosing table's
    # ("expected a table [office], got 5" for office.name = 5).
    for name, field in schema.model_fields.items():
        if field.exclude:  # a key that is refused whatever its value (imap.password)
            continue
        metadata = [*field.metadata]
        for arg in typing.get_args(field.annotation):  # X | None: X's own metadata
            metadata += getattr(arg, "__metadata__", ())
        assert field.description or any(isinstance(m, Expect) for m in metadata), f"{schema.__name__}.{name} has no description"


# ---------------------------------------------------------------- values the loaders used to crash on


def _rules(tmp_path: Path, text: str) -> Path:
    for name in ("bantul-email.toml", "complaint-format.toml"):
        shutil.copy(REPO / "rules" / name, tmp_path / name)
    path = tmp_path / "bantul-email.toml"
    path.write_text(path.read_text(encoding="utf-8") + textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    ('identitas = { role = "kasi-identitas", name = "Seksi Identitas Penduduk" }', 'identitas = ["kasi-identitas"]',
     "sections.identitas", 'expected a role key or a table { role = "...", name = "..." }'),
    ('approver = "@section"', 'approver = ["kabid"]', "answer.approver", "expected a role key or '@section'"),
    ('send_step = "jawab-pemohon"', "send_step = {}", "answer.send_step", "expected a step key, got {}"),
])
def test_a_list_or_table_where_a_key_belongs_is_an_error_not_a_crash(tmp_path, old, new, key, words):
    path = _rules(tmp_path, "")
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RulesError) as err:
        load_rules(path)
    assert str(err.value).startswith(f"{path}: key '{key}': ") and words in str(err.value)


def test_report_to_names_roles(tmp_path):
    path = _rules(tmp_path, "")  # Bantul's [deadlines] names the report's roles: one of them made a list
    text = path.read_text(encoding="utf-8")
    assert 'report_to = ["kabid", "kadis"]' in text
    path.write_text(text.replace('report_to = ["kabid", "kadis"]', 'report_to = ["kabid", ["kadis"]]'), encoding="utf-8")
    with pytest.raises(RulesError, match=r"key 'deadlines.report_to\[1\]': expected a role key, got \['kadis'\]"):
        load_rules(path)


def test_unknown_keys_are_still_allowed_where_they_always_were(tmp_path):
    # [office], [sections.<key>] and the top level were never checked for
    # unknown keys; a rules file that loaded before still loads.
    path = _rules(tmp_path, """
        [notes]
        author = "Seksi PIAK"
    """)
    text = path.read_text(encoding="utf-8").replace('[office]\n', '[office]\nkontak = "0274-123"\n', 1)
    path.write_text(text, encoding="utf-8")
    assert load_rules(path).office.startswith("Dinas Kependudukan")


def test_a_required_key_stays_required_beside_an_optional_one_of_its_type(tmp_path):
    # office.sop and roles.<key>.name share a type; sop has a default, name
    # must not get it (it did with descriptions kept in the shared type, on pydantic 2.5).
    path = _rules(tmp_path, "")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('name = "Admin Email"\n', "", 1), encoding="utf-8")
    with pytest.raises(RulesError, match=r"key 'roles.admin.name': is missing: expected the role's name"):
        load_rules(path)
