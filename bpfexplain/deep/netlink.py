"""Sockets and rtnetlink messages as strace prints them, from raw bytes.

The deep backend's decoders for the attach routes outside bpf(): ``socket()``, the
``setsockopt`` options that attach eBPF to a socket, ``ioctl(SIOCGIFINDEX)`` (how
``if_nametoindex`` names an interface), and the netlink messages inside ``sendmsg``,
``sendto``, ``recvmsg`` and ``recvfrom`` on an ``AF_NETLINK``/``NETLINK_ROUTE`` socket:
``RTM_*LINK`` with ``IFLA_XDP``, ``RTM_*QDISC`` and ``RTM_*TFILTER`` with their ``TCA_*``
attributes, and ``NLMSG_ERROR`` acks.

The values have the shapes strace 6.1's netlink decoder gives through the grammar, so
the tracker cannot tell the backends apart:

* a message is ``[{nlmsghdr}, {ifinfomsg|tcmsg}, ATTRS]`` (only ``{nlmsghdr}`` when it
  has no payload), several messages in one buffer a list of those;
* ATTRS is one attribute ``[{nla_len=N, nla_type=T}, VALUE]`` or, when there are
  several, a list of them; a nested attribute's VALUE is ATTRS again;
* an ack is ``[{nlmsghdr NLMSG_ERROR}, {error=0|-ENAME, msg=ECHOED}]`` where ECHOED
  is the request's header alone when the kernel capped it, else the whole message;
* ``ifi_index``/``tcm_ifindex`` are ``if_nametoindex("lo")`` when this process can
  name the index (strace does the same lookup in its own network namespace);
* attributes without a decoder here are their bytes as a string, as strace prints
  the ones it does not know (``TCA_OPTIONS`` of a ``bpf`` filter included: strace
  6.1 and 7.2 print those raw too).  strace decodes a few more in link dumps
  (``IFLA_STATS*``, ``IFLA_AF_SPEC``, ``IFLA_LINKINFO``) that no route reads; here they
  stay bytes;
* the messages of every ``recvmsg`` on a NETLINK_ROUTE socket are decoded, as strace
  6.13 and 7.2 do; strace 6.1 decodes a ``recvmsg`` only when its ``msg_name`` is an
  ``AF_NETLINK`` address (iproute2's, not libbpf's, whose acks it prints as bytes).

Numbers are from linux/netlink.h, linux/rtnetlink.h, linux/if_link.h,
linux/pkt_sched.h, linux/if_arp.h, linux/if.h, linux/socket.h and asm-generic/socket.h
(the same on x86_64 and aarch64).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence

from bpfexplain import knowledge as kn
from bpfexplain.deep.structs import NULL, flag_set, flags_value, text
from bpfexplain.values import Commented, Flags, Func, InOut, Sym, Value

NETLINK_ROUTE = 0
AF_NETLINK = 16
SOL_SOCKET = 1

# -- socket() ---------------------------------------------------------------------------------

ADDRESS_FAMILIES: dict[int, str] = {
    0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 3: "AF_AX25", 4: "AF_IPX",
    5: "AF_APPLETALK", 6: "AF_NETROM", 7: "AF_BRIDGE", 8: "AF_ATMPVC", 9: "AF_X25",
    10: "AF_INET6", 11: "AF_ROSE", 12: "AF_DECnet", 13: "AF_NETBEUI", 14: "AF_SECURITY",
    15: "AF_KEY", 16: "AF_NETLINK", 17: "AF_PACKET", 18: "AF_ASH", 19: "AF_ECONET",
    20: "AF_ATMSVC", 21: "AF_RDS", 22: "AF_SNA", 23: "AF_IRDA", 24: "AF_PPPOX",
    25: "AF_WANPIPE", 26: "AF_LLC", 27: "AF_IB", 28: "AF_MPLS", 29: "AF_CAN",
    30: "AF_TIPC", 31: "AF_BLUETOOTH", 32: "AF_IUCV", 33: "AF_RXRPC", 34: "AF_ISDN",
    35: "AF_PHONET", 36: "AF_IEEE802154", 37: "AF_CAIF", 38: "AF_ALG", 39: "AF_NFC",
    40: "AF_VSOCK", 41: "AF_KCM", 42: "AF_QIPCRTR", 43: "AF_SMC", 44: "AF_XDP",
    45: "AF_MCTP",
}
_SOCK_TYPES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM",
               5: "SOCK_SEQPACKET", 6: "SOCK_DCCP", 10: "SOCK_PACKET"}
_SOCK_FLAGS = [("SOCK_NONBLOCK", 0o4000), ("SOCK_CLOEXEC", 0o2000000)]
_IPPROTO = {0: "IPPROTO_IP", 1: "IPPROTO_ICMP", 2: "IPPROTO_IGMP", 4: "IPPROTO_IPIP",
            6: "IPPROTO_TCP", 17: "IPPROTO_UDP", 41: "IPPROTO_IPV6", 47: "IPPROTO_GRE",
            58: "IPPROTO_ICMPV6", 132: "IPPROTO_SCTP", 136: "IPPROTO_UDPLITE",
            255: "IPPROTO_RAW", 262: "IPPROTO_MPTCP"}
_NETLINK_PROTOCOLS = {
    0: "NETLINK_ROUTE", 1: "NETLINK_UNUSED", 2: "NETLINK_USERSOCK", 3: "NETLINK_FIREWALL",
    4: "NETLINK_SOCK_DIAG", 5: "NETLINK_NFLOG", 6: "NETLINK_XFRM", 7: "NETLINK_SELINUX",
    8: "NETLINK_ISCSI", 9: "NETLINK_AUDIT", 10: "NETLINK_FIB_LOOKUP",
    11: "NETLINK_CONNECTOR", 12: "NETLINK_NETFILTER", 13: "NETLINK_IP6_FW",
    14: "NETLINK_DNRTMSG", 15: "NETLINK_KOBJECT_UEVENT", 16: "NETLINK_GENERIC",
    18: "NETLINK_SCSITRANSPORT", 19: "NETLINK_ECRYPTFS", 20: "NETLINK_RDMA",
    21: "NETLINK_CRYPTO", 22: "NETLINK_SMC",
}


def _named(table: dict[int, str], number: int, unknown: str) -> Value:
    name = table.get(number)
    return Sym(name) if name is not None else Commented(number, unknown)


def socket_args(domain: int, kind: int, protocol: int) -> tuple[Value, Value, Value]:
    """``socket(AF_INET, SOCK_DGRAM, IPPROTO_IP)`` as the grammar gives it."""
    family: Value = _named(ADDRESS_FAMILIES, domain, "AF_???")
    base = kind & 0xF
    members: list[str | int] = [Sym(_SOCK_TYPES[base]) if base in _SOCK_TYPES else base]
    type_value = flag_set(members, kind & ~0xF, _SOCK_FLAGS)
    proto: Value = protocol
    if domain in (2, 10):
        proto = _named(_IPPROTO, protocol, "IPPROTO_???")
    elif domain == AF_NETLINK:
        proto = _named(_NETLINK_PROTOCOLS, protocol, "NETLINK_???")
    return family, type_value, proto


# -- setsockopt() -----------------------------------------------------------------------------

SOCKET_FILTER_OPTIONS: dict[int, str] = {
    26: "SO_ATTACH_FILTER", 27: "SO_DETACH_FILTER", 50: "SO_ATTACH_BPF",
    51: "SO_ATTACH_REUSEPORT_CBPF", 52: "SO_ATTACH_REUSEPORT_EBPF",
    68: "SO_DETACH_REUSEPORT_BPF",
}
"""The SOL_SOCKET options that attach or detach a filter program (asm-generic/socket.h).
SO_DETACH_BPF is SO_DETACH_FILTER's other name; strace prints the latter, and so do we.
The same set framing's prefilter keeps."""


