"""Writing a decision: every record is sent and its acknowledgement awaited.

``deliver`` returns only once the broker has acknowledged every record of the decision; the
runtime marks the input offset done after that, never before (the at-least-once rule). A
record the broker refuses for good is replaced rather than retried forever: an example too
large becomes a ``produce`` dead letter of the input, and a dead letter too large keeps its
headers without the value, so the event is still accounted for and findable by offset.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka.errors import KafkaError

from streams.dead_letters import SecretScrubber
from streams.handler import PRODUCE_STAGE, Abandoned, Decision, Outcome, Outgoing
from streams.retry import Backoff
from streams.stopping import StopSignal

logger = logging.getLogger(__name__)

VALUE_DROPPED_HEADER = "agenther-value-dropped"
_SEND_BACKOFF = Backoff(initial_s=0.5, max_s=10.0)


def _shrink(records: Sequence[Outgoing]) -> bool:
    """One step smaller; False when nothing is left to drop. Our own headers stay: they are
    short and say where the input is."""
    shrunk = False
    for out in records:
        names = {name for name, _ in out.headers}
        if VALUE_DROPPED_HEADER not in names:
            out.value = None
            out.headers.append((VALUE_DROPPED_HEADER, b"broker refused the size"))
            shrunk = True
        elif out.key is not None or any(not n.startswith("agenther-") for n in names):
            out.key = None
            out.value = b""  # a record needs a key or a value
            out.headers = [(n, v) for n, v in out.headers if n.startswith("agenther-")]
            shrunk = True
    return shrunk


class DeadLetterFactory(Protocol):
    def __call__(
        self, record: Any, stage: str, exc: BaseException | None, *, attempts: int
    ) -> Decision: ...


class Delivery:
    def __init__(
        self,
        producer: Any,
        *,
        dead_letter: DeadLetterFactory,
        scrubber: SecretScrubber,
        stop: StopSignal,
    ) -> None:
        self._producer = producer
        self._dead_letter = dead_letter
        self._scrubber = scrubber
        self._stop = stop

    async def deliver(self, record: Any, decision: Decision) -> None:
        """Write and await every output of ``decision`` (which may be replaced in place);
        raises ``Abandoned`` when a stop comes while the broker is unreachable."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.send_all(decision.records)
                return
            except KafkaError as exc:
                if not exc.retriable and decision.outcome is not Outcome.DEAD_LETTER:
                    # e.g. an example larger than the broker accepts: keep the input instead.
                    replacement = self._dead_letter(record, PRODUCE_STAGE, exc, attempts=1)
                    decision.outcome, decision.records = replacement.outcome, replacement.records
                    decision.label, decision.reason = replacement.label, replacement.reason
                    continue
                if not exc.retriable:
                    # The dead letter itself is refused (too large): make it smaller, first
                    # without the value, then without the key and the run's own headers.
                    if _shrink(decision.records):
                        continue
                    logger.error(
                        "dead letter refused even without key, value and the run's headers "
                        "(%s); the event is given up",
                        self._scrubber.describe(exc),
                    )
                    return
                if self._stop.is_set():
                    raise Abandoned() from exc
                delay = _SEND_BACKOFF.ceiling(attempt)
                logger.warning(
                    "producing failed (%s); retrying in %.1fs", self._scrubber.describe(exc), delay
                )
                await self._stop.sleep(delay)

    async def send_all(self, records: Sequence[Outgoing]) -> None:
        futures = [
            await self._producer.send(out.topic, value=out.value, key=out.key, headers=out.headers)
            for out in records
        ]
        await asyncio.gather(*futures)
