"""Stage 3 in rule mode: the candidate prompts of a run, their scores, and the decision.

Six strategies are tried in this order, each only where it fits the failure:
``actual_result`` (``agenther.rules.restate``), ``drop_constraint``
(``agenther.rules.drop_constraint``), ``drop_action`` and
``drop_detail`` (``agenther.rules.clauses``: the request without the one action, or the
details, the run left out), ``drop_entity`` (``agenther.rules.drop_entity``: the one of two
named things it left out), then ``tool_work`` (``agenther.rules.tool_work``), the fallback for
any failure type.

Scores, all deterministic:

- confidence c = 0.35·prior(strategy) + 0.25·(share of tool steps that did not error)
  + 0.2·(word-count ratio to the original) + 0.2·(no hedging in the prompt or the observations);
- the "second judge" c2 is the grounding verifier (a failure makes c2 = 0) plus an independent
  vocabulary check: the share of the prompt's content words found in the run record
  (observations, final answer, successful actions) or in the original request with its
  constraints cut out.

Acceptance mirrors Algorithm 1: the first candidate with c ≥ θ and c2 ≥ θ, confidence
(c + c2) / 2; otherwise the best candidate with c ≥ 0.8θ whose c2 ≥ θ — the check is never
bypassed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from agenther.config import DEFAULT_RULE_STRATEGIES
from agenther.demands import demanded_actions
from agenther.demonstration import run_problem
from agenther.evidence import extract_entities
from agenther.grounding import verify_grounding
from agenther.models import (
    FailedTrajectory,
    FailureAnalysis,
    FailureType,
    RelabelDecision,
    RelabeledData,
    ReplayOutcome,
)
from agenther.quantities import figures
from agenther.request_style import style_problems
from agenther.rules.clauses import without_failed_action, without_missing_detail
from agenther.rules.cut_repair import sentence
from agenther.rules.drop_constraint import drop_constraints
from agenther.rules.drop_entity import without_missing_entity
from agenther.rules.facts import RunFacts
from agenther.rules.negation import kept_unmet_dates, kept_unmet_things
from agenther.rules.restate import restate_actual, unevidenced_side_effect
from agenther.rules.seams import cut_problems
from agenther.rules.steps import HEDGE_RE, successful_tool_steps
from agenther.rules.subject import has_subject, subject_phrase, subject_words
from agenther.rules.swapped_name import restate_swapped_name
from agenther.rules.tool_work import asked_about, tool_work_request
from agenther.rules.unmet import cut_unmet_phrases, kept_requirement
from agenther.rules.vocabulary import REQUEST_WORDS
from agenther.words import WORD_RE, content_pairs, english, stem

DROP_CONSTRAINT = "drop_constraint"
ACTUAL_RESULT = "actual_result"
DROP_ACTION = "drop_action"
DROP_DETAIL = "drop_detail"
DROP_ENTITY = "drop_entity"
TOOL_WORK = "tool_work"

_PRIORS = {
    DROP_CONSTRAINT: 1.0,
    ACTUAL_RESULT: 1.0,
    DROP_ACTION: 1.0,
    DROP_DETAIL: 1.0,
    DROP_ENTITY: 1.0,
    TOOL_WORK: 0.75,
}

# The tool-work requests a person sends as they are; any other shape ("Query the users table
# and show me the output", "Create the calendar about Priya", "Search for docs matching early
# termination") reads the agent's log back and is refused, precision before acceptance.
_SOURCE_NAMES = (
    "the web|Wikipedia|arXiv|PubMed|GitHub|the news|the academic literature|the docs"
    "|the knowledge base|the catalog"
)
_NO_ABOUT = r"(?:(?!\babout\b)[^,])+"  # "flights from MAD to FCO about Madrid" is no request
_NATURAL_TOOL_WORK = re.compile(
    rf"^Search (?:{_SOURCE_NAMES}) for {_NO_ABOUT} and list the results\.$"
    rf"|^(?:Search|Find) for (?:[a-z-]+ ){{0,2}}[a-z-]+s (?:in|from|near|on|to|at) {_NO_ABOUT}"
    r" and list the results\.$"
    rf"|^Run (?!the )[\w./-]+ {_NO_ABOUT} and show me the output\.$"
    r"|^Check the weather (?:in|for|at) [^,]+ and report what you find\.$"
    # "Get the stock price for AAPL": only built from nouns the user's request used.
    rf"|^Get the (?:[a-z]+ ){{0,2}}[a-z]+ (?:for|in|of|at) {_NO_ABOUT} and report what you find\.$"
    r"|^Translate [^,]+ into [A-Z][a-z]+ and (?:confirm when it is done|report what you find)\.$"
)


# "Only 20 were available, so the agent made up the difference with 10 chicken burritos": what
# was delivered is partly another kind of thing, so the request minus its limits still asks
# for the kind the run did not deliver in full.
_SUBSTITUTED_RE = re.compile(
    r"\bsubstitut\w*|\bmade\s+up\s+the\s+(?:difference|rest|shortfall)"
    r"|\b(?:filled|topped\s+up|padded)\s+(?:\w+\s+){0,3}with\b"
    # ("padded the list with a third" counts one more of the kind asked for.)
    r"(?!\s+(?:(?:a|an|one)\s+(?:second|third|fourth|fifth|more|other|extra)|another)\b)",
    re.IGNORECASE,
)
_SUPERLATIVE_RE = re.compile(
    r"\b(?:cheapest|lowest|highest|best|fastest|shortest|longest|earliest|latest|closest"
    r"|nearest|largest|smallest|biggest|(?<!at\s)(?:most|least)|top)\b",
    re.IGNORECASE,
)


_TIME_NAME_RE = re.compile(
    r"(?:January|February|March|April|May|June|July|August|September|October|November"
    r"|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)",
    re.IGNORECASE,
)


def _cut_names(prompt: str, run: RunFacts) -> list[str]:
    """Months, weekdays, clock times and numbered places ("cave 2") of the phrases the
    failure names (``cut_unmet_phrases``) that ``prompt`` left out and the final answer still
    states as its own. (A place may well be in
    the answer, listing where each result really is; what a dropped limit measured, "IMDb" or
    "RAM", too: the answer lists those values.)"""
    t = run.trajectory
    cut = cut_unmet_phrases(t.original_prompt, _reason(run)).lower()
    kept = prompt.lower()
    names = [
        name
        for name in extract_entities(t.original_prompt)
        if _TIME_NAME_RE.fullmatch(name)
        and name.lower() not in cut
        and name.lower() not in kept
        and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", t.final_answer, re.IGNORECASE)
    ]
    # "List the Comté wheels aged over 18 months" cut from "…, but only the ones in cave 2",
    # answered "Cave 2 has five Comté wheels …": a numbered place is a name as well.
    names.extend(
        name
        for name in dict.fromkeys(
            m.group(0) for m in _NUMBERED_PLACE_RE.finditer(t.original_prompt)
        )
        if name.lower() not in kept
        and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", t.final_answer, re.IGNORECASE)
    )
    # "Set the thermostat to 68°F" cut from "…, but only until 6am", answered "68°F until 6 am".
    answer_times = _clock_times(t.final_answer)
    names.extend(
        match.group(0)
        for match in _CLOCK_RE.finditer(t.original_prompt)
        if _clock_times(match.group(0)) & answer_times - _clock_times(prompt)
    )
    return names


_NUMBERED_PLACE_RE = re.compile(
    r"(?<![\w-])(?:cave|cellar|block|court|hive|row|gate|bay|room|site|zone|level|platform|pen"
    r"|field|barn|shed|hall|pitch|rink|pool|lane|greenhouse|tunnel|aisle|shelf|rack|vault"
    r"|warehouse|depot|plot|bed|stall|kiln|oven|tank|dock|berth|pier|terminal|floor|ward|studio"
    r"|stage|screen|lab|building|unit|paddock|stable|track|lift|hangar|locker)\s\d{1,3}"
    r"(?![\w,:/-]|\.\d)",
    re.IGNORECASE,
)
# "6am", "6 p.m.", "14:00": a time of day, read as (hour, minute) on a 24-hour clock.
_CLOCK_RE = re.compile(
    r"(?<![\d:.])(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\b\.?|(?<![\d:.])(\d{1,2}):(\d{2})(?![\d:])",
    re.IGNORECASE,
)


def _clock_times(text: str) -> set[tuple[int, int]]:
    times = set()
    for match in _CLOCK_RE.finditer(text):
        if match.group(3):
            hour = int(match.group(1)) % 12 + (12 if match.group(3).lower() == "p" else 0)
            times.add((hour, int(match.group(2) or 0)))
        else:
            times.add((int(match.group(4)), int(match.group(5))))
    return times


def _reason(run: RunFacts) -> str:
    """The failure reason with Stage 1's explanation, as the edits read it."""
    reason = run.trajectory.failure_reason
    if run.analysis is not None and run.analysis.explanation:
        reason = f"{reason}. {run.analysis.explanation}"
    return reason