def wants_setsockopt(level: int, optname: int) -> bool:
    return level == SOL_SOCKET and optname in SOCKET_FILTER_OPTIONS


def setsockopt_args(fd: int, level: int, optname: int, optval: bytes | None, optval_addr: int,
                    optlen: int) -> tuple[Value, ...]:
    """``setsockopt(5, SOL_SOCKET, SO_ATTACH_BPF, [4], 4)``: an int option as ``[N]``;
    a classic filter (``struct sock_fprog``) as ``{len=N, filter=ADDR}``."""
    name = SOCKET_FILTER_OPTIONS[optname]
    value: Value = optval_addr if optval_addr else NULL
    if optval is not None:
        if name in ("SO_ATTACH_FILTER", "SO_ATTACH_REUSEPORT_CBPF") and len(optval) >= 16:
            length, pointer = struct.unpack_from("<H6xQ", optval)
            value = {"len": length, "filter": pointer or NULL}
        elif len(optval) >= 4 and optlen >= 4:
            value = [struct.unpack_from("<i", optval)[0]]
    return (fd, Sym("SOL_SOCKET"), Sym(name), value, optlen)


# -- ioctl(SIOCGIFINDEX / SIOCGIFNAME) ---------------------------------------------------------

SIOCGIFNAME = 0x8910
SIOCGIFINDEX = 0x8933
IFNAMSIZ = 16


