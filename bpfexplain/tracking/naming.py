"""Naming attach points beyond what one call shows: this machine's files, and shapes.

Each attach route names what its own call shows (``tracepoint:`` + the id's name from
the log or a sidecar, ``tp_btf:btf_id 28881``, ``uprobe``).  This module adds, right
after the route ran, what needs more than that call:

* names looked up on this machine (vmlinux BTF for ``attach_btf_id``, the ELF symbol
  table and ``.note.stapsdt`` of the binary a uprobe's offset points into), only when
  :mod:`bpfexplain.origin` finds the log was recorded on this kernel; otherwise the
  reason is kept (``attrs["not_looked_up"]``) for the story to say;
* hints from the log itself, worded as hints: the name a loader gave the program it
  attached (bpftrace names a tracepoint program after the event: ``sys_enter``);

and, once the whole log is known (:func:`name_at_end`), names that depend on the
shape of several calls: one cpu-clock event with a period, on one CPU, is bpftrace's
``interval:s:1``.
"""

from __future__ import annotations

import re
from typing import Any

from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.records import Action, Attachment, Obj

_BTF_POINT = re.compile(r"^(tp_btf|fentry|fexit|fmod_ret|lsm|iter):btf_id (\d+)$")

NOT_LOOKED_UP = "not_looked_up"
"""attrs key: why a number was not named from this machine (a phrase)."""
NAME_HINT = "name_hint"
"""attrs key: the name of the program attached to an event the log does not name."""


BTF_KINDS: dict[str, str] = {
    "BPF_TRACE_FENTRY": "fentry", "BPF_TRACE_FEXIT": "fexit", "BPF_MODIFY_RETURN": "fmod_ret",
    "BPF_TRACE_RAW_TP": "tp_btf", "BPF_LSM_MAC": "lsm", "BPF_TRACE_ITER": "iter",
}
"""A BTF-described program's expected_attach_type → the kind of its attach point."""

ATTACH_TARGET = "attach_target"
"""attrs key of a loaded (or refused) program: the kernel function, tracepoint or hook
its ``attach_btf_id`` names, ``fentry:vfs_read`` (or ``fentry:btf_id 119671``)."""
ATTACH_TARGET_SOURCE = "attach_target_source"
"""attrs key: ``local`` when :data:`ATTACH_TARGET` was read from this machine's BTF."""


def name_new(t: TrackerBase, actions: list[Action]) -> None:
    """Name what the actions of one call created (run right after its handlers)."""
    for action in actions:
        if action.kind == "perf_open" and action.obj is not None:
            _perf_event(t, action.obj)
        elif action.kind == "attach" and action.attachment is not None:
            _attachment(t, action.attachment)
        elif action.kind == "prog_load" and action.obj is not None:
            _btf_target(t, action.obj.attrs)
        elif action.kind == "failure" and action.failure is not None \
                and action.failure.call == "BPF_PROG_LOAD":
            # A refused fentry program still says what it was for: the point of its
            # failure is often the target (no trampoline, no such function).
            _btf_target(t, action.failure.attrs)


def _btf_target(t: TrackerBase, attrs: dict[str, Any]) -> None:
    """What a BTF-described program (fentry, fexit, tp_btf, lsm...) is meant to attach
    to, from the load itself: ``attach_btf_id`` read in vmlinux BTF on this machine when
    the log came from this kernel build, else the number and why it stays one."""
    kind = BTF_KINDS.get(str(attrs.get("expected_attach_type")))
    type_id = attrs.get("attach_btf_id")
    if kind is None or not isinstance(type_id, int) or type_id <= 0:
        return
    if attrs.get("attach_prog_fd"):
        # The id is in another program's BTF (freplace, fentry on a BPF program) or in
        # a module's (attach_btf_obj_fd shares the field): not vmlinux's.
        attrs[ATTACH_TARGET] = f"{kind}:btf_id {type_id}"
        return
    found = t.resolver.btf_target(type_id, kind)
    if found is not None:
        attrs[ATTACH_TARGET] = f"{kind}:{found[0]}"
        attrs[ATTACH_TARGET_SOURCE] = found[1]
        return
    attrs[ATTACH_TARGET] = f"{kind}:btf_id {type_id}"
    why = t.resolver.refusal("btf")
    if why is not None:
        attrs[NOT_LOOKED_UP] = why


