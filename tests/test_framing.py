"""Framing: every shape strace writes around a call, each line inline.

The events come out of the real parser (framing + grammar), so each test also
shows that what framing hands on parses.
"""

from __future__ import annotations

import io

import pytest

from bpfexplain.framing import Stats, ff_pid
from bpfexplain.parser import parse_events
from bpfexplain.values import Call, Event, Exit, Signal, Sym


def events(*lines: str, stats: Stats | None = None) -> list[Event]:
    data = "".join(line + "\n" for line in lines).encode()
    return list(parse_events([("trace.log", io.BytesIO(data))], stats or Stats()))


def calls(*lines: str, stats: Stats | None = None) -> list[Call]:
    return [e for e in events(*lines, stats=stats) if isinstance(e, Call)]


BPF = "bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_HASH, key_size=4}, 72) = 3"


@pytest.mark.parametrize(("line", "pid", "comm"), [
    (BPF, None, None),
    ("1234  " + BPF, 1234, None),
    ("1234 " + BPF, 1234, None),
    ("[pid  1234] " + BPF, 1234, None),
    ("[pid 98765] " + BPF, 98765, None),
    ("1234<bpftrace> " + BPF, 1234, "bpftrace"),
    ("[pid  1234<bpftrace>] " + BPF, 1234, "bpftrace"),
])
def test_pid_prefixes(line: str, pid: int | None, comm: str | None) -> None:
    [c] = calls(line)
    assert (c.pid, c.comm, c.name, c.result) == (pid, comm, "bpf", 3)


@pytest.mark.parametrize(("prefix", "time"), [
    ("12:34:56 ", 12 * 3600 + 34 * 60 + 56),                 # -t
    ("12:34:56.123456 ", 12 * 3600 + 34 * 60 + 56.123456),   # -tt
    ("1700000000.123456 ", 1700000000.123456),                # -ttt
    ("1700000000.123456789 ", 1700000000.123456789),          # -ttt, ns precision
    ("     0.000123 ", 0.000123),                             # -r
    ("12:34:56 (+     0.000123) ", 12 * 3600 + 34 * 60 + 56),  # -t -r
])
def test_timestamps(prefix: str, time: float) -> None:
    [c] = calls("1234  " + prefix + BPF)
    assert c.pid == 1234
    assert c.time == pytest.approx(time)
    [c] = calls(prefix + BPF)
    assert c.time == pytest.approx(time)


def test_duration() -> None:
    [c] = calls("1234  12:34:56.000001 " + BPF + " <0.000025>")
    assert c.duration == pytest.approx(0.000025)
    assert c.result == 3


def test_duration_after_annotated_result() -> None:
    [c] = calls("bpf(BPF_BTF_GET_FD_BY_ID, {btf_id=1}, 12) = 3<anon_inode:btf> <0.000066>")
    assert (c.result, c.result_path, c.duration) == (3, "anon_inode:btf", 0.000066)


def test_syscall_number_and_instruction_pointer_prefixes() -> None:
    [c] = calls("1234  [ 321] " + BPF)
    assert (c.pid, c.name) == (1234, "bpf")
    [c] = calls("[00007f2c3a1b2c3d] " + BPF)
    assert c.name == "bpf"


def test_colour_escapes_are_ignored() -> None:
    [c] = calls("\x1b[33m1234 \x1b[0m" + BPF)
    assert (c.pid, c.result) == (1234, 3)


def test_unfinished_and_resumed_joined_with_both_line_numbers() -> None:
    cs = calls(
        "10289 bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_HASH, key_size=4 <unfinished ...>",
        "10290 close(3)                    = 0",
        "10289 <... bpf resumed>}, 72)       = 3",
    )
    bpf = cs[1]
    assert (bpf.name, bpf.pid, bpf.result) == ("bpf", 10289, 3)
    assert bpf.args[1] == {"map_type": Sym("BPF_MAP_TYPE_HASH"), "key_size": 4}
    assert (bpf.origin.first_line, bpf.origin.line) == (1, 3)
    assert (cs[0].name, cs[0].origin.line) == ("close", 2)


def test_unfinished_mid_argument_list() -> None:
    [c] = calls('10290 read(3,  <unfinished ...>', '10290 <... read resumed>"443\\n", 4096) = 4')
    assert c.args == (3, "443\n", 4096)
    assert c.result == 4


def test_resumed_with_duration() -> None:
    [c] = calls("7 close(3 <unfinished ...>", "7 <... close resumed>) = 0 <0.000010>")
    assert (c.args, c.duration) == ((3,), 0.00001)


def test_two_pids_unfinished_at_once() -> None:
    cs = calls(
        "1 close(3 <unfinished ...>",
        "2 close(4 <unfinished ...>",
        "2 <... close resumed>) = 0",
        "1 <... close resumed>) = 0",
    )
    assert [(c.pid, c.args) for c in cs] == [(2, (4,)), (1, (3,))]


