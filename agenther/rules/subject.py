"""The subject a prompt is about: whether a candidate names what the run dealt with in words
the user would recognise (``has_subject``) and, for a tool-work request that does not, the
phrase of the request an observation repeats (``subject_phrase``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agenther.evidence import extract_entities
from agenther.grounding import has_injection
from agenther.quantities import extract_quantities
from agenther.rules.facts import RunFacts
from agenther.rules.vocabulary import REQUEST_WORDS, contains_words, word_set
from agenther.words import WORD_RE, content_pairs, stem

# Words that name tools, outputs or requests, never what a run was about: "Query the database
# and show me the output" could stand for any run, so it teaches nothing.
_NOT_SUBJECT = word_set(
    """
    query database table tables file files page pages document documents doc docs result
    results output outputs program command code script tool tools api http https data record
    records item items entry entries list report value values thing things information info
    details detail response request web internet online search lookup look check run get
    fetch read open write create send post update edit delete show tell give find calculate
    compute translate convert call invoke execute browse retrieve download upload save book
    describe confirm done matching about then and the for from with what you when into onto
    over under after before this that these those each every some any all more most such own
    same other new one two three first last please can could would should will may might must
    which where who how are was were has have had been being its their there here them they
    our your his her him she it's not only also just very really
    hour hours day days night nights week weeks month months year years minute minutes person
    people
    """
)
# Common describing, time and linking words: never the head of a subject noun phrase.
_NOT_NOUNS = word_set(
    """
    direct nonstop cheap cheaper quick quicker fast faster slow good better bad worse big small
    large short long free available local recent latest popular top high low full simple easy
    early late daily weekly monthly yearly annual public private current previous next final
    best worst main major minor open closed active valid real total average similar different
    vegan vegetarian organic fresh frozen hot cold warm cheap official online offline remote
    today tonight tomorrow yesterday now currently recently soon later morning evening weekend
    takes take took costs cost has have had gets makes uses needs lasts weighs runs supports
    includes contains offers allows """
)
_SUBJECT_TOKEN_RE = re.compile(r"[A-Za-z][\w'/-]*\w|[A-Za-z]|\d+(?:\.\d+)*(?![\w.])")
_SUBJECT_MAX_WORDS = 4
_NOT_NOUN_ENDINGS = ("ed", "ly", "ing", "est", "ful", "ous", "ive", "able")


def has_subject(prompt: str, run: RunFacts) -> bool:
    """Whether ``prompt`` names what the run dealt with, in terms the user would recognise: a
    number, name or word of the request that the run shows, or an observed name that is more
    than a code ("Trattoria Sarti", not "MAD"). Tool vocabulary and request filler never count.
    An off-topic run worked on something other than the request, so any of these counts there."""
    any_word = run.off_topic

    def in_request(phrase: str) -> bool:
        return any_word or contains_words(run.request_lower, phrase.lower())

    if any(in_request(q.raw) for q in extract_quantities(prompt)):
        return True
    # A command line quoted whole ("helm list -A") is as concrete as a request gets.
    if any(command in prompt for command in run.commands):
        return True
    # So is a number the user gave ("ticket #48213") that the run looked up.
    if any(
        in_request(number.group(0))
        and re.search(rf"(?<![\w.]){number.group(1)}(?![\w.])", run.done)
        for number in _NUMBER_SIGN_RE.finditer(prompt)
    ):
        return True
    # "HTTP" or "GitHub" spelled from the tool's name is no subject either.
    for name in extract_entities(prompt):
        words = WORD_RE.findall(name.lower())
        if all(stem(w) in run.tool_words or w in _NOT_SUBJECT for w in words):
            continue
        if in_request(name) or not _CODE_RE.fullmatch(name):
            return True
    if any(
        word_stem in run.done and (any_word or word_stem in run.request_stems)
        for word_stem in subject_words(prompt, run)
    ):
        return True
    return any(
        pair in run.done and (any_word or pair in run.request_lower)
        for pair in content_pairs(prompt)
    )


# "#48213": a ticket's, order's or issue's number, which no quantity reads.
_NUMBER_SIGN_RE = re.compile(r"#(\d{3,})\b")
# An airport, currency or ticker code: the agent's translation of what the user said.
_CODE_RE = re.compile(r"[A-Z]{2,5}")


def subject_words(text: str, run: RunFacts) -> set[str]:
    """Stems of the words of ``text`` that could say what a run was about."""
    return {
        stem(word)
        for word in WORD_RE.findall(text.lower())
        if word not in _NOT_SUBJECT
        and word not in REQUEST_WORDS
        and stem(word) not in run.tool_words
    }


@dataclass(frozen=True, slots=True)
class Subject:
    """What a tool-work request is about, in the user's words."""

    text: str
    is_noun: bool  # False for a describing word ("direct"), usable only before its noun
    modifies: str  # the tool-vocabulary word it stands before in the request ("flight"), or ""


