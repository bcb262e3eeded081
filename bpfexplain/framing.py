"""Framing: turn raw strace output lines into frames the grammar can parse.

Plain Python and compiled regexes, no Lark.  This layer knows every shape strace
writes *around* a call (pid prefixes, timestamps, durations, unfinished/resumed
halves, signals, exits, its own messages) and the prefilter that drops syscalls the
explainer never needs before they cost a parse.  That prefilter is where the speed
comes from: most lines of an unfiltered trace never get past one regex match and a
set lookup.

Line numbers are 1-based and counted per input file; a frame's ``file`` is the index
of its input in the order given.

The shapes, as strace writes them (``printleader`` in strace's ``src/strace.c``)::

    [pid  1234] 12:34:56.123456 bpf(BPF_PROG_LOAD, {...}, 148) = 5 <0.000025>
    ^ -f to stderr  ^ -t/-tt/-ttt/-r               ^ the call       ^ -T
    1234  bpf(...)              -f with -o FILE
    1234<bpftrace> bpf(...)     -Y (--decode-pids=comm)
    bpf(...)                    one process, or one file per pid (-ff: trace.1234)
    [ 321] bpf(...)             -n (syscall number);  [00007f...] with -i
    1234  bpf(BPF_MAP_CREATE, {...} <unfinished ...>
    1234  <... bpf resumed>, 72) = 3
    1234  --- SIGINT {si_signo=SIGINT, si_code=SI_USER, si_pid=1, si_uid=0} ---
    1234  +++ exited with 0 +++   /   +++ killed by SIGKILL +++
    strace: Process 1234 attached
"""

from __future__ import annotations

import heapq
import io
import os
import re
from collections.abc import Iterable, Iterator
from functools import cache
from typing import TYPE_CHECKING, BinaryIO, Literal, overload

from bpfexplain.plain import Record
from bpfexplain.traced import TRACED
from bpfexplain.values import MAP_READS, MapReads

if TYPE_CHECKING:
    from pathlib import Path  # at run time only where files are opened (not run's pipe)

# Syscalls the explainer uses (written once, in bpfexplain.traced: the tracker's own
# plus every attach route's).  Everything else is counted and skipped unparsed.
INTERESTING = TRACED

# Cheap second looks for syscalls that are frequent in unfiltered traces but only
# rarely matter, run on the complete call text:
# - read matters when it returns short text (a tracepoint id or PMU type read from
#   tracefs/sysfs, the possible-CPU list), and for the one binary read that names the
#   kernel build: the header of vmlinux BTF (magic 0xEB9F, `"\237\353\1\0`);
# - ioctl when it is a perf ioctl ('$' = 0x24), by name or by number (-X raw);
# - mmap when it maps shared memory (perf and ring buffers; MAP_SHARED is 0x1);
# - fcntl when it duplicates a descriptor (F_DUPFD = 0, F_DUPFD_CLOEXEC = 0x406);
# - ioctl also for if_nametoindex/if_indextoname (SIOCGIFINDEX 0x8933, SIOCGIFNAME
#   0x8910), which name the interface an ifindex stands for;
# - setsockopt when it attaches or detaches a filter at SOL_SOCKET (1): SO_ATTACH_FILTER
#   26, SO_DETACH_FILTER/SO_DETACH_BPF 27, SO_ATTACH_BPF 50, SO_ATTACH_REUSEPORT_CBPF 51,
#   SO_ATTACH_REUSEPORT_EBPF 52, SO_DETACH_REUSEPORT_BPF 68 (0x44);
# - the socket I/O calls when strace decoded a netlink message in them (nlmsg_type=),
#   never for ordinary data; and a received buffer strace left as bytes (it decodes
#   one only when it can tell the socket is netlink: recvmsg with msg_name=NULL hides
#   that) whose 16-bit type after the 32-bit length is NLMSG_ERROR (2): the kernel's
#   ack of an XDP or tc request, read by libbpf and bpftool exactly so.
# A false positive only costs one parse; a false negative would hide a step.
# The patterns are compiled the first time a line of that syscall needs its look
# (:func:`_content_check`): most runs meet only a few of them, and compiling all at
# import is start-up time that a short run's whole story does not cost.
_NETLINK_ANSWER = r'nlmsg_type=|"(?:\\[0-7]{1,3}|\\.|[^"\\]){4}\\(?:2|002)\\0'
_CONTENT_CHECK_SOURCES: dict[str, str] = {
    "read": r'"[^"\\]{0,64}(?:\\n)?"|"\\237\\353\\1\\0',
    "ioctl": r"PERF_EVENT|0x(?:[0-9a-fA-F]{0,4})24[0-9a-fA-F]{2}\b|0x24,"
             r"|SIOCGIF(?:INDEX|NAME)|\b0x89(?:33|10)\b",
    "mmap": r"MAP_SHARED|, 0x[0-9a-f]*[13579bdf], -?\d",
    "mmap2": r"MAP_SHARED|, 0x[0-9a-f]*[13579bdf], -?\d",
    "fcntl": r"F_DUPFD|(?<=fcntl\()[^,]*, (?:0x406|1030|0x0|0)[,)]",
    "fcntl64": r"F_DUPFD|(?<=fcntl64\()[^,]*, (?:0x406|1030|0x0|0)[,)]",
    "setsockopt": r"SO_(?:ATTACH|DETACH)_|(?<=setsockopt\()[^,]*, (?:0x1|1), "
                  r"(?:0x1[ab]|0x3[234]|0x44|2[67]|5[012]|68)[,)]",
    "sendmsg": r"nlmsg_type=",
    "sendto": r"nlmsg_type=",
    "recvmsg": _NETLINK_ANSWER,
    "recvfrom": _NETLINK_ANSWER,
}
_CONTENT_CHECKS: dict[str, re.Pattern[str]] = {}
"""The compiled :data:`_CONTENT_CHECK_SOURCES`, as lines need them."""


