"""``bpf(BPF_PROG_ATTACH / BPF_PROG_DETACH)``: attach a program to a target fd.

The target is a cgroup (cgroup_skb, cgroup_sock... programs), a sockmap, a network
namespace (flow dissector) or a lirc device.  No fd holds the attachment: the
cgroup (or map) keeps it until BPF_PROG_DETACH, so it outlives the loader.
"""

from __future__ import annotations

from typing import Any

from bpfexplain import knowledge as kn
from bpfexplain.routes.base import Holder, Route
from bpfexplain.story_words import Spans, name_spans
from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.fields import enum
from bpfexplain.tracking.records import Attachment
from bpfexplain.values import Call


def bpf_prog_attach(t: TrackerBase, call: Call, cmd: str, attr: dict[str, Any]) -> None:
    prog = t.lookup(call.pid, attr.get("attach_bpf_fd"), call, "prog")
    target = t.lookup(call.pid, attr.get("target_fd"), call, "unknown")
    attach_type = enum(kn.ATTACH_TYPE, attr.get("attach_type"))
    if not call.ok:
        t.fail(call, cmd, subject=prog, attrs={"attach_type": attach_type})
        return
    if prog is None:
        return
    where = target.path if target is not None and target.path else None
    point = kn.ATTACH_TYPE.short(attach_type).lower() if attach_type else None
    if where and point:
        point = f"{point}:{where}"
    att = Attachment(prog, target, "BPF_PROG_ATTACH", call.line, call.origin.file,
                     attach_point=point, attach_type=attach_type, enabled_line=call.line)
    t.attach(att, call)


def bpf_prog_detach(t: TrackerBase, call: Call, cmd: str, attr: dict[str, Any]) -> None:
    prog = t.lookup(call.pid, attr.get("attach_bpf_fd"), call, "prog")
    if not call.ok:
        t.fail(call, cmd, subject=prog)
        return
    for att in t.attachments:
        if att.via == "BPF_PROG_ATTACH" and att.ended_line is None and (
            prog is None or att.prog is prog
        ):
            att.ended_line = call.line
            att.end = "detached"
    t.act("detach", call, obj=prog)


def sentence(att: Attachment) -> Spans:
    point: Spans = ((att.attach_point, "bpf.point"),) if att.attach_point else \
        (("an event bpfexplain cannot name", "dim"),)
    return ((f"{att.via}: ", None), *name_spans(att.prog), (" attached to ", None), *point)


ROUTE = Route(
    name="prog_attach",
    vias=("BPF_PROG_ATTACH",),
    sentence=sentence,
    holder=Holder("link", "link", "links", "③ live at once ({lines})"),
    bpf_commands={"BPF_PROG_ATTACH": bpf_prog_attach, "BPF_PROG_DETACH": bpf_prog_detach},
    attach_calls=frozenset({"BPF_PROG_ATTACH"}),
    terms=("link",),
    ends="at BPF_PROG_DETACH; the target keeps it after the loader exits",
    outlives_loader=lambda att: True,
)
