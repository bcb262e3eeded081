"""No recording crashes any path: every fixture through ``run``'s live parsing and
through ``parse`` in every format and every level of detail.

``run`` reads strace's output from a FIFO as it comes: here each fixture is written
into a pipe in small pieces by a thread while the live view reads it with the same
framing, parser and :class:`~bpfexplain.live.LiveView` (steps printed as they come),
then tells the final story in each of ``run``'s formats.  ``parse`` is exercised
through the same functions the CLI calls, every :class:`~bpfexplain.cli.ParseFormat`
included, so a new format is covered the day it is added.

Each fixture is parsed once per path and its story rendered many times: the whole
module stays well under a minute on two cores.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from bpfexplain.cli import ParseFormat, RunFormat
from bpfexplain.framing import Stats, frames_from_streams, open_inputs
from bpfexplain.live import LiveView
from bpfexplain.parser import events_from_frames, parse_events
from bpfexplain.pipeline import make_resolver
from bpfexplain.render.events import event_line
from bpfexplain.render.export import format_story, write_story
from bpfexplain.render.text import make_console
from bpfexplain.story import build_story
from bpfexplain.tracking import Tracker
from bpfexplain.values import Event
from tests.fixture_stories import FIXTURES, fixture_names

DETAILS = ("brief", "default", "verbose")
CHUNK = 997
"""Bytes per write into the pipe: a prime, so lines are split at every offset."""


def _is_single_log(name: str) -> bool:
    return (FIXTURES / name).is_file()


def _feed_pipe(path: Path, fd: int) -> None:
    with open(fd, "wb", buffering=0) as out, path.open("rb") as src:
        while chunk := src.read(CHUNK):
            out.write(chunk)


def _render_all(story_for: dict[str, object], formats: list[str]) -> None:
    """Every format of every detail level, plus the coloured terminal story."""
    from bpfexplain.story import Story

    for detail, story in story_for.items():
        assert isinstance(story, Story)
        for fmt in formats:
            text = format_story(story, fmt)
            assert text.strip(), (detail, fmt)
        coloured = io.StringIO()
        write_story(story, "text", coloured, color=True)
        assert "\x1b[" in coloured.getvalue()


@pytest.mark.parametrize("name", [n for n in fixture_names() if _is_single_log(n)])
def test_run_live_path_never_crashes(name: str) -> None:
    path = FIXTURES / name
    read_end, write_end = os.pipe()
    writer = threading.Thread(target=_feed_pipe, args=(path, write_end), daemon=True)
    writer.start()
    out = io.StringIO()
    view = LiveView(make_console(out, width=100, color=False), quiet=False)
    stats = Stats()
    with open(read_end, "rb", buffering=0) as stream:
        frames = frames_from_streams([("<strace>", stream)], stats)
        for event in events_from_frames(frames, stats, names=["<strace>"]):
            view.feed(event)
    writer.join(10)
    assert stats.lines > 0
    _render_all({d: view.story(d) for d in DETAILS}, [f.value for f in RunFormat])


@pytest.mark.parametrize("name", fixture_names())
def test_parse_every_format_never_crashes(name: str) -> None:
    path = str(FIXTURES / name)
    streams = open_inputs([path])
    try:
        stats = Stats()
        events: list[Event] = list(parse_events(streams, stats))
    finally:
        for _, stream in streams:
            stream.close()
    assert events
    names = [path]
    lines = [event_line(e, names) for e in events]  # --format events
    assert len(lines) == len(events)
    tracker = Tracker(make_resolver([path], local=False), files=names)
    for event in events:
        tracker.feed(event)
    lifecycle = tracker.lifecycle()
    story_for: dict[str, object] = {d: build_story(lifecycle, d) for d in DETAILS}
    _render_all(story_for, [f.value for f in ParseFormat if f is not ParseFormat.events])
