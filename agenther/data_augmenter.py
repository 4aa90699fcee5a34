"""Stage 4: a relabeled run as a training example in the format a trainer loads.

``AugmentedSample.record`` is the exact trainer line (TRL SFT, TRL DPO, LLaMA-Factory ShareGPT
or OpenAI fine-tuning); ``chosen``/``rejected``/``metadata`` keep the reference's view of the
same sample. Every record but OpenAI's carries the ``agenther`` provenance object; all four keep
it in ``metadata["agenther"]``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agenther.formats import dpo, openai_ft, sft, sharegpt
from agenther.formats.episode import DEFAULT_MAX_OBSERVATION_TOKENS, Episode, build_episode
from agenther.formats.output import SampleWriter
from agenther.formats.provenance import PROVENANCE_KEY, example_id, provenance
from agenther.formats.sharegpt import ThoughtPolicy
from agenther.models import (
    AugmentedSample,
    FailedTrajectory,
    FailureAnalysis,
    OutputFormat,
    RelabeledData,
)

logger = logging.getLogger(__name__)

Builder = Callable[..., AugmentedSample]


class DataAugmenter:
    """Builds training examples.

    ``pipeline_fingerprint`` goes into every example id (same run + same settings = same id);
    ``max_observation_tokens`` caps a single observation (``None`` keeps all whole) and applies
    to every format alike; ``sharegpt_thoughts`` says how thoughts enter ShareGPT calls.
    """

    def __init__(
        self,
        pipeline_fingerprint: str = "",
        mode: str = "rule",
        *,
        models: tuple[str, ...] = (),
        max_observation_tokens: int | None = DEFAULT_MAX_OBSERVATION_TOKENS,
        sharegpt_thoughts: ThoughtPolicy = "think",
    ) -> None:
        self.pipeline_fingerprint = pipeline_fingerprint
        self.mode = mode
        self.models = models
        self.max_observation_tokens = max_observation_tokens
        self.sharegpt_thoughts: ThoughtPolicy = sharegpt_thoughts

    def augment(
        self,
        trajectory: FailedTrajectory,
        relabeled: RelabeledData,
        output_format: OutputFormat = OutputFormat.SFT,
        severity_weight: float = 1.0,
        analysis: FailureAnalysis | None = None,
    ) -> AugmentedSample:
        builders: dict[OutputFormat, Builder] = {
            OutputFormat.SFT: self.to_sft,
            OutputFormat.DPO: self.to_dpo,
            OutputFormat.SHAREGPT: self.to_sharegpt,
            OutputFormat.OPENAI: self.to_openai,
        }
        return builders[OutputFormat(output_format)](
            trajectory, relabeled, severity_weight=severity_weight, analysis=analysis
        )

    def to_sft(
        self,
        trajectory: FailedTrajectory,
        relabeled: RelabeledData,
        severity_weight: float = 1.0,
        analysis: FailureAnalysis | None = None,
    ) -> AugmentedSample:
        episode = self._episode(trajectory)
        record = sft.record(episode, relabeled.hindsight_prompt)
        return self._sample(
            OutputFormat.SFT,
            trajectory,
            relabeled,
            severity_weight,
            analysis,
            record,
            chosen=record["messages"],
        )

    def to_dpo(
        self,
        trajectory: FailedTrajectory,
        relabeled: RelabeledData,
        severity_weight: float = 1.0,
        analysis: FailureAnalysis | None = None,
    ) -> AugmentedSample:
        episode = self._episode(trajectory)
        record = dpo.record(episode, relabeled.hindsight_prompt, trajectory.original_prompt)
        # The reference's view starts at the user turn; the record adds TRL's shared prefix.
        return self._sample(
            OutputFormat.DPO,
            trajectory,
            relabeled,
            severity_weight,
            analysis,
            record,
            chosen=sft.messages(episode, relabeled.hindsight_prompt),
            rejected=sft.messages(episode, trajectory.original_prompt),
        )

    def to_sharegpt(
        self,
        trajectory: FailedTrajectory,
        relabeled: RelabeledData,
        severity_weight: float = 1.0,
        analysis: FailureAnalysis | None = None,
    ) -> AugmentedSample:
        episode = self._episode(trajectory)
        record = sharegpt.record(episode, relabeled.hindsight_prompt, self.sharegpt_thoughts)
        return self._sample(
            OutputFormat.SHAREGPT,
            trajectory,
            relabeled,
            severity_weight,
            analysis,
            record,
            chosen=sft.messages(episode, relabeled.hindsight_prompt),
        )

    def to_openai(
        self,
        trajectory: FailedTrajectory,
        relabeled: RelabeledData,
        severity_weight: float = 1.0,
        analysis: FailureAnalysis | None = None,
    ) -> AugmentedSample:
        episode = self._episode(trajectory)
        record = openai_ft.record(episode, relabeled.hindsight_prompt)
        return self._sample(
            OutputFormat.OPENAI,
            trajectory,
            relabeled,
            severity_weight,
            analysis,
            record,
            chosen=record["messages"],
            with_provenance=False,
        )

    @staticmethod
    def save_samples(samples: Sequence[AugmentedSample], path: str | Path) -> Path:
        """Write ``sample.record`` lines (one format per file) and the side files it needs."""
        target = Path(path)
        formats = {sample.format for sample in samples}
        if len(formats) > 1:
            names = ", ".join(sorted(f.value for f in formats))
            raise ValueError(f"one format per file, got {names}")
        output_format = formats.pop() if formats else OutputFormat.SFT
        with SampleWriter(target, output_format) as writer:
            for sample in samples:
                writer.write(sample)
        logger.info("saved %d samples to %s", len(samples), target)
        return target

    def _episode(self, trajectory: FailedTrajectory) -> Episode:
        return build_episode(trajectory, self.max_observation_tokens)

    def _sample(
        self,
        output_format: OutputFormat,
        trajectory: FailedTrajectory,
        relabeled: RelabeledData,
        weight: float,
        analysis: FailureAnalysis | None,
        record: dict[str, Any],
        *,
        chosen: list[dict[str, Any]],
        rejected: list[dict[str, Any]] | None = None,
        with_provenance: bool = True,
    ) -> AugmentedSample:
        identifier = example_id(trajectory, self._id_salt(), output_format)
        origin = provenance(
            trajectory,
            relabeled,
            example=identifier,
            output_format=output_format,
            weight=weight,
            analysis=analysis,
            mode=self.mode,
            settings=self.pipeline_fingerprint,
            models=self.models,
        )
        if with_provenance:
            record = {**record, PROVENANCE_KEY: origin}
        metadata = {
            PROVENANCE_KEY: origin,
            # The reference's metadata keys, for its users.
            "original_prompt": trajectory.original_prompt,
            "relabel_confidence": relabeled.confidence,
            "rationale": relabeled.rationale,
            "num_steps": len(trajectory.steps),
        }
        return AugmentedSample(
            source_trajectory_id=trajectory.trajectory_id,
            format=output_format,
            hindsight_prompt=relabeled.hindsight_prompt,
            weight=weight,
            chosen=chosen,
            rejected=rejected or [],
            metadata=metadata,
            example_id=identifier,
            record=record,
        )

    def _id_salt(self) -> str:
        # Augmenter settings change the example's text, so they belong in its id; the
        # defaults add nothing, keeping ids equal to hash(run, fingerprint, format).
        extra = []
        if self.max_observation_tokens != DEFAULT_MAX_OBSERVATION_TOKENS:
            extra.append(f"obs={self.max_observation_tokens}")
        if self.sharegpt_thoughts != "think":
            extra.append(f"thoughts={self.sharegpt_thoughts}")
        return "|".join([self.pipeline_fingerprint, *extra])
