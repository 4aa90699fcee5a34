"""The rubric of docs/quality.md as automatic checks on one accepted example.

Written from the rubric, apart from the relabeler's own rules (no import from ``agenther``'s
rule modules): a yardstick that shared the rules' code would only re-check them. Each check
returns a short reason; an example is precise when none fires and its run's labels say an
example should exist.

Broken grammar after a cut is read by ``bench.grammar_check``, written blind by a helper from
this rubric and the kinds of damage a cut leaves, without reading the relabeler's rules.

What a person reads that these checks cannot (is the request natural? does the answer really
answer it?) is covered by the 30-example read recorded in bench/RESULTS.md.
"""

from __future__ import annotations

import re
from typing import Any

from bench.grammar_check import grammar_problems

# --- (a) a request a real user could send ----------------------------------------------------

# UI and tool primitives narrated as steps ("click, then type ...", "get the goto").
_PRIMITIVES = re.compile(
    r"\b(?:click(?:s|ed|ing)?|double-click|scroll(?:s|ed|ing)?|hover(?:s|ed)?|goto|go_to"
    r"|select_option|get_text|fill_field|press(?:es|ed)?\s+(?:enter|tab|the\s+\w+\s+(?:key|button))"
    r"|type\s+(?:in\s+)?[\"'“]|type\s+the\s+\w+\s+(?:into|in)\b|then\s+type\b|get\s+the\s+type"
    r"|get\s+the\s+(?:goto|click|select|add\s+to\s+cart))\b",
    re.IGNORECASE,
)
_SELF_REFERENCE = re.compile(
    r"\b(?:original|initial|previous|earlier|failed)\s+(?:request|prompt|task|goal|question)"
    r"|\bas\s+(?:originally\s+)?requested\b|\bhindsight\b|\bthe\s+user\s+(?:asked|wanted)\b",
    re.IGNORECASE,
)
_BROKEN = [
    (re.compile(r"\s[,.:;!?](?!\d)"), "space before punctuation"),
    (re.compile(r"[,:;]\s*[,.:;!?—–]"), "punctuation left by a removed clause"),
    (
        re.compile(r"(?:^|(?<=[.!?])\s)\s*(?:If|Unless|Once|In case|As soon as)\s[^,.!?;]*[.!?]"),
        "a condition without its main clause",
    ),
    (re.compile(r"\(\s*\)|\[\s*\]"), "empty brackets"),
    (re.compile(r"\b(\w+)\s+\1\b", re.IGNORECASE), "doubled word"),
    (
        re.compile(
            r"\b(?:of|and|or|with|the|a|an|to|for|from|in|on|at|by|than|under|below|above|over"
            r"|between|within)\s*[.?!]?\s*$",
            re.IGNORECASE,
        ),
        "ends mid-phrase",
    ),
    (
        re.compile(
            r"\b(?:under|below|above|over|less than|more than|at most|at least|cheaper than"
            r"|within|before|after)\s*(?:[,.;:?!]|\band\b|\bor\b|$)",
            re.IGNORECASE,
        ),
        "comparator without its value",
    ),
    (re.compile(r"\bof\s+magnitude\b(?!\s+\d)", re.IGNORECASE), "half-removed constraint"),
    (
        re.compile(r"\b(?:keep|make|limit|hold)\s+(?:it|them|this)\s*[.!?]?\s*$", re.IGNORECASE),
        "a bound's verb without its bound",
    ),
]
# Identifiers a user does not type: long hex, uuids, prefixed database ids.
_INTERNAL_ID = re.compile(
    r"\b[0-9a-f]{12,}\b|\b[0-9a-f]{8}-[0-9a-f]{4}-|\b(?:ord|res|seg|pm|cus|evt|msg|usr|txn|inv)_"
    r"[A-Za-z0-9]{4,}\b|#(?:btn|el|node)-?\d+",
    re.IGNORECASE,
)


# Tool names that are also everyday words a user says ("search the web", "translate this").
def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_EVERYDAY = _word_set(
    "search find book send read write list get check calculate translate convert summarize "
    "summarise compare buy order email mail call browse open lookup fetch post reply forward "
    "schedule cancel delete remove download upload save export share print plot chart"
)