def ifreq_value(request: int, data: bytes, done: bool) -> Value:
    """struct ifreq (linux/if.h: ifr_name[16], then the union; ifr_ifindex is an int).

    SIOCGIFINDEX names the interface and gets its index; SIOCGIFNAME the reverse.  As
    strace: what the caller set always, what the kernel filled in only on success."""
    name = text(data[:IFNAMSIZ].split(b"\0", 1)[0])
    index = struct.unpack_from("<i", data, IFNAMSIZ)[0] if len(data) >= IFNAMSIZ + 4 else 0
    if request == SIOCGIFINDEX:
        return {"ifr_name": name, "ifr_ifindex": index} if done else {"ifr_name": name}
    return {"ifr_ifindex": index, "ifr_name": name} if done else {"ifr_ifindex": index}


# -- netlink ------------------------------------------------------------------------------------

NLMSG_HDRLEN = 16
NLA_HDRLEN = 4
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE, NLMSG_OVERRUN = 1, 2, 3, 4

_NLMSG_TYPES = {1: "NLMSG_NOOP", 2: "NLMSG_ERROR", 3: "NLMSG_DONE", 4: "NLMSG_OVERRUN"}
RTM_TYPES: dict[int, str] = {
    16: "RTM_NEWLINK", 17: "RTM_DELLINK", 18: "RTM_GETLINK", 19: "RTM_SETLINK",
    20: "RTM_NEWADDR", 21: "RTM_DELADDR", 22: "RTM_GETADDR",
    24: "RTM_NEWROUTE", 25: "RTM_DELROUTE", 26: "RTM_GETROUTE",
    28: "RTM_NEWNEIGH", 29: "RTM_DELNEIGH", 30: "RTM_GETNEIGH",
    32: "RTM_NEWRULE", 33: "RTM_DELRULE", 34: "RTM_GETRULE",
    36: "RTM_NEWQDISC", 37: "RTM_DELQDISC", 38: "RTM_GETQDISC",
    40: "RTM_NEWTCLASS", 41: "RTM_DELTCLASS", 42: "RTM_GETTCLASS",
    44: "RTM_NEWTFILTER", 45: "RTM_DELTFILTER", 46: "RTM_GETTFILTER",
    48: "RTM_NEWACTION", 49: "RTM_DELACTION", 50: "RTM_GETACTION",
    100: "RTM_NEWCHAIN", 101: "RTM_DELCHAIN", 102: "RTM_GETCHAIN",
}
_LINK_TYPES = frozenset({16, 17, 18, 19})
_TC_TYPES = frozenset({36, 37, 38, 40, 41, 42, 44, 45, 46, 100, 101, 102})

_NLM_F_COMMON = [("NLM_F_REQUEST", 0x1), ("NLM_F_MULTI", 0x2), ("NLM_F_ACK", 0x4),
                 ("NLM_F_ECHO", 0x8), ("NLM_F_DUMP_INTR", 0x10),
                 ("NLM_F_DUMP_FILTERED", 0x20)]
_NLM_F_GET = [("NLM_F_ROOT", 0x100), ("NLM_F_MATCH", 0x200), ("NLM_F_ATOMIC", 0x400)]
_NLM_F_NEW = [("NLM_F_REPLACE", 0x100), ("NLM_F_EXCL", 0x200), ("NLM_F_CREATE", 0x400),
              ("NLM_F_APPEND", 0x800)]
