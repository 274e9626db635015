"""Every staff mail tells the truth about its step (issue 15 point 7), for
every shipped rules file, through the real rendering path (the desk on a real
SQLite file, ``Intake.process`` and the deadline pass writing outbox rows; no
mail server).

The walk: from a new complaint, every state the ladder can reach by the
commands staff may give (breadth first, with the confirmation phrase where a
step needs it); in each state, on a complaint of its own brought there by
staff replies to its reply address, every command the holder may use
(``ladder.allowed_words``: the step's actions, #catatan, #bantuan,
#riwayat), a command the step does not allow, a command without the step's
confirmation, the holder's out-of-office and the complainant's mail; and the
clock moved to the step's reminder and past its time standard.  Every staff mail written on the way is read back from the outbox
and checked against the state of its complaint after the mail that caused
it:

- every ``#word`` it suggests is one the step accepts now;
- every example reply it shows ("Contoh balasan:") is accepted by the
  command parser and by the ladder (with the confirmation where required);
- ``#setuju`` is never explained as approving or sending an answer where
  there is none (Kulon Progo's initialling steps, Bima's decisions);
- it never asks for ``#jawab`` where ``#jawab`` is refused (Bima's "no").
"""

from __future__ import annotations

import email
import os
import re
import shutil
import tempfile
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailflow.config.settings import load_settings
from mailflow.core import guide, ladder
from mailflow.core.commands import has_confirmation, parse_command
from mailflow.core.vocabulary import WORD_ALIASES, MailKind, Word
from mailflow.desk.delivery import Source
from mailflow.desk.state import state_of
from mailflow.runner.app import build
from mailflow.store import db
from mailflow.store.models import Complaint, OutboxItem, StepVisit
from support import TEST_ENV, VALID_BODY, Clock, complaint_mail, write_config

FILES = ["bantul-email", "bima-innovation", "kulonprogo-website", "palangkaraya-online"]
START = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Asia/Jakarta"))  # a Monday, every office open
CITIZEN = "warga1@dukcapil.test"
_WORD = re.compile(r"[#＃]\s?([A-Za-z]+)")


@dataclass(frozen=True)
class Reply:
    """One staff reply on the way to a state: the role that sends it and its text."""

    role: str
    text: str


def key(s: ladder.State) -> tuple:
    return (s.status, s.step, s.holder, s.approved, s.draft is not None)


def reachable(rules) -> dict[tuple, tuple[ladder.State, tuple[Reply, ...]]]:
    """Every state a complaint can reach by staff commands, with the shortest
    path of replies to it (the pure ladder, breadth first)."""
    section = "identitas"  # the section of VALID_BODY's Jenis Layanan (KTP-el)
    start = ladder.initial_state(rules, section)
    found = {key(start): (start, ())}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if state.status == ladder.CLOSED:
            continue
        path = found[key(state)][1]
        for example in guide.example_replies(state, rules):
            cmd = parse_command(example)
            if cmd.word in (w.value for w in (Word.CATATAN, Word.BANTUAN, Word.RIWAYAT)):
                continue
            result = ladder.transition(state, command(example, state, rules), rules)
            assert not result.refused, (example, state, result.actions)
            nxt = result.state
            if key(nxt) not in found:
                found[key(nxt)] = (nxt, (*path, Reply(state.holder or "", example)))
                queue.append(nxt)
    return found


def command(text: str, state: ladder.State, rules, role: str | None = None) -> ladder.Command:
    """A staff reply as the desk reads it (desk/replies._command)."""
    cmd = parse_command(text)
    confirm = rules.step(state.step).confirm if state.step else ""
    return ladder.Command(cmd.word, cmd.text, role or state.holder, bool(confirm and has_confirmation(text, confirm)))


