"""Collects the figures the reliability tests measure and reports them at the end of the run:
a table in the terminal summary (so CI output shows it) and test-artifacts/reliability.json."""

import pytest

from tests.reliability import figures


def pytest_sessionfinish(session: pytest.Session) -> None:
    if figures.FIGURES:
        figures.write()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if not figures.FIGURES:
        return
    terminalreporter.section("reliability figures")
    terminalreporter.write_line(f"RELIABILITY_SCALE={figures.scale()}  written to {figures.ARTIFACT}")
    for line in figures.table(figures.as_dict()):
        terminalreporter.write_line(line)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Skipped reliability tests (the races without PostgreSQL, say) show in the table, so a
    table without their rows does not pass for a clean run of them."""
    if not report.skipped or not report.nodeid.startswith("tests/reliability/"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    figures.add("skipped here (not run)", reason.removeprefix("Skipped: ")[:80])
