"""IMAP checkpoints: per mailbox folder, its UIDVALIDITY and the highest UID
whose mail has been handled (``mailbox_state``)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from mailflow.store.models import MailboxState

log = logging.getLogger("mailflow.daemon")

# Raise the stored last UID (a Core statement built once: no ORM work per mail).
_ADVANCE = (update(MailboxState)
            .where(MailboxState.office == bindparam("b_office"), MailboxState.mailbox == bindparam("b_mailbox"),
                   MailboxState.last_uid < bindparam("b_uid"))
            .values(last_uid=bindparam("b_uid"), updated_at=bindparam("b_now")))


def checkpoint(session: Session, office: str, folder: str, uidvalidity: int, now: datetime,
               by: str | None = None) -> int | None:
    """The last UID handled in ``folder``, or None when there is no usable
    checkpoint: the folder is new to mailflow, or its UIDVALIDITY changed
    (the mailbox was rebuilt); the checkpoint then restarts at 0 and the
    caller looks at everything (de-duplication by Message-ID keeps that harmless).
    Records the look: ``now``, and ``by`` (the process, host:pid)."""
    state = session.get(MailboxState, (office, folder))
    if state is not None and state.uidvalidity == uidvalidity:
        state.checked_at, state.checked_by = now, by
        return state.last_uid
    if state is not None:
        log.warning("UIDVALIDITY of %s changed (%s -> %s): the mailbox was rebuilt; re-scanning it all "
                    "(already handled mail is recognised by Message-ID)", folder, state.uidvalidity, uidvalidity)
        state.uidvalidity, state.last_uid, state.updated_at = uidvalidity, 0, now
        state.checked_at, state.checked_by = now, by
    else:
        session.add(MailboxState(office=office, mailbox=folder, uidvalidity=uidvalidity, last_uid=0, updated_at=now,
                                 checked_at=now, checked_by=by))
    return None


def advance(session: Session, office: str, folder: str, uid: int, now: datetime) -> None:
    """Raise the stored last UID of the office's ``folder`` to ``uid``, in the caller's transaction (one UPDATE)."""
    session.connection().execute(_ADVANCE, {"b_office": office, "b_mailbox": folder, "b_uid": uid, "b_now": now})
