"""A complaint row and the ladder's ``State``: read one from the other, and
write a decided state back (the row, and the step visits that time it).

Only decisions of ``ladder.transition`` are written here: replies and the
deadline pass both apply their ``Result.state`` through ``apply_state``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from mailflow.core import ladder
from mailflow.core.sop import Rules
from mailflow.core.vocabulary import RUNNING_STATUSES, Status
from mailflow.store.models import Complaint
from mailflow.store.visits import close_visit, open_visit, open_waiting_visit


def state_of(c: Complaint) -> ladder.State:
    """The ladder's view of a complaint row."""
    return ladder.State(
        status=c.status, step=c.step or "", holder=c.holder_role, section=c.section, draft=c.draft,
        draft_role=c.draft_role, draft_step=c.draft_step, approved=bool(c.approved),
        answered_step=c.answered_step, answered_role=c.answered_role,
    )


def apply_state(session: Session, c: Complaint, s: ladder.State, rules: Rules, now: datetime) -> None:
    """Write state ``s`` to the complaint row. A change of step, holder or
    status closes the open step visit and, while staff hold it, opens the next
    (whose due time becomes the complaint's); waiting for the citizen opens
    the wait's own visit (``store.visits.open_waiting_visit``)."""
    changed = (c.step, c.holder_role, c.status) != (s.step, s.holder, s.status)
    if changed:
        close_visit(session, c, rules, now)
    c.status, c.step, c.holder_role = s.status, s.step, s.holder
    if changed:
        c.step_started_at = now
        # The clock runs while staff hold it; waiting for the citizen or closed: no due time.
        visit = open_visit(session, c, rules, now) if s.status in RUNNING_STATUSES else None
        c.due_at = visit.due_at if visit is not None else None
        if s.status == Status.WAITING_CITIZEN:
            # The citizen's clock (closing after silence): its own visit, no due time of the complaint's.
            open_waiting_visit(session, c, rules, now)
    c.draft, c.draft_role, c.draft_step, c.approved = s.draft, s.draft_role, s.draft_step, s.approved
    c.answered_step, c.answered_role = s.answered_step, s.answered_role
    c.updated_at = now
