"""Replies on an existing complaint: decide who may act, ask the ladder what
the mail does (``ladder.transition``), then apply the resulting actions inside
the intake's transaction (complaint row, outbox mail, hop log).

Who may act (decided here, before the state machine; docs/SECURITY.md):
- a staff command counts only when the mail came to the complaint's own reply
  address (its secret token), From: a member of a role in the rules, and --
  where the office's receiving server stamps Authentication-Results
  (``[security] authserv_ids``) -- that server verified the From: domain
  (``require_authentication``) or at least did not find it failing. Anything
  else moves nothing: it is logged as ``refused`` and the holder is told.
- the complainant's own mail counts as theirs only through the complaint's
  reply address, or with a From: the office's server verified: then it is
  added to the complaint (or reopens it within the window, or after it starts
  a new complaint); it can never approve, answer or close. A mail From: the
  complainant found any other way (a register number in the subject, a
  quoted Message-ID) is only a note, unverified, for the holder.
- the complainant's "#status" is answered by desk/status.py and changes
  nothing; a holder's "#bantuan" / "#riwayat" is answered by mail (the row
  is not touched).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from mailflow.config.settings import Settings
from mailflow.core import ladder
from mailflow.core.commands import has_confirmation, parse_command
from mailflow.core.reply_text import reply_of
from mailflow.core.sop import Role
from mailflow.core.text import shorten
from mailflow.core.vocabulary import HopKind, MailKind, Word
from mailflow.desk import history
from mailflow.desk.delivery import Delivery, Outcome
from mailflow.desk.letters import Letters, named
from mailflow.desk.merging import Merging
from mailflow.desk.registration import Registration
from mailflow.desk.state import apply_state, state_of
from mailflow.desk.status import StatusDesk
from mailflow.desk.survey import Survey
from mailflow.store import hoplog, queries
from mailflow.store.models import Complaint

# The hop a move down or up the ladder is logged as, by the command that made it.
_MOVE_HOPS: dict[str, HopKind] = {Word.TERUSKAN: HopKind.FORWARDED, Word.KEMBALIKAN: HopKind.RETURNED, Word.TOLAK: HopKind.RETURNED}


# Actions that only ask for a mail: the complaint row is left as it is.
_ASKING = (ladder.SendHelp, ladder.SendHistory)


@dataclass
class _Applying:
    """One ladder result being applied to one complaint."""

    d: Delivery
    complaint: Complaint
    before: ladder.State
    after: ladder.State
    actor: str


class Replies:
    def __init__(self, settings: Settings, letters: Letters, registration: Registration, status: StatusDesk):
        self.settings = settings
        self.letters = letters
        self.rules = letters.rules
        self.registration = registration
        self.status = status
        self.survey = Survey(letters)  # the satisfaction survey: asked at the closing, its rating read here
        # What each action of the ladder does here (one applier per action type).
        self._appliers: dict[type, Callable[[_Applying, Any], Outcome | None]] = {
            ladder.Note: self._note,
            ladder.Move: self._move,
            ladder.RequestApproval: self._request_approval,
            ladder.ConfirmSend: self._confirm_send,
            ladder.SendAnswer: self._send_answer,
            ladder.AskCitizen: self._ask_citizen,
            ladder.TellHolder: self._tell_holder,
            ladder.TellDeputies: self._tell_deputies,
            ladder.Close: self._close,
            ladder.NewLinkedComplaint: self._new_linked,
            ladder.SendHelp: self._send_help,
            ladder.SendHistory: self._send_history,
            ladder.MergeInto: self._merge_into,
        }
        self.merging = Merging(letters)

    # ------------------------------------------------------------------ entry points
    def follow_up(self, d: Delivery) -> Outcome | None:
        """A mail on an existing complaint. Returns None to treat it as a new complaint."""
        complaint, via_token = d.match.complaint, d.match.via_token
        assert complaint is not None
        sender = d.mail.from_addr
        role = self._role_of(sender, complaint)
        if role is not None:
            d.on(complaint)
            problem = self._unauthorised(d, via_token)
            if problem:
                return self._refuse_sender(d, complaint, problem)
            return self._command(d, complaint, role)

        if sender == complaint.complainant_email:
            d.on(complaint)
            if self.status.asks(d):  # "#status": answered by mail, never a follow-up (issue 15 point 1)
                return self.status.answer(d, complaint, via_token)
            if not (via_token or (self.settings.security.require_authentication and d.check.passed)):
                return self._unverified(d, complaint)
            rated = self.survey.take(d, complaint)
            if rated is not None:  # a rating reply to the survey: recorded, never a reopening
                return rated
            window = timedelta(days=self.rules.answer.reopen_days)
            # The window runs from the answer, or from the close when nothing was answered (Bima's
            # @close with reopen_days = 0: a later mail is a new, linked proposal, not a reopen; a
            # complaint closed after silence: reopened within the window from its closing).
            since = complaint.answered_at or complaint.closed_at
            within = since is None or d.now - since <= window
            text = reply_of(d.mail).strip() or d.mail.text.strip()
            result = ladder.transition(state_of(complaint), ladder.CitizenMail(text, within), self.rules)
            return self._apply(d, complaint, result, sender)

        if via_token:
            # Someone outside the ladder holds the secret address: log and tell the holder.
            d.on(complaint)
            return self._refuse_sender(d, complaint, "the sender is neither the complainant nor a member of a role")
        return None

    def is_staff_auto_reply(self, d: Delivery) -> bool:
        """An automatic reply (out-of-office) from a staff member, on a complaint."""
        return d.match.complaint is not None and self.rules.member_role(d.mail.from_addr) is not None

    def auto_reply(self, d: Delivery) -> Outcome:
        """A staff member's out-of-office on a complaint: logged, deputies told,
        never an action and never forwarded to the citizen."""
        complaint = d.match.complaint
        role = self.rules.member_role(d.mail.from_addr)
        assert complaint is not None and role is not None
        d.on(complaint)
        result = ladder.transition(state_of(complaint), ladder.AutoReply(role.key, excerpt(d.mail.text)), self.rules)
        return self._apply(d, complaint, result, d.mail.from_addr, outcome="ignored")

    # ------------------------------------------------------------------ deciding
    def _role_of(self, address: str, complaint: Complaint) -> Role | None:
        holder = self.rules.roles.get(complaint.holder_role or "")
        if holder is not None and address in holder.members:
            return holder
        return self.rules.member_role(address)

    def _unauthorised(self, d: Delivery, via_token: bool) -> str | None:
        """Why a staff member's mail may not act (None: it may)."""
        if not via_token:
            return ("the reply did not come to the complaint's own reply address "
                    "(a staff address without the reply token)")
        if d.check.failed:
            return f"sender authentication failed ({d.check.reason})"
        if self.settings.security.require_authentication and not d.check.passed:
            return f"sender authentication required, not verified ({d.check.reason})"
        return None

    def _unverified(self, d: Delivery, complaint: Complaint) -> Outcome:
        """A mail From: the complainant that proves nothing: a note for the holder, nothing more."""
        how = d.match.how or "the register number"
        hoplog.record(d.session, HopKind.NOTED, at=d.now, message=d.message, complaint=complaint,
                      actor=d.mail.from_addr,
                      reason=f"unverified: found by {how}, not through the complaint's reply address, and the "
                             f"sender was not verified ({d.check.reason}); nothing changed")
        holder = self.rules.roles.get(complaint.holder_role or "")
        if holder is not None:
            self.letters.notice(d.session, MailKind.UNVERIFIED_NOTE, to=holder.members, now=d.now, row=complaint,
                                role=named(holder), sender=d.mail.from_addr, how=_HOW_WORDS.get(how, how),
                                note_text=reply_of(d.mail).strip() or d.mail.text.strip())
        return d.outcome("noted", "unverified", complaint.number)

    def _command(self, d: Delivery, complaint: Complaint, role: Role) -> Outcome:
        text = reply_of(d.mail)
        cmd = parse_command(text)
        if cmd.explicit and not cmd.word:
            result = ladder.Result(state_of(complaint), (ladder.Refuse(f"perintah #{cmd.raw_word} tidak dikenal"),))
        elif cmd.word == Word.GABUNG:
            merge, _ = self.merging.event(d.session, complaint, self.merging.number_in(cmd.text), actor_role=role.key)
            result = ladder.transition(state_of(complaint), merge, self.rules)
        else:
            step = self.rules.step(complaint.step) if complaint.step else None
            confirmed = bool(step and step.confirm and has_confirmation(text, step.confirm))
            event = ladder.Command(cmd.word, cmd.text, role.key, confirmed)
            result = ladder.transition(state_of(complaint), event, self.rules)
        return self._apply(d, complaint, result, d.mail.from_addr, word=cmd.word)

    def _refuse_sender(self, d: Delivery, complaint: Complaint, problem: str) -> Outcome:
        hoplog.record(d.session, HopKind.REFUSED, at=d.now, message=d.message, complaint=complaint,
                      actor=d.mail.from_addr, reason=f"nothing changed: {problem}")
        holder = self.rules.roles.get(complaint.holder_role or "")
        if holder is not None:
            self.letters.notice(d.session, MailKind.UNAUTHORIZED_ATTEMPT, to=holder.members, now=d.now, row=complaint,
                                role=named(holder), sender=d.mail.from_addr, reason=indonesian_problem(problem),
                                attempted_subject=shorten(d.mail.subject))
        return d.outcome("refused", problem, complaint.number)

    # ------------------------------------------------------------------ applying
    def _apply(self, d: Delivery, complaint: Complaint, result: ladder.Result, actor: str, word: str = "",
               outcome: str | None = None) -> Outcome:
        before = state_of(complaint)
        refusal = next((a for a in result.actions if isinstance(a, ladder.Refuse)), None)
        if refusal is not None:
            return self._refused(d, complaint, before, refusal, actor, word)
        if not all(isinstance(a, _ASKING) for a in result.actions):  # #bantuan, #riwayat: the row is not touched
            apply_state(d.session, complaint, result.state, self.rules, d.now)
        run = _Applying(d, complaint, before, result.state, actor)
        for act in result.actions:
            done = self._appliers[type(act)](run, act)
            if done is not None:
                return done
        return d.outcome(outcome or "attached", word, complaint.number)

    def _refused(self, d: Delivery, complaint: Complaint, before: ladder.State, act: ladder.Refuse, actor: str,
                 word: str) -> Outcome:
        hoplog.record(d.session, HopKind.REFUSED, at=d.now, message=d.message, complaint=complaint, actor=actor,
                      reason=f"#{word or '?'} refused: {act.reason}")
        if self.letters.budget_spent(d.session, actor, d.now):
            hoplog.record(d.session, HopKind.IGNORED, at=d.now, message=d.message, complaint=complaint,
                          reason=f"no reply: {actor} already got "
                                 f"{self.settings.limits.auto_replies_per_address_per_day} automatic "
                                 "replies in 24 hours (a mail loop?)")
        else:
            # The commands and an example only for the holder: anyone else can use none of them.
            holder = self.rules.roles.get(before.holder or "")
            holds = holder is not None and actor in holder.members
            self.letters.to_person(d.session, complaint, actor, MailKind.REFUSED, d.now, in_reply_to=d.mail,
                                   reason=act.reason, commands=self.letters.command_help(before) if holds else [],
                                   example=next(iter(self.letters.examples(before)), "") if holds else "",
                                   original_subject=d.mail.subject)
        return d.outcome("refused", act.reason, complaint.number)

    def _hop(self, run: _Applying, kind: HopKind, **fields) -> None:
        hoplog.record(run.d.session, kind, at=run.d.now, message=run.d.message, complaint=run.complaint,
                      actor=run.actor, **fields)

    def _to_role(self, run: _Applying, role: Role, kind: MailKind, **context) -> None:
        self.letters.to_role(run.d.session, run.complaint, role, kind, run.d.now, **context)

    def _note(self, run: _Applying, act: ladder.Note) -> None:
        self._hop(run, HopKind.COMMENT, reason=act.text or "(catatan kosong)")

    def _move(self, run: _Applying, act: ladder.Move) -> None:
        role = self.rules.roles[act.role]
        self._hop(run, _MOVE_HOPS.get(act.word, HopKind.FORWARDED), from_state=run.before.step, to_state=act.step,
                  reason=f"#{act.word} to {role.name}" + (f": {act.note}" if act.note else ""))
        step = self.rules.step(act.step)
        from_role = self.rules.roles.get(run.before.holder or "")
        # A #tolak on a draft awaiting approval rejects the draft; a #tolak bound to a step
        # (Bima's Kepala Dinas saying "no") is a decision that sends the complaint back.
        self._to_role(run, role, MailKind.HANDOVER,
                      step=SimpleNamespace(name=step.name, standard_minutes=step.standard.minutes, output=step.output),
                      from_step=SimpleNamespace(name=self.rules.step(run.before.step).name),
                      from_role=named(from_role, run.actor), word=act.word, note=act.note,
                      rejected_draft=run.before.status == ladder.AWAITING_APPROVAL,
                      commands=self.letters.command_help(run.after))

    def _request_approval(self, run: _Applying, act: ladder.RequestApproval) -> None:
        role = self.rules.roles[act.role]
        drafter = self.rules.roles.get(run.after.draft_role or "")
        self._hop(run, HopKind.DRAFTED, from_state=run.before.step, to_state=run.after.step,
                  reason=f"answer drafted; awaiting approval by {role.name}")
        self._to_role(run, role, MailKind.APPROVAL_REQUEST, drafter=named(drafter, run.actor), draft=act.draft,
                      commands=self.letters.command_help(run.after))

    def _confirm_send(self, run: _Applying, act: ladder.ConfirmSend) -> None:
        role = self.rules.roles[act.role]
        approver = self.rules.roles.get(run.before.holder or "")
        self._hop(run, HopKind.APPROVED, from_state=run.before.step, to_state=run.after.step,
                  reason=f"answer approved; {role.name} sends it")
        self._to_role(run, role, MailKind.SEND_CONFIRMATION, approver=named(approver, run.actor), draft=act.draft,
                      commands=self.letters.command_help(run.after))

    def _send_answer(self, run: _Applying, act: ladder.SendAnswer) -> None:
        c = run.complaint
        answered_by = self.rules.roles.get(run.after.answered_role or "")
        self._hop(run, HopKind.ANSWERED, from_state=run.before.step, to_state=ladder.CLOSED,
                  reason=f"answer sent to {c.complainant_email}")
        self.letters.to_citizen(run.d.session, c, MailKind.ANSWER, run.d.now, answer=act.text,
                                answered_by=named(answered_by), reopen_days=self.rules.answer.reopen_days)
        c.answered_at = run.d.now

    def _ask_citizen(self, run: _Applying, act: ladder.AskCitizen) -> None:
        asker = self.rules.roles.get(run.before.holder or "")
        self._hop(run, HopKind.INFO_REQUESTED, from_state=run.before.status, to_state=run.after.status,
                  reason=act.text)
        self.letters.to_citizen(run.d.session, run.complaint, MailKind.INFO_REQUEST, run.d.now, question=act.text,
                                asked_by=named(asker))

    def _tell_holder(self, run: _Applying, act: ladder.TellHolder) -> None:
        role = self.rules.roles.get(act.role or "")
        reopened = act.what == "reopened"
        self._hop(run, HopKind.REOPENED if reopened else HopKind.ATTACHED, from_state=run.before.status,
                  to_state=run.after.status,
                  reason="the complainant replied after the answer" if reopened else "further mail from the complainant")
        if role is not None:
            self._to_role(run, role, MailKind.CITIZEN_FOLLOW_UP, follow_up_text=act.text, reopened=reopened,
                          answered=run.complaint.answered_at is not None, attach_raw=run.d.message.raw)

    def _tell_deputies(self, run: _Applying, act: ladder.TellDeputies) -> None:
        role = self.rules.roles[act.role]
        self._hop(run, HopKind.IGNORED,
                  reason=f"automatic reply from {role.name}; not an action, not forwarded to the citizen"
                         + (f"; deputies told: {', '.join(role.deputies)}" if role.deputies else ""))
        if role.deputies:
            self.letters.to_staff(run.d.session, run.complaint, role.deputies, MailKind.DEPUTY_NOTICE, run.d.now,
                                  role=named(role), member=run.actor, auto_text=act.text,
                                  commands=self.letters.command_help(run.after))

    def _close(self, run: _Applying, act: ladder.Close) -> None:
        run.complaint.closed_at = run.d.now
        run.complaint.closed_reason = "answered" if act.with_answer else "finished"
        hoplog.record(run.d.session, HopKind.CLOSED, at=run.d.now, complaint=run.complaint, actor=run.actor,
                      from_state=run.before.step, to_state=ladder.CLOSED,
                      reason="answered and archived" if act.with_answer else "finished")
        self.survey.ask(run.d.session, run.complaint, run.d.now, actor=run.actor)

    def _send_help(self, run: _Applying, act: ladder.SendHelp) -> None:
        """#bantuan: the commands of the complaint's step, with examples, to the asker (threaded)."""
        self._hop(run, HopKind.INFORMED, reason=f"#bantuan: the commands of this step mailed to {run.actor}")
        try:
            step = self.rules.step(run.after.step) if run.after.step else None
        except KeyError:  # the rules file no longer has the step: no confirmation to name
            step = None
        self.letters.to_person(run.d.session, run.complaint, run.actor, MailKind.HELP, run.d.now,
                               in_reply_to=run.d.mail, **self.letters.step_context(run.complaint, run.after),
                               commands=self.letters.command_help(run.after), examples=self.letters.examples(run.after),
                               confirm=step.confirm if step is not None and run.after.status != ladder.CLOSED else "")

    def _send_history(self, run: _Applying, act: ladder.SendHistory) -> None:
        """#riwayat: the complaint's history in short, personal data masked, to the asker (threaded)."""
        self._hop(run, HopKind.INFORMED, reason=f"#riwayat: the history mailed to {run.actor}")
        c = run.complaint
        self.letters.to_person(run.d.session, c, run.actor, MailKind.HISTORY, run.d.now, in_reply_to=run.d.mail,
                               **self.letters.step_context(c, run.after),
                               events=history.for_staff(run.d.session, c, self.rules))

    def _merge_into(self, run: _Applying, act: ladder.MergeInto) -> None:
        survivor = queries.complaint_by_number(run.d.session, act.number, run.complaint.office)
        assert survivor is not None  # the ladder merges only into a complaint the desk found
        self.merging.merge_into(run.d.session, run.complaint, survivor, actor=run.actor, now=run.d.now,
                                message=run.d.message)

    def _new_linked(self, run: _Applying, act: ladder.NewLinkedComplaint) -> Outcome:
        """A reply after the reopen window: a new complaint, from this mail alone
        (its format is checked like any new complaint's), linked to the old one.
        Nothing of the old complaint's personal data is copied (docs/SECURITY.md)."""
        return self.registration.new_complaint(run.d, parent=run.complaint)


def excerpt(text: str, limit: int = 500) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# How a mail was matched to its complaint, in the holder's words.
_HOW_WORDS = {
    "the register number in the subject": "nomor register pada judul surel",
    "In-Reply-To/References": "rujukan balasan (In-Reply-To/References)",
}


def indonesian_problem(problem: str) -> str:
    """Why a staff mail was refused, in the holder's words."""
    if "reply token" in problem or "reply address" in problem:
        return "balasan tidak dikirim ke alamat balasan khusus aduan ini (kemungkinan alamat pengirim dipalsukan)"
    if "not verified" in problem:
        return ("server surel kantor tidak dapat memastikan keaslian pengirim "
                f"({problem.split('(')[-1].rstrip(')')})")
    if "authentication" in problem:
        return f"pemeriksaan keaslian pengirim gagal ({problem.split('(')[-1].rstrip(')')})"
    return "pengirim bukan pelapor dan bukan petugas yang berwenang"
