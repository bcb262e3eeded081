"""The netlink reader the XDP and tc routes share (routes/netlink.py): bytes strace left
undecoded, request/ack matching, refusals, interface names.

The inline lines are hand-made edge cases in strace 6.1's exact syntax (copied from
fixtures/net-ip-xdp.log and changed where said), not recordings."""

from __future__ import annotations

import io
import struct

from bpfexplain.framing import Stats
from bpfexplain.literals import unquote
from bpfexplain.origin import LogOrigin
from bpfexplain.parser import parse_events
from bpfexplain.resolve import Resolver
from bpfexplain.routes import netlink, netlink_xdp
from bpfexplain.tracking import Lifecycle, Tracker
from bpfexplain.values import Func, Sym

PROG = ('1 bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_XDP, insn_cnt=2, insns=0x5615f8f02e10, '
        'license="GPL", log_level=0, log_size=0, log_buf=NULL, prog_name="xdp_pass"}, 128) = 6')
SOCK = "1 socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 3"
SEND = ('1 sendmsg(3, {msg_name={sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, '
        'msg_namelen=12, msg_iov=[{iov_base=[{nlmsg_len=52, nlmsg_type=RTM_NEWLINK, '
        'nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK, nlmsg_seq=7, nlmsg_pid=0}, {ifi_family=AF_UNSPEC, '
        'ifi_type=ARPHRD_NETROM, ifi_index={index}, ifi_flags=0, ifi_change=0}, '
        '[{nla_len=20, nla_type=IFLA_XDP}, [[{nla_len=8, nla_type=IFLA_XDP_FD}, 6], '
        '[{nla_len=8, nla_type=IFLA_XDP_FLAGS}, XDP_FLAGS_UPDATE_IF_NOEXIST|XDP_FLAGS_SKB_MODE]]]]'
        ', iov_len=52}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 52')
ACK = ('1 recvmsg(3, {msg_name={sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, '
       'msg_namelen=12, msg_iov=[{iov_base=[{nlmsg_len=36, nlmsg_type=NLMSG_ERROR, '
       'nlmsg_flags=NLM_F_CAPPED, nlmsg_seq=7, nlmsg_pid=1}, {error={error}, msg={nlmsg_len=52, '
       'nlmsg_type=RTM_NEWLINK, nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK, nlmsg_seq=7, '
       'nlmsg_pid=0}}], iov_len=32768}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 36')


def track(*lines: str, resolver: Resolver | None = None) -> Lifecycle:
    stats = Stats()
    tracker = Tracker(resolver or Resolver())
    data = ("\n".join(lines) + "\n").encode()
    for event in parse_events([("t.log", io.BytesIO(data))], stats):
        tracker.feed(event)
    assert not stats.unparsable, stats.unparsable
    return tracker.lifecycle()


def send(index: str = 'if_nametoindex("lo")') -> str:
    return SEND.replace("{index}", index)


def ack(error: str) -> str:
    return ACK.replace("{error}", error)


def test_ack_with_error_zero_makes_it_live() -> None:
    lc = track(PROG, SOCK, send(), ack("0"))
    (att,) = lc.attachments
    assert (att.via, att.attach_point, att.line, att.enabled_line) == ("IFLA_XDP", "xdp:lo", 3, 4)
    assert lc.failures == []


def test_a_refusal_is_a_failure_not_an_attachment() -> None:
    lc = track(PROG, SOCK, send(), ack("-EBUSY"))
    assert lc.attachments == []
    (failure,) = lc.failures
    assert (failure.call, failure.errno, failure.line) == ("RTM_NEWLINK (IFLA_XDP)", "EBUSY", 4)
    assert "XDP_FLAGS_UPDATE_IF_NOEXIST" in failure.why and "lo" in failure.why
    assert failure.subject is not None and failure.subject.name == "xdp_pass"


