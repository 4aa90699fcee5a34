"""Bounded exponential backoff with full jitter (AWS architecture blog's "Full Jitter").

Full jitter spreads the retries of many in-flight runs that hit the same 429 at once, so they
do not come back at the endpoint in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    initial_s: float
    max_s: float
    rng: random.Random | None = None

    def ceiling(self, attempt: int) -> float:
        """Upper bound of the wait before retry number ``attempt`` (1-based)."""
        return min(self.max_s, self.initial_s * 2.0 ** max(0, attempt - 1))

    def delay(self, attempt: int) -> float:
        rng = self.rng or random
        return float(rng.uniform(0.0, self.ceiling(attempt)))

    def delays(self, retries: int) -> Iterator[float]:
        for attempt in range(1, retries + 1):
            yield self.delay(attempt)

    @classmethod
    def from_ms(cls, initial_ms: int, max_ms: int) -> Backoff:
        return cls(initial_s=initial_ms / 1000.0, max_s=max(initial_ms, max_ms) / 1000.0)
