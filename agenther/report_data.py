"""What ``agenther report`` reads and counts, with no plotting library involved.

Two inputs: the output of one ``agenther run`` (trainer lines, the rejects file beside them and,
for ``-f openai``, the ``.provenance.jsonl`` sidecar), or an export directory
(``manifest.json`` naming the format, ``data/<format>-NNNNN.jsonl`` shards with their
sidecars for OpenAI, optional ``rejects.jsonl`` and ``dead_letters.jsonl`` written by
``agenther export --rejects-topic/--dlq-topic``). Both load into one :class:`ReportData`.

A line that cannot be read is listed in ``ReportData.problems``, never fatal: a report of a
half-written file should still show the half that is there.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agenther.formats.output import provenance_path
from agenther.formats.provenance import PROVENANCE_KEY
from agenther.models import OutputFormat

MANIFEST = "manifest.json"
DATA = "data"
PROVENANCE = "provenance"
EXPORT_REJECTS = "rejects.jsonl"
EXPORT_DEAD_LETTERS = "dead_letters.jsonl"  # outcome "error", from the service's dead letters
NO_TYPE = "(none)"  # a reject turned down before Stage 1 named a failure type
OUTCOMES = ("accepted", "rejected", "error")  # per failure type; invalid lines have no type
FORMATS = tuple(f.value for f in OutputFormat)


class ReportInputError(ValueError):
    """The path is not something ``agenther report`` can read (the invocation is unusable)."""


@dataclass(frozen=True)
class Turn:
    """One turn of an example's conversation; ``role`` is system, user, assistant (a reply),
    call (an assistant tool call) or tool (an observation)."""

    role: str
    text: str


@dataclass(frozen=True)
class Example:
    source: str  # "file:line"
    format: str
    provenance: Mapping[str, Any]
    turns: tuple[Turn, ...]
    rejected_prompt: str | None = None  # DPO: the user turn of the rejected side

    def _get(self, key: str) -> Any:
        return self.provenance.get(key)

    @property
    def trajectory_id(self) -> str:
        return str(self._get("trajectory_id") or "")

    @property
    def failure_type(self) -> str:
        return str(self._get("failure_type") or NO_TYPE)

    @property
    def confidence(self) -> float | None:
        return _number(self._get("confidence"))

    @property
    def weight(self) -> float | None:
        return _number(self._get("weight"))

    @property
    def hindsight_prompt(self) -> str:
        prompt = self._get("hindsight_prompt")
        if isinstance(prompt, str):
            return prompt
        return next((t.text for t in self.turns if t.role == "user"), "")

    @property
    def original_prompt(self) -> str:
        prompt = self._get("original_prompt")
        return prompt if isinstance(prompt, str) else self.rejected_prompt or ""

    def evidence_text(self) -> str:
        """What the run showed: its observations and its final answer."""
        texts = [t.text for t in self.turns if t.role == "tool"]
        if self.turns and self.turns[-1].role == "assistant":
            texts.append(self.turns[-1].text)
        return "\n".join(texts)


@dataclass(frozen=True)
class RejectEntry:
    """One line of a rejects file: a bad input line or a run turned down."""

    source: str
    outcome: str  # invalid | rejected | error
    stage: str
    reason: str
    failure_type: str
    trajectory_id: str
    weight: float | None
    line: Any


@dataclass
class ReportData:
    examples: list[Example] = field(default_factory=list)
    rejects: list[RejectEntry] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    manifest: Mapping[str, Any] | None = None

    def values(self, key: str) -> list[str]:
        """The distinct values of one provenance field (format, mode, pipeline_version…)."""
        found: set[str] = set()
        for example in self.examples:
            value = example.format if key == "format" else example.provenance.get(key)
            if isinstance(value, list):
                found.update(str(v) for v in value)
            elif value not in (None, ""):
                found.add(str(value))
        return sorted(found)

    def counts(self) -> dict[str, int]:
        outcomes = Counter(r.outcome for r in self.rejects)
        return {
            "examples": len(self.examples),
            "rejected": outcomes["rejected"],
            "invalid": outcomes["invalid"],
            "errors": outcomes["error"],
        }

    def outcomes_by_failure_type(self) -> dict[str, Counter[str]]:
        """accepted / rejected / error per failure type, most runs first."""
        table: dict[str, Counter[str]] = {}
        for example in self.examples:
            table.setdefault(example.failure_type, Counter())["accepted"] += 1
        for reject in self.rejects:
            if reject.outcome in OUTCOMES:
                table.setdefault(reject.failure_type, Counter())[reject.outcome] += 1
        return dict(sorted(table.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])))


# ------------------------------------------------------------------------------------ loading


def load_run_output(path: str | Path, rejects_path: str | Path | None = None) -> ReportData:
    """The trainer lines of one ``agenther run`` and its rejects (``OUT.rejects.jsonl`` beside
    it when not given and present); for OpenAI lines, the ``OUT.provenance.jsonl`` sidecar."""
    path = Path(path)
    if not path.is_file():
        raise ReportInputError(f"{path}: no such file")
    data = ReportData(sources=[str(path)])
    _load_trainer_file(path, data, provenance_path(path))
    if rejects_path is None:
        beside = path.with_name(path.stem + ".rejects.jsonl")
        rejects_path = beside if beside.is_file() else None
    elif not Path(rejects_path).is_file():
        raise ReportInputError(f"{rejects_path}: no such file")
    if rejects_path is not None:
        _load_rejects(Path(rejects_path), data)
    return data


def load_export_dir(path: str | Path) -> ReportData:
    """An export directory (``agenther.export_dir``): ``manifest.json`` with its ``format``,
    and the shards it names (``shards[].file``, with ``shards[].provenance`` sidecars); a
    manifest that names none means every ``data/<format>-NNNNN.jsonl`` (or ``.parquet``),
    with the sidecar ``provenance/<format>-NNNNN.jsonl`` or
    ``data/<format>-NNNNN.provenance.jsonl`` where present. ``rejects.jsonl`` and
    ``dead_letters.jsonl`` are optional."""
    path = Path(path)
    manifest_path = path / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ReportInputError(f"{manifest_path}: not a readable manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") not in FORMATS:
        raise ReportInputError(f"{manifest_path}: 'format' must be one of {', '.join(FORMATS)}")
    data = ReportData(manifest=manifest, sources=[str(manifest_path)])
    shards = _named_shards(path, manifest) or _found_shards(path, manifest["format"])
    if not shards:
        data.problems.append(f"{path / DATA}: no {manifest['format']}-NNNNN shard")
    for shard, sidecar in shards:
        if not shard.is_file():
            data.problems.append(f"{shard}: named by the manifest but missing")
            continue
        data.sources.append(str(shard))
        _load_trainer_file(shard, data, sidecar)
    for outcomes in (EXPORT_REJECTS, EXPORT_DEAD_LETTERS):
        if (path / outcomes).is_file():
            _load_rejects(path / outcomes, data)
    return data


Shards = list[tuple[Path, Path | None]]  # trainer file, its provenance sidecar


def _named_shards(root: Path, manifest: dict[str, Any]) -> Shards:
    named = manifest.get("shards")
    shards: Shards = []
    for shard in named if isinstance(named, list) else []:
        if isinstance(shard, dict) and isinstance(shard.get("file"), str):
            sidecar = shard.get("provenance")
            shards.append(
                (root / shard["file"], root / sidecar if isinstance(sidecar, str) else None)
            )
    return shards


def _found_shards(root: Path, fmt: str) -> Shards:
    name = re.compile(rf"{re.escape(fmt)}-(\d+)\.(?:jsonl|parquet)")
    numbered = sorted(
        (int(match.group(1)), shard.name, shard)
        for shard in (root / DATA).glob(f"{fmt}-*")
        if (match := name.fullmatch(shard.name))
    )
    shards: Shards = []
    for _, _, shard in numbered:
        beside, apart = provenance_path(shard), root / PROVENANCE / f"{shard.stem}.jsonl"
        shards.append((shard, beside if beside.is_file() else apart if apart.is_file() else None))
    return shards


def load_report_input(path: str | Path, rejects_path: str | Path | None = None) -> ReportData:
    """A directory is an export, a file the output of ``agenther run``."""
    path = Path(path)
    if path.is_dir():
        if rejects_path is not None:
            raise ReportInputError("--rejects is for a run's output file, not an export directory")
        return load_export_dir(path)
    return load_run_output(path, rejects_path)


def _json_lines(path: Path, data: ReportData) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                data.problems.append(f"{path}:{number}: not JSON ({exc.msg})")
                continue
            if not isinstance(value, dict):
                data.problems.append(f"{path}:{number}: not a JSON object")
                continue
            yield number, value


def _load_trainer_file(path: Path, data: ReportData, sidecar_path: Path | None) -> None:
    """Trainer lines, each with its line of the provenance sidecar when there is one (OpenAI
    lines carry no provenance of their own; an export keeps one for every format)."""
    sidecar: list[dict[str, Any]] | None = None
    if sidecar_path is not None and sidecar_path.is_file():
        sidecar = [value for _, value in _json_lines(sidecar_path, data)]
    read = 0
    rows = _parquet_rows(path) if path.suffix == ".parquet" else _json_lines(path, data)
    for number, record in rows:
        example = _example(record, f"{path}:{number}")
        if example is None:
            data.problems.append(f"{path}:{number}: not a trainer line of a known format")
            continue
        if sidecar is not None and read < len(sidecar):
            merged = {**example.provenance, **sidecar[read]}
            example = Example(
                example.source, example.format, merged, example.turns, example.rejected_prompt
            )
        read += 1
        data.examples.append(example)
    formats = {e.format for e in data.examples[len(data.examples) - read :]}
    if "openai" in formats and sidecar is None:
        data.problems.append(
            f"{sidecar_path or provenance_path(path)}: missing, so failure types, confidences, "
            "weights and original prompts of its OpenAI lines are unknown"
        )
    elif sidecar is not None and len(sidecar) != read:
        data.problems.append(f"{sidecar_path}: {len(sidecar)} lines for {read} examples")


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ReportInputError(
            f"{path}: Parquet shards need pyarrow: pip install 'agenther[parquet]'"
        ) from None
    yield from enumerate(pq.read_table(path).to_pylist(), 1)


def _load_rejects(path: Path, data: ReportData) -> None:
    data.sources.append(str(path))
    for number, entry in _json_lines(path, data):
        data.rejects.append(
            RejectEntry(
                source=f"{path}:{number}",
                outcome=str(entry.get("outcome") or "rejected"),
                stage=str(entry.get("stage") or ""),
                reason=str(entry.get("reason") or ""),
                failure_type=str(entry.get("failure_type") or NO_TYPE),
                trajectory_id=str(entry.get("trajectory_id") or ""),
                weight=_number(entry.get("weight")),
                line=entry.get("line"),
            )
        )


# ------------------------------------------------------------------------- trainer line shapes


def _example(record: dict[str, Any], source: str) -> Example | None:
    provenance = record.get(PROVENANCE_KEY)
    provenance = provenance if isinstance(provenance, dict) else {}
    if isinstance(record.get("conversations"), list):
        return Example(source, "sharegpt", provenance, tuple(_sharegpt_turns(record)))
    if isinstance(record.get("chosen"), list):
        rejected = _messages(record.get("rejected"))
        rejected_prompt = next((t.text for t in rejected if t.role == "user"), None)
        chosen = tuple(_messages(record["chosen"]))
        return Example(source, "dpo", provenance, chosen, rejected_prompt)
    if isinstance(record.get("messages"), list):
        fmt = provenance.get("format")
        fmt = fmt if fmt in ("sft", "openai") else ("sft" if provenance else "openai")
        return Example(source, fmt, provenance, tuple(_messages(record["messages"])))
    return None


_TOOL_ROLES = {"tool", "function", "observation", "ipython"}


def _messages(messages: Any) -> list[Turn]:
    turns: list[Turn] = []
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        role = str(message.get("role") or "")
        text = _text(message.get("content"))
        calls = message.get("tool_calls")
        if role in _TOOL_ROLES:
            turns.append(Turn("tool", text))
        elif role == "assistant" and isinstance(calls, list) and calls:
            turns.append(Turn("call", "\n".join([text, *map(_call_text, calls)]).strip()))
        else:
            turns.append(Turn(role or "user", text))
    return turns


def _call_text(call: Any) -> str:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict):
        return _text(call)
    arguments = function.get("arguments")
    return f"→ {function.get('name', '?')}({_text(arguments)})"


_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "function_call": "call",
    "observation": "tool",
    "function": "tool",
    "tool": "tool",
    "system": "system",
}


def _sharegpt_turns(record: dict[str, Any]) -> Iterator[Turn]:
    system = record.get("system")
    if isinstance(system, str) and system:
        yield Turn("system", system)
    for turn in record["conversations"]:
        if isinstance(turn, dict):
            role = _SHAREGPT_ROLES.get(str(turn.get("from")), str(turn.get("from")))
            yield Turn(role, _text(turn.get("value")))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts: [{"type": "text", "text": …}]
        parts = [p.get("text") for p in value if isinstance(p, dict)]
        if all(isinstance(p, str) for p in parts) and parts:
            return "\n".join(str(p) for p in parts)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
