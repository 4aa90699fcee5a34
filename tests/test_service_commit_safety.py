"""Commits stay on top of what the broker holds: a lost membership commits nothing, and a group
offset that moved under the member (a broker restarted empty) restarts the partition instead of
committing positions that would skip the new log's first records."""

from __future__ import annotations

from types import SimpleNamespace

from aiokafka import TopicPartition

from streams.processor import RelabelService
from streams.settings import ServiceSettings

TP = TopicPartition("runs", 0)


class FakeConsumer:
    """The consumer calls the service makes while committing, against a broker-side dict."""

    def __init__(self, generation: int = 1) -> None:
        self.group_offsets: dict[TopicPartition, int] = {}
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int | None]] = []
        self._coordinator = SimpleNamespace(generation=generation)

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.group_offsets.get(tp)

    async def commit(self, positions: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(positions))
        self.group_offsets.update(positions)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        self.seeks.extend((tp, None) for tp in tps)


def _service(consumer: FakeConsumer) -> RelabelService:
    settings = ServiceSettings(
        bootstrap_servers="127.0.0.1:1", metrics_port=0, pipeline={"rule_based": True}
    )
    service = RelabelService(settings)
    service._consumer = consumer  # type: ignore[assignment]
    return service


def _done(service: RelabelService, *offsets: int) -> None:
    epochs = [service._commits.track(TP, offset) for offset in offsets]
    for offset, epoch in zip(offsets, epochs, strict=True):
        service._commits.done(TP, [offset], epoch)


async def test_commits_move_on_while_the_group_offset_is_ours() -> None:
    consumer = FakeConsumer()
    service = _service(consumer)
    _done(service, 0, 1, 2)
    await service._commit()
    _done(service, 3, 4)
    await service._commit()
    assert consumer.commits == [{TP: 3}, {TP: 5}]
    assert consumer.seeks == []


async def test_a_group_offset_lost_by_the_broker_restarts_the_partition() -> None:
    consumer = FakeConsumer()
    service = _service(consumer)
    _done(service, 0, 1, 2, 3, 4)
    await service._commit()
    epoch = service._commits.epoch(TP)

    consumer.group_offsets.clear()  # the broker restarted empty; the consumer read on at 5
    _done(service, 5, 6)
    await service._commit()

    assert consumer.commits == [{TP: 5}], "7 would skip offsets 0-4 of the new log"
    assert consumer.seeks == [(TP, None)]  # no group offset: from the beginning
    assert service._commits._offsets.to_commit() == {}
    assert service._commits.epoch(TP) == epoch + 1  # work begun before cannot complete new offsets

    # Tracking starts again from the re-read records, and commits resume.
    _done(service, 0, 1)
    await service._commit()
    assert consumer.commits[-1] == {TP: 2}


async def test_a_group_offset_moved_elsewhere_restarts_there() -> None:
    consumer = FakeConsumer()
    service = _service(consumer)
    _done(service, 0, 1)
    await service._commit()
    consumer.group_offsets[TP] = 1
    _done(service, 2)
    await service._commit()
    assert consumer.seeks == [(TP, 1)]
    assert consumer.commits == [{TP: 2}]


async def test_partitions_lost_with_the_membership_are_not_committed() -> None:
    consumer = FakeConsumer(generation=-1)  # aiokafka reset it: the group forgot this member
    service = _service(consumer)
    _done(service, 0, 1, 2)
    await service._on_revoked({TP})
    assert consumer.commits == []
    assert service._commits._offsets.to_commit() == {}


async def test_a_normal_revocation_commits_finished_work_first() -> None:
    consumer = FakeConsumer(generation=4)
    service = _service(consumer)
    _done(service, 0, 1, 2)
    await service._on_revoked({TP})
    assert consumer.commits == [{TP: 3}]


def test_the_private_generation_the_lost_check_reads_still_exists() -> None:
    # aiokafka has no "partitions lost" callback; an upgrade that renames these breaks the check.
    import inspect

    from aiokafka import AIOKafkaConsumer
    from aiokafka.consumer.group_coordinator import GroupCoordinator
    from aiokafka.protocol.commit import OffsetCommitRequest

    assert OffsetCommitRequest.DEFAULT_GENERATION_ID == -1
    assert "self._coordinator = GroupCoordinator(" in inspect.getsource(AIOKafkaConsumer)
    reset = inspect.getsource(GroupCoordinator.reset_generation)
    assert "self.generation = OffsetCommitRequest.DEFAULT_GENERATION_ID" in reset
