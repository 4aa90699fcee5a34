"""Stage 1: what kind of failure a run is, whether it can be salvaged, and how much it weighs.

Rule mode (zero cost) scores keyword lexicons on the agent's own text only — observations,
thoughts, final answer and failure reason, never the user's prompt, whose "why does my script
fail with an error?" says nothing about the run. Structural signals add to the lexicon hits:
error observations (tool_error), final-answer claims that no observation, tool input or the
request supports (hallucination), and a goal whose content words the run never touches
(off_topic).

Severity and weight are separate (the reference used one for both, so the worst runs weighed
most). From the winning type's ``hits``:

* strength ``v = min(1, 0.3 + 0.1·hits)`` — the paper's formula;
* ``severity = lo + (hi − lo)·v`` inside the type's band (1 = catastrophic): minor types
  (constraint_violation, incomplete) sit in [0.10, 0.50], off_topic in [0.15, 0.55],
  wrong_result and non-destructive tool_error in [0.20, 0.65], hallucination in
  [0.75, 1.00] and destructive tool misuse (deleted data, dropped tables) in [0.80, 1.00];
* ``weight = 1 − severity``: minor failures keep w in [0.35, 0.78], major ones fall below
  δ = 0.3 and the pipeline drops them, as the paper prescribes.

A run is unrecoverable when no observation carries usable content (all errors, empty,
acknowledgements or the model's own text relayed by a tool), when it hallucinates, or when it
misused a tool destructively. It is reported as *not* a failure only when it has a final
answer, no failure reason and no failure signal at all; anything flagged upstream stays a
failure.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from agenther.evidence import (
    ObservationKind,
    extract_entities,
    extract_numbers,
    observation_kind,
)
from agenther.models import FailedTrajectory, FailureAnalysis, FailureType
from agenther.run_text import INJECTION_NOTICE, render_trajectory

if TYPE_CHECKING:
    from agenther.llm_client import LLMClient

# Every phrase counts once per occurrence; patterns run over lower-cased agent text.
_LEXICONS: dict[FailureType, tuple[str, ...]] = {
    FailureType.TOOL_ERROR: (
        r"errors?",
        r"exceptions?",
        r"traceback",
        r"time[ds]?\s*out",
        r"timeouts?",
        r"unavailable",
        r"unable\s+to\s+(?:reach|connect|access)",
        r"connection\s+(?:refused|reset|failed|error)",
        r"[45]\d\d\s+(?:service|bad|internal|not|forbidden|unauthori[sz]ed|too)",
        r"rate[-\s]limit(?:ed)?",
        r"permission\s+denied",
        r"api\s+(?:issues?|is\s+down|failure)",
        r"(?:is|was|went)\s+down",
        r"crash(?:ed|es)?",
        r"tool\s+(?:call\s+)?fail(?:ed|ure|s)",
        r"search\s+failed",
    ),
    FailureType.CONSTRAINT_VIOLATION: (
        r"constraints?",
        r"criteria",
        r"requirements?",
        r"instead\s+of",
        r"as\s+requested",
        r"(?:does\s+not|doesn't|did\s+not|didn't|do\s+not|don't|not)\s+(?:meet|satisfy|comply)",
        r"(?:not\s+)?meeting\s+(?:both|all|the|any)",
        r"exceed(?:s|ed|ing)?",
        r"over\s+(?:the\s+)?(?:budget|limit)",
        r"violat(?:es|ed|ion|ing)",
        r"wrong\s+(?:file\s+)?format",
        r"(?:above|below|under|over)\s+(?:the|our|your)\s+(?:limit|budget|maximum|minimum)",
        r"budget",
        # A comparator before a quantity in the agent's own words: "nothing under $5".
        r"(?:under|below|over|above|within|less\s+than|more\s+than|at\s+(?:most|least)|"
        r"no\s+more\s+than)\s+[$€£¥]?\d",
    ),
    FailureType.WRONG_RESULT: (
        r"incorrect(?:ly)?",
        r"wrong\s+(?:answer|result|value|number|output|total|calculation)",
        r"mismatch(?:es|ed)?",
        r"(?:does\s+not|doesn't|did\s+not)\s+match",
        r"inaccura(?:te|cy)",
        r"miscalculat\w*",
        r"expected\s+\S+(?:\s+\S+)?\s+(?:but\s+)?got",
        r"off\s+by",
        r"not\s+(?:the\s+)?correct",
        r"contradict\w*",
        r"bug(?:gy|s)?",
    ),
    FailureType.INCOMPLETE: (
        r"incomplete",
        r"partial(?:ly)?",
        r"only\s+(?:found|managed|completed|got|processed|returned)",
        r"(?:not|never)\s+(?:finished|completed)",
        r"did\s+not\s+(?:finish|complete)",
        r"ran\s+out\s+of",
        r"(?:max(?:imum)?|step)\s+(?:steps?|limit|iterations?)",
        r"gave\s+up",
        r"missing",
        r"remaining",
        r"not\s+all",
        r"truncated",
        r"stopped\s+(?:early|before)",
        r"unfinished",
    ),
    FailureType.HALLUCINATION: (
        r"training\s+data",
        r"may\s+not\s+reflect",
        r"fabricat\w*",
        r"made[-\s]up",
        r"hallucinat\w*",
        r"from\s+(?:my\s+)?memory",
        r"my\s+(?:own\s+)?knowledge",
        r"(?:can(?:not|'t)|could\s+not|unable\s+to)\s+verify",
        r"unverified",
        r"not\s+supported\s+by",
        r"invented",
        r"outdated",
    ),
    FailureType.OFF_TOPIC: (
        r"off[-\s]topic",
        r"unrelated",
        r"irrelevant",
        r"not\s+relevant",
        r"(?:a\s+)?different\s+(?:question|topic|task|request)",
        r"misunderst(?:ood|anding)",
        r"instead\s+(?:answered|addressed|talked|discussed|wrote\s+about)",
    ),
}

# Tool use that destroyed something: the paper's "catastrophic tool misuse".
_DESTRUCTIVE = (
    r"rm\s+-rf",
    r"drop(?:ped)?\s+(?:the\s+)?(?:table|database)",
    r"deleted\s+(?:all|every|the\s+(?:production|database|repository))",
    r"wiped",
    r"overwr(?:o|i)te\s+(?:the\s+)?production",
    r"force[-\s]push(?:ed)?",
    r"data\s+loss",
    r"irreversibl[ey]",
    r"truncate\s+table",
)
_DESTRUCTIVE_GROUP = "destructive"
# Extra tool_error hits for the first destructive act, so it outweighs incidental words.
_DESTRUCTIVE_BONUS = 2

# One pass finds every phrase. The word-start test sits outside the alternation so that
# positions inside words fail at once instead of trying every phrase (about 3x faster than a
# \b per phrase).
_LEXICON_RE = re.compile(
    r"(?<![a-z0-9_])(?=[a-z])(?:"
    + "|".join(
        f"(?P<{name}>(?:{'|'.join(patterns)})\\b)"
        for name, patterns in [
            (_DESTRUCTIVE_GROUP, _DESTRUCTIVE),
            *((kind.value, phrases) for kind, phrases in _LEXICONS.items()),
        ]
    )
    + ")"
)

# The literal start of every phrase above (and of "a different ..."). Matching the lexicon only
# where one of these opens a word finds what finditer finds, about 2.5x faster: at each word
# start sre tries all ~90 phrases one after the other, while this finder is a trie that fails
# on the first letter or two. Its leading "[^a-z0-9_]" gives sre a character class to skip
# ahead on; the text scanned starts with "\n" so that a phrase at the very start has one.
# tests/test_rule_scans.py checks every phrase against this list.
_PHRASE_STARTS_TEXT = """
    error exception traceback time unavailable unable connection rate permission api is was
    went crash tool search constraint criteria requirement instead as do di not meeting exceed
    over violat wrong above below under budget within less more at no incorrect mismatch
    inaccura miscalculat expected off contradict bug incomplete partial only never ran max step
    gave missing remaining truncate stopped unfinished training may fabricat made hallucinat
    from my can could unverified invented outdated unrelated irrelevant different misunderst rm
    drop deleted wiped force data irreversibl
