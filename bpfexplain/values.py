"""Plain typed values for what strace prints, and the events the parser produces.

The grammar's transformer builds these; the tracker reads them.  Nothing here knows
about eBPF: a ``Sym`` is any bare identifier strace printed, a ``Flags`` any ``A|B``.

Value := int | str | Sym | Flags | Fd | Commented | Truncated | Func | InOut
         | Elided | list[Value] | dict[str, Value]
"""

from __future__ import annotations

from typing import Any, Union

from bpfexplain.plain import Frozen, init_field


class Sym(str):
    """A bare identifier such as ``BPF_MAP_CREATE`` or ``NULL`` (not a quoted string)."""

    __slots__ = ()


class Flags(tuple):  # type: ignore[type-arg]
    """``A|B|0x10``: the members in print order, names as ``str`` and numbers as ``int``;
    under ``-X verbose`` a member may be a ``Commented`` number (``0x5 /* BPF_JMP */``)."""

    __slots__ = ()


class Fd(Frozen):
    """A number with an ``-y``/``-yy`` annotation: ``3<anon_inode:bpf-map>``.

    Also used for ``-Y``/``--decode-pids=comm`` pids (``1234<bpftrace>``).
    """

    __slots__ = _fields = ("num", "path")

    num: int
    path: str

    def __init__(self, num: int, path: str) -> None:
        init_field(self, "num", num)
        init_field(self, "path", path)


class Commented(Frozen):
    """A value followed by a comment: ``0x24 /* BPF_MAP_TYPE_??? */``."""

    __slots__ = _fields = ("value", "comment")

    value: Value
    comment: str

    def __init__(self, value: Value, comment: str) -> None:
        init_field(self, "value", value)
        init_field(self, "comment", comment)


class Truncated(Frozen):
    """A string strace cut short (``"abc"...``): only a prefix of the real text."""

    __slots__ = _fields = ("text",)

    text: str

    def __init__(self, text: str) -> None:
        init_field(self, "text", text)


class Func(Frozen):
    """A function-like rendering: ``KERNEL_VERSION(6, 18, 44)``, ``_IOC(...)``."""

    __slots__ = _fields = ("name", "args")

    name: str
    args: tuple[Value, ...]

    def __init__(self, name: str, args: tuple[Value, ...]) -> None:
        init_field(self, "name", name)
        init_field(self, "args", args)


class InOut(Frozen):
    """A value the kernel changed: ``next_id=0 => 1`` (before, after)."""

    __slots__ = _fields = ("before", "after")

    before: Value
    after: Value

    def __init__(self, before: Value, after: Value) -> None:
        init_field(self, "before", before)
        init_field(self, "after", after)


class _ElidedType:
    __slots__ = ()
    _instance: _ElidedType | None = None

    def __new__(cls) -> _ElidedType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Elided"


Elided = _ElidedType()
"""strace's ``...``: fields or elements it chose not to print."""

Value = Union[  # noqa: UP007 - a recursive alias needs the string forward references
    int, str, Sym, Flags, Fd, Commented, Truncated, Func, InOut, _ElidedType,
    list["Value"], dict[str, "Value"],
]


class Origin(Frozen):
    """Where an event came from: input file index (0-based) and 1-based line numbers."""

    __slots__ = _fields = ("file", "line", "first_line")

    file: int
    line: int
    """The line where the event completed (for a resumed call, the resumed line)."""
    first_line: int
    """The line where it started (differs from ``line`` for unfinished/resumed pairs)."""

    def __init__(self, file: int, line: int, first_line: int) -> None:
        init_field(self, "file", file)
        init_field(self, "line", line)
        init_field(self, "first_line", first_line)


