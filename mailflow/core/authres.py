"""Authentication-Results (RFC 8601): what the office's own receiving server
says it checked about a mail's sender (pure).

Anyone can write an ``Authentication-Results`` header into a mail. Only one
stamped by the office's receiving server is believed: its authserv-id (the
first token of the value) must be one the office configured (``[security]
authserv_ids``), and that server removes look-alikes arriving from outside
(RFC 8601 section 5). Of those, the topmost counts (the last one added).

``sender_check(values, authserv_ids, from_domain)`` answers for the ``From:``
domain:

- ``pass``: DMARC passed for it, or DKIM passed with a signing domain aligned
  with it, or SPF passed with an envelope sender domain aligned with it;
- ``fail``: DMARC failed for it (the domain's owner says such mail is forged);
- ``none``: no trusted header, or nothing conclusive in it.

Parsing is linear: each header value is cut at a bound length and read token
by token, never by a backtracking pattern.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# An Authentication-Results value longer than this is not one a server wrote;
# bounding it keeps every step below linear in a bounded input.
MAX_VALUE = 8192


@dataclass(frozen=True)
class SenderCheck:
    verdict: str  # pass | fail | none
    reason: str  # for the hop log, e.g. "dmarc=pass by mx.dukcapil.test"

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def failed(self) -> bool:
        return self.verdict == "fail"


NONE = SenderCheck("none", "no Authentication-Results from the office's server")


def _strip_comments(value: str) -> str:
    """The value without RFC 5322 comments (nested parentheses), in one pass."""
    out: list[str] = []
    depth = 0
    quoted = False
    for ch in value:
        if quoted:
            if depth == 0:
                out.append(ch)
            if ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
            if depth == 0:
                out.append(ch)
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def authserv_id(value: str) -> str:
    """The authserv-id of an Authentication-Results value (lower case), "" if none."""
    head = _strip_comments(value[:MAX_VALUE]).split(";", 1)[0].split()
    return head[0].lower() if head else ""


@dataclass(frozen=True)
class _Result:
    method: str  # spf | dkim | dmarc | ...
    result: str  # pass | fail | none | ...
    props: dict[str, str]  # "header.from" -> "example.com", ...


def results(value: str) -> list[_Result]:
    """The method results of one Authentication-Results value, in order."""
    text = " ".join(_strip_comments(value[:MAX_VALUE]).split())
    out = []
    for clause in text.split(";")[1:]:
        words = clause.split()
        if not words or "=" not in words[0]:
            continue
        method, _, result = words[0].partition("=")
        method = method.split("/", 1)[0].lower()  # "dkim/1=pass": a version number
        props = {}
        for word in words[1:]:
            key, eq, val = word.partition("=")
            if eq and "." in key:
                props[key.lower()] = val.strip('"').lower()
        out.append(_Result(method, result.lower(), props))
    return out


def _domain(value: str) -> str:
    """The domain of ``user@domain`` or ``domain``, lower case, without a trailing dot."""
    return value.rpartition("@")[2].rstrip(".").lower()


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment (DMARC): the same domain, or one a subdomain of the other.
    (Without the public-suffix list this is stricter than DMARC's organisational
    domain for unrelated subdomains of one organisation, never looser.)"""
    if not domain or not from_domain:
        return False
    return domain == from_domain or domain.endswith("." + from_domain) or from_domain.endswith("." + domain)


def trusted_header(values: Iterable[str], authserv_ids: Sequence[str]) -> str | None:
    """The topmost Authentication-Results value stamped by one of ``authserv_ids``."""
    ids = {i.lower() for i in authserv_ids}
    if not ids:
        return None
    for value in values:
        if authserv_id(value) in ids:
            return value
    return None


def sender_check(values: Iterable[str], authserv_ids: Sequence[str], from_domain: str) -> SenderCheck:
    """What the office's server verified of ``from_domain`` (see the module doc).
    ``values``: the mail's Authentication-Results values, topmost first."""
    header = trusted_header(values, authserv_ids)
    if header is None:
        return NONE
    by = authserv_id(header)
    from_domain = _domain(from_domain)
    found = results(header)
    for r in found:
        if r.method == "dmarc" and _domain(r.props.get("header.from", from_domain)) == from_domain:
            if r.result == "pass":
                return SenderCheck("pass", f"dmarc=pass by {by}")
            if r.result == "fail":
                return SenderCheck("fail", f"dmarc=fail by {by}")
    for r in found:
        if r.result != "pass":
            continue
        if r.method == "dkim" and aligned(_domain(r.props.get("header.d", r.props.get("header.i", ""))), from_domain):
            return SenderCheck("pass", f"dkim=pass (aligned) by {by}")
        if r.method == "spf" and aligned(_domain(r.props.get("smtp.mailfrom", "")), from_domain):
            return SenderCheck("pass", f"spf=pass (aligned) by {by}")
    return SenderCheck("none", f"nothing conclusive for {from_domain} from {by}")