"""
_PHRASE_STARTS = _PHRASE_STARTS_TEXT.split()


def _trie(words: list[str]) -> str:
    """An alternation of ``words`` that branches one letter at a time; a word that is a prefix
    of others stands for them all."""
    by_first: dict[str, list[str]] = {}
    for word in sorted(set(words)):
        by_first.setdefault(word[0], []).append(word[1:])
    parts = []
    for first, rests in by_first.items():
        if "" in rests:
            parts.append(re.escape(first))
        elif len(rests) == 1:
            parts.append(re.escape(first + rests[0]))
        else:
            parts.append(f"{re.escape(first)}(?:{_trie(rests)})")
    return "|".join(parts)


_PHRASE_START_RE = re.compile(rf"[^a-z0-9_](?:{_trie(_PHRASE_STARTS)}|a(?=\s))")


def _lexicon_matches(agent_text: str) -> Iterator[re.Match[str]]:
    """``_LEXICON_RE.finditer(agent_text)`` for a text that starts with "\n"."""
    end = 0
    for candidate in _PHRASE_START_RE.finditer(agent_text):
        start = candidate.start() + 1
        if start < end:
            continue
        match = _LEXICON_RE.match(agent_text, start)
        if match is not None:
            end = match.end()
            yield match


_TIE_ORDER = (
    FailureType.HALLUCINATION,
    FailureType.TOOL_ERROR,
    FailureType.CONSTRAINT_VIOLATION,
    FailureType.WRONG_RESULT,
    FailureType.INCOMPLETE,
    FailureType.OFF_TOPIC,
)

# (lowest, highest) severity per type; see the module docstring.
_SEVERITY_BANDS: dict[FailureType, tuple[float, float]] = {
    FailureType.CONSTRAINT_VIOLATION: (0.10, 0.50),
    FailureType.INCOMPLETE: (0.10, 0.50),
    FailureType.OFF_TOPIC: (0.15, 0.55),
    FailureType.WRONG_RESULT: (0.20, 0.65),
    FailureType.TOOL_ERROR: (0.20, 0.65),
    FailureType.HALLUCINATION: (0.75, 1.00),
}
_DESTRUCTIVE_BAND = (0.80, 1.00)

# Off-topic: fewer than this share of the goal's content words show up in what the run did.
_OFF_TOPIC_OVERLAP = 0.2
_OFF_TOPIC_MIN_WORDS = 3
_OFF_TOPIC_HITS = 3
# Unsupported final-answer claims that count as hallucination without any usable observation,
# and with some (then they must also be at least half of the answer's claims).
_UNSUPPORTED_ALONE = 1
_UNSUPPORTED_WITH_CONTENT = 2

_WORD_RE = re.compile(r"[a-z][a-z'-]{2,}")
_GOAL_STOP_TEXT = """
    the and for with that this from into onto over under below above than then them they
    their there these those what which who whom whose when where why how are was were been
    being have has had does did doing can could should would will shall may might must not
    all any each every some such only own same very just also about after before again
    please find show give tell make list get write create use using want need like less more
    most least per its it's you your our out new one two three top best"""