def test_no_answer_in_the_log_is_never_confirmed() -> None:
    tracker = Tracker()
    data = "\n".join((PROG, SOCK, send())).encode() + b"\n"
    for event in parse_events([("t.log", io.BytesIO(data))], Stats()):
        tracker.feed(event)
    (att,) = tracker.lifecycle().attachments
    assert att.enabled_line is None and att.kept
    # Reading the lifecycle again does not tell it twice.
    assert len(tracker.lifecycle().attachments) == 1


def test_an_answer_to_another_request_does_not_count() -> None:
    other = ack("0").replace("nlmsg_seq=7", "nlmsg_seq=8")
    (att,) = track(PROG, SOCK, send(), other).attachments
    assert att.enabled_line is None


def test_a_bare_ifindex_is_named_from_the_log_first() -> None:
    ioctl = '1 ioctl(4, SIOCGIFINDEX, {ifr_name="veth0", ifr_ifindex=5}) = 0'
    (att,) = track(PROG, ioctl, SOCK, send("5"), ack("0")).attachments
    assert att.attach_point == "xdp:veth0"
    assert "interface_source" not in att.attrs


def test_a_bare_ifindex_falls_back_to_this_machine_marked_local() -> None:
    resolver = Resolver(local=True, origin=LogOrigin(live=True))
    resolver._local_if_cache = {5: "veth9"}   # this machine's view, without touching /sys
    (att,) = track(PROG, SOCK, send("5"), ack("0"), resolver=resolver).attachments
    assert att.attach_point == "xdp:veth9"
    assert att.attrs["interface_source"] == "local"
    # ...and no hint to remove it by a name the log never said.
    assert netlink_xdp.remove_hint(att) is None
    (unnamed,) = track(PROG, SOCK, send("5"), ack("0")).attachments
    assert unnamed.attach_point == "xdp:ifindex 5"


def test_no_local_interface_name_for_a_log_from_another_kernel() -> None:
    # kern_version 5.15.0 in the program load: not this machine's kernel.
    old = PROG.replace('prog_name="xdp_pass"',
                       'kern_version=KERNEL_VERSION(5, 15, 0), prog_name="xdp_pass"')
    resolver = Resolver(local=True)
    resolver._local_if_cache = {5: "veth9"}
    (att,) = track(old, SOCK, send("5"), ack("0"), resolver=resolver).attachments
    assert att.attach_point == "xdp:ifindex 5"


def test_raw_attrs_reads_tc_options_strace_left_as_bytes() -> None:
    # TCA_OPTIONS of fixtures/net-tc-ingress.log (strace 6.1 does not decode it)
    raw = ("\x08\x00\x06\x00\x07\x00\x00\x00\x13\x00\x07\x00tc_pass.o:[tc]\x00\x00"
           "\x08\x00\x08\x00\x01\x00\x00\x00")
    assert netlink.raw_attrs(raw) == [
        (6, b"\x07\x00\x00\x00"), (7, b"tc_pass.o:[tc]\x00"), (8, b"\x01\x00\x00\x00")]
    # A cut-short buffer yields the attributes it holds whole.
    assert netlink.raw_attrs(raw[:20]) == [(6, b"\x07\x00\x00\x00")]


def test_raw_messages_reads_an_undecoded_ack() -> None:
    # The ack of fixtures/net-bpftool-xdp.log, which strace printed as bytes.
    data = struct.pack("<IHHII", 36, 2, 0x100, 1796311957, 5022) + struct.pack("<i", 0) + \
        struct.pack("<IHHII", 52, 19, 5, 1796311957, 0)
    (msg,) = netlink.raw_messages(data.decode("latin-1"))
    assert (msg.type, msg.error) == ("NLMSG_ERROR", 0)
    assert msg.acked == {"nlmsg_type": 19, "nlmsg_seq": 1796311957}
    refused = data[:16] + struct.pack("<i", -16) + data[20:]
    (msg,) = netlink.raw_messages(refused.decode("latin-1"))
    assert netlink.errno_name(msg.error) == "EBUSY"


