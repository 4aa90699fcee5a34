"""The request without the part the run failed: "Reserve a compact car at Denver airport from
June 12 to June 15 and add a child seat", failed because "the child seat was never added",
becomes "Reserve a compact car at Denver airport from June 12 to June 15."

A request is cut into its actions where a joiner ("and", "then", a comma or a semicolon) is
followed by an action verb; the failure reason names the failed one by its words. Only a later
action is dropped, and only when the reason points at it alone: an earlier action may be what
the later ones act on, and a kept action that says "it" or "them" may mean the dropped one.
The final answer must not speak of the dropped action at all (neither its failure nor a claim
that it was done): it is paired with the shorter request as its answer.
"""

from __future__ import annotations

import re

from agenther.rules.vocabulary import REQUEST_WORDS, word_set
from agenther.words import WORD_RE, stem

_ACTION_VERBS = word_set(
    """
    add send book email e-mail create list tell give save include attach schedule invite reply
    forward post update delete remove set mark check notify share export download upload write
    summarize summarise compare sort filter put print show report calculate compute convert
    translate reserve order buy cancel open move copy rename run test deploy restart install
    commit push tag assign label confirm apply submit find get make draft return highlight flag
    note cc let rate review pick select choose archive close merge book
    """
)
_JOINER = re.compile(
    r"(?:\s*,\s*(?:and\s+)?(?:then\s+)?|\s+and\s+(?:then\s+)?|\s*;\s*|\s+then\s+)"
    r"(?:also\s+)?(?=([A-Za-z-]+)\b)",
    re.IGNORECASE,
)
# Actions that only get somewhere: a request left with nothing else asks for nothing.
_PREPARATORY = word_set("go open navigate visit log sign access browse look read load")
_BACK_REFERENCE = re.compile(r"\b(?:it|them|they|those|these|this|that one|its|their)\b", re.I)
_MIN_REASON_WORD = 3
_FAILURE_WORDS = re.compile(
    r"\b(?:fail(?:ed|s|ure)?|unable|could(?:n't| not)|can(?:'t|not)|was(?:n't| not)|"
    r"were(?:n't| not)|did(?:n't| not)|error|not able|no longer|unfortunately)\b",
    re.IGNORECASE,
)


def split_actions(request: str) -> list[str]:
    """The request cut where a joiner is followed by an action verb."""
    cuts = [
        (m.start(), m.end())
        for m in _JOINER.finditer(request)
        if m.group(1).lower() in _ACTION_VERBS
    ]
    pieces, start = [], 0
    for begin, end in cuts:
        pieces.append(request[start:begin])
        start = end
    pieces.append(request[start:])
    actions = [p.strip(" ,;") for p in pieces if p.strip(" ,;")]
    # "In Q2_sales.xlsx, add a Total column": a lead-in before the first action is part of it.
    while len(actions) > 1 and not _has_verb(actions[0]):
        actions[:2] = [f"{actions[0]}, {actions[1]}"]
    return actions


def _has_verb(action: str) -> bool:
    return any(word in _ACTION_VERBS | _PREPARATORY for word in action.lower().split())


def _content(text: str) -> set[str]:
    return {
        stem(word)
        for word in WORD_RE.findall(text.lower())
        if len(word) >= _MIN_REASON_WORD and word not in REQUEST_WORDS
    }


def without_failed_action(request: str, reason: str, answer: str) -> str | None:
    """The request minus the one later action the failure reason names, or None."""
    if not reason.strip():
        return None
    actions = split_actions(request.strip().rstrip(".!?"))
    if len(actions) < 2:
        return None
    named = _content(reason)
    overlap = [len(_content(action) & named) for action in actions]
    best = max(overlap)
    failed = [i for i, score in enumerate(overlap) if score == best]
    if best == 0 or len(failed) != 1 or failed[0] == 0:
        return None
    kept = [action for i, action in enumerate(actions) if i != failed[0]]
    if any(_BACK_REFERENCE.search(action) for action in kept[1:]):
        return None
    if any(overlap[i] for i in range(len(actions)) if i != failed[0]):
        return None  # the reason also speaks of a kept action: it may have failed too
    if all(action.lower().split()[0] in _PREPARATORY for action in kept):
        return None  # "Go through the PAY board backlog." asks for nothing
    dropped_only = _content(actions[failed[0]]) - set().union(*(_content(a) for a in kept))
    if dropped_only & _content(answer):
        return None  # the answer speaks of the dropped action
    if _FAILURE_WORDS.search(answer):
        return None
    return " and ".join(kept) + "."
