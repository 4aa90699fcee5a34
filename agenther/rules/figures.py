"""Figures: what a reader checks a number against, and the figures of a final answer that
nothing in the run supports (any prompt paired with that answer would teach inventing them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from agenther.models import FailedTrajectory
from agenther.quantities import extract_quantities, figures, figures_of, normal_figure
from agenther.words import english

_SMALL_COUNT = 10  # "3 results", "two of five": counting what was listed, not a claim
_MAX_MULTIPLIER = 24  # months, nights, people a price is multiplied by; no more
_MAX_DERIVED = 40  # observed values combined pairwise; beyond that almost anything "derives"


def _as_number(figure: str) -> float | None:
    try:
        return float(figure)
    except ValueError:
        return None  # a time or a dotted version: compared as written only


def _decimals(figure: str) -> int:
    return len(figure.partition(".")[2])


def _observed_values(observations: list[str]) -> tuple[list[float], list[float]]:
    """Observed numbers, with the hours of observed times ("10:00" backs "10-19"), and the totals
    an answer may add up: each observation's amounts of money, and each of its listings (a
    table column, a JSON key's values)."""
    values: list[float] = []
    totals: list[float] = []
    for text in observations:
        # Sorted: ``figures`` is a set, and only the first _MAX_DERIVED values are combined, so
        # set order (which varies with the hash seed) would change the verdict between runs.
        for figure in sorted(figures(text)):
            number = _as_number(figure.split(":", 1)[0])
            if number is not None:
                values.append(number)
        by_currency: dict[str, float] = {}
        for quantity in extract_quantities(text):
            if quantity.currency:
                amount = float(quantity.value)
                by_currency[quantity.currency] = by_currency.get(quantity.currency, 0.0) + amount
        totals.extend(by_currency.values())
        totals.extend(_listing_totals(text))
    return values, totals


# A table cell or a JSON value that is one number: "| 1284310.55 |", '"amount": 21.0'.
_CELL_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?")
# Some APIs (Socrata's, for one) send every number as a string: '"count": "9812"' adds up too.
_JSON_NUMBER_RE = re.compile(r'"([^"\n]{1,60})"\s*:\s*("?)(-?\d+(?:\.\d+)?)\2(?=\s*[,}\]])')


def _listing_totals(text: str) -> list[float]:
    """The sum of each column of a "|" table, of each JSON key's numbers, and of the last
    numbers of the lines of a whitespace-aligned listing ("Ana Costa   184320.50")."""
    sums: dict[object, float] = {}

    def add(key: object, cell: str) -> None:
        sums[key] = sums.get(key, 0.0) + float(cell)

    if '":' in text:
        for key, _, number in _JSON_NUMBER_RE.findall(text):
            add(key, number)
    for line in text.splitlines():
        if "|" in line:
            for column, cell in enumerate(line.split("|")):
                cell = cell.strip()
                if _CELL_NUMBER_RE.fullmatch(cell):
                    add(column, cell)
        else:
            last = line.rsplit(None, 1)[-1] if line.strip() else ""
            if _CELL_NUMBER_RE.fullmatch(last) and len(line) > len(last):
                add("last", last)
    return list(sums.values())


def _derivable(
    figure: str, values: list[float], totals: list[float], counts: frozenset[int] = frozenset()
) -> bool:
    """Whether the answer could have computed ``figure`` from what was observed: a rounding of
    one value, the sum, difference or ratio (as a percentage) of two, an observation's total,
    or a value times one of the run's small ``counts`` (months, nights, people)."""
    target = _as_number(figure)
    if target is None:
        return False
    places = _decimals(figure)

    def same(x: float) -> bool:
        return round(x, places) == target

    if any(same(v) for v in values) or any(abs(t - target) < 1e-6 for t in totals):
        return True
    pool = values[:_MAX_DERIVED]
    for i, a in enumerate(pool):
        for b in pool[i + 1 :]:
            if abs(a + b - target) < 1e-6 or abs(abs(a - b) - target) < 1e-6:
                return True
            if a and b and (same(100 * a / b) or same(100 * b / a)):
                return True
    return any(same(a * count) for a in pool for count in counts)


def _counts(texts: list[str]) -> frozenset[int]:
    """The whole numbers from 2 to ``_MAX_MULTIPLIER`` that ``texts`` give: "alquiler para 3
    meses" at "290 € al mes" is 870 € in all."""
    return frozenset(
        int(number)
        for text in texts
        for figure in figures(text)
        if (number := _as_number(figure)) is not None
        and number.is_integer()
        and 2 <= number <= _MAX_MULTIPLIER
    )


# A figure the answer claims: not part of an identifier ("PM2.5", "X1", "ord_88"), with the
# scale word that may follow it ("411 million").
_CLAIM_RE = re.compile(
    r"(?<![A-Za-z_.\d])(\d+(?:[.,:]\d+)*)(?:\s*(million|billion|thousand|bn|k|m)\b)?",
    re.IGNORECASE,
)
_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9}
_CLOCK_RE = re.compile(r"(?<!\d)(\d{1,2}):(\d{2})(?!\d)")
# "€1.595", "1.212 reviews": most languages but English group thousands with a point, so in
# an answer written in one of them such a figure is also read without its points.
_POINT_GROUPED_RE = re.compile(r"\d{1,3}(?:\.\d{3})+")


