"""Staff command words and Authentication-Results (pure)."""

from __future__ import annotations

import pytest

from mailflow.core.authres import authentication_failure
from mailflow.core.commands import has_confirmation, parse_command


@pytest.mark.parametrize(
    ("text", "word", "rest", "explicit"),
    [
        ("#jawab KTP-el sudah dicetak.", "jawab", "KTP-el sudah dicetak.", True),
        ("  #Teruskan: mohon dicek\nbaris dua", "teruskan", "mohon dicek\nbaris dua", True),
        ("#forward please check", "teruskan", "please check", True),
        ("#approve", "setuju", "", True),
        ("#OK", "setuju", "", True),
        ("#reject not clear", "tolak", "not clear", True),
        ("#ask kirim foto", "info", "kirim foto", True),
        ("#note internal", "catatan", "internal", True),
        ("＃setuju", "setuju", "", True),
        ("Terima kasih, akan saya cek.", "catatan", "Terima kasih, akan saya cek.", False),
        ("#jawaban Sudah selesai", "jawab", "Sudah selesai", True),
        ("#selesai", "", "", True),
        ("# jawab spasi", "jawab", "spasi", True),
    ],
)
def test_parse_command(text, word, rest, explicit):
    cmd = parse_command(text)
    assert (cmd.word, cmd.text, cmd.explicit) == (word, rest, explicit)


def test_a_hash_later_in_the_text_is_not_a_command():
    assert parse_command("Mohon lihat #jawab di bawah").word == "catatan"


def test_confirmation_phrase_ignores_case_and_spacing():
    assert has_confirmation("#teruskan  Kerahasiaan   DIPERIKSA, lanjut", "kerahasiaan diperiksa")
    assert not has_confirmation("#teruskan lanjut", "kerahasiaan diperiksa")
    assert not has_confirmation("anything", "")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("mx.dukcapil.test; dkim=fail header.d=dukcapil.test; spf=pass smtp.mailfrom=kasi@dukcapil.test", "dkim=fail"),
        ("mx.dukcapil.test; spf=softfail smtp.mailfrom=kasi@dukcapil.test", "spf=softfail"),
        ("mx; dmarc=fail (p=reject) header.from=dukcapil.test", "dmarc=fail"),
        ("mx.dukcapil.test; dkim=pass header.d=dukcapil.test; spf=pass smtp.mailfrom=kasi@dukcapil.test; dmarc=pass header.from=dukcapil.test", None),
        ("mx; spf=fail smtp.mailfrom=x@other.test", None),  # another domain's failure is not ours to judge
        ("mx; none", None),
    ],
)
def test_authentication_results(header, expected):
    got = authentication_failure([header], {"dukcapil.test"})
    assert (got is None) if expected is None else (expected in got)


def test_only_the_topmost_authentication_results_counts():
    # a forged lower header claiming "pass" cannot hide our server's "fail" on top, and vice versa
    assert authentication_failure(["mx; dkim=pass header.d=dukcapil.test",
                                   "forged; dkim=fail header.d=dukcapil.test"], {"dukcapil.test"}) is None
    assert authentication_failure([], {"dukcapil.test"}) is None
