"""What an attach route is: everything bpfexplain knows about one way to attach.

A route owns its syscalls, bpf(2) commands and netlink messages (with their
handlers), how it names the attach point, the sentences the story tells, the
glossary terms those need, how the picture draws the object that holds the
attachment, when the attachment ends, and how to remove one the kernel keeps after
the loader exits.  Tracker, story and picture ask the route (through
:func:`bpfexplain.routes.for_via` and :func:`bpfexplain.routes.by_name`) instead of
matching ``via`` strings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from bpfexplain.plain import Frozen, init_field
from bpfexplain.routes.netlink import SYSCALLS as NETLINK_SYSCALLS
from bpfexplain.routes.netlink import NetlinkHandler
from bpfexplain.story_words import Spans
from bpfexplain.tracking.base import BpfHandler, SyscallHandler, TrackerBase
from bpfexplain.tracking.records import Action, Attachment, Via

HolderKind = Literal["perf", "link", "socket"]
"""Picture node kind of the object that holds an attachment (``render/picture.py``)."""


class Holder(Frozen):
    """How the picture draws the object that holds the attachment."""

    __slots__ = _fields = ("kind", "title", "many", "live")

    kind: HolderKind
    title: str
    """One of them: ``perf event``, ``link``, ``raw tracepoint link``."""
    many: str
    """Several of them, after the count: ``perf events``, ``links``."""
    live: str
    """The edge from the holder to the attach point once it went live; ``{lines}`` is
    replaced by the line references."""

    def __init__(self, kind: HolderKind, title: str, many: str, live: str) -> None:
        init_field(self, "kind", kind)
        init_field(self, "title", title)
        init_field(self, "many", many)
        init_field(self, "live", live)


def _never(att: Attachment) -> str | None:
    return None


@dataclass(frozen=True)
class Route:
    name: str
    """The module's name: ``perf_event``, ``link_create``..."""
    vias: tuple[Via, ...]
    """The ``via`` of the attachments it makes (the JSON enum)."""
    sentence: Callable[[Attachment], Spans]
    """The story's step for one attachment."""
    holder: Holder | None
    """How the picture draws what holds its attachments; None when nothing does (the
    kernel keeps them on an interface or a cgroup): the program points at the event."""
    syscalls: Mapping[str, SyscallHandler] = field(default_factory=dict)
    """Syscalls it follows (besides bpf and netlink), each with its handler."""
    bpf_commands: Mapping[str, BpfHandler] = field(default_factory=dict)
    """bpf(2) commands it handles."""
    netlink: Mapping[str, NetlinkHandler] = field(default_factory=dict)
    """Netlink message types it handles (``RTM_SETLINK``...)."""
    needs: frozenset[str] = frozenset()
    """Syscalls it needs traced that the tracker handles for it (``socket``)."""
    attach_calls: frozenset[str] = frozenset()
    """Calls whose failure the story tells among the attach steps."""
    terms: tuple[str, ...] = ()
    """Glossary terms the story introduces when this route was used."""
    step: Callable[[Action], Spans] | None = None
    """The story's step for the route's other actions (detach, qdisc...), which carry
    ``detail["route"]``."""
    short_via: Callable[[str], str] = str
    """The via as the picture's edge labels show it (``SET_BPF``)."""
    enabled_word: str = "live from"
    """How the graph says it went live: ``enabled`` (a separate switch) or ``live from``."""
    ends: str = ""
    """When the attachment ends, in words (for the docs and the glossary)."""
    remove_hint: Callable[[Attachment], str | None] = _never
    """A command that removes an attachment the kernel keeps after the loader exits."""
    finish: Callable[[TrackerBase], None] | None = None
    """Called when the tracker's lifecycle is read (more than once is safe): records
    what the log left unanswered."""

    @property
    def traced(self) -> frozenset[str]:
        """Every syscall this route needs ``run`` to trace."""
        names = set(self.syscalls) | self.needs
        if self.bpf_commands:
            names.add("bpf")
        if self.netlink:
            names |= NETLINK_SYSCALLS | {"socket"}
        return frozenset(names)
