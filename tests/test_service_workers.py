"""Rule-mode worker processes (``--workers``): the same results and records as in-process."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pickle
from typing import Any

import pytest

from agenther.config import PipelineConfig
from agenther.errors import StageError
from agenther.models import FailedTrajectory
from agenther.pipeline import AgentHERPipeline, PipelineResult
from bench.generate import generate
from streams.processor import Outcome
from streams.sample_runs import FAILED_RUNS
from streams.workers import RulePool, _portable
from tests.support.kafka_fixtures import collect, headers_of, produce, wait_for

RULES = PipelineConfig(rule_based=True)


def _comparable(outcome: PipelineResult | StageError) -> Any:
    if isinstance(outcome, StageError):
        return ("error", outcome.stage, type(outcome.cause).__name__, str(outcome.cause))
    # The pool leaves out Stage 2's outcome and Stage 3's decision, which the service never
    # reads: everything it publishes must match.
    return dataclasses.asdict(dataclasses.replace(outcome, outcome=None, decision=None))


async def _in_process(trajectories: list[FailedTrajectory]) -> list[Any]:
    pipeline = AgentHERPipeline(RULES)
    outcomes: list[Any] = []
    for trajectory in trajectories:
        try:
            outcomes.append(_comparable(await pipeline.arelabel(trajectory)))
        except StageError as exc:
            outcomes.append(_comparable(exc))
    return outcomes


async def _pooled(pool: RulePool, trajectory: FailedTrajectory) -> Any:
    try:
        return _comparable(await pool.relabel(trajectory))
    except StageError as exc:
        return _comparable(exc)


async def test_pool_gives_the_in_process_results_in_any_interleaving() -> None:
    trajectories = [FailedTrajectory.model_validate(run) for run in generate(120, seed=5)]
    expected = await _in_process(trajectories)
    pool = RulePool(RULES, workers=2)
    try:
        await pool.start()
        # All at once (chunked over both workers), then one at a time.
        together = await asyncio.gather(*(_pooled(pool, t) for t in trajectories))
        alone = [await _pooled(pool, t) for t in trajectories[:10]]
    finally:
        pool.close()
    assert together == expected
    assert alone == expected[:10]
    assert any(o["success"] for o in expected if isinstance(o, dict))
    assert any(isinstance(o, dict) and not o["success"] for o in expected)


def test_pool_refuses_llm_pipelines_and_zero_workers() -> None:
    with pytest.raises(ValueError, match="rule-based"):
        RulePool(PipelineConfig(), workers=1)
    with pytest.raises(ValueError, match="at least one"):
        RulePool(RULES, workers=0)


class _Unpicklable(Exception):
    def __init__(self, code: int, detail: str) -> None:  # args do not match: unpickling fails
        super().__init__(f"{code}: {detail}")


def test_a_stage_cause_that_cannot_cross_processes_keeps_its_class_name_and_text() -> None:
    cause = _portable(_Unpicklable(7, "broken"))
    assert isinstance(cause, RuntimeError)
    assert str(cause) == "_Unpicklable: 7: broken"
    pickle.loads(pickle.dumps(cause))
    plain = ValueError("fine")
    assert _portable(plain) is plain


@pytest.mark.kafka
async def test_service_with_workers_writes_the_same_records_as_in_process(
    kafka_bootstrap: str, service_topics: Any, running_services: Any
) -> None:
    runs = [dict(run, run_id=f"{run['run_id']}-w{i}") for i in range(4) for run in FAILED_RUNS]
    written: list[dict[tuple[str, str], tuple[bytes, dict[str, str]]]] = []
    for workers in (0, 2):
        topics = await service_topics(partitions=2)
        await produce(kafka_bootstrap, topics.input, runs)
        service = await running_services(topics.settings(kafka_bootstrap, workers=workers))
        assert await wait_for(lambda s=service: sum(s.counts.values()) == len(runs), 60)
        assert service.counts[Outcome.DEAD_LETTER] == 0
        records = await collect(kafka_bootstrap, [topics.output, topics.rejects], until=len(runs))
        kinds = {topics.output: "example", topics.rejects: "rejection"}
        written.append(
            {(kinds[r.topic], r.key.decode()): (r.value, headers_of(r)) for r in records}
        )
        service.stop()
    in_process, pooled = written
    assert len(in_process) == len(runs)
    assert pooled.keys() == in_process.keys()
    for key, (value, headers) in in_process.items():
        # created_at differs between the runs; everything else must match.
        assert _without_time(pooled[key][0]) == _without_time(value), key
        assert pooled[key][1] == headers, key


def _without_time(value: bytes) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(value)
    body.pop("created_at", None)
    return body
