"""Records tracking produces: objects, attachments, pins, failures, actions, processes.

Plain data for the story and the JSON document.  The kinds are closed sets
(:data:`ObjKind`, :data:`ActionKind`, :data:`Via`...): a new kind is added here, where
mypy then shows every place that has to learn it.

The classes are :class:`~bpfexplain.plain.Record` s, not dataclasses: every command
that tells a story imports them, and building eight dataclasses cost it about 6 ms
at each start (issue 11).  A field's ``None`` default in ``__init__`` stands for the
dataclass's ``default_factory`` where the field is a list, dict or Counter.
"""

from __future__ import annotations

from array import array
from collections import Counter
from itertools import chain
from typing import Any, Literal

from bpfexplain.plain import Record
from bpfexplain.values import MAP_READS

ObjKind = Literal[
    "btf", "map", "prog", "perf_event", "link", "raw_tracepoint", "iter", "stats", "token",
    "pinned", "file", "socket", "cgroup", "unknown",
]
"""What an fd refers to.  ``file`` and ``socket`` are context (tracefs ids, binaries,
netlink sockets) until an attachment makes them matter: a socket that gets a filter,
a cgroup directory that gets a program; ``unknown`` an fd the log never showed being
created; ``pinned`` a BPF_OBJ_GET result whose kind the log does not show."""

CONTEXT_KINDS: frozenset[str] = frozenset({"file", "socket"})
"""Kinds of fds that are context, not objects: no story step when they close, and no
"fd N was ... before" notes about them."""

ObjEnd = Literal["close", "reused", "exec", "exit"]
"""How an object was released: closed, its fd number taken over, close-on-exec, exit."""

AttachmentEnd = Literal["disabled", "detached", "released", "exit"]
"""How an attachment stopped."""

Via = Literal[
    "PERF_EVENT_IOC_SET_BPF", "BPF_LINK_CREATE", "BPF_RAW_TRACEPOINT_OPEN", "BPF_PROG_ATTACH",
    "SO_ATTACH_BPF", "SO_ATTACH_REUSEPORT_EBPF", "IFLA_XDP", "TCA_BPF",
]
"""The call an attachment was made with; each belongs to one route
(:mod:`bpfexplain.routes`) and is an enum value of the JSON schema."""

ActionKind = Literal[
    # processes
    "signal", "exit", "fork", "exec",
    # fds and files
    "close", "dup", "mmap",
    # bpf objects
    "prog_load", "map_create", "btf_load", "create", "reopen", "obj_get", "pin", "map_op",
    "test_run", "bind_map", "info", "next_id", "bpf",
    # attach routes
    "perf_open", "enable", "disable", "perf_ioctl", "attach", "detach", "qdisc",
    "failure",
]
"""What one meaningful call did; the story tells each kind its own way."""


