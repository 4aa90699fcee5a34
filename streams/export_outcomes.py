"""The service's other outputs in an export directory, for ``agenther report``: the rejections
(``rejects.jsonl``, one line per run, in the shape of ``agenther run``'s rejects file) and the
dead letters (``dead_letters.jsonl``, one line per source event, from the headers only: a
dead letter's value may hold anything and is never copied)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agenther.export_dir import ExportFilters
from streams import dead_letters as dl
from streams.events import EventCodec, EventDecodeError, Rejection

REJECTS_FILE = "rejects.jsonl"
DEAD_LETTERS_FILE = "dead_letters.jsonl"


class OutcomeFile:
    """An append-only JSONL file whose lines are unique by ``key``: a replay that repeats a
    rejection or a dead letter adds nothing."""

    def __init__(self, path: Path, key: Callable[[dict[str, Any]], str]) -> None:
        self.path = path
        self._key = key
        self._seen: set[str] = set()
        self._new: list[dict[str, Any]] = []
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    self._seen.add(key(json.loads(line)))

    def add(self, entry: dict[str, Any]) -> bool:
        key = self._key(entry)
        if key in self._seen:
            return False
        self._seen.add(key)
        self._new.append(entry)
        return True

    def pending(self) -> list[dict[str, Any]]:
        return list(self._new)

    def write(self) -> int:
        """Append the new lines (before the manifest names their offsets as read)."""
        if self._new:
            with self.path.open("a", encoding="utf-8") as out:
                out.write("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in self._new))
                out.flush()
                os.fsync(out.fileno())
        written, self._new = len(self._new), []
        return written


def rejects_file(directory: Path) -> OutcomeFile:
    return OutcomeFile(directory / REJECTS_FILE, lambda e: str(e.get("trajectory_id")))


def dead_letters_file(directory: Path) -> OutcomeFile:
    return OutcomeFile(
        directory / DEAD_LETTERS_FILE,
        lambda e: f"{e.get('source_topic')}/{e.get('source_partition')}/{e.get('source_offset')}",
    )


async def rejection_entry(
    codec: EventCodec, message: Any, filters: ExportFilters
) -> dict[str, Any] | str:
    """The rejects-file line for a record of the rejections topic, or why it is skipped."""
    try:
        rejection = await codec.decode_rejection(message.value)
    except EventDecodeError as exc:
        return f"not a rejection ({exc.reason})"
    if filters.failure_types and rejection.failure_type not in filters.failure_types:
        return "failure type not asked for"
    return {
        "outcome": "rejected",
        "trajectory_id": rejection.run_id,
        **_entry(rejection),
        "partition": message.partition,
        "offset": message.offset,
    }


def _entry(rejection: Rejection) -> dict[str, Any]:
    return rejection.model_dump(exclude={"run_id"})


def dead_letter_entry(message: Any) -> dict[str, Any] | str:
    """The line for a dead letter, from its headers, or why it is skipped."""
    headers = {name: value.decode("utf-8", "replace") for name, value in message.headers or ()}
    if dl.ERROR_TYPE not in headers:
        return "not a dead letter (no agenther-error-type header)"
    return {
        "outcome": "error",
        "stage": headers.get(dl.STAGE, ""),
        "error_type": headers[dl.ERROR_TYPE],
        "reason": f"{headers[dl.ERROR_TYPE]}: {headers.get(dl.ERROR, '')}",
        "trajectory_id": message.key.decode("utf-8", "replace") if message.key else "",
        "source_topic": headers.get(dl.SOURCE_TOPIC, ""),
        "source_partition": headers.get(dl.SOURCE_PARTITION, ""),
        "source_offset": headers.get(dl.SOURCE_OFFSET, f"dlq@{message.offset}"),
        "failed_at": headers.get(dl.FAILED_AT, ""),
    }
