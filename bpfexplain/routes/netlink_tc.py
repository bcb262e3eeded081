"""tc over netlink: a ``bpf`` filter (``RTM_NEWTFILTER``) on a clsact qdisc.

``tc qdisc add dev lo clsact`` (``RTM_NEWQDISC``, kind ``clsact``) gives an interface
its two hooks, ingress (parent ``ffff:fff2``) and egress (``ffff:fff3``);
``tc filter add dev lo ingress bpf da obj prog.o`` sends ``RTM_NEWTFILTER`` with kind
``bpf`` and, in ``TCA_OPTIONS``, the program fd (``TCA_BPF_FD``), a name
(``TCA_BPF_NAME``) and flags (``TCA_BPF_FLAG_ACT_DIRECT``: the program's return value
is the verdict).  It worked only when the kernel's answer carries ``error=0``.  The
qdisc keeps the filter after tc exits, until ``RTM_DELTFILTER`` or the qdisc goes.
"""

from __future__ import annotations

import struct
from typing import Any

from bpfexplain.routes.base import Route
from bpfexplain.routes.netlink import (
    Message,
    Request,
    answer_spans,
    attr,
    attr_list,
    interface_name,
    raw_attrs,
)
from bpfexplain.story_words import Spans, name_spans
from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.records import Action, Attachment, Obj
from bpfexplain.values import Call, as_int, as_text, flag_names

# linux/pkt_sched.h: TC_H_CLSACT's minor handles, and the classic ingress qdisc.
_HOOKS = {0xFFFFFFF2: "ingress", 0xFFFFFFF3: "egress", 0xFFFF0000: "ingress"}
# linux/pkt_cls.h: TCA_BPF_* attribute numbers (for TCA_OPTIONS strace left as bytes).
_TCA_BPF_FD, _TCA_BPF_NAME, _TCA_BPF_FLAGS = 6, 7, 8
_TCA_BPF_FLAG_ACT_DIRECT = 1


def _handle(value: int) -> str:
    """A tc handle as tc prints it: ``ffff:fff2``."""
    return f"{value >> 16:x}:{value & 0xFFFF:x}"


def _options(value: Any) -> dict[str, Any]:
    """fd, name and direct-action of a bpf filter's TCA_OPTIONS, decoded or raw."""
    out: dict[str, Any] = {}
    decoded = attr_list(value)
    if decoded:
        fd = as_int(attr(decoded, "TCA_BPF_FD"))
        if fd is not None:
            out["fd"] = fd
        name = as_text(attr(decoded, "TCA_BPF_NAME"))
        if name is not None:
            out["name"] = name
        flags = attr(decoded, "TCA_BPF_FLAGS")
        if flags is not None:
            names = flag_names(flags)
            out["direct_action"] = "TCA_BPF_FLAG_ACT_DIRECT" in names or any(
                isinstance(f, int) and f & _TCA_BPF_FLAG_ACT_DIRECT for f in names)
        return out
    for kind, payload in raw_attrs(value):
        if kind == _TCA_BPF_FD and len(payload) >= 4:
            out["fd"] = struct.unpack_from("<i", payload)[0]
        elif kind == _TCA_BPF_NAME:
            out["name"] = payload.split(b"\0", 1)[0].decode("utf-8", "replace")
        elif kind == _TCA_BPF_FLAGS and len(payload) >= 4:
            out["direct_action"] = bool(struct.unpack_from("<I", payload)[0]
                                        & _TCA_BPF_FLAG_ACT_DIRECT)
    return out