class Obj(Record, eq=False):
    """A kernel object (or an fd the log never showed being created)."""

    __slots__ = _fields = (
        "id", "kind", "pid", "fd", "line", "file", "via", "attrs", "name", "probe", "feature",
        "known", "closed_line", "end", "refs", "btf", "maps", "ops", "enabled_lines",
        "disabled_lines", "output_map", "outputs", "mmaps", "test_runs", "attach_point",
        "attach_source", "path", "deep", "previous", "attachments", "same_as")

    id: str
    kind: ObjKind
    pid: int | None
    fd: int | None
    line: int
    file: int
    via: str
    """The call that gave the fd: ``BPF_PROG_LOAD``, ``perf_event_open``, ``openat``..."""
    attrs: dict[str, Any]
    name: str
    probe: bool
    feature: str | None
    """For a probe: which kernel feature it tested, where known."""
    known: bool
    """False for fds that were open before the log started."""
    closed_line: int | None
    end: ObjEnd | None
    refs: int
    btf: Obj | None
    maps: list[Obj]
    """Maps a program is known to use (BPF_PROG_BIND_MAP, deep mode's map references)."""
    ops: Counter[str]
    """Map operations on this map, by command (``LOOKUP_ELEM``, ``GET_NEXT_KEY:ENOENT``...);
    the lines are in its actions."""
    enabled_lines: list[int]
    disabled_lines: list[int]
    output_map: Obj | None
    """For a BPF_OUTPUT perf event: the perf event array it was stored in."""
    outputs: list[Obj]
    mmaps: list[tuple[int, int]]
    test_runs: list[int]
    attach_point: str | None
    attach_source: str | None
    path: str | None
    """For files: the path opened (tracefs id files, cgroups, pins)."""
    deep: dict[str, Any]
    previous: Obj | None
    """The object that had this fd number before in the same process (fds are reused)."""
    attachments: list[Attachment]
    same_as: Obj | None
    """For an object opened from a pin (BPF_OBJ_GET): the object pinned at that path
    earlier in the log, which it is (the kernel's object is the same)."""

    def __init__(self, id: str, kind: ObjKind, pid: int | None, fd: int | None, line: int,
                 file: int, via: str, attrs: dict[str, Any] | None = None, name: str = "",
                 probe: bool = False, feature: str | None = None, known: bool = True,
                 closed_line: int | None = None, end: ObjEnd | None = None, refs: int = 0,
                 btf: Obj | None = None, maps: list[Obj] | None = None,
                 ops: Counter[str] | None = None, enabled_lines: list[int] | None = None,
                 disabled_lines: list[int] | None = None, output_map: Obj | None = None,
                 outputs: list[Obj] | None = None, mmaps: list[tuple[int, int]] | None = None,
                 test_runs: list[int] | None = None, attach_point: str | None = None,
                 attach_source: str | None = None, path: str | None = None,
                 deep: dict[str, Any] | None = None, previous: Obj | None = None,
                 attachments: list[Attachment] | None = None,
                 same_as: Obj | None = None) -> None:
        self.id = id
        self.kind = kind
        self.pid = pid
        self.fd = fd
        self.line = line
        self.file = file
        self.via = via
        self.attrs = {} if attrs is None else attrs
        self.name = name
        self.probe = probe
        self.feature = feature
        self.known = known
        self.closed_line = closed_line
        self.end = end
        self.refs = refs
        self.btf = btf
        self.maps = [] if maps is None else maps
        self.ops = Counter() if ops is None else ops
        self.enabled_lines = [] if enabled_lines is None else enabled_lines
        self.disabled_lines = [] if disabled_lines is None else disabled_lines
        self.output_map = output_map
        self.outputs = [] if outputs is None else outputs
        self.mmaps = [] if mmaps is None else mmaps
        self.test_runs = [] if test_runs is None else test_runs
        self.attach_point = attach_point
        self.attach_source = attach_source
        self.path = path
        self.deep = {} if deep is None else deep
        self.previous = previous
        self.attachments = [] if attachments is None else attachments
        self.same_as = same_as

    def label(self) -> str:
        """A short name for messages: ``program "sys_enter"``, ``map "AT_"``, ``fd 8``."""
        noun = KIND_NOUN.get(self.kind, self.kind)
        if self.name:
            return f'{noun} "{self.name}"'
        if self.kind == "perf_event" and self.attach_point:
            return f"{noun} {self.attach_point}"
        return f"{noun} fd {self.fd}" if self.fd is not None else noun


KIND_NOUN: dict[str, str] = {
    "prog": "program", "map": "map", "btf": "BTF", "perf_event": "perf event",
    "link": "link", "raw_tracepoint": "raw tracepoint link", "iter": "iterator",
    "pinned": "pinned object", "file": "file", "socket": "socket", "cgroup": "cgroup",
    "unknown": "fd",
}
"""How the story names each kind of object."""


class Attachment(Record, eq=False):
    __slots__ = _fields = ("prog", "target", "via", "line", "file", "link", "attach_point",
                           "attach_type", "enabled_line", "ended_line", "end", "attrs", "kept")

    prog: Obj
    target: Obj | None
    via: Via
    line: int
    file: int
    link: Obj | None
    attach_point: str | None
    attach_type: str | None
    enabled_line: int | None
    ended_line: int | None
    end: AttachmentEnd | None
    attrs: dict[str, Any]
    """What the route knows beyond the attach point: XDP mode, tc flags, cgroup flags."""
    kept: bool
    """The kernel keeps it when every fd is gone (netlink, BPF_PROG_ATTACH to a cgroup):
    only a detach ends it, and it outlives the loader."""

    def __init__(self, prog: Obj, target: Obj | None, via: Via, line: int, file: int,
                 link: Obj | None = None, attach_point: str | None = None,
                 attach_type: str | None = None, enabled_line: int | None = None,
                 ended_line: int | None = None, end: AttachmentEnd | None = None,
                 attrs: dict[str, Any] | None = None, kept: bool = False) -> None:
        self.prog = prog
        self.target = target
        self.via = via
        self.line = line
        self.file = file
        self.link = link
        self.attach_point = attach_point
        self.attach_type = attach_type
        self.enabled_line = enabled_line
        self.ended_line = ended_line
        self.end = end
        self.attrs = {} if attrs is None else attrs
        self.kept = kept

    @property
    def enabled(self) -> bool:
        return self.enabled_line is not None

    @property
    def probe(self) -> bool:
        return self.prog.probe