def test_resumed_without_start_is_a_warning() -> None:
    stats = Stats()
    assert calls("5 <... bpf resumed>}, 72) = 3", BPF, stats=stats)[0].name == "bpf"
    assert [w.line for w in stats.warnings] == [1]


def test_uninteresting_unfinished_and_resumed_are_skipped_quietly() -> None:
    stats = Stats()
    calls("5 wait4(-1,  <unfinished ...>", BPF, "5 <... wait4 resumed>0x7ffc, 0, NULL) = 6",
          stats=stats)
    assert (stats.skipped, stats.warnings) == (2, [])


def test_call_never_returning_before_exit() -> None:
    evs = events("5 bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_KPROBE <unfinished ...>",
                 "5 +++ killed by SIGKILL +++")
    c, e = evs
    assert isinstance(c, Call) and isinstance(e, Exit)
    assert c.result is None
    assert c.args[1] == {"prog_type": Sym("BPF_PROG_TYPE_KPROBE")}
    assert (e.pid, e.signal, e.code) == (5, "SIGKILL", None)


def test_call_still_unfinished_at_end_of_log() -> None:
    [c] = calls('5 execve("/bin/sh", ["sh"], 0x7ffd /* 9 vars */ <unfinished ...>')
    assert (c.name, c.result, c.args[0]) == ("execve", None, "/bin/sh")


def test_exit_group_question_mark_and_exit_code() -> None:
    evs = events("5 exit_group(0) = ?", "5 +++ exited with 0 +++")
    assert isinstance(evs[0], Call) and evs[0].result is None
    assert isinstance(evs[1], Exit) and (evs[1].code, evs[1].signal) == (0, None)


def test_core_dump_exit() -> None:
    [e] = events("+++ killed by SIGSEGV (core dumped) +++")
    assert isinstance(e, Exit) and e.core_dumped and e.signal == "SIGSEGV"


def test_signal_with_siginfo() -> None:
    [s] = events("7660  --- SIGINT {si_signo=SIGINT, si_code=SI_USER, si_pid=7660, "
                 "si_uid=0} ---")
    assert isinstance(s, Signal)
    assert (s.name, s.pid) == ("SIGINT", 7660)
    assert s.info == {"si_signo": "SIGINT", "si_code": "SI_USER", "si_pid": 7660, "si_uid": 0}


def test_signal_stop() -> None:
    [s] = events("[pid  12] --- stopped by SIGSTOP ---")
    assert isinstance(s, Signal) and (s.name, s.pid) == ("SIGSTOP", 12)


def test_strace_messages_are_counted_not_parsed() -> None:
    stats = Stats()
    cs = calls(
        "strace: Process 12 attached",
        "strace: umoven: short read (4 < 8) @0x7ffc",
        "[ Process PID=12 runs in 32 bit mode. ]",
        "12 +++ superseded by execve in pid 13 +++",
        " > /usr/lib/x86_64-linux-gnu/libc.so.6(syscall+0x1d) [0xf2bdd]",
        BPF,
        "strace: Process 12 detached",
        stats=stats,
    )
    assert len(cs) == 1
    assert stats.strace_messages == 6
    assert stats.program_output == 0


def test_program_output_lines_are_counted() -> None:
    stats = Stats()
    cs = calls("Attaching 1 probe...", "[pid  12] " + BPF, "@[sh]: 2", stats=stats)
    assert len(cs) == 1
    assert stats.program_output == 2
    assert stats.program_output_lines == [(0, 1), (0, 3)]


def test_program_output_before_a_strace_line_on_the_same_line() -> None:
    stats = Stats()
    [c] = calls("Attaching 1 probe...[pid  7663] " + BPF, stats=stats)
    assert (c.pid, c.result) == (7663, 3)
    assert [w.line for w in stats.warnings] == [1]


def test_program_output_before_an_unprefixed_call() -> None:
    stats = Stats()
    [c] = calls("starting " + BPF, stats=stats)
    assert (c.name, c.result) == ("bpf", 3)


def test_call_name_inside_program_text_is_not_a_call() -> None:
    stats = Stats()
    assert calls("we will read(the file) now", BPF, stats=stats)[0].line == 2
    assert stats.program_output == 1


def test_program_output_splitting_a_call_line() -> None:
    # The program's output (ending with its newline) landed inside strace's line.
    stats = Stats()
    cs = calls(
        "[pid  7663] bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_HASH, Attaching 1 probe...",
        "key_size=4}, 72) = 3",
        stats=stats,
    )
    [c] = cs
    assert c.args[1] == {"map_type": Sym("BPF_MAP_TYPE_HASH"), "key_size": 4}
    assert (c.origin.first_line, c.origin.line, c.result) == (1, 2, 3)
    assert stats.unparsable == []
    assert len(stats.warnings) == 1


