"""The verification ladder as a pure state machine.

``transition(state, event, rules) -> Result(state, actions)``: no IO. The
intake applies the actions (moves, mails, hops) inside its transaction.

Events are a staff command (``Command``), a citizen's mail (``CitizenMail``)
or a staff member's automatic reply (``AutoReply``). An illegal event gives
``Result(state unchanged, [Refuse(reason)])``: the reason is written for the
person who sent it (Bahasa Indonesia).

How a step's ``actions`` table (in the rules file) is read:
- ``teruskan``/``kembalikan``/``setuju``/``tolak`` = "<step key>": move there;
- ``jawab = "@answer"``: the reply text is a draft answer. Written by a role of
  rank >= ``answer.min_rank`` it is approved at once; otherwise it goes to the
  approver (the virtual step ``persetujuan``), who answers ``#setuju`` or
  ``#tolak``. An approved answer goes to ``answer.send_step`` (whose role sends
  it with ``#setuju``) unless the approver or drafter holds that role already,
  in which case it is sent to the citizen at once;
- ``info = "@info"``: ask the citizen; their reply returns to the same step;
- ``setuju = "@send"``: send the approved draft to the citizen and close;
- ``setuju = "@close"``: finish without a mail to the citizen (e.g. Bima's run).
``catatan`` (a note) is allowed on every step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mailflow.core.sop import APPROVAL, Rules

# Statuses
REGISTERED = "registered"
IN_PROGRESS = "in_progress"
AWAITING_APPROVAL = "awaiting_approval"
WAITING_CITIZEN = "waiting_citizen"
CLOSED = "closed"
OPEN = (REGISTERED, IN_PROGRESS, AWAITING_APPROVAL, WAITING_CITIZEN)
# How listings and reports name a status (Bahasa Indonesia), in ladder order.
STATUS_WORDS = {
    REGISTERED: "terdaftar",
    IN_PROGRESS: "diproses",
    WAITING_CITIZEN: "menunggu pelapor",
    AWAITING_APPROVAL: "menunggu persetujuan",
    "answered": "dijawab",
    CLOSED: "selesai",
}

WORDS = ("jawab", "teruskan", "kembalikan", "setuju", "tolak", "info", "catatan")


@dataclass(frozen=True)
class State:
    status: str
    step: str
    holder: str | None  # role key
    section: str = "lainnya"
    draft: str | None = None
    draft_role: str | None = None
    draft_step: str | None = None
    approved: bool = False
    answered_step: str | None = None  # the step whose answer closed it (reopen goes back there)
    answered_role: str | None = None


# ---------------------------------------------------------------- events
@dataclass(frozen=True)
class Command:
    word: str  # one of WORDS
    text: str
    actor_role: str | None  # the role the sender is a verified member of (None: not staff)
    confirmed: bool = False  # the step's confirmation phrase was present


@dataclass(frozen=True)
class CitizenMail:
    text: str
    within_reopen_window: bool = True


@dataclass(frozen=True)
class AutoReply:
    actor_role: str
    text: str = ""


# ---------------------------------------------------------------- actions
@dataclass(frozen=True)
class Move:
    step: str
    role: str
    note: str
    word: str  # the command that caused it


@dataclass(frozen=True)
class RequestApproval:
    role: str
    draft: str


@dataclass(frozen=True)
class ConfirmSend:
    role: str
    draft: str


@dataclass(frozen=True)
class SendAnswer:
    text: str


@dataclass(frozen=True)
class AskCitizen:
    text: str


@dataclass(frozen=True)
class TellHolder:
    role: str
    what: str  # citizen-reply | reopened | auto-reply
    text: str


@dataclass(frozen=True)
class TellDeputies:
    role: str
    text: str


@dataclass(frozen=True)
class Note:
    text: str


@dataclass(frozen=True)
class Refuse:
    reason: str


@dataclass(frozen=True)
class Close:
    with_answer: bool


@dataclass(frozen=True)
class NewLinkedComplaint:
    text: str


Action = (Move | RequestApproval | ConfirmSend | SendAnswer | AskCitizen | TellHolder | TellDeputies | Note
          | Refuse | Close | NewLinkedComplaint)


@dataclass(frozen=True)
class Result:
    state: State
    actions: tuple[Action, ...]

    @property
    def refused(self) -> bool:
        return any(isinstance(a, Refuse) for a in self.actions)


def _refuse(state: State, reason: str) -> Result:
    return Result(state, (Refuse(reason),))


def initial_state(rules: Rules, section: str) -> State:
    step = rules.first_staff_step
    role = rules.role_for(step, section)
    return State(status=REGISTERED, step=step.key, holder=role.key if role else None, section=section)


def allowed_words(state: State, rules: Rules) -> tuple[str, ...]:
    """The commands the holder may use now (for help texts and refusals)."""
    if state.status == AWAITING_APPROVAL:
        return ("jawab", "setuju", "tolak", "catatan")
    if state.status == CLOSED:
        return ("catatan",)
    step = rules.step(state.step)
    words = list(step.actions)
    if state.approved and state.draft is not None and step.key == rules.answer.send_step and "setuju" not in words:
        words.append("setuju")
    return tuple(w for w in WORDS if w in words) + ("catatan",)


def transition(state: State, event: Command | CitizenMail | AutoReply, rules: Rules) -> Result:
    if isinstance(event, CitizenMail):
        return _citizen(state, event, rules)
    if isinstance(event, AutoReply):
        # Never an action, never forwarded to the citizen; the deputies hear of it.
        return Result(state, (Note(f"automatic reply from {event.actor_role}; no action taken"),
                              TellDeputies(event.actor_role, event.text)))
    result = _command(state, event, rules)
    # A refused command changes nothing, not even a waiting_citizen status _command resumed.
    return Result(state, result.actions) if result.refused else result


# ---------------------------------------------------------------- staff
def _command(state: State, cmd: Command, rules: Rules) -> Result:
    if cmd.word not in WORDS:
        return _refuse(state, f"perintah #{cmd.word} tidak dikenal")
    if cmd.actor_role is None:
        return _refuse(state, "pengirim bukan petugas yang terdaftar; tidak ada perubahan")
    if cmd.actor_role != state.holder:
        holder = rules.roles[state.holder].name if state.holder in rules.roles else "-"
        return _refuse(state, f"aduan ini sedang dipegang {holder}; hanya pemegang aduan yang dapat menindaklanjuti")
    if cmd.word == "catatan":
        return Result(state, (Note(cmd.text),))
    if state.status == CLOSED:
        return _refuse(state, "aduan ini sudah selesai; hanya #catatan yang dapat ditambahkan")
    if state.status == WAITING_CITIZEN and cmd.word not in ("catatan",):
        # Staff may still act while waiting (e.g. they found the answer themselves).
        state = replace(state, status=IN_PROGRESS)
    if state.status == AWAITING_APPROVAL:
        return _approval(state, cmd, rules)

    step = rules.step(state.step)
    allowed = allowed_words(state, rules)
    if cmd.word not in allowed:
        return _refuse(state, f"#{cmd.word} tidak berlaku pada tahap '{step.name}'; yang dapat dipakai: "
                              + ", ".join(f"#{w}" for w in allowed))
    if step.confirm and cmd.word != "info" and not cmd.confirmed:
        return _refuse(state, f"tahap '{step.name}' memerlukan konfirmasi: tuliskan \"{step.confirm}\" pada balasan")
    target = step.actions.get(cmd.word)
    if cmd.word == "setuju" and target is None:
        target = "@send"  # an approved answer waiting at the send step
    if target == "@answer":
        if not cmd.text.strip():
            return _refuse(state, "#jawab memerlukan teks jawaban setelah kata perintahnya")
        return _draft(state, cmd.text.strip(), cmd.actor_role, step.key, rules)
    if target == "@info":
        if not cmd.text.strip():
            return _refuse(state, "#info memerlukan pertanyaan untuk pelapor setelah kata perintahnya")
        return Result(replace(state, status=WAITING_CITIZEN), (AskCitizen(cmd.text.strip()),))
    if target == "@send":
        if state.draft is None or not state.approved:
            return _refuse(state, "belum ada jawaban yang disetujui untuk dikirim")
        return _send(state, rules)
    if target == "@close":
        return Result(replace(state, status=CLOSED), (Note(cmd.text), Close(with_answer=False)))
    # a step key
    nxt = rules.step(target)
    role = rules.role_for(nxt, state.section)
    if role is None:
        return _refuse(state, f"tahap '{nxt.name}' tidak dipegang petugas")
    new = replace(state, status=IN_PROGRESS, step=nxt.key, holder=role.key)
    if cmd.word in ("kembalikan", "tolak") and state.draft is not None and not state.approved:
        new = replace(new, draft=None, draft_role=None, draft_step=None)
    return Result(new, (Move(nxt.key, role.key, cmd.text.strip(), cmd.word),))


def _draft(state: State, text: str, role_key: str, step_key: str, rules: Rules) -> Result:
    drafted = replace(state, draft=text, draft_role=role_key, draft_step=step_key, approved=False)
    if rules.roles[role_key].rank >= rules.answer.min_rank:
        return _approved(replace(drafted, approved=True), role_key, rules)
    approver = rules.approver_for(state.section)
    return Result(replace(drafted, status=AWAITING_APPROVAL, step=APPROVAL, holder=approver.key),
                  (RequestApproval(approver.key, text),))


def _approved(state: State, by_role: str, rules: Rules) -> Result:
    send_key = rules.answer.send_step
    if not send_key:
        return _send(state, rules)
    send_step = rules.step(send_key)
    sender = rules.role_for(send_step, state.section)
    if sender is None or sender.key in (by_role, state.draft_role):
        return _send(state, rules)
    return Result(replace(state, status=IN_PROGRESS, step=send_key, holder=sender.key),
                  (ConfirmSend(sender.key, state.draft or ""),))


def _send(state: State, rules: Rules) -> Result:
    closed = replace(state, status=CLOSED, answered_step=state.draft_step, answered_role=state.draft_role)
    return Result(closed, (SendAnswer(state.draft or ""), Close(with_answer=True)))


def _approval(state: State, cmd: Command, rules: Rules) -> Result:
    if cmd.word == "setuju":
        return _approved(replace(state, approved=True), cmd.actor_role, rules)
    if cmd.word == "tolak":
        back = rules.step(state.draft_step)
        role = state.draft_role
        new = replace(state, status=IN_PROGRESS, step=back.key, holder=role, draft=None, draft_role=None,
                      draft_step=None, approved=False)
        return Result(new, (Move(back.key, role, cmd.text.strip(), "tolak"),))
    if cmd.word == "jawab" and cmd.text.strip():
        # The approver rewrites the draft: their own text, approved by themselves.
        return _approved(replace(state, draft=cmd.text.strip(), draft_role=cmd.actor_role, approved=True),
                         cmd.actor_role, rules)
    return _refuse(state, "jawaban sedang menunggu persetujuan Anda: balas dengan #setuju, #tolak (dengan catatan), "
                          "atau #jawab dengan teks jawaban yang diperbaiki")


# ---------------------------------------------------------------- citizen
def _citizen(state: State, mail: CitizenMail, rules: Rules) -> Result:
    if state.status == WAITING_CITIZEN:
        return Result(replace(state, status=IN_PROGRESS), (TellHolder(state.holder, "citizen-reply", mail.text),))
    if state.status != CLOSED:
        return Result(state, (TellHolder(state.holder, "citizen-reply", mail.text),))
    if not mail.within_reopen_window:
        return Result(state, (NewLinkedComplaint(mail.text),))
    step_key = state.answered_step or rules.first_staff_step.key
    # The step's own holder: answered_role may not hold it (an approver who rewrote the draft,
    # or no answer at all after @close).
    owner = rules.role_for(rules.step(step_key), state.section)
    role = owner.key if owner else (state.answered_role or state.holder)
    new = replace(state, status=IN_PROGRESS, step=step_key, holder=role, draft=None, draft_role=None,
                  draft_step=None, approved=False)
    return Result(new, (TellHolder(role, "reopened", mail.text),))
