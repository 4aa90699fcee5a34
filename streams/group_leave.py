"""Leaving the consumer group on a graceful stop, on brokers that number generations from 0.

aiokafka sends LeaveGroup only when the member's generation is above 0, Kafka's numbering.
Tansu (the embedded broker) numbers the first generation 0 and never expires a silent member,
so a stopped service stayed in its group for good and `agenther replay` refused the group as
active. This sends the one request aiokafka skips; on Kafka the generation is never 0 and
nothing is sent. It reaches into aiokafka's coordinator (private): if that changes, the stop
is as before, only the leave is missing.

The request is bounded: a broker that never answers a LeaveGroup would otherwise hold the stop
for aiokafka's whole request timeout (40 s), and a stop must not hang on a courtesy.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

logger = logging.getLogger(__name__)


# Tansu answers a LeaveGroup in milliseconds; a broker that takes longer is not answering.
LEAVE_TIMEOUT_S = 5.0


async def leave_generation_zero(consumer: Any, timeout_s: float = LEAVE_TIMEOUT_S) -> None:
    coordinator = getattr(consumer, "_coordinator", None)
    member = getattr(coordinator, "member_id", "")
    if coordinator is None or getattr(coordinator, "generation", None) != 0 or not member:
        return
    from aiokafka.protocol.group import LeaveGroupRequest

    request = LeaveGroupRequest(coordinator.group_id, member)
    try:
        await asyncio.wait_for(coordinator._send_req(request), timeout_s)
    except TimeoutError:
        logger.warning(
            "the broker did not answer LeaveGroup within %.0f s: stopping without it; the "
            "group may wait for this member until the broker drops it",
            timeout_s,
        )
        return
    except Exception as exc:  # the stop goes on; the leave was a courtesy
        logger.debug("LeaveGroup failed: %s", exc)
        return
    logger.debug("left group %s (generation 0)", coordinator.group_id)