_NLM_F_DEL = [("NLM_F_NONREC", 0x100), ("NLM_F_BULK", 0x200)]
_NLM_F_ACK = [("NLM_F_CAPPED", 0x100), ("NLM_F_ACK_TLVS", 0x200)]


def _nlmsg_flags(kind: int, flags: int) -> Value:
    """strace names the high flag bits by what the message does (netlink.h's groups)."""
    if kind == NLMSG_ERROR:
        high = _NLM_F_ACK
    elif kind in RTM_TYPES:
        verb = RTM_TYPES[kind][4:7]
        high = {"NEW": _NLM_F_NEW, "SET": _NLM_F_NEW, "DEL": _NLM_F_DEL}.get(verb, _NLM_F_GET)
    else:
        high = []
    if flags == 0:
        return 0
    members: list[str | int] = []
    rest = flags
    for name, bit in _NLM_F_COMMON:
        if rest & bit:
            members.append(Sym(name))
            rest &= ~bit
    if high is _NLM_F_GET and rest & 0x300 == 0x300:
        members.append(Sym("NLM_F_DUMP"))   # NLM_F_ROOT|NLM_F_MATCH
        rest &= ~0x300
    return flag_set(members, rest, high)


def _nlmsg_type(kind: int) -> Value:
    if kind in _NLMSG_TYPES:
        return Sym(_NLMSG_TYPES[kind])
    return _named(RTM_TYPES, kind, "RTM_???")


def _header(data: bytes, off: int) -> tuple[dict[str, Value], int, int]:
    length, kind, flags, seq, pid = struct.unpack_from("<IHHIi", data, off)
    return ({"nlmsg_len": length, "nlmsg_type": _nlmsg_type(kind),
             "nlmsg_flags": _nlmsg_flags(kind, flags), "nlmsg_seq": seq, "nlmsg_pid": pid},
            length, kind)


# -- payload structs --------------------------------------------------------------------------

_ARPHRD = {0: "ARPHRD_NETROM", 1: "ARPHRD_ETHER", 512: "ARPHRD_PPP", 768: "ARPHRD_TUNNEL",
           769: "ARPHRD_TUNNEL6", 772: "ARPHRD_LOOPBACK", 776: "ARPHRD_SIT",
           778: "ARPHRD_IPGRE", 823: "ARPHRD_IP6GRE", 65534: "ARPHRD_NONE"}
_IFF = [("IFF_UP", 0x1), ("IFF_BROADCAST", 0x2), ("IFF_DEBUG", 0x4), ("IFF_LOOPBACK", 0x8),
        ("IFF_POINTOPOINT", 0x10), ("IFF_NOTRAILERS", 0x20), ("IFF_RUNNING", 0x40),
        ("IFF_NOARP", 0x80), ("IFF_PROMISC", 0x100), ("IFF_ALLMULTI", 0x200),
        ("IFF_MASTER", 0x400), ("IFF_SLAVE", 0x800), ("IFF_MULTICAST", 0x1000),
        ("IFF_PORTSEL", 0x2000), ("IFF_AUTOMEDIA", 0x4000), ("IFF_DYNAMIC", 0x8000),
        ("IFF_LOWER_UP", 0x10000), ("IFF_DORMANT", 0x20000), ("IFF_ECHO", 0x40000)]

IfName = Callable[[int], "str | None"]


def local_ifname(index: int) -> str | None:
    """The name of ifindex ``index`` in this process's network namespace, as strace's
    print_ifindex looks it up (the tracee is normally in the same namespace)."""
    import socket  # here: only XDP and tc attachments need it, and it is slow to import

    try:
        return socket.if_indextoname(index)
    except (OSError, ValueError, OverflowError):
        return None


def ifindex_value(index: int, ifname: IfName) -> Value:
    if index <= 0:
        return index
    name = ifname(index)
    return Func("if_nametoindex", (name,)) if name else index


def _ifinfomsg(data: bytes, off: int, ifname: IfName) -> dict[str, Value]:
    family, arphrd, index, flags, change = struct.unpack_from("<BxHiII", data, off)
    return {"ifi_family": _named(ADDRESS_FAMILIES, family, "AF_???"),
            "ifi_type": _named(_ARPHRD, arphrd, "ARPHRD_???"),
            "ifi_index": ifindex_value(index, ifname),
            "ifi_flags": flags_value(flags, _IFF), "ifi_change": flags_value(change, _IFF)}