# ---------------------------------------------------------------- the desk
class Desk:
    """One office on a real SQLite file; every staff mail it writes is checked."""

    def __init__(self, tmp_path, name: str):
        # The database in memory-backed /dev/shm where there is one: hundreds of
        # one-mail transactions, each an fsync on a disk.
        self.shm = tempfile.mkdtemp(dir="/dev/shm") if os.path.isdir("/dev/shm") else None
        tmp_path = Path(self.shm) if self.shm else tmp_path
        path = write_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'mailflow.db'}", rules=f"{name}.toml")
        settings = load_settings(path, env=TEST_ENV)
        engine = db.make_engine(settings.database_url)
        db.upgrade(engine)
        engine.dispose()
        self.clock = Clock(START)
        self.app = build(settings, clock=self.clock)
        self.rules = self.app.rules
        self.uid = 0
        self.last_out = 0
        self.checked: dict[str, int] = {}
        self.examples = 0

    def close(self) -> None:
        self.app.close()
        if self.shm:
            shutil.rmtree(self.shm, ignore_errors=True)

    def deadlines(self, cid: int) -> None:
        """Move the clock to the reminder of the complaint's open step visit, then past its due time."""
        with self.app.factory() as s:
            visit = s.scalars(select(StepVisit).where(StepVisit.complaint_id == cid, StepVisit.ended_at.is_(None))
                              ).first()
            if visit is None or visit.due_at is None:
                return
            remind, due = visit.remind_at, visit.due_at
        for moment in (remind, due + timedelta(minutes=1)):
            self.clock.now = max(self.clock.now, moment)
            result = self.app.deadlines.run_once()
            assert not result.error, result.error
            self.check_new_mail()

    def process(self, raw: bytes):
        self.uid += 1
        with self.app.factory.begin() as s:
            outcome = self.app.intake.process(s, raw, Source("INBOX", 1, self.uid))
        self.check_new_mail()
        return outcome

    def register(self) -> int:
        """A new complaint, from an address of its own (the daily limit of automatic mail is per address)."""
        self.clock.now += timedelta(minutes=1)
        sender = CITIZEN.replace("@", f"+{self.uid}@")
        outcome = self.process(complaint_mail(VALID_BODY, sender=sender, date=self.clock.now))
        assert outcome.action == "registered", outcome
        with self.app.factory() as s:
            return s.scalar(select(Complaint.id).where(Complaint.number == outcome.complaint_number))

    def bring(self, state: ladder.State, path: tuple[Reply, ...]) -> int:
        """A new complaint, brought to ``state`` by the staff replies of ``path``."""
        cid = self.register()
        for step in path:
            outcome = self.staff(cid, step.role, step.text)
            assert outcome.action == "attached", (step, outcome)
        assert key(state_of(self.complaint(cid))) == key(state), path
        return cid

    def complaint(self, cid: int) -> Complaint:
        with self.app.factory() as s:
            c = s.get(Complaint, cid)
            s.expunge(c)
            return c

    def reply(self, cid: int, sender: str, text: str, *, automatic: bool = False):
        c = self.complaint(cid)
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = self.app.letters.reply_address(c)
        msg["Subject"] = f"Re: [{c.number}] aduan"
        msg["Message-ID"] = make_msgid(domain="dukcapil.test")
        if automatic:
            msg["Auto-Submitted"] = "auto-replied"
        msg.set_content(text + "\n")
        return self.process(msg.as_bytes())

    def staff(self, cid: int, role: str, text: str):
        return self.reply(cid, self.rules.roles[role].members[0], text)

    def citizen(self, cid: int, text: str):
        return self.reply(cid, self.complaint(cid).complainant_email, text)

    # ---------------------------------------------------------------- the checks
    def check_new_mail(self) -> None:
        with self.app.factory() as s:
            rows = s.execute(select(OutboxItem).where(OutboxItem.id > self.last_out).order_by(OutboxItem.id)
                             ).scalars().all()
            for row in rows:
                self.last_out = row.id
                if row.kind == MailKind.STATUS:
                    self.checked[row.kind] = self.checked.get(row.kind, 0) + 1
                    self.check_status(plain_body(row.message.raw), state_of(row.complaint))
                if not row.kind.startswith("staff/") or row.kind == MailKind.MONTHLY_REPORT:
                    continue
                self.checked[row.kind] = self.checked.get(row.kind, 0) + 1
                body = plain_body(row.message.raw)
                if row.complaint is not None:
                    self.check_mail(row.kind, body, state_of(row.complaint))
                else:  # a deadline summary: the commands of the complaints it lists
                    words = {w for c in s.scalars(select(Complaint)) for w in ladder.allowed_words(state_of(c),
                                                                                                 self.rules)}
                    assert suggested(body) <= words, (row.kind, body)

    def check_mail(self, kind: str, body: str, state: ladder.State) -> None:
        allowed = set(ladder.allowed_words(state, self.rules))
        where = f"{kind} at {state.status}/{state.step}"
        # "#gabung NOMOR" (a possible duplicate, in the forward) is a merge, not a step's command:
        # the holder's merge into an open complaint of the same complainant must be accepted here.
        merges = re.findall(r"#gabung\s+(\S+)", body)
        bad = suggested(body) - allowed - ({"gabung"} if merges else set())
        assert not bad, f"{where} suggests {sorted(bad)}, which the step refuses:\n{body}"
        for number in merges:
            self.examples += 1
            target = ladder.MergeTarget(number, ladder.IN_PROGRESS, same_complainant=True)
            result = ladder.transition(state, ladder.Merge(number, target, actor_role=state.holder), self.rules)
            assert not result.refused, f"{where}: the suggested #gabung {number} is refused: {result.actions}"
        for example in examples(body):
            self.examples += 1
            cmd = parse_command(example)
            assert cmd.explicit and cmd.word in allowed, f"{where}: example {example!r} is not allowed"
            result = ladder.transition(state, command(example, state, self.rules), self.rules)
            assert not result.refused, f"{where}: example {example!r} is refused: {result.actions}"
        for line in body.splitlines():
            m = re.match(r"\s+#setuju\s+(.*)", line)
            if m and state.draft is None:
                assert "jawaban" not in m.group(1), f"{where}: #setuju explained as an answer there is none of: {line}"


    def check_status(self, body: str, state: ladder.State) -> None:
        """The citizen's status mail: the step in the SOP's words, no staff command, no promise the SOP breaks."""
        flat = " ".join(body.split())
        assert {w.lower() for w in _WORD.findall(body)} <= {"status"}, body
        if state.status != ladder.CLOSED:
            assert self.rules.step(state.step).name in flat, body
        promised = "Jawaban akan kami kirimkan melalui surel" in flat
        assert not promised or any(t == "@answer" for st in self.rules.steps for t in st.actions.values()), body


