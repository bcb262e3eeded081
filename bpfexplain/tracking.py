"""Tracking: follow file descriptors through the calls into an eBPF lifecycle.

Knows eBPF and file descriptors, nothing about printing.  A :class:`Tracker` takes
typed events one by one (so ``run`` can explain while the loader runs), keeps one fd
table per process (threads share it, ``fork`` copies it, ``execve`` drops
close-on-exec fds) and records:

* objects: BTF, maps, programs, perf events, links, pinned objects, and fds nobody
  created in the log (a trace attached mid-run);
* attachments: program → perf event / link / raw tracepoint / cgroup..., with when
  they went live and how they ended;
* failures, with a reason a person can act on;
* actions: one record per meaningful call, in log order, for the story to tell.

Rules that matter for correctness (see ``docs`` in the module's tests):

* a new object on an fd number that is still live means the old object was released
  (the log did not trace that ``close``): the old one is marked, never merged;
* a ``close`` releases its fd when it *starts*, a creating call owns its fd when it
  *returns*: with ``-f`` another thread may get the same number back before strace
  prints ``<... close resumed>``, and that new object must survive the late close.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bpfexplain import knowledge as kn
from bpfexplain.resolve import Resolver
from bpfexplain.values import (
    Call,
    Elided,
    Event,
    Exit,
    Fd,
    Func,
    Signal,
    as_int,
    as_text,
    flag_names,
    symbol,
    unwrap,
)

# --------------------------------------------------------------------------------
# records


@dataclass(eq=False)
class Obj:
    """A kernel object (or an fd the log never showed being created)."""

    id: str
    kind: str
    """btf, map, prog, perf_event, link, raw_tracepoint, iter, pinned, file, unknown"""
    pid: int | None
    fd: int | None
    line: int
    file: int
    via: str
    """The call that gave the fd: ``BPF_PROG_LOAD``, ``perf_event_open``, ``openat``..."""
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    probe: bool = False
    feature: str | None = None
    """For a probe: which kernel feature it tested, where known."""
    known: bool = True
    """False for fds that were open before the log started."""
    closed_line: int | None = None
    end: str | None = None
    """How it was released: close, reused (fd number taken over), exec, exit."""
    refs: int = 0
    btf: Obj | None = None
    maps: list[Obj] = field(default_factory=list)
    """Maps a program is known to use (BPF_PROG_BIND_MAP, deep mode's map references)."""
    ops: Counter[str] = field(default_factory=Counter)
    op_lines: list[int] = field(default_factory=list)
    enabled_lines: list[int] = field(default_factory=list)
    disabled_lines: list[int] = field(default_factory=list)
    output_map: Obj | None = None
    """For a BPF_OUTPUT perf event: the perf event array it was stored in."""
    outputs: list[Obj] = field(default_factory=list)
    mmaps: list[tuple[int, int]] = field(default_factory=list)
    test_runs: list[int] = field(default_factory=list)
    attach_point: str | None = None
    attach_source: str | None = None
    path: str | None = None
    """For files: the path opened (tracefs id files, cgroups, pins)."""
    deep: dict[str, Any] = field(default_factory=dict)
    previous: Obj | None = None
    """The object that had this fd number before in the same process (fds are reused)."""
    attachments: list[Attachment] = field(default_factory=list)

    def label(self) -> str:
        """A short name for messages: ``program "sys_enter"``, ``map "AT_"``, ``fd 8``."""
        noun = KIND_NOUN.get(self.kind, self.kind)
        if self.name:
            return f'{noun} "{self.name}"'
        if self.kind == "perf_event" and self.attach_point:
            return f"{noun} {self.attach_point}"
        return f"{noun} fd {self.fd}" if self.fd is not None else noun


KIND_NOUN = {
    "prog": "program", "map": "map", "btf": "BTF", "perf_event": "perf event",
    "link": "link", "raw_tracepoint": "raw tracepoint link", "iter": "iterator",
    "pinned": "pinned object", "file": "file", "unknown": "fd",
}
"""How the story names each kind of object."""


@dataclass(eq=False)
class Attachment:
    prog: Obj
    target: Obj | None
    via: str
    line: int
    file: int
    link: Obj | None = None
    attach_point: str | None = None
    attach_type: str | None = None
    enabled_line: int | None = None
    ended_line: int | None = None
    end: str | None = None
    """How it stopped: disabled, detached, released, exit."""

    @property
    def enabled(self) -> bool:
        return self.enabled_line is not None

    @property
    def probe(self) -> bool:
        return self.prog.probe


@dataclass
class Pin:
    obj: Obj | None
    path: str
    line: int
    file: int
    via: str = "BPF_OBJ_PIN"


@dataclass
class Failure:
    line: int
    file: int
    call: str
    errno: str
    pid: int | None
    why: str
    probe: bool = False
    expected: bool = False
    """A result the loader counts on (map iteration's ENOENT): not a failure at all."""
    detail: str | None = None
    """The verifier log, when strace or deep mode showed it."""
    subject: Obj | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Action:
    """One meaningful call, in log order: what the story tells, step by step."""

    kind: str
    line: int
    first_line: int
    file: int
    pid: int | None
    obj: Obj | None = None
    other: Obj | None = None
    attachment: Attachment | None = None
    failure: Failure | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def probe(self) -> bool:
        if self.failure is not None:
            return self.failure.probe
        if self.obj is not None and self.obj.probe:
            return True
        return self.attachment is not None and self.attachment.probe


@dataclass
class Process:
    pid: int | None
    tgid: int | None
    command: str | None = None
    argv: list[str] = field(default_factory=list)
    parent: int | None = None
    exit_code: int | None = None
    exit_signal: str | None = None
    exit_line: int | None = None
    signals: list[tuple[str, int, Any]] = field(default_factory=list)


@dataclass
class Lifecycle:
    """Everything tracking found, for the story and the JSON document."""

    objects: list[Obj]
    attachments: list[Attachment]
    pins: list[Pin]
    failures: list[Failure]
    actions: list[Action]
    processes: dict[int | None, Process]
    files: list[str]
    threads: dict[int | None, int | None] = field(default_factory=dict)
    """Every pid seen (thread ids included) → the process (thread group) it belongs to."""

    def real_programs(self) -> list[Obj]:
        return [o for o in self.objects if o.kind == "prog" and not o.probe]


# --------------------------------------------------------------------------------
# fd tables


class FdTable:
    """The fds of one process (all its threads): number → object."""

    def __init__(self, owner: int | None):
        self.owner = owner
        self.fds: dict[int, Obj] = {}
        self.cloexec: set[int] = set()
        # fd number → the object a reuse displaced, so a late close can be credited.
        self.displaced: dict[int, tuple[Obj, int]] = {}
        # fd number → the last object that had it, so the story can point out reuse.
        self.history: dict[int, Obj] = {}

    def remove(self, fd: int) -> Obj | None:
        obj = self.fds.pop(fd, None)
        self.cloexec.discard(fd)
        if obj is not None and obj.kind != "file":
            self.history[fd] = obj
        return obj

    def copy(self, owner: int | None) -> FdTable:
        table = FdTable(owner)
        table.fds = dict(self.fds)
        table.cloexec = set(self.cloexec)
        for obj in table.fds.values():
            obj.refs += 1
        return table


_BPF_OUTPUT = "PERF_COUNT_SW_BPF_OUTPUT"
_CLONE_CHILD = {"clone", "clone3", "fork", "vfork"}


class Tracker:
    """Feed events in log order; read :meth:`lifecycle` at the end."""

    def __init__(self, resolver: Resolver | None = None, files: list[str] | None = None):
        self.resolver = resolver or Resolver()
        self.files = files or []
        self.objects: list[Obj] = []
        self.attachments: list[Attachment] = []
        self.pins: list[Pin] = []
        self.failures: list[Failure] = []
        self.actions: list[Action] = []
        self.processes: dict[int | None, Process] = {}
        self._tables: dict[int | None, FdTable] = {}
        self._tgid: dict[int | None, int | None] = {}
        self._counters: Counter[str] = Counter()
        self._pending_outputs: list[Obj] = []
        self._last_binary: dict[int | None, str] = {}

    # -- plumbing ----------------------------------------------------------------

    def _table(self, pid: int | None) -> FdTable:
        table = self._tables.get(pid)
        if table is None:
            table = FdTable(pid)
            self._tables[pid] = table
            self._tgid.setdefault(pid, pid)
            self.processes.setdefault(pid, Process(pid, pid))
        return table

    def _process(self, pid: int | None) -> Process:
        self._table(pid)
        tgid = self._tgid.get(pid, pid)
        return self.processes.setdefault(tgid, Process(tgid, tgid))

    def _new(self, kind: str, call: Call, fd: int | None, via: str,
             attrs: dict[str, Any] | None = None, name: str = "") -> Obj:
        self._counters[kind] += 1
        obj = Obj(
            id=f"{kind}-{self._counters[kind]}", kind=kind,
            pid=self._tgid.get(call.pid, call.pid), fd=fd, line=call.line,
            file=call.origin.file, via=via, attrs=attrs or {}, name=name,
        )
        self.objects.append(obj)
        if fd is not None:
            self._bind(call.pid, fd, obj, call)
        return obj

    def _bind(self, pid: int | None, fd: int, obj: Obj, call: Call,
              cloexec: bool = True) -> None:
        table = self._table(pid)
        old = table.fds.get(fd)
        before = old if old is not None else table.history.get(fd)
        if before is not None and before is not obj and obj.previous is None and \
                obj.kind != "file":
            obj.previous = before
        if old is not None and old is not obj:
            # The log never showed this fd closed, yet the kernel handed the number
            # out again: whatever was there is gone.
            table.displaced[fd] = (old, call.line)
            self._unref(old, call.line, "reused", call.origin.file)
        table.fds[fd] = obj
        if cloexec:
            table.cloexec.add(fd)
        else:
            table.cloexec.discard(fd)
        obj.refs += 1

    def _unref(self, obj: Obj, line: int, how: str, file: int) -> None:
        obj.refs -= 1
        if obj.refs <= 0 and obj.closed_line is None:
            obj.closed_line = line
            obj.end = how
            self._released(obj, line, how)

    def _released(self, obj: Obj, line: int, how: str) -> None:
        """An object is gone: attachments through it end with it."""
        for att in self.attachments:
            if att.ended_line is not None:
                continue
            # A link holds its perf event: only the link's release ends the attachment.
            holder = att.link if att.link is not None else att.target
            if holder is obj:
                att.ended_line = line
                att.end = "exit" if how == "exit" else "released"

    def _lookup(self, pid: int | None, value: Any, call: Call, kind_hint: str) -> Obj | None:
        """The object behind an fd argument; an unknown object when the log never showed it.

        ``0`` (also printed as ``0</dev/null<char 1:3>>`` under ``-yy``) means unset in
        bpf_attr, and a negative number is no fd at all.
        """
        fd = as_int(value)
        if fd is None or fd <= 0:
            return None
        table = self._table(pid)
        obj = table.fds.get(fd)
        if obj is not None:
            return obj
        kind = kind_hint
        raw = unwrap_fd(value)
        if isinstance(raw, Fd):
            kind = _kind_from_annotation(raw.path) or kind
        self._counters[kind] += 1
        obj = Obj(id=f"{kind}-{self._counters[kind]}", kind=kind,
                  pid=self._tgid.get(pid, pid), fd=fd, line=call.line,
                  file=call.origin.file, via="(before the trace)", known=False)
        self.objects.append(obj)
        table.fds[fd] = obj
        obj.refs += 1
        return obj

    def _act(self, kind: str, call: Call, **kw: Any) -> Action:
        action = Action(kind, call.line, call.origin.first_line, call.origin.file, call.pid,
                        **kw)
        self.actions.append(action)
        return action

    def _fail(self, call: Call, name: str, *, subject: Obj | None = None,
              attrs: dict[str, Any] | None = None, detail: str | None = None,
              probe: bool = False, why: str | None = None) -> Failure:
        errno = call.errno or "unknown error"
        if why is None:
            why = kn.errno_meaning(errno, name) if errno in kn.ERRNO else \
                f"the call failed with {errno}"
        failure = Failure(
            line=call.line, file=call.origin.file, call=name, errno=errno, pid=call.pid,
            why=why,
            # EPERM from bpf() means not even probing is allowed: never harmless.
            probe=probe and (errno != "EPERM" or name == "openat"),
            expected=kn.errno_is_expected(errno, name) if errno in kn.ERRNO else False,
            detail=detail, subject=subject, attrs=attrs or {},
        )
        if not failure.expected:
            self.failures.append(failure)
        self._act("failure", call, failure=failure, obj=subject)
        return failure

    # -- events ------------------------------------------------------------------

    def feed(self, event: Event) -> list[Action]:
        """Track one event; returns the actions it produced (for live output)."""
        before = len(self.actions)
        if isinstance(event, Call):
            handler = getattr(self, "on_" + event.name, None)
            if handler is not None:
                handler(event)
        elif isinstance(event, Signal):
            self.on_signal(event)
        elif isinstance(event, Exit):
            self.on_exit(event)
        return self.actions[before:]

    def feed_all(self, events: Iterable[Event]) -> Lifecycle:
        for event in events:
            self.feed(event)
        return self.lifecycle()

    # processes

    def on_signal(self, event: Signal) -> None:
        proc = self._process(event.pid)
        proc.signals.append((event.name, event.origin.line, event.info.get("si_pid")))
        action = Action("signal", event.origin.line, event.origin.line, event.origin.file,
                        event.pid, detail={"signal": event.name, "info": event.info})
        self.actions.append(action)

    def on_exit(self, event: Exit) -> None:
        pid = event.pid
        tgid = self._tgid.get(pid, pid)
        proc = self._process(pid)
        if pid == tgid or pid is None:
            proc.exit_code = event.code
            proc.exit_signal = event.signal
            proc.exit_line = event.origin.line
            self._drop_table(pid, event.origin.line, "exit", event.origin.file)
            self.actions.append(Action("exit", event.origin.line, event.origin.line,
                                       event.origin.file, pid,
                                       detail={"code": event.code, "signal": event.signal}))

    def _drop_table(self, pid: int | None, line: int, how: str, file: int) -> None:
        table = self._tables.get(pid)
        if table is None:
            return
        for fd, obj in list(table.fds.items()):
            table.remove(fd)
            self._unref(obj, line, how, file)
        # threads sharing this table lose it too
        for other, t in list(self._tables.items()):
            if t is table:
                self._tables[other] = FdTable(other)

    def _clone(self, call: Call, flags: list[str | int]) -> None:
        child = call.result
        if child is None or child <= 0:
            return
        parent_table = self._table(call.pid)
        names = {str(f) for f in flags}
        parent_tgid = self._tgid.get(call.pid, call.pid)
        if "CLONE_THREAD" in names:
            self._tgid[child] = parent_tgid
        else:
            self._tgid[child] = child
            self.processes[child] = Process(child, child, parent=parent_tgid,
                                            command=self._process(call.pid).command)
        if "CLONE_FILES" in names:
            self._tables[child] = parent_table
        else:
            self._tables[child] = parent_table.copy(child)
        if "CLONE_THREAD" not in names:
            self._act("fork", call, detail={"child": child})

    def on_clone(self, call: Call) -> None:
        flags: list[str | int] = []
        # names come only with strace 6.16+; older logs are positional
        for name, value in zip(call.arg_names, call.args, strict=False):
            if name == "flags":
                flags = flag_names(value)
        if not flags:
            for value in call.args:
                names = [f for f in flag_names(value) if isinstance(f, str)]
                if any(n.startswith("CLONE_") for n in names):
                    flags = list(names)
                    break
        self._clone(call, flags)

    def on_clone3(self, call: Call) -> None:
        attrs = call.args[0] if call.args else {}
        attrs = unwrap(attrs)
        flags = flag_names(attrs.get("flags")) if isinstance(attrs, dict) else []
        self._clone(call, flags)

    def on_fork(self, call: Call) -> None:
        self._clone(call, [])

    on_vfork = on_fork

    def on_execve(self, call: Call) -> None:
        if call.result != 0:
            return
        proc = self._process(call.pid)
        argv = call.args[1] if len(call.args) > 1 else None
        if isinstance(argv, list):
            proc.argv = [as_text(a) or "…" for a in argv if a is not Elided]
        path = as_text(call.args[0]) if call.args else None
        proc.command = (path or (proc.argv[0] if proc.argv else "?")).rsplit("/", 1)[-1]
        table = self._table(call.pid)
        for fd in list(table.cloexec):
            obj = table.remove(fd)
            if obj is not None:
                self._unref(obj, call.line, "exec", call.origin.file)
        table.cloexec.clear()
        self._act("exec", call, detail={"command": proc.command, "argv": proc.argv})

    on_execveat = on_execve

    def on_exit_group(self, call: Call) -> None:
        proc = self._process(call.pid)
        code = as_int(call.args[0]) if call.args else None
        if proc.exit_code is None:
            proc.exit_code = code

    # fds

    def on_close(self, call: Call) -> None:
        fd = as_int(call.args[0]) if call.args else None
        if fd is None:
            return
        table = self._table(call.pid)
        obj = table.fds.get(fd)
        if obj is not None and obj.file == call.origin.file and (
            obj.line > call.origin.first_line
        ):
            # Created while this close was in flight (another thread got the number
            # back first): the close was for the object it displaced.
            displaced = table.displaced.pop(fd, None)
            if displaced is not None and displaced[0].end == "reused":
                displaced[0].end = "close"
                displaced[0].closed_line = call.line
            return
        if obj is None:
            return
        table.remove(fd)
        if obj.kind in ("file",):
            obj.refs -= 1
            return
        self._unref(obj, call.line, "close", call.origin.file)
        if obj.kind != "unknown" or obj.known:
            self._act("close", call, obj=obj)

    def on_close_range(self, call: Call) -> None:
        first = as_int(call.args[0]) if call.args else None
        last = as_int(call.args[1]) if len(call.args) > 1 else None
        flags = flag_names(call.args[2]) if len(call.args) > 2 else []
        if first is None or last is None or call.result != 0:
            return
        if "CLOSE_RANGE_CLOEXEC" in flags:
            table = self._table(call.pid)
            table.cloexec.update(fd for fd in table.fds if first <= fd <= last)
            return
        table = self._table(call.pid)
        for fd in [fd for fd in table.fds if first <= fd <= last]:
            obj = table.remove(fd)
            if obj is None:
                continue
            self._unref(obj, call.line, "close", call.origin.file)
            if obj.kind != "file":
                self._act("close", call, obj=obj)

    def _dup(self, call: Call, old_value: Any, cloexec: bool) -> None:
        if not call.ok or call.result is None:
            return
        old = as_int(old_value)
        if old is None:
            return
        obj = self._table(call.pid).fds.get(old)
        if obj is None:
            return
        self._bind(call.pid, call.result, obj, call, cloexec=cloexec)
        if obj.kind != "file":
            self._act("dup", call, obj=obj, detail={"old": old, "new": call.result})

    def on_dup(self, call: Call) -> None:
        self._dup(call, call.args[0] if call.args else None, False)

    def on_dup2(self, call: Call) -> None:
        self._dup(call, call.args[0] if call.args else None, False)

    def on_dup3(self, call: Call) -> None:
        flags = flag_names(call.args[2]) if len(call.args) > 2 else []
        self._dup(call, call.args[0] if call.args else None, "O_CLOEXEC" in flags)

    def on_fcntl(self, call: Call) -> None:
        if len(call.args) < 2:
            return
        cmd = symbol(call.args[1]) or {0: "F_DUPFD", 1030: "F_DUPFD_CLOEXEC"}.get(
            as_int(call.args[1]) or -1, "")
        if cmd in ("F_DUPFD", "F_DUPFD_CLOEXEC"):
            self._dup(call, call.args[0], cmd == "F_DUPFD_CLOEXEC")

    on_fcntl64 = on_fcntl

    def on_openat(self, call: Call) -> None:
        if len(call.args) >= 2:
            self._opened(call, call.args[1], call.args[2] if len(call.args) > 2 else None)

    def on_open(self, call: Call) -> None:
        if call.args:
            self._opened(call, call.args[0], call.args[1] if len(call.args) > 1 else None)

    def _opened(self, call: Call, path_value: Any, flags_value: Any) -> None:
        """A file the loader opened: context (tracefs ids, binaries), not a graph node."""
        path = as_text(path_value) or ""
        if not call.ok or call.result is None:
            self._open_failed(call, path)
            return
        if _looks_like_binary(path):
            self._last_binary[self._tgid.get(call.pid, call.pid)] = path
        obj = Obj(id="file", kind="file", pid=self._tgid.get(call.pid, call.pid),
                  fd=call.result, line=call.line, file=call.origin.file, via=call.name,
                  path=path)
        self._bind(call.pid, call.result, obj, call,
                   cloexec="O_CLOEXEC" in flag_names(flags_value))

    def _open_failed(self, call: Call, path: str) -> None:
        """Loaders open tracefs/sysfs files to create probes; failing to is telling.

        A missing PMU ``type`` file has a fallback (the legacy ``*probe_events``
        files); when those fail too, the probe cannot be created at all.
        """
        if "/tracing/" not in path and "/event_source/" not in path:
            return
        name = path.rsplit("/", 1)[-1]
        if name in ("kprobe_events", "uprobe_events"):
            kind = name.split("_")[0]
            self._fail(call, "openat", attrs={"path": path}, why=(
                f"cannot create a {kind}: {path} is missing ({call.errno}); this kernel "
                f"has no {kind} support (or tracefs is not mounted), so a {kind} "
                "cannot be attached here"))
            return
        self._fail(call, "openat", attrs={"path": path}, probe=True, why=(
            f"{path} could not be opened ({call.errno}); the loader tries another way"))

    def on_read(self, call: Call) -> None:
        if not call.ok or len(call.args) < 2:
            return
        fd_value = call.args[0]
        content = as_text(call.args[1])
        if content is None:
            return
        path: str | None = None
        raw = unwrap_fd(fd_value)
        if isinstance(raw, Fd):
            path = raw.path
        else:
            fd = as_int(fd_value)
            obj = self._table(call.pid).fds.get(fd) if fd is not None else None
            if obj is not None and obj.kind == "file":
                path = obj.path
        if path:
            self.resolver.learn_from_read(path, content)

    def on_mmap(self, call: Call) -> None:
        if len(call.args) < 5 or not call.ok:
            return
        flags = [str(f) for f in flag_names(call.args[3])]
        fd = as_int(call.args[4])
        if fd is None or fd < 0:
            return
        obj = self._table(call.pid).fds.get(fd)
        if obj is None or obj.kind not in ("perf_event", "map"):
            return
        size = as_int(call.args[1]) or 0
        obj.mmaps.append((call.line, size))
        self._act("mmap", call, obj=obj, detail={"size": size, "shared": "MAP_SHARED" in flags})

    on_mmap2 = on_mmap

    # perf events

    def on_perf_event_open(self, call: Call) -> None:
        attr = unwrap(call.args[0]) if call.args else {}
        if not isinstance(attr, dict):
            attr = {}
        ptype_value = attr.get("type")
        ptype_name = symbol(ptype_value)
        ptype_num = as_int(ptype_value)
        if ptype_name is None and ptype_num is not None and ptype_num in kn.PERF_TYPE:
            ptype_name = kn.PERF_TYPE.name(ptype_num)
        config_value = attr.get("config")
        config: Any = symbol(config_value)
        if config is None:
            config = as_int(config_value)
            if ptype_name == "PERF_TYPE_SOFTWARE" and config is not None:
                config = kn.SW_CONFIG.name(config)
            elif ptype_name == "PERF_TYPE_HARDWARE" and config is not None:
                config = kn.HW_CONFIG.name(config)
        attrs: dict[str, Any] = {
            "type": ptype_name if ptype_name is not None else ptype_num,
            "config": config,
            "pid": as_int(call.args[1]) if len(call.args) > 1 else None,
            "cpu": as_int(call.args[2]) if len(call.args) > 2 else None,
        }
        for key in ("sample_period", "sample_freq", "freq", "disabled", "config1", "config2",
                    "bp_type", "bp_addr"):
            if key in attr and as_int(attr[key]) is not None:
                attrs[key] = as_int(attr[key])
        flags = [str(f) for f in flag_names(call.args[4])] if len(call.args) > 4 else []
        if not call.ok or call.result is None:
            self._fail(call, "perf_event_open", attrs=attrs)
            return
        obj = self._new("perf_event", call, None, "perf_event_open", attrs=attrs)
        self._bind(call.pid, call.result, obj, call, cloexec="PERF_FLAG_FD_CLOEXEC" in flags)
        obj.fd = call.result
        if call.deep:
            obj.deep.update(call.deep)
        self._name_perf_event(obj)
        if attrs.get("disabled") == 0:
            obj.enabled_lines.append(call.line)
        if config == _BPF_OUTPUT:
            self._pending_outputs.append(obj)
        self._act("perf_open", call, obj=obj)

    def _name_perf_event(self, obj: Obj) -> None:
        attrs = obj.attrs
        ptype = attrs.get("type")
        config = attrs.get("config")
        if ptype == "PERF_TYPE_TRACEPOINT" and isinstance(config, int):
            found = self.resolver.tracepoint(config)
            if found is not None:
                obj.attach_point = "tracepoint:" + found[0]
                obj.attach_source = found[1]
            return
        if ptype == "PERF_TYPE_SOFTWARE":
            number = kn.SW_CONFIG.number(config) if config is not None else None
            name = kn.SOFTWARE_PROBE_NAMES.get(number, str(config)) if number is not None \
                else str(config)
            if attrs.get("freq") and attrs.get("sample_freq"):
                obj.attach_point = f"profile:hz:{attrs['sample_freq']}"
            elif attrs.get("sample_period") and name != "bpf-output":
                obj.attach_point = f"software:{name}:{attrs['sample_period']}"
            else:
                obj.attach_point = f"software:{name}"
            obj.attach_source = "log"
            return
        if ptype == "PERF_TYPE_HARDWARE":
            number = kn.HW_CONFIG.number(config) if config is not None else None
            name = kn.HARDWARE_PROBE_NAMES.get(number, str(config)) if number is not None \
                else str(config)
            obj.attach_point = f"hardware:{name}"
            obj.attach_source = "log"
            return
        if isinstance(ptype, int):
            found = self.resolver.pmu(ptype)
            uprobe = obj.deep.get("uprobe") if obj.deep else None
            kprobe = obj.deep.get("kprobe") if obj.deep else None
            if kprobe and kprobe.get("function"):
                kind = "kretprobe" if kprobe.get("retprobe") else "kprobe"
                offset = f"+{kprobe['offset']}" if kprobe.get("offset") else ""
                obj.attach_point = f"{kind}:{kprobe['function']}{offset}"
                obj.attach_source = "log"
                return
            if found is not None:
                pmu = found[0]
                # The PMUs' format/retprobe file says "config:0" on every kernel that has
                # them: bit 0 of config marks a return probe.
                config_bits = attrs.get("config")
                retprobe = bool(uprobe.get("retprobe")) if uprobe else (
                    isinstance(config_bits, int) and bool(config_bits & 1))
                kind = {"uprobe": "uretprobe" if retprobe else "uprobe",
                        "kprobe": "kretprobe" if retprobe else "kprobe"}.get(pmu, pmu)
                target = ""
                if uprobe:
                    target = ":" + str(uprobe.get("path", "?"))
                    if uprobe.get("symbol"):
                        target += ":" + str(uprobe["symbol"])
                    elif uprobe.get("offset") is not None:
                        target += f":{uprobe['offset']:#x}"
                obj.attach_point = kind + target
                obj.attach_source = found[1]
                binary = self._last_binary.get(obj.pid)
                if not uprobe and pmu == "uprobe" and binary:
                    # strace shows the target only as a pointer (config1); the file the
                    # loader opened last to read symbols is a strong hint, not a fact.
                    obj.attrs["likely_target"] = binary

    def on_ioctl(self, call: Call) -> None:
        if len(call.args) < 2:
            return
        request = symbol(call.args[1])
        if request is None:
            number = as_int(call.args[1])
            if number is None and isinstance(call.args[1], Func):
                return
            request = kn.PERF_IOCTL.name(number) if number is not None else None
        if request is None or not request.startswith("PERF_EVENT_IOC_"):
            return
        perf = self._lookup(call.pid, call.args[0], call, "perf_event")
        if perf is None:
            return
        if request == "PERF_EVENT_IOC_SET_BPF":
            prog = self._lookup(call.pid, call.args[2] if len(call.args) > 2 else None, call,
                                "prog")
            if not call.ok:
                self._fail(call, request, subject=prog)
                return
            if prog is None:
                return
            att = Attachment(prog, perf, request, call.line, call.origin.file,
                             attach_point=perf.attach_point)
            if perf.enabled_lines:
                att.enabled_line = perf.enabled_lines[0]
            self._attach(att, call)
            return
        if not call.ok:
            self._fail(call, request, subject=perf)
            return
        if request == "PERF_EVENT_IOC_ENABLE":
            perf.enabled_lines.append(call.line)
            for att in self.attachments:
                if att.target is perf and att.enabled_line is None:
                    att.enabled_line = call.line
            self._act("enable", call, obj=perf)
        elif request == "PERF_EVENT_IOC_DISABLE":
            perf.disabled_lines.append(call.line)
            for att in self.attachments:
                if att.target is perf and att.ended_line is None and att.via != "BPF_LINK_CREATE":
                    att.ended_line = call.line
                    att.end = "disabled"
            self._act("disable", call, obj=perf)
        else:
            self._act("perf_ioctl", call, obj=perf, detail={"request": request})

    def _attach(self, att: Attachment, call: Call) -> None:
        self.attachments.append(att)
        att.prog.attachments.append(att)
        if att.target is not None and att.target is not att.prog:
            att.target.attachments.append(att)
        self._act("attach", call, obj=att.prog, other=att.target, attachment=att)

    # bpf(2)

    def on_bpf(self, call: Call) -> None:
        if not call.args:
            return
        cmd = symbol(call.args[0])
        if cmd is None:
            number = as_int(call.args[0])
            cmd = kn.BPF_CMD.name(number) if number is not None else "BPF_???"
        attr = unwrap(call.args[1]) if len(call.args) > 1 else {}
        if not isinstance(attr, dict):
            attr = {}  # strace printed only a pointer (unknown command, -e raw)
        handler = getattr(self, "bpf_" + cmd[4:].lower(), None) if cmd.startswith("BPF_") \
            else None
        if handler is not None:
            handler(call, cmd, attr)
            return
        info = kn.command_info(cmd)
        if not call.ok:
            self._fail(call, cmd, attrs=_plain_attrs(attr))
            return
        subject = None
        for key in info.fd_fields:
            subject = self._lookup(call.pid, _find(attr, key), call, "unknown")
            if subject is not None:
                break
        if info.creates is not None and call.result is not None and call.result >= 0:
            kind = {"perf": "perf_event"}.get(info.creates, info.creates)
            obj = self._new(kind, call, call.result, cmd, attrs=_plain_attrs(attr))
            self._act("create", call, obj=obj, detail={"cmd": cmd})
            return
        self._act("bpf", call, obj=subject, detail={"cmd": cmd, "kind": info.kind})

    def bpf_prog_load(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        attrs = {
            "prog_type": _enum(kn.PROG_TYPE, attr.get("prog_type")),
            "prog_name": as_text(attr.get("prog_name")) or "",
            "insn_cnt": as_int(attr.get("insn_cnt")),
            "license": as_text(attr.get("license")),
        }
        eat = attr.get("expected_attach_type")
        if eat is not None:
            attrs["expected_attach_type"] = _enum(kn.ATTACH_TYPE, eat)
        for key in ("attach_btf_id", "kern_version", "prog_flags", "log_level"):
            if key in attr:
                attrs[key] = _plain(attr[key])
        if call.deep:
            attrs.update({k: v for k, v in call.deep.items() if k != "verifier_log"})
        log = (call.deep or {}).get("verifier_log") or as_text(attr.get("log_buf"))
        if not call.ok or call.result is None:
            probe = looks_like_probe_prog(attrs)
            failure = self._fail(call, cmd, attrs=attrs, detail=log or None, probe=probe)
            if not log and call.errno in ("EACCES", "EINVAL") and call.deep is None:
                failure.why += (
                    "; strace prints the log buffer as the loader passed it in, before "
                    "the verifier wrote its reasons: 'bpfexplain run --deep' reads them"
                    if as_int(attrs.get("log_level")) else
                    "; the loader asked for no verifier log (log_level=0)")
            return
        obj = self._new("prog", call, call.result, cmd, attrs=attrs, name=attrs["prog_name"])
        btf = self._lookup(call.pid, attr.get("prog_btf_fd"), call, "btf")
        if btf is not None:
            obj.btf = btf
        if call.deep:
            obj.deep.update(call.deep)
            for fd in call.deep.get("map_fds", []):
                m = self._table(call.pid).fds.get(fd)
                if m is not None and m.kind == "map" and m not in obj.maps:
                    obj.maps.append(m)
        if log:
            obj.deep["verifier_log"] = log
        self._act("prog_load", call, obj=obj)

    def bpf_map_create(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        attrs = {
            "map_type": _enum(kn.MAP_TYPE, attr.get("map_type")),
            "map_name": as_text(attr.get("map_name")) or "",
            "key_size": as_int(attr.get("key_size")),
            "value_size": as_int(attr.get("value_size")),
            "max_entries": as_int(attr.get("max_entries")),
        }
        flags = attr.get("map_flags")
        if flags is not None:
            attrs["map_flags"] = [str(f) for f in flag_names(flags)] if not isinstance(
                unwrap(flags), int) else unwrap(flags)
        if not call.ok or call.result is None:
            self._fail(call, cmd, attrs=attrs,
                       probe=attrs["map_name"].startswith("libbpf_"))
            return
        obj = self._new("map", call, call.result, cmd, attrs=attrs, name=attrs["map_name"])
        btf = self._lookup(call.pid, attr.get("btf_fd"), call, "btf")
        if btf is not None:
            obj.btf = btf
        inner = self._lookup(call.pid, attr.get("inner_map_fd"), call, "map")
        if inner is not None:
            obj.attrs["inner_map"] = inner.id
        self._act("map_create", call, obj=obj)

    def bpf_btf_load(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        size = as_int(attr.get("btf_size"))
        attrs: dict[str, Any] = {"btf_size": size}
        blob = as_text(attr.get("btf"))
        log = as_text(attr.get("btf_log_buf"))
        if not call.ok or call.result is None:
            self._fail(call, cmd, attrs=attrs, detail=log or None,
                       probe=size is not None and size < 256)
            return
        obj = self._new("btf", call, call.result, cmd, attrs=attrs)
        if blob is not None and size is not None and size < 256:
            obj.feature = _btf_feature(blob)
        self._act("btf_load", call, obj=obj)

    def _reopen(self, call: Call, cmd: str, attr: dict[str, Any], kind: str,
                id_key: str) -> None:
        attrs = {id_key: as_int(attr.get(id_key))}
        if not call.ok or call.result is None:
            self._fail(call, cmd, attrs=attrs)
            return
        obj = self._new(kind, call, call.result, cmd, attrs=attrs)
        self._act("reopen", call, obj=obj, detail={"cmd": cmd})

    def bpf_btf_get_fd_by_id(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        self._reopen(call, cmd, attr, "btf", "btf_id")

    def bpf_map_get_fd_by_id(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        self._reopen(call, cmd, attr, "map", "map_id")

    def bpf_prog_get_fd_by_id(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        self._reopen(call, cmd, attr, "prog", "prog_id")

    def bpf_link_get_fd_by_id(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        self._reopen(call, cmd, attr, "link", "link_id")

    def bpf_obj_get(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        path = as_text(attr.get("pathname")) or "?"
        if not call.ok or call.result is None:
            self._fail(call, cmd, attrs={"pathname": path})
            return
        kind = "pinned"
        if call.result_path:
            kind = _kind_from_annotation(call.result_path) or kind
        obj = self._new(kind, call, call.result, cmd, attrs={"pathname": path})
        obj.path = path
        self.pins.append(Pin(obj, path, call.line, call.origin.file, via=cmd))
        self._act("obj_get", call, obj=obj, detail={"path": path})

    def bpf_obj_pin(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        path = as_text(attr.get("pathname")) or "?"
        obj = self._lookup(call.pid, attr.get("bpf_fd"), call, "unknown")
        if not call.ok:
            self._fail(call, cmd, subject=obj, attrs={"pathname": path})
            return
        self.pins.append(Pin(obj, path, call.line, call.origin.file))
        self._act("pin", call, obj=obj, detail={"path": path})

    def _map_op(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        m = self._lookup(call.pid, attr.get("map_fd"), call, "map")
        op = cmd[len("BPF_MAP_"):] if cmd.startswith("BPF_MAP_") else cmd
        if not call.ok:
            failure = self._fail(call, cmd, subject=m)
            if m is not None and failure.expected:
                m.ops[op + ":" + (call.errno or "")] += 1
                m.op_lines.append(call.line)
            return
        if m is None:
            return
        m.ops[op] += 1
        m.op_lines.append(call.line)
        detail: dict[str, Any] = {"op": op}
        if cmd == "BPF_MAP_UPDATE_ELEM" and m.attrs.get("map_type") == \
                "BPF_MAP_TYPE_PERF_EVENT_ARRAY":
            slot = (call.deep or {}).get("perf_array_slot")
            perf: Obj | None = None
            if slot is not None:
                perf = self._table(call.pid).fds.get(slot.get("perf_fd"))
            elif self._pending_outputs:
                # strace shows only pointers; loaders store each per-CPU output event
                # right after opening it, so the oldest unstored one is the value.
                perf = self._pending_outputs[0]
            if perf is not None:
                if perf in self._pending_outputs:
                    self._pending_outputs.remove(perf)
                perf.output_map = m
                m.outputs.append(perf)
                detail["perf"] = perf
                detail["inferred"] = slot is None
        self._act("map_op", call, obj=m, detail=detail)

    bpf_map_lookup_elem = _map_op
    bpf_map_update_elem = _map_op
    bpf_map_delete_elem = _map_op
    bpf_map_get_next_key = _map_op
    bpf_map_lookup_and_delete_elem = _map_op
    bpf_map_lookup_batch = _map_op
    bpf_map_lookup_and_delete_batch = _map_op
    bpf_map_update_batch = _map_op
    bpf_map_delete_batch = _map_op
    bpf_map_freeze = _map_op

    def bpf_link_create(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        lc = unwrap(attr.get("link_create", attr))
        if not isinstance(lc, dict):
            lc = {}
        attach_type = _enum(kn.ATTACH_TYPE, lc.get("attach_type"))
        prog = self._lookup(call.pid, lc.get("prog_fd"), call, "prog")
        target_fd = as_int(lc.get("target_fd"))
        target = None
        if attach_type == "BPF_PERF_EVENT":
            target = self._lookup(call.pid, lc.get("target_fd"), call, "perf_event")
        elif target_fd is not None and target_fd > 0:
            target = self._table(call.pid).fds.get(target_fd)
        attrs = {"attach_type": attach_type, "target_fd": target_fd}
        point = _link_attach_point(attach_type, lc, target, prog)
        if not call.ok or call.result is None:
            probe = (prog is not None and looks_like_probe_prog(prog.attrs)) or (
                target_fd is not None and target_fd < 0)
            self._fail(call, cmd, subject=prog, attrs=attrs, probe=probe)
            return
        link = self._new("link", call, call.result, cmd, attrs=attrs)
        if prog is None:
            return
        att = Attachment(prog, target, cmd, call.line, call.origin.file, link=link,
                         attach_point=point, attach_type=attach_type,
                         enabled_line=call.line)
        link.attach_point = point
        if point is not None:
            link.attach_source = target.attach_source if target is not None and \
                target.attach_source else "log"
        self._attach(att, call)

    def bpf_raw_tracepoint_open(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        rt = unwrap(attr.get("raw_tracepoint", attr))
        if not isinstance(rt, dict):
            rt = {}
        name = as_text(rt.get("name"))
        prog = self._lookup(call.pid, rt.get("prog_fd"), call, "prog")
        point = f"raw_tracepoint:{name}" if name else None
        if point is None and prog is not None:
            eat = str(prog.attrs.get("expected_attach_type", ""))
            kind = {"BPF_TRACE_FENTRY": "fentry", "BPF_TRACE_FEXIT": "fexit",
                    "BPF_MODIFY_RETURN": "fmod_ret", "BPF_TRACE_RAW_TP": "tp_btf",
                    "BPF_LSM_MAC": "lsm"}.get(eat)
            if kind:
                point = f"{kind}:btf_id {prog.attrs.get('attach_btf_id')}"
        if not call.ok or call.result is None:
            self._fail(call, cmd, subject=prog, attrs={"name": name})
            return
        obj = self._new("raw_tracepoint", call, call.result, cmd, attrs={"name": name})
        obj.attach_point = point
        obj.attach_source = "log" if point is not None else None
        if prog is None:
            return
        att = Attachment(prog, obj, cmd, call.line, call.origin.file, link=obj,
                         attach_point=point, enabled_line=call.line)
        self._attach(att, call)

    def bpf_prog_attach(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        prog = self._lookup(call.pid, attr.get("attach_bpf_fd"), call, "prog")
        target = self._lookup(call.pid, attr.get("target_fd"), call, "unknown")
        attach_type = _enum(kn.ATTACH_TYPE, attr.get("attach_type"))
        if not call.ok:
            self._fail(call, cmd, subject=prog, attrs={"attach_type": attach_type})
            return
        if prog is None:
            return
        where = target.path if target is not None and target.path else None
        point = kn.ATTACH_TYPE.short(attach_type).lower() if attach_type else None
        if where and point:
            point = f"{point}:{where}"
        att = Attachment(prog, target, cmd, call.line, call.origin.file,
                         attach_point=point, attach_type=attach_type, enabled_line=call.line)
        self._attach(att, call)

    def bpf_prog_detach(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        prog = self._lookup(call.pid, attr.get("attach_bpf_fd"), call, "prog")
        if not call.ok:
            self._fail(call, cmd, subject=prog)
            return
        for att in self.attachments:
            if att.via == "BPF_PROG_ATTACH" and att.ended_line is None and (
                prog is None or att.prog is prog
            ):
                att.ended_line = call.line
                att.end = "detached"
        self._act("detach", call, obj=prog)

    def bpf_link_detach(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        link = self._lookup(call.pid, attr.get("link_fd"), call, "link")
        for att in self.attachments:
            if att.link is link and att.ended_line is None:
                att.ended_line = call.line
                att.end = "detached"
        self._act("detach", call, obj=link)

    def bpf_prog_test_run(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        test = unwrap(attr.get("test", attr))
        prog = self._lookup(call.pid, _find(test, "prog_fd"), call, "prog")
        if not call.ok:
            self._fail(call, cmd, subject=prog)
            return
        if prog is not None:
            prog.test_runs.append(call.line)
        retval = _find(test, "retval")
        self._act("test_run", call, obj=prog, detail={"retval": as_int(retval)})

    def bpf_prog_bind_map(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        bind = unwrap(attr.get("prog_bind_map", attr))
        prog = self._lookup(call.pid, _find(bind, "prog_fd"), call, "prog")
        m = self._lookup(call.pid, _find(bind, "map_fd"), call, "map")
        if not call.ok:
            self._fail(call, cmd, subject=prog)
            return
        if prog is not None and m is not None and m not in prog.maps:
            prog.maps.append(m)
        self._act("bind_map", call, obj=prog, other=m)

    def bpf_obj_get_info_by_fd(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        info = unwrap(attr.get("info", attr))
        obj = self._lookup(call.pid, _find(info, "bpf_fd"), call, "unknown")
        if not call.ok:
            self._fail(call, cmd, subject=obj)
            return
        if obj is not None and call.deep and "prog_id" in call.deep:
            obj.attrs["id"] = call.deep["prog_id"]
        self._act("info", call, obj=obj)

    def _next_id(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        if not call.ok:
            self._fail(call, cmd)
            return
        self._act("next_id", call, detail={"cmd": cmd, "next_id": as_int(attr.get("next_id"))})

    bpf_prog_get_next_id = _next_id
    bpf_map_get_next_id = _next_id
    bpf_btf_get_next_id = _next_id
    bpf_link_get_next_id = _next_id

    # -- the end -------------------------------------------------------------------

    def lifecycle(self) -> Lifecycle:
        """Classify probes and return the records; safe to call more than once."""
        self._classify_probes()
        return Lifecycle(self.objects, self.attachments, self.pins, self.failures,
                         self.actions, self.processes, self.files, dict(self._tgid))

    def _retried_after_enospc(self, failure: Failure) -> Obj | None:
        if failure.errno != "ENOSPC" or failure.call not in ("BPF_PROG_LOAD", "BPF_BTF_LOAD"):
            return None
        kind = "prog" if failure.call == "BPF_PROG_LOAD" else "btf"
        name = failure.attrs.get("prog_name", "")
        for obj in self.objects:
            if obj.kind == kind and obj.line > failure.line and obj.file == failure.file and (
                kind == "btf" or obj.name == name
            ):
                return obj
        return None

    def _map_tried_and_dropped(self, m: Obj) -> bool:
        """A map closed right after creation, unused, before any real program: a test.

        cilium/ebpf and others create such maps to learn whether map names or flags
        work; a real map lives at least until the programs that use it are loaded.
        """
        if m.ops or m.closed_line is None or m.end != "close" or m.closed_line - m.line > 3:
            return False
        if any(p.obj is m for p in self.pins):
            return False
        return not any(o.kind == "prog" and o.line < m.closed_line and o.known
                       and not looks_like_probe_prog(o.attrs) for o in self.objects)

    def _classify_probes(self) -> None:
        pinned = {id(p.obj) for p in self.pins if p.obj is not None}
        for obj in self.objects:
            if obj.kind == "prog":
                # A test run is how bpftrace runs BEGIN/END, but also how it checks
                # that test runs work: an unnamed do-nothing program is the check.
                obj.probe = (not obj.attachments and id(obj) not in pinned
                             and (not obj.test_runs or not obj.name)
                             and looks_like_probe_prog(obj.attrs))
                if obj.probe:
                    obj.feature = _prog_feature(obj)
        used_btf = {id(o.btf) for o in self.objects if o.btf is not None and not o.probe}
        for obj in self.objects:
            if obj.kind == "map":
                users = [p for p in self.objects if p.kind == "prog" and obj in p.maps]
                obj.probe = obj.name.startswith("libbpf_") or (
                    bool(users) and all(p.probe for p in users) and not obj.ops
                ) or self._map_tried_and_dropped(obj)
                if obj.probe:
                    obj.feature = _MAP_FEATURES.get(
                        obj.name, "map names" if obj.name == "feature_test" else "map features")
            elif obj.kind == "btf":
                if id(obj) in used_btf:
                    obj.probe = False
                elif obj.via == "BPF_BTF_GET_FD_BY_ID":
                    obj.probe = True
                    obj.feature = "reading the kernel's own type information (vmlinux BTF)"
                else:
                    size = obj.attrs.get("btf_size")
                    obj.probe = isinstance(size, int) and size < 256
            elif obj.kind == "link":
                progs = [a.prog for a in self.attachments if a.link is obj]
                obj.probe = bool(progs) and all(p.probe for p in progs)
            elif obj.kind == "perf_event":
                progs = [a.prog for a in obj.attachments]
                obj.probe = bool(progs) and all(p.probe for p in progs)
        for failure in self.failures:
            subject = failure.subject
            retry = self._retried_after_enospc(failure)
            if retry is not None:
                failure.probe = True
                failure.why += f"; the loader retried with a bigger buffer (L{retry.line})"
                continue
            if failure.errno == "EPERM" and failure.call != "openat":
                # Not even allowed to probe: that is the user's real problem.
                failure.probe = False
            elif subject is not None and subject.kind == "prog" and subject.probe:
                failure.probe = True
                if failure.call == "BPF_LINK_CREATE":
                    subject.feature = _link_probe_feature(failure)


# --------------------------------------------------------------------------------
# helpers: reading attrs, naming features


def unwrap_fd(value: Any) -> Any:
    """Like :func:`unwrap` but keeps an :class:`Fd` (its annotation says what it is)."""
    from bpfexplain.values import Commented, InOut

    while isinstance(value, (Commented, InOut)):
        value = value.value if isinstance(value, Commented) else value.after
    return value


def _looks_like_binary(path: str) -> bool:
    if path.startswith(("/sys/", "/proc/", "/dev/", "/etc/", "/run/", "/tmp/")):
        return False
    name = path.rsplit("/", 1)[-1]
    return ".so" in name or "/bin/" in path or "/sbin/" in path


def _kind_from_annotation(path: str) -> str | None:
    m = re.match(r"anon_inode:(.*)$", path)
    if m is None:
        return None
    kind = kn.ANON_INODE_KINDS.get(m.group(1))
    if kind == "perf":
        return "perf_event"
    return kind


def _find(attr: Any, key: str) -> Any:
    """A field by name anywhere in a (nested) struct: fields move between versions."""
    attr = unwrap(attr)
    if not isinstance(attr, dict):
        return None
    if key in attr:
        return attr[key]
    for value in attr.values():
        value = unwrap(value)
        if isinstance(value, dict):
            found = _find(value, key)
            if found is not None:
                return found
    return None


def _enum(table: kn.Table, value: Any) -> Any:
    """A symbolic name whatever ``-X`` was used; the number when nobody knows it."""
    name = symbol(value)
    if name is not None:
        return name
    number = as_int(value)
    if number is None:
        return None
    entry = table.get(number)
    return entry.name if entry is not None else number


def _plain(value: Any) -> Any:
    """A value as plain data for attrs (symbols as names, fds as numbers)."""
    value = unwrap(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not Elided}
    if isinstance(value, list):
        return [_plain(v) for v in value if v is not Elided]
    if value is Elided:
        return "..."
    if isinstance(value, Func):
        return f"{value.name}({', '.join(str(_plain(a)) for a in value.args)})"
    text = as_text(value)
    if text is not None:
        return text
    if isinstance(value, tuple):
        return [str(v) for v in value]
    return value if isinstance(value, (int, float, str)) else str(value)


def _plain_attrs(attr: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in attr.items() if v is not Elided and not k.startswith("#")}


def looks_like_probe_prog(attrs: dict[str, Any]) -> bool:
    """Feature probes are tiny programs (``r0 = 0; exit``, a helper call or two).

    A loader that asks for a verifier log wants to know why its program failed:
    that is never a probe, however small the program.
    """
    name = str(attrs.get("prog_name") or "")
    count = attrs.get("insn_cnt")
    if name.startswith("libbpf_"):
        return True
    if as_int(attrs.get("log_level")):
        return False
    return isinstance(count, int) and count <= 8


_MAP_FEATURES = {
    "libbpf_global": "global data (maps that hold a program's global variables)",
    "libbpf_mmap": "memory-mappable array maps (BPF_F_MMAPABLE)",
    "libbpf_det_bind": "binding maps to programs (BPF_PROG_BIND_MAP)",
    "libbpf_arr": "array maps",
}


def _prog_feature(prog: Obj) -> str:
    name = prog.name
    ptype = str(prog.attrs.get("prog_type", ""))
    eat = str(prog.attrs.get("expected_attach_type", ""))
    if name == "libbpf_nametest":
        return "program names (prog_name)"
    if eat == "BPF_TRACE_KPROBE_MULTI":
        return "kprobe_multi links (attach one program to many kernel functions)"
    if any(m.name == "libbpf_global" for m in prog.maps):
        return "global data"
    if ptype == "BPF_PROG_TYPE_SOCKET_FILTER" and prog.attrs.get("insn_cnt") == 2:
        return "loading a minimal program"
    return "program loading of type " + kn.PROG_TYPE.short(ptype) if ptype else \
        "program loading"


def _link_probe_feature(failure: Failure) -> str:
    attach_type = failure.attrs.get("attach_type")
    if attach_type == "BPF_TRACE_KPROBE_MULTI":
        return "kprobe_multi links (attach one program to many kernel functions)"
    if attach_type == "BPF_PERF_EVENT":
        return "perf event links (BPF_LINK_CREATE for perf events)"
    return f"links of type {attach_type}"


_BTF_FEATURES = (
    ("enum64", "64-bit enums in BTF"),
    ("float", "floating-point types in BTF"),
    ("tag", "type and declaration tags in BTF"),
    (".data", "global variables described in BTF (DATASEC)"),
    ("x\x00a", "function prototypes in BTF"),
)


def _btf_feature(blob: str) -> str:
    for needle, feature in _BTF_FEATURES:
        if needle in blob:
            return feature
    return "basic BTF support"


_BPFTRACE_KINDS = {"trace_fentry": "fentry", "trace_fexit": "fexit", "trace_raw_tp": "tp_btf",
                   "lsm_mac": "lsm", "modify_return": "fmod_ret", "trace_iter": "iter"}


def _link_attach_point(attach_type: Any, lc: dict[str, Any], target: Obj | None,
                       prog: Obj | None) -> str | None:
    if attach_type == "BPF_PERF_EVENT":
        return target.attach_point if target is not None else None
    if attach_type in ("BPF_TRACE_KPROBE_MULTI", "BPF_TRACE_KPROBE_SESSION"):
        multi = unwrap(lc.get("kprobe_multi"))
        syms = multi.get("syms") if isinstance(multi, dict) else None
        names = [as_text(s) for s in syms] if isinstance(syms, list) else []
        shown = ",".join(n for n in names if n)
        return f"kprobe:{shown}" if shown else "kprobe_multi"
    if attach_type in ("BPF_TRACE_UPROBE_MULTI",):
        multi = unwrap(lc.get("uprobe_multi"))
        path = as_text(multi.get("path")) if isinstance(multi, dict) else None
        return f"uprobe:{path}" if path else "uprobe_multi"
    if isinstance(attach_type, str):
        short = kn.ATTACH_TYPE.short(attach_type).lower()
        short = _BPFTRACE_KINDS.get(short, short)
        if target is not None and target.path:
            return f"{short}:{target.path}"
        if prog is not None and prog.attrs.get("attach_btf_id"):
            return f"{short}:btf_id {prog.attrs['attach_btf_id']}"
        return short
    return None
