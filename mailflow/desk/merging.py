"""Merging a duplicate complaint into another (issue #15 point 3): a staff
``#gabung ADU/2026/000123`` reply on the duplicate, or ``mailflow merge A B``.

The desk finds the target and what the ladder needs to know of it
(``ladder.MergeTarget``: its status, whether it has the same complainant);
the ladder decides (``ladder.Merge`` -> ``MergeInto`` or ``Refuse``); this
module applies the decision: the duplicate closed as ``merged`` and pointed at
the survivor (``merged_into_id``; complaints merged into the duplicate before
now point at the survivor too, so there is never a chain), a ``merged`` hop on
both, and one mail to the citizen naming the number to follow. Later mail on
the duplicate is filed on the survivor (``desk.delivery.Matcher``).

Also the intake's hint: a new complaint of the same complainant (address or
NIK) and service as one registered within ``[merge] duplicate_days`` days is
named in the staff forward, with the ``#gabung`` reply that merges it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import update
from sqlalchemy.orm import Session

from mailflow.core import ladder
from mailflow.core.render import localtime
from mailflow.core.vocabulary import HopKind, MailKind, Status
from mailflow.desk.letters import Letters, number_regex
from mailflow.desk.state import apply_state, state_of
from mailflow.store import hoplog, queries
from mailflow.store.models import Complaint, Message


def same_complainant(a: Complaint, b: Complaint) -> bool:
    """The same person by the desk's records: the same address, or the same NIK."""
    return a.complainant_email.lower() == b.complainant_email.lower() or (bool(a.nik) and a.nik == b.nik)


@dataclass(frozen=True)
class MergeDone:
    """What a merge did (or why it did not): for the CLI and the intake's outcome."""

    duplicate: str
    target: str
    merged: bool
    reason: str = ""  # the refusal, in Bahasa Indonesia (empty when merged)


class Merging:
    def __init__(self, letters: Letters):
        self.letters = letters
        self.rules = letters.rules
        self.settings = letters.settings
        self._number = number_regex(self.settings.office.register_pattern)

    # ------------------------------------------------------------------ deciding
    def number_in(self, text: str) -> str:
        """The register number written after #gabung (the first one), or the first word."""
        m = self._number.search(text)
        if m:
            return m.group(0)
        words = text.split()
        return words[0] if words else ""

    def event(self, session: Session, dup: Complaint, number: str, *, actor_role: str | None = None,
              by_admin: bool = False) -> tuple[ladder.Merge, Complaint | None]:
        """The ladder's event for merging ``dup`` into the office's complaint
        ``number``, and that complaint's row (None if the office has none)."""
        found = queries.complaint_by_number(session, number, dup.office) if number else None
        target = None
        if found is not None:
            target = ladder.MergeTarget(found.number, found.status, same_complainant(dup, found),
                                        is_self=found.id == dup.id)
        return ladder.Merge(number, target, actor_role, by_admin), found

    # ------------------------------------------------------------------ applying
    def merge_into(self, session: Session, dup: Complaint, survivor: Complaint, *, actor: str, now: datetime,
                   message: Message | None = None) -> None:
        """Apply ``MergeInto``: ``dup`` (already in its merged state) closed and
        pointed at ``survivor``; the hops on both; the citizen's one mail."""
        dup.closed_at, dup.closed_reason, dup.merged_into_id = now, "merged", survivor.id
        # Complaints merged into the duplicate earlier now point at the survivor: never a chain.
        session.execute(update(Complaint).where(Complaint.merged_into_id == dup.id)
                        .values(merged_into_id=survivor.id).execution_options(synchronize_session=False))
        hoplog.record(session, HopKind.MERGED, at=now, message=message, complaint=dup, actor=actor,
                      from_state=dup.step, to_state=Status.MERGED,
                      reason=f"merged into {survivor.number} (a duplicate); later mail is filed there")
        hoplog.record(session, HopKind.MERGED, at=now, complaint=survivor, actor=actor,
                      reason=f"{dup.number} merged into this complaint (a duplicate); its later mail is filed here")
        self.letters.to_citizen(session, dup, MailKind.MERGED_NOTICE, now, survivor=SimpleNamespace(
            number=survivor.number, created_at=survivor.created_at))

    def merge(self, session: Session, dup: Complaint, number: str, *, actor: str, now: datetime) -> MergeDone:
        """``mailflow merge``: the admin merges ``dup`` into ``number``, as the
        ladder decides (the same checks as a #gabung reply but the holder's)."""
        session.info[hoplog.OFFICE] = dup.office
        event, found = self.event(session, dup, number, by_admin=True)
        result = ladder.transition(state_of(dup), event, self.rules)
        refusal = next((a for a in result.actions if isinstance(a, ladder.Refuse)), None)
        if refusal is not None:
            return MergeDone(dup.number, found.number if found else number, False, refusal.reason)
        assert found is not None
        apply_state(session, dup, result.state, self.rules, now)
        for act in result.actions:
            if isinstance(act, ladder.MergeInto):
                self.merge_into(session, dup, found, actor=actor, now=now)
        return MergeDone(dup.number, found.number, True)

    # ------------------------------------------------------------------ the intake's hint
    def duplicate_hints(self, session: Session, c: Complaint, now: datetime) -> list[str]:
        """Lines for the staff forward of the new complaint ``c``: the office's
        complaints of the same complainant and service within the rules'
        ``[merge] duplicate_days`` (none when it is 0)."""
        days = self.rules.merge.duplicate_days
        if days <= 0:
            return []
        zone = self.settings.office.timezone
        return [f"Kemungkinan duplikat: aduan {other.number} (diterima {localtime(other.created_at, zone)}, "
                f"{Status(other.status).label}) dari pelapor yang sama untuk layanan yang sama. Jika isinya sama, "
                f"balas surel ini dengan: #gabung {other.number}"
                for other in queries.possible_duplicates(session, c, now - timedelta(days=days))]
