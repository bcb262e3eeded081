"""Socket filters: ``setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, [prog_fd], 4)``.

The program runs on every packet the socket receives (``SO_ATTACH_BPF``), or picks
which socket of a ``SO_REUSEPORT`` group gets each one (``SO_ATTACH_REUSEPORT_EBPF``).
It is live as soon as setsockopt returns 0; ``SO_DETACH_BPF`` (the same number as
``SO_DETACH_FILTER``, which is how strace 6.1 prints it) or ``SO_DETACH_REUSEPORT_BPF``
removes it, and it ends when the socket's last fd is closed: it never outlives the
loader unless the socket is handed on.
"""

from __future__ import annotations

from bpfexplain.routes.base import Holder, Route
from bpfexplain.story_words import Spans, fd_span, name_spans
from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.records import Action, Attachment, Obj, Via
from bpfexplain.values import Call, as_int, symbol, unwrap

# asm-generic/socket.h: option numbers, for -X raw logs and for strace versions that
# print SO_DETACH_BPF under its older name.
_OPTIONS = {26: "SO_ATTACH_FILTER", 27: "SO_DETACH_BPF", 50: "SO_ATTACH_BPF",
            51: "SO_ATTACH_REUSEPORT_CBPF", 52: "SO_ATTACH_REUSEPORT_EBPF",
            68: "SO_DETACH_REUSEPORT_BPF"}
_ALIASES = {"SO_DETACH_FILTER": "SO_DETACH_BPF"}
_ATTACH: dict[str, Via] = {"SO_ATTACH_BPF": "SO_ATTACH_BPF",
                           "SO_ATTACH_REUSEPORT_EBPF": "SO_ATTACH_REUSEPORT_EBPF"}
_DETACH: dict[str, Via] = {"SO_DETACH_BPF": "SO_ATTACH_BPF",
                           "SO_DETACH_REUSEPORT_BPF": "SO_ATTACH_REUSEPORT_EBPF"}


def _option(call: Call) -> str | None:
    if len(call.args) < 3:
        return None
    level = symbol(call.args[1])
    if level not in (None, "SOL_SOCKET") or (level is None and as_int(call.args[1]) != 1):
        return None
    name = symbol(call.args[2]) or _OPTIONS.get(as_int(call.args[2]) or -1)
    return _ALIASES.get(name or "", name)


def socket_point(sock: Obj) -> str:
    """``socket:AF_INET/SOCK_DGRAM``: what kind of socket, as socket() was asked."""
    domain = sock.attrs.get("domain")
    kind = sock.attrs.get("type")
    if domain is None and kind is None:
        return "socket"
    return f"socket:{domain or '?'}/{kind or '?'}"


def on_setsockopt(t: TrackerBase, call: Call) -> None:
    option = _option(call)
    if option not in _ATTACH and option not in _DETACH:
        return
    assert option is not None
    sock = t.lookup(call.pid, call.args[0], call, "socket")
    if option in _DETACH:
        if not call.ok:
            t.fail(call, option, subject=sock)
            return
        via = _DETACH[option]
        ended = [a for a in t.attachments if a.target is sock and a.via == via
                 and a.ended_line is None]
        for att in ended:
            att.ended_line = call.line
            att.end = "detached"
        t.act("detach", call, obj=sock, detail={
            "route": "socket_filter", "option": option,
            "progs": [a.prog for a in ended]})
        return
    value = unwrap(call.args[3]) if len(call.args) > 3 else None
    prog_fd = value[0] if isinstance(value, list) and value else value
    prog = t.lookup(call.pid, prog_fd, call, "prog")
    if prog is not None and prog.kind == "pinned":
        prog.kind = "prog"
    if not call.ok:
        t.fail(call, option, subject=prog)
        return
    if prog is None or sock is None:
        return
    t.promote(sock, "socket")
    via = _ATTACH[option]
    for old in t.attachments:
        # One program per socket (per reuseport group): a new one replaces it.
        if old.target is sock and old.via == via and old.ended_line is None:
            old.ended_line = call.line
            old.end = "detached"
    att = Attachment(prog, sock, via, call.line, call.origin.file,
                     attach_point=socket_point(sock), enabled_line=call.line,
                     attrs={"socket_fd": sock.fd})
    t.attach(att, call)


def sentence(att: Attachment) -> Spans:
    sock = att.target
    fd = sock.fd if sock is not None else None
    what = ("chooses which socket of the SO_REUSEPORT group gets each packet"
            if att.via == "SO_ATTACH_REUSEPORT_EBPF" else
            "now filters every packet the socket receives")
    return ((f"setsockopt({fd}, SOL_SOCKET, {att.via}): ", None), *name_spans(att.prog),
            (" attached to ", None), (att.attach_point or "a socket", "bpf.point"),
            (" (", None), fd_span(fd), ("); it ", None), (what, None),
            (" until the socket is closed", None))


def step(action: Action) -> Spans:
    d = action.detail
    progs = d.get("progs") or []
    sock = action.obj
    fd = sock.fd if sock is not None else "?"
    if not progs:
        return ((f"setsockopt({fd}, SOL_SOCKET, {d.get('option')}): removed the socket's "
                 "program (none attached in this log)", None),)
    spans: list[tuple[str, str | None]] = [
        (f"setsockopt({fd}, SOL_SOCKET, {d.get('option')}): detached ", None)]
    for i, prog in enumerate(progs):
        if i:
            spans.append((", ", None))
        spans += name_spans(prog)
    spans += [(" from ", None), fd_span(sock.fd if sock is not None else None)]
    return tuple(spans)


ROUTE = Route(
    name="socket_filter",
    vias=("SO_ATTACH_BPF", "SO_ATTACH_REUSEPORT_EBPF"),
    sentence=sentence,
    holder=Holder("socket", "socket", "sockets", "③ live at once ({lines})"),
    syscalls={"setsockopt": on_setsockopt},
    needs=frozenset({"socket"}),
    attach_calls=frozenset({"SO_ATTACH_BPF", "SO_ATTACH_REUSEPORT_EBPF"}),
    terms=("socket filter",),
    step=step,
    ends="when the socket's last fd is closed, or SO_DETACH_BPF",
)
