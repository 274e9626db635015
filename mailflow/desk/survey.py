"""The satisfaction survey (Survei Kepuasan Masyarakat, SKM; core/survey.py).

``Survey.ask``: once a complaint is answered or closed, one mail
(``citizen/survey``) asks its recorded complainant -- only them, threaded to
their complaint, replies to the complaint's own reply address -- to rate the
service 1-4 by reply (and, optionally, the nine SKM elements). A
``survey_responses`` row is written with it; its unique complaint means a
complaint is never asked twice, whatever closes it again. The survey mail is
an automatic mail (``AUTOMATIC_KINDS``): it counts within
``limits.auto_replies_per_address_per_day`` and is not sent when that is
spent (then logged, and asked at the next closing if any).

``Survey.take``: a mail from the complainant on a closed complaint whose
survey was sent is a rating when ``core.commands.parse_rating`` finds one at
its start (on a reopened complaint their mail is for the staff, as before).
The first rating is recorded and thanked once (``citizen/survey-thanks``);
a later rating reply is logged and neither recorded again nor thanked: the
first counts, as SKM counts one questionnaire per respondent (Permenpan RB
14/2017). A mail that is not a rating goes the usual way (it may reopen the
complaint within the reopen window).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.core.commands import parse_rating
from mailflow.core.reply_text import reply_of
from mailflow.core.survey import ELEMENTS, SCALE, Rating
from mailflow.core.vocabulary import HopKind, MailKind, Status
from mailflow.desk.delivery import Delivery, Outcome
from mailflow.desk.letters import Letters
from mailflow.store import hoplog
from mailflow.store.models import SURVEY_ELEMENTS, Complaint, SurveyResponse


class Survey:
    def __init__(self, letters: Letters):
        self.letters = letters
        self.rules = letters.rules

    def ask(self, session: Session, complaint: Complaint, now: datetime, actor: str = hoplog.SYSTEM) -> bool:
        """Queue the one survey mail for ``complaint`` (answered or closed).
        False when the rules switch it off, it was asked before, or the
        complainant's automatic-mail limit is spent."""
        if not self.rules.survey.enabled or not complaint.complainant_email:
            return False
        asked = session.scalar(select(SurveyResponse.id).where(SurveyResponse.complaint_id == complaint.id))
        if asked is not None:
            return False
        if self.letters.budget_spent(session, complaint.complainant_email, now):
            hoplog.record(session, HopKind.IGNORED, at=now, complaint=complaint, actor=actor,
                          reason=f"no satisfaction survey: {complaint.complainant_email} already got "
                                 f"{self.letters.settings.limits.auto_replies_per_address_per_day} automatic mails "
                                 "in 24 hours")
            return False
        session.add(SurveyResponse(office=complaint.office, complaint_id=complaint.id, category=complaint.category,
                                   section=complaint.section, asked_at=now))
        self.letters.to_citizen(session, complaint, MailKind.SURVEY, now, scale=SCALE,
                                elements=[q for _, q in ELEMENTS] if self.rules.survey.elements else [])
        hoplog.record(session, HopKind.SURVEYED, at=now, complaint=complaint, actor=actor,
                      reason=f"satisfaction survey (SKM) sent to {complaint.complainant_email}")
        return True

    def take(self, d: Delivery, complaint: Complaint) -> Outcome | None:
        """The complainant's verified mail on ``complaint``: a rating if its
        survey was sent and the mail starts with one (None: not a rating)."""
        if complaint.status != Status.CLOSED:  # reopened: the citizen's mail is for the staff again
            return None
        row = d.session.scalar(select(SurveyResponse).where(SurveyResponse.complaint_id == complaint.id))
        if row is None:
            return None
        parsed = parse_rating(reply_of(d.mail).strip() or d.mail.text.strip())
        if parsed is None:
            return None
        overall, elements, comment = parsed
        rating = Rating(overall, elements)
        if row.rated_at is not None:
            row.later_replies += 1
            hoplog.record(d.session, HopKind.RATED, at=d.now, message=d.message, complaint=complaint,
                          actor=d.mail.from_addr,
                          reason="a later rating reply: not recorded (the first rating counts) and not thanked again")
            return d.outcome("rated", "again", complaint.number)
        row.rated_at = d.now
        row.overall = overall
        for column, score in zip(SURVEY_ELEMENTS, rating.scores()):
            setattr(row, column, score)
        row.comment = comment or None
        given = ", ".join(f"U{i}={s}" for i, s in enumerate(elements, 1) if s is not None)
        hoplog.record(d.session, HopKind.RATED, at=d.now, message=d.message, complaint=complaint,
                      actor=d.mail.from_addr,
                      reason=f"rating recorded: {overall if overall is not None else '-'}"
                             + (f" ({given})" if given else "") + ("; with a comment" if comment else ""))
        if self.letters.budget_spent(d.session, complaint.complainant_email, d.now):
            hoplog.record(d.session, HopKind.IGNORED, at=d.now, complaint=complaint,
                          reason="no thanks for the rating: the automatic-mail limit of the address is spent")
        else:
            self.letters.to_citizen(d.session, complaint, MailKind.SURVEY_THANKS, d.now, overall=overall,
                                    scale=SCALE, elements_given=sum(e is not None for e in elements),
                                    comment=bool(comment))
        return d.outcome("rated", "recorded", complaint.number)
