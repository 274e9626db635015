"""Made-up but valid complaint data: NIK/KK numbers, names, complaint mail."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

DOMAIN = "dukcapil.test"
CITIZENS = tuple(f"warga{i}" for i in range(1, 10))

_NAMES = ("Siti Aminah", "Budi Santoso", "Dewi Lestari", "Agus Salim", "Rina Wulandari", "Joko Widodo",
          "Sri Rahayu", "Bambang Priyanto", "Endang Susilowati", "Yusuf Maulana", "Nur Hidayah", "Eko Prasetyo")
_SERVICES = ("KTP-el", "Kartu Keluarga", "Akta Kelahiran", "Pindah Datang", "Akta Kematian", "IKD")
_STORY = (
    "KTP-el saya sudah direkam pada bulan Agustus di kantor kecamatan tetapi sampai sekarang belum "
    "dicetak. Saya sudah datang ke kantor kecamatan tiga kali dan selalu dijawab blangko habis. "
    "Mohon informasi kapan KTP-el saya bisa diambil karena saya memerlukannya untuk melamar kerja "
    "dan membuka rekening bank. Nomor antrean perekaman saya tercatat di bukti perekaman yang "
    "saya lampirkan fotonya pada surel sebelumnya. Terima kasih atas perhatian Bapak/Ibu."
)


def nik(i: int) -> str:
    """A structurally valid NIK, different for every ``i`` below 9,999 * 336 * 30."""
    serial = 1 + i % 9999
    rest = i // 9999
    day = 1 + rest % 28 + (40 if i % 2 else 0)
    month = 1 + (rest // 28) % 12
    yy = 70 + (rest // 336) % 30
    return f"340201{day:02d}{month:02d}{yy:02d}{serial:04d}"


def kk(i: int) -> str:
    serial = 1 + i % 9999
    return f"3402011203{15 + (i // 9999) % 9:02d}{serial:04d}"


def name(i: int) -> str:
    return _NAMES[i % len(_NAMES)]


def service(i: int) -> str:
    return _SERVICES[i % len(_SERVICES)]


def sender(i: int) -> str:
    """A distinct, deliverable citizen address: warga1..9 with a +tag."""
    return f"{CITIZENS[i % len(CITIZENS)]}+c{i}@{DOMAIN}"


def complaint_body(i: int, pad_to: int = 0) -> str:
    story = _STORY
    body = (
        "Selamat siang Bapak/Ibu,\n\n"
        f"Nama: {name(i)}\n"
        f"NIK: {nik(i)}\n"
        f"No. KK: {kk(i)}\n"
        f"Alamat: Jl. Parangtritis Km {1 + i % 20}, Sewon, Bantul\n"
        f"No. HP: 0812{i % 100000000:08d}\n"
        f"Jenis Layanan: {service(i)}\n"
        f"Uraian: {story}\n"
    )
    while pad_to and len(body) < pad_to - 60:
        body += "Saya mohon bantuan Bapak/Ibu agar masalah ini dapat segera diselesaikan.\n"
    return body + "\nTerima kasih.\n"


def complaint_mail(i: int, *, size: int = 2048, to: str = f"aduan@{DOMAIN}", run: str = "b",
                   attachment: bytes | None = None) -> bytes:
    """A ~``size``-byte plain-text complaint mail (CRLF), distinct per ``i`` (NIK, sender, Message-ID)."""
    now = format_datetime(datetime.now(UTC))
    head = (
        f"Received: from [10.20.{i % 250}.{i % 200 + 1}] (helo=mail.warga.test)\r\n"
        f"\tby mx.warga.test with esmtpsa id {i:010d}; {now}\r\n"
        f"From: {name(i)} <{sender(i)}>\r\n"
        f"To: {to}\r\n"
        f"Subject: Pengaduan {service(i)} ({i})\r\n"
        f"Date: {now}\r\n"
        f"Message-ID: <bench-{run}-{i}@warga.test>\r\n"
        "User-Agent: Mozilla Thunderbird\r\n"
        "Content-Language: id\r\n"
        "MIME-Version: 1.0\r\n"
    )
    body_target = max(0, size - len(head) - 120)
    body = complaint_body(i, pad_to=body_target).replace("\n", "\r\n")
    if attachment is None:
        return (head + "Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n" + body).encode()
    import base64

    b64 = base64.encodebytes(attachment).replace(b"\n", b"\r\n")
    boundary = f"----=_bench_{i}"
    return (
        head + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + body + f"\r\n--{boundary}\r\nContent-Type: image/jpeg; name=\"ktp-{i}.jpg\"\r\n"
        f"Content-Disposition: attachment; filename=\"ktp-{i}.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + b64 + f"\r\n--{boundary}--\r\n".encode()
