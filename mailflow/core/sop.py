"""An office's SOP as values: roles, the ladder's steps, answer and deadline rules.

Pure data, read by the ladder, the desk and the reports; loaded and validated
from ``rules/*.toml`` by ``mailflow.config.rules.load_rules``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mailflow.core.calendar import OfficeCalendar
from mailflow.core.format_spec import FormatSpec
from mailflow.core.vocabulary import ACTION_WORDS

CITIZEN = "pemohon"  # the role key of the complainant in a ladder
APPROVAL = "persetujuan"  # the virtual step where a draft answer waits for its approver
# The step of the visits that time a wait for the citizen (after #info): not a
# step of the ladder, the complaint stays at its staff step; reports show it apart.
WAITING_STEP = "menunggu-pelapor"
COMMAND_WORDS = tuple(w.value for w in ACTION_WORDS)  # the words a step's actions may bind (core.vocabulary)
SPECIAL_TARGETS = {"@answer": ("jawab",), "@info": ("info",), "@send": ("setuju",), "@close": ("setuju", "teruskan")}
SECTION_ROLE = "@section"  # a step held by the Kasi of the complaint's section
BREACH_ACTIONS = ("notify-next", "escalate", "notify-holder")
_STANDARD = re.compile(r"^\s*(\d+)\s*(m|min|menit|h|jam|d|hari)\s*$", re.I)
_UNIT = {"m": "minutes", "min": "minutes", "menit": "minutes", "h": "hours", "jam": "hours", "d": "working_days", "hari": "working_days"}


@dataclass(frozen=True)
class Standard:
    """A time standard (mutu baku waktu): an amount of working minutes, hours or days."""

    amount: int
    unit: str  # minutes | hours | working_days

    @property
    def minutes(self) -> int:
        """The standard in working minutes; a working day counts as one office day (set by the calendar)."""
        return {"minutes": 1, "hours": 60, "working_days": 0}[self.unit] * self.amount

    def __str__(self) -> str:
        word = {"minutes": "menit", "hours": "jam", "working_days": "hari kerja"}[self.unit]
        return f"{self.amount} {word}"


def parse_standard(text: str) -> Standard:
    """``"30m"``, ``"2 jam"``, ``"1d"`` -> a Standard. Raises ValueError for anything else."""
    if not isinstance(text, str) or not (m := _STANDARD.match(text)):
        raise ValueError(f"not a time standard: {text!r}")
    return Standard(int(m.group(1)), _UNIT[m.group(2).lower()])


@dataclass(frozen=True)
class Role:
    key: str
    name: str
    members: tuple[str, ...]
    rank: int = 1  # seniority for the approval rule (admin 1 < kasi 2 < kabid 3 < kadis 4)
    deputies: tuple[str, ...] = ()  # told when a member's automatic reply (out-of-office) comes in


@dataclass(frozen=True)
class Step:
    key: str
    name: str
    role: str  # a role key, CITIZEN, or SECTION_ROLE
    standard: Standard
    output: str
    actions: dict[str, str] = field(default_factory=dict)  # command word -> step key or @answer/@info/@send/@close
    auto: bool = False  # done by mailflow or the citizen, not by a staff command
    confirm: str = ""  # a phrase the holder must write to leave this step (e.g. a confidentiality check)


@dataclass(frozen=True)
class AnswerRules:
    min_rank: int = 1  # a final answer needs a role of at least this rank
    approver: str = ""  # who approves a draft from below min_rank (a role key or @section)
    send_step: str = ""  # the step whose role sends an approved answer; "" = at once
    reopen_days: int = 7  # a citizen's reply within this many days after the answer reopens it
    approval_standard: Standard = Standard(30, "minutes")


@dataclass(frozen=True)
class DeadlineRules:
    remind_share: float = 0.8  # remind the holder when this share of the standard has passed
    on_breach: str = "notify-next"  # notify-next | escalate | notify-holder
    report_to: tuple[str, ...] = ()  # role keys the monthly report is mailed to


# Retention (issue 14, docs/PRIVACY.md): days after a complaint is closed (or,
# for a mail on no complaint, after it came) until each kind of data goes. The
# stages run in this order, so each period is at least the one before it.
RETENTION_STAGES = ("raw_mail", "personal_data", "hop_log", "complaint_record")


@dataclass(frozen=True)
class PrivacyRules:
    """An office's personal-data rules: retention periods in days and how
    staff mail shows the NIK / No. KK ("full" or "masked")."""

    raw_mail_days: int = 365  # the archived copies of mail, in and out
    personal_data_days: int = 730  # name, NIK, No. KK, phone, address, e-mail of a complaint
    hop_log_days: int = 1825  # who acted (actors) and free-text reasons in the hop log
    complaint_record_days: int = 1825  # the complaint's description and draft answer
    staff_nik: str = "full"  # "masked": staff mail shows 340201******0001

    def period(self, stage: str) -> int:
        return getattr(self, f"{stage}_days")


@dataclass(frozen=True)
class SurveyRules:
    """The satisfaction survey (SKM, core/survey.py): asked after the answer or the closing."""

    enabled: bool = True  # one survey mail per complaint, after it is answered or closed
    elements: bool = True  # the mail also lists the nine SKM elements as optional short questions


@dataclass(frozen=True)
class WaitingRules:
    """Closing after silence (issue #15 point 4; defaults after LAPOR!): a
    complaint waiting for the citizen (after #info) gets one reminder to them
    after ``remind_days`` working days and is closed after ``close_days``."""

    remind_days: int = 5
    close_days: int = 10


@dataclass(frozen=True)
class MergeRules:
    """Merging (issue #15 point 3): a new complaint of the same complainant
    (address or NIK) and service as one registered within ``duplicate_days``
    days is shown to staff as a possible duplicate."""

    duplicate_days: int = 14


@dataclass(frozen=True)
class Rules:
    path: Path
    office: str
    sop: str
    format: FormatSpec
    roles: dict[str, Role]
    steps: tuple[Step, ...]
    sections: dict[str, str]  # section key -> role key (the Kasi of that section)
    section_names: dict[str, str]
    answer: AnswerRules = AnswerRules()
    calendar: OfficeCalendar = field(default_factory=OfficeCalendar.default)
    deadlines: DeadlineRules = DeadlineRules()
    privacy: PrivacyRules = PrivacyRules()  # privacy (issue 14): retention, staff NIK
    survey: SurveyRules = SurveyRules()  # the satisfaction survey (issue #15 point 2)
    waiting: WaitingRules = WaitingRules()  # closing after silence
    merge: MergeRules = MergeRules()  # merging: possible duplicates

    def next_staff_step(self, step_key: str) -> Step | None:
        """The next step in SOP order held by staff (where a breach escalates to)."""
        keys = [s.key for s in self.steps]
        if step_key not in keys:
            return None
        for step in self.steps[keys.index(step_key) + 1:]:
            if step.role != CITIZEN and not step.auto:
                return step
        return None

    def step(self, key: str) -> Step:
        if key == APPROVAL:
            return Step(APPROVAL, "Persetujuan jawaban", self.answer.approver or "@section",
                        self.answer.approval_standard, "Jawaban disetujui", {"setuju": "@send", "tolak": "@back"})
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(f"no step {key!r} in {self.path}")

    def approver_for(self, section: str) -> Role:
        key = self.answer.approver or SECTION_ROLE
        if key == SECTION_ROLE:
            return self.roles[self.sections.get(section, self.sections.get("lainnya", ""))]
        return self.roles[key]

    def role_for(self, step: Step, section: str) -> Role | None:
        """The role holding ``step`` for a complaint of ``section`` (None for the citizen)."""
        if step.role == CITIZEN:
            return None
        if step.role == SECTION_ROLE:
            return self.roles[self.sections.get(section, self.sections["lainnya"])]
        return self.roles[step.role]

    @property
    def first_staff_step(self) -> Step:
        """The first step a staff member acts on: where a new complaint is forwarded."""
        return next(s for s in self.steps if s.role != CITIZEN and not s.auto)

    @property
    def total_standard(self) -> Standard | None:
        """The sum of all step standards when they share a unit (Bantul: 160 minutes)."""
        units = {s.standard.unit for s in self.steps}
        if len(units) != 1:
            return None
        return Standard(sum(s.standard.amount for s in self.steps), units.pop())

    def member_role(self, address: str) -> Role | None:
        address = address.lower()
        for role in self.roles.values():
            if address in role.members:
                return role
        return None
