"""Where an example came from: its deterministic id and the ``agenther`` object it carries."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from agenther.config import PIPELINE_VERSION
from agenther.models import FailedTrajectory, FailureAnalysis, OutputFormat, RelabeledData

PROVENANCE_KEY = "agenther"


def canonical_json(trajectory: FailedTrajectory) -> str:
    return json.dumps(
        trajectory.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


def example_id(
    trajectory: FailedTrajectory, pipeline_fingerprint: str, output_format: OutputFormat
) -> str:
    """Same run, same settings, same format: same id, so consumers of a replay can deduplicate.
    The relabeled prompt is left out on purpose: an LLM may word it differently on a replay."""
    blob = "\x1f".join([canonical_json(trajectory), pipeline_fingerprint, output_format.value])
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def provenance(
    trajectory: FailedTrajectory,
    relabeled: RelabeledData,
    *,
    example: str,
    output_format: OutputFormat,
    weight: float,
    analysis: FailureAnalysis | None,
    mode: str,
    settings: str = "",
    models: tuple[str, ...] = (),
) -> dict[str, Any]:
    failure_type = analysis.failure_type.value if analysis and analysis.failure_type else None
    return {
        "trajectory_id": trajectory.trajectory_id,
        "example_id": example,
        "format": output_format.value,
        "failure_type": failure_type,
        "severity": analysis.severity if analysis else None,
        "weight": weight,
        "confidence": relabeled.confidence,
        "judge_confidence": relabeled.judge_confidence,
        "attempts": relabeled.attempts,
        "original_prompt": trajectory.original_prompt,
        "hindsight_prompt": relabeled.hindsight_prompt,
        "mode": mode,
        "pipeline_version": PIPELINE_VERSION,
        # Which settings and models made it, so a dataset card can say so; only when known.
        **({"settings_fingerprint": settings} if settings else {}),
        **({"models": list(models)} if models else {}),
    }
