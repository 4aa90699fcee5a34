"""The rule relabeler tries only the strategies it is given (``rule_strategies``)."""

from __future__ import annotations

import asyncio
import typing

from agenther import AgentHERPipeline, PipelineConfig
from agenther.config import DEFAULT_RULE_STRATEGIES, RULE_STRATEGIES, RuleStrategy
from agenther.flags import PIPELINE_FLAGS
from agenther.models import (
    AgentStep,
    FailedTrajectory,
    FailureAnalysis,
    FailureType,
    ReplayOutcome,
)
from agenther.prompt_relabeler import PromptRelabeler
from agenther.rules import decide
from agenther.rules.decide import decide_by_rules

INCOMPLETE = FailureAnalysis(is_failure=True, failure_type=FailureType.INCOMPLETE)

# Only a search was done: the request for that search is tool work, the one strategy here.
SEARCHED = FailedTrajectory(
    trajectory_id="searched",
    original_prompt="Book a table for two at an Italian restaurant in Boston tonight.",
    steps=[
        AgentStep(
            action_name="restaurant_search",
            action_input={"cuisine": "Italian", "location": "Boston"},
            observation="Found: Giacomo's (4.6), Carmelina's (4.5), Mamma Maria (4.4) in Boston",
        )
    ],
    final_answer="The agent only searched restaurants; no booking was made.",
    failure_reason="No booking was made.",
)


def test_tool_work_is_left_out_unless_asked_for() -> None:
    assert not decide_by_rules(SEARCHED, None, INCOMPLETE).accepted
    assert (
        not AgentHERPipeline(PipelineConfig(rule_based=True)).relabel_rule_based(SEARCHED).success
    )
    assert set(DEFAULT_RULE_STRATEGIES) == set(RULE_STRATEGIES) - {"tool_work"}


def test_the_strategy_names_are_the_ones_the_rules_try() -> None:
    tried = {
        decide.ACTUAL_RESULT,
        decide.DROP_CONSTRAINT,
        decide.DROP_ACTION,
        decide.DROP_DETAIL,
        decide.DROP_ENTITY,
        decide.TOOL_WORK,
    }
    assert set(typing.get_args(RuleStrategy)) == set(RULE_STRATEGIES) == tried


def test_a_strategy_left_out_is_not_tried() -> None:
    every = decide_by_rules(SEARCHED, None, INCOMPLETE, strategies=RULE_STRATEGIES)
    assert every.accepted and every.relabeled is not None
    assert every.relabeled.rationale.startswith("rule tool_work")
    without = decide_by_rules(
        SEARCHED, None, INCOMPLETE, strategies=[s for s in RULE_STRATEGIES if s != "tool_work"]
    )
    assert not without.accepted
    assert without.attempts == 0


def test_the_pipeline_passes_its_strategies_to_the_rules() -> None:
    every = AgentHERPipeline(PipelineConfig(rule_based=True, rule_strategies=RULE_STRATEGIES))
    drop_only = AgentHERPipeline(PipelineConfig(rule_based=True, rule_strategies=("drop_action",)))
    assert every.relabel_rule_based(SEARCHED).success
    assert not drop_only.relabel_rule_based(SEARCHED).success
    # Stage 3 on its own, as the pipeline's async path calls it.
    relabeler = PromptRelabeler(rule_strategies=("drop_action",))
    outcome = ReplayOutcome(actual_achievements=["three restaurants"], limitations="no booking")
    decision = asyncio.run(relabeler.adecide(SEARCHED, outcome, INCOMPLETE, use_llm=False))
    assert not decision.accepted
    every_rule = PromptRelabeler(rule_strategies=RULE_STRATEGIES)
    assert asyncio.run(every_rule.adecide(SEARCHED, outcome, INCOMPLETE, use_llm=False)).accepted


def test_the_flag_and_the_fingerprint() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    PIPELINE_FLAGS.add_to(parser)
    args = parser.parse_args(["--rule-strategies", "drop_action", "drop_constraint"])
    overrides = PIPELINE_FLAGS.overrides(args)
    config = PipelineConfig(rule_based=True, **overrides)
    assert config.rule_strategies == ("drop_action", "drop_constraint")
    default = PipelineConfig(rule_based=True)
    assert config.fingerprint() != default.fingerprint()
    # The same set in another order says the same examples.
    same = PipelineConfig(rule_based=True, rule_strategies=tuple(reversed(default.rule_strategies)))
    assert same.fingerprint() == default.fingerprint()
