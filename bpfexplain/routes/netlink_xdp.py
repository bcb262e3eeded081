"""XDP over netlink: ``RTM_NEWLINK``/``RTM_SETLINK`` carrying ``IFLA_XDP``.

iproute2 (``ip link set dev lo xdpgeneric obj ...``) sends it with sendmsg, libbpf's
``bpf_xdp_attach()`` and ``bpftool net attach`` with sendto.  ``IFLA_XDP_FD`` is the
program (``-1`` detaches), ``IFLA_XDP_FLAGS`` the mode (generic = SKB, native =
driver, offload = hardware) and ``XDP_FLAGS_UPDATE_IF_NOEXIST`` "only if none is
attached"; ``IFLA_XDP_EXPECTED_FD`` replaces only that program.  It worked only when
the kernel's ``NLMSG_ERROR`` answer carries ``error=0``.  The interface keeps the
program after the loader exits, until the program is replaced or detached.
"""

from __future__ import annotations

from typing import Any

from bpfexplain.routes.base import Route
from bpfexplain.routes.netlink import (
    Message,
    Request,
    answer_spans,
    attr,
    attr_list,
    interface_name,
)
from bpfexplain.story_words import Spans, name_spans
from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.records import Action, Attachment, Obj
from bpfexplain.values import Call, as_int, flag_names

# XDP_FLAGS_* of linux/if_link.h: the mode bits, by name and by number (-X raw).
_MODES = {"XDP_FLAGS_SKB_MODE": "generic", "XDP_FLAGS_DRV_MODE": "native",
          "XDP_FLAGS_HW_MODE": "offload", 2: "generic", 4: "native", 8: "offload"}
_IP_KEYWORD = {"generic": "xdpgeneric", "native": "xdpdrv", "offload": "xdpoffload"}
_WHY = {
    "EBUSY": "{iface} already has an XDP program and the request asked to attach only "
             "if none was (XDP_FLAGS_UPDATE_IF_NOEXIST); detach the old one first",
    "EEXIST": "{iface} already has an XDP program in another mode; one interface runs "
              "XDP in one mode at a time",
    "EOPNOTSUPP": "{iface}'s driver cannot run XDP in {mode} mode; generic mode "
                  "(xdpgeneric) works on every interface",
    "ENODEV": "there is no interface {iface}",
    "EINVAL": "the kernel refused the XDP request for {iface} (a program that is not of "
              "type XDP, or conflicting flags)",
}


def _mode(flags: list[str | int]) -> str | None:
    for flag in flags:
        if flag in _MODES:
            return _MODES[flag]
        if isinstance(flag, int):
            for bit in (2, 4, 8):
                if flag & bit:
                    return _MODES[bit]
    return None