def _tool_names(trajectory: Any) -> set[str]:
    """Tool names a request should not say, unless the user said them too ("a shell one-liner"
    asked for by a user is theirs to ask)."""
    asked = trajectory.original_prompt.lower()
    names = set()
    for step in trajectory.steps:
        name = step.action_name.strip().lower()
        if len(name) >= 4 and name not in _EVERYDAY and name not in asked:
            names.add(name)
    return names


def request_problems(prompt: str, trajectory: Any) -> list[str]:
    problems = []
    if _PRIMITIVES.search(prompt):
        problems.append(f"narrates UI primitives ('{_PRIMITIVES.search(prompt).group(0)}')")  # type: ignore[union-attr]
    lowered = prompt.lower()
    for name in sorted(_tool_names(trajectory)):
        readable = re.search(r"[_.]|[a-z][A-Z]", name) is not None
        named = rf"(?<![\w.]){re.escape(name)}(?![\w])"
        if re.search(named, lowered) and (
            readable or re.search(rf"\b(?:the|a)\s+{re.escape(name)}\b", lowered)
        ):
            problems.append(f"names the tool '{name}'")
    if _SELF_REFERENCE.search(prompt):
        problems.append("refers to an earlier request")
    for pattern, reason in _BROKEN:
        found = [m.group(0) for m in pattern.finditer(prompt)]
        if reason == "space before punctuation":
            # French sets "?", "!", ":" and ";" off with a space: spacing the user's own
            # request has is the user's style, not a cut.
            found = [f for f in found if f not in trajectory.original_prompt]
        if found:
            problems.append(reason)
    if _INTERNAL_ID.search(prompt):
        problems.append(f"internal id '{_INTERNAL_ID.search(prompt).group(0)}'")  # type: ignore[union-attr]
    if _switches_to_english(prompt, trajectory.original_prompt):
        problems.append("English words added to a request in another language")
    problems += [f"grammar: {p}" for p in grammar_problems(prompt, trajectory.original_prompt)]
    return problems


_ENGLISH_WORDS = _word_set("the and of to in for with list show find me my your what how please")


_OTHER_WORDS = _word_set(
    "der die das und mit für ist le la les et des du avec pour est el los las y con para del"
    " os as um uma com il lo gli di per che og på av til er och att det som het een van voor"
    " niet w z na do się nie jest"
)


def _switches_to_english(prompt: str, original: str) -> bool:
    """A request in another language that gained English words of its own."""
    words = _TOKEN.findall(original.lower())
    if sum(w in _ENGLISH_WORDS for w in words) >= sum(w in _OTHER_WORDS for w in words):
        return False
    added = set(_TOKEN.findall(prompt.lower())) - set(words)
    return bool(added & _ENGLISH_WORDS)


# --- (b) grounded and not the failed goal ----------------------------------------------------

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_ADDRESS_PORT = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})")
_TOKEN = re.compile(r"[^\W_]+")
_FILLER = _word_set("a an the please can could would will you me my i to for of and or")


def _numbers(text: str) -> set[str]:
    """Numbers by value as a reader compares them: "06" in a date is 6, "1,200" is 1200."""
    found = set()
    for raw in _NUMBER.findall(text):
        number = raw.replace(",", "").rstrip(".:")
        found.add(number.lstrip("0") or "0" if number.isdigit() else number)
        # "0.0.0.0:443" shows port 443 to a reader.
        address = _ADDRESS_PORT.fullmatch(number)
        if address:
            found.update(address.groups())
    return found


def _terms(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in _FILLER]


def echoes(prompt: str, original: str) -> bool:
    """The failed request again: nothing of it dropped, at most a few words added."""
    asked, failed = _terms(prompt), _terms(original)
    missing = [t for t in set(failed) if failed.count(t) > asked.count(t)]
    return bool(failed) and not missing and len(asked) - len(failed) <= 3


def phrase_in(phrase: str, text: str) -> bool:
    """Case-insensitive, on word boundaries, a plural 's'/'es' allowed ("flight" ~ "flights")."""
    pattern = r"(?<!\w)" + re.escape(phrase) + r"(?:s|es)?(?!\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _squeezed(text: str) -> str:
    return "".join(_TOKEN.findall(text.lower()))


