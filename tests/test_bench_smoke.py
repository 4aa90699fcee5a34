"""The benchmark inputs load and are well-formed (the benchmarks themselves do not run in CI)."""

from __future__ import annotations

from collections import Counter

from agenther.models import FailedTrajectory, FailureType
from bench.eval_quality import grounding_problems, load_eval_set, numbers_in, phrase_in, split
from bench.generate import FAILURE_TYPES, generate


def test_generator_is_seeded_varied_and_valid() -> None:
    runs = generate(120, seed=3)
    assert runs == generate(120, seed=3)
    assert generate(30, seed=3) == runs[:30]
    assert generate(30, seed=4) != runs[:30]
    assert {r["metadata"]["generated_type"] for r in runs} == set(FAILURE_TYPES)
    assert set(FAILURE_TYPES) == {t.value for t in FailureType}
    assert len({r["metadata"]["domain"] for r in runs}) >= 8
    assert len({r["original_prompt"] for r in runs}) > 100
    for raw in runs:
        run = FailedTrajectory.model_validate(raw)
        assert 1 <= len(run.steps) <= 12
    sizes = [len(s["observation"]) for r in runs for s in r["steps"]]
    assert max(sizes) > 1000 and min(sizes) < 100


def test_eval_set_is_labelled_across_all_types() -> None:
    records = load_eval_set()
    assert len(records) >= 60
    assert len({r["trajectory_id"] for r in records}) == len(records)
    labels = [split(r)[1] for r in records]
    assert set(Counter(lab["type"] for lab in labels)) == set(FAILURE_TYPES)
    for lab in labels:
        assert set(lab) == {"type", "recoverable", "should_accept", "forbidden_phrases", "topics"}
        assert isinstance(lab["recoverable"], bool) and isinstance(lab["should_accept"], bool)
        assert not lab["should_accept"] or lab["recoverable"]
        assert all(isinstance(p, str) and p for p in lab["forbidden_phrases"])
        assert all(isinstance(t, str) and t for t in lab["topics"])
    unrecoverable = sum(not lab["recoverable"] for lab in labels) / len(labels)
    assert 0.2 <= unrecoverable <= 0.35
    assert len({r["metadata"]["domain"] for r in records}) >= 8


def test_grounding_check_flags_forbidden_phrases_numbers_and_missing_topics() -> None:
    run, labels = split(next(r for r in load_eval_set() if r["trajectory_id"] == "eval-cv-10"))
    assert grounding_problems("Compare shipping quotes from Hamburg to Chicago.", run, labels) == []
    problems = grounding_problems("Ship it for at most $300 within 2 days.", run, labels)
    assert any("forbidden" in p for p in problems)
    assert any("number 2 " in p for p in problems)
    assert any("mentions none" in p for p in problems)
    assert phrase_in("flight", "Find flights to Oslo") and not phrase_in("PO", "a post")
    assert numbers_in("1,200 units at 4.50, ref 18:33.") == {"1200", "4.50", "18:33"}
