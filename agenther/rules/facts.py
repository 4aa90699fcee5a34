"""What the candidates of one run are scored against, computed once per run."""

from __future__ import annotations

from dataclasses import dataclass

from agenther.constraints import Constraint, find_constraints, unmet_constraints
from agenther.evidence import (
    Evidence,
    collect_evidence,
    evidence_texts,
    file_names_in,
)
from agenther.models import AgentStep, FailedTrajectory, FailureAnalysis, FailureType
from agenther.rules.arguments import command_lines
from agenther.rules.figures import figures_of
from agenther.rules.observations import ObservationKind, observation_kind
from agenther.rules.steps import hedges, is_internal_action, tool_name_words
from agenther.rules.unmet import cut_unmet_phrases
from agenther.words import WORD_RE, stem


@dataclass(frozen=True, slots=True)
class RunFacts:
    """Everything about the run the candidates are scored against, computed once."""

    trajectory: FailedTrajectory
    analysis: FailureAnalysis | None
    evidence: Evidence
    unmet: list[Constraint]
    ok_steps: list[AgentStep]
    facts: float  # share of tool steps that answered; halved if none showed content
    hedged: bool  # observations or final answer hedge ("may not reflect", "outdated")
    done: str  # lower-cased observations, final answer and successful actions
    record: str  # ``done`` plus the original request without its unmet constraints
    request: str  # the original request without its unmet constraints, as written
    observed: str  # lower-cased usable observations only
    tool_words: frozenset[str]  # words of every tool name the run used
    commands: tuple[str, ...]  # command lines the successful steps ran
    observed_figures: frozenset[str]  # digit runs of every observation
    off_topic: bool  # Stage 1 says the run worked on something other than the request
    wrong_result: bool  # Stage 1 says the answer is wrong
    request_lower: str  # ``request``, lower-cased
    request_stems: frozenset[str]  # stems of the request's words
    observations: Evidence  # the observations alone: what tool arguments may name
    answer_limits: tuple[str, ...]  # unmet constraints the final answer states a limit of

    @classmethod
    def of(
        cls, t: FailedTrajectory, analysis: FailureAnalysis | None, ok_steps: list[AgentStep]
    ) -> RunFacts:
        # A file a successful call read or wrote exists: the request may name it ("plot the
        # revenue in sales_2024.csv") though no observation prints its name.
        files = file_names_in(v for s in ok_steps for v in s.action_input.values())
        evidence = Evidence.of_texts(
            [*evidence_texts(t), " ".join(files)] if files else evidence_texts(t)
        )
        unmet = unmet_constraints(t, analysis)
        tool_steps = sum(1 for s in t.steps if not is_internal_action(s.action_name))
        facts = len(ok_steps) / tool_steps if tool_steps else 0.0
        if not any(observation_kind(s.observation) is ObservationKind.CONTENT for s in ok_steps):
            facts *= 0.5
        original = t.original_prompt
        for constraint in sorted(unmet, key=lambda c: c.start, reverse=True):
            original = original[: constraint.start] + original[constraint.end :]
        reason = t.failure_reason
        if analysis is not None and analysis.explanation:
            reason = f"{reason}. {analysis.explanation}"
        original = cut_unmet_phrases(
            original,
            reason,
            stopped_early=analysis is not None and analysis.failure_type is FailureType.INCOMPLETE,
        )
        actions = " ".join(
            f"{s.action_name} {' '.join(str(v) for v in s.action_input.values())}" for s in ok_steps
        )
        return cls(
            trajectory=t,
            analysis=analysis,
            evidence=evidence,
            unmet=unmet,
            ok_steps=ok_steps,
            facts=facts,
            # Errors hedge nothing, so the whole (lower-cased) evidence text can be searched.
            hedged=hedges(evidence.text),
            done=f"{evidence.text}\n{actions.lower()}",
            record=f"{evidence.text}\n{actions.lower()}\n{original.lower()}",
            request=original,
            observed="\n".join(s.observation for s in ok_steps).lower(),
            tool_words=tool_name_words(t.steps),
            commands=tuple(command_lines(ok_steps)),
            observed_figures=figures_of(s.observation for s in t.steps),
            off_topic=analysis is not None and analysis.failure_type is FailureType.OFF_TOPIC,
            wrong_result=analysis is not None and analysis.failure_type is FailureType.WRONG_RESULT,
            request_lower=original.lower(),
            request_stems=frozenset(stem(w) for w in WORD_RE.findall(original.lower())),
            observations=collect_evidence(t.model_copy(update={"final_answer": ""})),
            answer_limits=_answer_limits(t.final_answer, unmet),
        )


def _answer_limits(answer: str, unmet: list[Constraint]) -> tuple[str, ...]:
    """The unmet constraints whose value the final answer puts a limit on ("no pharmacy
    within 2 km is open"): such an answer is about the requirement, whatever the request."""
    if not unmet:
        return ()
    stated = {value for c in find_constraints(answer) for value in c.values}
    return tuple(c.text for c in unmet if c.values & stated)
