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

The package, one job per module:

* :mod:`.records`: the records and their kinds;
* :mod:`.base`: the state and the operations every handler uses (fd binding and
  reuse, lookups, failures); the rules about fd reuse and racing threads live there;
* :mod:`.fds`: per-process fd tables;
* :mod:`.processes`, :mod:`.files`, :mod:`.sockets`, :mod:`.objects`: handlers for
  processes, fds and files, sockets and interface names, and the bpf(2) commands that
  make and use objects;
* :mod:`.probes`: the one home of "is this a feature probe?";
* :mod:`.naming`: attach point names beyond one call (this machine's BTF and ELF
  files, when the log came from this kernel; hints; bpftrace's interval timers);
* :mod:`.fields`: reading strace's values by field name.

Attachments are made by the attach routes (:mod:`bpfexplain.routes`): the tracker
hands each route the syscalls and bpf commands it owns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from bpfexplain.resolve import Resolver
from bpfexplain.tracking.files import FileEvents
from bpfexplain.tracking.naming import name_at_end, name_new
from bpfexplain.tracking.objects import BpfObjects
from bpfexplain.tracking.probes import (
    classify_probes,
    looks_like_probe_prog,
    mark_failures_that_end_loaders,
)
from bpfexplain.tracking.processes import ProcessEvents
from bpfexplain.tracking.records import (
    KIND_NOUN,
    Action,
    ActionKind,
    Attachment,
    AttachmentEnd,
    Failure,
    Lifecycle,
    Obj,
    ObjEnd,
    ObjKind,
    Pin,
    Process,
    Via,
)
from bpfexplain.tracking.sockets import SocketEvents
from bpfexplain.values import Call, Event, Exit, MapReads, Signal, Tracked

__all__ = [
    "CORE_SYSCALLS", "KIND_NOUN", "Action", "ActionKind", "Attachment", "AttachmentEnd",
    "Failure", "Lifecycle", "Obj", "ObjEnd", "ObjKind", "Pin", "Process", "Tracker", "Via",
    "looks_like_probe_prog",
]

CORE_SYSCALLS: frozenset[str] = (ProcessEvents.SYSCALLS | FileEvents.SYSCALLS
                                 | SocketEvents.SYSCALLS | BpfObjects.SYSCALLS)
"""The syscalls the tracker itself follows; the attach routes add theirs."""


class Tracker(ProcessEvents, FileEvents, SocketEvents, BpfObjects):
    """Feed events in log order; read :meth:`lifecycle` at the end."""

    def __init__(self, resolver: Resolver | None = None, files: list[str] | None = None):
        super().__init__(resolver, files)
        # Imported here, not at the top: the routes import this package's modules.
        from bpfexplain.routes import ROUTES, netlink

        self._calls: dict[str, list[Callable[[Call], None]]] = {}
        for name in CORE_SYSCALLS:
            handler = getattr(self, "on_" + name, None)
            if handler is not None:
                self._calls.setdefault(name, []).append(handler)
        messages: dict[str, netlink.NetlinkHandler] = {}
        for route in ROUTES:
            for name, route_handler in route.syscalls.items():
                self._calls.setdefault(name, []).append(partial(route_handler, self))
            self.bpf_routes.update(route.bpf_commands)
            messages.update(route.netlink)
        if messages:
            # One netlink reader for every route: it matches each request to its ack.
            for name, transport in netlink.handlers(messages).items():
                self._calls.setdefault(name, []).append(partial(transport, self))
        self._finishers = [route.finish for route in ROUTES if route.finish is not None]
        # Bulk map reads (MapReads) stand for bpf(2) calls that only on_bpf reads: a
        # route that wants every bpf call too would miss them.
        assert self._calls.get("bpf") == [self.on_bpf], "a route handles bpf(2) calls"

    def feed(self, event: Tracked) -> list[Action]:
        """Track one event; returns the actions it produced (for live output)."""
        before = len(self.actions)
        if isinstance(event, Call):
            for handler in self._calls.get(event.name, ()):
                handler(event)
            name_new(self, self.actions[before:])
        elif isinstance(event, Signal):
            self.on_signal(event)
        elif isinstance(event, Exit):
            self.on_exited(event)
        elif isinstance(event, MapReads):
            self.on_map_reads(event)
        return self.actions[before:]

    def feed_all(self, events: Iterable[Event]) -> Lifecycle:
        for event in events:
            self.feed(event)
        return self.lifecycle()

    def lifecycle(self) -> Lifecycle:
        """Classify probes and return the records; safe to call more than once."""
        from bpfexplain.routes import netlink

        # Requests the log never showed answered are told as such, once.
        netlink.finish(self)
        for finish in self._finishers:
            finish(self)
        name_at_end(self.objects, self.attachments)
        classify_probes(self.objects, self.attachments, self.pins, self.failures)
        # After the probes are known (a probe's load is no step forward).
        mark_failures_that_end_loaders(self.actions, self.failures, self.processes,
                                       self.tgids)
        return Lifecycle(self.objects, self.attachments, self.pins, self.failures,
                         self.actions, self.processes, self.files, dict(self.tgids))
