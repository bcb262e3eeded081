"""Raw tracepoints: ``bpf(BPF_RAW_TRACEPOINT_OPEN)``.

Attaches a raw tracepoint program by tracepoint name (or, with no name, a
BTF-described program: fentry/fexit, tp_btf, lsm, on kernels before
BPF_LINK_CREATE took them).  The returned fd holds the attachment like a link: live
at once, ended when its last fd is closed.
"""

from __future__ import annotations

from typing import Any

from bpfexplain.routes.base import Holder, Route
from bpfexplain.story_words import Spans, fd_span, name_spans
from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.records import Attachment
from bpfexplain.values import Call, as_text, unwrap


def bpf_raw_tracepoint_open(t: TrackerBase, call: Call, cmd: str, attr: dict[str, Any]) -> None:
    rt = unwrap(attr.get("raw_tracepoint", attr))
    if not isinstance(rt, dict):
        rt = {}
    name = as_text(rt.get("name"))
    prog = t.lookup(call.pid, rt.get("prog_fd"), call, "prog")
    point = f"raw_tracepoint:{name}" if name else None
    if point is None and prog is not None:
        eat = str(prog.attrs.get("expected_attach_type", ""))
        kind = {"BPF_TRACE_FENTRY": "fentry", "BPF_TRACE_FEXIT": "fexit",
                "BPF_MODIFY_RETURN": "fmod_ret", "BPF_TRACE_RAW_TP": "tp_btf",
                "BPF_LSM_MAC": "lsm"}.get(eat)
        if kind:
            point = f"{kind}:btf_id {prog.attrs.get('attach_btf_id')}"
    if not call.ok or call.result is None:
        t.fail(call, cmd, subject=prog, attrs={"name": name})
        return
    obj = t.new("raw_tracepoint", call, call.result, cmd, attrs={"name": name})
    obj.attach_point = point
    obj.attach_source = "log" if point is not None else None
    if prog is None:
        return
    att = Attachment(prog, obj, "BPF_RAW_TRACEPOINT_OPEN", call.line, call.origin.file, link=obj,
                     attach_point=point, enabled_line=call.line)
    t.attach(att, call)


def sentence(att: Attachment) -> Spans:
    link = att.link
    point: Spans = ((att.attach_point, "bpf.point"),) if att.attach_point else \
        (("an event bpfexplain cannot name", "dim"),)
    return (("BPF_RAW_TRACEPOINT_OPEN: ", None), *name_spans(att.prog),
            (" attached to ", None), *point, (" → ", None),
            fd_span(link.fd if link else None))


ROUTE = Route(
    name="raw_tracepoint",
    vias=("BPF_RAW_TRACEPOINT_OPEN",),
    sentence=sentence,
    holder=Holder("link", "raw tracepoint link", "links", "③ live at once ({lines})"),
    bpf_commands={"BPF_RAW_TRACEPOINT_OPEN": bpf_raw_tracepoint_open},
    attach_calls=frozenset({"BPF_RAW_TRACEPOINT_OPEN"}),
    terms=("link",),
    ends="when its fd's last copy is closed",
)