def _partly_named(prompt: str, t: FailedTrajectory) -> list[str]:
    """Names of several words in ``prompt`` of which the final answer has some words, not all."""
    answer = t.final_answer.lower()
    answer_words = set(WORD_RE.findall(answer))
    return [
        name
        for name in extract_entities(prompt)
        if " " in name
        and name.lower() not in answer
        and answer_words & set(WORD_RE.findall(name.lower()))
    ]


def support_ratio(prompt: str, record: str) -> float:
    """Share of the prompt's content words that occur (stemmed) in ``record``; in Chinese,
    Japanese or Korean, its two-character words."""
    words = [stem(w) for w in WORD_RE.findall(prompt.lower()) if w not in REQUEST_WORDS]
    words.extend(content_pairs(prompt))
    if not words:
        return 0.0
    return sum(1 for w in words if w in record) / len(words)


@dataclass(frozen=True, slots=True)
class _Scored:
    prompt: str
    strategy: str
    confidence: float
    check: float
    problems: tuple[str, ...]


def _score(prompt: str, strategy: str, run: RunFacts) -> _Scored:
    t = run.trajectory
    grounding = verify_grounding(prompt, t, run.analysis, evidence=run.evidence, unmet=run.unmet)
    problems = [*grounding.problems, *style_problems(prompt, t)]
    if strategy == TOOL_WORK:
        # Tool work is said in the agent's terms (its arguments), which only an observation
        # backs; the other strategies keep the user's own numbers, checked by the verifier.
        problems.extend(
            f"the number {n} occurs in no observation"
            for n in sorted(figures(prompt) - run.observed_figures)
        )
    problems.extend(
        f"the final answer still talks about '{limit}'"
        for limit in run.answer_limits
        if limit.lower() not in prompt.lower()
    )
    if strategy != TOOL_WORK:
        problems.extend(cut_problems(t.original_prompt, prompt))
        if requirement := kept_requirement(prompt, t.failure_reason):
            problems.append(f"the prompt keeps '{requirement}', which the failure reason is about")
        # "How much did I spend on groceries?" cut from "… in September" while the answer
        # still says September: paired with that answer it teaches the wrong month.
        problems.extend(
            f"the final answer still talks about '{name}'" for name in _cut_names(prompt, run)
        )
    side_effect = unevidenced_side_effect(prompt, run.done)
    if side_effect:
        problems.append(f"the run shows nothing for '{side_effect}'")
    if strategy == TOOL_WORK:
        # The request names the agent's search terms; an answer that names only part of a
        # name (asked for "Siemens Healthineers", told about "Siemens") is about another one.
        problems.extend(
            f"the answer names only part of '{name}'" for name in _partly_named(prompt, t)
        )
    if strategy == TOOL_WORK and run.wrong_result:
        problems.extend(
            f"the prompt asks about '{word}', which the answer got wrong"
            for word in _what_was_wrong(prompt, run)
        )
    problems.extend(
        f"the prompt asks for '{term}', which the run left out"
        for term in sorted(
            {
                *_left_out(prompt, t.failure_reason),
                *kept_unmet_things(prompt, t.failure_reason),
                *kept_unmet_dates(prompt, t.failure_reason),
            }
        )
    )
    words, original_words = len(prompt.split()), len(t.original_prompt.split())
    length = min(words, original_words) / max(words, original_words, 1)
    hedged = run.hedged or HEDGE_RE.search(prompt.lower()) is not None
    confidence = 0.35 * _PRIORS[strategy] + 0.25 * run.facts + 0.2 * length + 0.2 * (not hedged)
    check = 0.0 if problems else support_ratio(prompt, run.record)
    return _Scored(prompt, strategy, round(confidence, 4), round(check, 4), tuple(problems))