# "184 320,50 €", "48 000 peptides": most languages but English group thousands with a space
# (or a no-break space). Read that way only where the run backs the whole number: "Pro 3 3000"
# is a model name and a count, not 33,000.
_SPACE_GROUPED_RE = re.compile(
    r"(?<![A-Za-z_.,\d])\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:,\d+)?(?!\d|[.,]\d)"
)
_SPACES_RE = re.compile(r"[ \u00a0\u202f]")


def _claims(text: str) -> dict[str, float]:
    """The answer's figures as written, each with its scale (1 when none)."""
    found: dict[str, float] = {}
    for match in _CLAIM_RE.finditer(text):
        figure = normal_figure(match.group(1))
        scale = _SCALES.get((match.group(2) or "").lower(), 1.0)
        found.setdefault(figure, scale)
    return found


def _without_backed_groups(text: str, backed: Callable[[str], bool]) -> str:
    """``text`` without its space-grouped numbers whose whole value ``backed`` accepts."""
    for match in reversed(list(_SPACE_GROUPED_RE.finditer(text))):
        if backed(normal_figure(_SPACES_RE.sub("", match.group()))):
            text = text[: match.start()] + " " + text[match.end() :]
    return text


# An observed ISO date, and the day-first dotted forms an answer in another language writes it
# in ("20.05", "20.05.2024").
_ISO_DATE_RE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")


def _dotted_dates(texts: list[str]) -> set[str]:
    found: set[str] = set()
    for text in texts:
        if "-" not in text:
            continue
        for year, month, day in _ISO_DATE_RE.findall(text):
            short_day = day.lstrip("0") or "0"
            for d in {day, short_day}:
                found.update({f"{d}.{month}", f"{d}.{month}.{year}"})
    return found


def _clock_times(texts: list[str]) -> set[tuple[int, int]]:
    """Times of day in the texts, "14:05" and "2024-03-08T14:05:00" alike, as (hour, minute)."""
    return set().union(*(_text_clock_times(text) for text in texts))


@lru_cache(maxsize=4096)
def _text_clock_times(text: str) -> frozenset[tuple[int, int]]:
    if ":" not in text:  # the regex would try every position for nothing
        return frozenset()
    return frozenset((int(h), int(m)) for h, m in _CLOCK_RE.findall(text))


def _observed_time(figure: str, times: set[tuple[int, int]]) -> bool:
    """ "1:30" (as in "1:30 PM") is backed by an observed 13:30, and "11:00" by 11:00:00."""
    hour, _, minute = figure.partition(":")
    if not (hour.isdigit() and minute.isdigit() and len(minute) == 2):
        return False
    h, m = int(hour), int(minute)
    return any((h + shift, m) in times for shift in (0, 12, -12))


def unsupported_figures(t: FailedTrajectory) -> list[str]:
    """Figures of the final answer that neither the observations, the request nor the agent's
    own tool arguments show, nor a simple computation from observed values gives: the answer
    asserts them on its own (a hallucination, whatever Stage 1 typed the failure as)."""
    # An answer in another language, or one to a request in another language (its titles and
    # names may be English), writes its figures that language's way.
    foreign = not english(t.final_answer) or not english(t.original_prompt)
    answer = _claims(t.final_answer)
    if not answer:
        return []
    observations = [s.observation for s in t.steps]
    arguments = " ".join(str(v) for s in t.steps for v in s.action_input.values())
    known = figures_of(observations) | figures(t.original_prompt) | figures(arguments)
    unknown = sorted(set(answer) - known)
    if not unknown:
        return []
    values, totals = _observed_values(observations)
    if foreign:
        text = _without_backed_groups(
            t.final_answer, lambda whole: whole in known or _derivable(whole, values, totals)
        )
        if text != t.final_answer:
            answer = _claims(text)
        dates = _dotted_dates([*observations, t.original_prompt])
        unknown = sorted(set(answer) - known - dates)
        if not unknown:
            return []
    times = _clock_times([*observations, arguments, t.original_prompt])
    counts = _counts([t.original_prompt])
    points_group = foreign
    missing = []
    for figure in unknown:
        if points_group and _POINT_GROUPED_RE.fullmatch(figure):
            grouped = figure.replace(".", "")
            if grouped in known or _derivable(grouped, values, totals):
                continue
        number = _as_number(figure)
        if number is not None and number.is_integer() and number <= _SMALL_COUNT:
            continue
        if _observed_time(figure, times):
            continue
        scale = answer[figure]
        if scale != 1.0 and number is not None:
            # "411 million" rounds an observed 411,234,567.
            scaled = [v / scale for v in values]
            if _derivable(figure, scaled, []):
                continue
        if not _derivable(figure, values, totals, counts):
            missing.append(figure)
    return missing