def _content_check(name: str) -> re.Pattern[str] | None:
    """The second look a syscall's complete call text must pass, or None (none needed)."""
    check = _CONTENT_CHECKS.get(name)
    if check is None:
        source = _CONTENT_CHECK_SOURCES.get(name)
        if source is None:
            return None
        check = _CONTENT_CHECKS[name] = re.compile(source)
    return check


# What printleader writes before a call: `[pid  1234] ` (strace on stderr) or
# `1234  ` (-f -o), either with `<comm>` under -Y; then -t/-tt/-ttt or -r
# (`12:34:56`, `12:34:56.123456`, `1700000000.123456`, `     0.000123`), with
# both -t and -r a `(+     0.000123) `; then -n's `[ 321] ` and -i's
# `[00007f0123456789] `.
_PREFIX = (
    r"\s*(?:\[pid\s+(?P<pid1>\d{1,10})(?:<(?P<comm1>[^>]*)>)?\]\s+"
    r"|(?P<pid2>\d{1,10})(?:<(?P<comm2>[^>]*)>)?\s+)?"
    r"(?:(?P<ts>\d{1,20}(?::\d\d:\d\d)?(?:\.\d{1,12})?)\s+)?"
    r"(?:\(\+\s*\d+(?:\.\d+)?\)\s+)?"
    r"(?:\[\s*(?:\d+|\?+)\]\s+)?"
    r"(?:\[[0-9a-f?]{8,16}\]\s+)?"
)
_CALL_START = re.compile(_PREFIX + r"(?P<name>[a-z_][a-z0-9_]*)\(")
# The same on undecoded bytes, for the prefilter's fast path; group 1 is the name.
_CALL_START_BYTES = re.compile(
    re.sub(r"\(\?P<\w+>", "(?:", _PREFIX).encode() + rb"([a-z_][a-z0-9_]*)\(")
_INTERESTING_BYTES = frozenset(name.encode() for name in INTERESTING)
# Tried first: the prefix of most lines (`1234  `, `12:34:56.123456 `, `1234  1700000000.1 `,
# `     0.000123 `) is only digits, colons, dots and blanks.  Twice as fast as the
# full prefix, which still handles `[pid N]`, `<comm>`, `[ 321]`...
_FAST_CALL_START_BYTES = re.compile(rb"[0-9 :.]*([a-z_][a-z0-9_]*)\(")
_SIMPLE_CALL_BYTES = re.compile(rb"(\d{1,10}) +(?:(\d{1,20}\.\d{1,12}) )?([a-z_][a-z0-9_]*)\(")
"""The start of a call line as ``run`` has strace write them (``-f -ttt``; or ``-f``
alone): pid, time, name.  Where :data:`_CALL_START` reads the same three groups.
strace pads the pid to five places (``2922  1700000000.1 bpf(``)."""
_CHECKED_BYTES = frozenset(name.encode() for name in _CONTENT_CHECK_SOURCES)

