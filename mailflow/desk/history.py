"""A complaint's history in short, for mail: the staff's ``#riwayat`` and the
citizen's status answer (issue 15 points 1 and 6).

Read from the hop log (``store/queries.hops_of``), in time order, as values
templates print: when, what (the hop kind's Indonesian label), who (a role's
name, never a person's address), where (step names), and for staff the note
written with a command. Personal data is masked: NIK/KK-like numbers (already
masked in the log), and the complainant's address and phone. The citizen sees
only what concerns them (no staff notes, no refused attempts, no reminders).
"""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy.orm import Session

from mailflow.core.identity import mask_ids_in_text
from mailflow.core.sop import Rules
from mailflow.core.text import shorten
from mailflow.core.vocabulary import HopKind
from mailflow.store import queries
from mailflow.store.models import Complaint, Hop

# What staff read in #riwayat (the mail traffic itself -- received, sent, parsed -- is left out).
STAFF_KINDS = frozenset({
    HopKind.REGISTERED, HopKind.FORWARDED, HopKind.RETURNED, HopKind.DRAFTED, HopKind.APPROVED,
    HopKind.ANSWERED, HopKind.INFO_REQUESTED, HopKind.ATTACHED, HopKind.NOTED, HopKind.REOPENED,
    HopKind.COMMENT, HopKind.REFUSED, HopKind.REMINDED, HopKind.OVERDUE, HopKind.CLOSED, HopKind.BOUNCED,
    HopKind.FAILED,
})
# What a citizen reads in their status answer.
CITIZEN_KINDS = frozenset({
    HopKind.REGISTERED, HopKind.FORWARDED, HopKind.RETURNED, HopKind.DRAFTED, HopKind.APPROVED,
    HopKind.INFO_REQUESTED, HopKind.ATTACHED, HopKind.REOPENED, HopKind.ANSWERED, HopKind.CLOSED,
})
# Hops whose reason carries a staff member's own words (after "#word to Role: ").
_NOTED = frozenset({HopKind.COMMENT, HopKind.INFO_REQUESTED})
_MOVES = frozenset({HopKind.FORWARDED, HopKind.RETURNED})
STAFF_LIMIT = 40  # the newest entries a #riwayat mail shows
CITIZEN_LIMIT = 12


def for_staff(session: Session, c: Complaint, rules: Rules) -> SimpleNamespace:
    """The history for a staff member: ``entries`` (newest last) and how many older ones were left out."""
    return _history(session, c, rules, STAFF_KINDS, STAFF_LIMIT, notes=True)


def for_citizen(session: Session, c: Complaint, rules: Rules) -> SimpleNamespace:
    """The history for the complainant: what happened, where and with which role; no notes."""
    return _history(session, c, rules, CITIZEN_KINDS, CITIZEN_LIMIT, notes=False)


def _history(session: Session, c: Complaint, rules: Rules, kinds: frozenset, limit: int, *,
             notes: bool) -> SimpleNamespace:
    hops = [h for h in queries.hops_of(session, c) if h.kind in kinds]
    shown = hops[-limit:]
    return SimpleNamespace(entries=[_entry(h, c, rules, notes) for h in shown], omitted=len(hops) - len(shown))


def _entry(h: Hop, c: Complaint, rules: Rules, notes: bool) -> SimpleNamespace:
    kind = HopKind(h.kind)
    return SimpleNamespace(at=h.at, what=kind.label, who=_who(h.actor, c, rules), where=_where(h, c, rules),
                           note=_note(h, c) if notes else "")


def _who(actor: str, c: Complaint, rules: Rules) -> str:
    if actor == c.complainant_email:
        return "pelapor"
    role = rules.member_role(actor) if "@" in actor else None
    if role is not None:
        return role.name
    return "mailflow" if "@" not in actor else "pihak lain"


def _step_name(key: str | None, rules: Rules) -> str:
    if not key:
        return ""
    try:
        return rules.step(key).name
    except KeyError:  # a status word ("registered") or a step the rules no longer have
        return ""


def _where(h: Hop, c: Complaint, rules: Rules) -> str:
    """Where the hop took the complaint: the step it moved to, and who holds that step."""
    if h.kind not in (*_MOVES, HopKind.DRAFTED, HopKind.APPROVED, HopKind.REOPENED):
        return ""
    name = _step_name(h.to_state, rules)
    if not name:
        return ""
    try:
        role = rules.role_for(rules.step(h.to_state or ""), c.section)
    except KeyError:
        role = None
    return f"{name} ({role.name})" if role is not None else name


def _note(h: Hop, c: Complaint) -> str:
    """The words staff wrote with the hop, personal data masked; "" if none."""
    text = ""
    if h.kind in _NOTED:
        text = h.reason
    elif h.kind in _MOVES and h.actor != "mailflow" and h.reason.startswith("#") and ": " in h.reason:
        text = h.reason.split(": ", 1)[1]
    if not text:
        return ""
    text = mask_ids_in_text(text)
    for personal in (c.complainant_email, c.phone, c.address):
        if personal:
            text = text.replace(personal, "***")
    return shorten(text, 160)