def _tcmsg(data: bytes, off: int, ifname: IfName) -> dict[str, Value]:
    family, index, handle, parent, info = struct.unpack_from("<B3xiIII", data, off)
    return {"tcm_family": _named(ADDRESS_FAMILIES, family, "AF_???"),
            "tcm_ifindex": ifindex_value(index, ifname), "tcm_handle": handle,
            "tcm_parent": parent, "tcm_info": info}


# -- attributes -------------------------------------------------------------------------------

Decode = Callable[[bytes], Value]


def _u8(b: bytes) -> Value:
    return b[0] if len(b) == 1 else text(b)


def _u32(b: bytes) -> Value:
    return struct.unpack_from("<I", b)[0] if len(b) == 4 else text(b)


def _s32(b: bytes) -> Value:
    return struct.unpack_from("<i", b)[0] if len(b) == 4 else text(b)


def _string(b: bytes) -> Value:
    return text(b.split(b"\0", 1)[0])


def _hwaddr(b: bytes) -> Value:
    return Sym(":".join(f"{x:02x}" for x in b)) if b else text(b)


_RTEXT_FILTER = [("RTEXT_FILTER_VF", 1), ("RTEXT_FILTER_BRVLAN", 2),
                 ("RTEXT_FILTER_BRVLAN_COMPRESSED", 4), ("RTEXT_FILTER_SKIP_STATS", 8),
                 ("RTEXT_FILTER_MRP", 16), ("RTEXT_FILTER_CFM_CONFIG", 32),
                 ("RTEXT_FILTER_CFM_STATUS", 64), ("RTEXT_FILTER_MST", 128)]
XDP_FLAGS = [("XDP_FLAGS_UPDATE_IF_NOEXIST", 1), ("XDP_FLAGS_SKB_MODE", 2),
             ("XDP_FLAGS_DRV_MODE", 4), ("XDP_FLAGS_HW_MODE", 8), ("XDP_FLAGS_REPLACE", 16)]
_XDP_ATTACHED = {0: "XDP_ATTACHED_NONE", 1: "XDP_ATTACHED_DRV", 2: "XDP_ATTACHED_SKB",
                 3: "XDP_ATTACHED_HW", 4: "XDP_ATTACHED_MULTI"}


def _flags32(entries: list[tuple[str, int]]) -> Decode:
    return lambda b: flags_value(struct.unpack_from("<I", b)[0], entries) if len(b) == 4 \
        else text(b)


def _xdp_attached(b: bytes) -> Value:
    return _named(_XDP_ATTACHED, b[0], "XDP_ATTACHED_???") if len(b) == 1 else text(b)


_IFLA_XDP: dict[int, tuple[str, Decode]] = {
    1: ("IFLA_XDP_FD", _s32), 2: ("IFLA_XDP_ATTACHED", _xdp_attached),
    3: ("IFLA_XDP_FLAGS", _flags32(XDP_FLAGS)), 4: ("IFLA_XDP_PROG_ID", _u32),
    5: ("IFLA_XDP_DRV_PROG_ID", _u32), 6: ("IFLA_XDP_SKB_PROG_ID", _u32),
    7: ("IFLA_XDP_HW_PROG_ID", _u32), 8: ("IFLA_XDP_EXPECTED_FD", _s32),
}


def _nested(table: dict[int, tuple[str, Decode]], unknown: str) -> Decode:
    return lambda b: attributes(b, table, unknown)


_raw: Decode = text

