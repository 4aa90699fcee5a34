"""Data that flows through the four stages.

FailedTrajectory -> FailureAnalysis -> ReplayOutcome -> RelabeledData -> AugmentedSample

Names and validation match the reference implementation (alphadl/AgentHER) so its users can
switch without edits; additions are optional fields with defaults.
"""

from __future__ import annotations

import uuid
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agenther.reply_bounds import short_text


class AgentStep(BaseModel):
    """One step of an agent run: what it thought, which tool it called, what came back."""

    thought: str = Field(default="", description="The agent's reasoning before the action")
    action_name: str = Field(..., min_length=1, description="Tool or action invoked")
    action_input: dict[str, Any] = Field(default_factory=dict, description="Arguments")
    observation: str = Field(..., description="What the environment returned")


class FailedTrajectory(BaseModel):
    """A run that did not satisfy the user's original request."""

    trajectory_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex[:12], min_length=1, description="Run id"
    )
    original_prompt: str = Field(..., min_length=1, description="What the user asked for")
    steps: list[AgentStep] = Field(..., min_length=1, description="Ordered agent steps")
    final_answer: str = Field(default="", description="The agent's final reply, if any")
    failure_reason: str = Field(default="", description="Why the run counts as a failure")
    metadata: dict[str, Any] = Field(default_factory=dict)
    # JSON-schema function definitions, passed through so trainers see the tools the run used.
    tools: list[dict[str, Any]] | None = Field(default=None)


class FailureType(str, Enum):
    CONSTRAINT_VIOLATION = "constraint_violation"
    WRONG_RESULT = "wrong_result"
    INCOMPLETE = "incomplete"
    TOOL_ERROR = "tool_error"
    HALLUCINATION = "hallucination"
    OFF_TOPIC = "off_topic"


class FailureAnalysis(BaseModel):
    """Stage 1 output.

    ``severity`` says how bad the failure is (1 = catastrophic); ``weight`` is the paper's w,
    the training weight of the relabeled example. They are distinct on purpose: the reference
    used severity as the weight, so the worst runs weighed most.
    """

    is_failure: bool = Field(..., description="Whether the run failed at all")
    failure_type: FailureType | None = Field(default=None)
    severity: float = Field(default=0.5, ge=0.0, le=1.0, description="1 = catastrophic")
    weight: float = Field(default=0.5, ge=0.0, le=1.0, description="Training weight w")
    explanation: str = Field(default="")
    recoverable: bool = Field(default=True, description="Whether relabeling can salvage it")


class ReplayOutcome(BaseModel):
    """Stage 2 output: what the run really achieved, whatever the goal was."""

    actual_achievements: list[str] = Field(..., description="Facts the run established")
    key_observations: list[str] = Field(default_factory=list)
    limitations: str = Field(..., description="What the run did not do")
    entities: list[str] = Field(default_factory=list, description="Named things observed")
    numbers: list[str] = Field(default_factory=list, description="Quantities observed")


class RelabeledData(BaseModel):
    """Stage 3 output: a hindsight prompt the run satisfies."""

    trajectory_id: str
    hindsight_prompt: str = Field(..., min_length=1)
    is_valid_replay: bool
    rationale: str
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    judge_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    attempts: int = Field(default=1, ge=1)
    mode: Literal["rule", "llm"] = "llm"


class SecondJudgeVerdict(BaseModel):
    """The independent judge's check that the run satisfies the hindsight prompt."""

    is_valid: bool
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    rejection_reason: short_text(240) = Field(default="")  # type: ignore[valid-type]


class OutputFormat(str, Enum):
    SFT = "sft"  # TRL conversational SFT
    DPO = "dpo"  # TRL implicit preference pairs
    SHAREGPT = "sharegpt"  # LLaMA-Factory ShareGPT
    OPENAI = "openai"  # OpenAI fine-tuning chat JSONL


class AugmentedSample(BaseModel):
    """Stage 4 output. ``record`` is the exact line a trainer loads; the rest is the
    reference's view of the same sample."""

    model_config = ConfigDict(use_enum_values=False)

    source_trajectory_id: str
    format: OutputFormat
    hindsight_prompt: str
    weight: float = Field(default=1.0, ge=0.0, le=1.0)
    chosen: list[dict[str, Any]] = Field(default_factory=list)
    rejected: list[dict[str, Any]] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    example_id: str = ""
    record: dict[str, Any] = Field(default_factory=dict)


class RelabelDecision(BaseModel):
    """Why Stage 3 accepted or rejected a run; the service publishes rejections from this."""

    accepted: bool
    relabeled: RelabeledData | None = None
    reason: str = ""
    attempts: int = 0