def _where(t: TrackerBase, msg: Message) -> dict[str, Any]:
    name, source, index = interface_name(t, msg.body.get("tcm_ifindex"))
    parent = as_int(msg.body.get("tcm_parent"))
    info = as_int(msg.body.get("tcm_info")) or 0
    hook = _HOOKS.get(parent) if parent is not None else None
    where: dict[str, Any] = {
        "request": str(msg.type), "interface": name, "ifindex": index,
        "hook": hook or (f"parent {_handle(parent)}" if parent is not None else None),
        "parent": _handle(parent) if parent is not None else None,
        "priority": info >> 16,
    }
    if source == "local":
        where["interface_source"] = "local"
    iface = name or (f"ifindex {index}" if index else "?")
    where["point"] = f"tc:{iface}:{where['hook']}" if where["hook"] else f"tc:{iface}"
    return where


def _live(t: TrackerBase, point: str | None = None, iface: Any = None,
          priority: int = 0) -> list[Attachment]:
    return [a for a in t.attachments if a.via == "TCA_BPF" and a.ended_line is None
            and (point is None or a.attach_point == point)
            and (iface is None or a.attrs.get("interface") == iface
                 or a.attrs.get("ifindex") == iface)
            and (not priority or a.attrs.get("priority") in (0, priority))]


def _new_filter(t: TrackerBase, call: Call, msg: Message) -> Request | None:
    if as_text(attr(msg.attrs, "TCA_KIND")) != "bpf":
        return None
    where = _where(t, msg)
    options = _options(attr(msg.attrs, "TCA_OPTIONS"))
    attrs = {k: v for k, v in where.items() if k != "point"}
    attrs.update({k: options[k] for k in ("name", "direct_action") if k in options})
    prog: Obj | None = None
    if options.get("fd") is not None:
        prog = t.lookup(call.pid, options["fd"], call, "prog")
        if prog is not None and prog.kind == "pinned":
            prog.kind = "prog"

    def answered(t: TrackerBase, answer: Call | None, errno: str | None) -> None:
        where_call = answer or call
        if errno is not None:
            why = ("the interface has no clsact (or ingress) qdisc to hang the filter on: "
                   "tc qdisc add dev IFACE clsact" if errno == "EINVAL" and
                   where["hook"] in ("ingress", "egress") else None)
            t.fail(where_call, f"{msg.type} (TCA_BPF)", subject=prog, attrs=attrs,
                   errno=errno, why=why)
            return
        if prog is None:
            return
        att = Attachment(prog, None, "TCA_BPF", call.line, call.origin.file,
                         attach_point=where["point"],
                         enabled_line=answer.line if answer else None, attrs=attrs,
                         kept=True)
        t.attach(att, where_call, route="netlink_tc")

    return Request(call, msg, answered)


def _del_filter(t: TrackerBase, call: Call, msg: Message) -> Request | None:
    kind = as_text(attr(msg.attrs, "TCA_KIND"))
    if kind not in (None, "bpf"):
        return None
    where = _where(t, msg)

    def answered(t: TrackerBase, answer: Call | None, errno: str | None) -> None:
        where_call = answer or call
        if errno is not None:
            t.fail(where_call, f"{msg.type} (TCA_BPF)", errno=errno,
                   attrs={k: v for k, v in where.items() if k != "point"})
            return
        ended = _live(t, where["point"], priority=where["priority"]) if answer else []
        for att in ended:
            att.ended_line = where_call.line
            att.end = "detached"
        t.act("detach", where_call, detail={"route": "netlink_tc", "op": "filter",
                                            "where": where, "ended": ended,
                                            "confirmed": answer is not None,
                                            "request_line": call.line})

    return Request(call, msg, answered)