# "omits the required #DataOps hashtag", "missing the tracking number": what follows names
# what the run left out.
_LEFT_OUT_RE = re.compile(
    r"\b(?:omit(?:s|ted)?|missing|lacks?|lacking|without|left\s+out|forgot)\s+"
    r"(?:the\s+|a\s+|an\s+)?(?:required\s+|requested\s+)?"
    r"([#@\w][\w.-]*(?:\s+[#@\w][\w.-]*){0,2})",
    re.IGNORECASE,
)


def _left_out(prompt: str, reason: str) -> list[str]:
    """Terms the failure reason says the run left out that the prompt still asks for."""
    asked = {stem(w) for w in WORD_RE.findall(prompt.lower())}
    found = []
    for match in _LEFT_OUT_RE.finditer(reason):
        for word in WORD_RE.findall(match.group(1).lower()):
            if len(word) > 2 and word not in REQUEST_WORDS and stem(word) in asked:
                found.append(word)
    return sorted(set(found))


def _what_was_wrong(prompt: str, run: RunFacts) -> list[str]:
    """Words of ``prompt`` from the request that the failure reason repeats and the final
    answer never uses: the thing the answer got wrong ("who proposed the Transformer" answered
    with another model's authors). Paired with that answer, such a prompt teaches the mistake."""
    t = run.trajectory
    reason = {stem(w) for w in WORD_RE.findall(t.failure_reason.lower())}
    answer = {stem(w) for w in WORD_RE.findall(t.final_answer.lower())}
    return sorted(
        word
        for word in subject_words(prompt, run)
        if word in reason and word in run.request_stems and word not in answer
    )


