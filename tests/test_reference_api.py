"""The reference's public API (alphadl/AgentHER) keeps working, so its users switch unedited.

Deliberate differences, documented in docs/library.md: ``save_samples`` writes the trainer lines
(``sample.record``) rather than a dump of ``AugmentedSample``; ``to_sft`` keeps the run's
steps as separate tool-call turns instead of one flattened assistant message.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import agenther
from agenther.data_augmenter import DataAugmenter
from agenther.models import OutputFormat
from tests.support.fake_openai import FakeOpenAI
from tests.support.trajectories import REFERENCE_FILE, reference_trajectories, relabeled_for

ROOT = Path(__file__).resolve().parents[1]

# The README of the reference, "Python API" section, verbatim.
README_SNIPPET = """
from agenther import AgentHERPipeline, PipelineConfig
from agenther.models import FailedTrajectory, AgentStep, OutputFormat

# Define a failed trajectory
trajectory = FailedTrajectory(
    original_prompt="Find flights to Tokyo under $500",
    steps=[
        AgentStep(
            thought="Searching for flights",
            action_name="flight_search",
            action_input={"destination": "Tokyo", "max_price": 500},
            observation="Found: ANA $680, JAL $720, United $590",
        ),
    ],
    final_answer="No flights under $500 found.",
    failure_reason="All flights exceed $500 budget",
)

# Run the pipeline
config = PipelineConfig(model="gpt-4o", output_format=OutputFormat.SFT)
pipeline = AgentHERPipeline(config)
result = pipeline.process(trajectory)

if result.success:
    print(f"Hindsight prompt: {result.relabeled.hindsight_prompt}")
"""

# The reference's examples/run_example.py step-by-step part, with print for rich's console.
STEP_BY_STEP = """
import json
from agenther.data_augmenter import DataAugmenter
from agenther.failure_detector import FailureDetector
from agenther.models import FailedTrajectory, OutputFormat
from agenther.outcome_extractor import OutcomeExtractor
from agenther.pipeline import AgentHERPipeline, PipelineConfig

with open(EXAMPLE_FILE, encoding="utf-8") as f:
    raw = json.load(f)
trajectories = [FailedTrajectory.model_validate(t) for t in raw]
trajectory = trajectories[0]
detector = FailureDetector()
analysis = detector.detect(trajectory, use_llm=False)
print(f"  Is failure: {analysis.is_failure}")
print(f"  Type: {analysis.failure_type}")
print(f"  Severity: {analysis.severity:.2f}")
print(f"  Recoverable: {analysis.recoverable}")
extractor = OutcomeExtractor()
outcome = extractor.extract(trajectory, use_llm=False)
for a in outcome.actual_achievements:
    print(f"    * {a}")
print(f"  Limitations: {outcome.limitations}")
config = PipelineConfig(use_llm_detector=False, use_llm_extractor=True)
pipeline = AgentHERPipeline(config)
results, saved = pipeline.run_and_save(trajectories, OUTPUT)
for r in results:
    print(f"  [{'ok' if r.success else 'x'}] {r.trajectory_id}: {r.stage_reached}")
print("saved", saved)
"""


def _run_script(code: str, fake: FakeOpenAI) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake.base_url}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )


def test_top_level_names() -> None:
    for name in [
        "AgentHERPipeline",
        "PipelineConfig",
        "PipelineResult",
        "AgentStep",
        "FailedTrajectory",
        "FailureAnalysis",
        "FailureType",
        "OutputFormat",
        "ReplayOutcome",
        "RelabeledData",
        "SecondJudgeVerdict",
        "AugmentedSample",
    ]:
        assert hasattr(agenther, name), name


def test_stage_modules_and_methods() -> None:
    from agenther.failure_detector import FailureDetector
    from agenther.llm_client import LLMClient
    from agenther.outcome_extractor import OutcomeExtractor
    from agenther.prompt_relabeler import PromptRelabeler

    assert callable(FailureDetector().detect) and callable(FailureDetector().batch_detect)
    assert callable(OutcomeExtractor().extract)
    assert hasattr(PromptRelabeler, "relabel") and hasattr(
        PromptRelabeler, "relabel_with_validation"
    )
    assert LLMClient is not None
    for method in ("to_sft", "to_dpo", "to_sharegpt", "augment", "save_samples"):
        assert callable(getattr(DataAugmenter, method))


def test_the_reference_augmenter_tests_that_still_hold() -> None:
    run = reference_trajectories()[0]
    relabeled = relabeled_for(run)
    augmenter = DataAugmenter()
    sft = augmenter.to_sft(run, relabeled)
    assert sft.format == OutputFormat.SFT
    assert sft.chosen[0] == {"role": "user", "content": relabeled.hindsight_prompt}
    assert sft.chosen[-1]["role"] == "assistant"
    assert sft.rejected == []
    assert sft.metadata["original_prompt"] == run.original_prompt
    dpo = augmenter.to_dpo(run, relabeled)
    assert dpo.chosen[0]["content"] == relabeled.hindsight_prompt
    assert dpo.rejected[0]["content"] == run.original_prompt
    sharegpt = augmenter.to_sharegpt(run, relabeled)
    assert sharegpt.chosen[0]["role"] == "user" and len(sharegpt.chosen) > 2
    for fmt in OutputFormat:
        assert augmenter.augment(run, relabeled, fmt).format == fmt


def test_the_reference_readme_snippet_runs_unchanged() -> None:
    with FakeOpenAI() as fake:
        done = _run_script(README_SNIPPET, fake)
        assert done.returncode == 0, done.stderr
        assert fake.requests, "the snippet should have called the (fake) endpoint"


def test_the_reference_step_by_step_demo_runs(tmp_path: Path) -> None:
    prelude = f"EXAMPLE_FILE = {str(REFERENCE_FILE)!r}\nOUTPUT = {str(tmp_path / 'o.jsonl')!r}\n"
    with FakeOpenAI() as fake:
        done = _run_script(prelude + textwrap.dedent(STEP_BY_STEP), fake)
    assert done.returncode == 0, done.stderr
    assert "Is failure: True" in done.stdout
    assert "traj_003" in done.stdout
