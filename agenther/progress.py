"""Progress of a batch run: a bar on a terminal, a periodic log line elsewhere.

A bar (tqdm) only when stderr is a terminal, so that CI logs and redirected output are not
filled with carriage returns; there, one INFO line every ``every_s`` seconds (shown with
``-v``) says how far the run is.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from typing import IO, Any

logger = logging.getLogger("agenther.progress")


class Progress:
    def __init__(
        self, *, every_s: float = 10.0, stream: IO[str] | None = None, redraw_s: float = 0.1
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._every_s = every_s
        self._counts: Counter[str] = Counter()
        self._started = self._last_log = time.monotonic()
        self._bar: Any = None
        if self._stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(
                file=self._stream,
                unit=" runs",
                dynamic_ncols=True,
                leave=False,
                mininterval=redraw_s,
            )

    def done(self, outcome: str) -> None:
        """One run ended: ``example``, ``rejected`` or ``error``."""
        self._counts[outcome] += 1
        if self._bar is not None:
            self._bar.set_postfix(self._counts, refresh=False)
            self._bar.update(1)  # redraws, at most every redraw_s
            return
        now = time.monotonic()
        if now - self._last_log >= self._every_s:
            self._last_log = now
            logger.info("%s", self.line())

    def line(self) -> str:
        total = sum(self._counts.values())
        seconds = max(time.monotonic() - self._started, 1e-9)
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(self._counts.items()))
        return f"{total} runs done ({parts}), {total / seconds:.1f} runs/s"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
