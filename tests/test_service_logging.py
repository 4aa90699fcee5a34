"""The service's logging: aiokafka's per-attempt connection errors stay out of stderr (our own
line says it once, clearly) unless --log-level DEBUG asks for them."""

from __future__ import annotations

import logging

import pytest

from streams.commands.common import configure_logging
from streams.settings import ServiceSettings


def _emit_connect_noise() -> None:
    logging.getLogger("aiokafka").error('Unable connect to "%s:%s": %s', "127.0.0.1", 1, "refused")
    logging.getLogger("aiokafka").error("Unable to update metadata from %s", [1])
    logging.getLogger("aiokafka.conn").error("connection reset")


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield None
    root.handlers[:], level = saved
    root.setLevel(level)
    configure_logging(ServiceSettings(log_level="WARNING"))
    logging.getLogger().handlers[:] = saved[0]


def test_connection_noise_is_dropped_but_other_aiokafka_warnings_stay(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(ServiceSettings(log_level="INFO"))
    configure_logging(ServiceSettings(log_level="INFO"))  # twice: still one filter, one handler
    _emit_connect_noise()
    logging.getLogger("aiokafka.consumer.group_coordinator").warning("Marking the coordinator dead")
    logging.getLogger("aiokafka").warning("Topic t not found in cluster metadata")
    err = capsys.readouterr().err
    assert "Unable connect" not in err
    assert "Unable to update metadata" not in err
    assert "connection reset" not in err
    assert err.count("Marking the coordinator dead") == 1
    assert "not found in cluster metadata" in err


def test_debug_shows_the_connection_noise(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(ServiceSettings(log_level="INFO"))
    configure_logging(ServiceSettings(log_level="DEBUG"))
    _emit_connect_noise()
    err = capsys.readouterr().err
    assert 'Unable connect to "127.0.0.1:1"' in err
    assert "connection reset" in err
