"""Frames to typed events: the grammar applied to what framing kept.

``parse_events`` is the one entry point both ``parse`` and ``run`` use.  A call the
grammar rejects is recorded in ``Stats.unparsable`` with its line number and the rest
of the input is still read, unless ``strict`` asks for the first one to be an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from bpfexplain.errors import InputError, ParseError
from bpfexplain.framing import EXIT_LINE, SIGNAL_LINE, Frame, Problem, Stats, frames_from_streams
from bpfexplain.grammar import SyntaxProblem, parse_call_text
from bpfexplain.values import Call, Event, Exit, Origin, Signal, Value

_SIGINFO_FIELD = re.compile(r"(\w+)=([^,}]*)")


def _signal(frame: Frame) -> Signal:
    m = SIGNAL_LINE.match(frame.text)
    assert m is not None
    info: dict[str, Value] = {}
    for key, raw in _SIGINFO_FIELD.findall(m.group("info")):
        raw = raw.strip()
        info[key] = int(raw) if raw.lstrip("-").isdigit() else raw
    return Signal(m.group("sig"), info, Origin(frame.file, frame.line, frame.first_line),
                  frame.pid, frame.time)


def _exit(frame: Frame) -> Exit:
    m = EXIT_LINE.match(frame.text)
    assert m is not None
    code = m.group("code")
    return Exit(Origin(frame.file, frame.line, frame.first_line), frame.pid, frame.time,
                int(code) if code is not None else None, m.group("sig"),
                m.group("core") is not None)


def _call(frame: Frame) -> Call:
    fields = parse_call_text(frame.text)
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


def _interleaved_call(frame: Frame, problem: SyntaxProblem) -> Call | None:
    """Retry a call split by program output: cut the foreign text out and parse again.

    The program's bytes start where the grammar first choked; the call's own text
    resumes at the closing part that framing joined on.  Tries the few cut points
    before the error column, as the program text may start inside a token.
    """
    if problem.column is None:
        return None
    text = frame.text
    tail_at = text.rfind(")")
    # the tail was the continuation line: find where `) = ...` starts
    m = re.search(r"\)\s*=\s+(?:\?|-?[0-9])", text)
    if m is not None:
        tail_at = m.start()
    for cut in range(problem.column - 1, max(-1, problem.column - 40), -1):
        if cut >= tail_at:
            continue
        candidate = text[:cut] + text[tail_at:]
        try:
            fields_frame = Frame("call", candidate, frame.file, frame.line, frame.first_line,
                                 frame.pid, frame.comm, frame.time, frame.duration)
            return _call(fields_frame)
        except SyntaxProblem:
            continue
    return None


def events_from_frames(
    frames: Iterable[Frame], stats: Stats, *, strict: bool = False,
    names: list[str] | None = None,
) -> Iterator[Event]:
    for frame in frames:
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


def parse_events(
    streams: list[tuple[str, BinaryIO]], stats: Stats, *, strict: bool = False
) -> Iterator[Event]:
    """Typed events from strace output streams, in order, with counts in ``stats``."""
    names = [name for name, _ in streams]
    yield from events_from_frames(frames_from_streams(streams, stats), stats, strict=strict,
                                  names=names)
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
