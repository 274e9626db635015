"""No mail text can stall the daemon: reply extraction, the last check and the
complaint parser run in linear time on any input (issue 11: the old
attribution pattern took ~2 minutes on a 23 KB line).

Each adversarial shape is timed at n and at 8n characters; linear work grows
8x, quadratic 64x. The test asserts a ratio far below quadratic, never an
absolute time, so a slow or busy machine does not fail it.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from mailflow.config.complaint_format import load_format
from mailflow.core.complaint_format import parse_complaint
from mailflow.core.format_spec import match_category
from mailflow.core.reply_text import extract_reply, extract_reply_html, quoted_material

SPEC = load_format(Path(__file__).resolve().parents[1] / "rules" / "complaint-format.toml")
N = 4_000  # characters in the smaller input
RATIO = 20  # linear is ~8, quadratic ~64


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda n: unit * (n // len(unit) + 1)


# Long lines of one character or pair (what backtracking patterns choke on), and
# many short lines of the shapes each rule looks at (windows, blocks, look-backs).
SHAPES: dict[str, Callable[[int], str]] = {
    "a@ line": lambda n: "#jawab ok\n" + _repeat("a@")(n) + ":\n",
    "< line": lambda n: "#jawab ok\n" + _repeat("<")(n) + "\n",
    "spaces line": lambda n: "#jawab ok\n" + " " * n + "x:\n",
    "digits line": lambda n: "#jawab ok\n" + "1" * n + ":\n",
    "letters line": lambda n: "a" * n,
    "address characters": lambda n: "Email: " + _repeat("a.")(n),
    "dotted domain": lambda n: "Email: a@" + _repeat("b.")(n) + "-",
    "brackets": lambda n: "Nama (" + _repeat("(")(n),
    "square brackets": lambda n: "Jenis Layanan: [" + _repeat("[a ")(n),
    "hashes": lambda n: _repeat("#")(n),
    "hash pieces": lambda n: "#3201014501900001 #Siti #" + _repeat("#x ")(n),
    "hash pieces without spaces": lambda n: "Format aduan:#3201014501900001#Siti" + _repeat("#x")(n),
    "dashes": lambda n: _repeat("-")(n),
    "underscores": lambda n: _repeat("_")(n),
    "emphasis marks": lambda n: _repeat("*")(n) + ":",
    "separators": lambda n: _repeat("a:")(n),
    "tabs": lambda n: "Nama" + "\t" * n + "x",
    "spaces after a label without its value": lambda n: "Nama:\na" + " " * n + "b",
    "words": lambda n: _repeat("Nama ")(n),
    "label with a long value": lambda n: "Uraian: " + _repeat("x ")(n),
    "attribution fragments on one line": lambda n: _repeat("Pada tanggal Sen, 23 Nov 2026 pukul 09.15 Admin <")(n),
    "verbs on one line": lambda n: _repeat("Admin <a@b.id> menulis: ")(n),
    "quote markers and blanks": lambda n: _repeat(">\n\n")(n),
    "attribution heads": lambda n: "#jawab ok\n" + _repeat("Pada 1 <\n")(n),
    "attributions": lambda n: _repeat("On 1 2 3 4 <a@b.c>:\n")(n),
    "attributions after colons": lambda n: _repeat("x:\n1 <a@b.c>:\n> q\n")(n),
    "header lines": lambda n: _repeat("Dari: x\n")(n),
    "outlook rules and blanks": lambda n: _repeat("_" * 20 + "\n\n")(n),
    "one rule, many blanks": lambda n: "_" * 20 + "\n" + "\n" * n + "Dari: x",
    "closings": lambda n: "Uraian: x\n" + _repeat("Terima kasih.\nHormat saya,\n")(n),
    "div openers": lambda n: _repeat("<div")(n),
    "blockquote openers": lambda n: _repeat("<blockquote>")(n),
    "hr openers": lambda n: _repeat("<hr")(n),
}

FUNCTIONS: dict[str, Callable[[str], object]] = {
    "extract_reply": extract_reply,
    "extract_reply_html": extract_reply_html,
    "quoted_material": quoted_material,
    "parse_complaint": lambda text: parse_complaint(text, SPEC, today=date(2026, 11, 23)),
    "match_category": lambda text: match_category(text, SPEC),
}
# HTML-only replies go through mailflow.core.mail.html_to_text; the stdlib's
# html.parser it used rescanned an unclosed tag from every '<' (~8 s for 64 KB
# of "<hr<hr..."), replaced by a linear tokenizer: these shapes keep it so.


def _cpu_seconds(function: Callable[[str], object], text: str, number: int) -> float:
    """CPU time of one call, averaged over ``number`` calls. CPU time, not wall
    time: on a shared machine the other processes' turns are not ours; the
    garbage collector is off, as its passes depend on the whole test process."""
    gc.disable()
    try:
        start = time.process_time()
        for _ in range(number):
            function(text)
        return (time.process_time() - start) / number
    finally:
        gc.enable()


def _ratio(function: Callable[[str], object], small: str, large: str) -> float:
    """How many times longer ``function`` takes on ``large`` than on ``small``:
    the best of four rounds of each, taken in turns (so a busy spell hits
    both), each round repeated until it lasts ~10 ms (so a fast call is not
    measured as clock noise)."""
    once = _cpu_seconds(function, large, 1)
    if once > 0.5:
        return once / _cpu_seconds(function, small, 1)  # already far too slow to be linear
    number_large = max(1, int(0.01 / max(once, 1e-6)))
    number_small = max(1, int(0.01 / max(_cpu_seconds(function, small, 1), 1e-6)))
    best_small = best_large = float("inf")
    for _ in range(4):
        best_small = min(best_small, _cpu_seconds(function, small, number_small))
        best_large = min(best_large, _cpu_seconds(function, large, number_large))
    return best_large / best_small


def _cases() -> list:
    cases = []
    for shape in SHAPES:
        for function in FUNCTIONS:
            cases.append(pytest.param(shape, function, id=f"{shape}-{function}"))
    return cases


@pytest.mark.parametrize("shape, function", _cases())
def test_time_grows_linearly(shape, function):
    make, run = SHAPES[shape], FUNCTIONS[function]
    n = N // 2 if function == "extract_reply_html" else N  # html.parser: keep the known-slow cases short
    small, large = make(n), make(8 * n)
    ratio = _ratio(run, small, large)
    assert ratio < RATIO, f"{function} on {shape!r}: 8x the input took {ratio:.1f}x the time"
