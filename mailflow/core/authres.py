"""Authentication-Results (RFC 8601) as the receiving server wrote them (pure).

Only the topmost header counts: it is the one our own receiving server
prepended; lower ones came with the mail and may be forged.
"""

from __future__ import annotations

import re

_RESULT = re.compile(r"\b(dkim|spf|dmarc)\s*=\s*([a-z]+)([^;]*)", re.I)
_FAILING = {"fail", "softfail", "permerror"}


def authentication_failure(values: tuple[str, ...] | list[str], domains: set[str]) -> str | None:
    """A reason if the topmost Authentication-Results reports a DKIM, SPF or DMARC
    failure for one of ``domains`` (the staff domains); None if it passes or says nothing."""
    if not values:
        return None
    header = " ".join(values[0].split())
    for method, result, props in _RESULT.findall(header):
        if result.lower() not in _FAILING:
            continue
        values_ = re.findall(r"(?:header|smtp)\.[a-z]+\s*=\s*([^\s;()]+)", props, re.I)
        named = {v.rpartition("@")[2].lower() for v in values_}
        if not named or named & domains:
            return f"{method.lower()}={result.lower()} in Authentication-Results"
    return None