_IFLA: dict[int, tuple[str, Decode]] = {
    1: ("IFLA_ADDRESS", _hwaddr), 2: ("IFLA_BROADCAST", _hwaddr), 3: ("IFLA_IFNAME", _string),
    4: ("IFLA_MTU", _u32), 5: ("IFLA_LINK", _u32), 6: ("IFLA_QDISC", _string),
    7: ("IFLA_STATS", _raw), 8: ("IFLA_COST", _raw), 9: ("IFLA_PRIORITY", _raw),
    10: ("IFLA_MASTER", _u32), 11: ("IFLA_WIRELESS", _raw), 12: ("IFLA_PROTINFO", _raw),
    13: ("IFLA_TXQLEN", _u32), 14: ("IFLA_MAP", _raw), 15: ("IFLA_WEIGHT", _u32),
    16: ("IFLA_OPERSTATE", _u8), 17: ("IFLA_LINKMODE", _u8), 18: ("IFLA_LINKINFO", _raw),
    19: ("IFLA_NET_NS_PID", _u32), 20: ("IFLA_IFALIAS", _string), 21: ("IFLA_NUM_VF", _u32),
    22: ("IFLA_VFINFO_LIST", _raw), 23: ("IFLA_STATS64", _raw), 24: ("IFLA_VF_PORTS", _raw),
    25: ("IFLA_PORT_SELF", _raw), 26: ("IFLA_AF_SPEC", _raw), 27: ("IFLA_GROUP", _u32),
    28: ("IFLA_NET_NS_FD", _s32), 29: ("IFLA_EXT_MASK", _flags32(_RTEXT_FILTER)),
    30: ("IFLA_PROMISCUITY", _u32), 31: ("IFLA_NUM_TX_QUEUES", _u32),
    32: ("IFLA_NUM_RX_QUEUES", _u32), 33: ("IFLA_CARRIER", _u8),
    34: ("IFLA_PHYS_PORT_ID", _raw), 35: ("IFLA_CARRIER_CHANGES", _u32),
    36: ("IFLA_PHYS_SWITCH_ID", _raw), 37: ("IFLA_LINK_NETNSID", _s32),
    38: ("IFLA_PHYS_PORT_NAME", _string), 39: ("IFLA_PROTO_DOWN", _u8),
    40: ("IFLA_GSO_MAX_SEGS", _u32), 41: ("IFLA_GSO_MAX_SIZE", _u32), 42: ("IFLA_PAD", _raw),
    43: ("IFLA_XDP", _nested(_IFLA_XDP, "IFLA_XDP_???")), 44: ("IFLA_EVENT", _u32),
    45: ("IFLA_NEW_NETNSID", _s32), 46: ("IFLA_TARGET_NETNSID", _s32),
    47: ("IFLA_CARRIER_UP_COUNT", _u32), 48: ("IFLA_CARRIER_DOWN_COUNT", _u32),
    49: ("IFLA_NEW_IFINDEX", _s32), 50: ("IFLA_MIN_MTU", _u32), 51: ("IFLA_MAX_MTU", _u32),
    52: ("IFLA_PROP_LIST", _raw), 53: ("IFLA_ALT_IFNAME", _string),
    54: ("IFLA_PERM_ADDRESS", _hwaddr), 55: ("IFLA_PROTO_DOWN_REASON", _raw),
    56: ("IFLA_PARENT_DEV_NAME", _string), 57: ("IFLA_PARENT_DEV_BUS_NAME", _string),
    58: ("IFLA_GRO_MAX_SIZE", _u32), 59: ("IFLA_TSO_MAX_SIZE", _u32),
    60: ("IFLA_TSO_MAX_SEGS", _u32), 61: ("IFLA_ALLMULTI", _u32),
}

_TCA: dict[int, tuple[str, Decode]] = {
    1: ("TCA_KIND", _string), 2: ("TCA_OPTIONS", _raw), 3: ("TCA_STATS", _raw),
    4: ("TCA_XSTATS", _raw), 5: ("TCA_RATE", _raw), 6: ("TCA_FCNT", _u32),
    7: ("TCA_STATS2", _raw), 8: ("TCA_STAB", _raw), 9: ("TCA_PAD", _raw),
    10: ("TCA_DUMP_INVISIBLE", _raw), 11: ("TCA_CHAIN", _u32), 12: ("TCA_HW_OFFLOAD", _u8),
    13: ("TCA_INGRESS_BLOCK", _u32), 14: ("TCA_EGRESS_BLOCK", _u32),
    15: ("TCA_DUMP_FLAGS", _raw), 16: ("TCA_EXT_WARN_MSG", _string),
}

NLA_F_NESTED, NLA_F_NET_BYTEORDER = 0x8000, 0x4000


