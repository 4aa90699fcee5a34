"""A pause for the whole service while the LLM account is out of quota.

A 429 ``insufficient_quota`` says no request will pass until someone adds credit. Retrying each
event on its own schedule would hammer the endpoint, and dead-lettering would move the whole
backlog to the dead-letter topic within seconds. Instead the first event that sees it closes
this gate: fetching pauses, every in-flight event waits at the gate, ``/readyz`` says why, and
after a capped, growing wait one event tries again. A success opens the gate for good.
"""

from __future__ import annotations

import time

from streams.metrics import ServiceMetrics
from streams.retry import Backoff
from streams.stopping import StopSignal


class QuotaPause:
    def __init__(self, backoff: Backoff, metrics: ServiceMetrics, stop: StopSignal) -> None:
        self._backoff = backoff
        self._metrics = metrics
        self._stop = stop
        self._until = 0.0
        self._episodes = 0  # closings since the last success: each waits longer

    @property
    def closed(self) -> bool:
        return time.monotonic() < self._until

    @property
    def seconds_left(self) -> float:
        return max(0.0, self._until - time.monotonic())

    def close(self, retry_after: float | None) -> bool:
        """Close (or keep closed) after a quota error; True when this call closed it."""
        self._metrics.llm_quota_errors.inc()
        opening = not self.closed
        if opening:
            self._episodes += 1
        wait = max(self._backoff.ceiling(self._episodes), retry_after or 0.0)
        self._until = max(self._until, time.monotonic() + wait)
        self._metrics.llm_paused.set(1)
        return opening

    def succeeded(self) -> None:
        """An LLM-backed run went through: the quota is back."""
        self._episodes = 0

    async def wait_open(self) -> bool:
        """Wait while closed; True when a stop was asked for meanwhile."""
        while self.closed:
            if await self._stop.sleep(self.seconds_left):
                return True
        self._metrics.llm_paused.set(0)
        return self._stop.is_set()
