"""``bpf(BPF_PROG_ATTACH / BPF_PROG_DETACH)``: attach a program to a target fd.

The target is a cgroup (cgroup_skb, cgroup_sock... programs), a sockmap, a network
namespace (flow dissector) or a lirc device.  No fd holds the attachment: the
cgroup (or map) keeps it until BPF_PROG_DETACH, so it outlives the loader.
"""

from __future__ import annotations

from typing import Any

from bpfexplain import knowledge as kn
from bpfexplain.routes.base import Route
from bpfexplain.routes.targets import as_prog, cgroup_target, cgroup_words
from bpfexplain.story_words import Spans, name_spans
from bpfexplain.story_words import short as _short
from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.fields import enum
from bpfexplain.tracking.records import Attachment
from bpfexplain.values import Call, flag_names


def bpf_prog_attach(t: TrackerBase, call: Call, cmd: str, attr: dict[str, Any]) -> None:
    prog = as_prog(t.lookup(call.pid, attr.get("attach_bpf_fd"), call, "prog"))
    target = t.lookup(call.pid, attr.get("target_fd"), call, "unknown")
    attach_type = enum(kn.ATTACH_TYPE, attr.get("attach_type"))
    if not call.ok:
        t.fail(call, cmd, subject=prog, attrs={"attach_type": attach_type})
        return
    if prog is None:
        return
    target = cgroup_target(t, target, attach_type)
    where = target.path if target is not None and target.path else None
    point = kn.ATTACH_TYPE.short(attach_type).lower() if attach_type else None
    if where and point:
        point = f"{point}:{where}"
    flags = [str(f) for f in flag_names(attr.get("attach_flags"))
             if not (isinstance(f, int) and f == 0)]
    att = Attachment(prog, target, "BPF_PROG_ATTACH", call.line, call.origin.file,
                     attach_point=point, attach_type=attach_type, enabled_line=call.line,
                     attrs={"attach_flags": flags} if flags else {},
                     # A cgroup, a network namespace (flow dissector) or a device holds
                     # the program, not the loader's fd; a sockmap holds it only as
                     # long as the map lives.
                     kept=target is None or target.kind != "map")
    t.attach(att, call)


def bpf_prog_detach(t: TrackerBase, call: Call, cmd: str, attr: dict[str, Any]) -> None:
    prog = as_prog(t.lookup(call.pid, attr.get("attach_bpf_fd"), call, "prog"))
    target = t.lookup(call.pid, attr.get("target_fd"), call, "unknown")
    attach_type = enum(kn.ATTACH_TYPE, attr.get("attach_type"))
    if not call.ok:
        t.fail(call, cmd, subject=prog)
        return
    for att in t.attachments:
        if att.via == "BPF_PROG_ATTACH" and att.ended_line is None and (
            prog is None or att.prog is prog
        ) and (attach_type is None or att.attach_type in (None, attach_type)) and (
            target is None or att.target is None or att.target is target
            or (att.target.path is not None and att.target.path == target.path)
        ):
            att.ended_line = call.line
            att.end = "detached"
    t.act("detach", call, obj=prog)


def sentence(att: Attachment) -> Spans:
    target = att.target
    if target is not None and target.kind == "cgroup":
        return (("BPF_PROG_ATTACH: ", None), *name_spans(att.prog),
                (" attached to the cgroup ", None), (target.path or "?", "path"),
                (f" ({_short(att.attach_type)}): it runs on ", None),
                (cgroup_words(att.attach_type), None))
    point: Spans = ((att.attach_point, "bpf.point"),) if att.attach_point else \
        (("an event bpfexplain cannot name", "dim"),)
    return ((f"{att.via}: ", None), *name_spans(att.prog), (" attached to ", None), *point)


# bpftool cgroup's names for the hooks (bpftool-cgroup(8), ATTACH_TYPE).
_BPFTOOL_HOOKS = {
    "BPF_CGROUP_INET_INGRESS": "ingress", "BPF_CGROUP_INET_EGRESS": "egress",
    "BPF_CGROUP_INET_SOCK_CREATE": "sock_create", "BPF_CGROUP_INET_SOCK_RELEASE":
    "sock_release", "BPF_CGROUP_SOCK_OPS": "sock_ops", "BPF_CGROUP_DEVICE": "device",
    "BPF_CGROUP_INET4_BIND": "bind4", "BPF_CGROUP_INET6_BIND": "bind6",
    "BPF_CGROUP_INET4_CONNECT": "connect4", "BPF_CGROUP_INET6_CONNECT": "connect6",
    "BPF_CGROUP_INET4_POST_BIND": "post_bind4", "BPF_CGROUP_INET6_POST_BIND": "post_bind6",
    "BPF_CGROUP_UDP4_SENDMSG": "sendmsg4", "BPF_CGROUP_UDP6_SENDMSG": "sendmsg6",
    "BPF_CGROUP_UDP4_RECVMSG": "recvmsg4", "BPF_CGROUP_UDP6_RECVMSG": "recvmsg6",
    "BPF_CGROUP_SYSCTL": "sysctl", "BPF_CGROUP_GETSOCKOPT": "getsockopt",
    "BPF_CGROUP_SETSOCKOPT": "setsockopt",
}


def remove_hint(att: Attachment) -> str | None:
    target = att.target
    if target is None or target.kind != "cgroup" or not target.path or not att.attach_type:
        return None
    hook = _BPFTOOL_HOOKS.get(str(att.attach_type))
    if hook is None:
        return None
    prog = att.prog
    if prog.same_as is not None or (prog.via == "BPF_OBJ_GET" and prog.path):
        which = f"pinned {prog.path}"
    elif prog.name:
        which = f"name {prog.name}"
    else:
        return None
    return f"bpftool cgroup detach {target.path} {hook} {which}"


ROUTE = Route(
    name="prog_attach",
    vias=("BPF_PROG_ATTACH",),
    sentence=sentence,
    holder=None,
    bpf_commands={"BPF_PROG_ATTACH": bpf_prog_attach, "BPF_PROG_DETACH": bpf_prog_detach},
    attach_calls=frozenset({"BPF_PROG_ATTACH"}),
    terms=("cgroup",),
    ends="at BPF_PROG_DETACH; the cgroup (or namespace, or device) keeps it after the "
         "loader exits",
    remove_hint=remove_hint,
)