class Call(Frozen):
    """One completed system call."""

    __slots__ = _fields = ("name", "args", "result", "errno", "origin", "pid", "time", "duration",
                           "result_path", "comm", "injected", "arg_names", "deep")
    _uncompared = frozenset({"deep"})

    name: str
    args: tuple[Value, ...]
    result: int | None
    """The return value; ``None`` when strace printed ``= ?`` (the call never returned)."""
    errno: str | None
    origin: Origin
    pid: int | None
    time: float | None
    """Seconds: since the epoch (-ttt), since midnight (-t/-tt) or since the previous line (-r)."""
    duration: float | None
    result_path: str | None
    """The ``-y`` annotation on the result (``3<anon_inode:bpf-prog>``)."""
    comm: str | None
    injected: bool
    arg_names: tuple[str | None, ...]
    """Names strace 6.16+ printed before arguments (``cmd=``, ``attr=``); empty when none."""
    deep: dict[str, Any] | None
    """What the ptrace backend read from the tracee's memory (instructions, verifier log,
    uprobe target...); None for calls that came from strace."""

    def __init__(self, name: str, args: tuple[Value, ...], result: int | None, errno: str | None,
                 origin: Origin, pid: int | None = None, time: float | None = None,
                 duration: float | None = None, result_path: str | None = None,
                 comm: str | None = None, injected: bool = False,
                 arg_names: tuple[str | None, ...] = (),
                 deep: dict[str, Any] | None = None) -> None:
        init_field(self, "name", name)
        init_field(self, "args", args)
        init_field(self, "result", result)
        init_field(self, "errno", errno)
        init_field(self, "origin", origin)
        init_field(self, "pid", pid)
        init_field(self, "time", time)
        init_field(self, "duration", duration)
        init_field(self, "result_path", result_path)
        init_field(self, "comm", comm)
        init_field(self, "injected", injected)
        init_field(self, "arg_names", arg_names)
        init_field(self, "deep", deep)

    @property
    def line(self) -> int:
        return self.origin.line

    @property
    def ok(self) -> bool:
        return self.errno is None and self.result is not None and self.result >= 0


class Signal(Frozen):
    """``--- SIGINT {si_signo=SIGINT, ...} ---``: a signal delivered to ``pid``."""

    __slots__ = _fields = ("name", "info", "origin", "pid", "time")

    name: str
    info: dict[str, Value]
    origin: Origin
    pid: int | None
    time: float | None

    def __init__(self, name: str, info: dict[str, Value], origin: Origin, pid: int | None = None,
                 time: float | None = None) -> None:
        init_field(self, "name", name)
        init_field(self, "info", info)
        init_field(self, "origin", origin)
        init_field(self, "pid", pid)
        init_field(self, "time", time)


class Exit(Frozen):
    """``+++ exited with 0 +++`` or ``+++ killed by SIGKILL +++``."""

    __slots__ = _fields = ("origin", "pid", "time", "code", "signal", "core_dumped")

    origin: Origin
    pid: int | None
    time: float | None
    code: int | None
    signal: str | None
    core_dumped: bool

    def __init__(self, origin: Origin, pid: int | None = None, time: float | None = None,
                 code: int | None = None, signal: str | None = None,
                 core_dumped: bool = False) -> None:
        init_field(self, "origin", origin)
        init_field(self, "pid", pid)
        init_field(self, "time", time)
        init_field(self, "code", code)
        init_field(self, "signal", signal)
        init_field(self, "core_dumped", core_dumped)


MAP_READS: tuple[str, ...] = (
    "LOOKUP_ELEM", "GET_NEXT_KEY", "DELETE_ELEM", "LOOKUP_AND_DELETE_ELEM", "LOOKUP_BATCH",
    "LOOKUP_AND_DELETE_BATCH", "DELETE_BATCH",
)
"""Map commands (``BPF_MAP_`` left off) that read or delete entries, coded by their
index here where one byte per call is kept (:class:`MapReads`, the tracker's runs)."""


