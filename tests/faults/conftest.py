"""The fault suite prints its table at the end of the run: `.venv/bin/pytest tests/faults`."""

from __future__ import annotations

import pytest

from tests.faults.fakes import RESULTS, table


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RESULTS:
        terminalreporter.section("daily posts under faults (one row per fault; lost is only ever unconfirmed)")
        terminalreporter.write_line(table(RESULTS))