def _strace_string(data: bytes) -> str:
    """``data`` as strace prints a buffer: printable ASCII as is, other bytes in octal."""
    return '"' + "".join(chr(b) if 0x20 <= b < 0x7F and chr(b) not in '"\\' else f"\\{b:03o}"
                         for b in data) + '"'


def test_raw_buffers_that_happen_to_be_utf8_are_read_as_their_bytes() -> None:
    # A CI run said "no answer from the kernel" for bpftool's acked XDP attach: its
    # sequence number (the clock) held the bytes C3 95, valid UTF-8, so the parser kept
    # the ack as text spelling "\u00d5" and its one-byte-per-code-point reading was 2 bytes
    # short.  The same ack as above, with such a sequence number, through the parser's own
    # string reader.
    seq, port = 0x6B1395C3, 21785  # the failed run's bpftool: its port id is ASCII too
    data = struct.pack("<IHHII", 36, 2, 0x100, seq, port) + struct.pack("<i", 0) + \
        struct.pack("<IHHII", 52, 19, 5, seq, 0)
    text = unquote(_strace_string(data))
    assert text.encode("latin-1", "replace") != data  # kept as UTF-8 text, as said
    (msg,) = netlink.raw_messages(text)
    assert (msg.type, msg.error, msg.acked) == (
        "NLMSG_ERROR", 0, {"nlmsg_type": 19, "nlmsg_seq": seq})
    # Bytes that are not UTF-8 keep their one-code-point-per-byte reading.
    (msg,) = netlink.raw_messages(unquote(_strace_string(data.replace(b"\xc3", b"\xff"))))
    assert msg.acked == {"nlmsg_type": 19, "nlmsg_seq": 0x6B1395FF}
    # tc options alike: an attribute whose payload is valid UTF-8.
    attrs = struct.pack("<HH", 8, 6) + "\u00d5\u00d5".encode() + struct.pack("<HH", 8, 8) + \
        b"\x01\x00\x00\x00"
    assert netlink.raw_attrs(unquote(_strace_string(attrs))) == [
        (6, "\u00d5\u00d5".encode()), (8, b"\x01\x00\x00\x00")]


def test_errno_names_of_acks() -> None:
    assert netlink.errno_name(0) is None
    assert netlink.errno_name(Sym("-EEXIST")) == "EEXIST"
    assert netlink.errno_name(-95) == "EOPNOTSUPP"


def test_interface_name_of_an_if_nametoindex_rendering() -> None:
    t = Tracker()
    assert netlink.interface_name(t, Func("if_nametoindex", ("lo",))) == ("lo", "log", None)
    t.resolver.learn_interface(1, "lo")
    assert netlink.interface_name(t, Func("if_nametoindex", ("lo",))) == ("lo", "log", 1)
    assert netlink.interface_name(t, 0) == (None, None, 0)


def test_prefilter_keeps_acks_strace_left_as_bytes() -> None:
    # libbpf and bpftool read the ack with msg_name=NULL: strace 6.1 prints bytes
    # (fixtures/net-xdp-netlink.log line 72); ordinary data stays skipped.
    lines = [
        'recvmsg(5, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="$\\0\\0\\0\\2\\0\\0\\1'
        '\\252\\213\\21kKA\\0\\0\\0\\0\\0\\0004\\0\\0\\0\\23\\0\\5\\0\\252\\213\\21k\\0\\0\\0\\0", '
        'iov_len=4096}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 36',
        'recvfrom(5, "$\\1\\0\\0\\2\\0\\0\\0\\1\\0\\0\\0", 8192, 0, NULL, NULL) = 292',
        'recvmsg(5, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="hello, world", '
        'iov_len=4096}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 12',
        'recvfrom(5, "GET / HTTP/1.1\\r\\n", 8192, 0, NULL, NULL) = 16',
    ]
    stats = Stats()
    data = ("\n".join(lines) + "\n").encode()
    events = list(parse_events([("t.log", io.BytesIO(data))], stats))
    assert [e.origin.line for e in events] == [1, 2]
    assert stats.skipped == 2 and stats.unparsable == []
