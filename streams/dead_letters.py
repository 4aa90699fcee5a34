"""Dead-letter records: the original bytes plus headers that say what went wrong and where.

Error text comes from exceptions, and exceptions from HTTP clients like to quote the request
(headers included): every text that leaves the process goes through ``SecretScrubber``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

ERROR_TYPE = "agenther-error-type"
ERROR = "agenther-error"
STAGE = "agenther-stage"
ATTEMPTS = "agenther-attempts"
SOURCE_TOPIC = "agenther-source-topic"
SOURCE_PARTITION = "agenther-source-partition"
SOURCE_OFFSET = "agenther-source-offset"
FAILED_AT = "agenther-failed-at"
DEAD_LETTER_HEADERS = (
    ERROR_TYPE,
    ERROR,
    STAGE,
    ATTEMPTS,
    SOURCE_TOPIC,
    SOURCE_PARTITION,
    SOURCE_OFFSET,
    FAILED_AT,
)

MAX_ERROR_CHARS = 1000
REDACTED = "[REDACTED]"

# Credentials that may come from somewhere we were not told about (a proxy's key in a URL,
# a bearer token quoted by the HTTP client), matched by shape.
_SHAPES = (
    re.compile(r"\bsk-[A-Za-z0-9_\-*.]{6,}"),
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9_\-.=+/*]{6,}"),
    re.compile(r"(?i)\b(api[_-]?key|password|passwd|secret|token)(\s*[=:]\s*)[^\s,;&'\"]+"),
    re.compile(r"(?i)(://[^/\s:@]+:)[^@\s/]+@"),
)


class SecretScrubber:
    """Removes known secret values and credential-shaped substrings from text."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Longest first, so a secret that contains another is removed whole. Each also as
        # reprs spell it: libraries log their requests (aiokafka's DEBUG log shows the SASL
        # token as bytes, where a backslash or a non-ASCII character is escaped).
        forms = {f for s in secrets if s and len(s) >= 4 for f in _spellings(s)}
        self._secrets = sorted(forms, key=len, reverse=True)

    def scrub(self, text: str, limit: int = MAX_ERROR_CHARS) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _SHAPES[0].sub(REDACTED, text)
        text = _SHAPES[1].sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        text = _SHAPES[2].sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        text = _SHAPES[3].sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        return text

    def describe(self, exc: BaseException) -> str:
        """``Type: message`` of an exception and its causes, scrubbed."""
        parts: list[str] = []
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen and len(parts) < 4:
            seen.add(id(current))
            message = str(current)
            parts.append(
                f"{type(current).__name__}: {message}" if message else type(current).__name__
            )
            current = current.__cause__ or current.__context__
        return self.scrub(" <- ".join(parts))


def _spellings(secret: str) -> set[str]:
    return {
        secret,
        repr(secret.encode("utf-8"))[2:-1],
        secret.encode("unicode_escape").decode("ascii"),
        json.dumps(secret)[1:-1],
    }


Headers = list[tuple[str, bytes]]


@dataclass
class DeadLetter:
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)


def build_dead_letter(
    *,
    key: bytes | None,
    value: bytes | None,
    original_headers: Sequence[tuple[str, bytes]] | None,
    source_topic: str,
    source_partition: int,
    source_offset: int,
    stage: str,
    error_type: str,
    error: str,
    attempts: int,
    scrubber: SecretScrubber,
    failed_at: datetime | None = None,
) -> DeadLetter:
    """The original record with the contract's dead-letter headers added.

    Headers the run already carried are kept (a redriven record keeps its trace ids), except
    the dead-letter ones from an earlier failure, which this failure replaces.
    """
    kept: Headers = [
        (name, data) for name, data in (original_headers or ()) if name not in DEAD_LETTER_HEADERS
    ]
    when = (failed_at or datetime.now(UTC)).isoformat()
    ours = {
        ERROR_TYPE: scrubber.scrub(error_type, 200),
        ERROR: scrubber.scrub(error),
        STAGE: stage,
        ATTEMPTS: str(attempts),
        SOURCE_TOPIC: source_topic,
        SOURCE_PARTITION: str(source_partition),
        SOURCE_OFFSET: str(source_offset),
        FAILED_AT: when,
    }
    return DeadLetter(
        key=key,
        value=value,
        headers=kept + [(name, text.encode()) for name, text in ours.items()],
    )


class ScrubbingFilter(logging.Filter):
    """Scrubs every log record of a handler, including text from third-party libraries."""

    def __init__(self, scrubber: SecretScrubber) -> None:
        super().__init__()
        self._scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
            record.exc_info = None
            record.exc_text = None
        record.msg = self._scrubber.scrub(message, limit=20_000)
        record.args = None
        return True
