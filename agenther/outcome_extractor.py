"""Stage 2: what a run really achieved, whatever it was asked to do.

Rule mode follows the paper: each observation with usable content (not an error, an empty
result, a bare acknowledgement or the model's own text relayed by a tool) is one achievement,
cut to about 200 characters on a word boundary; numbers and entities come from
``agenther.quantities`` and ``agenther.evidence`` over those observations only. The goal is
ignored; limitations come from the failure reason, else from the final answer's own admissions.

LLM mode asks for strictly factual statements about the observations (the goal is not shown,
so it cannot colour them) and keeps only the numbers and entities the run's evidence contains.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, PrivateAttr

from agenther.evidence import collect_evidence, extract_entities
from agenther.models import FailedTrajectory, ReplayOutcome
from agenther.quantities import extract_quantities
from agenther.reply_bounds import few, short_text
from agenther.rules.observations import ObservationKind, observation_kind
from agenther.run_text import INJECTION_NOTICE, fit_context, render_trajectory

if TYPE_CHECKING:
    from agenther.llm_client import LLMClient

ACHIEVEMENT_CHARS = 200
_DEFAULT_LIMITATION = "The original request was not fully met."
_ADMISSION_RE = re.compile(
    r"[^.!?\n]*\b(?:unable|cannot|can't|could\s+not|couldn't|did\s+not|didn't|failed|"
    r"not\s+(?:able|possible|found|available)|no\s+\w+\s+(?:found|met|meets|meeting))\b[^.!?\n]*",
    re.IGNORECASE,
)


def cut_on_word(text: str, limit: int = ACHIEVEMENT_CHARS) -> str:
    """``text`` on one line, at most ``limit`` characters, cut at a word boundary with "…"."""
    # Flattening any prefix of the text gives a prefix of the flattened whole, so a long
    # observation is only flattened as far as the cut needs.
    flat = " ".join(text[: 4 * limit].split())
    if len(flat) <= limit:
        flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    room = flat[: limit - 1]
    cut = room.rfind(" ")
    if cut >= limit // 2:
        room = room[:cut]
    return room.rstrip(" ,;:-") + "…"


def _limitations(t: FailedTrajectory) -> str:
    if t.failure_reason.strip():
        return t.failure_reason.strip()
    admissions = [m.group(0).strip() for m in _ADMISSION_RE.finditer(t.final_answer)]
    if admissions:
        return cut_on_word(". ".join(admissions), 2 * ACHIEVEMENT_CHARS)
    return _DEFAULT_LIMITATION


def extract_rules(t: FailedTrajectory) -> ReplayOutcome:
    achievements: list[str] = []
    key_observations: list[str] = []
    observed: list[str] = []
    for step in t.steps:
        if observation_kind(step.observation) is not ObservationKind.CONTENT:
            continue
        summary = cut_on_word(step.observation)
        if summary in achievements:
            continue
        achievements.append(summary)
        key_observations.append(f"{step.action_name}: {summary}")
        observed.append(step.observation)
    return _RuleOutcome.of(achievements, key_observations, _limitations(t), observed)


def _observed_entities(observed: Sequence[str]) -> list[str]:
    return _unique(name for observation in observed for name in extract_entities(observation))


def _observed_numbers(observed: Sequence[str]) -> list[str]:
    return _unique(q.raw for observation in observed for q in extract_quantities(observation))


# Reading any of these needs the entities and numbers in place; "__dict__" is how pydantic
# (dump, copy, pickle, equality) and vars() reach the fields.
_SCANNED_ON_READ = frozenset({"__dict__", "entities", "numbers"})
_OUTCOME_FIELDS = frozenset(ReplayOutcome.model_fields)


class _RuleOutcome(ReplayOutcome):
    """A rule-mode outcome that scans its observations for entities and numbers when either
    is first read, with the values an eager scan gives. No stage reads them in rule mode, and
    the scans are a large share of a rule run's cost.

    Until then the two fields are missing from ``__dict__`` and the observations wait in the
    private ``_observed``; any read of a field or of ``__dict__`` fills them in first.
    """

    _observed: tuple[str, ...] | None = PrivateAttr(default=None)

    @classmethod
    def of(
        cls,
        achievements: list[str],
        key_observations: list[str],
        limitations: str,
        observed: Sequence[str],
    ) -> _RuleOutcome:
        # Built from values that are already lists of str and a str: nothing to validate.
        outcome = cls.model_construct(
            _fields_set=set(_OUTCOME_FIELDS),
            actual_achievements=achievements,
            key_observations=key_observations,
            limitations=limitations,
            # Given, not defaulted: model_construct would inspect the signature of their
            # default_factory on every call (a quarter of the rule pipeline's time).
            entities=[],
            numbers=[],
        )
        fields = object.__getattribute__(outcome, "__dict__")
        del fields["entities"], fields["numbers"]
        object.__getattribute__(outcome, "__pydantic_private__")["_observed"] = tuple(observed)
        return outcome

    def __getattribute__(self, name: str) -> Any:
        if name in _SCANNED_ON_READ:
            private = object.__getattribute__(self, "__pydantic_private__")
            observed = private.get("_observed") if private else None
            if observed is not None:
                fields = object.__getattribute__(self, "__dict__")
                fields["entities"] = _observed_entities(observed)
                fields["numbers"] = _observed_numbers(observed)
                private["_observed"] = None
        return super().__getattribute__(name)

    def __eq__(self, other: object) -> bool:
        # Equal to a ReplayOutcome with the same values, as an eager outcome would be.
        if type(other) not in (ReplayOutcome, _RuleOutcome):
            return NotImplemented
        assert isinstance(other, ReplayOutcome)
        return bool(
            self.__dict__ == other.__dict__ and self.__pydantic_extra__ == other.__pydantic_extra__
        )

    __hash__ = None  # type: ignore[assignment]  # as ReplayOutcome: a mutable model

    def __repr_name__(self) -> str:
        return ReplayOutcome.__name__


class OutcomeReport(BaseModel):
    """The LLM's reply: facts only, no ids it was never given."""

    actual_achievements: few(6, 160) = Field(  # type: ignore[valid-type]
        description="Facts the observations establish, one short sentence each"
    )
    key_observations: few(4, 160) = Field(  # type: ignore[valid-type]
        default_factory=list, description="The most informative tool results, quoted briefly"
    )
    limitations: short_text(240) = Field(  # type: ignore[valid-type]
        description="What the run did not establish or finish"
    )
    entities: few(10, 60) = Field(  # type: ignore[valid-type]
        default_factory=list, description="Named things observed"
    )
    numbers: few(10, 30) = Field(  # type: ignore[valid-type]
        default_factory=list, description="Quantities observed"
    )


