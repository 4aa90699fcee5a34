"""What a failure reason says was not done: the words in the scope of its negations.

"the chart was never emailed to the finance team" negates "emailed to the finance team"; "The
combined MRR was never computed" names its thing before the negation. A request that keeps
a thing the reason says was not done or used, or a date it says never loaded, asks for the
failure again.
"""

from __future__ import annotations

import re
from itertools import pairwise

from agenther.rules.actions import PAST_TO_BASE, content_keys, word_key
from agenther.rules.vocabulary import ACTION_VERBS, PREPARATORY_VERBS
from agenther.words import WORD_RE

# What the reason says did not happen: "the chart was never emailed to the finance team", "no
# BibTeX entry was provided", "the Boulder forecast and the hike recommendation missing".
NEGATIONS = frozenset(
    "never not no without none cannot unable nor neither"
    # The languages requests come in ("aucune place n'a été achetée", "non è stato
    # scaricato"); not Italian "mai", the French month.
    " pas jamais aucun aucune sans nunca ningún ninguna ninguno sin nicht nie kein keine"
    " keinen keiner keinem ohne non nessun nessuno nessuna senza não nenhum nenhuma sem niet"
    " nooit geen zonder nigdy żaden żadna żadne bez inte aldrig ingen inget utan ikke aldri"
    " intet uden uten".split()
)
# Auxiliaries right after a foreign negation say nothing of what did not happen ("non è
# stato scaricato": "stato" is no status).
_FOREIGN_AUXILIARY = frozenset(
    "è é stato stata stati state sono era erano foi foram sido ha han hat habe haben wurde"
    " wurden worden été a ont est sont ist sind war waren heeft hebben werd zijn została"
    " został zostały".split()
)
# "No hub met the budget" says nothing was found, not that the hub was not wanted: only a
# negated verb ("ran on the primary, not the read replica") says what the run did not do.
_VERB_NEGATION = frozenset("never not without".split())
_STOPPED = frozenset("stopped stops quit ended halted".split())
_MISSING = frozenset("missing omitted omits skipped skips absent".split())
# "the reply quietly leaves the upload out": what is left out is what did not happen.
_LEFT_OUT_RE = re.compile(r"\b(?:leaves|left|leaving)\s+((?:[\w'’-]+\s+){1,4}?)out\b", re.I)
_SCOPE_END = frozenset(
    "and but so because since while although though as mais et y und aber pero ma mas maar"
    " ale och men".split()
)
_SCOPE_WORDS = 6
_TOKEN_RE = re.compile(r"[\w'’#@.-]+|[,;:()\[\]!?]")


def _negated_words(
    reason: str,
    negations: frozenset[str] = NEGATIONS,
    *,
    subjects: bool = False,
    passive_subjects: bool = False,
) -> list[str]:
    """The words in the scope of a negation in ``reason``: up to six words after "never"/
    "not"/"no"/"missing the", or before a clause-final "missing". With ``subjects``, also the
    subject of a negated passive: "The combined MRR was never computed", "Aspirin interaction
    not addressed" (the words before "was never" name the thing, "computed" only the verb)."""
    reason = _LEFT_OUT_RE.sub(r"omitted \1", reason)
    # A word's closing stop ends its sentence: a scope never runs into the next one.
    tokens = [
        part
        for token in _TOKEN_RE.findall(reason.lower())
        for part in ((token[:-1], ".") if token.endswith(".") and len(token) > 1 else (token,))
    ]
    scoped: list[str] = []
    for i, token in enumerate(tokens):
        negation = token in negations or token.endswith(("n't", "n’t"))
        negation |= token in ("failed", "fails") and i + 1 < len(tokens) and tokens[i + 1] == "to"
        # "stopped before booking the two places": what it stopped before was not done.
        negation |= token == "before" and i > 0 and tokens[i - 1] in _STOPPED
        clause_end = i + 1 == len(tokens) or not tokens[i + 1][:1].isalnum()
        negates_verb = token in _VERB_NEGATION or token.endswith(("n't", "n’t"))
        if (subjects and negates_verb) or (passive_subjects and _negates_passive(tokens, i)):
            scoped.extend(_negation_subject(tokens, i))
        if token in _MISSING and clause_end:
            j = i
            while j > 0 and i - j < _SCOPE_WORDS and tokens[j - 1][:1].isalnum():
                j -= 1
            scoped.extend(tokens[j:i])
        elif negation or token in _MISSING:
            start = i + 1
            if token == "none" and tokens[start : start + 1] == ["of"]:
                # "none of the three were added to the roster": the words up to the verb
                # name who was not, the words after it what did not happen.
                verb = next(
                    (j for j in range(start, min(start + _SCOPE_WORDS, len(tokens)))
                     if tokens[j] in _AUXILIARY),
                    None,
                )  # fmt: skip
                start = start if verb is None else verb + 1
            while start < len(tokens) and tokens[start] in _FOREIGN_AUXILIARY:
                start += 1
            for word in tokens[start : start + _SCOPE_WORDS]:
                if not word[:1].isalnum() or word in _SCOPE_END:
                    break
                scoped.append(word)
    return scoped