class Pin(Record):
    __slots__ = _fields = ("obj", "path", "line", "file", "via")

    obj: Obj | None
    path: str
    line: int
    file: int
    via: str

    def __init__(self, obj: Obj | None, path: str, line: int, file: int,
                 via: str = "BPF_OBJ_PIN") -> None:
        self.obj = obj
        self.path = path
        self.line = line
        self.file = file
        self.via = via


class Failure(Record):
    __slots__ = _fields = ("line", "file", "call", "errno", "pid", "why", "probe", "expected",
                           "detail", "subject", "attrs", "ends_loader", "feature")

    line: int
    file: int
    call: str
    errno: str
    pid: int | None
    why: str
    probe: bool
    expected: bool
    """A result the loader counts on (map iteration's ENOENT): not a failure at all."""
    detail: str | None
    """The verifier log, when strace or deep mode showed it."""
    subject: Obj | None
    attrs: dict[str, Any]
    ends_loader: bool
    """One of the last failures before the loader exited non-zero or was killed, with
    nothing achieved in between: the reason it gave up, never a probe."""
    feature: str | None
    """For a probe's failure: what the loader learned from it."""

    def __init__(self, line: int, file: int, call: str, errno: str, pid: int | None, why: str,
                 probe: bool = False, expected: bool = False, detail: str | None = None,
                 subject: Obj | None = None, attrs: dict[str, Any] | None = None,
                 ends_loader: bool = False, feature: str | None = None) -> None:
        self.line = line
        self.file = file
        self.call = call
        self.errno = errno
        self.pid = pid
        self.why = why
        self.probe = probe
        self.expected = expected
        self.detail = detail
        self.subject = subject
        self.attrs = {} if attrs is None else attrs
        self.ends_loader = ends_loader
        self.feature = feature


RUN_OPS = MAP_READS
"""Map operations that successive calls on one map may share one action for (an
:class:`OpRun`): reading and deleting, which the story tells alike wherever they
fall.  Writes (``UPDATE_ELEM``, ``FREEZE``...) stay one action each: where they fall
(before or after the first attachment) decides their phase."""
RUN_OP_CODE: dict[str, int] = {op: code for code, op in enumerate(RUN_OPS)}


class OpRun(Record, eq=False):
    """Successive successful map operations of one process on one map, as one action.

    A tool that prints a map walks it with two calls per key: tens of thousands of
    lines a second, each of which would otherwise be an :class:`Action` of its own
    (and cost the story as much again).  The run keeps every call's line and which
    operation it was, one byte each, so that everything told from them (counts in
    order of first appearance, line citations, a verbose story's step per call) is
    what one action per call would give.
    """

    __slots__ = _fields = ("spans", "codes")

    spans: list[int]
    """The calls' lines as ranges of consecutive lines, flat: ``[start, stop, start,
    stop...]`` (a walk read in bulk is one range, whatever its length); the action's
    ``line`` is the first."""
    codes: bytearray
    """Every call's operation, as its index in :data:`RUN_OPS`."""

    def __init__(self, spans: list[int], codes: bytearray) -> None:
        self.spans = spans
        self.codes = codes

    def add(self, line: int, codes: bytes | bytearray) -> None:
        """Calls on ``line`` and the lines after it, one per code."""
        stop = line + len(codes)
        if self.spans[-1] == line:
            self.spans[-1] = stop
        else:
            self.spans += (line, stop)
        self.codes += codes

    @property
    def lines(self) -> array[int]:
        """Every call's line number, in log order."""
        spans = self.spans
        return array("q", chain.from_iterable(map(range, spans[0::2], spans[1::2])))

    def ops(self) -> dict[str, int]:
        """How many calls of each operation, in the order each first appeared."""
        return {RUN_OPS[code]: count for code, count in Counter(self.codes).items()}


