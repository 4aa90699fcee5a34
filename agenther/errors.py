"""Exceptions that callers branch on.

The service decides from the class alone what to do, because the class says whose fault it is:

- ``LLMTransientError``: the endpoint is busy or down for a moment; retry this event later.
- ``LLMQuotaError``: the account cannot pay for any request; pause everything, lose nothing.
- ``LLMFatalError``: the configuration is wrong (key, model, URL); stop, since every event would
  fail the same way.
- ``LLMRequestError`` and ``LLMResponseError``: this event's content was refused, or its reply was
  unusable; dead-letter the event and go on, since the next one may well pass.
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


class LLMQuotaError(LLMError):
    """The account's quota or credit is used up (429 ``insufficient_quota``).

    Not transient for one request (retrying in a second cannot help) and not this event's
    fault (every other event fails the same way): a caller pauses all work until it clears.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LLMFatalError(LLMError):
    """The endpoint refuses the key, the model or the endpoint path: retrying cannot help,
    and no other request can succeed either."""


class MissingAPIKeyError(LLMFatalError):
    """No key for an endpoint that needs one. The message names every way to give one, and
    the way to need none."""

    def __init__(self) -> None:
        super().__init__(
            "no API key: set OPENAI_API_KEY (or OPENAI_API_KEY_FILE naming a file that holds "
            "it), point --base-url at a local OpenAI-compatible server (which needs no key), or "
            "use --rule-based, the zero-cost mode that calls no LLM"
        )


class LLMRequestError(LLMError):
    """The endpoint refused this one request for what it carries: too long for the model's
    context (``context_length_exceeded``), blocked by a content filter, or another 4xx about the
    input. Other requests may pass. ``code`` is the endpoint's error code when it gave one."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class LLMResponseError(LLMError):
    """The reply could not be parsed into the expected schema, even after a repair retry."""


class StageError(AgentHERError):
    """A stage raised; ``stage`` names it and ``__cause__`` is the original exception."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage}: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.cause = cause
