"""The tracker's state and plumbing, shared by every handler module and route.

Handlers (:mod:`.processes`, :mod:`.files`, :mod:`.objects`, and each attach route in
:mod:`bpfexplain.routes`) change the state only through these methods, so the rules
below hold everywhere:

* a new object on an fd number that is still live means the old object was released
  (the log did not trace that ``close``): the old one is marked, never merged;
* a ``close`` releases its fd when it *starts*, a creating call owns its fd when it
  *returns*: with ``-f`` another thread may get the same number back before strace
  prints ``<... close resumed>``, and that new object must survive the late close.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from bpfexplain import knowledge as kn
from bpfexplain.resolve import Resolver
from bpfexplain.tracking.fds import FdTable
from bpfexplain.tracking.fields import kind_from_annotation, unwrap_fd
from bpfexplain.tracking.records import (
    CONTEXT_KINDS,
    Action,
    ActionKind,
    Attachment,
    Failure,
    Obj,
    ObjEnd,
    ObjKind,
    Pin,
    Process,
)
from bpfexplain.values import Call, Fd, as_int

SyscallHandler = Callable[["TrackerBase", Call], None]
"""A route's handler for one syscall."""
BpfHandler = Callable[["TrackerBase", Call, str, dict[str, Any]], None]
"""A route's handler for one bpf(2) command: the call, the command's name, its attr."""


