"""Links: ``bpf(BPF_LINK_CREATE)``, one attach type after another.

A link is an fd that holds the attachment: it goes live in the call that creates it
and ends when the link's last fd is closed (or ``BPF_LINK_DETACH``), unless the link
was pinned.  The attach type says what it attaches to: a perf event (kprobes and
uprobes through a perf event fd), many kernel or user functions at once
(kprobe_multi, uprobe_multi), a BTF-described kernel function (fentry/fexit, tp_btf,
lsm), a cgroup, an interface (XDP, tcx, netkit), a netfilter hook, an iterator.
"""

from __future__ import annotations

from typing import Any

from bpfexplain import knowledge as kn
from bpfexplain.routes.base import Holder, Route
from bpfexplain.routes.netlink import interface_name
from bpfexplain.routes.targets import cgroup_target
from bpfexplain.story_words import Spans, fd_span, name_spans, short
from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.fields import enum
from bpfexplain.tracking.probes import looks_like_probe_prog
from bpfexplain.tracking.records import Attachment, Obj
from bpfexplain.values import Call, as_int, as_text, unwrap

# Attach types whose target is an interface index (target_ifindex, which strace 6.1
# prints as target_fd: the same union member), and how their attach point is written.
_INTERFACE_POINTS = {
    "BPF_XDP": "xdp:{iface}",
    "BPF_TCX_INGRESS": "tc:{iface}:ingress", "BPF_TCX_EGRESS": "tc:{iface}:egress",
    "BPF_NETKIT_PRIMARY": "netkit:{iface}:primary", "BPF_NETKIT_PEER": "netkit:{iface}:peer",
}


def bpf_link_create(t: TrackerBase, call: Call, cmd: str, attr: dict[str, Any]) -> None:
    lc = unwrap(attr.get("link_create", attr))
    if not isinstance(lc, dict):
        lc = {}
    attach_type = enum(kn.ATTACH_TYPE, lc.get("attach_type"))
    prog = t.lookup(call.pid, lc.get("prog_fd"), call, "prog")
    if prog is not None and prog.kind == "pinned":
        prog.kind = "prog"
    target_fd = as_int(lc.get("target_fd"))
    target = None
    attrs: dict[str, Any] = {"attach_type": attach_type, "target_fd": target_fd}
    att_attrs: dict[str, Any] = {}
    source: str | None = None
    if attach_type in _INTERFACE_POINTS:
        index_value = lc.get("target_ifindex", lc.get("target_fd"))
        name, source, index = interface_name(t, index_value)
        attrs = {"attach_type": attach_type, "target_ifindex": index}
        att_attrs = {"interface": name, "ifindex": index}
        if source == "local":
            att_attrs["interface_source"] = "local"
        iface = name or (f"ifindex {index}" if index else "?")
        point: str | None = _INTERFACE_POINTS[str(attach_type)].format(iface=iface)
    else:
        if attach_type == "BPF_PERF_EVENT":
            target = t.lookup(call.pid, lc.get("target_fd"), call, "perf_event")
        elif target_fd is not None and target_fd > 0:
            target = t.table(call.pid).fds.get(target_fd)
        point = _link_attach_point(attach_type, lc, target, prog)
    if not call.ok or call.result is None:
        probe = (prog is not None and looks_like_probe_prog(prog.attrs)) or (
            target_fd is not None and target_fd < 0)
        t.fail(call, cmd, subject=prog, attrs=attrs, probe=probe)
        return
    link = t.new("link", call, call.result, cmd, attrs=attrs)
    if prog is None:
        return
    target = cgroup_target(t, target, attach_type)
    att = Attachment(prog, target, "BPF_LINK_CREATE", call.line, call.origin.file, link=link,
                     attach_point=point, attach_type=attach_type,
                     enabled_line=call.line, attrs=att_attrs)
    link.attach_point = point
    if point is not None:
        link.attach_source = target.attach_source if target is not None and \
            target.attach_source else (source or "log")
    t.attach(att, call)


def bpf_link_detach(t: TrackerBase, call: Call, cmd: str, attr: dict[str, Any]) -> None:
    link = t.lookup(call.pid, attr.get("link_fd"), call, "link")
    for att in t.attachments:
        if att.link is link and att.ended_line is None:
            att.ended_line = call.line
            att.end = "detached"
    t.act("detach", call, obj=link)


_BPFTRACE_KINDS = {"trace_fentry": "fentry", "trace_fexit": "fexit", "trace_raw_tp": "tp_btf",
                   "lsm_mac": "lsm", "modify_return": "fmod_ret", "trace_iter": "iter"}



def _link_attach_point(attach_type: Any, lc: dict[str, Any], target: Obj | None,
                       prog: Obj | None) -> str | None:
    if attach_type == "BPF_PERF_EVENT":
        return target.attach_point if target is not None else None
    if attach_type in ("BPF_TRACE_KPROBE_MULTI", "BPF_TRACE_KPROBE_SESSION"):
        multi = unwrap(lc.get("kprobe_multi"))
        syms = multi.get("syms") if isinstance(multi, dict) else None
        names = [as_text(s) for s in syms] if isinstance(syms, list) else []
        shown = ",".join(n for n in names if n)
        return f"kprobe:{shown}" if shown else "kprobe_multi"
    if attach_type in ("BPF_TRACE_UPROBE_MULTI",):
        multi = unwrap(lc.get("uprobe_multi"))
        path = as_text(multi.get("path")) if isinstance(multi, dict) else None
        return f"uprobe:{path}" if path else "uprobe_multi"
    if isinstance(attach_type, str):
        short = kn.ATTACH_TYPE.short(attach_type).lower()
        short = _BPFTRACE_KINDS.get(short, short)
        if target is not None and target.path:
            return f"{short}:{target.path}"
        if prog is not None and prog.attrs.get("attach_btf_id"):
            return f"{short}:btf_id {prog.attrs['attach_btf_id']}"
        return short
    return None


def sentence(att: Attachment) -> Spans:
    link = att.link
    point: Spans = ((att.attach_point, "bpf.point"),) if att.attach_point else \
        (("an event bpfexplain cannot name", "dim"),)
    return (("BPF_LINK_CREATE: ", None), *name_spans(att.prog), (" attached to ", None),
            *point, (f" ({short(att.attach_type)}) through a link → ", None),
            fd_span(link.fd if link else None))


ROUTE = Route(
    name="link_create",
    vias=("BPF_LINK_CREATE",),
    sentence=sentence,
    holder=Holder("link", "link", "links", "③ live at once ({lines})"),
    bpf_commands={"BPF_LINK_CREATE": bpf_link_create, "BPF_LINK_DETACH": bpf_link_detach},
    attach_calls=frozenset({"BPF_LINK_CREATE"}),
    terms=("link",),
    ends="when the link's last fd is closed or BPF_LINK_DETACH, unless the link is pinned",
)
