"""The ``actual_result`` strategy for a run that answered about another named thing: the agent
opened Claire Marin's record for Claire Martin, checked web-01 for web-02, read the Northgate
Medical Centre escalator for the Northgate Mall one. The hindsight request is the original with
the name swapped for the one the run did answer about ("How many days of leave does Claire
Marin have left?").

The failure reason names both; which is which is read off the run, not the reason's grammar
(reasons say "X instead of Y", "Y, not X", "opened X; Y was never checked", in any language):

* the asked-for name is in the request and the reason, and the final answer never says it;
* the answered-for name is in the reason and the final answer, not in the request, and each
  of its words is in an observation or a successful call (a month: or a date in it).

Exactly one of each must be found, or no request is made: two candidates ("summarised RoBERTa
(Liu et al.) instead of BERT by Devlin et al.") mean two swaps, which one substitution cannot
express. A name without digits must also sit in the answer as it sits in the request, beside
the same word ("Mr Okonkwo", "Portland, Maine"): "Priya's note about the Tuesday sales sync,
not the Thursday vendor demo" names a day, but "the vendor demo on Tuesday" is no request the
run answered. Every name and figure the new request keeps must be in the final answer too.
"""

from __future__ import annotations

import re

from agenther.evidence import extract_entities
from agenther.rules.vocabulary import (
    CALENDAR,
    PARTIAL_PERIOD_RE,
    contains_words,
    is_reference_date,
)
from agenther.words import FUNCTION_WORDS, tokens

# Figures and codes the entity scan does not take as names ("10,987,645", "web-01", "123-4").
_CODE_RE = re.compile(r"(?<![\w.,-])[\w][\w.,/-]*\d[\w/-]*(?<![.,])")
_WORD_RE = re.compile(r"[\w'’.-]+")
_MONTHS = {
    name: number
    for number, name in enumerate(
        "january february march april may june july august september october november "
        "december".split(),
        1,
    )
}
_POSSESSIVE_RE = re.compile(r"['’]s\b")
_MIN_CHARS = 2
# Words too common to show that a name sits in the same place in the answer.
_COMMON = frozenset().union(*FUNCTION_WORDS.values()) | {"at", "as", "about", "be", "do", "did"}


# "Hive 4", "Court 3": a name numbered with a space, which neither scan takes whole.
_NUMBERED_RE = re.compile(r"(?<![\w-])[A-Z][a-z]{2,} \d+(?![\w:/-]|[.,]\d)")


def _terms(reason: str) -> list[str]:
    found = [*extract_entities(reason), *_CODE_RE.findall(reason), *_NUMBERED_RE.findall(reason)]
    return list(dict.fromkeys(t for t in found if len(t) >= _MIN_CHARS))


def _words_in(text: str, name: str) -> bool:
    """Every word of ``name`` is in the lower-cased ``text`` (a record may hold "Piotr" and
    "Kowalski" in two fields)."""
    return all(contains_words(text, w.lower()) for w in _WORD_RE.findall(name))


def _worked_on(text: str, name: str) -> bool:
    """``name`` is in what the run saw or did; a month counts when a date of it is there
    ("August" for the "2024-08-31" snapshot a query read)."""
    month = _MONTHS.get(name.lower())
    if month is not None:
        return re.search(rf"\b\d{{4}}-{month:02d}-\d{{2}}\b", text) is not None or _words_in(
            text, name
        )
    return _words_in(text, name)


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


def _trimmed(asked: str, answered: str) -> tuple[str, str]:
    """The two names without the words they share at either end ("Northgate Mall",
    "Northgate Medical Centre" → "Mall", "Medical Centre")."""
    a, b = asked.split(), answered.split()
    while len(a) > 1 and len(b) > 1 and a[0].lower() == b[0].lower():
        a, b = a[1:], b[1:]
    while len(a) > 1 and len(b) > 1 and a[-1].lower() == b[-1].lower():
        a, b = a[:-1], b[:-1]
    return " ".join(a), " ".join(b)


def _as_answer_names(answered: str, asked: str, said: str) -> str:
    """``answered`` after the first words of ``asked`` it follows in ``said``, if any."""
    words = asked.split()
    for k in range(len(words) - 1, 0, -1):
        whole = " ".join([*words[:k], answered])
        if contains_words(said, whole.lower()):
            return whole
    return answered


def _span(text: str, phrase: str) -> tuple[int, int] | None:
    lowered, wanted = text.lower(), phrase.lower()
    start = lowered.find(wanted)
    while start >= 0:
        if contains_words(lowered[max(start - 1, 0) : start + len(wanted) + 1], wanted):
            return start, start + len(wanted)
        start = lowered.find(wanted, start + 1)
    return None