def _candidates(run: RunFacts, allowed: Collection[str]) -> Iterator[tuple[str, str]]:
    """(prompt, strategy) pairs in the order they are tried, built only when reached and
    only for the ``allowed`` strategies."""
    t, analysis = run.trajectory, run.analysis
    kind = analysis.failure_type if analysis is not None else None
    reason = _reason(run)
    # A broken format requirement is often typed as a constraint violation, so both types
    # get the restatement; it keeps more of the request than dropping does.
    stopped_early = kind is FailureType.INCOMPLETE
    # A side effect done to the wrong thing ("replied to Marcus Lehmann instead of Marcus
    # Lee") restated is a request to do it there, which nobody wanted: lookups only.
    if (
        ACTUAL_RESULT in allowed
        and kind in (FailureType.WRONG_RESULT, FailureType.CONSTRAINT_VIOLATION, None)
        and not demanded_actions(t.original_prompt)
    ):
        restated = restate_actual(t.original_prompt, reason, run.evidence, t.final_answer)
        if restated:
            restated = sentence(cut_unmet_phrases(restated, reason, stopped_early=stopped_early))
        elif kind is FailureType.WRONG_RESULT:
            # No cut here: the reason names the swapped-in name, which a cut would take out.
            worked_on = f"{run.observed}\n{run.actions}"
            restated = restate_swapped_name(
                t.original_prompt, t.failure_reason, t.final_answer, worked_on
            )
        if restated and has_subject(restated, run):
            yield restated, ACTUAL_RESULT
    # "The cheapest mouse rated 4.5+ under $15": with more than one constraint gone the
    # superlative ranges over other items, and the answer's item is no longer its answer.
    one_superlative = len(run.unmet) < 2 or not _SUPERLATIVE_RE.search(t.original_prompt)
    if (
        DROP_CONSTRAINT in allowed
        and kind in (FailureType.CONSTRAINT_VIOLATION, None)
        and one_superlative
        and not _SUBSTITUTED_RE.search(reason)
    ):
        dropped = (
            drop_constraints(t.original_prompt, run.unmet, t.final_answer) if run.unmet else None
        )
        cut = cut_unmet_phrases(dropped or t.original_prompt, reason)
        if dropped or cut != t.original_prompt:
            dropped = sentence(cut)
        if dropped and has_subject(dropped, run):
            yield dropped, DROP_CONSTRAINT
    if DROP_ACTION in allowed and kind in (
        FailureType.INCOMPLETE,
        FailureType.CONSTRAINT_VIOLATION,
        FailureType.TOOL_ERROR,
        None,
    ):
        kept = without_failed_action(
            t.original_prompt, t.failure_reason, t.final_answer, run.observed
        )
        if kept and has_subject(kept, run):
            yield kept, DROP_ACTION
    if kind in (FailureType.INCOMPLETE, FailureType.TOOL_ERROR, None):
        # Only a detail left out: a violated one ("with a pool") is a constraint to drop.
        kept = (
            without_missing_detail(
                t.original_prompt, t.failure_reason, t.final_answer, run.observed
            )
            if DROP_DETAIL in allowed
            else None
        )
        if kept and has_subject(kept, run):
            yield kept, DROP_DETAIL
        kept = (
            without_missing_entity(t.original_prompt, t.failure_reason, t.final_answer)
            if DROP_ENTITY in allowed
            else None
        )
        if kept and has_subject(kept, run):
            yield kept, DROP_ENTITY
    if TOOL_WORK not in allowed or not english(t.original_prompt):
        return  # the tool-work templates are English; a request must stay in the user's language
    work = tool_work_request(run)
    if work and not has_subject(work, run):
        # Name the subject in the user's words when an observation repeats them; an
        # off-topic run's request is by definition not what it worked on.
        subject = None if kind is FailureType.OFF_TOPIC else subject_phrase(run)
        if subject and not asked_about(subject, run):
            subject = None
        work = tool_work_request(run, subject) if subject else None
    if work and _NATURAL_TOOL_WORK.match(work):
        yield work, TOOL_WORK


