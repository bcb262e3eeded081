"""Frames to typed events: the grammar applied to what framing kept.

``parse_events`` is the one entry point both ``parse`` and ``run`` use.  A call the
grammar rejects is recorded in ``Stats.unparsable`` with its line number and the rest
of the input is still read, unless ``strict`` asks for the first one to be an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO, Literal, overload

from bpfexplain.errors import InputError, ParseError
from bpfexplain.framing import EXIT_LINE, SIGNAL_LINE, Frame, Problem, Stats, frames_from_streams
from bpfexplain.literals import SyntaxProblem
from bpfexplain.shapes import ShapeCache
from bpfexplain.values import Call, Event, Exit, MapReads, Origin, Signal, Tracked, Value


def _signal(frame: Frame) -> Signal:
    m = SIGNAL_LINE.match(frame.text)
    assert m is not None
    origin = Origin(frame.file, frame.line, frame.first_line)
    name = m.group("sig")
    raw = m.group("info")
    info: dict[str, Value] = {}
    if name == "stopped" and raw.startswith("by "):
        # `--- stopped by SIGSTOP ---`: a group-stop, no siginfo printed.
        name, info = raw[3:].strip(), {"stopped": 1}
    elif raw.startswith("{"):
        from bpfexplain.grammar import parse_value_text  # Lark: only when a line needs it

        try:
            value = parse_value_text(raw)
        except SyntaxProblem:
            value = None
        if isinstance(value, dict):
            info = value
    return Signal(name, info, origin, frame.pid, frame.time)


def _exit(frame: Frame) -> Exit:
    m = EXIT_LINE.match(frame.text)
    assert m is not None
    code = m.group("code")
    return Exit(Origin(frame.file, frame.line, frame.first_line), frame.pid, frame.time,
                int(code) if code is not None else None, m.group("sig"),
                m.group("core") is not None)


_SHAPES = ShapeCache()
"""One per process: the grammar's values for repeated call shapes (see shapes.py)."""


def _call(frame: Frame) -> Call:
    fields = _SHAPES.parse(frame.text)
    return Call(
        name=fields["name"],
        args=fields["args"],
        result=fields["result"],
        errno=fields["errno"],
        origin=Origin(frame.file, frame.line, frame.first_line),
        pid=frame.pid,
        time=frame.time,
        duration=frame.duration,
        result_path=fields["result_path"],
        comm=frame.comm,
        injected=fields["injected"],
        arg_names=fields["arg_names"],
    )


_CUT_TRIES = 512
"""How far back from where the grammar choked a split call looks for the start of
the program's text (the program writes in chunks of up to a page; most are lines)."""


_SEPARATORS = frozenset(" ,{[(=|")
_STRUCTURE = '{}[](),="'


def _interleaved_call(frame: Frame, problem: SyntaxProblem) -> Call | None:
    """Retry a call split by program output: cut the foreign text out and parse again.

    The program's output ended with its own newline, so its text is the tail of the
    call's first line: it starts at or before where the grammar first choked and
    runs to where the second line's text begins (``frame.split_at``).  Cut points
    are tried from there backwards, as the program's text may start mid-token.
    """
    split = frame.split_at
    if split < 0:
        return None
    first, second = frame.text[:split], frame.text[split:]
    start = split if problem.column is None else min(split, problem.column - 1)
    cuts = range(start, max(-1, start - _CUT_TRIES), -1)
    # Several cuts may parse (`..., Attaching` + `key_size=4` reads as one odd
    # field name; `bpf(` + `) = 3` drops every argument).  Program text rarely
    # holds strace's structure characters, so cuts that remove none of them come
    # first, those right after one of strace's separators before the others.
    last_structure = max(first.rfind(char, 0, start) for char in _STRUCTURE)
    clean = [c for c in cuts if c > last_structure]
    at_separator = [c for c in clean if c > 0 and first[c - 1] in _SEPARATORS]
    for cut in (*at_separator, *clean, *cuts):
        candidate = Frame("call", first[:cut] + second, frame.file, frame.line,
                          frame.first_line, frame.pid, frame.comm, frame.time,
                          frame.duration)
        try:
            return _call(candidate)
        except SyntaxProblem:
            continue
    return None