def _perf_event(t: TrackerBase, obj: Obj) -> None:
    attrs = obj.attrs
    if attrs.get("type") == "PERF_TYPE_TRACEPOINT" and obj.attach_point is None:
        why = t.resolver.refusal("tracepoint")
        if why is not None:
            attrs[NOT_LOOKED_UP] = why
        return
    if obj.attach_point not in ("uprobe", "uretprobe") or (obj.deep and obj.deep.get("uprobe")):
        return
    kind = obj.attach_point
    offset = attrs.get("config2")
    binary = t.last_binary.get(obj.pid)
    config = attrs.get("config")
    ref_ctr = config >> 32 if isinstance(config, int) else 0
    if ref_ctr and obj.attach_point == "uprobe":
        # config bits 32-63 are the uprobe's reference counter (a USDT semaphore's file
        # offset): what loaders set for USDT probes with a semaphore.  The log says so.
        obj.attach_point = "usdt"
        attrs["semaphore_offset"] = ref_ctr
    if not isinstance(offset, int) or not binary:
        return  # strace without -v shows neither the offset nor (ever) the path
    attrs["file"] = binary
    attrs["offset"] = offset
    target = t.resolver.uprobe_target(binary, offset, ref_ctr)
    if target is None:
        why = t.resolver.refusal("symbol")
        if why is not None:
            attrs[NOT_LOOKED_UP] = why
        return
    if target.kind == "usdt":
        obj.attach_point = f"usdt:{binary}:{target.name}"
    else:
        obj.attach_point = f"{kind}:{binary}:{target.name}"
    obj.attach_source = "local"


def _attachment(t: TrackerBase, att: Attachment) -> None:
    point = att.attach_point
    m = _BTF_POINT.match(point) if point else None
    holder = att.link if att.link is not None else att.target
    if m is not None:
        kind, type_id = m.group(1), int(m.group(2))
        found = t.resolver.btf_target(type_id, kind)
        if found is not None:
            att.attach_point = f"{kind}:{found[0]}"
            if holder is not None:
                holder.attach_point = att.attach_point
                holder.attach_source = found[1]
            return
        why = t.resolver.refusal("btf")
        if holder is not None:
            if why is not None:
                holder.attrs[NOT_LOOKED_UP] = why
            if att.prog.name:
                holder.attrs[NAME_HINT] = att.prog.name
        return
    target = att.target
    if point is None and target is not None and target.kind == "perf_event" \
            and att.prog.name and target.attrs.get("type") == "PERF_TYPE_TRACEPOINT":
        target.attrs[NAME_HINT] = att.prog.name


_UNITS = ((1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "us"))


def name_at_end(objects: list[Obj], attachments: list[Attachment]) -> None:
    """Names that need the whole log: bpftrace's ``interval:UNIT:N`` timers.

    bpftrace opens one ``cpu-clock`` perf event with a period in nanoseconds, on one
    CPU, for ``interval:s:1``; ``profile:s:1`` opens the same event on every CPU.  So a
    process's cpu-clock event with a period and no sibling on another CPU (for the
    same program) is an interval; the raw perf attributes stay in ``attrs``.
    """
    for att in attachments:
        perf = att.target
        if perf is None or perf.kind != "perf_event":
            continue
        a = perf.attrs
        period = a.get("sample_period")
        if a.get("type") != "PERF_TYPE_SOFTWARE" or a.get("config") != "PERF_COUNT_SW_CPU_CLOCK" \
                or a.get("freq") or not isinstance(period, int) or period <= 0:
            continue
        siblings = [other for other in att.prog.attachments
                    if other.target is not None and other.target.kind == "perf_event"
                    and other.target.attrs.get("config") == "PERF_COUNT_SW_CPU_CLOCK"]
        if len(siblings) != 1 or a.get("cpu") in (None, -1):
            continue
        unit, count = "ns", period
        for size, name in _UNITS:
            if period % size == 0:
                unit, count = name, period // size
                break
        raw = perf.attach_point
        perf.attach_point = att.attach_point = f"interval:{unit}:{count}"
        if raw and raw != perf.attach_point:
            a["perf_point"] = raw