def _mentions_a_topic(prompt: str, topics: list[str]) -> bool:
    """Whether ``prompt`` names a topic, however spaced ("US 104" in "reperti_US104.csv")."""
    squeezed = _squeezed(prompt)
    return any(_squeezed(t) in squeezed for t in topics if _squeezed(t))


def grounding_problems(prompt: str, trajectory: Any, labels: dict[str, Any]) -> list[str]:
    problems = [
        f"forbidden phrase {p!r}"
        for p in labels.get("forbidden_phrases", [])
        if phrase_in(p, prompt)
    ]
    # What the tools were asked (a search for 12 May) and what they returned.
    observed = set().union(
        *(_numbers(f"{step.action_input} {step.observation}") for step in trajectory.steps)
    )
    # A limit the run met ("at least 4 stars" for a 4.6-star lamp) is no observed figure, but
    # the labels' own acceptable prompts may keep it: the check never fails what they accept.
    observed |= set().union(*(_numbers(p) for p in labels.get("acceptable_prompts", [])))
    problems += [f"number {n} not in observations" for n in sorted(_numbers(prompt) - observed)]
    topics = labels.get("topics") or []
    acceptable = labels.get("acceptable_prompts", [])
    if (
        topics
        and not _mentions_a_topic(prompt, topics)
        # The labels set the bar: a prompt as unspecific as one they accept passes, as for
        # numbers above (topics may name what only the answer says: "4 egels", "Zeist").
        and all(_mentions_a_topic(p, topics) for p in acceptable)
    ):
        problems.append(f"mentions none of {topics}")
    if echoes(prompt, trajectory.original_prompt):
        problems.append("restates the failed request")
    return problems


# --- (c) the final answer answers the new request ---------------------------------------------

_ADMITS_FAILURE = re.compile(
    r"\b(?:unable|could\s*n[o']t|couldn't|can't|cannot|failed|did\s*n[o']t\s+(?:find|work|manage)"
    r"|was\s*n[o']t\s+able|not\s+able|none\s+of\s+(?:the|them)|no\s+\w+(?:\s+\w+)?\s+(?:was|were)"
    r"\s+found|unfortunately|sorry|ran\s+out|only\s+(?:found|managed|got)|does\s*n[o']t\s+meet"
    r"|do\s*n[o']t\s+meet|not\s+(?:possible|available)|exceed(?:s|ed)?\s+(?:your|the)\s+budget)"
    r"|leider|konnte\s+nicht|nicht\s+gefunden|malheureusement|pas\s+pu|impossible\s+de"
    r"|lamentablemente|no\s+pude|no\s+(?:se\s+)?encontr|infelizmente|não\s+consegui|purtroppo"
    r"|non\s+sono\s+riuscit|helaas|niet\s+gelukt|не\s+удалось|к\s+сожалению"
    r"|无法|未能|没有找到|抱歉|できませんでした|見つかりません|申し訳|찾을\s*수\s*없|죄송",
    re.IGNORECASE,
)


def answer_problems(final_answer: str, rewritten: bool) -> list[str]:
    if not final_answer.strip():
        return ["no final answer"]
    if not rewritten and _ADMITS_FAILURE.search(final_answer):
        match = _ADMITS_FAILURE.search(final_answer)
        assert match is not None
        return [f"the final answer admits a failure ('{match.group(0)}')"]
    return []


def rubric_problems(
    prompt: str,
    trajectory: Any,
    labels: dict[str, Any],
    *,
    final_answer: str | None = None,
    answer_rewritten: bool = False,
) -> list[str]:
    """Why an accepted example fails the rubric; empty when it passes every automatic check."""
    exists = (
        labels.get("accept_if_answer_rewritten", labels["should_accept"])
        if answer_rewritten
        else labels["should_accept"]
    )
    problems = [] if exists else ["the labels say no example should come from this run"]
    problems += request_problems(prompt, trajectory)
    problems += grounding_problems(prompt, trajectory, labels)
    answer = trajectory.final_answer if final_answer is None else final_answer
    problems += answer_problems(answer, answer_rewritten)
    return problems
