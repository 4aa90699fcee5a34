"""Which steps of a run count: a tool named for the agent's own talk is not the environment,
and only a tool call that answered shows work a hindsight prompt may ask for. Hedging ("may not
reflect", "outdated") in a prompt or the run lowers a candidate's confidence."""

from __future__ import annotations

import re
from functools import lru_cache

from agenther.models import AgentStep, FailedTrajectory
from agenther.rules.observations import ObservationKind, observation_failed, observation_kind
from agenther.rules.vocabulary import word_list, word_set
from agenther.words import stem

# Tool names made only of these words are the agent talking to itself, not the environment.
_INTERNAL_WORDS = word_set(
    "generate respond response answer final think reflect plan summarize summarise summary "
    "finish reply llm text self"
)
_NAME_WORD_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
HEDGE_RE = re.compile(
    r"\b(?:maybe|perhaps|possibly|probably|might|may\s+not|not\s+sure|unsure|unclear|unverified"
    r"|i\s+think|i\s+believe|training\s+data|cannot\s+verify|could\s+not\s+verify|if\s+possible"
    r"|try\s+to|attempt\s+to|outdated)\b"
)


# Every match of HEDGE_RE contains one of these; the run's whole evidence text is searched,
# and checking for them first skips the (slow, per-position) regex search on most runs.
_HEDGE_WORDS = word_list(
    "may perhaps possib probably might sure unclear unverified think believe training verify "
    "try attempt outdated"
)


# HEDGE_RE with its leading \b as a \W before the phrase, searched in "\n" + text: the same
# matches, but sre skips ahead on the class instead of trying every phrase at every position.
_HEDGE_AFTER_NON_WORD_RE = re.compile(r"\W" + HEDGE_RE.pattern.removeprefix(r"\b"))


def hedges(lowered: str) -> bool:
    """``HEDGE_RE.search(lowered)``, quicker on text without hedging words."""
    return (
        any(word in lowered for word in _HEDGE_WORDS)
        and _HEDGE_AFTER_NON_WORD_RE.search("\n" + lowered) is not None
    )


@lru_cache(maxsize=4096)
def _name_words(action_name: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _NAME_WORD_RE.findall(action_name))


def name_words(action_name: str) -> list[str]:
    """``flight_search`` / ``getWeather`` / ``browser.click`` as lower-case words."""
    return list(_name_words(action_name))


# Tool names repeat across runs; the cache keeps the rule pipeline fast.
@lru_cache(maxsize=4096)
def is_internal_action(action_name: str) -> bool:
    words = _name_words(action_name)
    return bool(words) and all(w in _INTERNAL_WORDS for w in words)


_USABLE = frozenset({ObservationKind.CONTENT, ObservationKind.TRIVIAL})


def successful_tool_steps(t: FailedTrajectory) -> list[AgentStep]:
    """Steps where a real tool ran and answered: no error, no empty result, not the model's own
    text relayed by a tool. A bare acknowledgement ("Email sent.") still shows the action."""
    return [
        s
        for s in t.steps
        if not is_internal_action(s.action_name)
        and observation_kind(s.observation) in _USABLE
        and not observation_failed(s.observation)
    ]


def tool_name_words(steps: list[AgentStep]) -> frozenset[str]:
    """Stems of the tool names' words ("rail_search" → rail, search)."""
    return frozenset(stem(w) for s in steps for w in _name_words(s.action_name))
