"""An export directory: trainer files a trainer loads unchanged, and the manifest that makes the
next export continue where this one stopped.

Layout::

    DIR/manifest.json                  what was exported, from where, with which filters
    DIR/example_ids.txt                every example id written, one per line (deduplication)
    DIR/data/<format>-NNNNN.jsonl      trainer lines (or .parquet), one shard per export run
    DIR/provenance/<format>-NNNNN.jsonl  per line of that shard: its id, weight, failure type,
                                       prompts, models (the OpenAI upload file's sidecar)
    DIR/dataset_info.json              LLaMA-Factory's entry, for sharegpt
    DIR/README.md                      the dataset card

Trainer files live alone under ``data/`` so ``load_dataset("json", data_files="DIR/data/*")``
reads nothing else. A shard becomes part of the dataset only when the manifest names it: it is
written under a temporary name, renamed, and then the manifest is replaced atomically, so a
crash leaves either the old state or the new one (a shard the manifest does not name is
removed by the next export).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from agenther.formats import sharegpt

MANIFEST = "manifest.json"
EXAMPLE_IDS = "example_ids.txt"
DATA = "data"
PROVENANCE = "provenance"
FileFormat = Literal["jsonl", "parquet"]


class ExportDirError(ValueError):
    """The directory holds another dataset (format, file format, source or filters)."""


class ExportFilters(BaseModel):
    since: datetime | None = None
    until: datetime | None = None
    min_weight: float | None = None
    failure_types: list[str] = Field(default_factory=list)


class Shard(BaseModel):
    file: str  # relative to DIR
    provenance: str
    examples: int
    # partition -> [first offset read, next offset] by this export run
    offsets: dict[str, tuple[int, int]]
    exported_at: datetime


class Manifest(BaseModel):
    version: int = 1
    source: str  # "kafka:<topic>"
    format: str  # trainer format: sft, dpo, sharegpt, openai
    file_format: FileFormat = "jsonl"
    filters: ExportFilters = Field(default_factory=ExportFilters)
    positions: dict[str, int] = Field(default_factory=dict)  # partition -> next offset
    shards: list[Shard] = Field(default_factory=list)
    examples: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)  # reason -> count, all runs
    # With --rejects-topic / --dlq-topic: where those reads stopped, and what they found.
    rejects_positions: dict[str, int] = Field(default_factory=dict)
    rejects: int = 0
    dead_letter_positions: dict[str, int] = Field(default_factory=dict)
    dead_letters: dict[str, int] = Field(default_factory=dict)  # "stage: error type" -> count

    def check_same_dataset(self, other: Manifest) -> None:
        """An incremental export must add to the same dataset, never mix two."""
        for name, mine, theirs in (
            ("format", self.format, other.format),
            ("file format", self.file_format, other.file_format),
            ("source", self.source, other.source),
        ):
            # An export that found nothing yet has no format: the next one sets it.
            if mine != theirs and not (name == "format" and not mine):
                raise ExportDirError(
                    f"the directory holds {name} {mine!r}, this export asks for {theirs!r}; "
                    "use another directory"
                )
        if self.filters != other.filters:
            raise ExportDirError(
                f"the directory was exported with filters {self.filters.model_dump(mode='json')}"
                f", this export asks for {other.filters.model_dump(mode='json')}; use the same "
                "filters or another directory"
            )


class ExportDir:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def manifest(self) -> Manifest | None:
        file = self.path / MANIFEST
        if not file.is_file():
            return None
        try:
            return Manifest.model_validate_json(file.read_bytes())
        except ValueError as exc:
            raise ExportDirError(f"{file} is not an agenther export manifest: {exc}") from None

    def seen_ids(self) -> set[str]:
        file = self.path / EXAMPLE_IDS
        if not file.is_file():
            return set()
        return set(file.read_text(encoding="utf-8").split())

    def remove_orphans(self, manifest: Manifest | None) -> list[Path]:
        """Shards a crashed export left behind (not in the manifest)."""
        named = {Path(s.file).name for s in manifest.shards} if manifest else set()
        named |= {Path(s.provenance).name for s in manifest.shards} if manifest else set()
        removed = []
        for folder in (self.path / DATA, self.path / PROVENANCE):
            for file in sorted(folder.glob("*")) if folder.is_dir() else []:
                if file.name not in named:
                    file.unlink()
                    removed.append(file)
        return removed

    def next_shard_names(self, manifest: Manifest) -> tuple[str, str]:
        ext = "parquet" if manifest.file_format == "parquet" else "jsonl"
        stem = f"{manifest.format}-{len(manifest.shards):05d}"
        return f"{DATA}/{stem}.{ext}", f"{PROVENANCE}/{stem}.jsonl"

    def write_shard(
        self,
        manifest: Manifest,
        records: list[dict[str, Any]],
        provenance: list[dict[str, Any]],
        offsets: dict[str, tuple[int, int]],
    ) -> Shard:
        data_name, provenance_name = self.next_shard_names(manifest)
        data_path = self.path / data_name
        if manifest.file_format == "parquet":
            _replace(data_path, lambda tmp: _write_parquet(tmp, records))
        else:
            _replace(data_path, lambda tmp: _write_jsonl(tmp, records))
        _replace(self.path / provenance_name, lambda tmp: _write_jsonl(tmp, provenance))
        return Shard(
            file=data_name,
            provenance=provenance_name,
            examples=len(records),
            offsets=offsets,
            exported_at=datetime.now(UTC),
        )

    def commit(self, manifest: Manifest, new_ids: list[str]) -> None:
        """Record the new ids, then the manifest (last: it is what makes a shard count)."""
        if new_ids:
            with (self.path / EXAMPLE_IDS).open("a", encoding="utf-8") as out:
                out.write("".join(f"{i}\n" for i in new_ids))
                out.flush()
                os.fsync(out.fileno())
        if manifest.format == "sharegpt":
            info = {self.path.name or "agenther": sharegpt.dataset_info_entry(DATA)}
            _replace(
                self.path / "dataset_info.json",
                lambda tmp: tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8"),
            )
        _replace(
            self.path / MANIFEST,
            lambda tmp: tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8"),
        )

    def provenance_lines(self, manifest: Manifest) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        for shard in manifest.shards:
            with (self.path / shard.provenance).open(encoding="utf-8") as source:
                lines.extend(json.loads(line) for line in source if line.strip())
        return lines


def _replace(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    with tmp.open("rb") as written:
        os.fsync(written.fileno())
    tmp.replace(path)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportDirError(
            "Parquet needs pyarrow: pip install 'agenther[parquet]', or use --file-format jsonl"
        ) from None
    try:
        table = pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        # Tool arguments typed differently across examples cannot share one Arrow column.
        raise ExportDirError(
            f"these examples do not fit one Parquet schema ({exc}); use --file-format jsonl"
        ) from None
    pq.write_table(table, path)