def _nla_type(kind: int, table: dict[int, tuple[str, Decode]], unknown: str) -> Value:
    base = kind & ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)
    entry = table.get(base)
    name: Value = Sym(entry[0]) if entry else Commented(base, unknown)
    marks = [Sym(n) for n, bit in (("NLA_F_NESTED", NLA_F_NESTED),
                                   ("NLA_F_NET_BYTEORDER", NLA_F_NET_BYTEORDER)) if kind & bit]
    if not marks:
        return name
    if isinstance(name, Commented):
        return Flags([*marks, base])
    return Flags([*marks, name])


def attributes(data: bytes, table: dict[int, tuple[str, Decode]], unknown: str) -> Value:
    """strace's decode_nlattr: one attribute bare, several as a list; trailing bytes
    that do not make an attribute as a string."""
    items: list[Value] = []
    off = 0
    while off + NLA_HDRLEN <= len(data):
        length, kind = struct.unpack_from("<HH", data, off)
        if length < NLA_HDRLEN or off + length > len(data):
            break
        payload = data[off + NLA_HDRLEN:off + length]
        entry = table.get(kind & ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER))
        value = entry[1](payload) if entry else text(payload)
        items.append([{"nla_len": length, "nla_type": _nla_type(kind, table, unknown)}, value])
        off += (length + 3) & ~3
    if off < len(data) and not items:
        return text(data[off:])
    return items[0] if len(items) == 1 else items


# -- messages ---------------------------------------------------------------------------------

def _payload(kind: int, body: bytes, ifname: IfName, flags: int = 0) -> list[Value]:
    """The payload values strace prints after the header, inside the message's brackets."""
    if kind == NLMSG_DONE and len(body) >= 4:
        return [struct.unpack_from("<i", body)[0]]
    if kind == NLMSG_ERROR and len(body) >= 4:
        return [_error(body, ifname, flags)]
    if kind in _LINK_TYPES and len(body) >= 16:
        out: list[Value] = [_ifinfomsg(body, 0, ifname)]
        if len(body) > 16:
            out.append(attributes(body[16:], _IFLA, "IFLA_???"))
        return out
    if kind in _TC_TYPES and len(body) >= 20:
        out = [_tcmsg(body, 0, ifname)]
        if len(body) > 20:
            out.append(attributes(body[20:], _TCA, "TCA_???"))
        return out
    return [text(body)] if body else []


def errno_value(code: int) -> Value:
    """An ack's error: 0, or the negated errno name (``-ENODEV``) as the grammar reads it."""
    if code >= 0:
        return code
    entry = kn.ERRNO.get(-code)
    return Sym(f"-{entry.name}") if entry else code


_NLMSGERR_ATTRS: dict[int, tuple[str, Decode]] = {
    1: ("NLMSGERR_ATTR_MSG", _string), 2: ("NLMSGERR_ATTR_OFFS", _u32),
    3: ("NLMSGERR_ATTR_COOKIE", _raw), 4: ("NLMSGERR_ATTR_POLICY", _raw),
    5: ("NLMSGERR_ATTR_MISS_TYPE", _u32), 6: ("NLMSGERR_ATTR_MISS_NEST", _u32),
}
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200


def _error(body: bytes, ifname: IfName, flags: int) -> Value:
    """struct nlmsgerr: the error, the request echoed (only its header when the kernel
    capped it), then with NLM_F_ACK_TLVS the extended ack's attributes (the kernel's
    message text), which strace prints as ``[{error=..., msg=...}, ATTRS]``."""
    (code,) = struct.unpack_from("<i", body)
    echoed = body[4:]
    msg: Value
    used = 4
    if len(echoed) >= NLMSG_HDRLEN:
        header, length, kind = _header(echoed, 0)
        end = NLMSG_HDRLEN if flags & NLM_F_CAPPED else min(max(length, NLMSG_HDRLEN),
                                                            len(echoed))
        rest = echoed[NLMSG_HDRLEN:end]
        msg = [header, *_payload(kind, rest, ifname)] if rest else header
        used += (end + 3) & ~3
    else:
        msg = text(echoed)
        used = len(body)
    value: dict[str, Value] = {"error": errno_value(code), "msg": msg}
    if flags & NLM_F_ACK_TLVS and used < len(body):
        return [value, attributes(body[used:], _NLMSGERR_ATTRS, "NLMSGERR_ATTR_???")]
    return value


