"""The verification ladder as a pure state machine.

``transition(state, event, rules) -> Result(state, actions)``: no IO. The
intake applies the actions (moves, mails, hops) inside its transaction.

Events are a staff command (``Command``), a citizen's mail (``CitizenMail``),
a staff member's automatic reply (``AutoReply``), or the clock: a step's
reminder time (``DeadlineNear``) or its time standard passing
(``DeadlinePassed``), which by the rules' ``[deadlines] on_breach`` tells the
next rung, tells the holder, or moves the complaint up (``Escalate``). An
illegal event gives ``Result(state unchanged, [Refuse(reason)])``: the reason
is written for the person who sent it (Bahasa Indonesia).

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
``catatan`` (a note), ``bantuan`` (the command list) and ``riwayat`` (the
history) are allowed on every step (``ANYTIME_WORDS``); the last two only ask
for a mail (``SendHelp``, ``SendHistory``) and change nothing.

Merging (``Merge``, from a staff ``#gabung NUMBER`` or ``mailflow merge``):
the desk looks the target up and passes what it found (``MergeTarget``); the
duplicate is closed as ``merged`` (``MergeInto``) when its holder (or the
admin) asks, the target is another complaint of the office that is not merged
itself, and both have the same complainant (address or NIK): one citizen's
data never goes to another. The clock events on a complaint waiting for the
citizen (after ``#info``) are the silence rules (``[waiting]``): a reminder to
the citizen (``RemindCitizen``), then closing (``CloseForSilence``); a reply
within ``answer.reopen_days`` reopens it at the step that asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from mailflow.core.reply_text import quoted_material
from mailflow.core.sop import APPROVAL, WAITING_STEP, Rules, Step
from mailflow.core.vocabulary import ANYTIME_WORDS, Status, Word

# The statuses, as the state machine names them (defined in core/vocabulary.py).
REGISTERED = Status.REGISTERED
IN_PROGRESS = Status.IN_PROGRESS
AWAITING_APPROVAL = Status.AWAITING_APPROVAL
WAITING_CITIZEN = Status.WAITING_CITIZEN
CLOSED = Status.CLOSED
MERGED = Status.MERGED


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
    word: str  # a Word
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


@dataclass(frozen=True)
class DeadlineNear:
    """The reminder time of a step's visit came (``remind_share`` of its standard passed)."""

    step: str  # the step the visit is at


@dataclass(frozen=True)
class DeadlinePassed:
    """The time standard of a step's visit passed."""

    step: str  # the step the visit is at


@dataclass(frozen=True)
class MergeTarget:
    """What the desk found of the complaint a duplicate is to be merged into."""

    number: str
    status: str
    same_complainant: bool  # same address or same NIK as the duplicate's complainant
    is_self: bool = False  # the duplicate's own number


@dataclass(frozen=True)
class Merge:
    """Merge this complaint (a duplicate) into ``target`` (None: no complaint of
    that number in the office). ``number``: the number as written; ``actor_role``:
    the sender's role (a #gabung reply); ``by_admin``: ``mailflow merge``."""

    number: str
    target: MergeTarget | None
    actor_role: str | None = None
    by_admin: bool = False


Event = Command | CitizenMail | AutoReply | DeadlineNear | DeadlinePassed | Merge


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
    role: str | None  # None: no role holds the complaint (its rules changed); nobody is told
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


@dataclass(frozen=True)
class Remind:
    """Tell ``role`` that the step's time is nearly used up."""

    role: str


@dataclass(frozen=True)
class Overdue:
    """Tell ``role`` that the step's time standard passed; ``why`` names the rule that chose them."""

    role: str
    why: str


@dataclass(frozen=True)
class Unattended:
    """Nobody can be told of a deadline: the rules file no longer has the
    visit's step (``missing="step"``) or the role that should hear of it
    (``missing="role"``)."""

    missing: str


@dataclass(frozen=True)
class Escalate:
    """The time standard passed: the complaint moved on to ``step``, held by ``role``."""

    step: str
    role: str


@dataclass(frozen=True)
class SendHelp:
    """#bantuan: mail the asker the commands of the complaint's step (nothing changes)."""


@dataclass(frozen=True)
class SendHistory:
    """#riwayat: mail the asker the complaint's history in short (nothing changes)."""


@dataclass(frozen=True)
class MergeInto:
    """Close this complaint as merged into ``number``: both hop logs say so, the
    citizen is told once which number to follow."""

    number: str


