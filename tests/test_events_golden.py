"""Golden tests of ``parse --format events`` over every fixture.

The goldens (tests/golden/events/NAME.jsonl) show exactly what the parser
understood of each real recording; the reading summary is part of them, so a
fixture that starts having unparsable lines fails here too.  Regenerate all the
goldens of every suite with ``.venv/bin/python -m tests.regen_goldens``, then
review ``git diff tests/golden``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfexplain.framing import Stats, open_inputs
from bpfexplain.parser import parse_events
from bpfexplain.render.events import event_line
from bpfexplain.render.summary import summary_lines
from tests.golden_files import check_golden

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def fixture_logs() -> list[Path]:
    """Every recorded log: NAME.log files and -ff directories of NAME.PID files."""
    logs = sorted(FIXTURES.glob("*.log"))
    logs += sorted(p for p in FIXTURES.iterdir()
                   if p.is_dir() and any(q.suffix[1:].isdigit() for q in p.iterdir()))
    return logs


def events_text(path: Path) -> tuple[str, Stats]:
    streams = open_inputs([str(path)])
    # Names relative to the repository keep the goldens free of this checkout's place.
    named = [(str(Path(name).relative_to(ROOT)), stream) for name, stream in streams]
    names = [name for name, _ in named]
    stats = Stats()
    try:
        lines = [event_line(event, names) for event in parse_events(named, stats)]
    finally:
        for _, stream in streams:
            stream.close()
    summary = [f"# {line}" for line in summary_lines(stats)]
    return "\n".join([*summary, *lines]) + "\n", stats


@pytest.mark.parametrize("log", fixture_logs(), ids=lambda p: p.stem if p.is_file() else p.name)
def test_events_golden(log: Path) -> None:
    text, stats = events_text(log)
    assert stats.unparsable == [], [(p.line, p.reason) for p in stats.unparsable]
    assert stats.calls > 0
    name = log.stem if log.is_file() else log.name
    check_golden(f"events/{name}.jsonl", text)
