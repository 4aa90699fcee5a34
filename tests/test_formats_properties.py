"""Any valid run yields records that pass every format's checks."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agenther.data_augmenter import DataAugmenter
from agenther.models import FailedTrajectory, OutputFormat
from tests.support.format_checks import CHECKS
from tests.support.trajectories import ANALYSIS, relabeled_for, trajectories

AUGMENTER = DataAugmenter("fingerprint")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(run=trajectories(), prompt=st.text(min_size=1, max_size=60))
def test_every_format_accepts_any_valid_run(run: FailedTrajectory, prompt: str) -> None:
    relabeled = relabeled_for(run, prompt)
    for fmt in OutputFormat:
        sample = AUGMENTER.augment(run, relabeled, fmt, 0.5, ANALYSIS)
        CHECKS[fmt.value](sample.record)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(run=trajectories())
def test_observation_cap_is_the_same_in_every_format(run: FailedTrajectory) -> None:
    relabeled = relabeled_for(run)
    sft = AUGMENTER.to_sft(run, relabeled).record["messages"]
    tool_contents = [m["content"] for m in sft if m["role"] == "tool"]
    openai = AUGMENTER.to_openai(run, relabeled).record["messages"]
    assert tool_contents == [m["content"] for m in openai if m["role"] == "tool"]
    sharegpt = AUGMENTER.to_sharegpt(run, relabeled).record["conversations"]
    assert tool_contents == [t["value"] for t in sharegpt if t["from"] == "observation"]
    assert all(len(content) <= 8000 * 4 for content in tool_contents)
