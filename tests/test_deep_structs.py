"""bpf_attr / perf_event_attr decoders on packed bytes, against the parser's shapes.

The attrs are packed with ``struct`` at the offsets of ``/usr/include/linux/bpf.h`` and
``perf_event.h``; the expected values are what the strace parser builds from strace
6.1's rendering of the same call (see ``fixtures/*.log``), so the two backends agree.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from bpfexplain.deep import structs, syscalls
from bpfexplain.deep.disasm import Insn
from bpfexplain.deep.seccomp import AUDIT_ARCH_AARCH64, AUDIT_ARCH_X86_64
from bpfexplain.framing import Frame, Stats
from bpfexplain.parser import events_from_frames
from bpfexplain.values import Call, Commented, Flags, Func, InOut, Sym, Truncated


class FakeTracee:
    """Memory as a few blobs at chosen addresses, plus fdinfo and fd paths."""

    pid = 4242

    def __init__(self) -> None:
        self.blobs: dict[int, bytes] = {}
        self.infos: dict[int, dict[str, str]] = {}
        self.paths: dict[int, str] = {}
        self._next = 0x10000

    def put(self, data: bytes, at: int | None = None) -> int:
        if at is None:
            at = self._next
            self._next += (len(data) + 0xFFF) & ~0xFFF or 0x1000
        self.blobs[at] = data
        return at

    def read(self, address: int, size: int) -> bytes:
        for base, data in self.blobs.items():
            if base <= address < base + len(data):
                return data[address - base:address - base + size]
        return b""

    def cstring(self, address: int, limit: int) -> bytes | None:
        data = self.read(address, limit)
        if not data:
            return None
        return data.split(b"\0", 1)[0]

    def fdinfo(self, fd: int) -> Mapping[str, str]:
        return self.infos.get(fd, {})

    def fd_path(self, fd: int) -> str | None:
        return self.paths.get(fd)


def parsed(line: str) -> Call:
    """What the strace parser makes of one call line."""
    frames = [Frame("call", line, 0, 1, 1, None)]
    (event,) = list(events_from_frames(frames, Stats()))
    assert isinstance(event, Call)
    return event


def prog_load_attr(tr: FakeTracee, insns: list[Insn], *, name: bytes = b"malloc",
                   log: tuple[int, int, int] = (0, 0, 0), fd_array: int = 0,
                   prog_type: int = 2) -> bytes:
    raw = b"".join(i.pack() for i in insns)
    insns_at = tr.put(raw)
    license_at = tr.put(b"GPL\0")
    level, size, buf = log
    attr = bytearray(144)
    struct.pack_into("<IIQQIIQII16sIIIIQIIQIII", attr, 0,
                     prog_type, len(insns), insns_at, license_at, level, size, buf,
                     (6 << 16) | (18 << 8) | 44, 0, name, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    struct.pack_into("<Q", attr, 120, fd_array)
    return bytes(attr)


SAMPLE = [
    Insn(0xBF, 6, 1, 0, 0),
    Insn(0x18, 1, 1, 0, 3), Insn(0, 0, 0, 0, 0),
    Insn(0x85, 0, 0, 0, 1),
    Insn(0xB7, 0, 0, 0, 0),
    Insn(0x95, 0, 0, 0, 0),
]


def test_prog_load_matches_the_parser_and_reads_the_program() -> None:
    tr = FakeTracee()
    attr_at = tr.put(prog_load_attr(tr, SAMPLE))
    entry = structs.bpf_enter(tr, 5, attr_at, 128)
    tr.infos[9] = {"prog_id": "1004", "prog_tag": "abc"}
    value, deep = structs.bpf_exit(tr, entry, 9)
    line = parsed(
        'bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_KPROBE, insn_cnt=6, insns=0x10000, '
        'license="GPL", log_level=0, log_size=0, log_buf=NULL, '
        'kern_version=KERNEL_VERSION(6, 18, 44), prog_flags=0, prog_name="malloc", '
        'prog_ifindex=0, expected_attach_type=BPF_CGROUP_INET_INGRESS, prog_btf_fd=0, '
        'func_info_rec_size=0, func_info=NULL, func_info_cnt=0, line_info_rec_size=0, '
        'line_info=NULL, line_info_cnt=0, attach_btf_id=0, attach_prog_fd=0, '
        'fd_array=NULL}, 128) = 9')
    assert structs.cmd_value(5) == line.args[0]
    assert isinstance(structs.cmd_value(5), Sym)
    assert value == line.args[1]
    assert isinstance(value, dict)
    assert isinstance(value["prog_type"], Sym) and isinstance(value["log_buf"], Sym)
    assert value["kern_version"] == Func("KERNEL_VERSION", (6, 18, 44))
    assert deep["insns"][0] == "bf16000000000000"
    assert len(deep["insns"]) == 6
    assert deep["map_fds"] == [3]
    assert deep["helpers"] == ["bpf_map_lookup_elem"]
    assert deep["disasm"][1] == "   1: (18) r1 = map[fd:3]"
    assert deep["prog_id"] == 1004
    assert "verifier_log" not in deep


def test_prog_load_small_size_prints_fewer_fields() -> None:
    tr = FakeTracee()
    attr_at = tr.put(prog_load_attr(tr, SAMPLE[:1] + SAMPLE[-1:], name=b"libbpf_nametest",
                                    prog_type=1))
    entry = structs.bpf_enter(tr, 5, attr_at, 64)
    line = parsed(
        'bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_SOCKET_FILTER, insn_cnt=2, '
        'insns=0x10000, license="GPL", log_level=0, log_size=0, log_buf=NULL, '
        'kern_version=KERNEL_VERSION(6, 18, 44), prog_flags=0, '
        'prog_name="libbpf_nametest"}, 64) = 3')
    assert entry.value == line.args[1]


def test_verifier_log_is_read_after_the_call() -> None:
    tr = FakeTracee()
    log_at = tr.put(b"\0" * 4096)
    attr_at = tr.put(prog_load_attr(tr, SAMPLE, log=(1, 4096, log_at)))
    entry = structs.bpf_enter(tr, 5, attr_at, 144)
    assert isinstance(entry.value, dict) and entry.value["log_buf"] == ""
    # the kernel writes the log during the call
    tr.blobs[log_at] = b"0: R1=ctx() R10=fp0\ninvalid func unknown#12345\n\0" + b"\0" * 4000
    _, deep = structs.bpf_exit(tr, entry, -13)
    assert deep["verifier_log"].endswith("invalid func unknown#12345\n")
    assert "prog_id" not in deep


def test_fd_array_references() -> None:
    tr = FakeTracee()
    fds = tr.put(struct.pack("<3i", 7, 8, 9))
    prog = [Insn(0x18, 1, 5, 0, 2), Insn(0, 0, 0, 0, 0), Insn(0x95, 0, 0, 0, 0)]
    attr_at = tr.put(prog_load_attr(tr, prog, fd_array=fds))
    entry = structs.bpf_enter(tr, 5, attr_at, 128)
    assert entry.deep["fd_array"] == [7, 8, 9]
    assert entry.deep["map_fds"] == [9]


def test_map_create_matches_the_parser() -> None:
    tr = FakeTracee()
    attr = bytearray(72)
    struct.pack_into("<IIIIIII16sIIIII", attr, 0, 4, 4, 4, 2, 0, 0, 0, b"printf",
                     0, 0, 0, 0, 0)
    entry = structs.bpf_enter(tr, 0, tr.put(bytes(attr)), 72)
    tr.infos[4] = {"map_id": "472"}
    value, deep = structs.bpf_exit(tr, entry, 4)
    line = parsed(
        'bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_PERF_EVENT_ARRAY, key_size=4, '
        'value_size=4, max_entries=2, map_flags=0, inner_map_fd=0, map_name="printf", '
        'map_ifindex=0, btf_fd=0, btf_key_type_id=0, btf_value_type_id=0, '
        'btf_vmlinux_value_type_id=0, map_extra=0}, 72) = 4')
    assert value == line.args[1]
    assert deep == {"map_id": 472}


def test_map_flags_and_unknown_types() -> None:
    tr = FakeTracee()
    attr = struct.pack("<IIIII", 0x7F, 4, 4, 1, 1 << 10)
    entry = structs.bpf_enter(tr, 0, tr.put(attr), 20)
    assert isinstance(entry.value, dict)
    assert entry.value["map_type"] == Commented(0x7F, "BPF_MAP_TYPE_???")
    assert entry.value["map_flags"] == Sym("BPF_F_MMAPABLE")
    assert structs.flags_value(3, [("A", 1), ("B", 2)]) == Flags([Sym("A"), Sym("B")])
    assert structs.flags_value(5, [("A", 1)]) == Flags([Sym("A"), 4])


def test_perf_event_array_slot() -> None:
    tr = FakeTracee()
    key, value = tr.put(struct.pack("<I", 1)), tr.put(struct.pack("<i", 6))
    attr = struct.pack("<I4xQQQ", 4, key, value, 0)
    tr.infos[4] = {"map_type": "4", "key_size": "4", "value_size": "4"}
    entry = structs.bpf_enter(tr, 2, tr.put(attr), 32)
    line = parsed(f"bpf(BPF_MAP_UPDATE_ELEM, {{map_fd=4, key={key:#x}, value={value:#x}, "
                  "flags=BPF_ANY}, 32) = 0")
    assert entry.value == line.args[1]
    _, deep = structs.bpf_exit(tr, entry, 0)
    assert deep["perf_array_slot"] == {"key": 1, "perf_fd": 6}
    assert deep["key"] == "01000000" and deep["value"] == "06000000"


def test_lookup_reads_the_value_after_the_call_and_per_cpu_sizes() -> None:
    tr = FakeTracee()
    key, value = tr.put(b"\0" * 8), tr.put(b"\0" * 64)
    tr.infos[3] = {"map_type": "5", "key_size": "8", "value_size": "4"}   # PERCPU_HASH
    attr = struct.pack("<I4xQQQ", 3, key, value, 0)
    entry = structs.bpf_enter(tr, 1, tr.put(attr), 32, cpus=2)
    tr.blobs[value] = struct.pack("<QQ", 5, 7) + b"\0" * 48
    _, deep = structs.bpf_exit(tr, entry, 0)
    assert deep["value"] == struct.pack("<QQ", 5, 7).hex()      # 2 CPUs x 8 (rounded)


def test_next_id_shows_the_kernels_answer() -> None:
    tr = FakeTracee()
    at = tr.put(struct.pack("<III", 0, 0, 0))
    entry = structs.bpf_enter(tr, 23, at, 12)        # BPF_BTF_GET_NEXT_ID
    tr.blobs[at] = struct.pack("<III", 0, 1, 0)
    value, _ = structs.bpf_exit(tr, entry, 0)
    line = parsed("bpf(BPF_BTF_GET_NEXT_ID, {start_id=0, next_id=0 => 1, open_flags=0}, 12) = 0")
    assert value == line.args[1]
    assert isinstance(value, dict) and value["next_id"] == InOut(0, 1)


def test_obj_get_info_gives_the_prog_id() -> None:
    tr = FakeTracee()
    info = bytearray(88)
    struct.pack_into("<II8s", info, 0, 5, 1234, bytes.fromhex("0102030405060708"))
    struct.pack_into("16s", info, 64, b"sys_enter")
    info_at = tr.put(bytes(info))
    tr.paths[8] = "anon_inode:bpf-prog"
    attr_at = tr.put(struct.pack("<IIQ", 8, 88, info_at))
    entry = structs.bpf_enter(tr, 15, attr_at, 16)
    line = parsed(f"bpf(BPF_OBJ_GET_INFO_BY_FD, {{info={{bpf_fd=8, info_len=88, "
                  f"info={info_at:#x}}}}}, 16) = 0")
    value, deep = structs.bpf_exit(tr, entry, 0)
    assert value == line.args[1]
    assert deep == {"prog_id": 1234, "prog_tag": "0102030405060708", "prog_name": "sys_enter"}


def test_link_create_raw_tracepoint_pin_and_btf() -> None:
    tr = FakeTracee()
    attr = struct.pack("<iiIIQ", 12, -1, 41, 0, 0)
    entry = structs.bpf_enter(tr, 28, tr.put(attr), 48)
    line = parsed("bpf(BPF_LINK_CREATE, {link_create={prog_fd=12, target_fd=-1, "
                  "attach_type=BPF_PERF_EVENT, flags=0, perf_event={bpf_cookie=0}}}, 48) "
                  "= -1 EBADF (Bad file descriptor)")
    assert entry.value == line.args[1]

    sym = tr.put(b"ksys_read\0")
    syms = tr.put(struct.pack("<Q", sym))
    attr = struct.pack("<iiIIIIQQQ", 8, 0, 42, 0, 0, 1, syms, 0, 0)
    entry = structs.bpf_enter(tr, 28, tr.put(attr), 48)
    line = parsed('bpf(BPF_LINK_CREATE, {link_create={prog_fd=8, target_fd=0, '
                  'attach_type=BPF_TRACE_KPROBE_MULTI, flags=0, kprobe_multi={flags=0, '
                  'cnt=1, syms=["ksys_read"], addrs=NULL, cookies=NULL}}}, 48) = -1 EOPNOTSUPP '
                  '(Operation not supported)')
    assert entry.value == line.args[1]

    name = tr.put(b"sched_switch\0")
    entry = structs.bpf_enter(tr, 17, tr.put(struct.pack("<Qi", name, 7)), 16)
    assert entry.value == {"raw_tracepoint": {"name": "sched_switch", "prog_fd": 7}}

    path = tr.put(b"/sys/fs/bpf/bpfexplain_demo\0")
    entry = structs.bpf_enter(tr, 6, tr.put(struct.pack("<QII", path, 3, 0)), 16)
    line = parsed('bpf(BPF_OBJ_PIN, {pathname="/sys/fs/bpf/bpfexplain_demo", bpf_fd=3, '
                  'file_flags=0}, 16) = 0')
    assert entry.value == line.args[1]

    blob = tr.put(b"\x9f\xeb\x01\x00" + b"\0" * 60)
    entry = structs.bpf_enter(tr, 18, tr.put(struct.pack("<QQIII", blob, 0, 64, 0, 0)), 28)
    assert isinstance(entry.value, dict)
    assert isinstance(entry.value["btf"], Truncated)
    assert entry.value["btf_log_buf"] == Sym("NULL") and entry.value["btf_size"] == 64


def test_unknown_command_and_unreadable_attr_stay_pointers() -> None:
    tr = FakeTracee()
    entry = structs.bpf_enter(tr, 99, 0x1234, 16)
    assert entry.value == 0x1234
    assert structs.cmd_value(99) == Commented(99, "BPF_???")
    entry = structs.bpf_enter(tr, 5, 0xDEAD000, 128)       # nothing mapped there
    assert entry.value == 0xDEAD000


def perf_attr_bytes(ptype: int, config: int, *, size: int = 128, period: int = 1,
                    sample_type: int = 0, bits: int = 0, wakeup: int = 1,
                    config1: int = 0, config2: int = 0) -> bytes:
    attr = bytearray(128)
    struct.pack_into("<IIQQQQQIIQQ", attr, 0, ptype, size, config, period, sample_type, 0,
                     bits, wakeup, 0, config1, config2)
    return bytes(attr)


def test_perf_event_attr_shared_fields_match_strace_v() -> None:
    tr = FakeTracee()
    at = tr.put(perf_attr_bytes(1, 10, size=0, sample_type=1 << 10))
    value, deep = structs.perf_attr(tr, at, -1, {})
    line = parsed(
        "perf_event_open({type=PERF_TYPE_SOFTWARE, size=0 /* PERF_ATTR_SIZE_??? */, "
        "config=PERF_COUNT_SW_BPF_OUTPUT, sample_period=1, sample_type=PERF_SAMPLE_RAW, "
        "read_format=0, disabled=0, inherit=0, pinned=0, exclusive=0, exclude_user=0, "
        "exclude_kernel=0, exclude_hv=0, exclude_idle=0, mmap=0, comm=0, freq=0, "
        "inherit_stat=0, enable_on_exec=0, task=0, watermark=0, precise_ip=0 /* arbitrary "
        "skid */, mmap_data=0, sample_id_all=0, exclude_host=0, exclude_guest=0, "
        "exclude_callchain_kernel=0, exclude_callchain_user=0, mmap2=0, comm_exec=0, "
        "use_clockid=0, context_switch=0, write_backward=0, namespaces=0, ksymbol=0, "
        "bpf_event=0, aux_output=0, cgroup=0, text_poke=0, build_id=0, inherit_thread=0, "
        "remove_on_exec=0, sigtrap=0, wakeup_events=1, config1=0}, -1, 0, -1, "
        "PERF_FLAG_FD_CLOEXEC) = 6")
    expected: dict[str, Any] = dict(line.args[0])   # type: ignore[arg-type]
    assert isinstance(value, dict)
    assert {k: value[k] for k in expected} == expected
    assert deep == {}


def test_uprobe_target_path_offset_symbol_and_retprobe() -> None:
    tr = FakeTracee()
    path = tr.put(b"/lib/x86_64-linux-gnu/libc.so.6\0")
    at = tr.put(perf_attr_bytes(8, 1, config1=path, config2=0x98930))
    pmus = {8: structs.Pmu("uprobe", 8, 0), 9: structs.Pmu("kprobe", 9, 0)}
    seen: list[tuple[str, int]] = []

    def resolve(p: str, off: int) -> str | None:
        seen.append((p, off))
        return "malloc"

    value, deep = structs.perf_attr(tr, at, -1, pmus, resolve)
    assert isinstance(value, dict)
    assert value["type"] == Commented(8, "PERF_TYPE_???") and value["config"] == 1
    assert value["config1"] == path and value["config2"] == 0x98930
    assert deep["uprobe"] == {"path": "/lib/x86_64-linux-gnu/libc.so.6", "offset": 0x98930,
                              "retprobe": True, "pid": -1, "symbol": "malloc"}
    assert seen == [("/lib/x86_64-linux-gnu/libc.so.6", 0x98930)]

    func = tr.put(b"do_sys_openat2\0")
    at = tr.put(perf_attr_bytes(9, 0, config1=func, config2=0))
    _, deep = structs.perf_attr(tr, at, -1, pmus)
    assert deep["kprobe"] == {"function": "do_sys_openat2", "offset": 0, "address": None,
                              "retprobe": False}


def test_syscall_shapes_match_the_parser() -> None:
    tr = FakeTracee()
    ctx = syscalls.Context(AUDIT_ARCH_X86_64)
    path = tr.put(b"/sys/kernel/tracing/events/syscalls/sys_enter_execve/id\0")
    pending = syscalls.ENTRY["openat"](ctx, tr, (2**64 - 100, path, 0o2000000, 0, 0, 0))
    assert pending is not None
    line = parsed('openat(AT_FDCWD, "/sys/kernel/tracing/events/syscalls/sys_enter_execve/id",'
                  ' O_RDONLY|O_CLOEXEC) = 11')
    assert pending.args == line.args

    clone = syscalls.ENTRY["clone"](ctx, tr, (0x1200011, 0, 0, 0x7F182F475A10, 0, 0))
    line = parsed("clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|"
                  "SIGCHLD, child_tidptr=0x7f182f475a10) = 4719")
    assert clone is not None
    assert clone.args == line.args and clone.arg_names == line.arg_names

    ioctl = syscalls.ENTRY["ioctl"](ctx, tr, (8, 0x40042408, 9, 0, 0, 0))
    assert ioctl is not None
    assert ioctl.args == parsed("ioctl(8, PERF_EVENT_IOC_SET_BPF, 9) = 0").args
    assert syscalls.ENTRY["ioctl"](ctx, tr, (1, 0x5401, 0, 0, 0, 0)) is None   # TCGETS

    mmap = syscalls.ENTRY["mmap"](ctx, tr, (0, 266240, 3, 1, 5, 0))
    assert mmap is not None
    assert mmap.args == parsed("mmap(NULL, 266240, PROT_READ|PROT_WRITE, MAP_SHARED, 5, 0)"
                               " = 0x7f1").args
    assert syscalls.ENTRY["mmap"](ctx, tr, (0, 8192, 3, 0x22, 2**64 - 1, 0)) is None

    buf = tr.put(b"862\n" + b"\0" * 60)
    read = syscalls.ENTRY["read"](ctx, tr, (11, buf, 4096, 0, 0, 0))
    assert read is not None and read.finish is not None
    done = read.finish(tr, 4)
    assert done is not None and done[0] == parsed('read(11, "862\\n", 4096) = 4').args
    assert read.finish(tr, 0) is None

    arm = syscalls.Context(AUDIT_ARCH_AARCH64)
    assert syscalls.open_flags(0o40000, AUDIT_ARCH_AARCH64) == \
        Flags([Sym("O_RDONLY"), Sym("O_DIRECTORY")])
    assert syscalls.open_flags(0o200000, AUDIT_ARCH_X86_64) == \
        Flags([Sym("O_RDONLY"), Sym("O_DIRECTORY")])
    assert arm.arch == AUDIT_ARCH_AARCH64


def test_execve_reads_path_argv_and_counts_env() -> None:
    tr = FakeTracee()
    path = tr.put(b"/usr/bin/bpftrace\0")
    a0, a1 = tr.put(b"bpftrace\0"), tr.put(b"-e\0")
    argv = tr.put(struct.pack("<QQQ", a0, a1, 0))
    envp = tr.put(struct.pack("<QQQ", a0, a1, 0))
    ctx = syscalls.Context(AUDIT_ARCH_X86_64)
    pending = syscalls.ENTRY["execve"](ctx, tr, (path, argv, envp, 0, 0, 0))
    assert pending is not None
    line = parsed(f'execve("/usr/bin/bpftrace", ["bpftrace", "-e"], {envp:#x} /* 2 vars */) = 0')
    assert pending.args == line.args


def test_errno_like_strace() -> None:
    assert syscalls.errno_of(-2) == (-1, "ENOENT")
    assert syscalls.errno_of(-13) == (-1, "EACCES")
    assert syscalls.errno_of(-512) == (None, "ERESTARTSYS")
    assert syscalls.errno_of(7) == (7, None)