class MapReads(Frozen):
    """Successive complete lines ``bpf(BPF_MAP_LOOKUP_ELEM|GET_NEXT_KEY|..., {map_fd=N,
    ...}) = 0`` of one process, as framing recognised them in bulk.

    A tool printing a map walks it with two such calls per key: tens of thousands of
    lines a second under ``run``.  Framing hands them over as one event with what the
    tracker reads from each (the same values the grammar gives them, checked over the
    fixtures by tests/test_map_reads.py); ``parse --format events`` and anything else
    that wants one :class:`Call` per line never asks for them.
    """

    __slots__ = _fields = ("pid", "map_fd", "file", "line", "codes")

    pid: int | None
    map_fd: int
    file: int
    line: int
    """The first call's line; the others follow it, one per line."""
    codes: bytes
    """Each call's command, as its index in :data:`MAP_READS`."""

    def __init__(self, pid: int | None, map_fd: int, file: int, line: int, codes: bytes) -> None:
        init_field(self, "pid", pid)
        init_field(self, "map_fd", map_fd)
        init_field(self, "file", file)
        init_field(self, "line", line)
        init_field(self, "codes", codes)


Event = Union[Call, Signal, Exit]  # noqa: UP007 - runtime alias, Python 3.10 needs Union
Tracked = Union[Call, Signal, Exit, MapReads]  # noqa: UP007 - runtime alias, as Event
"""What the tracker takes: events, and map reads in bulk where they were asked for."""


# -- helpers the tracker uses to read values without caring how strace rendered them --

def unwrap(value: Any) -> Any:
    """Strip presentation: a comment's value, an fd's number, an in/out's final value.

    A struct's final value is its fields at entry updated by the ones strace printed
    at exit: ``clone3({flags=…CLONE_THREAD…} => {parent_tid=[12]}, 88)`` lists only
    the changed field after ``=>``, and the flags must not be lost with the rest."""
    while True:
        if isinstance(value, Commented):
            value = value.value
        elif isinstance(value, InOut):
            if isinstance(value.before, dict) and isinstance(value.after, dict):
                return {**value.before, **value.after}
            value = value.after
        elif isinstance(value, Fd):
            return value.num
        else:
            return value


def symbol(value: Any) -> str | None:
    """The symbolic name of a value whatever ``-X`` was used, or None when only a number.

    ``BPF_PROG_LOAD`` -> ``BPF_PROG_LOAD``; ``0x5 /* BPF_PROG_LOAD */`` (``-X verbose``)
    -> ``BPF_PROG_LOAD``; ``0x24 /* BPF_MAP_TYPE_??? */`` -> None.
    """
    if isinstance(value, Commented):
        comment = value.comment.strip()
        if comment and "?" not in comment and _is_identifier(comment):
            return comment
        return symbol(value.value)
    if isinstance(value, Sym):
        return str(value)
    if isinstance(value, InOut):
        return symbol(value.after)
    return None


def as_int(value: Any) -> int | None:
    """An integer value (fd numbers included), or None."""
    if type(value) is int:
        return value  # the common case, on every map operation: no wrapper to strip
    value = unwrap(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def as_text(value: Any) -> str | None:
    """A quoted string's text (truncated ones too: their known prefix), or None."""
    value = unwrap(value)
    if isinstance(value, Truncated):
        return value.text
    if isinstance(value, str) and not isinstance(value, Sym):
        return value
    return None


def flag_names(value: Any) -> list[str | int]:
    """Members of a flag set; a single symbol or number is a set of one."""
    if isinstance(value, Commented):
        # `-X verbose`: `0x80000 /* O_RDONLY|O_CLOEXEC */`, the names in the comment.
        names = value.comment.strip().split("|")
        if "?" not in value.comment and all(n and _is_identifier(n) for n in names):
            return list(names)
    value = unwrap(value)
    if isinstance(value, Flags):
        # A part may carry its own comment (`0x5 /* BPF_JMP */|0 /* BPF_K */`).
        return [_flag_part(part) for part in value]
    if isinstance(value, (Sym, int)):
        return [value]
    return []


def _flag_part(part: Any) -> str | int:
    name = symbol(part)
    if name is not None:
        return name
    plain = unwrap(part)
    return plain if isinstance(plain, (Sym, int)) else str(plain)


def _is_identifier(text: str) -> bool:
    return text.replace("_", "a").isalnum() and not text[0].isdigit()