# Map reads as ``run`` has strace write them, the lines a map walk is made of:
#   1234 1700000000.123456 bpf(BPF_MAP_GET_NEXT_KEY, {map_fd=3, key=0x55e3,
#        next_key=0x55f1}, 24) = 0
#   1234 1700000000.123500 bpf(BPF_MAP_LOOKUP_ELEM, {map_fd=3, key=0x55f1,
#        value=0x5600, flags=BPF_ANY}, 32) = 0
# (each on one line).  Only this exact form, a success, whole on its line: anything
# else (a failure, -y annotations, -T, an unfinished call) takes the ordinary way.
_READ_OPS = rb"(LOOKUP_ELEM|GET_NEXT_KEY|DELETE_ELEM|LOOKUP_AND_DELETE_ELEM)"
_READ_ARGS = (rb", \{map_fd=(\d{1,10}), key=(?:0x[0-9a-f]{1,16}|NULL)"
              rb"(?:, (?:value|next_key)=(?:0x[0-9a-f]{1,16}|NULL))?"
              rb"(?:, flags=BPF_(?:ANY|NOEXIST|EXIST|F_LOCK))?\}, \d{1,5}\) = 0\n")


@cache
def _map_read_bytes() -> re.Pattern[bytes]:
    """A map read's line (compiled for the first ``bpf`` line: most runs have none)."""
    return re.compile(
        rb"(\d{1,10}) +\d{1,20}\.\d{1,12} bpf\(BPF_MAP_" + _READ_OPS + _READ_ARGS)


_READ_OP_NAME = re.compile(rb"bpf\(BPF_MAP_([A-Z_]+)")
_READ_CODE: dict[bytes, int] = {op.encode(): code for code, op in enumerate(MAP_READS)}
_READ_RUNS: dict[tuple[bytes, bytes], re.Pattern[bytes]] = {}
"""Per process and map fd: more lines of the same reads, one after another."""


def _read_run(pid: bytes, fd: bytes) -> re.Pattern[bytes]:
    pattern = _READ_RUNS.get((pid, fd))
    if pattern is None:
        args = _READ_ARGS.replace(rb"(\d{1,10})", re.escape(fd), 1)
        ops = _READ_OPS.replace(b"(", b"(?:", 1)
        line = re.escape(pid) + rb" +\d{1,20}\.\d{1,12} bpf\(BPF_MAP_" + ops + args
        if len(_READ_RUNS) > 256:
            _READ_RUNS.clear()  # pids come and go: memory stays flat
        pattern = _READ_RUNS[(pid, fd)] = re.compile(rb"(?:" + line + rb")+")
    return pattern


_OTHER = re.compile(_PREFIX + r"(?P<body>.*)$", re.DOTALL)
_RESUMED = re.compile(r"<\.\.\. (?P<name>[a-z_][a-z0-9_]*) resumed>\s?(?P<rest>.*)$", re.DOTALL)
_UNFINISHED = "<unfinished ...>"
_DURATION = re.compile(r"\s+<(\d{1,20}(?:\.\d{1,12})?)>$")
_COMPLETE = re.compile(r"\)\s*=\s+(?:\?|-?[0-9])")
SIGNAL_LINE = re.compile(r"--- (?P<sig>SIG[A-Z0-9+]+|\S+) (?P<info>.*?)\s*---$")
EXIT_LINE = re.compile(
    r"\+\+\+ (?:exited with (?P<code>-?\d{1,10})"
    r"|killed by (?P<sig>\S+)(?P<core> \(core dumped\))?) \+\+\+$"
)
# strace's own notes: attach/detach and errors (`strace: ...`), -k's stack frames
# (` > /usr/lib/libc.so.6(syscall+0x1d) [0x...]`), a thread's exec replacing its
# leader (`+++ superseded by execve in pid 12 +++`), personality changes.
_STRACE_MSG = (
    r"strace: |\[ Process PID=\d+ runs in | > \S|\+\+\+ superseded by |\[ ?Process \d+ "
)
# Where a strace line starts after the traced program's output on the same line
# (`Attaching 1 probe...[pid  7663] bpf(...)`): only shapes that cannot be
# mistaken for program text are looked for.
_MIDLINE = (
    r"\[pid\s+\d+(?:<[^>]*>)?\] |<\.\.\. [a-z_][a-z0-9_]* resumed>|(?<![A-Za-z0-9_])(?:"
    + "|".join(sorted(INTERESTING, key=len, reverse=True)) + r")\("
)
_ANSI = r"\x1b\[[0-9;]*[A-Za-z]"
# _STRACE_MSG, _MIDLINE and _ANSI are compiled (by _rare) when a line first needs
# them: strace's notes, program output and colour codes are rare in a trace.


@cache
def _rare(source: str) -> re.Pattern[str]:
    return re.compile(source)