@dataclass(frozen=True)
class RemindCitizen:
    """The citizen has not answered the #info question: remind them once."""


@dataclass(frozen=True)
class CloseForSilence:
    """The citizen never answered: closed; they are told how to reopen it."""


Action = (Move | RequestApproval | ConfirmSend | SendAnswer | AskCitizen | TellHolder | TellDeputies | Note
          | Refuse | Close | NewLinkedComplaint | Remind | Overdue | Escalate | Unattended | MergeInto
          | RemindCitizen | CloseForSilence | SendHelp | SendHistory)


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
    """The commands the holder may use now (for help texts and refusals): the
    step's actions in vocabulary order, then the words allowed at every step."""
    anytime = tuple(w.value for w in ANYTIME_WORDS)
    if state.status == AWAITING_APPROVAL:
        return ("jawab", "setuju", "tolak") + anytime
    if state.status in (CLOSED, MERGED):
        return anytime
    step = rules.step(state.step)
    words = list(step.actions)
    if state.approved and state.draft is not None and step.key == rules.answer.send_step and "setuju" not in words:
        words.append("setuju")
    return tuple(w.value for w in Word if w in words and w not in ANYTIME_WORDS) + anytime


def transition(state: State, event: Event, rules: Rules) -> Result:
    """The one place a complaint's state changes: what ``event`` does to ``state`` under ``rules``."""
    return _HANDLERS[type(event)](state, event, rules)


def _staff(state: State, cmd: Command, rules: Rules) -> Result:
    result = _command(state, cmd, rules)
    # A refused command changes nothing, not even a waiting_citizen status _command resumed.
    return Result(state, result.actions) if result.refused else result


def _auto_reply(state: State, event: AutoReply, _rules: Rules) -> Result:
    # Never an action, never forwarded to the citizen; the deputies hear of it.
    return Result(state, (Note(f"automatic reply from {event.actor_role}; no action taken"),
                          TellDeputies(event.actor_role, event.text)))


# ---------------------------------------------------------------- staff
def _command(state: State, cmd: Command, rules: Rules) -> Result:
    if cmd.word not in set(Word):
        return _refuse(state, f"perintah #{cmd.word} tidak dikenal")
    if cmd.actor_role is None:
        return _refuse(state, "pengirim bukan petugas yang terdaftar; tidak ada perubahan")
    if cmd.actor_role != state.holder:
        holder = rules.roles[state.holder].name if state.holder in rules.roles else "-"
        return _refuse(state, f"aduan ini sedang dipegang {holder}; hanya pemegang aduan yang dapat menindaklanjuti")
    if cmd.word == Word.CATATAN:
        return Result(state, (Note(cmd.text),))
    if cmd.word == Word.BANTUAN:
        return Result(state, (SendHelp(),))
    if cmd.word == Word.RIWAYAT:
        return Result(state, (SendHistory(),))
    if state.status == CLOSED:
        return _refuse(state, "aduan ini sudah selesai; yang dapat dipakai hanya #catatan, #bantuan dan #riwayat")
    if state.status == MERGED:
        return _refuse(state, "aduan ini sudah digabung ke aduan lain; yang dapat dipakai hanya #catatan, #bantuan dan #riwayat")
    if cmd.word == Word.GABUNG:
        return _refuse(state, "#gabung memerlukan nomor register aduan tujuan, misalnya #gabung ADU/2026/000123")
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
        if problem := _not_for_citizens(cmd.text):
            return _refuse(state, problem)
        return _draft(state, cmd.text.strip(), cmd.actor_role, step.key, rules)
    if target == "@info":
        if not cmd.text.strip():
            return _refuse(state, "#info memerlukan pertanyaan untuk pelapor setelah kata perintahnya")
        if problem := _not_for_citizens(cmd.text):
            return _refuse(state, problem)
        return Result(replace(state, status=WAITING_CITIZEN), (AskCitizen(cmd.text.strip()),))
    if target == "@send":
        if state.draft is None or not state.approved:
            return _refuse(state, "belum ada jawaban yang disetujui untuk dikirim")
        return _send(state)
    if target == "@close":
        return Result(replace(state, status=CLOSED), (Note(cmd.text), Close(with_answer=False)))
    # a step key
    assert target is not None  # allowed_words holds only the step's own actions (and setuju, set above)
    nxt = rules.step(target)
    role = rules.role_for(nxt, state.section)
    if role is None:
        return _refuse(state, f"tahap '{nxt.name}' tidak dipegang petugas")
    new = replace(state, status=IN_PROGRESS, step=nxt.key, holder=role.key)
    if cmd.word in ("kembalikan", "tolak") and state.draft is not None and not state.approved:
        new = replace(new, draft=None, draft_role=None, draft_step=None)
    return Result(new, (Move(nxt.key, role.key, cmd.text.strip(), cmd.word),))