def plain_body(raw: bytes) -> str:
    return email.message_from_bytes(raw, policy=policy.default).get_body(("plain",)).get_content()


def suggested(body: str) -> set[str]:
    """The command words a staff mail suggests (quoted notes and the refusal's reason are not suggestions)."""
    words = set()
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith(">") or stripped.startswith("Alasan"):
            continue
        for raw in _WORD.findall(line):
            word = WORD_ALIASES.get(raw.lower())
            assert word is not None, f"unknown command word #{raw} in: {line}"
            words.add(word.value)
    return words


def examples(body: str) -> list[str]:
    """The example replies a mail shows: the indented lines after "Contoh balasan:"."""
    out: list[str] = []
    lines = body.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != "Contoh balasan:":
            continue
        for following in lines[i + 1:]:
            if not following.startswith("  ") or not following.strip():
                break
            out.append(following.strip())
    return out


# ---------------------------------------------------------------- the walk
@pytest.mark.parametrize("name", FILES)
def test_every_staff_mail_suggests_only_what_its_step_accepts(tmp_path, name):
    desk = Desk(tmp_path, name)
    try:
        rules = desk.rules
        states = reachable(rules)
        assert len(states) >= 4
        for state, path in states.values():
            for group in cases(state, rules):
                cid = desk.bring(state, path)
                for case in group:
                    case(desk, cid)
        # The reminder and the breach notice of every state's step, on a desk of their own:
        # each complaint's come one at a time, as every earlier complaint's have been sent.
        timed = Desk(tmp_path / "deadlines", name)
        try:
            for state, path in states.values():
                timed.deadlines(timed.bring(state, path))
            # Two complaints due at once for the same role: one summary instead of two mails.
            first, path = next(iter(states.values()))
            pair = [timed.bring(first, path), timed.bring(first, path)]
            timed.deadlines(pair[-1])
        finally:
            timed.close()
        for kind, count in timed.checked.items():
            desk.checked[kind] = desk.checked.get(kind, 0) + count
        # The walk reached every kind of staff mail the ladder writes.
        expected = {MailKind.FORWARD, MailKind.HANDOVER, MailKind.REFUSED, MailKind.HELP, MailKind.HISTORY,
                    MailKind.CITIZEN_FOLLOW_UP, MailKind.REMINDER, MailKind.BREACH_NOTICE, MailKind.DEADLINE_SUMMARY,
                    MailKind.STATUS}
        if any(t == "@answer" for s in rules.steps for t in s.actions.values()):
            expected |= {MailKind.APPROVAL_REQUEST, MailKind.SEND_CONFIRMATION}
        if any(r.deputies for r in rules.roles.values()):
            expected.add(MailKind.DEPUTY_NOTICE)
        assert expected <= set(desk.checked), sorted(expected - set(desk.checked))
        assert desk.examples >= len(states)
    finally:
        desk.close()


