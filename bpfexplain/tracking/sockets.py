"""Sockets and interface names: ``socket()``, and the ioctls that name an interface.

A socket is context until an attach route gives it a program (a socket filter):
netlink sockets carry the XDP and tc requests, a UDP socket may get a filter.  The
ioctls ``if_nametoindex``/``if_indextoname`` make (SIOCGIFINDEX, SIOCGIFNAME) tie an
interface index to its name in the log itself, which is how an ifindex in a later
call gets its name.
"""

from __future__ import annotations

from typing import Any

from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.records import Obj
from bpfexplain.values import Call, as_int, as_text, flag_names, symbol, unwrap

# linux/sockios.h: the numbers, for -X raw logs
_IF_IOCTLS = {0x8933: "SIOCGIFINDEX", 0x8910: "SIOCGIFNAME"}


def socket_attrs(args: tuple[Any, ...] | list[Any]) -> dict[str, Any]:
    """``socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP)`` as attrs: the type
    without its flags (which say nothing about what the socket is)."""
    domain = symbol(args[0]) if args else None
    kinds = [str(f) for f in flag_names(args[1])] if len(args) > 1 else []
    sock_type = next((k for k in kinds if k.startswith("SOCK_")
                      and k not in ("SOCK_CLOEXEC", "SOCK_NONBLOCK")), None)
    protocol = args[2] if len(args) > 2 else None
    return {
        "domain": domain if domain is not None else as_int(args[0]) if args else None,
        "type": sock_type if sock_type is not None else (kinds[0] if kinds else None),
        "protocol": symbol(protocol) or as_int(protocol),
        "flags": [k for k in kinds if k in ("SOCK_CLOEXEC", "SOCK_NONBLOCK")],
    }


class SocketEvents(TrackerBase):
    """Handlers for sockets and interface-naming ioctls."""

    SYSCALLS = frozenset({"socket", "ioctl"})

    def on_socket(self, call: Call) -> None:
        if not call.ok or call.result is None or call.result < 0:
            return  # a loader probing for an address family (AF_ALG) is no step
        attrs = socket_attrs(call.args)
        obj = Obj(id="socket", kind="socket", pid=self.tgid(call.pid), fd=call.result,
                  line=call.line, file=call.origin.file, via="socket", attrs=attrs)
        self.bind(call.pid, call.result, obj, call,
                  cloexec="SOCK_CLOEXEC" in attrs["flags"])

    def on_ioctl(self, call: Call) -> None:
        if len(call.args) < 3 or not call.ok:
            return
        request = symbol(call.args[1])
        if request is None:
            request = _IF_IOCTLS.get(as_int(call.args[1]) or -1)
        if request not in ("SIOCGIFINDEX", "SIOCGIFNAME"):
            return
        ifr = unwrap(call.args[2])
        if not isinstance(ifr, dict):
            return
        name = as_text(ifr.get("ifr_name"))
        index = as_int(ifr.get("ifr_ifindex"))
        if name and index is not None:
            self.resolver.learn_interface(index, name)
