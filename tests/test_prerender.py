"""The story rendered ahead while the loader is quiet prints exactly as the plain story.

``run`` builds the story so far when strace has been quiet for a moment and renders
its phases, graph and problems; the final story then writes the parts that did not
change as they were rendered.  Held here: the snapshot leaves the tracker untouched,
the cached text is byte for byte what printing writes (every recording, colour on),
a resized console renders afresh, and the idle hook and its budget behave.
"""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path
from queue import SimpleQueue
from types import SimpleNamespace
from typing import Any

import pytest

from bpfexplain import live
from bpfexplain.framing import Stats, frames_from_streams, open_inputs
from bpfexplain.parser import events_from_frames
from bpfexplain.pipeline import LiveExplainer, make_resolver
from bpfexplain.render.text import Prerendered, make_console, print_story, story_parts
from bpfexplain.story import Story
from bpfexplain.values import Tracked
from tests.fixture_stories import FIXTURES, ROOT, fixture_names


def events_of(name: str) -> list[Tracked]:
    """A recording's events as ``run`` reads them (map walks in bulk)."""
    streams = open_inputs([str(FIXTURES / name)])
    try:
        named = [(str(Path(n).relative_to(ROOT)), s) for n, s in streams]
        stats = Stats()
        return list(events_from_frames(frames_from_streams(named, stats, map_reads=True),
                                       stats, names=[n for n, _ in named]))
    finally:
        for _, stream in streams:
            stream.close()


def explainer_for(name: str) -> LiveExplainer:
    return LiveExplainer(make_resolver([str(FIXTURES / name)], local=False), files=[name])


def plain(story: Story, width: int = 100) -> str:
    out = io.StringIO()
    print_story(story, make_console(out, width=width, color=True))
    return out.getvalue()


def with_cache(story: Story, prerendered: Prerendered) -> str:
    out = prerendered.console.file
    assert isinstance(out, io.StringIO)
    out.seek(0)
    out.truncate()
    print_story(story, prerendered.console, prerendered)
    return out.getvalue()


@pytest.mark.parametrize("name", [n for n in fixture_names() if n.endswith(".log")])
def test_prerendered_parts_print_as_the_plain_story(name: str) -> None:
    events = events_of(name)
    explainer = explainer_for(name)
    prerendered = Prerendered(make_console(io.StringIO(), width=100, color=True))
    for n, event in enumerate(events):
        if n == len(events) // 2:
            prerendered.fill(explainer.story_so_far())  # the loader quiet halfway
        explainer.feed(event)
    snapshot = explainer.story_so_far()
    final = explainer.story()
    # The snapshots changed nothing: the story is the one made without them.
    fresh = explainer_for(name)
    for event in events:
        fresh.feed(event)
    assert final == fresh.story()
    assert snapshot == final  # the story so far, when nothing more comes, is the story
    expected = plain(final)
    assert with_cache(final, prerendered) == expected  # parts from halfway, the rest new
    prerendered.fill(snapshot)
    keyed = [key for key, _ in story_parts(final) if key is not None]
    assert all(prerendered.text(key) is not None for key in keyed)
    assert with_cache(final, prerendered) == expected  # every keyed part from the cache


def test_a_resized_console_renders_afresh() -> None:
    name = "seed.log"
    explainer = explainer_for(name)
    for event in events_of(name):
        explainer.feed(event)
    story = explainer.story()
    prerendered = Prerendered(make_console(io.StringIO(), width=100, color=True))
    prerendered.fill(story)
    keyed = [key for key, _ in story_parts(story) if key is not None]
    assert all(prerendered.text(key) is not None for key in keyed)
    prerendered.console.width = 60
    assert all(prerendered.text(key) is None for key in keyed)
    assert with_cache(story, prerendered) == plain(story, width=60)


def test_a_recording_console_is_not_served_from_the_cache() -> None:
    console = make_console(io.StringIO(), width=100, color=True)
    console.record = True  # export_text/svg read the record: it must see every part
    assert not Prerendered(console).usable()


# ---- the idle hook -------------------------------------------------------------------

def test_the_reader_calls_idle_once_per_quiet_spell() -> None:
    chunks: SimpleQueue[bytes] = SimpleQueue()
    calls: list[float] = []
    reader = live._ChunkReader(chunks, lambda: calls.append(time.monotonic()))
    buffer = memoryview(bytearray(16))
    chunks.put(b"abc")
    assert reader.readinto(buffer) == 3
    assert calls == []  # data was there: no quiet spell
    threading.Timer(0.3, chunks.put, [b"de"]).start()
    asked = time.monotonic()
    assert reader.readinto(buffer) == 2
    assert len(calls) == 1 and calls[0] - asked >= live.IDLE_AFTER * 0.9
    chunks.put(b"")
    assert reader.readinto(buffer) == 0
    assert len(calls) == 1  # the end came at once