def cases(state: ladder.State, rules):
    """What to do with a complaint in ``state``, in groups: each group on a
    complaint of its own (the commands that change nothing share one)."""
    allowed = ladder.allowed_words(state, rules)
    step = rules.step(state.step) if state.status != ladder.CLOSED else None
    moving, still = [], []
    for example in guide.example_replies(state, rules):
        group = still if parse_command(example).word == "catatan" else moving
        group.append(lambda desk, cid, text=example: desk.staff(cid, state.holder, text))
    for word in ("bantuan", "riwayat"):
        still.append(lambda desk, cid, word=word: expect(desk.staff(cid, state.holder, f"#{word}"), "attached"))
    refused = next((w.value for w in Word if w.value not in allowed), None)
    if refused is not None:
        still.append(lambda desk, cid, word=refused: expect(desk.staff(cid, state.holder, f"#{word} coba"), "refused"))
    if step is not None and step.confirm:
        word = next(w for w in allowed if w not in ("info", "catatan", "bantuan", "riwayat"))
        still.append(lambda desk, cid, word=word: expect(desk.staff(cid, state.holder, f"#{word} lanjut"), "refused"))
    if state.holder and rules.roles[state.holder].deputies:
        still.append(lambda desk, cid: desk.reply(cid, rules.roles[state.holder].members[0],
                                                  "#jawab Saya sedang cuti.", automatic=True))
    # The complainant asks where it stands (nothing changes), then writes to the holder.
    still.append(lambda desk, cid: expect(desk.citizen(cid, "#status"), "informed"))
    return [[case] for case in moving] + [still] + [
        [lambda desk, cid: desk.citizen(cid, "Berikut keterangan tambahan dari saya.")]]


def expect(outcome, action: str) -> None:
    assert outcome.action == action, outcome


# ---------------------------------------------------------------- the defects issue 15 named
def test_bimas_no_sends_the_concept_back_without_a_draft_to_resend(tmp_path):
    desk = Desk(tmp_path, "bima-innovation")
    try:
        cid = desk.register()
        desk.staff(cid, "kasi-inovasi", "#teruskan Konsep: KIA keliling.")
        desk.staff(cid, "kabid", "#teruskan Layak.")
        desk.staff(cid, "kadis", "#tolak Anggaran belum ada; perbaiki konsepnya.")
        with desk.app.factory() as s:
            row = s.scalars(select(OutboxItem).order_by(OutboxItem.id.desc())).first()
            assert row.kind == MailKind.HANDOVER
            mail = email.message_from_bytes(row.message.raw, policy=policy.default)
        body = plain_body(row.message.raw)
        assert "Draf jawaban ditolak" not in mail["Subject"] and "#jawab" not in body
        assert "Tidak disetujui" in mail["Subject"] and "Menentukan konsep / ide inovasi" in body
        assert "#teruskan" in body
    finally:
        desk.close()


def test_kulonprogo_initials_and_the_confirmation_in_their_own_words():
    from mailflow.config.rules import load_rules
    from support import REPO

    rules = load_rules(REPO / "rules" / "kulonprogo-website.toml")
    paraf = ladder.initial_state(rules, "identitas")
    [setuju] = [g for g in guide.command_guide(paraf, rules) if g.word == "#setuju"]
    assert "jawaban" not in setuju.meaning and "Paraf Ketua Tim" in setuju.meaning
    coordination = replace(paraf, step="koordinasi", holder="anggota-tim")
    for example in guide.example_replies(coordination, rules):
        if parse_command(example).word not in ("info", "catatan"):
            assert has_confirmation(example, "kerahasiaan diperiksa"), example


def test_the_acknowledgement_promises_an_answer_only_where_the_sop_mails_one(tmp_path):
    for name, promised in (("bima-innovation", False), ("bantul-email", True)):
        desk = Desk(tmp_path / name, name) if (tmp_path / name).mkdir() is None else None
        try:
            desk.register()
            with desk.app.factory() as s:
                row = s.scalars(select(OutboxItem).where(OutboxItem.kind == MailKind.ACKNOWLEDGEMENT)).one()
                body = " ".join(plain_body(row.message.raw).split())
            assert ("Jawaban atas aduan akan kami sampaikan kepada Anda melalui surel" in body) is promised, name
            assert "#status" in body
        finally:
            desk.close()


