"""TRL implicit preference pairs: same run, hindsight goal chosen, original goal rejected."""

from __future__ import annotations

from agenther.data_augmenter import DataAugmenter
from agenther.formats import dpo
from agenther.models import OutputFormat
from tests.support.format_checks import check_dpo
from tests.support.trajectories import ANALYSIS, reference_trajectories, relabeled_for


def test_the_pair_differs_only_in_the_goal() -> None:
    run = reference_trajectories()[0]
    sample = DataAugmenter("fp").to_dpo(run, relabeled_for(run), 0.6, ANALYSIS)
    check_dpo(sample.record)
    chosen, rejected = sample.record["chosen"], sample.record["rejected"]
    assert chosen[0] == rejected[0] == {"role": "system", "content": dpo.SYSTEM_PROMPT}
    assert chosen[1] == {"role": "user", "content": "Compare the options found"}
    assert rejected[1] == {"role": "user", "content": run.original_prompt}
    assert chosen[2:] == rejected[2:]
    assert len(chosen) == 2 + 2 * len(run.steps) + 1
    assert sample.format is OutputFormat.DPO
    assert (sample.chosen, sample.rejected) == (chosen[1:], rejected[1:])


def test_the_pair_is_weighted_by_w_not_by_severity() -> None:
    run = reference_trajectories()[0]
    sample = DataAugmenter().to_dpo(run, relabeled_for(run), 0.6, ANALYSIS)
    assert sample.weight == 0.6
    assert sample.record["agenther"]["weight"] == 0.6
    assert sample.record["agenther"]["severity"] == ANALYSIS.severity