def _request(t: TrackerBase, call: Call, msg: Message) -> Request | None:
    xdp = attr(msg.attrs, "IFLA_XDP")
    if xdp is None:
        return None
    inner = attr_list(xdp)
    fd = as_int(attr(inner, "IFLA_XDP_FD"))
    flags = flag_names(attr(inner, "IFLA_XDP_FLAGS"))
    name, source, index = interface_name(t, msg.body.get("ifi_index"))
    mode = _mode(flags)
    point = f"xdp:{name}" if name else (f"xdp:ifindex {index}" if index else "xdp")
    attrs: dict[str, Any] = {
        "request": str(msg.type), "interface": name, "ifindex": index,
        "mode": mode or "default", "flags": [str(f) for f in flags],
    }
    if source == "local":
        attrs["interface_source"] = "local"
    expected = as_int(attr(inner, "IFLA_XDP_EXPECTED_FD"))
    if expected is not None:
        attrs["expected_fd"] = expected
    prog: Obj | None = None
    if fd is not None and fd >= 0:
        prog = t.lookup(call.pid, fd, call, "prog")
        if prog is not None and prog.kind == "pinned":
            prog.kind = "prog"

    def answered(t: TrackerBase, answer: Call | None, errno: str | None) -> None:
        where = answer or call
        iface = name or (f"ifindex {index}" if index else "the interface")
        if errno is not None:
            why = _WHY.get(errno, "")
            t.fail(where, f"{msg.type} (IFLA_XDP)", subject=prog, attrs=attrs, errno=errno,
                   why=why.format(iface=iface, mode=mode or "the default") if why else None)
            return
        confirmed = answer is not None
        live = [a for a in t.attachments if a.via == "IFLA_XDP" and a.ended_line is None
                and a.attach_point == point and a.attrs.get("mode") == attrs["mode"]]
        if prog is None:
            # IFLA_XDP_FD -1: detach whatever runs there in that mode.
            if confirmed:
                for old in live:
                    old.ended_line = where.line
                    old.end = "detached"
            t.act("detach", where, detail={"route": "netlink_xdp", "point": point,
                                           "attrs": attrs, "ended": live,
                                           "confirmed": confirmed, "request_line": call.line})
            return
        if confirmed:
            for old in live:
                # The new program replaces the one that ran there.
                old.ended_line = where.line
                old.end = "detached"
        att = Attachment(prog, None, "IFLA_XDP", call.line, call.origin.file,
                         attach_point=point, enabled_line=answer.line if answer else None,
                         attrs=attrs, kept=True)
        t.attach(att, where, route="netlink_xdp")

    return Request(call, msg, answered)


def _interface(att: Attachment) -> str:
    name = att.attrs.get("interface")
    if name:
        return str(name)
    index = att.attrs.get("ifindex")
    return f"ifindex {index}" if index else "an interface"


def sentence(att: Attachment) -> Spans:
    a = att.attrs
    mode = a.get("mode")
    spans: list[tuple[str, str | None]] = [
        (f"{a.get('request', 'RTM_SETLINK')} with IFLA_XDP over netlink: ", None),
        *name_spans(att.prog), (" attached to ", None),
        (att.attach_point or "xdp", "bpf.point"),
        (f" in {mode} mode" if mode and mode != "default" else "", None),
        (", where it sees every packet the interface receives, before the network stack",
         None)]
    return (*spans, *answer_spans(att))


def step(action: Action) -> Spans:
    d = action.detail
    a = d.get("attrs") or {}
    iface = a.get("interface") or (f"ifindex {a['ifindex']}" if a.get("ifindex") else "?")
    mode = a.get("mode")
    how = f" in {mode} mode" if mode and mode != "default" else ""
    head = f"{a.get('request', 'RTM_SETLINK')} with IFLA_XDP fd -1: "
    if not d.get("confirmed"):
        return ((head + f"asked to remove the XDP program from {iface}{how}; the log shows "
                 "no answer from the kernel", None),)
    ended = d.get("ended") or []
    if not ended:
        return ((head + f"removed the XDP program from {iface}{how} (attached before this "
                 "log)", None),)
    spans: list[tuple[str, str | None]] = [(head + "detached ", None)]
    for i, old in enumerate(ended):
        if i:
            spans.append((", ", None))
        spans += name_spans(old.prog)
    spans.append((f" from {iface}{how}", None))
    return tuple(spans)


def remove_hint(att: Attachment) -> str | None:
    name = att.attrs.get("interface")
    if not name or att.attrs.get("interface_source") == "local":
        return None
    keyword = _IP_KEYWORD.get(str(att.attrs.get("mode")), "xdp")
    return f"ip link set dev {name} {keyword} off"


ROUTE = Route(
    name="netlink_xdp",
    vias=("IFLA_XDP",),
    sentence=sentence,
    holder=None,
    netlink={"RTM_NEWLINK": _request, "RTM_SETLINK": _request},
    attach_calls=frozenset({"RTM_NEWLINK (IFLA_XDP)", "RTM_SETLINK (IFLA_XDP)"}),
    terms=("XDP", "netlink"),
    step=step,
    ends="when it is detached (IFLA_XDP_FD -1) or replaced; the interface keeps it after "
         "the loader exits",
    remove_hint=remove_hint,
)
