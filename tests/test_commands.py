"""Staff command words and Authentication-Results (pure)."""

from __future__ import annotations

import pytest

from mailflow.core.authres import sender_check
from mailflow.core.commands import has_confirmation, parse_command, status_request
from mailflow.desk.letters import number_regex


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
        ("#bantuan", "bantuan", "", True),
        ("#help", "bantuan", "", True),
        ("#riwayat", "riwayat", "", True),
        ("#History", "riwayat", "", True),
        ("#status", "", "", True),  # a citizen's word: from staff, an unknown command
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


MX = "mx.dukcapil.test"  # the office's receiving server (its authserv-id)

# (Authentication-Results values, topmost first; From: domain) -> verdict
SENDER_CHECKS = [
    # our server's word, for the From: domain
    ([f"{MX}; spf=pass smtp.mailfrom=kasi@dukcapil.test; dkim=pass header.d=dukcapil.test; "
      "dmarc=pass header.from=dukcapil.test"], "dukcapil.test", "pass"),
    ([f"{MX}; dmarc=fail (p=reject) header.from=dukcapil.test"], "dukcapil.test", "fail"),
    ([f"{MX}; dkim=pass header.d=dukcapil.test"], "dukcapil.test", "pass"),  # aligned DKIM
    ([f"{MX}; dkim=pass header.d=mail.dukcapil.test"], "dukcapil.test", "pass"),  # relaxed alignment
    ([f"{MX}; dkim=pass header.d=bulk.example"], "dukcapil.test", "none"),  # signed, but not by the From: domain
    ([f"{MX}; spf=pass smtp.mailfrom=bounce@dukcapil.test"], "dukcapil.test", "pass"),  # aligned SPF
    ([f"{MX}; spf=pass smtp.mailfrom=x@other.test"], "dukcapil.test", "none"),
    ([f"{MX}; spf=softfail smtp.mailfrom=kasi@dukcapil.test"], "dukcapil.test", "none"),  # only DMARC says "fail"
    ([f"{MX}; dmarc=fail header.from=other.test"], "dukcapil.test", "none"),  # another domain's result
    ([f"{MX}; none"], "dukcapil.test", "none"),
    ([f"{MX.upper()} 1; dmarc=pass header.from=dukcapil.test"], "dukcapil.test", "pass"),  # case, a version number
    ([f"{MX} (our MX); dmarc=pass (p=none) header.from=dukcapil.test"], "dukcapil.test", "pass"),  # comments
    # anyone else's word is ignored, whatever it says and wherever it stands
    (["evil.test; dmarc=pass header.from=dukcapil.test"], "dukcapil.test", "none"),
    (["evil.test; dmarc=pass header.from=dukcapil.test", f"{MX}; dmarc=fail header.from=dukcapil.test"],
     "dukcapil.test", "fail"),
    (["mx; dmarc=pass header.from=dukcapil.test"], "dukcapil.test", "none"),  # a bare "mx" is not our id
    ([], "dukcapil.test", "none"),
    # the topmost header of our server counts (the last one it added)
    ([f"{MX}; dmarc=fail header.from=dukcapil.test", f"{MX}; dmarc=pass header.from=dukcapil.test"],
     "dukcapil.test", "fail"),
]


@pytest.mark.parametrize(("values", "domain", "verdict"), SENDER_CHECKS)
def test_sender_check_believes_only_the_offices_server(values, domain, verdict):
    assert sender_check(values, (MX,), domain).verdict == verdict


def test_without_a_configured_server_nothing_is_believed():
    header = f"{MX}; dmarc=pass header.from=dukcapil.test"
    assert sender_check([header], (), "dukcapil.test").verdict == "none"


def test_sender_check_reads_a_long_hostile_header_in_linear_time():
    import time

    def took(n: int) -> float:
        value = f"{MX}; " + "(" * n + "dmarc=pass" + ";x=y" * n
        start = time.perf_counter()
        for _ in range(5):
            sender_check([value] * 20, (MX,), "dukcapil.test")
        return time.perf_counter() - start

    took(1000)  # warm up
    assert took(64_000) < 20 * took(8_000) + 0.05  # 8x the input: far from 64x (quadratic)


NUMBER = number_regex("ADU/{year}/{seq:06d}")


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("#status", ""),
        ("#STATUS\n\nTerima kasih.", ""),
        ("＃status", ""),
        ("# status mohon info", ""),
        ("#cek status ADU/2026/000123", "ADU/2026/000123"),
        ("#status aduan saya ADU/2026/000123 kapan selesai?", "ADU/2026/000123"),
        ("status", ""),
        ("Status.", ""),
        ("\n\n  cek status  \nTerima kasih", ""),
        ("Cek status ADU/2026/000123", "ADU/2026/000123"),
        ("cek status aduan saya: ADU/2026/000123.", "ADU/2026/000123"),
        ("status pengaduan ADU/2026/000007", "ADU/2026/000007"),
        # a follow-up that only starts with the word stays a follow-up
        ("Status KTP saya belum berubah.", None),
        ("status perkawinan di KK salah", None),
        ("Cek status ADU/2026/000123 dan mohon dipercepat", None),
        ("Nama: Siti Aminah\nStatus: belum kawin", None),
        ("#jawab status sudah dicek", None),
        ("", None),
    ],
)
def test_status_request(text, asks):
    assert status_request(text, NUMBER) == asks
