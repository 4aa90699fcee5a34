"""AgentHER: hindsight relabeling of failed LLM-agent runs into training data."""

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
from agenther.pipeline import AgentHERPipeline, PipelineResult

__version__ = PIPELINE_VERSION

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
]
