"""Delivery-status reports (bounces): never answered. One about a mail we sent
on a complaint is recorded on that complaint (a ``bounced`` hop) and, for a
final failure, whoever can act is told: the holder when the citizen's address
failed, the admin alert address when a staff address did. A bounce of such a
notice is only logged (no loops)."""

from __future__ import annotations

from types import SimpleNamespace

from mailflow.config.settings import Settings
from mailflow.core.mail import InboundMail
from mailflow.core.vocabulary import HopKind, MailKind
from mailflow.desk.delivery import Delivery, Outcome
from mailflow.desk.letters import Letters
from mailflow.store import hoplog, queries
from mailflow.store.models import Complaint


class Bounces:
    def __init__(self, settings: Settings, letters: Letters):
        self.settings = settings
        self.letters = letters
        self.rules = letters.rules

    def handle(self, d: Delivery) -> Outcome:
        session, mail, verdict, message, now = d.session, d.mail, d.verdict, d.message, d.now
        ours = queries.outbound_by_message_id(session, verdict.bounced_message_id, self.settings.office.key) \
            if verdict.bounced_message_id else None
        failed = ", ".join(verdict.failed_recipients) or "address not stated"
        what = ("delay warning (not final)" if verdict.delayed else f"delivery failed for {failed}")
        if ours is None or ours.complaint_id is None:
            hoplog.record(session, HopKind.IGNORED, at=now, message=message, actor=mail.from_addr or hoplog.SYSTEM,
                          reason=f"bounce: {verdict.reason}; {what}"
                                 + (f"; of our <{ours.message_id}>, which is on no complaint" if ours is not None
                                    else f"; no mail of ours matches <{verdict.bounced_message_id or '?'}>")
                                 + "; no reply sent")
            return d.outcome("ignored", verdict.reason)
        complaint = session.get(Complaint, ours.complaint_id)
        assert complaint is not None  # a foreign key
        d.on(complaint)
        hoplog.record(session, HopKind.BOUNCED, at=now, message=message, complaint=complaint,
                      actor=mail.from_addr or hoplog.SYSTEM,
                      reason=f"our {ours.classification or 'mail'} <{ours.message_id}> to {ours.to_addrs}: {what}")
        if verdict.delayed or (ours.classification or "") == MailKind.BOUNCE_NOTICE:
            return d.outcome("bounced", what, complaint.number)
        to_citizen = (ours.classification or "").startswith("citizen/")
        alert = self.settings.office.alert_address
        role = self.rules.roles.get(complaint.holder_role or "") if to_citizen else None
        recipients = role.members if role is not None else (alert,)
        role_name = role.name if role is not None else "Administrator"
        if alert in verdict.failed_recipients:
            recipients = tuple(r for r in recipients if r != alert)
        if recipients:
            self.letters.to_staff(
                session, complaint, recipients, MailKind.BOUNCE_NOTICE, now, role=SimpleNamespace(name=role_name),
                failed=list(verdict.failed_recipients), bounced_kind=ours.classification or "",
                bounced_subject=ours.subject or "", bounced_at=ours.created_at, to_citizen=to_citizen,
                diagnostic=diagnostic(mail))
        return d.outcome("bounced", what, complaint.number)


def diagnostic(mail: InboundMail) -> str:
    """The reporting server's own words from a delivery-status report
    (Diagnostic-Code, else Status), for the bounce notice."""
    for name, limit, prefix in (("diagnostic-code", 300, ""), ("status", 50, "Status ")):
        for part in mail.report_parts:
            for line in part.text.splitlines():
                field, _, value = line.partition(":")
                if field.strip().lower() == name and value.strip():
                    return prefix + value.strip()[:limit]
    return ""