def _qdisc(t: TrackerBase, call: Call, msg: Message) -> Request | None:
    kind = as_text(attr(msg.attrs, "TCA_KIND"))
    if msg.type == "RTM_NEWQDISC" and kind != "clsact":
        return None
    where = _where(t, msg)
    parent = as_int(msg.body.get("tcm_parent"))
    if msg.type == "RTM_DELQDISC" and kind not in ("clsact", "ingress") and parent not in (
            0xFFFFFFF1, None):
        return None

    def answered(t: TrackerBase, answer: Call | None, errno: str | None) -> None:
        where_call = answer or call
        if errno is not None:
            if msg.type == "RTM_NEWQDISC" and errno == "EEXIST":
                return  # already there: what the loader wanted
            t.fail(where_call, str(msg.type), errno=errno,
                   attrs={k: v for k, v in where.items() if k != "point"})
            return
        ended: list[Attachment] = []
        if msg.type == "RTM_DELQDISC" and answer is not None:
            iface = where["interface"] or where["ifindex"]
            ended = _live(t, iface=iface)
            for att in ended:
                att.ended_line = where_call.line
                att.end = "detached"
        t.act("qdisc", where_call, detail={"route": "netlink_tc", "op": str(msg.type),
                                           "where": where, "ended": ended,
                                           "confirmed": answer is not None,
                                           "request_line": call.line})

    return Request(call, msg, answered)


def _iface(where: dict[str, Any]) -> str:
    if where.get("interface"):
        return str(where["interface"])
    return f"ifindex {where['ifindex']}" if where.get("ifindex") else "an interface"


def sentence(att: Attachment) -> Spans:
    a = att.attrs
    spans: list[tuple[str, str | None]] = [
        (f"{a.get('request', 'RTM_NEWTFILTER')} with kind bpf over netlink: ", None),
        *name_spans(att.prog), (" attached to ", None),
        (att.attach_point or "tc", "bpf.point")]
    hook = a.get("hook")
    if hook in ("ingress", "egress"):
        spans.append((f", where it sees every packet {_iface(a)} "
                      + ("receives" if hook == "ingress" else "sends"), None))
    if a.get("direct_action"):
        spans.append((" and its return value decides the packet's fate (direct action)",
                      None))
    return (*spans, *answer_spans(att))


def step(action: Action) -> Spans:
    d = action.detail
    where = d.get("where") or {}
    iface = _iface(where)
    op = d.get("op")
    unconfirmed = "" if d.get("confirmed") else "; the log shows no answer from the kernel"
    if action.kind == "qdisc" and op == "RTM_NEWQDISC":
        return ((f"RTM_NEWQDISC: added a clsact qdisc to {iface}, the ingress and egress "
                 f"hooks tc programs attach to{unconfirmed}", None),)
    ended: list[Attachment] = d.get("ended") or []
    if action.kind == "qdisc":
        head = f"RTM_DELQDISC: removed {iface}'s clsact qdisc"
    else:
        head = f"RTM_DELTFILTER: removed the filters on {iface}'s {where.get('hook')} hook"
    if not ended:
        return ((head + (" (none attached in this log)" if not unconfirmed else "")
                 + unconfirmed, None),)
    spans: list[tuple[str, str | None]] = [(head + ", detaching ", None)]
    for i, att in enumerate(ended):
        if i:
            spans.append((", ", None))
        spans += name_spans(att.prog)
    return tuple(spans)


def remove_hint(att: Attachment) -> str | None:
    name = att.attrs.get("interface")
    hook = att.attrs.get("hook")
    if not name or att.attrs.get("interface_source") == "local":
        return None
    if hook in ("ingress", "egress") and att.attrs.get("parent") != "ffff:0":
        return f"tc filter del dev {name} {hook}"
    return f"tc filter del dev {name} parent {att.attrs.get('parent')}"


ROUTE = Route(
    name="netlink_tc",
    vias=("TCA_BPF",),
    sentence=sentence,
    holder=None,
    netlink={"RTM_NEWTFILTER": _new_filter, "RTM_DELTFILTER": _del_filter,
             "RTM_NEWQDISC": _qdisc, "RTM_DELQDISC": _qdisc},
    attach_calls=frozenset({"RTM_NEWTFILTER (TCA_BPF)", "RTM_NEWQDISC"}),
    terms=("tc", "netlink"),
    step=step,
    ends="when the filter is deleted (RTM_DELTFILTER) or its qdisc removed; the qdisc "
         "keeps it after the loader exits",
    remove_hint=remove_hint,
)
