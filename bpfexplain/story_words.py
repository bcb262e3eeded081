"""Words for objects, shared by the story and the attach routes' sentences.

A span is a piece of text and its semantic style name (``bpf.prog``, ``fd``...), or
None for plain text; renderers give each style its look.  Names from the log stay
literal here: renderers escape them.
"""

from __future__ import annotations

from typing import Any

from bpfexplain import knowledge as kn
from bpfexplain.tracking.records import KIND_NOUN, Obj

Span = tuple[str, "str | None"]
"""A piece of text and its style name (``bpf.prog``, ``fd``...), or None for plain."""
Spans = tuple[Span, ...]


def obj_style(obj: Obj) -> str:
    return {"prog": "bpf.prog", "map": "bpf.map", "btf": "bpf.btf",
            "perf_event": "bpf.perf", "link": "bpf.link",
            "raw_tracepoint": "bpf.link"}.get(obj.kind, "bpf.other")


def name_spans(obj: Obj) -> Spans:
    """``program "sys_enter"`` with the name styled; the name stays literal."""
    noun = KIND_NOUN.get(obj.kind, "fd")
    if obj.name:
        return ((noun + " ", None), (f'"{obj.name}"', obj_style(obj)))
    if obj.kind == "perf_event" and obj.attach_point:
        return ((noun + " ", None), (obj.attach_point, "bpf.point"))
    if obj.kind in ("link", "raw_tracepoint") and obj.attach_point:
        return ((noun + " to ", None), (obj.attach_point, "bpf.point"))
    if obj.kind == "socket" and obj.attrs.get("domain"):
        return ((f"{noun} {obj.attrs['domain']}/{obj.attrs.get('type') or '?'}", None),)
    if obj.kind == "cgroup" and obj.path:
        return ((noun + " ", None), (obj.path, "path"))
    if obj.via == "BPF_OBJ_GET" and obj.path:
        # Opened from a pin made before the log: the pin is its only name.
        what = "object" if obj.kind == "pinned" else noun
        return ((f"{what} pinned at ", None), (obj.path, "path"))
    ident = existing_id(obj)
    if ident is not None:
        return ((f"{noun} ", None), (f"id {ident}", obj_style(obj)))
    if obj.fd is not None:
        if noun == "fd":
            return ((f"fd {obj.fd}", "fd"),)
        return ((f"{noun} ", None), (f"fd {obj.fd}", "fd"))
    return ((noun, None),)


def existing_id(obj: Obj) -> int | None:
    """The kernel id of an object the loader opened by id (bpftool does), else None."""
    if obj.via.endswith("_GET_FD_BY_ID"):
        for key in ("prog_id", "map_id", "btf_id", "link_id"):
            value = obj.attrs.get(key)
            if isinstance(value, int):
                return value
    return None


def fd_span(fd: int | None) -> Span:
    return (f"fd {fd}", "fd")


def short(value: Any) -> str:
    """``BPF_PROG_TYPE_KPROBE`` → ``KPROBE``; anything else as text."""
    if isinstance(value, str):
        return kn.short_name(value)
    return str(value)