def messages(data: bytes, ifname: IfName = local_ifname) -> Value | None:
    """The netlink messages in ``data``; None when it does not start with a whole header."""
    out: list[Value] = []
    off = 0
    while off + NLMSG_HDRLEN <= len(data):
        header, length, kind = _header(data, off)
        if length < NLMSG_HDRLEN:
            break
        body = data[off + NLMSG_HDRLEN:off + min(length, len(data) - off)]
        flags = struct.unpack_from("<H", data, off + 6)[0]
        payload = _payload(kind, body, ifname, flags)
        out.append([header, *payload] if payload else header)
        off += (length + 3) & ~3
    if not out:
        return None
    return out[0] if len(out) == 1 else out


def sockaddr_nl(data: bytes) -> Value:
    """``{sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}`` (struct sockaddr_nl).

    strace prints nl_groups as eight hex digits; the grammar reads digit-only text as
    a number, so a group mask is given the way that text parses."""
    family, pid, groups = struct.unpack_from("<H2xiI", data)
    shown = f"{groups:08x}"
    value: Value = int(shown, 8) if shown.isdigit() and set(shown) <= set("01234567") \
        else groups
    return {"sa_family": _named(ADDRESS_FAMILIES, family, "AF_???"), "nl_pid": pid,
            "nl_groups": value}


MSG_FLAGS = [("MSG_OOB", 0x1), ("MSG_PEEK", 0x2), ("MSG_DONTROUTE", 0x4), ("MSG_CTRUNC", 0x8),
             ("MSG_PROBE", 0x10), ("MSG_TRUNC", 0x20), ("MSG_DONTWAIT", 0x40),
             ("MSG_EOR", 0x80), ("MSG_WAITALL", 0x100), ("MSG_FIN", 0x200),
             ("MSG_SYN", 0x400), ("MSG_CONFIRM", 0x800), ("MSG_RST", 0x1000),
             ("MSG_ERRQUEUE", 0x2000), ("MSG_NOSIGNAL", 0x4000), ("MSG_MORE", 0x8000),
             ("MSG_WAITFORONE", 0x10000), ("MSG_BATCH", 0x40000),
             ("MSG_ZEROCOPY", 0x4000000), ("MSG_FASTOPEN", 0x20000000),
             ("MSG_CMSG_CLOEXEC", 0x40000000)]


def msg_flags(value: int) -> Value:
    return flags_value(value & 0xFFFFFFFF, MSG_FLAGS)


def msghdr_value(name: bytes | None, name_addr: int, namelen: int,
                 iov: Sequence[tuple[int, int, Value]], controllen: int,
                 flags: int) -> dict[str, Value]:
    """struct msghdr as strace prints it for a netlink socket.  ``iov`` holds
    (iov_base address, iov_len, decoded value or None for the address)."""
    out: dict[str, Value] = {}
    if name is not None and len(name) >= 12:
        out["msg_name"] = sockaddr_nl(name)
    else:
        out["msg_name"] = name_addr if name_addr else NULL
    out["msg_namelen"] = namelen
    out["msg_iov"] = [{"iov_base": value, "iov_len": length} for _, length, value in iov]
    out["msg_iovlen"] = len(iov)
    out["msg_controllen"] = controllen
    out["msg_flags"] = msg_flags(flags)
    return out


def addrlen_value(before: int, after: int | None) -> Value:
    """recvfrom's ``[12]`` or ``[112 => 12]``."""
    if after is None or after == before:
        return [before]
    return [InOut(before, after)]


def socket_inode(path: str | None) -> int | None:
    """``socket:[12345]`` -> 12345."""
    if path is None or not path.startswith("socket:["):
        return None
    digits = path[8:-1]
    return int(digits) if digits.isdigit() else None


def netlink_protocols(lines: Iterable[str]) -> dict[int, int]:
    """Socket inode -> netlink protocol, from ``/proc/PID/net/netlink``'s columns
    (sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode)."""
    out: dict[int, int] = {}
    for line in lines:
        cols = line.split()
        if len(cols) >= 10 and cols[1].isdigit() and cols[9].isdigit():
            out[int(cols[9])] = int(cols[1])
    return out
