"""Leaving the consumer group on a graceful stop, on brokers that number generations from 0.

aiokafka sends LeaveGroup only when the member's generation is above 0, Kafka's numbering.
Tansu (the embedded broker) numbers the first generation 0 and never expires a silent member,
so a stopped service stayed in its group for good and `agenther replay` refused the group as
active. This sends the one request aiokafka skips; on Kafka the generation is never 0 and
nothing is sent. It reaches into aiokafka's coordinator (private): if that changes, the stop
is as before, only the leave is missing.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

logger = logging.getLogger(__name__)


async def leave_generation_zero(consumer: Any) -> None:
    coordinator = getattr(consumer, "_coordinator", None)
    member = getattr(coordinator, "member_id", "")
    if coordinator is None or getattr(coordinator, "generation", None) != 0 or not member:
        return
    from aiokafka.protocol.group import LeaveGroupRequest

    with contextlib.suppress(Exception):
        await coordinator._send_req(LeaveGroupRequest(coordinator.group_id, member))
        logger.debug("left group %s (generation 0)", coordinator.group_id)