def subject_phrase(run: RunFacts) -> Subject | None:
    """The longest run of words (at most four) of the request, minus its unmet constraints,
    that an observation repeats word for word: what the run was about, in the user's words.
    Only observations count; the final answer is the agent's own claim."""
    text = run.request
    tokens = list(_SUBJECT_TOKEN_RE.finditer(text))

    def is_subject_word(token: str) -> bool:
        low = token.lower()
        # An identifier ("A000_", "user_id") is code, not the user's words for a subject.
        return (
            len(low) >= 3
            and "_" not in low
            and low not in _NOT_SUBJECT
            and stem(low) not in run.tool_words
        )

    def is_head(word: str) -> bool:
        low = word.lower()
        return low not in _NOT_NOUNS and not low.endswith(_NOT_NOUN_ENDINGS)

    def modified_noun(end: int) -> str:
        """The request word right after ``end`` if it names what the tools handle ("flight")."""
        after = _NEXT_WORD_RE.match(text, end)
        return after.group(1) if after and stem(after.group(1).lower()) in run.tool_words else ""

    def ends_phrase(token: str, n: int) -> bool:
        # A number may close a name the user gave ("release 5.2"), never open one.
        return is_subject_word(token) or (n > 1 and token[0].isdigit())

    def fragment(start: int, end: int) -> bool:
        """Part of a dotted name ("config" of "config.json"): the user named the whole."""
        joined_before = start > 1 and text[start - 1] in "._" and text[start - 2].isalnum()
        joined_after = end + 1 < len(text) and text[end] in "._" and text[end + 1].isalnum()
        return joined_before or joined_after

    # Longest first; a noun phrase beats a describing word, which only fits before its noun,
    # and a name ("requests-cache", "release 5.2") beats a common word ("maintainer").
    best: tuple[int, int, int, str, str] | None = None  # (noun phrase, words, name, phrase, of)
    for i, first in enumerate(tokens):
        if not is_subject_word(first.group(0)):
            continue
        for n in range(min(_SUBJECT_MAX_WORDS, len(tokens) - i), 0, -1):
            last = tokens[i + n - 1]
            if best is not None and best[:3] >= (1, n, 1):
                break
            phrase = text[first.start() : last.end()]
            if not ends_phrase(last.group(0), n) or _PHRASE_BREAK_RE.search(phrase):
                continue
            if fragment(first.start(), last.end()):
                continue
            if not contains_words(run.observed, phrase.lower()):
                continue
            # One word is a subject only if it looks like a noun of some length ("invoices",
            # not "preferred", "tsv" or "quickly"); two or more words carry their own context.
            if n == 1 and (len(phrase) < 5 or phrase.lower().endswith(_NOT_NOUN_ENDINGS)):
                continue
            noun = is_head(last.group(0))
            modifies = "" if noun else modified_noun(last.end())
            if not (noun or modifies):
                continue
            key = (int(noun), n, int(_NAME_LIKE_RE.search(phrase) is not None))
            if best is None or key > best[:3]:
                best = (*key, phrase, modifies)
            break
    if best is None or has_injection(best[3]):
        return None
    return Subject(best[3], bool(best[0]), best[4])


# A name rather than a common word: a digit, an inner capital or a joined word.
_NAME_LIKE_RE = re.compile(r"\d|\w[-.]\w|(?<=\s)[A-Z]|^[A-Z]{2}")


_NEXT_WORD_RE = re.compile(r"\s+([A-Za-z]+)")


_PHRASE_BREAK_RE = re.compile(r"[,;:!?()\[\]\"]|\.(?!\d)|\s{2,}")
