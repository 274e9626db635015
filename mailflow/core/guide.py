"""What a staff member may reply now, in the words of the office's SOP (pure).

Every staff mail lists the commands its reader may use (``command_guide``)
and some show an example reply (``example_replies``). Both are derived here
from the same place the ladder decides from (``ladder.allowed_words`` and the
step's ``actions`` table), so a mail never explains a command as something
the step does not do: at Kulon Progo's initialling steps ``#setuju`` is the
paraf that moves the complaint on (there is no answer yet), at Bima's
decision step ``#tolak`` is the Kepala Dinas's "no" back to the concept (no
draft is rejected), and at a step that needs a confirmation phrase every
example carries it. ``tests/test_staff_mail.py`` renders every staff mail of
every shipped rules file and checks both against the ladder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mailflow.core import ladder
from mailflow.core.sop import Rules, Step
from mailflow.core.vocabulary import ANYTIME_WORDS, Word


@dataclass(frozen=True)
class Guide:
    """One command as a staff mail lists it: ``#word`` and what it does at this step."""

    word: str  # with its '#'
    meaning: str


# The order an example is picked in, and its text (plain, no quote, no signature:
# the ladder's last check would refuse those in an answer or a question).
_EXAMPLE_ORDER = (Word.TERUSKAN, Word.JAWAB, Word.KEMBALIKAN, Word.TOLAK, Word.INFO, Word.SETUJU, Word.CATATAN)
_EXAMPLE_TEXT = {
    Word.TERUSKAN: "Mohon ditindaklanjuti; data SIAK sudah dicek.",
    Word.JAWAB: "KTP-el Bapak/Ibu sudah dicetak dan dapat diambil di kantor kecamatan.",
    Word.KEMBALIKAN: "Mohon dilengkapi hasil pengecekan data SIAK.",
    Word.TOLAK: "Mohon diperbaiki sesuai catatan ini.",
    Word.INFO: "Mohon kirimkan foto bukti perekaman KTP-el.",
    Word.SETUJU: "",
    Word.CATATAN: "Sudah dikonfirmasi kepada pelapor melalui telepon.",
}


def command_guide(state: ladder.State, rules: Rules) -> tuple[Guide, ...]:
    """The commands the holder of ``state`` may reply with, each with what it
    does here (Bahasa Indonesia), in ``ladder.allowed_words`` order."""
    return tuple(Guide(f"#{w}", meaning(w, state, rules)) for w in ladder.allowed_words(state, rules))


def meaning(word: str, state: ladder.State, rules: Rules) -> str:
    """What ``word`` does for the holder of ``state`` (a word it allows)."""
    w = Word(word)
    if w in ANYTIME_WORDS:
        return w.label
    if state.status == ladder.AWAITING_APPROVAL:
        return _approval_meaning(w, state, rules)
    step = rules.step(state.step)
    target = step.actions.get(word)
    if w is Word.SETUJU and target is None:
        target = "@send"  # an approved answer waiting at the send step (ladder.allowed_words)
    text = _target_meaning(w, target or "", state, step, rules)
    if step.confirm and w is not Word.INFO:
        text += f'; tuliskan juga "{step.confirm}" pada balasan'
    return text


def _role_name(rules: Rules, step: Step, section: str) -> str:
    role = rules.role_for(step, section)
    return role.name if role is not None else "pelapor"


def _sent_by(state: ladder.State, by_role: str | None, rules: Rules) -> str | None:
    """Who sends an answer approved by ``by_role`` (None: it goes to the citizen
    at once), as ``ladder._approved`` decides."""
    if not rules.answer.send_step:
        return None
    sender = rules.role_for(rules.step(rules.answer.send_step), state.section)
    if sender is None or sender.key in (by_role, state.draft_role):
        return None
    return sender.name


def _onward(sender: str | None) -> str:
    return f"{sender} lalu mengirimkannya kepada pelapor" if sender else "langsung dikirim kepada pelapor; aduan selesai"


def _approval_meaning(w: Word, state: ladder.State, rules: Rules) -> str:
    if w is Word.SETUJU:
        return f"setujui draf jawaban sebagaimana tertulis; {_onward(_sent_by(state, state.holder, rules))}"
    if w is Word.TOLAK:
        drafter = rules.roles.get(state.draft_role or "")
        return (f"tolak draf jawaban: kembali kepada {drafter.name if drafter else 'penyusunnya'} untuk "
                "diperbaiki, dengan catatan perbaikan; tidak ada yang dikirim kepada pelapor")
    # The approver's own text: they become its writer (ladder._approval), so who sends it may differ.
    rewritten = replace(state, draft_role=state.holder)
    return (f"ganti draf dengan teks jawaban Anda sendiri (setelah perintah ini), dianggap Anda setujui; "
            f"{_onward(_sent_by(rewritten, state.holder, rules))}")


def _target_meaning(w: Word, target: str, state: ladder.State, step: Step, rules: Rules) -> str:
    if target == "@answer":
        holder = rules.roles.get(state.holder or "")
        if holder is not None and holder.rank >= rules.answer.min_rank:
            sender = _sent_by(replace(state, draft_role=holder.key), holder.key, rules)
            return f"teks setelah perintah ini menjadi jawaban untuk pelapor; {_onward(sender)}"
        approver = rules.approver_for(state.section)
        return (f"teks setelah perintah ini menjadi draf jawaban untuk pelapor, diajukan kepada {approver.name} "
                "untuk disetujui")
    if target == "@info":
        return f"{Word.INFO.label}; aduan menunggu balasan pelapor"
    if target == "@send":
        return "kirim jawaban yang sudah disetujui kepada pelapor; aduan selesai"
    if target == "@close":
        return f"tahap ini selesai ({step.output}); aduan ditutup tanpa surel kepada pelapor"
    nxt = rules.step(target)
    where = f'tahap "{nxt.name}" ({_role_name(rules, nxt, state.section)})'
    unsent = ("jawaban yang disetujui TIDAK dikirim; "
              if state.approved and state.draft is not None and step.key == rules.answer.send_step else "")
    if w is Word.TERUSKAN:
        return f"teruskan ke {where}, dengan catatan"
    if w is Word.KEMBALIKAN:
        return f"{unsent}kembalikan ke {where}, dengan catatan"
    if w is Word.SETUJU:
        return f"setujui (ya); lanjut ke {where}"
    return f"tidak disetujui (tidak): kembali ke {where}, dengan catatan"


def example_replies(state: ladder.State, rules: Rules) -> tuple[str, ...]:
    """One reply per command the holder may use now (action words first, then
    a note), each accepted by the command parser and the ladder as it stands:
    with the step's confirmation phrase where the step needs one."""
    allowed = ladder.allowed_words(state, rules)
    confirm = ""
    if state.status not in (ladder.AWAITING_APPROVAL, ladder.CLOSED):
        confirm = rules.step(state.step).confirm
    out = []
    for w in _EXAMPLE_ORDER:
        if w.value not in allowed:
            continue
        text = _EXAMPLE_TEXT[w]
        if confirm and w not in (Word.INFO, *ANYTIME_WORDS):
            text = f"{confirm[:1].upper()}{confirm[1:]}. {text}".strip()
        out.append(f"#{w.value} {text}".rstrip())
    return tuple(out)