def quiet_view(name: str) -> tuple[live.LiveView, Prerendered, list[Tracked]]:
    view = live.LiveView(make_console(io.StringIO()), quiet=True, files=[name])
    view.explainer = explainer_for(name)
    session: Any = SimpleNamespace(trace=SimpleNamespace(on_idle=None),
                                   started=time.monotonic())
    view.attach(session)
    assert session.trace.on_idle == view.get_ahead
    prerendered = Prerendered(make_console(io.StringIO(), width=100, color=True))
    view.prepare_story("default", prerendered)
    return view, prerendered, events_of(name)


def test_get_ahead_prepares_only_when_there_is_something_new(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "PREPARE_SPACING", 0)
    view, prerendered, events = quiet_view("seed.log")
    fills: list[int] = []
    real = prerendered.fill

    def counted(story: Story) -> int:
        fills.append(1)
        return real(story)

    monkeypatch.setattr(prerendered, "fill", counted)
    view.get_ahead()
    assert fills == []  # nothing fed yet
    for event in events[:len(events) // 2]:
        view.feed(event)
    view.get_ahead()
    view.get_ahead()
    assert fills == [1]  # once: no new event the second time
    view.feed(events[len(events) // 2])
    view.get_ahead()
    assert fills == [1, 1]


def test_get_ahead_keeps_to_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "PREPARE_SPACING", 0)
    monkeypatch.setattr(live, "PREPARE_BUDGET", 0.0)
    monkeypatch.setattr(live, "PREPARE_SHARE", 0.0)
    view, prerendered, events = quiet_view("seed.log")
    view.feed(events[0])
    view.get_ahead()  # the first is free: nothing spent yet
    assert prerendered._texts
    before = dict(prerendered._texts)
    for event in events[1:]:
        view.feed(event)
    view.get_ahead()
    assert prerendered._texts == before  # over budget: not prepared again


def test_a_failing_preparation_gives_up_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    view, prerendered, events = quiet_view("seed.log")
    for event in events:
        view.feed(event)
    prerendered.fill(view.story())

    def broken(detail: str = "default") -> Story:
        raise RuntimeError("a bug in the snapshot")

    monkeypatch.setattr(view.explainer, "story_so_far", broken)
    view.get_ahead()
    assert not prerendered._texts and view._prepare is None
    assert with_cache(view.story(), prerendered) == plain(view.story())


@pytest.mark.parametrize("name", [n for n in fixture_names()
                                  if n.startswith("net-") and n.endswith(".log")])
def test_a_snapshot_after_every_event_changes_nothing(name: str) -> None:
    """The lifecycle finishes in place (a netlink request not yet answered is told as
    never answered): taken from the live tracker mid-run, it would change the story."""
    events = events_of(name)
    explainer = explainer_for(name)
    for event in events:
        explainer.feed(event)
        explainer.story_so_far()
    fresh = explainer_for(name)
    for event in events:
        fresh.feed(event)
    assert explainer.story() == fresh.story()


def test_the_deep_explainers_pipe_calls_idle_once_per_quiet_spell() -> None:
    from bpfexplain.deep import split

    read_end, write_end = os.pipe()
    raw = split._QuietRaw(read_end)
    calls: list[float] = []
    raw.idle = lambda: calls.append(time.monotonic())
    try:
        os.write(write_end, b"abc")
        buffer = bytearray(16)
        assert raw.readinto(memoryview(buffer)) == 3
        assert calls == []  # data was there: no quiet spell
        threading.Timer(0.3, os.write, [write_end, b"de"]).start()
        assert raw.readinto(memoryview(buffer)) == 2
        assert len(calls) == 1
        os.close(write_end)
        write_end = -1
        assert raw.readinto(memoryview(buffer)) == 0  # the end comes at once
        assert len(calls) == 1
    finally:
        raw.close()
        if write_end >= 0:
            os.close(write_end)


def test_get_ahead_leaves_a_big_tracker_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    view, prerendered, events = quiet_view("seed.log")
    for event in events:
        view.feed(event)
    monkeypatch.setattr(live, "PREPARE_MAX_ACTIONS", len(view.explainer.tracker.actions) - 1)
    view.get_ahead()
    assert not prerendered._texts  # too many actions to copy: no head start
    monkeypatch.setattr(live, "PREPARE_MAX_ACTIONS", len(view.explainer.tracker.actions))
    view.get_ahead()
    assert prerendered._texts
