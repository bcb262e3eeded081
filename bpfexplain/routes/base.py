"""What an attach route is: everything bpfexplain knows about one way to attach.

A route owns its syscalls and bpf(2) commands (with their handlers), how it names
the attach point, the sentence the story tells, the glossary terms that sentence
needs, how the picture draws the object that holds the attachment, and when the
attachment ends.  Tracker, story and picture ask the route (through
:func:`bpfexplain.routes.for_via`) instead of matching ``via`` strings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from bpfexplain.story_words import Spans
from bpfexplain.tracking.base import BpfHandler, SyscallHandler
from bpfexplain.tracking.records import Attachment, Via

HolderKind = Literal["perf", "link"]
"""Picture node kind of the object that holds an attachment (``render/picture.py``)."""


@dataclass(frozen=True)
class Holder:
    """How the picture draws the object that holds the attachment."""

    kind: HolderKind
    title: str
    """One of them: ``perf event``, ``link``, ``raw tracepoint link``."""
    many: str
    """Several of them, after the count: ``perf events``, ``links``."""
    live: str
    """The edge from the holder to the attach point once it went live; ``{lines}`` is
    replaced by the line references."""


@dataclass(frozen=True)
class Route:
    name: str
    """The module's name: ``perf_event``, ``link_create``..."""
    vias: tuple[Via, ...]
    """The ``via`` of the attachments it makes (the JSON enum)."""
    sentence: Callable[[Attachment], Spans]
    """The story's step for one attachment."""
    holder: Holder
    syscalls: Mapping[str, SyscallHandler] = field(default_factory=dict)
    """Syscalls it follows (besides bpf), each with its handler."""
    bpf_commands: Mapping[str, BpfHandler] = field(default_factory=dict)
    """bpf(2) commands it handles."""
    attach_calls: frozenset[str] = frozenset()
    """Calls whose failure the story tells among the attach steps."""
    terms: tuple[str, ...] = ()
    """Glossary terms the story introduces when this route was used."""
    short_via: Callable[[str], str] = str
    """The via as the picture's edge labels show it (``SET_BPF``)."""
    enabled_word: str = "live from"
    """How the graph says it went live: ``enabled`` (a separate switch) or ``live from``."""
    ends: str = ""
    """When the attachment ends, in words (for the docs and the glossary)."""
    outlives_loader: Callable[[Attachment], bool] = lambda att: False
    """Whether the kernel keeps the attachment after the loader's fds are gone."""

    @property
    def traced(self) -> frozenset[str]:
        """Every syscall this route needs ``run`` to trace."""
        names = set(self.syscalls)
        if self.bpf_commands:
            names.add("bpf")
        return frozenset(names)