def decide_by_rules(
    trajectory: FailedTrajectory,
    outcome: ReplayOutcome | None = None,
    analysis: FailureAnalysis | None = None,
    *,
    min_confidence: float = 0.5,
    fallback_factor: float = 0.8,
    strategies: Collection[str] = DEFAULT_RULE_STRATEGIES,
) -> RelabelDecision:
    """Stage 3 in rule mode. ``attempts`` counts the candidate prompts checked (no LLM calls);
    only ``strategies`` are tried."""
    del outcome  # the rules read the run itself; Stage 2's summary may come from an LLM
    ok_steps = successful_tool_steps(trajectory)
    if not ok_steps:
        return RelabelDecision(
            accepted=False, reason="no tool step succeeded: nothing to relabel", attempts=0
        )
    spoiled = run_problem(trajectory)
    if spoiled:
        return RelabelDecision(accepted=False, reason=spoiled, attempts=0)
    run = RunFacts.of(trajectory, analysis, ok_steps)
    scored: list[_Scored] = []
    for prompt, strategy in _candidates(run, strategies):
        result = _score(prompt, strategy, run)
        scored.append(result)
        if result.confidence >= min_confidence and result.check >= min_confidence:
            return _accept(trajectory, result, len(scored), fallback=False)
    eligible = [
        s
        for s in scored
        if s.check >= min_confidence and s.confidence >= fallback_factor * min_confidence
    ]
    if eligible:
        best = max(eligible, key=lambda s: s.confidence)
        return _accept(trajectory, best, len(scored), fallback=True)
    return RelabelDecision(accepted=False, reason=_rejection(scored), attempts=len(scored))


def _accept(t: FailedTrajectory, s: _Scored, attempts: int, *, fallback: bool) -> RelabelDecision:
    how = "fallback at c ≥ 0.8θ" if fallback else "accepted"
    relabeled = RelabeledData(
        trajectory_id=t.trajectory_id,
        hindsight_prompt=s.prompt,
        is_valid_replay=True,
        rationale=(
            f"rule {s.strategy}: {how}; confidence {s.confidence:.2f}, grounding passed, "
            f"{s.check:.0%} of content words found in the run"
        ),
        confidence=round((s.confidence + s.check) / 2, 4),
        judge_confidence=s.check,
        attempts=attempts,
        mode="rule",
    )
    return RelabelDecision(accepted=True, relabeled=relabeled, reason=how, attempts=attempts)


def _rejection(scored: list[_Scored]) -> str:
    if not scored:
        return "none of the rule strategies fits this run: no hindsight prompt could be built"
    parts = []
    for s in scored:
        why = "; ".join(s.problems) or f"confidence {s.confidence:.2f}, check {s.check:.2f}"
        parts.append(f"{s.strategy}: {why}")
    return "rule relabeling rejected: " + " | ".join(parts)
