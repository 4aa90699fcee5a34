"""Figures: what a reader checks a number against, and the figures of a final answer that
nothing in the run supports (any prompt paired with that answer would teach inventing them).
"""

from __future__ import annotations

import re
from functools import lru_cache

from agenther.evidence import extract_quantities
from agenther.models import FailedTrajectory

# Digit runs as a reader compares them ("2,630.50", "18:00", "5.2"), digits inside identifiers
# included ("TR-220"): a hindsight prompt is checked against the observations that way, and a
# number only the agent's answer or its own tool arguments show is not the environment's word.
_FIGURE_RE = re.compile(r"\d+(?:[.,:]\d+)*")
_SMALL_COUNT = 10  # "3 results", "two of five": counting what was listed, not a claim
_MAX_DERIVED = 40  # observed values combined pairwise; beyond that almost anything "derives"


@lru_cache(maxsize=4096)
def figures(text: str) -> frozenset[str]:
    """The digit runs of ``text``, thousands separators and trailing stops removed."""
    return frozenset(m.replace(",", "").rstrip(".:") for m in _FIGURE_RE.findall(text))


def _as_number(figure: str) -> float | None:
    try:
        return float(figure)
    except ValueError:
        return None  # a time or a dotted version: compared as written only


def _decimals(figure: str) -> int:
    return len(figure.partition(".")[2])


def _observed_values(observations: list[str]) -> tuple[list[float], list[float]]:
    """Observed numbers, with the hours of observed times ("10:00" backs "10-19"), and the totals
    of each observation's amounts of money (an answer may add up a listing of prices)."""
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
    return values, totals


def _derivable(figure: str, values: list[float], totals: list[float]) -> bool:
    """Whether the answer could have computed ``figure`` from what was observed: a rounding of
    one value, the sum, difference or ratio (as a percentage) of two, or an observation's total."""
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
    return False


def unsupported_figures(t: FailedTrajectory) -> list[str]:
    """Figures of the final answer that neither the observations, the request nor the agent's
    own tool arguments show, nor a simple computation from observed values gives: the answer
    asserts them on its own (a hallucination, whatever Stage 1 typed the failure as)."""
    answer = figures(t.final_answer)
    if not answer:
        return []
    observations = [s.observation for s in t.steps]
    arguments = " ".join(str(v) for s in t.steps for v in s.action_input.values())
    known = figures("\n".join(observations)) | figures(t.original_prompt) | figures(arguments)
    values, totals = _observed_values(observations)
    missing = []
    for figure in sorted(answer - known):
        number = _as_number(figure)
        if number is not None and number.is_integer() and number <= _SMALL_COUNT:
            continue
        if not _derivable(figure, values, totals):
            missing.append(figure)
    return missing