class Action(Record):
    """One meaningful call, in log order: what the story tells, step by step."""

    __slots__ = _fields = ("kind", "line", "first_line", "file", "pid", "obj", "other",
                           "attachment", "failure", "detail", "run")

    kind: ActionKind
    line: int
    first_line: int
    file: int
    pid: int | None
    obj: Obj | None
    other: Obj | None
    attachment: Attachment | None
    failure: Failure | None
    detail: dict[str, Any]
    run: OpRun | None
    """For ``map_op``: the calls after the first that this action stands for too."""

    def __init__(self, kind: ActionKind, line: int, first_line: int, file: int,
                 pid: int | None, obj: Obj | None = None, other: Obj | None = None,
                 attachment: Attachment | None = None, failure: Failure | None = None,
                 detail: dict[str, Any] | None = None, run: OpRun | None = None) -> None:
        self.kind = kind
        self.line = line
        self.first_line = first_line
        self.file = file
        self.pid = pid
        self.obj = obj
        self.other = other
        self.attachment = attachment
        self.failure = failure
        self.detail = {} if detail is None else detail
        self.run = run

    @property
    def probe(self) -> bool:
        if self.failure is not None:
            return self.failure.probe
        if self.obj is not None and self.obj.probe:
            return True
        return self.attachment is not None and self.attachment.probe

    @property
    def lines(self) -> tuple[int, ...] | array[int]:
        """The line of every call this action stands for."""
        return (self.line,) if self.run is None else self.run.lines

    @property
    def calls(self) -> int:
        """How many calls this action stands for (an :class:`OpRun`'s, else one)."""
        return 1 if self.run is None else len(self.run.codes)

    def each(self) -> list[Action]:
        """One action per call: this one, or its run taken apart."""
        run = self.run
        if run is None:
            return [self]
        return [Action(self.kind, line, line, self.file, self.pid, self.obj,
                       detail={"op": RUN_OPS[code]})
                for line, code in zip(run.lines, run.codes, strict=True)]


def each_call(actions: list[Action]) -> list[Action]:
    """``actions`` with every run of map operations taken apart into one per call."""
    if all(a.run is None for a in actions):
        return actions
    return [one for a in actions for one in a.each()]


class Process(Record):
    __slots__ = _fields = ("pid", "tgid", "command", "argv", "parent", "exit_code",
                           "exit_signal", "exit_line", "signals")

    pid: int | None
    tgid: int | None
    command: str | None
    argv: list[str]
    parent: int | None
    exit_code: int | None
    exit_signal: str | None
    exit_line: int | None
    signals: list[tuple[str, int, Any]]

    def __init__(self, pid: int | None, tgid: int | None, command: str | None = None,
                 argv: list[str] | None = None, parent: int | None = None,
                 exit_code: int | None = None, exit_signal: str | None = None,
                 exit_line: int | None = None,
                 signals: list[tuple[str, int, Any]] | None = None) -> None:
        self.pid = pid
        self.tgid = tgid
        self.command = command
        self.argv = [] if argv is None else argv
        self.parent = parent
        self.exit_code = exit_code
        self.exit_signal = exit_signal
        self.exit_line = exit_line
        self.signals = [] if signals is None else signals

    def gave_up(self) -> str | None:
        """How the process ended badly (``exited with status 1``, ``was killed by
        SIGKILL``); None for a clean exit, a stop the user asked for (SIGINT, SIGTERM,
        SIGHUP, SIGQUIT: a Ctrl-C or ``timeout``), or an end the log does not show."""
        if self.exit_signal is not None:
            if self.exit_signal in USER_STOP:
                return None
            return f"was killed by {self.exit_signal}"
        if self.exit_code is not None and self.exit_code != 0:
            return f"exited with status {self.exit_code}"
        return None


USER_STOP = frozenset({"SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"})
"""Signals a user (or ``timeout``) sends to stop a tool: stopping, not failing."""


class Lifecycle(Record):
    """Everything tracking found, for the story and the JSON document."""

    __slots__ = _fields = ("objects", "attachments", "pins", "failures", "actions",
                           "processes", "files", "threads")

    objects: list[Obj]
    attachments: list[Attachment]
    pins: list[Pin]
    failures: list[Failure]
    actions: list[Action]
    processes: dict[int | None, Process]
    files: list[str]
    threads: dict[int | None, int | None]
    """Every pid seen (thread ids included) → the process (thread group) it belongs to."""

    def __init__(self, objects: list[Obj], attachments: list[Attachment], pins: list[Pin],
                 failures: list[Failure], actions: list[Action],
                 processes: dict[int | None, Process], files: list[str],
                 threads: dict[int | None, int | None] | None = None) -> None:
        self.objects = objects
        self.attachments = attachments
        self.pins = pins
        self.failures = failures
        self.actions = actions
        self.processes = processes
        self.files = files
        self.threads = {} if threads is None else threads

    def real_programs(self) -> list[Obj]:
        return [o for o in self.objects if o.kind == "prog" and not o.probe]
