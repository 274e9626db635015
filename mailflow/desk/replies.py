"""The ladder's IO edge: a mail on an existing complaint becomes a ladder event;
the pure state machine (``ladder.transition``) decides; this module applies the
resulting actions inside the intake's transaction (complaint row, outbox mail,
hop log).

Who may act (checked here, before the state machine):
- a staff command counts only when the mail came to the complaint's own reply
  address (its secret token), From: a member of a role in the rules, and the
  receiving server's Authentication-Results does not report a DKIM/SPF/DMARC
  failure for that domain. Anything else moves nothing: it is logged as
  ``refused`` and the holder is told.
- the complainant's own mail (From: their address) is added to the complaint
  (or reopens it within the window); it can never approve, answer or close.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from mailflow.store import hoplog

from mailflow.core import ladder
from mailflow.core.authres import authentication_failure
from mailflow.core.commands import has_confirmation, parse_command
from mailflow.core.message import InboundMail
from mailflow.store.models import Complaint, Message
from mailflow.edges.outbox import Outgoing, enqueue
from mailflow.core.reply_text import reply_of
from mailflow.core.sop import Role
from mailflow.store.visits import close_visit, open_visit

if TYPE_CHECKING:
    from mailflow.desk.intake import Intake, Outcome


def state_of(c: Complaint) -> ladder.State:
    return ladder.State(
        status=c.status, step=c.step or "", holder=c.holder_role, section=c.section, draft=c.draft,
        draft_role=c.draft_role, draft_step=c.draft_step, approved=bool(c.approved),
        answered_step=c.answered_step, answered_role=c.answered_role,
    )


def _store(session: Session, c: Complaint, s: ladder.State, now: datetime, rules) -> None:
    changed = (c.step, c.holder_role, c.status) != (s.step, s.holder, s.status)
    if changed:
        close_visit(session, c, rules, now)
    c.status, c.step, c.holder_role = s.status, s.step, s.holder
    if changed:
        c.step_started_at = now
        # The clock runs while staff hold it; waiting for the citizen or closed: no due time.
        running = s.status in (ladder.REGISTERED, ladder.IN_PROGRESS, ladder.AWAITING_APPROVAL)
        visit = open_visit(session, c, rules, now) if running else None
        c.due_at = visit.due_at if visit is not None else None
    c.draft, c.draft_role, c.draft_step, c.approved = s.draft, s.draft_role, s.draft_step, s.approved
    c.answered_step, c.answered_role = s.answered_step, s.answered_role
    c.updated_at = now


class Workflow:
    def __init__(self, intake: Intake):
        self.intake = intake
        self.rules = intake.rules
        self.settings = intake.settings
        self.renderer = intake.renderer

    # ------------------------------------------------------------------ entry points
    def follow_up(self, session: Session, mail: InboundMail, message: Message, complaint: Complaint,
                  via_token: bool, now: datetime) -> Outcome | None:
        """A mail on an existing complaint. Returns None to treat it as a new complaint."""
        sender = mail.from_addr
        role = self._role_of(sender, complaint)
        if role is not None:
            message.complaint_id = complaint.id
            problem = None
            if not via_token:
                problem = ("the reply did not come to the complaint's own reply address "
                           "(a staff address without the reply token)")
            elif self.settings.office.check_authentication_results:
                fail = authentication_failure(mail.headers.get("authentication-results", ()),
                                              {sender.rpartition("@")[2]})
                if fail:
                    problem = f"sender authentication failed ({fail})"
            if problem:
                return self._unauthorized(session, mail, message, complaint, problem, now)
            return self._command(session, mail, message, complaint, role, now)

        if sender == complaint.complainant_email:
            message.complaint_id = complaint.id
            window = timedelta(days=self.rules.answer.reopen_days)
            within = complaint.answered_at is None or now - complaint.answered_at <= window
            text = reply_of(mail).strip() or mail.text.strip()
            result = ladder.transition(state_of(complaint), ladder.CitizenMail(text, within), self.rules)
            return self._apply(session, mail, message, complaint, result, sender, now)

        if via_token:
            # Someone outside the ladder holds the secret address: log and tell the holder.
            message.complaint_id = complaint.id
            return self._unauthorized(session, mail, message, complaint,
                                      "the sender is neither the complainant nor a member of a role", now)
        return None

    def auto_reply(self, session: Session, mail: InboundMail, message: Message, complaint: Complaint,
                   role: Role, now: datetime) -> Outcome:
        result = ladder.transition(state_of(complaint), ladder.AutoReply(role.key, _excerpt(mail.text)), self.rules)
        return self._apply(session, mail, message, complaint, result, mail.from_addr, now, outcome="ignored")

    # ------------------------------------------------------------------ staff
    def _role_of(self, address: str, complaint: Complaint) -> Role | None:
        holder = self.rules.roles.get(complaint.holder_role or "")
        if holder is not None and address in holder.members:
            return holder
        return self.rules.member_role(address)

    def _command(self, session, mail, message, complaint, role: Role, now) -> Outcome:
        text = reply_of(mail)
        cmd = parse_command(text)
        if cmd.explicit and not cmd.word:
            result = ladder.Result(state_of(complaint), (ladder.Refuse(
                f"perintah #{cmd.raw_word} tidak dikenal"),))
        else:
            step = self.rules.step(complaint.step) if complaint.step else None
            confirmed = bool(step and step.confirm and has_confirmation(text, step.confirm))
            event = ladder.Command(cmd.word, cmd.text, role.key, confirmed)
            result = ladder.transition(state_of(complaint), event, self.rules)
        return self._apply(session, mail, message, complaint, result, mail.from_addr, now, word=cmd.word)

    def _unauthorized(self, session, mail, message, complaint, problem: str, now) -> Outcome:
        from mailflow.desk.intake import Outcome

        hoplog.record(session, "refused", at=now, message=message, complaint=complaint, actor=mail.from_addr,
                      reason=f"nothing changed: {problem}")
        holder = self.rules.roles.get(complaint.holder_role or "")
        if holder is not None:
            self._mail_role(session, complaint, holder, "staff/unauthorized-attempt", now, role=_named(holder),
                            sender=mail.from_addr, reason=_indonesian_problem(problem),
                            attempted_subject=mail.subject)
        return Outcome("refused", problem, complaint.number, message.id)

    # ------------------------------------------------------------------ applying actions
    def _apply(self, session, mail, message, complaint: Complaint, result: ladder.Result, actor: str, now,
               word: str = "", outcome: str | None = None) -> Outcome:
        from mailflow.desk.intake import Outcome

        before = state_of(complaint)
        after = result.state
        action_name = outcome or ("refused" if result.refused else "attached")
        for act in result.actions:
            if isinstance(act, ladder.Refuse):
                from mailflow.desk.intake import answers_budget_spent

                hoplog.record(session, "refused", at=now, message=message, complaint=complaint, actor=actor,
                              reason=f"#{word or '?'} refused: {act.reason}")
                if answers_budget_spent(session, self.settings, actor, now):
                    hoplog.record(session, "ignored", at=now, message=message, complaint=complaint,
                                  reason=f"no reply: {actor} already got "
                                         f"{self.settings.limits.auto_replies_per_sender_per_day} automatic "
                                         "replies in 24 hours (a mail loop?)")
                else:
                    self._mail_person(session, complaint, actor, "staff/refused", now, reason=act.reason,
                                      commands=self._commands(before), original_subject=mail.subject,
                                      in_reply_to=mail)
                return Outcome("refused", act.reason, complaint.number, message.id)

        _store(session, complaint, after, now, self.rules)
        for act in result.actions:
            if isinstance(act, ladder.Note):
                hoplog.record(session, "comment", at=now, message=message, complaint=complaint, actor=actor,
                              reason=act.text or "(catatan kosong)")
            elif isinstance(act, ladder.Move):
                role = self.rules.roles[act.role]
                kind = {"teruskan": "forwarded", "kembalikan": "returned", "tolak": "returned"}.get(act.word, "forwarded")
                hoplog.record(session, kind, at=now, message=message, complaint=complaint, actor=actor,
                              from_state=before.step, to_state=act.step,
                              reason=f"#{act.word} to {role.name}" + (f": {act.note}" if act.note else ""))
                step = self.rules.step(act.step)
                from_role = self.rules.roles.get(before.holder or "")
                self._mail_role(session, complaint, role, "staff/handover", now, role=_named(role),
                                step=SimpleNamespace(name=step.name, standard_minutes=step.standard.minutes),
                                from_role=_named(from_role) if from_role else SimpleNamespace(name=actor),
                                word=act.word, note=act.note, commands=self._commands(after))
            elif isinstance(act, ladder.RequestApproval):
                role = self.rules.roles[act.role]
                drafter = self.rules.roles.get(after.draft_role or "")
                hoplog.record(session, "drafted", at=now, message=message, complaint=complaint, actor=actor,
                              from_state=before.step, to_state=after.step,
                              reason=f"answer drafted; awaiting approval by {role.name}")
                self._mail_role(session, complaint, role, "staff/approval-request", now, role=_named(role),
                                drafter=_named(drafter) if drafter else SimpleNamespace(name=actor),
                                draft=act.draft, commands=self._commands(after))
            elif isinstance(act, ladder.ConfirmSend):
                role = self.rules.roles[act.role]
                approver = self.rules.roles.get(before.holder or "")
                hoplog.record(session, "approved", at=now, message=message, complaint=complaint, actor=actor,
                              from_state=before.step, to_state=after.step,
                              reason=f"answer approved; {role.name} sends it")
                self._mail_role(session, complaint, role, "staff/send-confirmation", now, role=_named(role),
                                approver=_named(approver) if approver else SimpleNamespace(name=actor),
                                draft=act.draft, commands=self._commands(after))
            elif isinstance(act, ladder.SendAnswer):
                answered_by = self.rules.roles.get(after.answered_role or "")
                hoplog.record(session, "answered", at=now, message=message, complaint=complaint, actor=actor,
                              from_state=before.step, to_state=ladder.CLOSED,
                              reason=f"answer sent to {complaint.complainant_email}")
                self._mail_citizen(session, complaint, "citizen/answer", now, answer=act.text,
                                   answered_by=_named(answered_by) if answered_by else SimpleNamespace(name="-"),
                                   reopen_days=self.rules.answer.reopen_days)
                complaint.answered_at = now
            elif isinstance(act, ladder.AskCitizen):
                asker = self.rules.roles.get(before.holder or "")
                hoplog.record(session, "info-requested", at=now, message=message, complaint=complaint, actor=actor,
                              from_state=before.status, to_state=after.status, reason=act.text)
                self._mail_citizen(session, complaint, "citizen/info-request", now, question=act.text,
                                   asked_by=_named(asker) if asker else SimpleNamespace(name="-"))
            elif isinstance(act, ladder.TellHolder):
                role = self.rules.roles.get(act.role or "")
                reopened = act.what == "reopened"
                hoplog.record(session, "reopened" if reopened else "attached", at=now, message=message,
                              complaint=complaint, actor=actor, from_state=before.status, to_state=after.status,
                              reason="the complainant replied after the answer" if reopened
                              else "further mail from the complainant")
                if role is not None:
                    self._mail_role(session, complaint, role, "staff/citizen-follow-up", now, role=_named(role),
                                    follow_up_text=act.text, reopened=reopened, attach=message.raw)
            elif isinstance(act, ladder.TellDeputies):
                role = self.rules.roles[act.role]
                hoplog.record(session, "ignored", at=now, message=message, complaint=complaint, actor=actor,
                              reason=f"automatic reply from {role.name}; not an action, not forwarded to the citizen"
                                     + (f"; deputies told: {', '.join(role.deputies)}" if role.deputies else ""))
                if role.deputies:
                    self._mail_to(session, complaint, role.deputies, "staff/deputy-notice", now, role=_named(role),
                                  member=actor, auto_text=act.text, commands=self._commands(after))
            elif isinstance(act, ladder.Close):
                complaint.closed_at = now
                hoplog.record(session, "closed", at=now, complaint=complaint, actor=actor,
                              from_state=before.step, to_state=ladder.CLOSED,
                              reason="answered and archived" if act.with_answer else "finished")
            elif isinstance(act, ladder.NewLinkedComplaint):
                return self.intake.register(
                    session, mail, message, now, category_key=complaint.category, category_name=complaint.category_name,
                    section=complaint.section, name=complaint.complainant_name, nik=complaint.nik, kk=complaint.kk,
                    phone=complaint.phone, address=complaint.address, description=act.text or complaint.description,
                    reason=f"reply after the reopen window of {complaint.number}; new complaint linked to it",
                    parent=complaint)
        return Outcome(action_name, word, complaint.number, message.id)

    # ------------------------------------------------------------------ mail helpers
    def _commands(self, state: ladder.State) -> list[SimpleNamespace]:
        from mailflow.desk.intake import command_help

        return command_help(state, self.rules)

    def _base(self, complaint: Complaint, now: datetime) -> dict:
        return dict(office=self.intake.office_ctx, now=now, complaint=self.intake._complaint_ctx(complaint),
                    reply_address=self.intake.reply_address(complaint))

    def _mail_role(self, session, complaint, target: Role, template: str, now, *, attach: bytes | None = None, **ctx):
        self._mail_to(session, complaint, target.members, template, now, attach=attach, **ctx)

    def _mail_to(self, session, complaint, to, template: str, now, *, attach: bytes | None = None, **ctx):
        rendered = self.renderer.render(template, **self._base(complaint, now), **ctx)
        out = enqueue(session, self.settings, Outgoing(
            kind=template, to=tuple(to), subject=rendered.subject, body=rendered.body,
            reply_to=self.intake.reply_address(complaint), auto_submitted="auto-generated", attach_raw=attach,
        ), now=now, complaint=complaint)
        return out

    def _mail_person(self, session, complaint, address: str, template: str, now, *, in_reply_to: InboundMail, **ctx):
        rendered = self.renderer.render(template, **self._base(complaint, now), **ctx)
        enqueue(session, self.settings, Outgoing(
            kind=template, to=(address,), subject=rendered.subject, body=rendered.body,
            in_reply_to=in_reply_to.message_id, references=in_reply_to.references,
            reply_to=self.intake.reply_address(complaint), auto_submitted="auto-replied",
        ), now=now, complaint=complaint)

    def _mail_citizen(self, session, complaint: Complaint, template: str, now, **ctx):
        """Mail to the citizen, threaded to their original complaint mail."""
        source = session.get(Message, complaint.source_message_pk) if complaint.source_message_pk else None
        parent_id = source.message_id if source is not None else None
        rendered = self.renderer.render(template, **self._base(complaint, now),
                                        original_subject=source.subject if source is not None else "", **ctx)
        enqueue(session, self.settings, Outgoing(
            kind=template, to=(complaint.complainant_email,), subject=rendered.subject, body=rendered.body,
            in_reply_to=parent_id, references=(parent_id,) if parent_id else (), auto_submitted="auto-replied",
        ), now=now, complaint=complaint)


def _named(role) -> SimpleNamespace:
    return SimpleNamespace(name=role.name)


def _excerpt(text: str, limit: int = 500) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _indonesian_problem(problem: str) -> str:
    if "reply token" in problem or "reply address" in problem:
        return "balasan tidak dikirim ke alamat balasan khusus aduan ini (kemungkinan alamat pengirim dipalsukan)"
    if "authentication" in problem:
        return f"pemeriksaan keaslian pengirim gagal ({problem.split('(')[-1].rstrip(')')})"
    return "pengirim bukan pelapor dan bukan petugas yang berwenang"
