"""The deep backend's socket and netlink decoders give what the strace parser gives.

Each case rebuilds the bytes of a message recorded in fixtures/net-*.log (strace 6.1)
and checks the decoder's value against the parser's reading of the recorded line.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from bpfexplain.deep import netlink, syscalls
from bpfexplain.deep.seccomp import AUDIT_ARCH_X86_64
from bpfexplain.values import Sym
from tests.test_deep_structs import FakeTracee, parsed

CTX = syscalls.Context(AUDIT_ARCH_X86_64)


def nlmsg(kind: int, flags: int, seq: int, pid: int, body: bytes) -> bytes:
    return struct.pack("<IHHIi", 16 + len(body), kind, flags, seq, pid) + body


def ifinfo(index: int, arphrd: int = 0) -> bytes:
    return struct.pack("<BxHiII", 0, arphrd, index, 0, 0)


def tcmsg(index: int, handle: int, parent: int, info: int) -> bytes:
    return struct.pack("<B3xiIII", 0, index, handle, parent, info)


def nla(kind: int, payload: bytes) -> bytes:
    data = struct.pack("<HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def msghdr(tr: FakeTracee, data: bytes, iov_len: int) -> int:
    name = tr.put(struct.pack("<H2xiI", 16, 0, 0))
    base = tr.put(data + b"\0" * 64)
    iov = tr.put(struct.pack("<QQ", base, iov_len))
    return tr.put(struct.pack("<QI4xQQQQi4x", name, 12, iov, 1, 0, 0, 0))


@pytest.fixture(autouse=True)
def _route_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every fd of the fake tracee is a NETLINK_ROUTE socket unless a case says not.
    monkeypatch.setattr(syscalls, "route_socket", lambda tr, fd: True)


def test_libbpf_sendto_rtm_setlink_with_ifla_xdp() -> None:
    tr = FakeTracee()
    xdp = nla(0x8000 | 43, nla(1, struct.pack("<i", 4)) + nla(3, struct.pack("<I", 2)))
    buf = tr.put(nlmsg(19, 0x5, 1796311978, 0, ifinfo(1) + xdp))
    pending = syscalls.ENTRY["sendto"](CTX, tr, (5, buf, 52, 0, 0, 0))
    assert pending is not None
    line = parsed(
        'sendto(5, [{nlmsg_len=52, nlmsg_type=RTM_SETLINK, nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK,'
        ' nlmsg_seq=1796311978, nlmsg_pid=0}, {ifi_family=AF_UNSPEC, ifi_type=ARPHRD_NETROM, '
        'ifi_index=if_nametoindex("lo"), ifi_flags=0, ifi_change=0}, [{nla_len=20, '
        'nla_type=NLA_F_NESTED|IFLA_XDP}, [[{nla_len=8, nla_type=IFLA_XDP_FD}, 4], '
        '[{nla_len=8, nla_type=IFLA_XDP_FLAGS}, XDP_FLAGS_SKB_MODE]]]], 52, 0, NULL, 0) = 52')
    assert pending.args == line.args


def test_recvmsg_capped_ack_is_read_at_exit() -> None:
    tr = FakeTracee()
    ack = nlmsg(2, 0x100, 1796311945, 10848,
                struct.pack("<i", 0) + struct.pack("<IHHIi", 52, 16, 5, 1796311945, 0))
    address = msghdr(tr, ack, 32768)
    pending = syscalls.ENTRY["recvmsg"](CTX, tr, (3, address, 0, 0, 0, 0))
    assert pending is not None and pending.finish is not None
    done = pending.finish(tr, 36)
    assert done is not None
    line = parsed(
        'recvmsg(3, {msg_name={sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, '
        'msg_namelen=12, msg_iov=[{iov_base=[{nlmsg_len=36, nlmsg_type=NLMSG_ERROR, '
        'nlmsg_flags=NLM_F_CAPPED, nlmsg_seq=1796311945, nlmsg_pid=10848}, {error=0, '
        'msg={nlmsg_len=52, nlmsg_type=RTM_NEWLINK, nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK, '
        'nlmsg_seq=1796311945, nlmsg_pid=0}}], iov_len=32768}], msg_iovlen=1, '
        'msg_controllen=0, msg_flags=0}, 0) = 36')
    assert done[0] == line.args


def test_error_ack_echoes_the_request_and_names_the_errno() -> None:
    tr = FakeTracee()
    request = nlmsg(16, 0x5, 0, 0, ifinfo(0))
    ack = nlmsg(2, 0, 0, 10848, struct.pack("<i", -19) + request)
    address = msghdr(tr, ack, 16384)
    pending = syscalls.ENTRY["recvmsg"](CTX, tr, (3, address, 0, 0, 0, 0))
    assert pending is not None and pending.finish is not None
    done = pending.finish(tr, 52)
    assert done is not None
    line = parsed(
        'recvmsg(3, {msg_name={sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, '
        'msg_namelen=12, msg_iov=[{iov_base=[{nlmsg_len=52, nlmsg_type=NLMSG_ERROR, '
        'nlmsg_flags=0, nlmsg_seq=0, nlmsg_pid=10848}, {error=-ENODEV, msg=[{nlmsg_len=32, '
        'nlmsg_type=RTM_NEWLINK, nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK, nlmsg_seq=0, '
        'nlmsg_pid=0}, {ifi_family=AF_UNSPEC, ifi_type=ARPHRD_NETROM, ifi_index=0, '
        'ifi_flags=0, ifi_change=0}]}], iov_len=16384}], msg_iovlen=1, msg_controllen=0, '
        'msg_flags=0}, 0) = 52')
    assert done[0] == line.args


_TC_OPTIONS = (b"\x08\x00\x06\x00\x07\x00\x00\x00\x13\x00\x07\x00tc_pass.o:[tc]\x00\x00"
               b"\x08\x00\x08\x00\x01\x00\x00\x00")


def test_iproute2_sendmsg_tc_filter_and_qdisc() -> None:
    tr = FakeTracee()
    body = tcmsg(1, 0, 0xFFFFFFF2, 768) + nla(1, b"bpf\0") + nla(2, _TC_OPTIONS)
    address = msghdr(tr, nlmsg(44, 0x605, 1796311954, 0, body), 84)
    pending = syscalls.ENTRY["sendmsg"](CTX, tr, (3, address, 0, 0, 0, 0))
    assert pending is not None
    options = "".join(f"\\x{b:02x}" for b in _TC_OPTIONS)
    line = parsed(
        'sendmsg(3, {msg_name={sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, '
        'msg_namelen=12, msg_iov=[{iov_base=[{nlmsg_len=84, nlmsg_type=RTM_NEWTFILTER, '
        'nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK|NLM_F_EXCL|NLM_F_CREATE, nlmsg_seq=1796311954, '
        'nlmsg_pid=0}, {tcm_family=AF_UNSPEC, tcm_ifindex=if_nametoindex("lo"), tcm_handle=0, '
        'tcm_parent=4294967282, tcm_info=768}, [[{nla_len=8, nla_type=TCA_KIND}, "bpf"], '
        '[{nla_len=40, nla_type=TCA_OPTIONS}, "' + options + '"]]], iov_len=84}], '
        'msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 84')
    assert pending.args == line.args

    body = tcmsg(1, 0xFFFF0000, 0xFFFFFFF1, 0) + nla(1, b"clsact\0")
    address = msghdr(tr, nlmsg(36, 0x605, 1796311954, 0, body), 48)
    pending = syscalls.ENTRY["sendmsg"](CTX, tr, (3, address, 0, 0, 0, 0))
    assert pending is not None
    line = parsed(
        'sendmsg(3, {msg_name={sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, '
        'msg_namelen=12, msg_iov=[{iov_base=[{nlmsg_len=48, nlmsg_type=RTM_NEWQDISC, '
        'nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK|NLM_F_EXCL|NLM_F_CREATE, nlmsg_seq=1796311954, '
        'nlmsg_pid=0}, {tcm_family=AF_UNSPEC, tcm_ifindex=if_nametoindex("lo"), '
        'tcm_handle=4294901760, tcm_parent=4294967281, tcm_info=0}, [{nla_len=11, '
        'nla_type=TCA_KIND}, "clsact"]], iov_len=48}], msg_iovlen=1, msg_controllen=0, '
        'msg_flags=0}, 0) = 48')
    assert pending.args == line.args


def test_socket_setsockopt_and_siocgifindex() -> None:
    tr = FakeTracee()
    pending = syscalls.ENTRY["socket"](CTX, tr, (16, 3 | 0o2000000, 0, 0, 0, 0))
    assert pending is not None and pending.result_is_fd
    assert pending.args == parsed(
        "socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 3").args
    pending = syscalls.ENTRY["socket"](CTX, tr, (2, 2, 0, 0, 0, 0))
    assert pending is not None
    assert pending.args == parsed("socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 5").args

    val = tr.put(struct.pack("<i", 4))
    pending = syscalls.ENTRY["setsockopt"](CTX, tr, (5, 1, 50, val, 4, 0))
    assert pending is not None
    assert pending.args == parsed("setsockopt(5, SOL_SOCKET, SO_ATTACH_BPF, [4], 4) = 0").args
    pending = syscalls.ENTRY["setsockopt"](CTX, tr, (8, 1, 52, val, 4, 0))
    assert pending is not None and pending.args[2] == Sym("SO_ATTACH_REUSEPORT_EBPF")
    zero = tr.put(struct.pack("<i", 0))
    pending = syscalls.ENTRY["setsockopt"](CTX, tr, (5, 1, 27, zero, 4, 0))
    assert pending is not None
    assert pending.args == parsed("setsockopt(5, SOL_SOCKET, SO_DETACH_FILTER, [0], 4) = 0").args
    # SO_SNDBUF and SOL_NETLINK options are not filters: dropped as the prefilter drops them
    assert syscalls.ENTRY["setsockopt"](CTX, tr, (3, 1, 7, val, 4, 0)) is None
    assert syscalls.ENTRY["setsockopt"](CTX, tr, (3, 270, 11, val, 4, 0)) is None

    ifr = tr.put(b"lo".ljust(16, b"\0") + struct.pack("<i", 0) + b"\0" * 20)
    pending = syscalls.ENTRY["ioctl"](CTX, tr, (5, 0x8933, ifr, 0, 0, 0))
    assert pending is not None and pending.finish is not None
    tr.blobs[ifr] = b"lo".ljust(16, b"\0") + struct.pack("<i", 1) + b"\0" * 20
    done = pending.finish(tr, 0)
    assert done is not None
    assert done[0] == parsed('ioctl(5, SIOCGIFINDEX, {ifr_name="lo", ifr_ifindex=1}) = 0').args


def test_only_netlink_messages_on_route_sockets_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    tr = FakeTracee()
    buf = tr.put(nlmsg(18, 0x1, 1, 0, ifinfo(0)))
    monkeypatch.setattr(syscalls, "route_socket", lambda tr, fd: False)
    assert syscalls.ENTRY["sendto"](CTX, tr, (5, buf, 32, 0, 0, 0)) is None
    monkeypatch.setattr(syscalls, "route_socket", lambda tr, fd: True)
    # libbpf's MSG_PEEK|MSG_TRUNC probe: an empty iovec, no message; framing drops it too
    address = msghdr(tr, b"", 0)
    pending = syscalls.ENTRY["recvmsg"](CTX, tr, (3, address, 0x22, 0, 0, 0))
    assert pending is not None and pending.finish is not None
    assert pending.finish(tr, 36) is None
    short = tr.put(b"\x01\x02\x03")
    assert syscalls.ENTRY["sendto"](CTX, tr, (5, short, 3, 0, 0, 0)) is None


def test_route_socket_reads_the_tracees_netlink_table() -> None:
    table = ("sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops"
             "    Inode\n"
             "ffff8881024e6000 0   16122      00000000 0        0        0     2        0"
             "        137840\n"
             "ffff8881024e6800 9   0          00000000 0        0        0     2        0"
             "        137841\n")
    assert netlink.netlink_protocols(table.splitlines()) == {137840: 0, 137841: 9}
    assert netlink.socket_inode("socket:[137840]") == 137840
    assert netlink.socket_inode("anon_inode:bpf-prog") is None
    assert netlink.socket_inode(None) is None


def test_many_messages_and_done() -> None:
    data = nlmsg(16, 0x2, 7, 1, ifinfo(1, 772) + nla(3, b"lo\0")) + nlmsg(3, 0x2, 7, 1,
                                                                        struct.pack("<i", 0))
    value: Any = netlink.messages(data, lambda i: "lo")
    assert isinstance(value, list) and len(value) == 2
    first, done = value
    assert first[1]["ifi_type"] == Sym("ARPHRD_LOOPBACK")
    assert first[2] == [{"nla_len": 7, "nla_type": Sym("IFLA_IFNAME")}, "lo"]
    assert done[1] == 0
    assert netlink.messages(b"\x00" * 8) is None


def test_extended_ack_with_the_kernels_message() -> None:
    # ip link set ... xdpgeneric twice: the second is refused with EBUSY and a text
    # (NLM_F_ACK_TLVS); strace prints the payload as [{error, msg}, ATTRS].
    tr = FakeTracee()
    xdp = nla(43, nla(1, struct.pack("<i", 7)) + nla(3, struct.pack("<I", 3)))
    request = nlmsg(16, 0x5, 1796313307, 0, ifinfo(1) + xdp)
    text = nla(1, b"XDP program already attached\0")
    ack = nlmsg(2, 0x200, 1796313307, 9679, struct.pack("<i", -16) + request + text)
    address = msghdr(tr, ack, 32768)
    pending = syscalls.ENTRY["recvmsg"](CTX, tr, (3, address, 0, 0, 0, 0))
    assert pending is not None and pending.finish is not None
    done = pending.finish(tr, 108)
    assert done is not None
    line = parsed(
        'recvmsg(3, {msg_name={sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, '
        'msg_namelen=12, msg_iov=[{iov_base=[{nlmsg_len=108, nlmsg_type=NLMSG_ERROR, '
        'nlmsg_flags=NLM_F_ACK_TLVS, nlmsg_seq=1796313307, nlmsg_pid=9679}, [{error=-EBUSY, '
        'msg=[{nlmsg_len=52, nlmsg_type=RTM_NEWLINK, nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK, '
        'nlmsg_seq=1796313307, nlmsg_pid=0}, {ifi_family=AF_UNSPEC, ifi_type=ARPHRD_NETROM, '
        'ifi_index=if_nametoindex("lo"), ifi_flags=0, ifi_change=0}, [{nla_len=20, '
        'nla_type=IFLA_XDP}, [[{nla_len=8, nla_type=IFLA_XDP_FD}, 7], [{nla_len=8, '
        'nla_type=IFLA_XDP_FLAGS}, XDP_FLAGS_UPDATE_IF_NOEXIST|XDP_FLAGS_SKB_MODE]]]]}, '
        '[{nla_len=33, nla_type=NLMSGERR_ATTR_MSG}, "XDP program already attached"]]], '
        'iov_len=32768}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 108')
    assert done[0] == line.args