def _words(text: str) -> list[str]:
    """The words of ``text`` with possessives cut ("Bella's policy" → "Bella policy")."""
    return [w for w in _WORD_RE.findall(_POSSESSIVE_RE.sub("", text)) if w]


def _beside_in(answer: str, original: str, span: tuple[int, int], name: str) -> bool:
    """The request's content word next to the swapped span also stands next to ``name`` in
    the answer, on the same side."""
    before = _words(original[: span[0]])
    after = _words(original[span[1] :])
    pairs = []
    if before and before[-1].lower() not in _COMMON:
        pairs.append(f"{before[-1]} {name}")
    if after and after[0].lower() not in _COMMON:
        pairs.append(f"{name} {after[0]}")
    spaced = " ".join(_words(answer)).lower()
    return any(contains_words(spaced, " ".join(_words(p)).lower()) for p in pairs)


# A comparator right before a figure: the figure is a limit, and the answer's figure that
# broke it would only restate the limit as broken.
_BOUND_BEFORE_RE = re.compile(
    r"(?:under|below|over|above|than|niż|als|que|di|dan|än|enn|end|unter|über|sous|sotto|abaixo"
    r"|acima|poniżej|powyżej|max(?:imum)?|min(?:imum)?|least|most|up\s+to)\s+(?:de\s+|of\s+)?"
    r"(?:[$€£¥]\s?)?$",
    re.IGNORECASE,
)
_YEAR_RE = re.compile(r"(?:19|20)\d\d")
# "/srv/jobs/2024-05": a code that holds a month.
_ISO_MONTH_RE = re.compile(r"(?<!\d)\d{4}-(\d{2})(?!\d)")
_MONTH_NAMES = list(_MONTHS)


def _month_said_elsewhere(old: str, original: str, span: tuple[int, int]) -> bool:
    """The request names in words the month a swapped code holds ("… di maggio 2024
    (/srv/jobs/2024-05)"): swapping the code alone leaves the request naming both months."""
    month = _ISO_MONTH_RE.search(old)
    if month is None or not 1 <= int(month.group(1)) <= len(_MONTH_NAMES):
        return False
    name = _MONTH_NAMES[int(month.group(1)) - 1]
    rest = original[: span[0]] + " " + original[span[1] :]
    return any(CALENDAR.get(word, word) == name for word in tokens(rest))


def restate_swapped_name(original: str, reason: str, answer: str, observed: str) -> str | None:
    """``original`` with the name the run did not answer about replaced by the one it did,
    or None (see the module's rules). ``observed`` is the run's usable observations and
    successful calls, lower-cased."""
    if not answer:
        return None
    prompt, said = original.lower(), answer.lower()
    terms = _terms(reason)
    asked = [t for t in terms if contains_words(prompt, t.lower())]
    asked = [t for t in asked if not contains_words(said, t.lower())]
    answered = [
        t
        for t in terms
        if contains_words(said, t.lower())
        and _worked_on(observed, t)
        and not contains_words(prompt, t.lower())
    ]
    if len(asked) != 1:
        return None
    # "the Residences" for "Harbour Point Tower", which the answer calls "Harbour Point
    # Residences": the answered name is the answer's whole one.
    answered = list(dict.fromkeys(_as_answer_names(t, asked[0], said) for t in answered))
    answered = [t for t in answered if _has_digit(t) == _has_digit(asked[0])]
    if len(answered) != 1:
        return None
    old, new = _trimmed(asked[0], answered[0])
    span = _span(original, old)
    if span is None or contains_words(prompt, new.lower()):
        return None
    if not _has_digit(old) and not _beside_in(answer, original, span, new):
        return None
    if _has_digit(old) and (
        # "tańsze niż 150 zł" answered with darts at 169,90 zł: "cheaper than 169,90 zł" is
        # a limit the answer's own item breaks.
        # (Not a year: Swedish "under 2022" is "during 2022".)
        (
            not _YEAR_RE.fullmatch(old)
            and _BOUND_BEFORE_RE.search(original, max(0, span[0] - 24), span[0])
        )
        or PARTIAL_PERIOD_RE.search(f"{answer}\n{reason}")
        or is_reference_date(original, span[0])
        or _month_said_elsewhere(old, original, span)
    ):
        return None
    shown = _span(answer, new)
    if shown is not None:
        new = answer[shown[0] : shown[1]]  # as the answer writes it, not the reason ("BASE")
    restated = original[: span[0]] + new + original[span[1] :]
    kept = [*extract_entities(restated), *_CODE_RE.findall(restated)]
    if not all(_words_in(said, k) for k in kept):
        return None
    return restated
