"""Would a person send this request? The mechanical half of docs/quality.md, part (a).

A hindsight request is refused when it narrates the agent's calls instead of asking for
something (UI primitives such as click/type/goto, tool names such as ``geocode`` or
``run_command``), names identifiers no user knows (database ids, hashes, element ids), or is
left broken by an edit (a space before a comma, a comparator whose value was cut, a doubled
word, a sentence that stops on "of"). Both modes use it: rule templates and small models break
requests the same ways.
"""

from __future__ import annotations

import re

from agenther.models import FailedTrajectory
from agenther.rules.vocabulary import ACTION_VERBS, OTHER_IMPERATIVES, PREPARATORY_VERBS, word_set
from agenther.words import FUNCTION_WORDS, english, latin_language, tokens

# Browser and UI primitives, as verbs of the request.
_UI_VERBS = (
    "click|double-click|right-click|scroll|hover|goto|go_to|navigate_to|select_option"
    "|get_text|fill_field|press_key|type_text|send_keys|wait_for"
)
_PRIMITIVE_RE = re.compile(
    rf"\b(?:{_UI_VERBS})(?:s|ed|ing)?\b"
    r"|\bpress\s+(?:enter|tab|escape|return|the\s+\w+\s+(?:key|button))\b"
    r"|\btype\s+(?:in\s+)?[\"'“‘]|\btype\s+the\s+\w+\s+(?:in|into)\b|\bthen\s+type\b"
    r"|\bget\s+the\s+(?:type|goto|click|select|text|add\s+to\s+cart)\b",
    re.IGNORECASE,
)


# Words a user says even when a tool carries the same name ("search the web for ...").
def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_EVERYDAY = _word_set(
    "search find book send read write list get check calculate translate convert summarize "
    "summarise compare buy order email mail call browse open lookup fetch post reply forward "
    "schedule cancel delete remove download upload save export share print plot chart query "
    "weather news calendar maps math calculator python bash shell sql git docker kubectl "
    "curl wikipedia browser terminal"
)
_IDENTIFIER_RE = re.compile(
    r"\b[0-9a-f]{12,}\b"  # hashes, object ids
    r"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"  # uuids
    r"|\b[a-z]{2,5}_[A-Za-z0-9]{6,}\b"  # prefixed ids: ord_8f2KQ, cus_N1x9
    r"|#(?:btn|el|elem|node|ref)-?\d+\b|\b(?:elem|element|node)[_-]?id\b",
)
_SPACE_BEFORE_RE = re.compile(r"\s[,.:;!?](?!\d|\w)")
_BROKEN: tuple[tuple[re.Pattern[str], str], ...] = (
    (_SPACE_BEFORE_RE, "a space before punctuation"),
    (re.compile(r"[,:;]\s*[,.:;!?—–]"), "punctuation left by a removed clause"),
    # "What's the status of order 9042? If it's printed.": a condition with nothing it governs.
    (
        re.compile(
            r"(?:^|(?<=[.!?])\s)\s*(?:If|Unless|Once|In\s+case|As\s+soon\s+as)\s[^,.!?;]*[.!?]"
        ),
        "a condition without its main clause",
    ),
    (re.compile(r"\(\s*\)|\[\s*\]|\"\s*\"|'\s*'(?!\w)"), "empty brackets or quotes"),
    # "nobody ' experience on Black 2" once "with fewer than 2 seasons" went.
    (re.compile(r"(?<=\s)['’](?=\s)"), "a stray apostrophe"),
    (re.compile(r"\b(\w{2,})\s+\1\b", re.IGNORECASE), "a doubled word"),
    (
        re.compile(
            r"\b(?:of|and|or|with|the|a|an|to|for|from|in|on|at|by|than|under|below|above"
            r"|over|between|within|about|like|such as)\s*[.?!]?\s*$",
            re.IGNORECASE,
        ),
        "a sentence that stops mid-phrase",
    ),
    (
        re.compile(
            r"\b(?:under|below|above|over|less\s+than|more\s+than|fewer\s+than|at\s+most"
            r"|at\s+least|cheaper\s+than|within|no\s+later\s+than|no\s+more\s+than)"
            r"\s*(?:[,.;:?!]|\band\b|\bor\b|\bwith\b|$)",
            re.IGNORECASE,
        ),
        "a comparator whose value was cut",
    ),
    (re.compile(r"\b(?:of|with|a)\s+magnitude\b(?!\s+\d)", re.IGNORECASE), "a half-cut constraint"),
    # "… for my tax preparer — keep it.": the verb of a bound whose bound was cut.
    (
        re.compile(r"\b(?:keep|make|limit|hold)\s+(?:it|them|this)\s*[.!?]?\s*$", re.IGNORECASE),
        "a bound's verb without its bound",
    ),
    (re.compile(r"^\s*[,.;:!?)]|^\s*(?:and|or|but|with)\b", re.IGNORECASE), "a broken start"),
    # "a shell one-liner, that sums ...": the comma a cut clause left before its relative.
    (re.compile(r"\w,\s+that\s+(?!is\b|means\b)\w"), "a comma cut off from its clause"),
)


