"""Load an office's rules file (``rules/*.toml``): roles, the ladder, routing.

Pure apart from reading the file. Every error names the file, the key and the
fix, e.g. ``rules/bantul-email.toml: key 'steps[3].role': unknown role
'kasi-identitass' (known: admin, kabid, ...)``.

The ladder engine (issue 3) reads the same structures; this module only
validates and exposes them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailflow.complaint_format import FormatSpec, load_format
from mailflow.errors import RulesError

CITIZEN = "pemohon"  # the role key of the complainant in a ladder
SECTION_ROLE = "@section"  # a step held by the Kasi of the complaint's section
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


@dataclass(frozen=True)
class Role:
    key: str
    name: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    key: str
    name: str
    role: str  # a role key, CITIZEN, or SECTION_ROLE
    standard: Standard
    output: str


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

    def role(self, key: str) -> Role:
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
        """The first step a staff member holds: where a new complaint is forwarded."""
        return next(s for s in self.steps if s.role != CITIZEN)

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


def _fail(path: Path, key: str, message: str) -> RulesError:
    return RulesError(f"{path}: key '{key}': {message}")


def _str(path: Path, table: dict, key: str, where: str, default: Any = ...) -> str:
    if key not in table:
        if default is ...:
            raise _fail(path, where + key, "is missing: expected a string")
        return default
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, where + key, f"expected a non-empty string, got {value!r}")
    return value.strip()


def parse_standard(path: Path, key: str, value: Any) -> Standard:
    if not isinstance(value, str) or not (m := _STANDARD.match(value)):
        raise _fail(path, key, f"expected a time standard like \"30m\", \"2h\" or \"1d\" (working days), got {value!r}")
    return Standard(int(m.group(1)), _UNIT[m.group(2).lower()])


def load_rules(path: Path) -> Rules:
    """Read and validate a rules file. Raises RulesError naming file, key and fix."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(f"{path}: no such rules file") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from None

    office = data.get("office", {})
    if not isinstance(office, dict):
        raise _fail(path, "office", "expected a table [office]")
    format_name = _str(path, office, "format", "office.", "complaint-format.toml")
    format_path = (path.parent / format_name).resolve()
    fmt = load_format(format_path)

    raw_roles = data.get("roles")
    if not isinstance(raw_roles, dict) or not raw_roles:
        raise _fail(path, "roles", "expected at least one [roles.<key>] table with name and members")
    roles: dict[str, Role] = {}
    for key, table in raw_roles.items():
        where = f"roles.{key}."
        if not re.fullmatch(r"[a-z][a-z0-9-]*", key):
            raise _fail(path, f"roles.{key}", "role keys are lower-case letters, digits and '-'")
        if key == CITIZEN:
            raise _fail(path, f"roles.{key}", f"'{CITIZEN}' is the complainant and cannot be a staff role")
        if not isinstance(table, dict):
            raise _fail(path, f"roles.{key}", "expected a table with name and members")
        members = table.get("members")
        if not isinstance(members, list) or not members or not all(isinstance(m, str) and "@" in m for m in members):
            raise _fail(path, where + "members", f"expected a list of e-mail addresses, got {members!r}")
        unknown = set(table) - {"name", "members"}
        if unknown:
            raise _fail(path, where + sorted(unknown)[0], "unknown key (expected name, members)")
        roles[key] = Role(key, _str(path, table, "name", where), tuple(m.strip().lower() for m in members))

    raw_sections = data.get("sections", {})
    if not isinstance(raw_sections, dict):
        raise _fail(path, "sections", "expected a table mapping section keys to role keys")
    sections: dict[str, str] = {}
    section_names: dict[str, str] = {}
    for key, value in raw_sections.items():
        if isinstance(value, dict):
            role_key = _str(path, value, "role", f"sections.{key}.")
            section_names[key] = _str(path, value, "name", f"sections.{key}.", key)
        else:
            role_key = value
            section_names[key] = key
        if role_key not in roles:
            raise _fail(path, f"sections.{key}", f"unknown role {role_key!r} (known: {', '.join(sorted(roles))})")
        sections[key] = role_key
    used_sections = {c.section for c in fmt.categories}

    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise _fail(path, "steps", "expected at least one [[steps]] table")
    steps: list[Step] = []
    seen: set[str] = set()
    for i, table in enumerate(raw_steps):
        where = f"steps[{i}]."
        if not isinstance(table, dict):
            raise _fail(path, f"steps[{i}]", "expected a table")
        key = _str(path, table, "key", where)
        if key in seen:
            raise _fail(path, where + "key", f"duplicate step key {key!r}")
        seen.add(key)
        role = _str(path, table, "role", where)
        if role not in roles and role not in (CITIZEN, SECTION_ROLE):
            raise _fail(
                path, where + "role",
                f"unknown role {role!r} (known: {', '.join(sorted(roles))}, or '{CITIZEN}', '{SECTION_ROLE}')",
            )
        if role == SECTION_ROLE:
            missing = sorted((used_sections | {"lainnya"}) - set(sections))
            if missing:
                raise _fail(path, "sections", f"no role for section {missing[0]!r}, which a step held by '{SECTION_ROLE}' needs")
        steps.append(
            Step(
                key=key,
                name=_str(path, table, "name", where),
                role=role,
                standard=parse_standard(path, where + "standard", table.get("standard")),
                output=table.get("output", ""),
            )
        )
    if all(s.role == CITIZEN for s in steps):
        raise _fail(path, "steps", "at least one step must be held by a staff role")

    return Rules(
        path=path,
        office=_str(path, office, "name", "office.", path.stem),
        sop=_str(path, office, "sop", "office.", ""),
        format=fmt,
        roles=roles,
        steps=tuple(steps),
        sections=sections,
        section_names=section_names,
    )