def test_split_call_with_whole_program_lines_in_between() -> None:
    stats = Stats()
    [c] = calls(
        "[pid  7663] bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_HASH, key_size=4}, 72hello",
        "@[sh]: 2",
        ") = 3",
        stats=stats,
    )
    assert (c.args[2], c.result, c.origin.first_line, c.origin.line) == (72, 3, 1, 3)
    assert stats.program_output == 1


def test_ff_pid_from_file_name() -> None:
    assert ff_pid("out/trace.5397") == 5397
    assert ff_pid("trace.log") is None
    stats = Stats()
    evs = list(parse_events([("dir/trace.5397", io.BytesIO((BPF + "\n").encode()))], stats))
    assert isinstance(evs[0], Call) and evs[0].pid == 5397


def test_several_files_merge_by_time_keeping_their_names() -> None:
    a = ("12:00:01.000000 " + BPF + "\n12:00:03.000000 close(3) = 0\n").encode()
    b = (b"12:00:02.000000 close(4) = 0\n+++ exited with 0 +++\n")
    stats = Stats()
    evs = list(parse_events([("t.100", io.BytesIO(a)), ("t.200", io.BytesIO(b))], stats))
    got = [(e.origin.file, e.pid, e.name if isinstance(e, Call) else "exit") for e in evs]
    assert got == [(0, 100, "bpf"), (1, 200, "close"), (1, 200, "exit"), (0, 100, "close")]
    assert stats.files == ["t.100", "t.200"]


def test_files_without_times_are_read_in_order_given() -> None:
    a = (BPF + "\n").encode()
    b = b"close(4) = 0\n"
    evs = list(parse_events([("t.2", io.BytesIO(b)), ("t.1", io.BytesIO(a))], Stats()))
    assert [e.pid for e in evs] == [2, 1]


def test_prefilter_skips_without_parsing() -> None:
    stats = Stats()
    cs = calls(
        "brk(NULL) = 0x55bfea36d000",
        "syscall_0x14f(0x1, 0x2) = -1 ENOSYS (Function not implemented)",
        'read(3, "\\177ELF\\2\\1\\1\\0"..., 832) = 832',
        'read(3, "443\\n", 4096) = 4',
        "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f",
        "mmap(NULL, 266240, PROT_READ|PROT_WRITE, MAP_SHARED, 7, 0) = 0x7f",
        "ioctl(1, TCGETS, {c_iflag=ICRNL}) = 0",
        "ioctl(7, PERF_EVENT_IOC_ENABLE, 0) = 0",
        "ioctl(7, 0x2400, 0) = 0",
        "fcntl(3, F_GETFD) = 0x1 (flags FD_CLOEXEC)",
        "fcntl(3, F_DUPFD_CLOEXEC, 0) = 4",
        stats=stats,
    )
    assert [(c.name, c.line) for c in cs] == [
        ("read", 4), ("mmap", 6), ("ioctl", 8), ("ioctl", 9), ("fcntl", 11)]
    assert stats.skipped == 6
    assert stats.unparsable == []


def test_resumed_read_is_checked_after_joining() -> None:
    cs = calls("5 read(3,  <unfinished ...>", '5 <... read resumed>"443\\n", 4096) = 4',
               "5 read(3,  <unfinished ...>", '5 <... read resumed>"\\177ELF"..., 832) = 832')
    assert [c.line for c in cs] == [2]


def test_windows_line_endings() -> None:
    data = ("1234  " + BPF + "\r\n").encode()
    [c] = [e for e in parse_events([("x", io.BytesIO(data))], Stats()) if isinstance(e, Call)]
    assert c.result == 3


def test_unparsable_line_keeps_its_number_and_the_rest_is_read() -> None:
    stats = Stats()
    cs = calls("bpf(BPF_MAP_CREATE, {map_type=} = 3", BPF, stats=stats)
    assert [c.line for c in cs] == [2]
    assert [p.line for p in stats.unparsable] == [1]


_NET_CALLS = ("socket", "setsockopt", "sendmsg", "sendto", "recvmsg", "recvfrom")