# What counts as established and what each OutcomeReport field holds; the joint Stage 1+2
# prompt reuses both.
EVIDENCE_RULES = (
    "Errors and timeouts established nothing. A final answer is the agent's claim, not a\n"
    "fact, unless an observation backs it."
)
OUTCOME_GUIDE = """- actual_achievements: one short factual sentence per thing established
- key_observations: the most informative tool results, briefly
- limitations: what the run did not establish or finish
- entities / numbers: names and quantities exactly as the observations write them"""

_SYSTEM_PROMPT = f"""You report what an AI agent's run actually established, as facts.

Use only what the tool observations show. Do not guess the user's intent, do not judge
success, do not add knowledge of your own, and leave out anything an observation does not
state. {EVIDENCE_RULES}
{OUTCOME_GUIDE}
Reply with JSON matching the schema.

{INJECTION_NOTICE}"""


class OutcomeExtractor:
    """Stage 2. ``aextract`` is the async entry point; ``extract`` the reference's sync API."""

    def __init__(self, llm_client: LLMClient | None = None, *, token_budget: int = 1500) -> None:
        self._llm = llm_client
        self._token_budget = token_budget

    async def aextract(self, trajectory: FailedTrajectory, use_llm: bool = False) -> ReplayOutcome:
        if use_llm:
            return await self._extract_llm(trajectory)
        return extract_rules(trajectory)

    def extract(self, trajectory: FailedTrajectory, use_llm: bool = False) -> ReplayOutcome:
        if use_llm:
            self._client()
            return asyncio.run(self._extract_llm(trajectory))
        return extract_rules(trajectory)

    def extract_rule_based(self, trajectory: FailedTrajectory) -> ReplayOutcome:
        return extract_rules(trajectory)

    def _client(self) -> LLMClient:
        if self._llm is None:
            raise ValueError("use_llm=True needs an llm_client; pass one to OutcomeExtractor")
        return self._llm

    async def _extract_llm(self, trajectory: FailedTrajectory) -> ReplayOutcome:
        llm = self._client()

        async def ask(budget: int) -> OutcomeReport:
            user_prompt = "Report what this agent run established.\n\n" + render_trajectory(
                trajectory, budget, include_goal=False
            )
            return await llm.acall_structured(
                _SYSTEM_PROMPT, user_prompt, OutcomeReport, temperature=0.0
            )

        return outcome_from_report(await fit_context(ask, self._token_budget), trajectory)


def outcome_from_report(reply: OutcomeReport, trajectory: FailedTrajectory) -> ReplayOutcome:
    """The LLM's report as a Stage 2 result, keeping only the numbers and entities the run's
    evidence contains."""
    evidence = collect_evidence(trajectory)
    return ReplayOutcome(
        actual_achievements=[a.strip() for a in reply.actual_achievements if a.strip()],
        key_observations=[k.strip() for k in reply.key_observations if k.strip()],
        limitations=reply.limitations.strip() or _limitations(trajectory),
        entities=_unique(e for e in reply.entities if evidence.has_entity(e)),
        numbers=_unique(n for n in reply.numbers if evidence.has_number(n)),
    )


def _unique(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        key = item.strip().lower()
        if key and key not in seen:
            seen.add(key)
            out.append(item.strip())
    return out


__all__ = [
    "EVIDENCE_RULES",
    "OUTCOME_GUIDE",
    "OutcomeExtractor",
    "OutcomeReport",
    "cut_on_word",
    "extract_rules",
    "outcome_from_report",
]
