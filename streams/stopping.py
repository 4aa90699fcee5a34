"""The service's stop request, and waits that end early when it comes.

Every wait in the service (backoff before a retry, a pause for quota, the broker being away)
must give way to SIGTERM at once, or a rolling upgrade would sit out a 30 s backoff.
"""

from __future__ import annotations

import asyncio
import contextlib


class StopSignal:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()

    async def sleep(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True when a stop was asked for (before or meanwhile)."""
        if seconds > 0 and not self._event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), seconds)
        return self._event.is_set()
