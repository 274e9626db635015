"""The satisfaction survey (Survei Kepuasan Masyarakat, SKM) as values (pure).

Permenpan RB 14/2017 measures a public service by nine elements (unsur),
each rated 1-4 (1 tidak baik, 2 kurang baik, 3 baik, 4 sangat baik). The
index (Indeks Kepuasan Masyarakat, IKM) is the average of the nine elements'
mean scores (nilai rata-rata per unsur, equal weights 1/9), times 25: a figure
from 25 to 100, graded A-D by the regulation's intervals (``grade``).

A citizen answers by one reply: a single number 1-4 (the service as a whole,
taken as the score of every element), and/or lines "1: 4" ... "9: 3" for the
elements (``core.commands.parse_rating`` reads the reply). An element given
on its own line overrides the single number for that element; an element
given by neither counts for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SCALE = {1: "tidak baik", 2: "kurang baik", 3: "baik", 4: "sangat baik"}

# The nine elements of Permenpan RB 14/2017 (Lampiran, I.B), as short questions
# a citizen answers with 1-4. Order = the regulation's U1..U9.
ELEMENTS: tuple[tuple[str, str], ...] = (
    ("persyaratan", "Persyaratan: apakah persyaratan layanan sesuai dan mudah dipenuhi?"),
    ("prosedur", "Prosedur: apakah alur penanganan aduan mudah dipahami?"),
    ("waktu", "Waktu: apakah aduan ditangani dalam waktu yang dijanjikan?"),
    ("biaya", "Biaya/tarif: apakah layanan ini bebas biaya atau sesuai ketentuan?"),
    ("produk", "Produk: apakah jawaban yang diterima sesuai dengan yang dijanjikan?"),
    ("kompetensi", "Kompetensi pelaksana: apakah petugas menguasai persoalan Anda?"),
    ("perilaku", "Perilaku pelaksana: apakah petugas sopan dan ramah?"),
    ("pengaduan", "Penanganan pengaduan, saran dan masukan: apakah aduan Anda ditanggapi dengan baik?"),
    ("sarana", "Sarana dan prasarana: apakah saluran layanan (surel, situs) mudah digunakan?"),
)
N_ELEMENTS = len(ELEMENTS)

# (lowest IKM, grade, words): Permenpan RB 14/2017, Lampiran, the conversion
# table (nilai interval konversi IKM): 88.31-100 A, 76.61-88.30 B,
# 65.00-76.60 C, 25.00-64.99 D.
GRADES: tuple[tuple[float, str, str], ...] = (
    (88.31, "A", "Sangat Baik"),
    (76.61, "B", "Baik"),
    (65.00, "C", "Kurang Baik"),
    (25.00, "D", "Tidak Baik"),
)


@dataclass(frozen=True)
class Rating:
    """One citizen's answer: ``overall`` (1-4 or None) and the nine elements
    as given on their own lines (None where not given)."""

    overall: int | None
    elements: tuple[int | None, ...]

    def __post_init__(self) -> None:
        if len(self.elements) != N_ELEMENTS:
            raise ValueError(f"expected {N_ELEMENTS} elements, got {len(self.elements)}")
        for v in (self.overall, *self.elements):
            if v is not None and v not in SCALE:
                raise ValueError(f"a rating is 1-4, got {v!r}")

    def scores(self) -> tuple[int | None, ...]:
        """Each element's score: its own line, else the single number, else None."""
        return tuple(e if e is not None else self.overall for e in self.elements)

    @property
    def empty(self) -> bool:
        return self.overall is None and all(e is None for e in self.elements)


@dataclass(frozen=True)
class ElementSums:
    """Per element, the sum of the scores and how many responses scored it."""

    sums: tuple[int, ...]
    counts: tuple[int, ...]

    @classmethod
    def zero(cls) -> ElementSums:
        return cls((0,) * N_ELEMENTS, (0,) * N_ELEMENTS)

    @classmethod
    def of(cls, ratings: Iterable[Sequence[int | None]]) -> ElementSums:
        total = cls.zero()
        for scores in ratings:
            total = total + cls(tuple(s or 0 for s in scores), tuple(int(s is not None) for s in scores))
        return total

    def __add__(self, other: ElementSums) -> ElementSums:
        return ElementSums(tuple(a + b for a, b in zip(self.sums, other.sums)),
                           tuple(a + b for a, b in zip(self.counts, other.counts)))

    def means(self) -> tuple[float | None, ...]:
        """The mean score (nilai rata-rata, NRR) of each element; None if nobody scored it."""
        return tuple(s / n if n else None for s, n in zip(self.sums, self.counts))


def ikm(sums: ElementSums) -> float | None:
    """The IKM: the mean of the elements' mean scores (equal weights) x 25,
    over the elements somebody scored; None without any score."""
    means = [m for m in sums.means() if m is not None]
    if not means:
        return None
    return round(sum(means) / len(means) * 25, 2)


def grade(index: float | None) -> tuple[str, str] | None:
    """The quality grade of an IKM: ("A", "Sangat Baik") ... ("D", "Tidak Baik").

    The regulation's intervals are given to two decimals; the index is rounded
    to two decimals before it is graded, so no value falls between them."""
    if index is None:
        return None
    value = round(index, 2)
    for lowest, letter, words in GRADES:
        if value >= lowest:
            return letter, words
    return GRADES[-1][1], GRADES[-1][2]