_GOAL_STOP_WORDS = frozenset(_GOAL_STOP_TEXT.split())


def _stem(word: str) -> str:
    # A prefix is enough to match "prices"/"pricing" or "suppliers"/"supplier".
    return word[:4] if len(word) <= 6 else word[:5]


def _goal_words(goal: str) -> set[str]:
    return {_stem(w) for w in _WORD_RE.findall(goal.lower()) if w not in _GOAL_STOP_WORDS}


def _severity_weight(band: tuple[float, float], hits: int) -> tuple[float, float]:
    strength = min(1.0, 0.3 + 0.1 * hits)
    low, high = band
    severity = round(low + (high - low) * strength, 4)
    return severity, round(1.0 - severity, 4)


def _action_text(t: FailedTrajectory) -> str:
    parts: list[str] = []
    for step in t.steps:
        parts.append(step.action_name)
        parts.extend(str(value) for value in step.action_input.values())
    return " ".join(parts)


def _unsupported_claims(t: FailedTrajectory, action_text: str) -> tuple[list[str], int]:
    """Numbers and names in the final answer that nothing the run saw or was asked supports,
    and how many numbers and names the answer has in all."""
    sources = [*(step.observation for step in t.steps), action_text, t.original_prompt]
    numbers = {n for source in sources for n in extract_numbers(source)}
    lowered = "\n".join(sources).lower()
    answer_numbers = extract_numbers(t.final_answer)
    answer_names = extract_entities(t.final_answer)
    claims = [n for n in answer_numbers if n not in numbers]
    claims.extend(e for e in answer_names if e.lower() not in lowered)
    return claims, len(answer_numbers) + len(answer_names)


