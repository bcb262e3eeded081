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


class Route(Frozen):
    """One attach route, declared once by its module (a Frozen, not a frozen dataclass:
    building this one cost every start about 2 ms, issue 11)."""

    __slots__ = _fields = (
        "name", "vias", "sentence", "holder", "syscalls", "bpf_commands", "netlink", "needs",
        "attach_calls", "terms", "step", "short_via", "enabled_word", "ends", "remove_hint",
        "finish")

    name: str
    """The module's name: ``perf_event``, ``link_create``..."""
    vias: tuple[Via, ...]
    """The ``via`` of the attachments it makes (the JSON enum)."""
    sentence: Callable[[Attachment], Spans]
    """The story's step for one attachment."""
    holder: Holder | None
    """How the picture draws what holds its attachments; None when nothing does (the
    kernel keeps them on an interface or a cgroup): the program points at the event."""
    syscalls: Mapping[str, SyscallHandler]
    """Syscalls it follows (besides bpf and netlink), each with its handler."""
    bpf_commands: Mapping[str, BpfHandler]
    """bpf(2) commands it handles."""
    netlink: Mapping[str, NetlinkHandler]
    """Netlink message types it handles (``RTM_SETLINK``...)."""
    needs: frozenset[str]
    """Syscalls it needs traced that the tracker handles for it (``socket``)."""
    attach_calls: frozenset[str]
    """Calls whose failure the story tells among the attach steps."""
    terms: tuple[str, ...]
    """Glossary terms the story introduces when this route was used."""
    step: Callable[[Action], Spans] | None
    """The story's step for the route's other actions (detach, qdisc...), which carry
    ``detail["route"]``."""
    short_via: Callable[[str], str]
    """The via as the picture's edge labels show it (``SET_BPF``)."""
    enabled_word: str
    """How the graph says it went live: ``enabled`` (a separate switch) or ``live from``."""
    ends: str
    """When the attachment ends, in words (for the docs and the glossary)."""
    remove_hint: Callable[[Attachment], str | None]
    """A command that removes an attachment the kernel keeps after the loader exits."""
    finish: Callable[[TrackerBase], None] | None
    """Called when the tracker's lifecycle is read (more than once is safe): records
    what the log left unanswered."""

    def __init__(self, name: str, vias: tuple[Via, ...], sentence: Callable[[Attachment], Spans],
                 holder: Holder | None, syscalls: Mapping[str, SyscallHandler] | None = None,
                 bpf_commands: Mapping[str, BpfHandler] | None = None,
                 netlink: Mapping[str, NetlinkHandler] | None = None,
                 needs: frozenset[str] = frozenset(), attach_calls: frozenset[str] = frozenset(),
                 terms: tuple[str, ...] = (), step: Callable[[Action], Spans] | None = None,
                 short_via: Callable[[str], str] = str, enabled_word: str = "live from",
                 ends: str = "", remove_hint: Callable[[Attachment], str | None] = _never,
                 finish: Callable[[TrackerBase], None] | None = None) -> None:
        init_field(self, "name", name)
        init_field(self, "vias", vias)
        init_field(self, "sentence", sentence)
        init_field(self, "holder", holder)
        init_field(self, "syscalls", {} if syscalls is None else syscalls)
        init_field(self, "bpf_commands", {} if bpf_commands is None else bpf_commands)
        init_field(self, "netlink", {} if netlink is None else netlink)
        init_field(self, "needs", needs)
        init_field(self, "attach_calls", attach_calls)
        init_field(self, "terms", terms)
        init_field(self, "step", step)
        init_field(self, "short_via", short_via)
        init_field(self, "enabled_word", enabled_word)
        init_field(self, "ends", ends)
        init_field(self, "remove_hint", remove_hint)
        init_field(self, "finish", finish)

    @property
    def traced(self) -> frozenset[str]:
        """Every syscall this route needs ``run`` to trace."""
        names = set(self.syscalls) | self.needs
        if self.bpf_commands:
            names.add("bpf")
        if self.netlink:
            names |= NETLINK_SYSCALLS | {"socket"}
        return frozenset(names)