_FF_SUFFIX = re.compile(r"\.(\d{1,10})$")

MAX_LINE_BYTES = 1 << 20
"""Longer lines are reported, not parsed: no real strace line comes near it (strace
stops decoding instruction arrays at 4096 entries), and a runaway line must not cost
minutes of lexing."""


# Records, not dataclasses (bpfexplain.plain): every command that reads a log imports
# this module, and four dataclasses cost it about 3 ms at each start (issue 11).


class Frame(Record):
    """One unit for the parser: a complete call text, a signal or an exit."""

    __slots__ = _fields = ("kind", "text", "file", "line", "first_line", "pid", "comm", "time",
                           "duration", "interleaved", "split_at")

    kind: str
    """``call``, ``signal`` or ``exit``."""
    text: str
    file: int
    line: int
    first_line: int
    pid: int | None
    comm: str | None
    time: float | None
    duration: float | None
    interleaved: bool
    """The call's text was split by the traced program's own output."""
    split_at: int
    """For an interleaved call: where the second line's text starts in ``text``."""

    def __init__(self, kind: str, text: str, file: int, line: int, first_line: int,
                 pid: int | None, comm: str | None = None, time: float | None = None,
                 duration: float | None = None, interleaved: bool = False,
                 split_at: int = -1) -> None:
        self.kind = kind
        self.text = text
        self.file = file
        self.line = line
        self.first_line = first_line
        self.pid = pid
        self.comm = comm
        self.time = time
        self.duration = duration
        self.interleaved = interleaved
        self.split_at = split_at


class Problem(Record):
    """A line that could not be used, with where and why."""

    __slots__ = _fields = ("file", "line", "reason", "text")

    file: int
    line: int
    reason: str
    text: str

    def __init__(self, file: int, line: int, reason: str, text: str = "") -> None:
        self.file = file
        self.line = line
        self.reason = reason
        self.text = text


class Stats(Record):
    """What reading the input found; the CLI prints it as a summary."""

    __slots__ = _fields = ("lines", "skipped", "frames", "calls", "signals", "exits",
                           "strace_messages", "program_output", "program_output_lines",
                           "unparsable", "warnings", "invalid_utf8", "files")

    lines: int
    skipped: int
    """Call lines of syscalls the explainer does not need (prefilter)."""
    frames: int
    calls: int
    signals: int
    exits: int
    strace_messages: int
    program_output: int
    """Lines that are not strace's: the traced program's output, or not strace at all."""
    program_output_lines: list[tuple[int, int]]
    unparsable: list[Problem]
    warnings: list[Problem]
    invalid_utf8: int
    files: list[str]

    def __init__(self, lines: int = 0, skipped: int = 0, frames: int = 0, calls: int = 0,
                 signals: int = 0, exits: int = 0, strace_messages: int = 0,
                 program_output: int = 0,
                 program_output_lines: list[tuple[int, int]] | None = None,
                 unparsable: list[Problem] | None = None,
                 warnings: list[Problem] | None = None, invalid_utf8: int = 0,
                 files: list[str] | None = None) -> None:
        self.lines = lines
        self.skipped = skipped
        self.frames = frames
        self.calls = calls
        self.signals = signals
        self.exits = exits
        self.strace_messages = strace_messages
        self.program_output = program_output
        self.program_output_lines = [] if program_output_lines is None else program_output_lines
        self.unparsable = [] if unparsable is None else unparsable
        self.warnings = [] if warnings is None else warnings
        self.invalid_utf8 = invalid_utf8
        self.files = [] if files is None else files

    def note_output(self, file: int, line: int) -> None:
        self.program_output += 1
        if len(self.program_output_lines) < 20:
            self.program_output_lines.append((file, line))

    @property
    def strace_lines(self) -> int:
        """Lines recognised as strace's own (calls, skipped or not, signals, exits...)."""
        return self.lines - self.program_output


class _Pending(Record):
    __slots__ = _fields = ("text", "line", "time", "comm")

    text: str
    line: int
    time: float | None
    comm: str | None

    def __init__(self, text: str, line: int, time: float | None, comm: str | None) -> None:
        self.text = text
        self.line = line
        self.time = time
        self.comm = comm


def _time(ts: str | None) -> float | None:
    if ts is None:
        return None
    if ":" in ts:
        hours, minutes, seconds = ts.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return float(ts)


@cache
def _leader() -> re.Pattern[str]:
    return re.compile(_PREFIX)  # for the HTML timeline only


