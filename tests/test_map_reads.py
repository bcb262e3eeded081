"""Map walks in bulk tell the same story as one call at a time.

Two shortcuts make a map walk cheap (issue 11): framing hands ``run``'s map-read lines
over in bulk (:class:`~bpfexplain.values.MapReads`) instead of one grammar-parsed
:class:`~bpfexplain.values.Call` each, and the tracker lets successive reads of one
map share one action (:class:`~bpfexplain.tracking.records.OpRun`).  The grammar
stays the definition: every fixture line the bulk pattern takes must parse, by the
grammar, to the command, map fd and result the bulk event says; and every fixture's
story (text at every detail level, JSON, markdown, HTML) must be the same with and
without each shortcut, down to the line citations.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from bpfexplain.framing import Framer, Stats, _map_read_bytes, open_inputs
from bpfexplain.grammar import parse_call_text
from bpfexplain.logtext import read_log
from bpfexplain.parser import events_from_frames
from bpfexplain.pipeline import make_resolver
from bpfexplain.render.html import story_html
from bpfexplain.render.json import story_json
from bpfexplain.render.markdown import story_markdown
from bpfexplain.render.text import make_console, print_story
from bpfexplain.story import build_story
from bpfexplain.tracking import Tracker
from bpfexplain.tracking.objects import BpfObjects
from bpfexplain.values import MAP_READS, Call, MapReads, Sym, as_int, unwrap
from tests.fixture_stories import FIXTURES, fixture_names


def _events(path: str, *, bulk: bool, buffer: int | None = None
            ) -> Iterator[Call | MapReads | object]:
    streams = open_inputs([path])
    if buffer is not None:  # a small buffer: runs cut at every buffer edge
        streams = [(n, io.BufferedReader(io.BytesIO(s.read()), buffer)) for n, s in streams]
    stats = Stats()
    try:
        if len(streams) == 1:
            name, stream = streams[0]
            frames = Framer(stats, 0, map_reads=bulk).frames_of_stream(stream, name)
            yield from events_from_frames(frames, stats)
        else:
            from bpfexplain.parser import parse_events
            yield from parse_events(streams, stats, map_reads=bulk)
    finally:
        for _, s in streams:
            s.close()


def _rendered(path: str, *, bulk: bool, runs: bool, buffer: int | None = None,
              html: bool = False) -> dict[str, str]:
    opened = open_inputs([path])
    names = [name for name, _ in opened]
    for _, stream in opened:
        stream.close()
    tracker = Tracker(make_resolver([path], local=False), files=names)
    original = BpfObjects._extend_run
    if not runs:  # every map read its own action, as before runs existed
        BpfObjects._extend_run = lambda *args: False  # type: ignore[method-assign]
    try:
        for event in _events(path, bulk=bulk, buffer=buffer):
            tracker.feed(event)  # type: ignore[arg-type]
    finally:
        BpfObjects._extend_run = original  # type: ignore[method-assign]
    lc = tracker.lifecycle()
    out: dict[str, str] = {}
    for detail in ("brief", "default", "verbose"):
        story = build_story(lc, detail)
        text = io.StringIO()
        print_story(story, make_console(text, width=100, color=False))
        out[detail] = text.getvalue()
        if detail == "default":
            out["json"] = json.dumps(story_json(story), indent=1)
            out["markdown"] = story_markdown(story)
            if html:
                out["html"] = story_html(story, read_log([path]))
    out["ops"] = repr(sorted((o.id, sorted(o.ops.items())) for o in lc.objects if o.ops))
    # Every call's action, runs taken apart: the same calls, in the same order.
    out["actions"] = repr([(one.kind, one.obj.id if one.obj else None, one.pid, one.file,
                            one.line, one.first_line, one.detail)
                           for a in lc.actions for one in a.each()])
    return out


def _path(name: str) -> str:
    return str(FIXTURES / name)


@pytest.mark.parametrize("name", fixture_names())
def test_bulk_and_runs_tell_the_same_story(name: str) -> None:
    """Bulk framing and shared actions change nothing a reader sees."""
    reference = _rendered(_path(name), bulk=False, runs=False)
    assert _rendered(_path(name), bulk=False, runs=True) == reference
    assert _rendered(_path(name), bulk=True, runs=True) == reference


def test_small_pids_too(tmp_path: Path) -> None:
    """strace pads pids under 10000 (``2922  1700000000.1 bpf(``): bulk all the same."""
    from tests.test_framing import padded_pids

    log = tmp_path / "padded.log"
    log.write_bytes(padded_pids((FIXTURES / "bt-interval-print.log").read_bytes()))
    reference = _rendered(str(log), bulk=False, runs=False)
    assert _rendered(str(log), bulk=True, runs=True) == reference
    assert sum(len(r.codes) for r in _bulk_reads(str(log))) == 118


def _with_reads() -> list[str]:
    return [n for n in fixture_names() if (FIXTURES / n).is_file()
            and any(_map_read_bytes().match(line)
                    for line in (FIXTURES / n).read_bytes().splitlines(keepends=True))]


def test_fixtures_have_map_walks() -> None:
    # The comparisons above mean something only where the bulk path is taken.
    assert "bt-interval-print.log" in _with_reads()


@pytest.mark.parametrize("name", _with_reads())
@pytest.mark.parametrize("buffer", [64, 333, 4096])
def test_runs_cut_at_buffer_edges(name: str, buffer: int) -> None:
    """Runs end wherever the buffered bytes end; the next line starts a new one."""
    reference = _rendered(_path(name), bulk=False, runs=False, html=True)
    assert _rendered(_path(name), bulk=True, runs=True, buffer=buffer, html=True) == reference


def _bulk_reads(path: str) -> list[MapReads]:
    return [e for e in _events(path, bulk=True) if isinstance(e, MapReads)]


@pytest.mark.parametrize("name", _with_reads())
def test_every_bulk_line_is_what_the_grammar_reads(name: str) -> None:
    """Each line a MapReads stands for parses, by the grammar, to its command, map fd,
    pid and a plain success, on the line it claims."""
    path = _path(name)
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    covered = 0
    for reads in _bulk_reads(path):
        for offset, code in enumerate(reads.codes):
            line = lines[reads.line + offset - 1]
            pid, _, call = line.split(maxsplit=2)  # pid, time (-ttt or -r), the call
            assert int(pid) == reads.pid
            fields = parse_call_text(call)
            assert fields["name"] == "bpf"
            assert fields["args"][0] == Sym("BPF_MAP_" + MAP_READS[code])
            attr = unwrap(fields["args"][1])
            assert isinstance(attr, dict)
            assert as_int(attr["map_fd"]) == reads.map_fd
            assert (fields["result"], fields["errno"]) == (0, None)
            covered += 1
    assert covered == sum(1 for line in lines if _map_read_bytes().match(line.encode() + b"\n"))


def _stream(text: str) -> BinaryIO:
    return io.BufferedReader(io.BytesIO(text.encode()), 1 << 16)


WALK = (
    "7 1.000001 bpf(BPF_MAP_GET_NEXT_KEY, {map_fd=3, key=NULL, next_key=0x10}, 24) = 0\n"
    "7 1.000002 bpf(BPF_MAP_LOOKUP_ELEM, {map_fd=3, key=0x10, value=0x20, flags=BPF_ANY}"
    ", 32) = 0\n"
    "7 1.000003 bpf(BPF_MAP_GET_NEXT_KEY, {map_fd=3, key=0x10, next_key=0x10}, 24) = 0\n"
)


@pytest.mark.parametrize("other", [
    # another process, another map fd, a failure, -T, -y, an unfinished call: each
    # ends the run and takes the ordinary way
    "8 1.1 bpf(BPF_MAP_LOOKUP_ELEM, {map_fd=3, key=0x10, value=0x20, flags=BPF_ANY}, 32) = 0\n",
    "7 1.1 bpf(BPF_MAP_LOOKUP_ELEM, {map_fd=4, key=0x10, value=0x20, flags=BPF_ANY}, 32) = 0\n",
    "7 1.1 bpf(BPF_MAP_GET_NEXT_KEY, {map_fd=3, key=0x10, next_key=0x10}, 24)"
    " = -1 ENOENT (No such file or directory)\n",
    "7 1.1 bpf(BPF_MAP_GET_NEXT_KEY, {map_fd=3, key=0x10, next_key=0x10}, 24) = 0 <0.000004>\n",
    "7 1.1 bpf(BPF_MAP_GET_NEXT_KEY, {map_fd=3<anon_inode:bpf-map>, key=0x10, next_key=0x1},"
    " 24) = 0\n",
    "7 1.1 bpf(BPF_MAP_GET_NEXT_KEY, {map_fd=3, key=0x10, next_key=0x10}, 24 <unfinished ...>\n"
    "7 1.2 <... bpf resumed>) = 0\n",
    "7 1.1 bpf(BPF_MAP_UPDATE_ELEM, {map_fd=3, key=0x10, value=0x20, flags=BPF_ANY}, 32) = 0\n",
])
def test_what_ends_a_run(other: str) -> None:
    text = WALK + other + WALK
    bulk = list(events_from_frames(
        Framer(Stats(), 0, map_reads=True).frames_of_stream(_stream(text)), Stats()))
    plain = [e for e in events_from_frames(Framer(Stats(), 0).frames_of_stream(
        _stream(text)), Stats()) if isinstance(e, Call)]
    assert len(plain) == len(text.splitlines()) - other.count("resumed")
    reads = [e for e in bulk if isinstance(e, MapReads)]
    # The walk before is one event; the one after starts a new event.
    assert reads[0] == MapReads(7, 3, 0, 1, bytes((1, 0, 1)))
    assert reads[-1].codes == bytes((1, 0, 1))
    assert reads[-1].line == len(text.splitlines()) - 2
    assert len(reads) == (3 if other.startswith(("8 ", "7 1.1 bpf(BPF_MAP_LOOKUP_ELEM, {map_fd=4"))
                          else 2)
    covered = {n for r in reads for n in range(r.line, r.line + len(r.codes))}
    calls = [e for e in bulk if isinstance(e, Call)]
    assert [(c.line, c.args) for c in calls] == [(c.line, c.args) for c in plain
                                                 if c.line not in covered]
    # Counted as the calls they are.
    stats_bulk, stats_plain = Stats(), Stats()
    list(events_from_frames(Framer(stats_bulk, 0, map_reads=True).frames_of_stream(
        _stream(text)), stats_bulk))
    list(events_from_frames(Framer(stats_plain, 0).frames_of_stream(_stream(text)),
                            stats_plain))
    assert (stats_bulk.lines, stats_bulk.frames, stats_bulk.calls) == (
        stats_plain.lines, stats_plain.frames, stats_plain.calls)


def test_one_action_per_run() -> None:
    """A long walk is a handful of actions, whatever its length (the point of runs)."""
    walk = "".join(
        f"7 1.{i:06d} bpf(BPF_MAP_GET_NEXT_KEY, {{map_fd=3, key=0x10, next_key=0x10}}, 24)"
        " = 0\n" for i in range(5000))
    tracker = Tracker()
    stats = Stats()
    for event in events_from_frames(Framer(stats, 0, map_reads=True).frames_of_stream(
            _stream(walk)), stats):
        tracker.feed(event)
    lc = tracker.lifecycle()
    assert len(lc.actions) == 1
    action = lc.actions[0]
    assert action.calls == 5000 and list(action.lines) == list(range(1, 5001))
    assert stats.calls == 5000