class TrackerBase:
    """State (objects, attachments, fd tables...) and the operations on it."""

    def __init__(self, resolver: Resolver | None = None, files: list[str] | None = None):
        self.resolver = resolver or Resolver()
        self.files = files or []
        self.objects: list[Obj] = []
        self.attachments: list[Attachment] = []
        self._held_by: dict[int, list[Attachment]] = {}
        """Attachments by the id of the object whose release ends them (its link, else
        its target): a release looks up its own, never scans them all (issue 12)."""
        self.pins: list[Pin] = []
        self.failures: list[Failure] = []
        self.actions: list[Action] = []
        self.processes: dict[int | None, Process] = {}
        self.tables: dict[int | None, FdTable] = {}
        self.tgids: dict[int | None, int | None] = {}
        self.counters: Counter[str] = Counter()
        self.pending_outputs: list[Obj] = []
        """BPF_OUTPUT perf events not yet stored in a perf event array."""
        self.last_binary: dict[int | None, str] = {}
        """Per process: the binary or library it opened last (a uprobe's likely target)."""
        self.bpf_routes: dict[str, BpfHandler] = {}
        """bpf(2) commands the attach routes handle (filled by the Tracker)."""
        self.route_state: dict[str, Any] = {}
        """Per route: whatever it must remember between calls (keyed by route name)."""

    def tgid(self, pid: int | None) -> int | None:
        return self.tgids.get(pid, pid)

    def table(self, pid: int | None) -> FdTable:
        table = self.tables.get(pid)
        if table is None:
            table = FdTable(pid)
            self.tables[pid] = table
            self.tgids.setdefault(pid, pid)
            self.processes.setdefault(pid, Process(pid, pid))
        return table

    def process(self, pid: int | None) -> Process:
        self.table(pid)
        tgid = self.tgids.get(pid, pid)
        return self.processes.setdefault(tgid, Process(tgid, tgid))

    def new(self, kind: ObjKind, call: Call, fd: int | None, via: str,
            attrs: dict[str, Any] | None = None, name: str = "") -> Obj:
        self.counters[kind] += 1
        obj = Obj(
            id=f"{kind}-{self.counters[kind]}", kind=kind,
            pid=self.tgids.get(call.pid, call.pid), fd=fd, line=call.line,
            file=call.origin.file, via=via, attrs=attrs or {}, name=name,
        )
        self.objects.append(obj)
        if fd is not None:
            self.bind(call.pid, fd, obj, call)
        return obj

    def bind(self, pid: int | None, fd: int, obj: Obj, call: Call,
             cloexec: bool = True) -> None:
        table = self.table(pid)
        old = table.fds.get(fd)
        before = old if old is not None else table.history.get(fd)
        if before is not None and before is not obj and obj.previous is None and \
                obj.kind not in CONTEXT_KINDS and before.kind not in CONTEXT_KINDS:
            obj.previous = before
        if old is not None and old is not obj:
            # The log never showed this fd closed, yet the kernel handed the number
            # out again: whatever was there is gone.
            table.displaced[fd] = (old, call.line)
            self.unref(old, call.line, "reused", call.origin.file)
        table.fds[fd] = obj
        if cloexec:
            table.cloexec.add(fd)
        else:
            table.cloexec.discard(fd)
        obj.refs += 1

    def unref(self, obj: Obj, line: int, how: ObjEnd, file: int) -> None:
        obj.refs -= 1
        if obj.refs <= 0 and obj.closed_line is None:
            obj.closed_line = line
            obj.end = how
            self.released(obj, line, how)

    def released(self, obj: Obj, line: int, how: ObjEnd) -> None:
        """An object is gone: attachments through it end with it.

        Not those the kernel keeps (netlink, a cgroup's BPF_PROG_ATTACH), nor those
        held by a pinned link: the pin holds the link.
        """
        if any(p.obj is obj and p.via == "BPF_OBJ_PIN" for p in self.pins):
            return
        for att in self._held_by.get(id(obj), ()):  # its own, not a scan (issue 12)
            if att.ended_line is not None or att.kept:
                continue
            # A link holds its perf event: only the link's release ends the attachment.
            holder = att.link if att.link is not None else att.target
            if holder is obj:
                att.ended_line = line
                att.end = "exit" if how == "exit" else "released"

    def lookup(self, pid: int | None, value: Any, call: Call, kind_hint: ObjKind) -> Obj | None:
        """The object behind an fd argument; an unknown object when the log never showed it.

        ``0`` (also printed as ``0</dev/null<char 1:3>>`` under ``-yy``) means unset in
        bpf_attr, and a negative number is no fd at all.
        """
        return self.lookup_at(pid, value, call.line, call.origin.file, kind_hint)

    def lookup_at(self, pid: int | None, value: Any, line: int, file: int,
                  kind_hint: ObjKind) -> Obj | None:
        """:meth:`lookup` for an event that is not a :class:`Call` (bulk map reads)."""
        fd = as_int(value)
        if fd is None or fd <= 0:
            return None
        table = self.table(pid)
        obj = table.fds.get(fd)
        if obj is not None:
            return obj
        kind = kind_hint
        raw = unwrap_fd(value)
        if isinstance(raw, Fd):
            kind = kind_from_annotation(raw.path) or kind
        self.counters[kind] += 1
        obj = Obj(id=f"{kind}-{self.counters[kind]}", kind=kind,
                  pid=self.tgids.get(pid, pid), fd=fd, line=line,
                  file=file, via="(before the trace)", known=False)
        self.objects.append(obj)
        table.fds[fd] = obj
        obj.refs += 1
        return obj

    def act(self, kind: ActionKind, call: Call, **kw: Any) -> Action:
        action = Action(kind, call.line, call.origin.first_line, call.origin.file, call.pid,
                        **kw)
        self.actions.append(action)
        return action

    def fail(self, call: Call, name: str, *, subject: Obj | None = None,
             attrs: dict[str, Any] | None = None, detail: str | None = None,
             probe: bool = False, why: str | None = None,
             errno: str | None = None, expected: bool | None = None) -> Failure:
        """Record a failed call.  ``errno`` overrides the call's own: a netlink request
        fails in the kernel's answer, read by a call that itself succeeded; ``expected``
        overrides the knowledge table's word for an answer that depends on more than
        the call and errno (whose fd a BPF_TASK_FD_QUERY asked about)."""
        errno = errno or call.errno or "unknown error"
        if why is None:
            why = kn.errno_meaning(errno, name) if errno in kn.ERRNO else \
                f"the call failed with {errno}"
        failure = Failure(
            line=call.line, file=call.origin.file, call=name, errno=errno, pid=call.pid,
            why=why,
            # EPERM from bpf() means not even probing is allowed: never harmless.
            probe=probe and (errno != "EPERM" or name == "openat"),
            expected=expected if expected is not None else
            kn.errno_is_expected(errno, name) if errno in kn.ERRNO else False,
            detail=detail, subject=subject, attrs=attrs or {},
        )
        if not failure.expected:
            self.failures.append(failure)
        self.act("failure", call, failure=failure, obj=subject)
        return failure

    def promote(self, obj: Obj, kind: ObjKind) -> Obj:
        """A context fd (a cgroup directory, a socket) that an attachment made matter:
        give it its kind and an id, and list it among the objects."""
        if obj.kind in CONTEXT_KINDS or obj.kind in ("pinned", "unknown"):
            obj.kind = kind
        if obj not in self.objects:
            self.counters[kind] += 1
            obj.id = f"{kind}-{self.counters[kind]}"
            self.objects.append(obj)
        return obj

    def attach(self, att: Attachment, call: Call, **detail: Any) -> None:
        """Record an attachment a route made (the action tells it)."""
        self.attachments.append(att)
        holder = att.link if att.link is not None else att.target
        if holder is not None:
            self._held_by.setdefault(id(holder), []).append(att)
        att.prog.attachments.append(att)
        if att.target is not None and att.target is not att.prog:
            att.target.attachments.append(att)
        self.act("attach", call, obj=att.prog, other=att.target, attachment=att,
                 detail=dict(detail))
