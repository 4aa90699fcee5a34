"""Command-line flags as a table onto settings fields: one table per settings model.

A flag names the field it sets; its type, choices, help, default and environment variable
come from the field itself, so the help cannot drift from the settings. A flag not given
leaves the field to the settings file and the environment (argparse.SUPPRESS keeps it out of
the namespace), which is how ``LayeredSettings`` ranks flags above both.
"""

from __future__ import annotations

import argparse
import enum
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from agenther.config import ENV_PREFIX, RULE_STRATEGIES, PipelineConfig
from agenther.inputs.settings import InputSettings
from agenther.run_settings import RunSettings


@dataclass(frozen=True)
class Flag:
    name: str  # --flag-name
    setting: str  # the settings field it sets
    short: str | None = None  # -f
    options: Mapping[str, Any] = field(default_factory=dict)  # argparse overrides


@dataclass(frozen=True)
class FlagTable:
    """Flags onto the fields of one settings model, whose env variables carry ``env_prefix``."""

    model: type[BaseSettings]
    env_prefix: str
    flags: tuple[Flag, ...]
    # Namespace keys are ``dest_prefix + field``, so two tables never share a key.
    dest_prefix: str = ""

    def dest(self, flag: Flag) -> str:
        return self.dest_prefix + flag.setting

    def add_to(self, parser: argparse.ArgumentParser | Any) -> None:
        """Add every flag to ``parser`` (or an argument group)."""
        for flag in self.flags:
            info = self.model.model_fields[flag.setting]
            options = {**_argparse_options(info), **flag.options}
            if "action" not in options and "choices" not in options:
                options["metavar"] = flag.setting.upper()
            names = (flag.short, flag.name) if flag.short else (flag.name,)
            parser.add_argument(
                *names,
                dest=self.dest(flag),
                default=argparse.SUPPRESS,
                help=self.help(flag),
                **options,
            )

    def help(self, flag: Flag) -> str:
        info = self.model.model_fields[flag.setting]
        default = info.get_default(call_default_factory=True)
        shown = "none" if default is None else getattr(default, "value", default)
        if isinstance(shown, tuple):
            shown = " ".join(map(str, shown))
        note = f"default: {shown}; env {self.env_prefix}{flag.setting.upper()}"
        return f"{info.description} ({note})" if info.description else note

    def overrides(self, args: argparse.Namespace) -> dict[str, Any]:
        """The fields the given flags set."""
        given = vars(args)
        return {f.setting: given[self.dest(f)] for f in self.flags if self.dest(f) in given}


def _argparse_options(info: FieldInfo) -> dict[str, Any]:
    kind = _non_optional(info.annotation)
    if kind is bool:
        return {"action": argparse.BooleanOptionalAction}
    if kind in (int, float):
        return {"type": kind}
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return {"choices": [member.value for member in kind]}
    if typing.get_origin(kind) is typing.Literal:
        return {"choices": list(typing.get_args(kind))}
    return {}


def _non_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _pipeline_table(*flags: Flag) -> FlagTable:
    return FlagTable(PipelineConfig, ENV_PREFIX, flags, dest_prefix="pipeline.")


# The pipeline's flags, shared by `agenther run` and `agenther serve`.
PIPELINE_FLAGS = _pipeline_table(
    Flag("--rule-based", "rule_based", options={"action": "store_true"}),
    Flag("--model", "model"),
    Flag("--base-url", "base_url"),
    Flag("--judge-model", "judge_model"),
    Flag("--judge-base-url", "judge_base_url"),
    Flag("--min-confidence", "min_confidence"),
    Flag("--max-attempts", "relabel_max_attempts"),
    Flag("--concurrency", "max_concurrency"),
    Flag("--cache-dir", "cache_dir"),
    Flag("--request-timeout", "request_timeout"),
    Flag("--structured-output", "structured_output"),
    Flag("--llm-detector", "use_llm_detector"),
    Flag("--fuse-first-attempt", "fuse_first_attempt"),
    Flag(
        "--rule-strategies",
        "rule_strategies",
        options={"nargs": "+", "choices": RULE_STRATEGIES, "metavar": "STRATEGY"},
    ),
)

# `agenther run` only: the service's format is a service setting.
RUN_FLAGS = _pipeline_table(Flag("--format", "output_format", short="-f"))

# `agenther run` only: the service's table has its own --workers (the same setting).
WORKER_FLAGS = FlagTable(RunSettings, "AGENTHER_", (Flag("--workers", "workers"),))

# How input records are read, shared by `agenther run`, `agenther produce` and `agenther serve`.
INPUT_FLAGS = FlagTable(
    InputSettings,
    "AGENTHER_",
    (Flag("--input-format", "input_format"), Flag("--trace-failure", "trace_failure")),
)
