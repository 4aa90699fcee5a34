"""AgentHER: hindsight relabeling of failed LLM-agent runs into training data."""

from typing import TYPE_CHECKING, Any

from agenther.config import PIPELINE_VERSION, PipelineConfig
from agenther.models import (
    AgentStep,
    AugmentedSample,
    FailedTrajectory,
    FailureAnalysis,
    FailureType,
    OutputFormat,
    RelabeledData,
    ReplayOutcome,
    SecondJudgeVerdict,
)
from agenther.trajectory_io import load_trajectories

if TYPE_CHECKING:
    from agenther.pipeline import AgentHERPipeline, PipelineResult

__version__ = PIPELINE_VERSION


def __getattr__(name: str) -> Any:
    # The pipeline pulls in the openai SDK (~0.5 s): imported when first used, so the
    # command line (`agenther --help`, `validate`) starts without it.
    if name in ("AgentHERPipeline", "PipelineResult"):
        from agenther import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'agenther' has no attribute {name!r}")


__all__ = [
    "AgentHERPipeline",
    "AgentStep",
    "AugmentedSample",
    "FailedTrajectory",
    "FailureAnalysis",
    "FailureType",
    "OutputFormat",
    "PipelineConfig",
    "PipelineResult",
    "RelabeledData",
    "ReplayOutcome",
    "SecondJudgeVerdict",
    "__version__",
    "load_trajectories",
]