# Verbs that say nothing at all was done to their subject. "Reviews were not summarised" names
# the missing work (summarising), not the reviews, which the run may well have found.
_UNTOUCHED = frozenset(
    "touched attempted started begun tried addressed handled tackled done".split()
)


def _negates_passive(tokens: list[str], i: int) -> bool:
    """The negation at ``i`` says nothing was done to the passive's subject: "the newsletter
    wasn't touched", "the refund was never attempted"."""
    token = tokens[i]
    negated_be = token in ("wasn't", "weren't", "isn't", "aren't", "wasn’t", "weren’t")
    after_be = i > 0 and tokens[i - 1] in ("was", "were", "is", "are")
    if not (negated_be or (token in ("not", "never") and after_be)):
        return False
    after = i + 1
    while after < len(tokens) and tokens[after] in ("been", "yet", "ever", "actually"):
        after += 1
    if after >= len(tokens):
        return False
    return tokens[after] in _UNTOUCHED


_RELATIVE = frozenset(("which", "who"))
_AUXILIARY = frozenset("was were is are be been being has have had wasn't weren't isn't".split())


def _negation_subject(tokens: list[str], i: int) -> list[str]:
    """The clause's words before the negation at ``i`` (and its auxiliaries): what a negated
    passive is about, "the invoice e-mail was never archived", "aspirin interaction not
    addressed"."""
    j = i
    while j > 0 and tokens[j - 1] in _AUXILIARY:
        j -= 1
    # "The remaining quota, which was half of the question, was never looked up": the
    # relative clause between the subject and its verb is skipped.
    if j > 1 and tokens[j - 1] == ",":
        k = j - 2
        while k > 0 and tokens[k] not in _RELATIVE and tokens[k][:1].isalnum():
            k -= 1
        if k > 1 and tokens[k] in _RELATIVE and tokens[k - 1] == ",":
            j = k - 1
    end = j
    while j > 0 and end - j < _SCOPE_WORDS and tokens[j - 1][:1].isalnum():
        if tokens[j - 1] in _SCOPE_END:
            break
        j -= 1
    return tokens[j:end]


def negated_keys(reason: str, *, subjects: bool = False) -> set[str]:
    return content_keys(" ".join(_negated_words(reason, subjects=subjects)))


# "No breakfast plan at all" says the thing was never made, where "No hub met the budget"
# only says none was found.
_NONE_AT_ALL_RE = re.compile(
    r"\bno\s+((?:[\w'’-]+\s+){1,5}?)at\s+all\b"
    # "No brine times were pulled and no wheel was checked"
    r"|(?:^|[.;:]\s+|\band\s+)no\s+((?:[\w'’-]+\s+){1,3}?)(?:was|were|got|has\s+been|have\s+been)"
    r"\s+(?:\w+\s+)?\w+(?:ed|en|ne|wn|t)\b",
    re.IGNORECASE,
)


def unmet_things(reason: str) -> set[str]:
    """Content keys of the things (not the verbs) the reason says the run did not do or use:
    "not the read replica" gives "replica". A request that keeps one asks for the failure."""
    none_at_all = [
        w for m in _NONE_AT_ALL_RE.finditer(reason) for w in (m.group(1) or m.group(2)).split()
    ]
    words = [
        w
        for w in [*_negated_words(reason, _VERB_NEGATION, passive_subjects=True), *none_at_all]
        if w not in ACTION_VERBS | PREPARATORY_VERBS
        and w not in PAST_TO_BASE
        # An address's parts ("com" of "jordan.lee@fastmail.com") name nothing to do.
        and "@" not in w
        and not w.endswith(("ed", "en", "ing"))
    ]
    return content_keys(" ".join(words))


def kept_unmet_things(prompt: str, reason: str) -> list[str]:
    """Words of ``prompt`` naming what the reason says the run did not do."""
    unmet = unmet_things(reason)
    return sorted({w for w in WORD_RE.findall(prompt.lower()) if word_key(w) in unmet})


_MONTH_NAMES = (
    "january february march april may june july august september october november december"
)
_MONTHS = {name[:3]: number for number, name in enumerate(_MONTH_NAMES.split(), 1)}
_ISO_DATE_RE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DAY_RE = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?")


def kept_unmet_dates(prompt: str, reason: str) -> list[str]:
    """ISO dates of ``prompt`` that the reason says were not done, however it spells them:
    "The 12 September partition never loaded" against "for 2024-09-10 through 2024-09-12".
    A request that keeps such a date asks for the failure again."""
    words = _negated_words(reason, _VERB_NEGATION, subjects=True)
    named: set[tuple[int, int]] = set()
    for word in words:
        iso = _ISO_DATE_RE.fullmatch(word)
        if iso:
            named.add((int(iso[2]), int(iso[3])))
    for first, second in pairwise(words):
        for day, month in ((first, second), (second, first)):
            number = _DAY_RE.fullmatch(day)
            if number and month[:3] in _MONTHS and month.isalpha():
                named.add((_MONTHS[month[:3]], int(number[1])))
    return sorted({m[0] for m in _ISO_DATE_RE.finditer(prompt) if (int(m[2]), int(m[3])) in named})
