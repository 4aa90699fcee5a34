"""Quantities a text mentions ("1,000", "$5.30", "2.5 million", "2024-03-01"), each with a
comparable value, and the digit runs ("figures") a reader checks a number against.

List numbering ("1)", "2.", "(3)", "#4"), identifiers (AlphaFold3, gpt-4o, hashes) and URLs
never count as quantities. A few precompiled regex passes per text, cached per text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from functools import lru_cache
from typing import NamedTuple

from agenther.scanning import matches_at, scanner, shared_scan, url_starts

_SCALES = {
    "k": 10**3,
    "K": 10**3,
    "thousand": 10**3,
    "M": 10**6,
    "mn": 10**6,
    "million": 10**6,
    "B": 10**9,
    "bn": 10**9,
    "billion": 10**9,
    "trillion": 10**12,
}

# URLs and ISO dates are matched as whole tokens so the digits inside them are not read as
# separate quantities; a number must not touch a word character, "." or "#" on its left
# (identifiers, versions, "#4") nor a word character on its right unless that is its unit.
_NUMBER_RE = scanner(
    r"""
    (?=[\d$€£¥.\-−hw])(?:
      (?P<url>\b(?:https?://|www\.)[^\s<>"')\]]+)
    | (?<![\w.])(?P<date>\d{4}-\d{2}-\d{2})(?![\w-])
    | (?<![\w.#])(?<![A-Za-z_][-−])
      (?P<sign>[-−])?
      (?P<cur>[$€£¥])?
      (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
      (?P<exp>[eE][-+]?\d+)?
      (?P<ver>(?:\.\d+)+)?
      (?:\s(?P<word>thousand|million|billion|trillion)\b)?
      (?P<unit>%|[A-Za-z]{1,5})?
      (?![\w])
    )
    """,
    re.VERBOSE,
)

# Where a match of _NUMBER_RE can start besides a URL: a digit, sign, currency or "." that
# follows no word character or "." (the weakest of its branches' lookbehinds).
_NUMBER_START_RE = scanner(r"[\d$€£¥.\-−](?<![\w.].)")


def _number_matches(text: str) -> Iterator[re.Match[str]]:
    starts = [m.start() for m in _NUMBER_START_RE(text).finditer(text)]
    urls = url_starts(text)
    if urls:
        starts = sorted({*starts, *urls})
    return matches_at(_NUMBER_RE(text), text, starts)


# Beyond a float's range no quantity is meant: "5577e7998565" is a hex id, and its decimal
# form would overflow (or run to millions of digits).
_MAX_EXPONENT = 308

# Characters after which a bare small integer starts a list item ("Results: 1) ...").
_ITEM_BOUNDARY = frozenset("\n:;.!?")


class Quantity(NamedTuple):
    """One quantity as written (``raw``) and as compared (``value``).

    A NamedTuple because thousands are built per second and a frozen dataclass is far
    slower to construct."""

    raw: str
    value: str
    currency: str = ""
    unit: str = ""


# Values are exact however many digits a number has (the default context would round past
# 28): a value's digits are then always those written, which ``may_state`` relies on.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


# Values recur (counts, prices, years), and a Decimal round trip costs microseconds.
@lru_cache(maxsize=16384)
def _canonical(
    sign: str | None, num: str, exp: str | None, word: str | None, unit: str | None
) -> str:
    scale = _SCALES.get(word or "") or _SCALES.get(unit or "")
    if not exp and not scale:
        whole, _, fraction = num.replace(",", "").partition(".")
        fraction = fraction.rstrip("0")
        value = str(int(whole or "0")) + ("." + fraction if fraction else "")
    else:
        dec = Decimal(num.replace(",", "") + (exp or ""))
        if scale:
            dec = _EXACT.multiply(dec, scale)
        value = format(_EXACT.normalize(dec), "f")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
    if sign and value.strip("0."):
        value = "-" + value
    return value


def _list_number(text: str, start: int, end: int, num: str, previous: int) -> int | None:
    """The item number if ``num`` (a bare integer at ``start:end``) numbers a list item
    ("1)", "(2)", "3."), else None.

    A marker stands at the start of an item (text start, a new line or after ":;.!?"), or
    continues the list the previous marker started ("1) apples 2) pears").
    """
    if len(num) > 3 or not num.isdigit():
        return None
    after = text[end : end + 1]
    if after == ")" and start and text[start - 1] == "(":
        return int(num)
    if after == ")" or (after == "." and text[end + 1 : end + 2] in ("", " ", "\n", "\t")):
        value = int(num)
        if previous and value == previous + 1:
            return value
        i = start - 1
        while i >= 0 and text[i] in " \t":
            i -= 1
        if i < 0 or text[i] in _ITEM_BOUNDARY:
            return value
    return None


def _inside_identifier(text: str, start: int) -> bool:
    """ "72B" in "Qwen2.5-72B": a hyphen joins it to a token that starts with a letter.

    (A letter right before the hyphen is excluded by the regex; this catches the digit case,
    which is otherwise a range such as "5-10".)
    """
    if start < 2 or text[start - 1] not in "-−" or not text[start - 2].isdigit():
        return False
    i = start - 2
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "._"):
        i -= 1
    return text[i].isalpha()


_GROUPS = ("url", "date", "sign", "cur", "num", "exp", "ver", "word", "unit")


def _in_array(text: str, start: int, end: int) -> bool:
    """Whether the digits at ``start:end`` sit between "[" or "," and "]" or "," with no space:
    a JSON array ("flow_l_per_cycle": [412,409,415]) holds several numbers, since JSON groups
    no thousands."""
    return text[start - 1 : start] in ("[", ",") and text[end : end + 1] in ("]", ",")


@shared_scan
def quantities_of(text: str) -> tuple[Quantity, ...]:
    seen: set[tuple[str, str]] = set()
    found: list[Quantity] = []
    last_item = 0
    for match in _number_matches(text):
        url, date, sign, cur, num, exp, ver, word, unit = match.group(*_GROUPS)
        if url:
            continue
        if date:
            quantity = Quantity(raw=date, value=date)
        else:
            start = match.start()
            if not (cur or sign or unit or word or exp or ver):
                item = _list_number(text, start, match.end(), num, last_item)
                if item is not None:
                    last_item = item
                    continue
            if _inside_identifier(text, start) or (exp and abs(int(exp[1:])) > _MAX_EXPONENT):
                continue
            if ver:
                quantity = Quantity(raw=match.group(0), value=num + ver)
            elif (
                "," in num
                and not (cur or sign or unit or word or exp)
                and _in_array(text, start, match.end())
            ):
                for part in num.split(","):
                    value = _canonical(None, part, None, None, None)
                    if (value, "") not in seen:
                        seen.add((value, ""))
                        found.append(Quantity(raw=part, value=value))
                continue
            else:
                quantity = Quantity(
                    raw=match.group(0),
                    value=_canonical(sign, num, exp, word, unit),
                    currency=cur or "",
                    unit=unit or word or "",
                )
        key = (quantity.value, quantity.currency)
        if key not in seen:
            seen.add(key)
            found.append(quantity)
    return tuple(found)


# Whether a text can state a value at all, without scanning it. Every way of writing a value
# ("4,320", "4320.00", "$4.32k", "43.2e2") puts its significant digits (no sign, point or
# zeros at either end) in a row once the text's "," and "." are removed: the scale and the
# exponent only shift the point, and values are never rounded (``_EXACT``).
_PLAIN_VALUE_RE = re.compile(r"-?\d+(?:\.\d+)?")


@lru_cache(maxsize=16384)
def _significant_digits(value: str) -> str:
    """The digits every writing of ``value`` holds in a row ("" when that is not known)."""
    if not _PLAIN_VALUE_RE.fullmatch(value):
        return ""  # a date or a dotted version
    return value.lstrip("-").replace(".", "").strip("0")


@shared_scan
def _digit_text(text: str) -> str:
    return text.replace(",", "").replace(".", "")


def may_state(text: str, values: Iterable[str]) -> bool:
    """False only when no quantity of ``text`` can have one of ``values``: a cheap test that
    spares a number scan of texts that cannot back a claim."""
    digits = None
    for value in values:
        needed = _significant_digits(value)
        if not needed or needed in text:
            return True
        if digits is None:
            digits = _digit_text(text)
        if needed in digits:
            return True
    return False


def extract_quantities(text: str) -> list[Quantity]:
    """Quantities in ``text`` in order of appearance, each value (per currency) once."""
    return list(quantities_of(text))


def extract_numbers(text: str) -> list[str]:
    """Canonical values (see ``normalize_number``) of the quantities in ``text``, each once."""
    return list(dict.fromkeys(q.value for q in quantities_of(text)))


def normalize_number(s: str) -> str:
    """The comparable form of a written quantity: "1,000", "1000", "$1000.0" → "1000";
    "3.5e6" → "3500000"; "2.5 million" → "2500000". Text with no quantity is only lowered."""
    for quantity in extract_quantities(s.strip()):
        return quantity.value
    return s.strip().lower()


# Digit runs as a reader compares them ("2,630.50", "18:00", "5.2"), digits inside identifiers
# included ("TR-220"): a hindsight prompt is checked against the observations that way, and a
# number only the agent's answer or its own tool arguments show is not the environment's word.
_FIGURE_RE = re.compile(r"\d+(?:[.,:]\d+)*")
# A decimal comma: one or two digits after the only comma ("299,97", "31,60 €"), with dots
# grouping thousands before it ("184.350,00"); three digits after a comma group thousands.
_DECIMAL_COMMA_RE = re.compile(r"(?:\d{1,3}(?:\.\d{3})+|\d+),\d{1,2}")


def normal_figure(figure: str) -> str:
    """``figure`` as one notation writes it: "184.350,00" and "184,350.00" are "184350.00",
    the "04" of "04/10/2024" is 4."""
    figure = figure.rstrip(".:")
    if "," in figure:  # most figures have none: skip the regex
        if _DECIMAL_COMMA_RE.fullmatch(figure):
            return figure.replace(".", "").replace(",", ".")
        figure = figure.replace(",", "")
    if figure[:1] == "0" and figure.isdigit():
        return figure.lstrip("0") or "0"
    return figure


# "0.0.0.0:80" in `ss -tlnp` is an address and a port; "port 80" in the answer is the port.
_ADDRESS_PORT_RE = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})")


# "1,234.50", "1,23,456", "1.234,50", "12,5": the shapes a figure with a comma can have;
# anything else with one ("4.10,300.00,500", a CSV row's cells) is several figures.
_COMMA_FIGURE_RE = re.compile(
    r"\d{1,3}(?:,\d{2,3})*,\d{3}(?:\.\d+)?|(?:\d{1,3}(?:\.\d{3})+|\d+),\d+"
)


def _figure_parts(figure: str) -> list[str]:
    if "," not in figure or _COMMA_FIGURE_RE.fullmatch(figure):
        return [figure]
    return [part for part in figure.split(",") if part]


@lru_cache(maxsize=4096)
def figures(text: str) -> frozenset[str]:
    """The digit runs of ``text``, thousands separators and trailing stops removed, a decimal
    comma written as a point; an IPv4 address with its port also gives both, and a CSV row's
    cells ("4.10,300.00,500") are figures of their own."""
    found = {
        normal_figure(part)
        for m in _FIGURE_RE.finditer(text)
        for part in (
            m.group(0).split(",")
            if _in_array(text, m.start(), m.end())
            else _figure_parts(m.group(0))
        )
        if part
    }
    if ":" in text:
        for figure in list(found):
            address = _ADDRESS_PORT_RE.fullmatch(figure)
            if address:
                found.update(address.groups())
    return frozenset(found)


def figures_of(texts: Iterable[str]) -> frozenset[str]:
    """``figures`` of the texts joined by newlines (no figure spans a newline), each text's
    figures cached on their own: a run's joined observations are a new string every time."""
    return frozenset().union(*(figures(text) for text in texts))
