"""Trajectories for format tests: the reference examples and a hypothesis strategy for any
valid run (unicode, empty and huge observations, nested inputs, declared tools or none)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from agenther.models import AgentStep, FailedTrajectory, FailureAnalysis, FailureType, RelabeledData

REFERENCE_FILE = (
    Path(__file__).resolve().parents[2] / "data" / "reference_example_trajectories.json"
)


def reference_trajectories() -> list[FailedTrajectory]:
    raw = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))
    return [FailedTrajectory.model_validate(item) for item in raw]


# traj_001's own answer admits the missed constraints ("I was unable to find a copper wire
# supplier meeting both criteria"): no relabeled request may be paired with it (docs/quality.md),
# so tests of the relabeling machinery use the run answering with the suppliers it found.
SUPPLIERS_ANSWER = (
    "Copper wire suppliers: MetalWorks Inc $6.20/kg (MOQ 50kg), WireWorld $5.80/kg (MOQ 200kg), "
    "CopperDirect $4.90/kg (MOQ 500kg), AlloySupply $7.10/kg (MOQ 25kg), BulkMetals $5.50/kg "
    "(MOQ 100kg), MicroMetals $5.30/kg (MOQ 10kg), LocalWire Co $6.50/kg (MOQ 20kg)."
)


def answered_reference_trajectories() -> list[FailedTrajectory]:
    """The reference runs, traj_001 answering with what it found instead of its failure."""
    first, *rest = reference_trajectories()
    return [first.model_copy(update={"final_answer": SUPPLIERS_ANSWER}), *rest]


def write_answered_reference(directory: Path) -> Path:
    path = directory / "answered_reference.json"
    runs = [t.model_dump(mode="json") for t in answered_reference_trajectories()]
    path.write_text(json.dumps(runs), encoding="utf-8")
    return path


def relabeled_for(
    trajectory: FailedTrajectory, prompt: str = "Compare the options found"
) -> RelabeledData:
    return RelabeledData(
        trajectory_id=trajectory.trajectory_id,
        hindsight_prompt=prompt,
        is_valid_replay=True,
        rationale="the observations show it",
        confidence=0.9,
        judge_confidence=0.8,
        attempts=1,
        mode="rule",
    )


ANALYSIS = FailureAnalysis(
    is_failure=True,
    failure_type=FailureType.CONSTRAINT_VIOLATION,
    severity=0.4,
    weight=0.7,
    explanation="price above the limit",
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)

observations = st.one_of(
    st.just(""),
    st.text(max_size=200),
    # Huge: far above the default cap, with and without word boundaries.
    st.integers(min_value=40_000, max_value=120_000).map(lambda n: "word " * (n // 5)),
    st.integers(min_value=40_000, max_value=60_000).map(lambda n: "é" * n),
)


@st.composite
def steps(draw: Any) -> AgentStep:
    return AgentStep(
        thought=draw(st.text(max_size=80)),
        action_name=draw(
            st.sampled_from(["search", "web.search", "代码 执行", " ", "x" * 80])
            | st.text(min_size=1, max_size=20)
        ),
        action_input=draw(st.dictionaries(st.text(max_size=12), json_values, max_size=5)),
        observation=draw(observations),
    )


@st.composite
def trajectories(draw: Any) -> FailedTrajectory:
    run_steps = draw(st.lists(steps(), min_size=1, max_size=6))
    declared = draw(
        st.none()
        | st.just(
            [
                {
                    "type": "function",
                    "function": {
                        "name": run_steps[0].action_name,
                        "description": "d",
                        "parameters": {"type": "object", "properties": {}},
                    },
                }
            ]
        )
        | st.just([{"name": "unused_tool", "parameters": {"type": "object", "properties": {}}}])
    )
    return FailedTrajectory(
        trajectory_id=draw(st.text(min_size=1, max_size=16)),
        original_prompt=draw(st.text(min_size=1, max_size=100)),
        steps=run_steps,
        final_answer=draw(st.just("") | st.text(max_size=100)),
        failure_reason=draw(st.text(max_size=40)),
        tools=declared,
    )
