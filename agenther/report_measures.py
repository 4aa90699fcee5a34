"""What ``agenther report`` measures in the loaded data, beyond plain counts: reject reasons
grouped and the evidence a prompt's figures and names have
in the run. Pure functions of text; no plotting library involved."""

from __future__ import annotations

import re
from collections import Counter

from agenther.report_data import RejectEntry

# A quote ends at a quote mark no letter follows, so "('couldn't')" is one quote.
_QUOTED = re.compile(r"(?<!\w)'.*?'(?!\w)|\"[^\"]*\"|‘.*?’(?!\w)|“[^”]*”")
_FIGURES = re.compile(r"[$€£¥]?\d(?:[\d.,]*\d)?%?")
REASON_CHARS = 80


def normalise_reason(reason: str) -> str:
    """Group reasons that differ only in the word or figure they quote: quoted text becomes
    '…', figures become N, and the result is cut to 80 characters."""
    text = _FIGURES.sub("N", _QUOTED.sub("'…'", " ".join(reason.split())))
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1].rstrip() + "…"


def top_reasons(rejects: list[RejectEntry], top: int = 10) -> list[tuple[str, int]]:
    counts = Counter(normalise_reason(r.reason) or "(no reason)" for r in rejects)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


# --------------------------------------------------------------------------------- evidence

_UPPER = "A-ZÀ-ÖØ-ÞĀ-Ž"
_NAME_TOKEN = rf"[{_UPPER}][^\W_]*(?:[-_][^\W_]+)*"
_NAME = re.compile(rf"(?<![^\W_]){_NAME_TOKEN}(?: {_NAME_TOKEN})*(?![^\W_])")
_FIGURE = re.compile(r"(?<![\w.,])\d+(?:[.,:/-]\d+)*(?![\w]|[.,]\d)")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|[\"'“‘(]\s*)$")


def evidence_spans(prompt: str, evidence: str) -> list[tuple[int, int]]:
    """Where the prompt names a figure or a capitalised name that occurs, as written, in the
    run's observations or final answer. Literal matches only: grounding also accepts
    normalised forms ("1800" for "$1,800"), so an unmarked figure is not necessarily
    ungrounded. A sentence's first word is a name only with a digit or a second capital."""
    candidates: list[tuple[int, int]] = []
    for match in _NAME.finditer(prompt):
        start, tokens = match.start(), match.group().split(" ")
        if _SENTENCE_START.search(prompt[:start]):
            if len(tokens) == 1 and not _name_like(tokens[0]):
                continue
            if len(tokens) > 1 and not _name_like(tokens[0]):
                start += len(tokens[0]) + 1
                tokens = tokens[1:]
        whole = " ".join(tokens)
        if len(whole) > 1 and _occurs(whole, evidence):
            candidates.append((start, start + len(whole)))
            continue
        offset = start
        for token in tokens:  # a multi-word name the run shows only in part
            if len(token) > 1 and _occurs(token, evidence):
                candidates.append((offset, offset + len(token)))
            offset += len(token) + 1
    for match in _FIGURE.finditer(prompt):
        if _occurs(match.group(), evidence, figure=True):
            candidates.append(match.span())
    spans: list[tuple[int, int]] = []
    for start, end in sorted(candidates, key=lambda s: (s[0], -s[1])):
        if not spans or start >= spans[-1][1]:
            spans.append((start, end))
    return spans


def _name_like(token: str) -> bool:
    return any(c.isdigit() for c in token) or sum(c.isupper() for c in token) > 1


def _occurs(term: str, text: str, *, figure: bool = False) -> bool:
    before, after = (r"(?<![\w.,])", r"(?![\w]|[.,]\d)") if figure else (r"(?<!\w)", r"(?!\w)")
    return re.search(before + re.escape(term) + after, text) is not None
