"""Load an office's rules file (``rules/*.toml``) into ``mailflow.core.sop.Rules``.

Every error names the file, the key and the fix, e.g.
``rules/bantul-email.toml: key 'steps[3].role': unknown role 'kasi-identitass'
(known: admin, kabid, ...)``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from mailflow.config.calendar import calendar_from_table
from mailflow.config.complaint_format import load_format
from mailflow.core.sop import (BREACH_ACTIONS, CITIZEN, COMMAND_WORDS, SECTION_ROLE, SPECIAL_TARGETS, AnswerRules,
                               DeadlineRules, Role, Rules, Step, Standard, parse_standard)
from mailflow.errors import RulesError


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


def _standard(path: Path, key: str, value: Any) -> Standard:
    try:
        return parse_standard(value)
    except ValueError:
        raise _fail(path, key, f"expected a time standard like \"30m\", \"2h\" or \"1d\" (working days), got {value!r}") from None


def load_rules(path: Path, default_timezone: str = "Asia/Jakarta") -> Rules:
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
        unknown = set(table) - {"name", "members", "rank", "deputies"}
        if unknown:
            raise _fail(path, where + sorted(unknown)[0], "unknown key (expected name, members, rank, deputies)")
        rank = table.get("rank", 1)
        if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
            raise _fail(path, where + "rank", f"expected a whole number >= 1, got {rank!r}")
        deputies = table.get("deputies", [])
        if not isinstance(deputies, list) or not all(isinstance(d, str) and "@" in d for d in deputies):
            raise _fail(path, where + "deputies", f"expected a list of e-mail addresses, got {deputies!r}")
        roles[key] = Role(key, _str(path, table, "name", where), tuple(m.strip().lower() for m in members),
                          rank, tuple(d.strip().lower() for d in deputies))

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
        unknown = set(table) - {"key", "name", "role", "standard", "output", "actions", "auto", "confirm"}
        if unknown:
            raise _fail(path, where + sorted(unknown)[0],
                        "unknown key (expected key, name, role, standard, output, actions, auto, confirm)")
        actions = table.get("actions", {})
        if not isinstance(actions, dict):
            raise _fail(path, where + "actions", "expected a table of command word = target")
        for word, target in actions.items():
            if word not in COMMAND_WORDS:
                raise _fail(path, f"{where}actions.{word}", f"unknown command word (known: {', '.join(COMMAND_WORDS)})")
            if not isinstance(target, str):
                raise _fail(path, f"{where}actions.{word}", f"expected a step key or one of {', '.join(SPECIAL_TARGETS)}")
            if target.startswith("@") and word not in SPECIAL_TARGETS.get(target, ()):
                raise _fail(path, f"{where}actions.{word}",
                            f"{target!r} is not a target for #{word} (known targets: {', '.join(SPECIAL_TARGETS)}, or a step key)")
        auto = table.get("auto", role == CITIZEN)
        if not isinstance(auto, bool):
            raise _fail(path, where + "auto", f"expected true or false, got {auto!r}")
        if not auto and not actions:
            raise _fail(path, where + "actions", "a step held by staff needs at least one action (or auto = true)")
        steps.append(
            Step(
                key=key,
                name=_str(path, table, "name", where),
                role=role,
                standard=_standard(path, where + "standard", table.get("standard")),
                output=table.get("output", ""),
                actions=dict(actions),
                auto=auto,
                confirm=_str(path, table, "confirm", where, ""),
            )
        )
    if all(s.role == CITIZEN or s.auto for s in steps):
        raise _fail(path, "steps", "at least one step must be held by a staff role with actions")
    keys = {s.key for s in steps}
    for i, step in enumerate(steps):
        for word, target in step.actions.items():
            if not target.startswith("@") and target not in keys:
                raise _fail(path, f"steps[{i}].actions.{word}",
                            f"unknown step {target!r} (known: {', '.join(sorted(keys))})")

    raw_answer = data.get("answer", {})
    if not isinstance(raw_answer, dict):
        raise _fail(path, "answer", "expected a table [answer]")
    unknown = set(raw_answer) - {"min_rank", "approver", "send_step", "reopen_days", "approval_standard"}
    if unknown:
        raise _fail(path, "answer." + sorted(unknown)[0],
                    "unknown key (expected min_rank, approver, send_step, reopen_days, approval_standard)")
    approver = raw_answer.get("approver", "")
    if approver and approver not in roles and approver != SECTION_ROLE:
        raise _fail(path, "answer.approver", f"unknown role {approver!r} (known: {', '.join(sorted(roles))}, or '{SECTION_ROLE}')")
    send_step = raw_answer.get("send_step", "")
    if send_step and send_step not in keys:
        raise _fail(path, "answer.send_step", f"unknown step {send_step!r} (known: {', '.join(sorted(keys))})")
    for key_name in ("min_rank", "reopen_days"):
        v = raw_answer.get(key_name, 1)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise _fail(path, f"answer.{key_name}", f"expected a whole number, got {v!r}")
    answer = AnswerRules(
        min_rank=raw_answer.get("min_rank", 1),
        approver=approver,
        send_step=send_step,
        reopen_days=raw_answer.get("reopen_days", 7),
        approval_standard=_standard(path, "answer.approval_standard", raw_answer.get("approval_standard", "30m")),
    )
    if any(s.actions.get("jawab") == "@answer" for s in steps) and answer.min_rank > 1 and not approver:
        raise _fail(path, "answer.approver", "a draft from below answer.min_rank needs an approver role")

    return Rules(
        path=path,
        office=_str(path, office, "name", "office.", path.stem),
        sop=_str(path, office, "sop", "office.", ""),
        format=fmt,
        roles=roles,
        steps=tuple(steps),
        sections=sections,
        section_names=section_names,
        answer=answer,
        calendar=calendar_from_table(path, data.get("calendar"), default_timezone=default_timezone),
        deadlines=_deadlines(path, data.get("deadlines", {}), roles),
    )


def _deadlines(path: Path, table: Any, roles: dict[str, Role]) -> DeadlineRules:
    if not isinstance(table, dict):
        raise _fail(path, "deadlines", "expected a table [deadlines]")
    unknown = set(table) - {"remind_share", "on_breach", "report_to"}
    if unknown:
        raise _fail(path, "deadlines." + sorted(unknown)[0], "unknown key (expected remind_share, on_breach, report_to)")
    share = table.get("remind_share", 0.8)
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share < 1:
        raise _fail(path, "deadlines.remind_share", f"expected a share between 0 and 1 such as 0.8, got {share!r}")
    on_breach = table.get("on_breach", "notify-next")
    if on_breach not in BREACH_ACTIONS:
        raise _fail(path, "deadlines.on_breach", f"expected one of {', '.join(BREACH_ACTIONS)}, got {on_breach!r}")
    report_to = table.get("report_to", [])
    if not isinstance(report_to, list) or any(r not in roles for r in report_to):
        bad = next((r for r in report_to if r not in roles), report_to) if isinstance(report_to, list) else report_to
        raise _fail(path, "deadlines.report_to", f"unknown role {bad!r} (known: {', '.join(sorted(roles))})")
    return DeadlineRules(float(share), on_breach, tuple(report_to))