def leader_timestamp(text: str) -> str | None:
    """The ``-t/-tt/-ttt/-r`` timestamp a raw strace line starts with, as printed.

    For views that place lines in time (the HTML timeline); parsing keeps using the
    frames' own :attr:`Frame.time`.
    """
    m = _leader().match(text)
    return m.group("ts") if m is not None else None


def timestamp_seconds(ts: str) -> float:
    """Seconds of a timestamp from :func:`leader_timestamp` (see :attr:`Frame.time`)."""
    value = _time(ts)
    assert value is not None
    return value


class Framer:
    """Frames for one input file; keeps the per-pid unfinished calls of that file."""

    def __init__(self, stats: Stats, file: int, default_pid: int | None = None,
                 map_reads: bool = False):
        self.stats = stats
        self.file = file
        self.default_pid = default_pid
        self.map_reads = map_reads
        """Hand successful map reads over in bulk, as :class:`MapReads` events, not
        frames: for the tracker, which reads nothing more of them."""
        self._pending: dict[int | None, _Pending] = {}
        # A call line that the program's own output cut in two (strace on stderr).
        self._open: tuple[int | None, _Pending] | None = None

    def frames(self, lines: Iterable[tuple[int, str]]) -> Iterator[Frame]:
        """Frames of numbered text lines (see :meth:`frames_of_stream` for files)."""
        for number, text in lines:
            yield from self._line(text, number)
        yield from self.finish()

    def frames_of_stream(self, stream: BinaryIO, name: str = "input"
                         ) -> Iterator[Frame | MapReads]:
        """Frames of a binary stream, read line by line (never the whole file).

        The loop every line of an unfiltered trace goes through: one bytes regex
        match and a set lookup drop a syscall the explainer does not need before
        the line is even decoded.  Everything else takes :meth:`_line`.

        With :attr:`map_reads`, a map read in ``run``'s form, and the lines of the
        same reads already buffered behind it (one regex match over them, no loop in
        Python), become one :class:`MapReads`.
        """
        stats = self.stats
        fast_start = _FAST_CALL_START_BYTES.match
        call_start = _CALL_START_BYTES.match
        needed = _INTERESTING_BYTES
        simple_start = _SIMPLE_CALL_BYTES.match
        checked = _CHECKED_BYTES
        complete = _COMPLETE.search
        limit = MAX_LINE_BYTES + 1
        number = 0
        want_reads = self.map_reads
        map_read = None  # _map_read_bytes().match, from the first bpf line on
        peek = getattr(stream, "peek", None)
        while True:
            try:
                raw = stream.readline(limit)
            except OSError as exc:
                from bpfexplain.errors import InputError

                raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
            if not raw:
                break
            number += 1
            stats.lines += 1
            m = fast_start(raw) or call_start(raw)
            if m is not None and m[1] not in needed and self._open is None:
                stats.skipped += 1
                continue
            if want_reads and m is not None and m[1] == b"bpf" and self._open is None:
                if map_read is None:
                    map_read = _map_read_bytes().match
                read = map_read(raw)
                if read is not None:
                    more = 0
                    codes = [_READ_CODE[read[2]]]
                    if peek is not None:
                        # What is buffered (an empty buffer is filled once: live, that
                        # waits for strace's next write; map reads are never told live).
                        ahead = peek(1)
                        run = _read_run(read[1], read[3]).match(ahead)
                        if run is not None:
                            end = run.end()
                            more = ahead.count(b"\n", 0, end)
                            codes += map(_READ_CODE.__getitem__,
                                         _READ_OP_NAME.findall(ahead, 0, end))
                            stream.read(end)
                    stats.lines += more
                    stats.frames += more + 1
                    yield MapReads(int(read[1]), int(read[3]), self.file, number, bytes(codes))
                    number += more
                    continue
            simple = simple_start(raw)
            if simple is not None and self._open is None and simple[3] not in checked \
                    and len(raw) < limit:
                # The common line, framed here without the general path: a complete
                # call of a needed syscall, its pid and time as `-f -ttt` prints them.
                try:
                    text = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError:
                    text = ""
                start = simple.start(3)
                if text and not text.endswith((_UNFINISHED, ">")) and "\x1b" not in text \
                        and complete(text, start) is not None:
                    stats.frames += 1
                    yield Frame("call", text[start:], self.file, number, number,
                                int(simple[1]), None,
                                float(simple[2]) if simple[2] else None, None)
                    continue
            if len(raw) == limit and not raw.endswith(b"\n"):
                self._runaway(stream, raw, number)
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                stats.invalid_utf8 += 1
                text = raw.decode("utf-8", "replace")
            yield from self._line(text.rstrip("\r\n"), number)
        yield from self.finish()

    def _runaway(self, stream: BinaryIO, raw: bytes, number: int) -> None:
        """Drain a line longer than MAX_LINE_BYTES a chunk at a time, and report it."""
        size = len(raw)
        while True:
            try:
                more = stream.readline(MAX_LINE_BYTES)
            except OSError:
                break
            size += len(more)
            if not more or more.endswith(b"\n"):
                break
        self.stats.unparsable.append(
            Problem(self.file, number, f"line too long ({size:,} bytes); not parsed"))

    def _pid(self, m: re.Match[str]) -> int | None:
        pid = m.group("pid1") or m.group("pid2")
        return int(pid) if pid else self.default_pid

    def _call_line(self, m: re.Match[str], text: str, number: int) -> Frame | None:
        pid = self._pid(m)
        comm = m.group("comm1") or m.group("comm2")
        time = _time(m.group("ts"))
        body = text[m.start("name"):]
        if body.endswith(_UNFINISHED):
            self._pending[pid] = _Pending(body[: -len(_UNFINISHED)].rstrip(), number, time, comm)
            return None
        duration = None
        if body.endswith(">"):
            d = _DURATION.search(body)
            if d is not None:
                duration = float(d.group(1))
                body = body[: d.start()]
        if _COMPLETE.search(body) is None:
            # No `) = result`: the traced program's output landed in the middle of
            # this line.  Hold it; a following continuation completes it.
            self._open = (pid, _Pending(body, number, time, comm))
            return None
        self.stats.frames += 1
        return Frame("call", body, self.file, number, number, pid, comm, time, duration)

    def _other_line(self, text: str, number: int) -> Iterator[Frame]:
        stats = self.stats
        m = _OTHER.match(text)
        assert m is not None  # the pattern matches any string
        body = m.group("body")
        pid_text = m.group("pid1") or m.group("pid2")
        pid = int(pid_text) if pid_text else self.default_pid
        if body.startswith("<... "):
            r = _RESUMED.match(body)
            if r is not None:
                yield from self._resumed(r, pid, number)
                return
        if body.startswith("--- "):
            s = SIGNAL_LINE.match(body)
            if s is not None:
                stats.signals += 1
                yield Frame("signal", body, self.file, number, number, pid,
                            m.group("comm1") or m.group("comm2"), _time(m.group("ts")))
                return
        if body.startswith("+++ "):
            e = EXIT_LINE.match(body)
            if e is not None:
                stats.exits += 1
                yield from self._flush_pid(pid)
                yield Frame("exit", body, self.file, number, number, pid,
                            m.group("comm1") or m.group("comm2"), _time(m.group("ts")))
                return
        strace_msg = _rare(_STRACE_MSG).match
        if strace_msg(text) or strace_msg(body):
            stats.strace_messages += 1
            return
        if self._open is not None:
            frame = self._continue_open(text, number)
            if frame is not None:
                yield frame
                return
        yield from self._midline(text, number)

    def _midline(self, text: str, number: int) -> Iterator[Frame]:
        """A line that is not strace's from its start: program output, perhaps
        followed by a strace line that the output pushed off its line start."""
        found = _rare(_MIDLINE).search(text, 1)
        if found is not None:
            rest = text[found.start():]
            is_call = _CALL_START.match(rest)
            # Without a pid prefix a call name inside program text is only
            # believed when the whole call with its result follows.
            if rest.startswith(("[pid", "<... ")) or (
                    is_call is not None and (_COMPLETE.search(rest) is not None
                                             or rest.endswith(_UNFINISHED))):
                before = self.stats.program_output
                produced = list(self._line(rest, number))
                if self.stats.program_output == before:
                    self.stats.warnings.append(Problem(
                        self.file, number,
                        "the traced program's output was printed before strace's "
                        "line here; set aside",
                    ))
                    yield from produced
                return  # not recognised either: the inner look counted it as output
        self.stats.note_output(self.file, number)

    def _line(self, text: str, number: int) -> Iterator[Frame]:
        """The frames of one line of text."""
        if "\x1b" in text:  # --color=always
            text = _rare(_ANSI).sub("", text)
        m = _CALL_START.match(text)
        if m is None:
            yield from self._other_line(text, number)
            return
        if self._open is not None:
            self._drop_open()
        name = m.group("name")
        if name not in INTERESTING:
            self.stats.skipped += 1
            return
        check = _content_check(name)
        if check is not None and not text.endswith(_UNFINISHED) \
                and check.search(text, m.end()) is None:
            self.stats.skipped += 1
            return
        frame = self._call_line(m, text, number)
        if frame is not None:
            yield frame

    def _continue_open(self, text: str, number: int) -> Frame | None:
        """Join a call line split by program output with the line that ends it."""
        assert self._open is not None
        pid, pending = self._open
        tail = text
        duration = None
        d = _DURATION.search(tail)
        if d is not None:
            duration = float(d.group(1))
            tail = tail[: d.start()]
        if _COMPLETE.search(tail) is None:
            return None  # plain program output between the halves; keep waiting
        self._open = None
        self.stats.frames += 1
        return Frame("call", pending.text + tail, self.file, number, pending.line, pid,
                     pending.comm, pending.time, duration, interleaved=True,
                     split_at=len(pending.text))

    def _resumed(self, r: re.Match[str], pid: int | None, number: int) -> Iterator[Frame]:
        name = r.group("name")
        pending = self._pending.pop(pid, None)
        if pending is None:
            # Unfinished calls of the syscalls the explainer needs are always kept
            # (content checks wait for the whole call), so only those can warn.
            if name in INTERESTING:
                self.stats.warnings.append(Problem(
                    self.file, number,
                    f"{name} resumed without its start (the trace began mid-call?)",
                ))
            else:
                self.stats.skipped += 1
            return
        if not pending.text.startswith(name + "("):
            # Another call of this pid was pending: keep the log's word, report it.
            self.stats.warnings.append(Problem(
                self.file, number,
                f"{name} resumed, but line {pending.line} left a different call unfinished",
            ))
            return
        rest = r.group("rest")
        duration = None
        d = _DURATION.search(rest)
        if d is not None:
            duration = float(d.group(1))
            rest = rest[: d.start()]
        # strace ends the first half after `, ` or mid-argument and starts the
        # second with what follows; `read(3, ` + `"443\n", 4096) = 4`.
        first = pending.text
        if first.endswith(",") and not rest.startswith((",", ")")):
            first += " "
        text = first + rest
        check = _content_check(name)
        if check is not None and check.search(text, len(name) + 1) is None:
            self.stats.skipped += 1
            return
        self.stats.frames += 1
        yield Frame("call", text, self.file, number, pending.line, pid,
                    pending.comm, pending.time, duration)

    def _flush_pid(self, pid: int | None) -> Iterator[Frame]:
        """A process exited with a call still unfinished: it never returned."""
        pending = self._pending.pop(pid, None)
        if pending is not None:
            yield self._never_returned(pid, pending)

    def _never_returned(self, pid: int | None, pending: _Pending) -> Frame:
        self.stats.frames += 1
        text = pending.text.rstrip().rstrip(",")
        return Frame("call", _close_call(text) + " = ?", self.file, pending.line,
                     pending.line, pid, pending.comm, pending.time)

    def _drop_open(self) -> None:
        """A call line that never got its result: strace went on with other lines."""
        assert self._open is not None
        _, pending = self._open
        self.stats.unparsable.append(Problem(
            self.file, pending.line, "call line without a result (cut off?)", pending.text
        ))
        self._open = None

    def finish(self) -> Iterator[Frame]:
        for pid, pending in sorted(self._pending.items(), key=lambda kv: kv[1].line):
            yield self._never_returned(pid, pending)
        self._pending.clear()
        if self._open is not None:
            self._drop_open()


