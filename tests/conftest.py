"""Shared test setup.

Live tests (``@pytest.mark.live``, optionally naming the tools they need:
``@pytest.mark.live("bpftrace", "execsnoop")``) run real strace and eBPF tools as
root.  Where they cannot run they are skipped, except in CI (``CI`` set): there a
skipped live test is a failure, so a broken runner cannot pass by testing nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator

import pytest

LIVE_BASE_TOOLS = ("strace",)


def live_unmet(tools: tuple[str, ...]) -> str | None:
    """Why live tests needing ``tools`` cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "live tests need root"
    missing = [t for t in (*LIVE_BASE_TOOLS, *tools) if shutil.which(t) is None]
    if missing:
        return "not installed: " + ", ".join(missing)
    if not os.path.isdir("/sys/kernel/tracing/events"):
        return ("tracefs is not mounted "
                "(mount -t tracefs nodev /sys/kernel/tracing)")
    return None


@pytest.fixture(autouse=True)
def _live_requirements(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("live")
    if marker is None:
        return
    reason = live_unmet(tuple(str(a) for a in marker.args))
    if reason is not None:
        pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    # An expected failure (xfail) ran; it is reported as skipped but tested something.
    if (report.skipped and not hasattr(report, "wasxfail") and os.environ.get("CI")
            and item.get_closest_marker("live")):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"live test skipped under CI (a skip is a failure here): {reason}"
