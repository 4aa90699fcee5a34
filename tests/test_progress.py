"""Batch progress: a bar on a terminal, a periodic log line elsewhere."""

from __future__ import annotations

import io
import logging

import pytest

from agenther.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar() -> None:
    screen = Terminal()
    progress = Progress(stream=screen, redraw_s=0.0)
    for outcome in ("example", "rejected", "example"):
        progress.done(outcome)
    drawn = screen.getvalue()
    progress.close()
    assert "3 runs" in drawn and "example=2" in drawn


def test_elsewhere_no_bar_but_a_log_line_now_and_then(caplog: pytest.LogCaptureFixture) -> None:
    not_a_terminal = io.StringIO()
    caplog.set_level(logging.INFO, logger="agenther.progress")
    progress = Progress(stream=not_a_terminal, every_s=0.0)
    progress.done("example")
    progress.done("error")
    progress.close()
    assert not_a_terminal.getvalue() == ""
    assert caplog.messages[-1].startswith("2 runs done (1 error, 1 example)")

    quiet = Progress(stream=io.StringIO(), every_s=3600.0)
    caplog.clear()
    quiet.done("example")
    assert caplog.messages == []  # not before its interval
