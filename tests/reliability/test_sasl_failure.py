"""SASL with a password that is really checked.

Tansu speaks no SASL: it refuses the mechanism at the handshake, before any password is sent,
so a test against it alone cannot tell a password that is checked from one that is ignored
(or never sent). Here ``tests/support/sasl_proxy.py`` sits in front of the broker: it answers
the SASL handshake with PLAIN, checks the user name and password of every connection, refuses a
wrong one with error 58 (``SASL_AUTHENTICATION_FAILED``) as a broker does, and proxies the
rest. It rewrites the broker addresses in metadata to its own, so every connection the service
opens (bootstrap, partition leader, group coordinator) goes through it and authenticates.

- A wrong password: the proxy refuses it (so it was sent and checked), the service stays
  alive and not ready, says it cannot reach Kafka and why, consumes nothing, and neither
  password (nor the API key) appears in its ``--log-level DEBUG`` log or ``/metrics`` in any
  form.
- The right password: the proxy accepts it, only it, on every connection; the service becomes
  ready and relabels events through the proxy, and still no password appears anywhere.
"""

from __future__ import annotations

import secrets as token
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.faults import ServiceProcess, record_bytes, secret_leaks, serve_args, unique_runs
from tests.support.kafka_fixtures import collect, committed_offsets, produce, wait_for
from tests.support.sasl_proxy import SaslPlainProxy

pytestmark = [pytest.mark.kafka, pytest.mark.reliability]

USER = "agent"
RIGHT = "pw-right-" + token.token_hex(12)
WRONG = "pw-wrong-" + token.token_hex(12)
API_KEY = "sk-sasl-" + token.token_hex(16)


@pytest.fixture
def sasl_proxy(kafka_bootstrap: str) -> Iterator[SaslPlainProxy]:
    with SaslPlainProxy(kafka_bootstrap, username=USER, password=RIGHT) as proxy:
        yield proxy


def sasl_service(topics: Any, proxy: SaslPlainProxy, password: str, *extra: str) -> ServiceProcess:
    return ServiceProcess(
        serve_args(
            topics,
            proxy.bootstrap,
            "--rule-based",
            "--security-protocol",
            "SASL_PLAINTEXT",
            "--sasl-mechanism",
            "PLAIN",
            "--sasl-username",
            USER,
            *extra,
        ),
        env={"AGENTHER_SASL_PASSWORD": password, "OPENAI_API_KEY": API_KEY},
    )


async def test_a_wrong_password_is_refused_and_the_service_waits_without_leaking_it(
    kafka_bootstrap: str, service_topics: Any, sasl_proxy: SaslPlainProxy
) -> None:
    topics = await service_topics(partitions=1)
    await produce(kafka_bootstrap, topics.input, unique_runs("sasl-wrong", 3))
    service = sasl_service(topics, sasl_proxy, WRONG, "--log-level", "DEBUG")
    try:
        service.start()
        refused_twice = await wait_for(
            lambda: (
                len(sasl_proxy.refused_users) >= 2
                and service.log_text().count("not reachable") >= 2
            ),
            timeout_s=30,
        )
        alive = service.running
        live_status, _ = service.http_get("/healthz")
        ready_status, ready_body = service.http_get("/readyz")
        _, metrics = service.http_get("/metrics")
        returncode = service.terminate()
        log = service.log_text()
    finally:
        service.close()

    # The password was sent and checked, and refused: the service retries, it does not die.
    assert refused_twice, (sasl_proxy.refused_users, log[-3000:])
    assert sasl_proxy.handshakes and set(sasl_proxy.handshakes) == {"PLAIN"}
    assert set(sasl_proxy.refused_users) == {USER}
    assert sasl_proxy.accepted_users == []
    assert sasl_proxy.refused_unauthenticated == 0  # nothing tried to skip the login
    assert alive and live_status == 200
    assert ready_status == 503, ready_body
    assert returncode == 0, log[-3000:]
    assert f"Kafka at {sasl_proxy.bootstrap} not reachable" in log, log[-3000:]
    assert "SaslAuthenticationFailed" in log, log[-3000:]  # aiokafka's line, kept at DEBUG
    assert "DEBUG" in log
    # Nothing was consumed.
    outputs = await collect(
        kafka_bootstrap, [topics.output, topics.rejects, topics.dlq], until=1, timeout_s=1
    )
    assert outputs == []
    assert await committed_offsets(kafka_bootstrap, topics.group, topics.input) == {0: -1}

    leaks = secret_leaks([WRONG, RIGHT, API_KEY], {"log": log, "metrics": metrics})
    assert not leaks, leaks


