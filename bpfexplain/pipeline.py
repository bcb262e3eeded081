"""Wiring the stages: events → tracking → story, for files and for live runs.

The CLI calls these; so can anyone using bpfexplain as a library.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, BinaryIO

from bpfexplain.framing import Stats
from bpfexplain.resolve import Resolver, sidecar_candidates
from bpfexplain.story import Step, Story, build_story, step_for_action
from bpfexplain.tracking import Action, Tracker, looks_like_probe_prog
from bpfexplain.tracking.probes import looks_like_load_probe
from bpfexplain.values import Tracked

if TYPE_CHECKING:
    from pathlib import Path  # at run time only for a log's sidecar (run has none)


def sidecar_for(path: str) -> Path | None:
    """``trace.log`` → ``trace.log.meta.json`` or ``trace.meta.json``, the first that
    exists (see :func:`bpfexplain.resolve.sidecar_candidates`)."""
    for candidate in sidecar_candidates(path):
        if os.path.lexists(candidate):
            from pathlib import Path

            return Path(candidate)
    return None


def make_resolver(paths: Iterable[str], *, tracepoint_ids: Path | None = None,
                  local: bool = True, sidecars: bool = True) -> Resolver:
    resolver = Resolver(local=local)
    if tracepoint_ids is not None:
        resolver.load_tracepoint_ids(tracepoint_ids)
    if sidecars:
        for path in paths:
            sidecar = sidecar_for(path)
            if sidecar is not None:
                resolver.load_sidecar(sidecar)
    return resolver


def explain_streams(streams: list[tuple[str, BinaryIO]], stats: Stats, resolver: Resolver,
                    *, detail: str = "default", strict: bool = False) -> Story:
    from bpfexplain.parser import parse_events  # here: run --deep never parses (Lark)

    names = [name for name, _ in streams]
    tracker = Tracker(resolver, files=names)
    for event in parse_events(streams, stats, strict=strict, map_reads=True):
        tracker.feed(event)
    return build_story(tracker.lifecycle(), detail)


class LiveExplainer:
    """Explain while the loader runs: feed events, get steps worth printing now."""

    def __init__(self, resolver: Resolver, files: list[str] | None = None):
        # Live: the log is being recorded on this machine, whose names are the right ones.
        resolver.origin.live = True
        self.tracker = Tracker(resolver, files=files or ["<live>"])

    def feed(self, event: Tracked) -> list[Step]:
        actions = self.tracker.feed(event)
        return [step_for_action(a) for a in actions if _worth_telling_live(a)]

    def story(self, detail: str = "default") -> Story:
        return build_story(self.tracker.lifecycle(), detail)

    def story_so_far(self, detail: str = "default") -> Story:
        """The story if the log ended here, the tracker left as it was: the lifecycle
        finishes and classifies in place, so it is made from a copy (the resolver,
        this machine's names, is shared, not copied)."""
        import copy

        resolver = self.tracker.resolver
        tracker = copy.deepcopy(self.tracker, {id(resolver): resolver})
        return build_story(tracker.lifecycle(), detail)

    def attached_count(self) -> int:
        return sum(1 for a in self.tracker.attachments
                   if a.ended_line is None and not a.probe)


def _probably_probe(action: Action) -> bool:
    """Probes are only known for sure at the end; live output goes by their looks."""
    failure = action.failure
    if action.kind == "failure" and failure is not None and failure.call == "BPF_PROG_LOAD":
        # bpftrace's helper checks: tiny unnamed loads the verifier refuses on purpose.
        return failure.errno != "EPERM" and looks_like_load_probe(failure.attrs)
    obj = action.obj
    if obj is None:
        return False
    if action.kind == "reopen" and obj.kind == "btf":
        return True  # finding the kernel's own BTF
    if action.kind == "prog_load":
        return looks_like_probe_prog(obj.attrs)
    if action.kind == "map_create":
        return obj.name.startswith("libbpf_") or obj.name == "feature_test"
    if action.kind == "btf_load":
        size = obj.attrs.get("btf_size")
        return isinstance(size, int) and size < 256
    return False


_QUIET_SIGNALS = frozenset({"SIGCHLD", "SIGCONT", "SIGWINCH", "SIGPIPE", "SIGURG"})


def _worth_telling_live(action: Action) -> bool:
    """Live output tells the user's objects and what went wrong, not probe chatter."""
    if action.kind in ("map_op", "next_id", "info", "dup", "mmap", "fork", "exec", "close"):
        return False
    if action.kind == "signal":
        # Children ending and terminal noise are not part of the eBPF story.
        return action.detail.get("signal") not in _QUIET_SIGNALS
    if action.kind == "exit":
        return action.detail.get("signal") is not None or action.detail.get("code") not in (0,)
    if action.probe or _probably_probe(action):
        return False
    if action.kind == "failure":
        return action.failure is not None and not action.failure.expected
    return True