@overload
def events_from_frames(
    frames: Iterable[Frame], stats: Stats, *, strict: bool = False,
    names: list[str] | None = None,
) -> Iterator[Event]: ...
@overload
def events_from_frames(
    frames: Iterable[Frame | MapReads], stats: Stats, *, strict: bool = False,
    names: list[str] | None = None,
) -> Iterator[Tracked]: ...
def events_from_frames(
    frames: Iterable[Frame | MapReads], stats: Stats, *, strict: bool = False,
    names: list[str] | None = None,
) -> Iterator[Tracked]:
    for frame in frames:
        if strict and stats.unparsable:
            _strict_error(stats.unparsable[0], names)
        if type(frame) is MapReads:  # framed in bulk, already what the grammar would give
            stats.calls += len(frame.codes)
            yield frame
            continue
        assert isinstance(frame, Frame)
        if frame.kind == "call":
            try:
                call = _call(frame)
            except SyntaxProblem as problem:
                recovered = _interleaved_call(frame, problem) if frame.interleaved else None
                if recovered is None:
                    _unparsable(stats, frame, str(problem), strict, names)
                    continue
                stats.warnings.append(Problem(
                    frame.file, frame.line,
                    "the traced program's output was printed inside this call; set aside",
                ))
                call = recovered
            stats.calls += 1
            yield call
        elif frame.kind == "signal":
            yield _signal(frame)
        else:
            yield _exit(frame)
    # Framing reports what never became a frame (a runaway line, a call cut off).
    if strict and stats.unparsable:
        _strict_error(stats.unparsable[0], names)


def _strict_error(problem: Problem, names: list[str] | None) -> None:
    where = _where(problem.file, problem.line, names)
    raise ParseError(f"{where}: cannot parse call: {problem.reason}", line=problem.line,
                     source=problem.text)


def _unparsable(stats: Stats, frame: Frame, reason: str, strict: bool,
                names: list[str] | None) -> None:
    stats.unparsable.append(Problem(frame.file, frame.line, reason, frame.text))
    if strict:
        where = _where(frame.file, frame.line, names)
        raise ParseError(f"{where}: cannot parse call: {reason}", line=frame.line,
                         source=frame.text)


def _where(file: int, line: int, names: list[str] | None) -> str:
    if names and len(names) > 1:
        return f"{names[file]}:{line}"
    return f"line {line}"


@overload
def parse_events(
    streams: list[tuple[str, BinaryIO]], stats: Stats, *, strict: bool = False,
    map_reads: Literal[False] = False,
) -> Iterator[Event]: ...
@overload
def parse_events(
    streams: list[tuple[str, BinaryIO]], stats: Stats, *, strict: bool = False,
    map_reads: bool,
) -> Iterator[Tracked]: ...
def parse_events(
    streams: list[tuple[str, BinaryIO]], stats: Stats, *, strict: bool = False,
    map_reads: bool = False,
) -> Iterator[Tracked]:
    """Typed events from strace output streams, in order, with counts in ``stats``.

    ``map_reads``: successful map reads may come in bulk, as
    :class:`~bpfexplain.values.MapReads` (for the tracker; see framing)."""
    names = [name for name, _ in streams]
    yield from events_from_frames(frames_from_streams(streams, stats, map_reads=map_reads),
                                  stats, strict=strict, names=names)
    check_was_strace(stats)


def check_was_strace(stats: Stats) -> None:
    """Raise when nothing read was strace output: a wrong file, not an empty trace."""
    if stats.lines == 0:
        raise InputError("input is empty: no strace lines to explain")
    recognised = (stats.skipped + stats.frames + stats.signals + stats.exits
                  + stats.strace_messages + len(stats.unparsable))
    if recognised == 0:
        raise InputError(
            f"no strace output found in {stats.lines:,} line(s); "
            "expected lines such as 'bpf(BPF_PROG_LOAD, {...}, 148) = 5'"
        )