async def test_the_right_password_is_accepted_on_every_connection_and_never_leaks(
    kafka_bootstrap: str, service_topics: Any, sasl_proxy: SaslPlainProxy
) -> None:
    topics = await service_topics(partitions=1)
    runs = unique_runs("sasl-right", 3)
    await produce(kafka_bootstrap, topics.input, runs)
    service = sasl_service(topics, sasl_proxy, RIGHT, "--log-level", "DEBUG")
    try:
        service.start()
        ready = service.wait_ready(30)
        outputs = await collect(
            kafka_bootstrap,
            [topics.output, topics.rejects, topics.dlq],
            until=len(runs),
            timeout_s=20,
        )
        _, metrics = service.http_get("/metrics")
        returncode = service.terminate()
        log = service.log_text()
    finally:
        service.close()

    assert ready, log[-3000:]
    assert {r.key.decode() for r in outputs} == {r["run_id"] for r in runs}, log[-3000:]
    assert returncode == 0, log[-3000:]
    # Every connection logged in with the right password: bootstrap, the partition leader and
    # the group coordinator, for the admin client, the producer and the consumer.
    assert len(sasl_proxy.accepted_users) >= 3, sasl_proxy.accepted_users
    assert set(sasl_proxy.accepted_users) == {USER}
    assert sasl_proxy.refused_users == []
    assert sasl_proxy.refused_unauthenticated == 0
    assert await committed_offsets(kafka_bootstrap, topics.group, topics.input) == {0: 3}

    leaks = secret_leaks(
        [RIGHT, API_KEY], {"log": log, "metrics": metrics, "topics": record_bytes(outputs)}
    )
    assert not leaks, leaks


async def test_a_password_with_a_backslash_or_accent_stays_out_of_the_debug_log(
    kafka_bootstrap: str, service_topics: Any
) -> None:
    password = "pw-odd-" + token.token_hex(12) + "-ü\\"  # a generated password may hold both
    with SaslPlainProxy(kafka_bootstrap, username=USER, password=password) as proxy:
        topics = await service_topics(partitions=1)
        service = sasl_service(topics, proxy, password, "--log-level", "DEBUG")
        try:
            service.start()
            ready = service.wait_ready(30)
            _, metrics = service.http_get("/metrics")
            service.terminate()
            log = service.log_text()
        finally:
            service.close()
    assert ready, log[-3000:]
    assert USER in proxy.accepted_users  # the password went over the wire, and was right
    leaks = secret_leaks([password], {"log": log, "metrics": metrics})
    assert not leaks, leaks


async def test_a_wrong_password_is_logged_as_such_at_the_default_log_level(
    kafka_bootstrap: str, service_topics: Any, sasl_proxy: SaslPlainProxy
) -> None:
    topics = await service_topics(partitions=1)
    service = sasl_service(topics, sasl_proxy, WRONG)
    try:
        service.start()
        await wait_for(lambda: service.log_text().count("not reachable") >= 2, timeout_s=30)
        service.terminate()
        log = service.log_text()
    finally:
        service.close()
    assert sasl_proxy.refused_users, log[-3000:]
    # An operator must be able to tell a wrong password from a network problem.
    assert "authentication" in log.lower(), log[-3000:]
    assert not secret_leaks([WRONG, RIGHT], {"log": log})