def test_nothing_checked_is_vacuous():
    body = "Perintah:\n  #teruskan  teruskan\n> #jawab kutipan\nAlasan  : #setuju tidak berlaku\n\nContoh balasan:\n  #teruskan x\n"
    assert suggested(body) == {"teruskan"}
    assert examples(body) == ["#teruskan x"]


def test_a_bima_proposal_closed_without_an_answer_is_not_reopened_by_the_proposers_next_mail(tmp_path):
    # Bima's rules keep reopen_days at 0 so that the proposer's later mail starts a new, linked
    # proposal. The window used to run from an answer Bima never sends: the mail reopened it.
    desk = Desk(tmp_path, "bima-innovation")
    try:
        cid = desk.register()
        for role, text in (("kasi-inovasi", "#teruskan Konsep."), ("kabid", "#teruskan Layak."), ("kadis", "#setuju"),
                           ("kasi-inovasi", "#teruskan Draf."), ("pejabat", "#teruskan Notulen."),
                           ("kasi-inovasi", "#teruskan Mekanisme."), ("kasi-inovasi", "#teruskan Nama."),
                           ("pelaksana", "#setuju Berjalan.")):
            assert desk.staff(cid, role, text).action == "attached"
        assert desk.complaint(cid).status == "closed"
        desk.clock.now += timedelta(hours=1)
        outcome = desk.citizen(cid, VALID_BODY)
        assert outcome.action == "registered"  # a new proposal, linked to the old one
        old = desk.complaint(cid)
        assert old.status == "closed"
        with desk.app.factory() as s:
            new = s.scalars(select(Complaint).where(Complaint.number == outcome.complaint_number)).one()
            assert new.parent_id == cid
            assert s.scalars(select(OutboxItem).where(OutboxItem.kind == MailKind.CITIZEN_FOLLOW_UP)).all() == []
    finally:
        desk.close()


@pytest.mark.parametrize("name", FILES)
def test_every_command_is_explained_as_what_the_ladder_then_does(name):
    """The meaning a staff mail gives each command (core/guide) against what
    ``ladder.transition`` does with it, in every reachable state: the step it
    names is where the complaint goes, an answer said to go out at once does,
    and one said to wait for an approver or a sender waits for that role."""
    from mailflow.config.rules import load_rules
    from support import REPO

    rules = load_rules(REPO / "rules" / f"{name}.toml")
    checked = 0
    for state, _path in reachable(rules).values():
        if state.status == ladder.CLOSED:
            continue
        by_word = {g.word: g.meaning for g in guide.command_guide(state, rules)}
        for example in guide.example_replies(state, rules):
            cmd = parse_command(example)
            if cmd.word == "catatan":
                continue
            meaning = by_word[f"#{cmd.word}"]
            result = ladder.transition(state, command(example, state, rules), rules)
            kinds = {type(a) for a in result.actions}
            where = f"{state.status}/{state.step} #{cmd.word}: {meaning!r} but {result.actions}"
            named = re.search(r'tahap "([^"]+)" \(([^)]+(?:\)[^)]*)?)\)', meaning)
            if named:
                assert rules.step(result.state.step).name == named.group(1), where
                assert rules.roles[result.state.holder].name == named.group(2), where
            if "langsung dikirim" in meaning:
                assert ladder.SendAnswer in kinds and result.state.status == ladder.CLOSED, where
            if "lalu mengirimkannya" in meaning:
                [confirm] = [a for a in result.actions if isinstance(a, ladder.ConfirmSend)]
                assert meaning.split("; ")[-1].startswith(rules.roles[confirm.role].name), where
            if "diajukan kepada" in meaning:
                [ask] = [a for a in result.actions if isinstance(a, ladder.RequestApproval)]
                assert f"diajukan kepada {rules.roles[ask.role].name}" in meaning, where
            if "tanpa surel kepada pelapor" in meaning or "tidak ada yang dikirim" in meaning:
                assert ladder.SendAnswer not in kinds, where
            if "menunggu balasan pelapor" in meaning:
                assert result.state.status == ladder.WAITING_CITIZEN, where
            checked += 1
    assert checked >= 8
