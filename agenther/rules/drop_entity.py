"""The ``drop_entity`` strategy: a request about two named things of which the run did one.

"What did NVIDIA and AMD close at on March 3, 2025? I want to see which one dropped more that
day.", failed because "AMD's closing price was never retrieved", becomes "What did NVIDIA close
at on March 3, 2025?"; "¿Qué tiempo hará el sábado en Sevilla y en Granada? Tengo que elegir
una de las dos." becomes "¿Qué tiempo hará el sábado en Sevilla?".

The pair is two names (capitalised words, or version numbers such as "3.12") joined by "and"
or its equivalent; it may end a longer list of names ("Teddington, Molesey and Sunbury"), all
of which the answer must give. The failure reason must name the dropped one (or what tells it
from the other: "Süd" of "Weide Süd" beside "Weide Nord"), and the final answer must
name the kept one and never the dropped one: it is paired with the shorter request as its
answer. A later sentence that speaks of the two ("which one", "una de las dos") goes too; in
the pair's own sentence such words, or a plural verb the pair is the subject of ("When were
Python 3.12 and 3.13 released"), leave nothing grammatical to keep, so the request is refused.
"""

from __future__ import annotations

import re

_NAME = r"(?:[A-Z][\w'’.-]*(?<!\.)(?:[ ][A-Z][\w'’.-]*(?<!\.))*|\d+(?:\.\d+)+)"
_JOINT = (
    r",?\s+(?:and|y|e|et|und|en|i)\s+"
    r"(?:(?:for|in|at|of|on|about|en|à|a|für|em|de|di|per|para|pour|voor|w|z)\s+)?"
)
_PAIR_RE = re.compile(rf"(?<![\w.])(?P<a>{_NAME})(?P<joint>{_JOINT})(?P<b>{_NAME})(?![\w’'])")
# Words that speak of both things at once.
_BOTH_RE = re.compile(
    r"\b(?:each|both|either|neither|which\s+one|which\s+of|compare|comparison|respectively"
    r"|the\s+two|difference|versus|vs|ambos|ambas|cada|una\s+de\s+las\s+dos|uno\s+de\s+los\s+dos"
    r"|cuál\s+de|beide|beiden|jeweils|welche\s+der|les\s+deux|chacun|chacune|lequel|laquelle"
    r"|entrambi|entrambe|ciascun\w*|quale\s+dei|cada\s+um|qual\s+dos|elk|welke\s+van"
    # "tell me which month was higher and by how much" compares the two as well.
    r"|by\s+how\s+much|which\s+[\w-]+\s+(?:was|is|were|are|had|has|did|got|used|cost)"
    r"\s+(?:the\s+)?(?:higher|lower|more|less|bigger|smaller|larger|greater|better|worse"
    r"|cheaper|longer|shorter|faster|slower))\b",
    re.IGNORECASE,
)
# A plural verb right before the pair makes it the verb's subject.
_PLURAL_VERB_BEFORE_RE = re.compile(
    r"\b(?:are|were|have|do|sind|waren|haben|son|fueron|sont|étaient|sono|erano|zijn)"
    r"\s+(?:[\w.-]+\s+)?$",
    re.IGNORECASE,
)
_SENTENCE_BREAK_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z¿¡\"“])")
# "our three blasting permits — BP-2291, BP-2304 and BP-2317": a count of the things asked
# about would be wrong once one goes.
_COUNT_RE = re.compile(
    r"\b(?:two|three|four|five|six|zwei|drei|vier|fünf|deux|trois|quatre|cinq|dos|tres|cuatro"
    r"|cinco|due|tre|quattro|dois|duas|três|quatro|twee|drie|vier|vijf|dwa|dwie|trzy|cztery"
    r"|två|tre|fyra|fem|to|fire)\b",
    re.IGNORECASE,
)


# The names of a list before its last pair ("Teddington, Molesey and …"); a list whose
# items are not all names ("the gauges, Molesey and …") is not read.
_LIST_BEFORE_RE = re.compile(rf"(?<![\w.])(?:{_NAME},\s+)+$")
_LIST_NAME_RE = re.compile(rf"(?<![\w.]){_NAME}(?=,)")


def _names(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", text, re.IGNORECASE) is not None


def _distinct(dropped: str, kept: str) -> str:
    """What tells ``dropped`` from ``kept``: "Süd" of "Weide Süd" beside "Weide Nord"."""
    words, others = dropped.split(), kept.split()
    shared = 0
    # (A name made of shared words alone is in an answer that names the other, and is kept.)
    while shared < min(len(words), len(others)) and words[shared] == others[shared]:
        shared += 1
    return " ".join(words[shared:])


def without_missing_entity(request: str, reason: str, answer: str) -> str | None:
    """The request about the one of two named things the run did, or None."""
    sentences = [s for s in _SENTENCE_BREAK_RE.split(request.strip()) if s.strip()]
    for index, sentence in enumerate(sentences):
        for pair in _PAIR_RE.finditer(sentence):
            kept, dropped = pair.group("a"), pair.group("b")
            if (
                not _names(reason, _distinct(dropped, kept))
                or _names(answer, dropped)
                or not _names(answer, kept)
                or _PLURAL_VERB_BEFORE_RE.search(sentence[: pair.start()])
            ):
                continue
            before = sentence[: pair.start()]
            joint = pair.group("joint")
            if before.rstrip().endswith(","):
                # "at Teddington, Molesey and Sunbury locks": the pair ends a longer list, whose
                # last comma takes the "and" once the last name goes. Every name left must be
                # in the answer.
                listed = _LIST_BEFORE_RE.search(before)
                if listed is None or not all(
                    _names(answer, name) for name in _LIST_NAME_RE.findall(listed.group(0))
                ):
                    return None
                comma = before.rstrip().removesuffix(",").rstrip()
                before = comma + " " + joint.strip(", ").split()[0] + " "
            shortened = before + kept + sentence[pair.end("b") :]
            if _BOTH_RE.search(shortened) or _COUNT_RE.search(sentence[: pair.start()]):
                return None
            later = [s for s in sentences[index + 1 :] if not _BOTH_RE.search(s)]
            return " ".join([*sentences[:index], shortened, *later])
    return None
