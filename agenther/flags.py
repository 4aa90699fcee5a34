"""The pipeline's command-line flags, in one table for `agenther run` and `agenther serve`.

Each flag names the ``PipelineConfig`` field it sets; a flag not given leaves the field to the
settings file and the environment (argparse.SUPPRESS keeps it out of the namespace).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from agenther.config import STRUCTURED_OUTPUT_RUNGS


@dataclass(frozen=True)
class Flag:
    name: str  # --flag-name
    config_field: str  # PipelineConfig field
    help: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def dest(self) -> str:
        return self.name.removeprefix("--").replace("-", "_")


PIPELINE_FLAGS: tuple[Flag, ...] = (
    Flag("--rule-based", "rule_based", "zero-cost mode: no LLM calls", {"action": "store_true"}),
    Flag("--model", "model", "LLM model name"),
    Flag("--base-url", "base_url", "OpenAI-compatible endpoint; none: OpenAI's"),
    Flag("--judge-model", "judge_model", "second judge's model; none: --model"),
    Flag("--judge-base-url", "judge_base_url", "second judge's endpoint; none: --base-url"),
    Flag(
        "--min-confidence",
        "min_confidence",
        "acceptance threshold θ",
        {"type": float},
    ),
    Flag("--max-attempts", "relabel_max_attempts", "relabel attempts K", {"type": int}),
    Flag("--concurrency", "max_concurrency", "runs in flight", {"type": int}),
    Flag("--cache-dir", "cache_dir", "cache LLM replies here (re-runs cost nothing)"),
    Flag(
        "--request-timeout",
        "request_timeout",
        "seconds to wait for one LLM reply; none: 60, or 600 for a local endpoint, whose "
        "timed-out request is not retried",
        {"type": float},
    ),
    Flag(
        "--structured-output",
        "structured_output",
        "how JSON replies are asked for: auto learns it from the endpoint",
        {"choices": ("auto", *STRUCTURED_OUTPUT_RUNGS)},
    ),
    Flag(
        "--llm-detector",
        "use_llm_detector",
        "Stage 1 by the model, as in the paper",
        {"action": argparse.BooleanOptionalAction},
    ),
    Flag(
        "--fuse-first-attempt",
        "fuse_first_attempt",
        "the joint Stage 1+2 call also writes relabel attempt 1 (2 calls per example, not 3; "
        "Stages 1/2 then run at the attempt's temperature)",
        {"action": argparse.BooleanOptionalAction},
    ),
)


def add_pipeline_flags(parser: argparse.ArgumentParser | Any) -> None:
    """Add every pipeline flag to ``parser`` (or an argument group)."""
    for flag in PIPELINE_FLAGS:
        parser.add_argument(
            flag.name, dest=flag.dest, default=argparse.SUPPRESS, help=flag.help, **flag.options
        )


def pipeline_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``PipelineConfig`` fields the given flags set."""
    given = vars(args)
    return {flag.config_field: given[flag.dest] for flag in PIPELINE_FLAGS if flag.dest in given}


def describe_defaults(
    parser: argparse.ArgumentParser,
    fields: dict[str, tuple[str, Any]],
) -> None:
    """Append each setting's default and environment variable to its flag's help.

    ``fields`` maps an argparse dest to (environment variable, default). Written from the
    settings models themselves, so the help cannot drift from them.
    """
    for action in parser._actions:  # argparse has no public iterator over its actions
        if action.dest not in fields:
            continue
        env, default = fields[action.dest]
        shown = "none" if default is None else getattr(default, "value", default)
        note = f"default: {shown}; env {env}"
        action.help = f"{action.help} ({note})" if action.help else note


def pipeline_defaults() -> dict[str, tuple[str, Any]]:
    """dest -> (env var, default) for every pipeline flag."""
    from agenther.config import ENV_PREFIX, PipelineConfig

    fields = PipelineConfig.model_fields
    return {
        flag.dest: (f"{ENV_PREFIX}{flag.config_field.upper()}", fields[flag.config_field].default)
        for flag in PIPELINE_FLAGS
    }
