"""Exceptions that callers branch on.

The service decides from the class alone what to do: retry a transient error with backoff,
stop on a fatal one (a wrong key or model would otherwise dead-letter every event), and
dead-letter everything else.
"""

from __future__ import annotations


class AgentHERError(Exception):
    """Base class of every error this package raises on purpose."""


class InvalidTrajectoryError(AgentHERError, ValueError):
    """Input that is not a trajectory (bad JSON, wrong shape, failed validation)."""


class LLMError(AgentHERError):
    """An LLM call did not give a usable answer."""


class LLMTransientError(LLMError):
    """429, 5xx, timeout or connection failure that outlived the client's own retries.

    ``retry_after`` is the wait in seconds the endpoint last asked for (``retry-after``), so a
    caller that retries later does not come back sooner than the endpoint allows.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LLMFatalError(LLMError):
    """The endpoint refuses the key, the model or the request shape: retrying cannot help."""


class LLMResponseError(LLMError):
    """The reply could not be parsed into the expected schema, even after a repair retry."""


class StageError(AgentHERError):
    """A stage raised; ``stage`` names it and ``__cause__`` is the original exception."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage}: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.cause = cause
