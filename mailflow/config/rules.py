"""Load an office's rules file (``rules/*.toml``) into ``mailflow.core.sop.Rules``.

The schema below checks each table's shape (``mailflow.config.toml``); the
loader then checks what refers to something else (a step's role, an action's
target, a section's role). Every error names the file, the key and the fix,
e.g. ``rules/bantul-email.toml: key 'steps[3].role': unknown role
'kasi-identitass' (known: admin, kabid, ...)``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, PlainValidator

from mailflow.config.calendar import CalendarTable, build_calendar
from mailflow.config.complaint_format import load_format
from mailflow.config.toml import Expect, Source, Stripped, Table, problem, read
from mailflow.core.sop import (
    BREACH_ACTIONS,
    CITIZEN,
    COMMAND_WORDS,
    RETENTION_STAGES,
    SECTION_ROLE,
    SPECIAL_TARGETS,
    AnswerRules,
    DeadlineRules,
    MergeRules,
    PrivacyRules,
    Role,
    Rules,
    Standard,
    Step,
    SurveyRules,
    WaitingRules,
    parse_standard,
)
from mailflow.errors import RulesError

# ---------------------------------------------------------------- the schema of a rules file


def _role_key(key: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9-]*", key):
        raise problem("role keys are lower-case letters, digits and '-'")
    if key == CITIZEN:
        raise problem(f"'{CITIZEN}' is the complainant and cannot be a staff role")
    return key


def _address(value: str) -> str:
    if "@" not in value:
        raise ValueError("no @")
    return value.strip().lower()


def _command_word(word: str) -> str:
    if word not in COMMAND_WORDS:
        raise problem(f"unknown command word (known: {', '.join(COMMAND_WORDS)})")
    return word


def _section(value: Any) -> Any:
    # `identitas = "kasi-identitas"` is short for `identitas = { role = "kasi-identitas" }`
    return {"role": value} if isinstance(value, str) else value


Addresses = list[Annotated[str, AfterValidator(_address), Expect("an e-mail address")]]
StandardValue = Annotated[Standard, PlainValidator(parse_standard), Expect(
    'a time standard like "30m", "2h" or "1d" (working days)')]
RoleKey = Annotated[str, PlainValidator(_role_key)]
ROLE_KEY = "a role key"


class _Office(Table):
    model_config = ConfigDict(extra="ignore")  # never checked: other keys have always been allowed here

    name: Stripped | None = None  # default: the file's name
    sop: Stripped = ""
    format: Stripped = Field("complaint-format.toml", description="a complaint-format file, relative to this one")


class _Role(Table):
    name: Stripped = Field(description="the role's name as mail and reports show it")
    members: Addresses = Field(min_length=1, description="a list of e-mail addresses")
    rank: int = Field(1, ge=1, description="a whole number >= 1")
    deputies: Addresses = Field(default_factory=list, description="a list of e-mail addresses")


class _Section(Table):
    model_config = ConfigDict(extra="ignore")  # never checked: other keys have always been allowed here

    role: Stripped = Field(description=ROLE_KEY)
    name: Stripped | None = None  # default: the section's key


class _Step(Table):
    key: Stripped = Field(description="the step's key, a non-empty string")
    name: Stripped = Field(description="the step's name, a non-empty string")
    role: Stripped = Field(description=f"{ROLE_KEY}, '{CITIZEN}' or '{SECTION_ROLE}'")
    standard: StandardValue
    output: str = Field("", description="a string")
    actions: dict[Annotated[str, PlainValidator(_command_word)],
                  Annotated[str, Expect(f"a step key or one of {', '.join(SPECIAL_TARGETS)}")]] = Field(
        default_factory=dict, description="a table of command word = target")
    auto: bool | None = Field(None, description="true or false")  # default: true for the citizen's steps
    confirm: Stripped = ""


class _Answer(Table):
    min_rank: int = Field(1, ge=0, description="a whole number")
    approver: str = Field("", description=f"{ROLE_KEY} or '{SECTION_ROLE}'")
    send_step: str = Field("", description="a step key")
    reopen_days: int = Field(7, ge=0, description="a whole number")
    approval_standard: StandardValue = Standard(30, "minutes")


class _Deadlines(Table):
    remind_share: float = Field(0.8, gt=0, lt=1, description="a share between 0 and 1 such as 0.8")
    on_breach: Literal[BREACH_ACTIONS] = Field("notify-next", description=f"one of {', '.join(BREACH_ACTIONS)}")  # type: ignore[valid-type]  # Literal of the one tuple of allowed words; pydantic reads it as its items
    report_to: list[Annotated[str, Expect(ROLE_KEY)]] = Field(default_factory=list, description="a list of role keys")


Days = Annotated[int, Expect("a whole number of days >= 0")]


class _Privacy(Table):
    """[privacy] (issue 14): retention in days after a complaint is closed (docs/PRIVACY.md)."""

    raw_mail_days: Days = Field(PrivacyRules.raw_mail_days, ge=0, description="a whole number of days")
    personal_data_days: Days = Field(PrivacyRules.personal_data_days, ge=0, description="a whole number of days")
    hop_log_days: Days = Field(PrivacyRules.hop_log_days, ge=0, description="a whole number of days")
    complaint_record_days: Days = Field(PrivacyRules.complaint_record_days, ge=0,
                                        description="a whole number of days")
    staff_nik: Literal["full", "masked"] = Field("full", description='"full" or "masked"')


class _Survey(Table):
    enabled: bool = Field(True, description="true or false")
    elements: bool = Field(True, description="true or false")
class _Waiting(Table):
    """[waiting]: closing after silence (issue #15 point 4)."""

    remind_days: int = Field(5, ge=1, description="a whole number of working days >= 1")
    close_days: int = Field(10, ge=1, description="a whole number of working days >= 1")


class _Merge(Table):
    """[merge]: merging, possible duplicates (issue #15 point 3)."""

    duplicate_days: int = Field(14, ge=0, description="a whole number of days (0: no suggestion)")


class _RulesFile(Table):
    model_config = ConfigDict(extra="ignore")  # never checked: other top-level keys have always been allowed

    office: _Office = Field(default_factory=_Office, description="a table [office]")
    roles: dict[RoleKey, Annotated[_Role, Expect("a table with name and members")]] = Field(
        min_length=1, description="at least one [roles.<key>] table with name and members")
    sections: dict[str, Annotated[_Section, BeforeValidator(_section), Expect(
        'a role key or a table { role = "...", name = "..." }')]] = Field(
        default_factory=dict, description="a table mapping section keys to role keys")
    steps: list[Annotated[_Step, Expect("a table")]] = Field(
        min_length=1, description="at least one [[steps]] table")
    answer: _Answer = Field(default_factory=_Answer, description="a table [answer]")
    calendar: CalendarTable | None = Field(None, description="a table [calendar]")
    deadlines: _Deadlines = Field(default_factory=_Deadlines, description="a table [deadlines]")
    privacy: _Privacy = Field(default_factory=_Privacy, description="a table [privacy]")  # privacy (issue 14)
    # the satisfaction survey (issue #15 point 2)
    survey: _Survey = Field(default_factory=_Survey, description="a table [survey]")
    waiting: _Waiting = Field(default_factory=_Waiting, description="a table [waiting]")  # closing after silence
    merge: _Merge = Field(default_factory=_Merge, description="a table [merge]")  # merging


# ---------------------------------------------------------------- loading


def load_rules(path: Path, default_timezone: str = "Asia/Jakarta") -> Rules:
    """Read and validate a rules file and the complaint format it names.

    ``default_timezone``: the office's zone, for a file without
    ``calendar.timezone``. Raises RulesError naming file, key and fix.
    """
    path = Path(path)
    source, data = read(path, RulesError, "no such rules file")
    file = source.validate(_RulesFile, data)
    fmt = load_format((path.parent / file.office.format).resolve())

    roles = {key: Role(key, r.name, tuple(r.members), r.rank, tuple(r.deputies)) for key, r in file.roles.items()}
    known_roles = ", ".join(sorted(roles))

    sections: dict[str, str] = {}
    section_names: dict[str, str] = {}
    for key, section in file.sections.items():
        if section.role not in roles:
            raise source.fail(f"sections.{key}", f"unknown role {section.role!r} (known: {known_roles})")
        sections[key] = section.role
        section_names[key] = section.name or key

    steps = _steps(source, file.steps, roles, sections, {c.section for c in fmt.categories})
    step_keys = {s.key for s in steps}
    known_steps = ", ".join(sorted(step_keys))

    a = file.answer
    if a.approver and a.approver not in roles and a.approver != SECTION_ROLE:
        raise source.fail("answer.approver", f"unknown role {a.approver!r} (known: {known_roles}, or '{SECTION_ROLE}')")
    if a.send_step and a.send_step not in step_keys:
        raise source.fail("answer.send_step", f"unknown step {a.send_step!r} (known: {known_steps})")
    if any(s.actions.get("jawab") == "@answer" for s in steps) and a.min_rank > 1 and not a.approver:
        raise source.fail("answer.approver", "a draft from below answer.min_rank needs an approver role")
    answer = AnswerRules(**dict(a))

    d = file.deadlines
    bad = next((r for r in d.report_to if r not in roles), None)
    if bad is not None:
        raise source.fail("deadlines.report_to", f"unknown role {bad!r} (known: {known_roles})")

    p = file.privacy
    periods = [(stage, getattr(p, f"{stage}_days")) for stage in RETENTION_STAGES]
    for (before, shorter), (stage, days) in zip(periods, periods[1:], strict=False):
        if days < shorter:
            raise source.fail(f"privacy.{stage}_days", f"must be at least privacy.{before}_days ({shorter}): "
                                                       f"the stages run in the order {', '.join(RETENTION_STAGES)}")
    w = file.waiting
    if w.close_days <= w.remind_days:
        raise source.fail("waiting.close_days", f"must be more than waiting.remind_days ({w.remind_days}): the "
                                                "reminder comes before the complaint is closed")

    return Rules(
        path=path,
        office=file.office.name or path.stem,
        sop=file.office.sop,
        format=fmt,
        roles=roles,
        steps=steps,
        sections=sections,
        section_names=section_names,
        answer=answer,
        calendar=build_calendar(source, file.calendar, default_timezone),
        deadlines=DeadlineRules(d.remind_share, d.on_breach, tuple(d.report_to)),
        privacy=PrivacyRules(p.raw_mail_days, p.personal_data_days, p.hop_log_days, p.complaint_record_days,
                             p.staff_nik),
        survey=SurveyRules(file.survey.enabled, file.survey.elements),
        waiting=WaitingRules(w.remind_days, w.close_days),
        merge=MergeRules(file.merge.duplicate_days),
    )


def _steps(source: Source, tables: list[_Step], roles: dict[str, Role], sections: dict[str, str],
           used_sections: set[str]) -> tuple[Step, ...]:
    """The ladder's steps, each role, target and key checked against the others."""
    steps: list[Step] = []
    for i, t in enumerate(tables):
        if any(s.key == t.key for s in steps):
            raise source.fail(f"steps[{i}].key", f"duplicate step key {t.key!r}")
        if t.role not in roles and t.role not in (CITIZEN, SECTION_ROLE):
            raise source.fail(f"steps[{i}].role", f"unknown role {t.role!r} "
                                                  f"(known: {', '.join(sorted(roles))}, or '{CITIZEN}', '{SECTION_ROLE}')")
        if t.role == SECTION_ROLE:
            missing = sorted((used_sections | {"lainnya"}) - set(sections))
            if missing:
                raise source.fail("sections", f"no role for section {missing[0]!r}, "
                                              f"which a step held by '{SECTION_ROLE}' needs")
        for word, target in t.actions.items():
            if target.startswith("@") and word not in SPECIAL_TARGETS.get(target, ()):
                raise source.fail(f"steps[{i}].actions.{word}", f"{target!r} is not a target for #{word} "
                                                                f"(known targets: {', '.join(SPECIAL_TARGETS)}, or a step key)")
        auto = t.role == CITIZEN if t.auto is None else t.auto
        if not auto and not t.actions:
            raise source.fail(f"steps[{i}].actions", "a step held by staff needs at least one action (or auto = true)")
        steps.append(Step(t.key, t.name, t.role, t.standard, t.output, dict(t.actions), auto, t.confirm))
    if all(s.role == CITIZEN or s.auto for s in steps):
        raise source.fail("steps", "at least one step must be held by a staff role with actions")
    keys = {s.key for s in steps}
    for i, step in enumerate(steps):
        for word, target in step.actions.items():
            if not target.startswith("@") and target not in keys:
                raise source.fail(f"steps[{i}].actions.{word}", f"unknown step {target!r} (known: {', '.join(sorted(keys))})")
    return tuple(steps)
