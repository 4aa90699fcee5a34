"""What the service does with an error, decided by whose fault it is.

One table instead of ``isinstance`` checks spread through the loop (Quix Streams keeps its
error callbacks in one module for the same reason):

- ``LLMTransientError``, ``SchemaRegistryUnavailableError`` (a service is busy or away):
  retry this event with backoff, then dead-letter it.
- ``LLMQuotaError`` (the account is out of quota): pause all fetching, retry this event later,
  never dead-letter it.
- ``LLMFatalError``, a dead rule worker pool (the configuration): stop without committing this
  event.
- anything else, ``LLMRequestError`` and ``LLMResponseError`` included (this event's fault):
  dead-letter it and go on.

Dead-lettering every event for a wrong key would lose nothing but help no one; pausing for
quota keeps the backlog where it is until someone pays.
"""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from enum import StrEnum

from agenther.errors import LLMFatalError, LLMQuotaError, LLMTransientError
from streams.schema_registry import SchemaRegistryUnavailableError


class Action(StrEnum):
    RETRY = "retry"
    PAUSE = "pause"
    STOP = "stop"
    DEAD_LETTER = "dead_letter"


def action_for(error: BaseException) -> Action:
    if isinstance(error, LLMTransientError | SchemaRegistryUnavailableError):
        return Action.RETRY
    if isinstance(error, LLMQuotaError):
        return Action.PAUSE
    if isinstance(error, LLMFatalError | BrokenProcessPool):
        return Action.STOP
    return Action.DEAD_LETTER
