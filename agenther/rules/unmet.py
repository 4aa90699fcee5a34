"""Unmet requirements that are not numbers, cut from copied wording.

Copied wording must not keep the requirement the run failed. Besides comparator constraints
(which ``drop_constraints`` drops) a request can fail on a place ("in Berlin"), a deadline ("by
Friday"), an exclusion ("without using dateutil") or a count ("5 hotels" when 3 were found).
Such a phrase is taken for the unmet one when the failure reason names its key word; a count,
when the reason counts short ("only 3", "two of five") or the run stopped before the end.
"""

from __future__ import annotations

import re

from agenther.rules.drop_constraint import tidy
from agenther.rules.vocabulary import contains_words, word_set

_NUMBER_WORDS = "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty"
_COUNT = rf"(?:\d{{1,3}}|{_NUMBER_WORDS})"
_PLACE_RE = re.compile(
    r",?\s*\b(?:in|near|around|at)\s+(?:the\s+)?(?P<key>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)"
)
_DEADLINE_RE = re.compile(
    r",?\s*(?:\bso\s+(?:that\s+)?\w+\s+(?:\w+\s+)?)?\b(?:by|before|until|no\s+later\s+than)\s+"
    r"(?:the\s+)?(?:end\s+of\s+)?(?:(?:next|this)\s+)?(?P<key>monday|tuesday|wednesday|thursday"
    r"|friday|saturday|sunday|tomorrow|tonight|today|noon|midnight|january|february|march|april"
    r"|may|june|july|august|september|october|november|december|week|month"
    r"|\d{1,2}(?::\d{2})?\s*(?:am|pm)|\d{4}-\d{2}-\d{2})\b",
    re.IGNORECASE,
)
_EXCLUSION_RE = re.compile(
    r",?\s*\b(?:without(?:\s+using)?|except(?:\s+for)?|excluding|but\s+not|and\s+not"
    r"|not\s+using)\s+(?:the\s+|any\s+|an?\s+)?(?P<key>[\w.-]+)/?"
    r"(?:\s+(?:library|package|module|tool|command|function|api|framework|service|folder"
    r"|subfolder|directory|subdirectory|dir|files?))?",
    re.IGNORECASE,
)
_DEADLINE_WORDS_RE = re.compile(r"\b(?:deadline|late|later|after|missed|overdue)\b", re.I)
_COUNT_RE = re.compile(
    rf"\b(?:all\s+)?(?:the\s+)?(?P<key>{_COUNT})\s+(?=(?:[A-Za-z-]+\s+){{0,2}}[A-Za-z-]+s\b)",
    re.IGNORECASE,
)
_SHORT_COUNT_RE = re.compile(
    rf"\b(?:only|just)\s+{_COUNT}\b|\b(?P<got>{_COUNT})\s+of\s+(?:the\s+)?(?P<of>{_COUNT})\b"
    rf"|\basked\s+for\s+{_COUNT}\b",
    re.IGNORECASE,
)


# "…, biggest first — top 10 only": a cap on how many, which the reason names by its number.
_TOP_ONLY_RE = re.compile(
    rf"\s*(?:[,;]|\s[—–-])?\s*\b(?:(?:only|just)\s+(?:the\s+)?top\s+(?P<key>{_COUNT})"
    rf"|top\s+(?P<key2>{_COUNT})\s+only)\b",
    re.IGNORECASE,
)
# A requirement the reason quotes from the request: "violating the user's 'no explicit songs'
# requirement". The quote must be called a requirement (or the user's), so that a quoted name
# ("the playlist 'Tempo Run'") is never taken for one.
_QUOTE_RE = re.compile(r"(?<!\w)['‘\"“]([^'’\"”\n]{3,80})['’\"”](?!\w)")
_REQUIREMENT_AFTER_RE = re.compile(
    r"\s*(?:requirement|constraint|condition|rule|instruction|restriction|limit|filter)s?\b",
    re.IGNORECASE,
)
_REQUIREMENT_BEFORE_RE = re.compile(
    r"\b(?:user['’]s|(?:asked|requested)\s+(?:for\s+)?|requirement\s+(?:of\s+)?)\s*$",
    re.IGNORECASE,
)
_JOINER = r"(?:\s*,\s*and\s+|\s*,\s*|\s+and\s+|\s*[—–;]\s*|\s+-\s+|\s+)"


def _quoted_requirements(reason: str) -> list[str]:
    """The phrases of two or more words the reason quotes as a requirement."""
    found = []
    for match in _QUOTE_RE.finditer(reason):
        quoted = match.group(1).strip()
        if len(quoted.split()) < 2:
            continue
        if _REQUIREMENT_AFTER_RE.match(reason, match.end()) or _REQUIREMENT_BEFORE_RE.search(
            reason, 0, match.start()
        ):
            found.append(quoted)
    return found


def _counts_short(reason: str) -> bool:
    # "3 of 3 observations usable" (Stage 1's own explanation) is a full count, not a short one.
    return any(
        m.group("got") is None or m.group("got").lower() != m.group("of").lower()
        for m in _SHORT_COUNT_RE.finditer(reason)
    )


# A number after these is a limit (dropped as a constraint), not a count of things asked for.
_LIMIT_WORDS = word_set("under over than most least within to about around below above by up")


def cut_unmet_phrases(text: str, reason: str, *, stopped_early: bool = False) -> str:
    """``text`` without the place, deadline, exclusion and count phrases the failure names."""
    named = reason.lower()

    def names(key: str) -> bool:
        return contains_words(named, key.lower())

    cuts: list[tuple[int, int]] = []
    for match in _PLACE_RE.finditer(text):
        if names(match.group("key")):
            cuts.append(match.span())
    for match in _DEADLINE_RE.finditer(text):
        if names(match.group("key")) or _DEADLINE_WORDS_RE.search(reason):
            cuts.append(match.span())
    for match in _EXCLUSION_RE.finditer(text):
        if names(match.group("key")):
            cuts.append(match.span())
    for match in _TOP_ONLY_RE.finditer(text):
        if names(match.group("key") or match.group("key2")):
            cuts.append(match.span())
    for quoted in _quoted_requirements(reason):
        for match in re.finditer(
            rf"{_JOINER}{re.escape(quoted)}(?:\s+please)?(?=\s*(?:[.!?;,]|$))", text, re.I
        ):
            cuts.append(match.span())
    if stopped_early or _counts_short(reason):
        for match in _COUNT_RE.finditer(text):
            before = text[: match.start()].split()
            if not before or before[-1].lower() not in _LIMIT_WORDS:
                cuts.append(match.span())
    if not cuts:
        return text
    kept, cursor = [], 0
    for start, end in sorted(cuts):
        if start >= cursor:
            kept.append(text[cursor:start])
            cursor = end
        else:
            cursor = max(cursor, end)
    kept.append(text[cursor:])
    return tidy(" ".join(kept))