def _close_call(text: str) -> str:
    """Close what an unfinished first half left open, so the grammar reads its args.

    ``execve("/bin/x", ["x"], 0x7ff /* 9 vars */`` -> ``...*/)``; brackets opened
    and not closed (outside strings) are closed in reverse order.
    """
    stack: list[str] = []
    closing = {"(": ")", "{": "}", "[": "]"}
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in closing:
            stack.append(closing[char])
        elif stack and char == stack[-1]:
            stack.pop()
    if in_string:
        text += '"'
    return text + "".join(reversed(stack))


def ff_pid(path: str) -> int | None:
    """The pid of a ``strace -ff -o trace`` file, from its ``.PID`` suffix."""
    m = _FF_SUFFIX.search(path)
    return int(m.group(1)) if m else None


@overload
def frames_from_streams(
    streams: list[tuple[str, BinaryIO]], stats: Stats, *, map_reads: Literal[False] = False
) -> Iterator[Frame]: ...
@overload
def frames_from_streams(
    streams: list[tuple[str, BinaryIO]], stats: Stats, *, map_reads: bool
) -> Iterator[Frame | MapReads]: ...
def frames_from_streams(
    streams: list[tuple[str, BinaryIO]], stats: Stats, *, map_reads: bool = False
) -> Iterator[Frame | MapReads]:
    """All frames of several inputs as one stream.

    ``map_reads`` (for the tracker, one input only): successful map reads in bulk, as
    :class:`~bpfexplain.values.MapReads` (see :attr:`Framer.map_reads`).

    ``-ff`` files (names ending in ``.PID``) take their pid from the name.  When
    several inputs are given they are merged by timestamp, so a process tree split
    over files reads in the order things happened; inputs without timestamps keep
    the order given (each file's frames stay in order either way).
    """
    stats.files = [name for name, _ in streams]
    iterators: list[Iterator[Frame | MapReads]] = []
    for index, (name, stream) in enumerate(streams):
        pid = ff_pid(name) if len(streams) > 1 or _FF_SUFFIX.search(name) else None
        framer = Framer(stats, index, default_pid=pid, map_reads=map_reads and len(streams) == 1)
        iterators.append(framer.frames_of_stream(stream, name))
    if len(iterators) == 1:
        yield from iterators[0]
        return
    yield from _merge_by_time(iterators)  # type: ignore[arg-type]  # frames only