# What quoted_material found, in the words of the staff member asked to rephrase.
_QUOTED_WORDS = {
    "an attribution line": 'baris pengantar kutipan surel lama (misalnya "Pada ... menulis:")',
    "a block of quoted lines": "kutipan surel lama (baris-baris berawalan >)",
    "an Outlook header block": 'kepala surel yang dikutip ("Dari:/Dikirim:/Kepada:/Perihal:")',
    "an original-message separator": 'pembatas surel lama (misalnya "-----Pesan Asli-----")',
    "a signature": "tanda tangan surel",
}


def _not_for_citizens(text: str) -> str | None:
    """Why staff text must not go to a citizen as it is (the last check: no
    quoted mail, attribution or signature ever reaches them), or None."""
    found = quoted_material(text.strip())
    if found is None:
        return None
    return (f"teks untuk pelapor masih memuat {_QUOTED_WORDS.get(found, found)}; tidak ada yang dikirim. Mohon "
            "tulis ulang teksnya saja, tanpa kutipan surel lama dan tanpa tanda tangan, lalu kirim lagi")


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
        return _send(state)
    send_step = rules.step(send_key)
    sender = rules.role_for(send_step, state.section)
    if sender is None or sender.key in (by_role, state.draft_role):
        return _send(state)
    return Result(replace(state, status=IN_PROGRESS, step=send_key, holder=sender.key),
                  (ConfirmSend(sender.key, state.draft or ""),))


def _send(state: State) -> Result:
    closed = replace(state, status=CLOSED, answered_step=state.draft_step, answered_role=state.draft_role)
    return Result(closed, (SendAnswer(state.draft or ""), Close(with_answer=True)))


def _approval(state: State, cmd: Command, rules: Rules) -> Result:
    actor = cmd.actor_role
    assert actor is not None  # _command refused a sender of no role
    if cmd.word == "setuju":
        return _approved(replace(state, approved=True), actor, rules)
    if cmd.word == "tolak":
        assert state.draft_step is not None and state.draft_role is not None  # a draft awaits approval
        back = rules.step(state.draft_step)
        role = state.draft_role
        new = replace(state, status=IN_PROGRESS, step=back.key, holder=role, draft=None, draft_role=None,
                      draft_step=None, approved=False)
        return Result(new, (Move(back.key, role, cmd.text.strip(), "tolak"),))
    if cmd.word == "jawab" and cmd.text.strip():
        if problem := _not_for_citizens(cmd.text):
            return _refuse(state, problem)
        # The approver rewrites the draft: their own text, approved by themselves.
        return _approved(replace(state, draft=cmd.text.strip(), draft_role=actor, approved=True), actor, rules)
    return _refuse(state, "jawaban sedang menunggu persetujuan Anda: balas dengan #setuju, #tolak (dengan catatan), "
                          "atau #jawab dengan teks jawaban yang diperbaiki")


# ---------------------------------------------------------------- citizen
def _citizen(state: State, mail: CitizenMail, rules: Rules) -> Result:
    if state.status == MERGED:  # the desk files later mail on the surviving complaint; never reopened
        return Result(state, (Note("mail from the complainant on a merged complaint"),))
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


# ---------------------------------------------------------------- the clock
def _known_step(rules: Rules, key: str) -> Step | None:
    try:
        return rules.step(key)
    except KeyError:  # the rules file changed since the visit began
        return None


def _tell_holder(state: State, rules: Rules, action: Callable[[str], Action]) -> Result:
    if state.holder is None or state.holder not in rules.roles:
        return Result(state, (Unattended("role"),))
    return Result(state, (action(state.holder),))