def _tool_name_hits(prompt: str, trajectory: FailedTrajectory) -> list[str]:
    lowered = prompt.lower()
    hits = []
    for name in {step.action_name.strip() for step in trajectory.steps}:
        low = name.lower()
        if len(low) < 4 or low in _EVERYDAY:
            continue
        shaped = re.search(r"[_.]|[a-z][A-Z]", name) is not None
        if not re.search(rf"(?<![\w.]){re.escape(low)}(?!\w)", lowered):
            continue
        # A snake/camel/dotted name is never English; a plain word counts when it is used as
        # a thing ("get the geocode", "the geocode about Lisbon").
        if shaped or re.search(
            rf"\b(?:the|a|an)\s+{re.escape(low)}\b|\b{re.escape(low)}\s+(?:about|for|of)\b",
            lowered,
        ):
            hits.append(name)
    return sorted(hits)


def style_problems(prompt: str, trajectory: FailedTrajectory) -> list[str]:
    """Why a person would not send ``prompt`` as a request to an assistant."""
    problems = []
    primitive = _PRIMITIVE_RE.search(prompt)
    if primitive:
        problems.append(f"it narrates UI steps ('{primitive.group(0)}') instead of asking")
    problems.extend(f"it names the tool '{name}'" for name in _tool_name_hits(prompt, trajectory))
    identifier = _IDENTIFIER_RE.search(prompt)
    if identifier:
        problems.append(f"it names an internal identifier ('{identifier.group(0)}')")
    original = trajectory.original_prompt
    problems.extend(
        f"it has {what}"
        for pattern, what in _BROKEN
        if any(
            # French sets "?", "!", ":" and ";" off with a space; the user's own spacing stays.
            pattern is not _SPACE_BEFORE_RE or m.group(0) not in original
            for m in pattern.finditer(prompt)
        )
    )
    if english(prompt) and not _asks(prompt):
        problems.append("it asks for nothing: no question and no verb of a request")
    language = latin_language(original)
    if language not in (None, "en") and _adds_english(prompt, original, language):
        problems.append(
            f"it has English words a request in {_LANGUAGE_NAMES[language]} does not have"
        )
    problems.extend(
        f"it keeps '{second}' without '{first}'"
        for first, second in _NAME_PAIR_RE.findall(original)
        if any(
            not before[:1].isupper()
            for before in re.findall(rf"([\w'-]*),\s*{re.escape(second)}\b", prompt)
        )
    )
    return problems


# "test_parse_dates in tests/test_utils.py is failing." once "Fix the bug …" went: the context
# of a request, which asks for nothing. Whole tokens are read, so "test_parse_dates" is no
# "test".
_REQUEST_WORDS = (
    ACTION_VERBS
    | PREPARATORY_VERBS
    | OTHER_IMPERATIVES
    | word_set("i we help let what which who how when where why")
)
_TOKEN_EDGE = ".,;:!?—–-'\"()[]«»“”‘’"


def _asks(prompt: str) -> bool:
    return "?" in prompt or any(
        word.strip(_TOKEN_EDGE).lower() in _REQUEST_WORDS for word in prompt.split()
    )


# "Portland, Oregon", "Springfield, IL": a place and what tells it apart. A request that lost
# the first ("Will it rain, Oregon tomorrow?") is broken; one that names another place before
# it ("14 Elm Grove, Bristol" for "14 Elm Road, Bristol") is not.
_NAME_PAIR_RE = re.compile(r"\b([A-Z][\w'-]+),\s+([A-Z][\w'-]+)")


_LANGUAGE_NAMES = {
    "de": "German", "fr": "French", "es": "Spanish", "pt": "Portuguese", "it": "Italian",
    "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "no": "Norwegian", "da": "Danish",
    "tr": "Turkish", "cs": "Czech",
}  # fmt: skip


def _adds_english(prompt: str, original: str, language: str) -> bool:
    """Whether a request in another language gained English words of its own ("Finn tre
    tilbud på leie av NVG-sildekvote. List the 2025 til."): the English that drop_constraint
    adds ("list the prices") reads only English requests."""
    added = set(tokens(prompt)) - set(tokens(original))
    return bool(added & FUNCTION_WORDS["en"] - FUNCTION_WORDS[language])
