"""Writing examples to disk, one trainer line at a time.

Each line is flushed as it is written, so a crash loses nothing already done. Next to the JSONL
file the writer keeps what a trainer needs besides the lines: the ``dataset_info.json`` entry
for ShareGPT, and for OpenAI (whose validator rejects unknown keys) the provenance of each line
in ``<name>.provenance.jsonl``, line for line.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

from agenther.formats import sharegpt
from agenther.formats.episode import dumps
from agenther.models import AugmentedSample, OutputFormat

DATASET_INFO = "dataset_info.json"


def provenance_path(path: Path) -> Path:
    return path.with_name(path.stem + ".provenance.jsonl")


# A sample's trainer line and its provenance line (written beside OpenAI files only).
SampleLines = tuple[str, str]


def sample_lines(sample: AugmentedSample) -> SampleLines:
    return dumps(sample.record), dumps(sample.metadata.get("agenther", {}))


class LineWriter(ABC):
    """A writer of flushed lines that closes its files when its ``with`` block ends."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


_W = TypeVar("_W", bound=LineWriter)


class SampleWriter(LineWriter):
    def __init__(self, path: str | Path, output_format: OutputFormat) -> None:
        self.path = Path(path)
        self.format = output_format
        self.count = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._out: IO[str] = self.path.open("w", encoding="utf-8")
        self._provenance: IO[str] | None = None
        if output_format is OutputFormat.OPENAI:
            self._provenance = provenance_path(self.path).open("w", encoding="utf-8")
        if output_format is OutputFormat.SHAREGPT:
            write_dataset_info(self.path)

    def write(self, sample: AugmentedSample) -> None:
        if sample.format is not self.format:
            raise ValueError(f"a {sample.format.value} sample in a {self.format.value} file")
        self.write_lines(sample_lines(sample))

    def write_lines(self, lines: SampleLines) -> None:
        """A sample already rendered by ``sample_lines`` (in a worker process, say)."""
        record, provenance = lines
        self._out.write(record + "\n")
        self._out.flush()
        if self._provenance is not None:
            self._provenance.write(provenance + "\n")
            self._provenance.flush()
        self.count += 1

    def close(self) -> None:
        self._out.close()
        if self._provenance is not None:
            self._provenance.close()


def write_dataset_info(data_path: Path) -> Path:
    """Add (or replace) this file's entry in the ``dataset_info.json`` beside it, keeping the
    entries of other datasets: LLaMA-Factory reads one such file for a whole data folder."""
    info_path = data_path.with_name(DATASET_INFO)
    entries: dict[str, Any] = {}
    if info_path.exists():
        try:
            loaded = json.loads(info_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{info_path} exists but is not JSON ({exc}); not overwriting"
            ) from exc
        if isinstance(loaded, dict):
            entries = loaded
    entries[data_path.stem] = sharegpt.dataset_info_entry(data_path.name)
    info_path.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return info_path