def _deadline_near(state: State, event: DeadlineNear, rules: Rules) -> Result:
    """A reminder goes to the holder; nobody when the rules lost its role or the step.
    Waiting for the citizen (the ``WAITING_STEP`` visit): the citizen is reminded."""
    if event.step == WAITING_STEP:
        return Result(state, (RemindCitizen(),) if state.status == WAITING_CITIZEN else ())
    if _known_step(rules, event.step) is None:
        return Result(state, (Unattended("step"),))
    return _tell_holder(state, rules, Remind)


def _deadline_passed(state: State, event: DeadlinePassed, rules: Rules) -> Result:
    """The rules' ``[deadlines] on_breach``: ``escalate`` moves the complaint to
    the next staff step (when another role holds it, the complaint is still at
    the visit's step and no draft awaits approval) and tells its new holder;
    ``notify-next`` tells the next staff step's role; otherwise, or with no
    next rung, the holder is told. Waiting for the citizen (the
    ``WAITING_STEP`` visit): closed for silence; a reply within the reopen
    window reopens it at the step that asked."""
    if event.step == WAITING_STEP:
        if state.status != WAITING_CITIZEN:
            return Result(state, ())
        closed = replace(state, status=CLOSED, answered_step=state.step, answered_role=state.holder, draft=None,
                         draft_role=None, draft_step=None, approved=False)
        return Result(closed, (CloseForSilence(),))
    if _known_step(rules, event.step) is None:
        return Result(state, (Unattended("step"),))
    action = rules.deadlines.on_breach
    nxt = rules.next_staff_step(event.step)
    nxt_role = rules.role_for(nxt, state.section) if nxt is not None else None
    if (action == "escalate" and nxt is not None and nxt_role is not None and nxt_role.key != state.holder
            and state.step == event.step and state.status != AWAITING_APPROVAL):
        moved = replace(state, status=IN_PROGRESS, step=nxt.key, holder=nxt_role.key)
        return Result(moved, (Escalate(nxt.key, nxt_role.key),))
    if action == "notify-next" and nxt_role is not None:
        return Result(state, (Overdue(nxt_role.key, "on_breach notify-next"),))
    why = "on_breach notify-holder" if action == "notify-holder" else f"on_breach {action}, no next rung"
    return _tell_holder(state, rules, lambda role: Overdue(role, why))


# ---------------------------------------------------------------- merging
def _merge(state: State, event: Merge, rules: Rules) -> Result:
    """Close a duplicate as merged into ``event.target``, or refuse saying why."""
    if not event.by_admin:
        if event.actor_role is None:
            return _refuse(state, "pengirim bukan petugas yang terdaftar; tidak ada perubahan")
        if event.actor_role != state.holder:
            holder = rules.roles[state.holder].name if state.holder in rules.roles else "-"
            return _refuse(state, f"aduan ini sedang dipegang {holder}; hanya pemegang aduan yang dapat "
                                  "menggabungkannya")
    if state.status == MERGED:
        return _refuse(state, "aduan ini sudah digabung ke aduan lain")
    if state.status == CLOSED:
        return _refuse(state, "aduan ini sudah selesai; aduan yang selesai tidak dapat digabung")
    if not event.number.strip():
        return _refuse(state, "#gabung memerlukan nomor register aduan tujuan, misalnya #gabung ADU/2026/000123")
    target = event.target
    if target is None:
        return _refuse(state, f"aduan {event.number} tidak ditemukan di kantor ini; periksa nomor registernya")
    if target.is_self:
        return _refuse(state, "aduan tidak dapat digabung ke dirinya sendiri; tuliskan nomor aduan yang lain")
    if target.status == MERGED:
        return _refuse(state, f"aduan {target.number} sendiri sudah digabung ke aduan lain; gabungkan ke aduan "
                              "yang masih berjalan (lihat riwayat aduan tersebut)")
    if not target.same_complainant:
        return _refuse(state, f"pelapor aduan {target.number} berbeda dari pelapor aduan ini (alamat surel dan NIK "
                              "tidak sama); demi perlindungan data pribadi, aduan dari pelapor yang berbeda tidak "
                              "dapat digabung")
    merged = replace(state, status=MERGED, draft=None, draft_role=None, draft_step=None, approved=False)
    return Result(merged, (MergeInto(target.number),))


_HANDLERS: dict[type, Callable[[State, Any, Rules], Result]] = {
    Command: _staff,
    CitizenMail: _citizen,
    AutoReply: _auto_reply,
    DeadlineNear: _deadline_near,
    DeadlinePassed: _deadline_passed,
    Merge: _merge,
}