def test_prefilter_keeps_filter_options_netlink_messages_and_ifindex_lookups(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The attach routes put these names in the traced set; the content checks decide
    # which of their lines matter.  Made independent of which routes have landed.
    from bpfexplain import framing
    names = framing.INTERESTING | frozenset(_NET_CALLS)
    monkeypatch.setattr(framing, "INTERESTING", names)
    monkeypatch.setattr(framing, "_INTERESTING_BYTES", frozenset(n.encode() for n in names))
    stats = Stats()
    cs = calls(
        "socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 5",
        "setsockopt(5, SOL_SOCKET, SO_ATTACH_BPF, [4], 4) = 0",
        "setsockopt(3, SOL_SOCKET, SO_SNDBUF, [32768], 4) = 0",
        "setsockopt(3, SOL_NETLINK, NETLINK_EXT_ACK, [1], 4) = 0",
        "setsockopt(5, 0x1, 0x32, [4], 4) = 0",
        'sendto(3, "\\1\\2", 2, 0, NULL, 0) = 2',
        "sendto(3, [{nlmsg_len=32, nlmsg_type=RTM_GETLINK, nlmsg_flags=NLM_F_REQUEST}, "
        "{ifi_family=AF_UNSPEC}], 32, 0, NULL, 0) = 32",
        "recvmsg(3, {msg_name={sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, "
        "msg_namelen=12, msg_iov=[{iov_base=NULL, iov_len=0}], msg_iovlen=1, "
        "msg_controllen=0, msg_flags=MSG_TRUNC}, MSG_PEEK|MSG_TRUNC) = 36",
        'ioctl(5, SIOCGIFINDEX, {ifr_name="lo", ifr_ifindex=1}) = 0',
        "ioctl(5, 0x8933, 0x7ffd) = 0",
        stats=stats,
    )
    assert [(c.name, c.line) for c in cs] == [
        ("socket", 1), ("setsockopt", 2), ("setsockopt", 5), ("sendto", 7), ("ioctl", 9),
        ("ioctl", 10)]
    assert stats.skipped == 4 and stats.unparsable == []


def test_every_socket_and_netlink_line_of_the_net_fixtures_parses() -> None:
    from pathlib import Path

    from bpfexplain.grammar import SyntaxProblem, parse_call_text
    fixtures = Path(__file__).resolve().parent.parent / "fixtures"
    seen = bad = 0
    for log in sorted(fixtures.glob("net-*.log")):
        for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
            _, _, text = line.partition(" ")
            text = text.lstrip()
            if not text.startswith(tuple(n + "(" for n in (*_NET_CALLS, "ioctl"))) \
                    or "<unfinished" in text or "resumed>" in text:
                continue
            seen += 1
            try:
                parse_call_text(text)
            except SyntaxProblem as problem:
                bad += 1
                print(f"{log.name}:{number}: {problem}")
    assert seen > 300 and bad == 0


def _general_frames(data: bytes) -> tuple[list[object], Stats]:
    """Frames through the general per-line path only (no byte-level shortcuts)."""
    from bpfexplain.framing import Framer

    stats = Stats()
    lines = data.decode("utf-8", "replace").splitlines()
    stats.lines = len(lines)
    return list(Framer(stats, 0).frames(enumerate(lines, 1))), stats


def padded_pids(data: bytes) -> bytes:
    """A ``-f`` log with its five-digit pids cut to four, padded as strace pads them."""
    import re

    padded = re.sub(rb"(?m)^\d(\d{4}) ", rb"\1  ", data)
    assert padded != data
    return padded


def _variants() -> list[bytes]:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "fixtures"
    logs = [p.read_bytes() for p in sorted(root.rglob("*.log"))]
    # strace pads a pid to five places: `2922  1700000000.1 bpf(` (run's form, when the
    # pids are small), made from a recording whose pids have five digits.
    logs.append(padded_pids((root / "bt-interval-print.log").read_bytes()))
    # Edge shapes next to the common one: unfinished, durations, colours, a split
    # call, a call whose result never came, a line without its newline at the end.
    logs.append(b"12 1.5 bpf(BPF_MAP_LOOKUP_ELEM, {map_fd=3}, 32 <unfinished ...>\n"
                b"12 1.6 <... bpf resumed>) = 0\n"
                b"12 1.7 bpf(BPF_MAP_GET_NEXT_KEY, {map_fd=3}, 24) = 0 <0.000012>\n"
                b"12 1.8 \x1b[1mbpf\x1b[0m(BPF_MAP_FREEZE, {map_fd=3}, 4) = 0\n"
                b"12 1.9 bpf(BPF_MAP_FREEZE, {map_fd=3}Hello\n"
                b", 4) = 0\n"
                b"12 2.0 close(3\n"
                b"12 2.1 read(3, \"x\", 1) = 1\n"
                b"12 2.2 bpf(BPF_MAP_FREEZE, {map_fd=4}, 4) = 0")
    return logs


def test_stream_framing_equals_the_general_path_on_every_fixture() -> None:
    """frames_of_stream's shortcuts for common lines give the general path's frames."""
    from bpfexplain.framing import Framer

    for data in _variants():
        stats = Stats()
        fast = list(Framer(stats, 0).frames_of_stream(io.BytesIO(data)))
        general, general_stats = _general_frames(data)
        assert fast == general
        assert (stats.frames, stats.skipped, stats.lines) == \
            (general_stats.frames, general_stats.skipped, general_stats.lines)