def _merge_by_time(iterators: list[Iterator[Frame]]) -> Iterator[Frame]:
    """Merge per-file frame streams by timestamp, falling back to concatenation.

    A frame without a time keeps its place behind the last timed frame of its file,
    which is what strace itself would have printed.  Memory stays at one frame per
    input: heapq.merge pulls lazily.
    """
    def keyed(index: int, it: Iterator[Frame]) -> Iterator[tuple[float, int, int, Frame]]:
        last = float("-inf")
        for frame in it:
            if frame.time is not None:
                last = frame.time
            yield (last, index, frame.line, frame)

    for _, _, _, frame in heapq.merge(*(keyed(i, it) for i, it in enumerate(iterators))):
        yield frame


class _ReopeningFile(io.RawIOBase):
    """A file read by reopening it for each chunk: ``strace -ff`` directories hold one
    file per process, often more than the open-files limit, and merging them by time
    reads all of them side by side."""

    def __init__(self, path: Path):
        super().__init__()
        self._path = path
        self._offset = 0
        info = path.stat()  # raises like open() would, before any reading starts
        self._identity = (info.st_dev, info.st_ino)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        from bpfexplain.errors import InputError

        try:
            with self._path.open("rb") as f:
                info = os.fstat(f.fileno())
                if (info.st_dev, info.st_ino) != self._identity:
                    raise InputError(f"{self._path}: replaced while being read")
                f.seek(self._offset)
                n = f.readinto(buffer) or 0
        except OSError as exc:
            raise InputError(f"{self._path}: cannot read ({exc.strerror or exc})") from None
        self._offset += n
        return n