def analyze_rules(t: FailedTrajectory) -> FailureAnalysis:
    """The rule-based analysis of one run (see the module docstring for the scoring)."""
    observations = [step.observation for step in t.steps]
    kinds = [observation_kind(o) for o in observations]
    usable = sum(kind is ObservationKind.CONTENT for kind in kinds)
    errored = sum(kind is ObservationKind.ERROR for kind in kinds)

    agent_text = "\n".join(
        ["", *observations, *(step.thought for step in t.steps), t.final_answer, t.failure_reason]
    ).lower()

    hits = dict.fromkeys(FailureType, 0)
    examples: dict[FailureType, list[str]] = {kind: [] for kind in FailureType}
    destructive = False
    for match in _lexicon_matches(agent_text):
        group = match.lastgroup
        if group == _DESTRUCTIVE_GROUP:
            kind = FailureType.TOOL_ERROR
            if not destructive:
                destructive = True
                hits[kind] += _DESTRUCTIVE_BONUS
        else:
            kind = FailureType(group)
        hits[kind] += 1
        if len(examples[kind]) < 3:
            examples[kind].append(match.group(0))
    hits[FailureType.TOOL_ERROR] += errored

    action_text = _action_text(t)
    if t.final_answer:
        claims, total_claims = _unsupported_claims(t, action_text)
        needed = _UNSUPPORTED_WITH_CONTENT if usable else _UNSUPPORTED_ALONE
        # An answer that mostly restates what was observed may derive a number or two
        # (a sum, an average); only a mostly unsupported answer counts as made up.
        if len(claims) >= needed and 2 * len(claims) >= total_claims:
            hits[FailureType.HALLUCINATION] += len(claims)
            examples[FailureType.HALLUCINATION].insert(0, "unsupported: " + ", ".join(claims[:3]))

    goal_words = _goal_words(t.original_prompt)
    if len(goal_words) >= _OFF_TOPIC_MIN_WORDS:
        done = "\n".join([action_text, *observations, t.final_answer]).lower()
        overlap = sum(word in done for word in goal_words) / len(goal_words)
        if overlap < _OFF_TOPIC_OVERLAP:
            hits[FailureType.OFF_TOPIC] += _OFF_TOPIC_HITS
            examples[FailureType.OFF_TOPIC].insert(0, f"goal overlap {overlap:.0%}")

    total = sum(hits.values())
    if total == 0 and t.final_answer and not t.failure_reason:
        return FailureAnalysis(
            is_failure=False,
            failure_type=None,
            severity=0.0,
            weight=1.0,
            recoverable=True,
            explanation="no failure signal: the run answered and no failure reason was given",
        )

    if total == 0:
        failure_type = FailureType.WRONG_RESULT if t.final_answer else FailureType.INCOMPLETE
    else:
        failure_type = max(_TIE_ORDER, key=lambda kind: (hits[kind], -_TIE_ORDER.index(kind)))
    type_hits = hits[failure_type]

    catastrophic = failure_type is FailureType.TOOL_ERROR and destructive
    band = _DESTRUCTIVE_BAND if catastrophic else _SEVERITY_BANDS[failure_type]
    severity, weight = _severity_weight(band, type_hits)

    recoverable = usable > 0 and failure_type is not FailureType.HALLUCINATION and not catastrophic
    signals = ", ".join(repr(s) for s in examples[failure_type]) or "none matched"
    explanation = (
        f"{failure_type.value}: {type_hits} signal(s) ({signals}); "
        f"{usable} of {len(kinds)} observations usable"
    )
    if not recoverable:
        if catastrophic:
            explanation += "; destructive tool use"
        elif failure_type is FailureType.HALLUCINATION:
            explanation += "; hallucinated content"
        else:
            explanation += "; nothing the run observed can support a relabeled goal"
    return FailureAnalysis(
        is_failure=True,
        failure_type=failure_type,
        severity=severity,
        weight=weight,
        recoverable=recoverable,
        explanation=explanation,
    )


