"""What a tool result is worth as evidence: content, an acknowledgement, an error, nothing, or
the model's own text relayed by a tool. Every stage classifies observations here, the same way.
"""

from __future__ import annotations

import re
from enum import StrEnum

from agenther.rules.vocabulary import word_set
from agenther.scanning import shared_scan


class ObservationKind(StrEnum):
    CONTENT = "content"  # the environment showed something a prompt can rest on
    TRIVIAL = "trivial"  # an acknowledgement ("Summary generated.", "OK")
    ERROR = "error"  # an error, timeout, refusal or status page
    EMPTY = "empty"  # nothing, or "no results"
    GENERATED = "generated"  # the model's own text relayed by a tool ("based on training data")


# What an error observation opens with; a traceback header or an "...Error:" name anywhere.
_ERROR_OPENING = r"""^\W*(?:
        error|exception|traceback|fatal|failed|failure|timeout|timed\s+out|
        (?:http\s*)?[45]\d\d\b|status(?:\s+code)?:?\s*[45]\d\d|errno|
        connection\s+(?:refused|reset|error|failed)|permission\s+denied|access\s+denied|
        forbidden|unauthori[sz]ed|not\s+found|rate\s+limit|unable\s+to|could\s+not|
        cannot|can't|invalid\s+(?:request|argument|input|api)|service\s+unavailable
    )"""
_TRACEBACK = r"traceback\s+\(most\s+recent\s+call\s+last\)"
_ERROR_NAME = r"\b(?:[a-z]+error|[a-z]+exception):"
_ERROR_OBSERVATION_RE = re.compile(
    f"{_ERROR_OPENING}\n    | {_TRACEBACK}\n    | {_ERROR_NAME}\n", re.IGNORECASE | re.VERBOSE
)
_EMPTY_OBSERVATION_RE = re.compile(
    r"^\W*(?:no\s+(?:results?|matches|data|output|records?|items?)(?:\s+found)?|none|null|"
    r"nothing\s+found|empty|\[\]|\{\})\W*$",
    re.IGNORECASE,
)
_GENERATED_OBSERVATION_RE = re.compile(
    r"\b(?:based\s+on\s+(?:my\s+)?(?:training\s+data|(?:prior|general|internal)\s+knowledge)|"
    r"from\s+(?:my\s+)?(?:memory|training\s+data)|may\s+not\s+reflect)\b",
    re.IGNORECASE,
)
_ACK_WORDS = word_set(
    """ok okay done success successful successfully complete completed generated written saved
    created updated executed ran acknowledged received summary code file response task step
    action the a was is has been"""
)
_TRIVIAL_MAX_WORDS = 4


# For ASCII text, a case-sensitive match of the lower-cased text is the same test as
# IGNORECASE (the folds that differ, such as "ſ" ~ "s" or "K" ~ "k", need non-ASCII
# characters) and several times faster. Both patterns spell their letters in lower case.
# The error pattern's branches are tried one by one, each only where it can match: the opening
# at the start, the others only if their telling words occur ("[a-z]+error" backtracks through
# every word it is tried on).
_ERROR_OPENING_ASCII_RE = re.compile(_ERROR_OPENING, re.VERBOSE)
_TRACEBACK_ASCII_RE = re.compile(_TRACEBACK)
_ERROR_NAME_ASCII_RE = re.compile(_ERROR_NAME)
_GENERATED_OBSERVATION_ASCII_RE = re.compile(_GENERATED_OBSERVATION_RE.pattern)


def _may_be_generated(lowered: str) -> bool:
    """False if no branch of _GENERATED_OBSERVATION_RE can match: each needs two words (the
    rarer one is looked for first)."""
    return (
        ("training" in lowered and ("based" in lowered or "from" in lowered))
        or ("knowledge" in lowered and "based" in lowered)
        or ("memory" in lowered and "from" in lowered)
        or ("reflect" in lowered and "may" in lowered)
    )


def _is_generated(text: str) -> bool:
    if not text.isascii():
        return _GENERATED_OBSERVATION_RE.search(text) is not None
    lowered = text.lower()
    return _may_be_generated(lowered) and (
        _GENERATED_OBSERVATION_ASCII_RE.search(lowered) is not None
    )


def _is_error(head: str) -> bool:
    if not head.isascii():
        return _ERROR_OBSERVATION_RE.search(head) is not None
    lowered = head.lower()
    return (
        _ERROR_OPENING_ASCII_RE.match(lowered) is not None
        or ("traceback" in lowered and _TRACEBACK_ASCII_RE.search(lowered) is not None)
        or (
            ("error:" in lowered or "exception:" in lowered)
            and _ERROR_NAME_ASCII_RE.search(lowered) is not None
        )
    )


@shared_scan
def observation_kind(observation: str) -> ObservationKind:
    """What a tool result is worth as evidence of what the run achieved."""
    text = observation.strip()
    if not text or _EMPTY_OBSERVATION_RE.match(text):
        return ObservationKind.EMPTY
    if _is_error(text[:300]):
        return ObservationKind.ERROR
    if _is_generated(text):
        return ObservationKind.GENERATED
    # Splitting at "." and "!" below only adds words, so a text of more words is no
    # acknowledgement; the cheap count spares splitting a long observation whole.
    if len(text.split(None, _TRIVIAL_MAX_WORDS)) > _TRIVIAL_MAX_WORDS:
        return ObservationKind.CONTENT
    words = text.lower().replace(".", " ").replace("!", " ").split()
    if len(words) <= _TRIVIAL_MAX_WORDS and all(w in _ACK_WORDS for w in words):
        return ObservationKind.TRIVIAL
    return ObservationKind.CONTENT


# What a failed tool call says in its first line that ``observation_kind`` misses when the
# line starts with the tool's own name ("ssh: connect to host ...: Connection timed out").
_FAILED_LINE_RE = re.compile(
    r"\b(?:connection\s+(?:timed\s+out|refused|reset)|timed\s+out\s+after|"
    r"internal\s+server\s+error|service\s+unavailable|bad\s+gateway|bad\s+request|"
    r"permission\s+denied|operation\s+not\s+permitted|access\s+denied|invalid\s+api\s+key|"
    r"rate\s+limit\s+exceeded|no\s+such\s+file|command\s+not\s+found|"
    r"\"error\"\s*:)"
)


# Every match of _FAILED_LINE_RE contains one of these.
_FAILED_LINE_WORDS = (
    "connection", "timed out", "server error", "unavailable", "bad ", "denied",
    "not permitted", "invalid api", "rate limit", "no such file", "not found", '"error"',
)  # fmt: skip


def observation_failed(observation: str) -> bool:
    """A tool result that reports a failure, by ``observation_kind`` or by its first line."""
    return observation_kind(observation) is ObservationKind.ERROR or failed_head(observation)


@shared_scan
def failed_head(observation: str) -> bool:
    """The first line of ``observation`` reports a failure (see ``_FAILED_LINE_RE``)."""
    head = observation.lstrip()[:200].split("\n", 1)[0].lower()
    return any(word in head for word in _FAILED_LINE_WORDS) and (
        _FAILED_LINE_RE.search(head) is not None
    )