def open_inputs(paths: list[str]) -> list[tuple[str, BinaryIO]]:
    """Open input paths (``-`` is stdin) for binary reading; one-line errors on failure."""
    import sys
    from pathlib import Path

    from bpfexplain.errors import InputError

    opened: list[tuple[str, BinaryIO]] = []
    try:
        for path in paths:
            if path == "-":
                opened.append(("<stdin>", sys.stdin.buffer))
                continue
            p = Path(path)
            try:
                if p.is_dir():
                    # a directory of `strace -ff -o DIR/trace` files
                    members = sorted(
                        (q for q in p.iterdir() if q.is_file() and _FF_SUFFIX.search(q.name)),
                        key=lambda q: (q.name.rsplit(".", 1)[0], ff_pid(q.name) or 0),
                    )
                    if not members:
                        raise InputError(
                            f"{path}: a directory with no 'strace -ff' files (NAME.PID)")
                    for q in members:
                        # Opened only while read: a directory of thousands of files
                        # must not need thousands of descriptors at once.
                        opened.append((str(q), io.BufferedReader(_ReopeningFile(q), 1 << 16)))
                    continue
                # A large buffer: map reads are taken in bulk from what is buffered.
                opened.append((path, p.open("rb", buffering=1 << 16)))
            except FileNotFoundError:
                raise InputError(f"{path}: no such file") from None
            except PermissionError:
                raise InputError(f"{path}: permission denied") from None
            except IsADirectoryError:
                raise InputError(f"{path}: is a directory") from None
            except OSError as exc:
                raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except BaseException:
        for _, stream in opened:  # no file left open behind an error
            if stream is not sys.stdin.buffer:
                stream.close()
        raise
    return opened