class FailureJudgement(BaseModel):
    """The LLM's reply. Bounds are not enforced here: out-of-range numbers are clamped."""

    failure_type: FailureType
    severity: float = Field(description="How bad the failure is, 0 (trivial) to 1 (catastrophic)")
    weight: float = Field(
        description="Training weight 0..1 of a relabeled copy: high for minor failures, "
        "below 0.3 for hallucinated observations, contradictions or catastrophic tool misuse"
    )
    recoverable: bool = Field(
        description="Whether the observations show something real a different goal could rest on"
    )
    explanation: str


_SYSTEM_PROMPT = f"""You classify why an AI agent's run failed its user's request.

Failure types:
- constraint_violation: the run ignored or broke an explicit constraint (price, format, limit)
- wrong_result: the run produced an answer, but it is incorrect
- incomplete: the run stopped before doing everything asked
- tool_error: tools failed (errors, timeouts, outages) or were misused
- hallucination: the answer asserts facts no observation supports
- off_topic: the run worked on something other than what was asked

severity: 0 = trivial, 1 = catastrophic. weight: the training weight of a relabeled copy of
this run; minor failures (constraint violations, incomplete results) get 0.3 to 1, major
ones (hallucinated observations, contradictions, catastrophic tool misuse) below 0.3.
recoverable: true if the observations show real results that some other request would be
fully satisfied by; false if every tool call failed or the content is made up.
Judge only from the run shown. Reply with JSON matching the schema.

{INJECTION_NOTICE}"""


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


class FailureDetector:
    """Stage 1. ``adetect`` is the async entry point; ``detect``/``batch_detect`` keep the
    reference's synchronous API."""

    def __init__(self, llm_client: LLMClient | None = None, *, token_budget: int = 1500) -> None:
        self._llm = llm_client
        self._token_budget = token_budget

    async def adetect(self, trajectory: FailedTrajectory, use_llm: bool = False) -> FailureAnalysis:
        if use_llm:
            return await self._detect_llm(trajectory)
        return analyze_rules(trajectory)

    def detect(self, trajectory: FailedTrajectory, use_llm: bool = False) -> FailureAnalysis:
        if use_llm:
            self._client()
            return asyncio.run(self._detect_llm(trajectory))
        return analyze_rules(trajectory)

    def detect_rule_based(self, trajectory: FailedTrajectory) -> FailureAnalysis:
        return analyze_rules(trajectory)

    def batch_detect(
        self, trajectories: Sequence[FailedTrajectory], use_llm: bool = False
    ) -> list[FailureAnalysis]:
        if not use_llm:
            return [analyze_rules(t) for t in trajectories]
        self._client()

        async def run_all() -> list[FailureAnalysis]:
            return list(await asyncio.gather(*(self._detect_llm(t) for t in trajectories)))

        return asyncio.run(run_all())

    def _client(self) -> LLMClient:
        if self._llm is None:
            raise ValueError("use_llm=True needs an llm_client; pass one to FailureDetector")
        return self._llm

    async def _detect_llm(self, trajectory: FailedTrajectory) -> FailureAnalysis:
        llm = self._client()
        user_prompt = "Classify the failure of this agent run.\n\n" + render_trajectory(
            trajectory, self._token_budget
        )
        reply = await llm.acall_structured(
            _SYSTEM_PROMPT, user_prompt, FailureJudgement, temperature=0.0
        )
        return FailureAnalysis(
            is_failure=True,
            failure_type=reply.failure_type,
            severity=_clamp(reply.severity),
            weight=_clamp(reply.weight),
            recoverable=reply.recoverable,
            explanation=reply.explanation,
        )


__all__ = ["FailureDetector", "FailureJudgement", "analyze_rules"]
