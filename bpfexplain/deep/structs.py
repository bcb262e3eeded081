"""``union bpf_attr`` and ``struct perf_event_attr`` from tracee memory, shaped like strace.

Each decoder returns the argument exactly as the strace parser would have built it from
strace 6.1's rendering (same field names, ``Sym`` for names, ``int`` for numbers and
fds, ``Sym("NULL")`` for null pointers, ``Flags`` for ``A|B``), so that the tracker
cannot tell the two backends apart on shared fields.  What strace leaves as a pointer
(instructions, log buffer, key and value bytes, a uprobe's path) goes into a separate
``deep`` dict.

Offsets are those of ``/usr/include/linux/bpf.h`` and ``/usr/include/linux/perf_event.h``
(Debian's linux-libc-dev 6.1, checked with ``offsetof`` in a C program); fields newer than
those headers are marked with the kernel that added them.  Like strace, the ``size``
argument decides which fields are shown: a loader built against older headers passes a
smaller size and the kernel ignores (zero-fills) the rest.

All reads go through :class:`Tracee`, so tests can decode packed bytes without a process.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from bpfexplain import knowledge as kn
from bpfexplain.deep import disasm
from bpfexplain.plain import Frozen, Record, init_field
from bpfexplain.values import Commented, Flags, Func, InOut, Sym, Truncated, Value

NULL = Sym("NULL")

LOG_LIMIT = 1 << 20
"""Most verifier log bytes kept per load: a failed big program logs megabytes."""
ELEM_LIMIT = 4096
"""Most key/value bytes kept per map operation (per-CPU values are value_size x CPUs)."""
MAX_INSNS = 1_000_000
"""BPF_COMPLEXITY_LIMIT_INSNS: the kernel refuses more, so reading more is pointless."""


class Tracee(Protocol):
    """What a decoder may ask of the traced process; never anything that changes it."""

    pid: int

    def read(self, address: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``address``: fewer at the end of a mapping, b"" if none."""
        ...

    def cstring(self, address: int, limit: int) -> bytes | None:
        """The NUL-terminated bytes at ``address`` (without the NUL), at most ``limit``
        of them; None when the address cannot be read."""
        ...

    def fdinfo(self, fd: int) -> Mapping[str, str]:
        """``/proc/PID/fdinfo/FD`` as key -> value (empty when unavailable)."""
        ...

    def fd_path(self, fd: int) -> str | None:
        """``readlink /proc/PID/fd/FD`` (``anon_inode:bpf-prog``), None if closed."""
        ...


# -- value helpers: the shapes the grammar's transformer builds ---------------------------

def text(data: bytes) -> str:
    """Bytes as the parser decodes strace's escaped strings: UTF-8 if valid, else 1:1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def addr(value: int) -> Value:
    """A pointer as strace prints it: ``NULL`` or a number."""
    return NULL if value == 0 else value


def string_at(tr: Tracee, address: int, limit: int = 4096) -> Value:
    """A C string argument: its text, ``NULL``, or the bare address when unreadable."""
    if address == 0:
        return NULL
    data = tr.cstring(address, limit + 1)
    if data is None:
        return address
    if len(data) > limit:
        return Truncated(text(data[:limit]))
    return text(data)


def enum_value(table: kn.Table, number: int, unknown: str) -> Value:
    """``BPF_PROG_TYPE_KPROBE`` or, for numbers the table lacks, ``0x24 /* ..._??? */``."""
    entry = table.get(number)
    if entry is None:
        return Commented(number, unknown)
    return Sym(entry.name)


def flags_value(number: int, entries: Iterable[tuple[str, int]], zero: str | None = None) -> Value:
    """``A|B`` as the parser builds it: 0 (or ``zero``), one name, or a ``Flags``."""
    if number == 0:
        return Sym(zero) if zero else 0
    return flag_set([], number, entries)


def flag_set(members: list[str | int], rest: int, entries: Iterable[tuple[str, int]]) -> Value:
    """Name the bits of ``rest`` after ``members``; leftover bits stay one number."""
    for name, bit in entries:
        if bit and rest & bit == bit:
            members.append(Sym(name))
            rest &= ~bit
    if rest:
        members.append(rest)
    if len(members) == 1:
        return members[0]
    return Flags(members)


def table_bits(table: kn.Table) -> list[tuple[str, int]]:
    return [(entry.name, entry.number) for entry in table]


def hexbytes(data: bytes) -> str:
    return data.hex()


class Fields(Record):
    """Little-endian reads from a struct image, zero past the end (the kernel's view)."""

    __slots__ = _fields = ("data", "size")

    data: bytes
    size: int
    """The size the caller passed; decides which fields strace prints."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data = data
        self.size = size

    def u32(self, off: int) -> int:
        return int.from_bytes(self.data[off:off + 4].ljust(4, b"\0"), "little")

    def s32(self, off: int) -> int:
        return int.from_bytes(self.data[off:off + 4].ljust(4, b"\0"), "little", signed=True)

    def u64(self, off: int) -> int:
        return int.from_bytes(self.data[off:off + 8].ljust(8, b"\0"), "little")

    def s16(self, off: int) -> int:
        return int.from_bytes(self.data[off:off + 2].ljust(2, b"\0"), "little", signed=True)

    def has(self, off: int) -> bool:
        """strace's ``len > offsetof(field)``: the caller's size reaches the field."""
        return self.size > off

    def cstr(self, off: int, length: int) -> str:
        raw = self.data[off:off + length]
        return text(raw.split(b"\0", 1)[0])


# -- bpf(2) -------------------------------------------------------------------------------

_ATTR_READ = 256
"""sizeof(union bpf_attr) is 144 in 6.1 headers and grows; strace reads at most a page."""

BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4
_PERCPU_MAP_TYPES = frozenset({5, 6, 10, 21})   # PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH,
#                                                 PERCPU_CGROUP_STORAGE: one value per CPU

# src_reg values of BPF_LD | BPF_IMM | BPF_DW (bpf.h "BPF_PSEUDO_*")
BPF_PSEUDO_MAP_FD = 1
BPF_PSEUDO_MAP_VALUE = 2
BPF_PSEUDO_MAP_IDX = 5
BPF_PSEUDO_MAP_IDX_VALUE = 6

_UPDATE_FLAGS = {0: "BPF_ANY", 1: "BPF_NOEXIST", 2: "BPF_EXIST", 4: "BPF_F_LOCK"}
_LOOKUP_FLAGS = [("BPF_F_LOCK", 4)]
_FILE_FLAGS = [("BPF_F_RDONLY", 1 << 3), ("BPF_F_WRONLY", 1 << 4), ("BPF_F_PATH_FD", 1 << 14)]
_ATTACH_FLAGS = [("BPF_F_ALLOW_OVERRIDE", 1), ("BPF_F_ALLOW_MULTI", 2), ("BPF_F_REPLACE", 4),
                 ("BPF_F_BEFORE", 8), ("BPF_F_AFTER", 16), ("BPF_F_ID", 32),
                 ("BPF_F_LINK", 1 << 13)]
_TEST_RUN_FLAGS = [("BPF_F_TEST_RUN_ON_CPU", 1), ("BPF_F_TEST_XDP_LIVE_FRAMES", 2)]


class BpfEntry(Record):
    """What the entry stop learned, kept until the exit stop completes the call."""

    __slots__ = _fields = ("cmd", "name", "attr_addr", "size", "fields", "value", "deep",
                           "scratch")

    cmd: int
    name: str | None
    attr_addr: int
    size: int
    fields: Fields | None
    value: Value
    """The attr argument as strace shows it (completed at exit for some commands)."""
    deep: dict[str, Any]
    scratch: dict[str, Any]

    def __init__(self, cmd: int, name: str | None, attr_addr: int, size: int,
                 fields: Fields | None, value: Value, deep: dict[str, Any] | None = None,
                 scratch: dict[str, Any] | None = None) -> None:
        self.cmd = cmd
        self.name = name
        self.attr_addr = attr_addr
        self.size = size
        self.fields = fields
        self.value = value
        self.deep = {} if deep is None else deep
        self.scratch = {} if scratch is None else scratch


def cmd_value(cmd: int) -> Value:
    return enum_value(kn.BPF_CMD, cmd, "BPF_???")


def bpf_enter(tr: Tracee, cmd: int, attr_addr: int, size: int, *,
              cpus: int = 1) -> BpfEntry:
    """Decode a bpf() call at its entry stop, before the kernel writes into the attr."""
    entry = kn.BPF_CMD.get(cmd)
    name = entry.name if entry else None
    result = BpfEntry(cmd, name, attr_addr, size, None, addr(attr_addr))
    decoder = _ENTRY.get(name or "")
    if decoder is None or attr_addr == 0 or size == 0 or size > 4096:
        return result
    data = tr.read(attr_addr, min(size, _ATTR_READ))
    if not data:
        return result
    f = Fields(data, min(size, _ATTR_READ))
    result.fields = f
    result.scratch["cpus"] = cpus
    result.value = decoder(tr, f, result)
    return result


def bpf_exit(tr: Tracee, entry: BpfEntry, result: int | None) -> tuple[Value, dict[str, Any]]:
    """Complete the attr with what the kernel wrote back and read the out-values."""
    ok = result is not None and result >= 0
    finisher = _EXIT.get(entry.name or "")
    if finisher is not None and entry.fields is not None:
        finisher(tr, entry, ok, result)
    return entry.value, entry.deep


# entry decoders: (tracee, fields, entry) -> the attr value

def _map_create(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    d: dict[str, Value] = {
        "map_type": enum_value(kn.MAP_TYPE, f.u32(0), "BPF_MAP_TYPE_???"),
        "key_size": f.u32(4),
        "value_size": f.u32(8),
        "max_entries": f.u32(12),
    }
    if f.has(16):
        d["map_flags"] = flags_value(f.u32(16), table_bits(kn.MAP_FLAGS))
    if f.has(20):
        d["inner_map_fd"] = f.s32(20)
    if f.has(24) and f.u32(16) & 4:    # BPF_F_NUMA_NODE
        d["numa_node"] = f.u32(24)
    if f.has(28):
        d["map_name"] = f.cstr(28, min(16, f.size - 28))
    if f.has(44):
        d["map_ifindex"] = f.u32(44)
    if f.has(48):
        d["btf_fd"] = f.s32(48)
        d["btf_key_type_id"] = f.u32(52)
        d["btf_value_type_id"] = f.u32(56)
    if f.has(60):
        d["btf_vmlinux_value_type_id"] = f.u32(60)
    if f.has(64):
        d["map_extra"] = f.u64(64)
    return d


def _map_info(tr: Tracee, fd: int) -> tuple[int, int, int] | None:
    """(map_type, key_size, value_size) of a map fd, from the kernel's fdinfo."""
    info = tr.fdinfo(fd)
    try:
        return int(info["map_type"]), int(info["key_size"]), int(info["value_size"])
    except (KeyError, ValueError):
        return None


def _value_bytes(e: BpfEntry, map_type: int, value_size: int) -> int:
    if map_type in _PERCPU_MAP_TYPES:
        return ((value_size + 7) & ~7) * max(1, int(e.scratch.get("cpus", 1)))
    return value_size


def _read_value(tr: Tracee, e: BpfEntry, address: int, map_type: int,
                value_size: int) -> bytes:
    """A map value as the call passes it in (update) or gets it back (lookup), bounded."""
    want = _value_bytes(e, map_type, value_size)
    value = tr.read(address, min(want, ELEM_LIMIT))
    if value:
        e.deep["value"] = hexbytes(value)
        if want > ELEM_LIMIT:
            e.deep["value_truncated"] = True
    return value


def _elem(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    name = e.name
    d: dict[str, Value] = {"map_fd": f.s32(0), "key": addr(f.u64(8))}
    if name == "BPF_MAP_GET_NEXT_KEY":
        d["next_key"] = addr(f.u64(16))
    elif name != "BPF_MAP_DELETE_ELEM":
        d["value"] = addr(f.u64(16))
        if name == "BPF_MAP_UPDATE_ELEM":
            flags = f.u64(24)
            known = _UPDATE_FLAGS.get(flags)
            d["flags"] = Sym(known) if known else Commented(flags, "BPF_???")
        elif f.has(24):
            d["flags"] = flags_value(f.u64(24), _LOOKUP_FLAGS, zero="BPF_ANY")
    info = _map_info(tr, f.s32(0))
    if info is None:
        return d
    map_type, key_size, value_size = info
    e.scratch["map"] = info
    key_addr = f.u64(8)
    key = value = b""
    if key_addr and key_size:
        key = tr.read(key_addr, min(key_size, ELEM_LIMIT))
        if key:
            e.deep["key"] = hexbytes(key)
    if name == "BPF_MAP_UPDATE_ELEM" and f.u64(16):
        value = _read_value(tr, e, f.u64(16), map_type, value_size)
        if map_type == BPF_MAP_TYPE_PERF_EVENT_ARRAY and len(key) >= 4 and len(value) >= 4:
            e.deep["perf_array_slot"] = {
                "key": int.from_bytes(key[:4], "little"),
                "perf_fd": int.from_bytes(value[:4], "little", signed=True),
            }
    return d


def _elem_exit(tr: Tracee, e: BpfEntry, ok: bool, result: int | None) -> None:
    info = e.scratch.get("map")
    f = e.fields
    if not ok or info is None or f is None:
        return
    map_type, key_size, value_size = info
    if e.name in ("BPF_MAP_LOOKUP_ELEM", "BPF_MAP_LOOKUP_AND_DELETE_ELEM") and f.u64(16):
        _read_value(tr, e, f.u64(16), map_type, value_size)
    elif e.name == "BPF_MAP_GET_NEXT_KEY" and f.u64(16) and key_size:
        key = tr.read(f.u64(16), min(key_size, ELEM_LIMIT))
        if key:
            e.deep["next_key"] = hexbytes(key)


def _map_freeze(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    return {"map_fd": f.s32(0)}


def _prog_load(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    d: dict[str, Value] = {
        "prog_type": enum_value(kn.PROG_TYPE, f.u32(0), "BPF_PROG_TYPE_???"),
        "insn_cnt": f.u32(4),
        "insns": addr(f.u64(8)),
        "license": string_at(tr, f.u64(16), 128),
    }
    _read_program(tr, f, e)
    if f.has(24):
        d["log_level"] = f.u32(24)
        d["log_size"] = f.u32(28)
        log_buf = f.u64(32)
        # what strace shows: the buffer before the kernel writes it (usually "")
        d["log_buf"] = string_at(tr, log_buf, 32) if log_buf else NULL
    if f.has(40):
        v = f.u32(40)
        d["kern_version"] = Func("KERNEL_VERSION", (v >> 16, (v >> 8) & 0xFF, v & 0xFF))
    if f.has(44):
        d["prog_flags"] = flags_value(f.u32(44), table_bits(kn.PROG_FLAGS))
    if f.has(48):
        d["prog_name"] = f.cstr(48, min(16, f.size - 48))
    if f.has(64):
        d["prog_ifindex"] = f.u32(64)
    if f.has(68):
        d["expected_attach_type"] = enum_value(kn.ATTACH_TYPE, f.u32(68), "BPF_???")
    if f.has(72):
        d["prog_btf_fd"] = f.s32(72)
        d["func_info_rec_size"] = f.u32(76)
        d["func_info"] = addr(f.u64(80))
        d["func_info_cnt"] = f.u32(88)
        d["line_info_rec_size"] = f.u32(92)
        d["line_info"] = addr(f.u64(96))
        d["line_info_cnt"] = f.u32(104)
    if f.has(108):
        d["attach_btf_id"] = f.u32(108)
    if f.has(112):
        d["attach_prog_fd"] = f.s32(112)
    if f.has(120):
        d["fd_array"] = addr(f.u64(120))
    return d


def _read_program(tr: Tracee, f: Fields, e: BpfEntry) -> None:
    """Instructions, the maps they reference and the disassembly, read before loading."""
    count = min(f.u32(4), MAX_INSNS)
    insns_addr = f.u64(8)
    if not insns_addr or not count:
        return
    raw = tr.read(insns_addr, count * 8)
    raw = raw[:len(raw) // 8 * 8]
    if not raw:
        return
    insns = disasm.unpack(raw)
    e.deep["insns"] = [raw[i:i + 8].hex() for i in range(0, len(raw), 8)]
    if len(raw) < count * 8:
        e.deep["insns_truncated"] = True
    fd_array = _fd_array(tr, f, insns)
    if fd_array is not None:
        e.deep["fd_array"] = fd_array
    e.deep["map_fds"] = disasm.map_fds(insns, fd_array)
    e.deep["helpers"] = disasm.helpers_used(insns)
    e.deep["disasm"] = disasm.disassemble(insns, fd_array=fd_array)


def _fd_array(tr: Tracee, f: Fields, insns: list[disasm.Insn]) -> list[int] | None:
    """The fds of ``fd_array`` that the program can reach (its length is not passed
    before 6.14's ``fd_array_cnt``, so read as far as the highest index used)."""
    if not f.has(120) or not f.u64(120):
        return None
    count = 0
    if f.has(148):
        count = f.u32(148)       # fd_array_cnt, added in 6.14 after log_true_size (140)
    for index in disasm.fd_array_indexes(insns):
        count = max(count, index + 1)
    count = min(count, 65536)
    if count == 0:
        return []
    data = tr.read(f.u64(120), count * 4)
    return [v for (v,) in struct.iter_unpack("<i", data[:len(data) // 4 * 4])]


def _prog_load_exit(tr: Tracee, e: BpfEntry, ok: bool, result: int | None) -> None:
    f = e.fields
    assert f is not None
    log_level, log_size, log_buf = f.u32(24), f.u32(28), f.u64(32)
    if f.has(24) and log_level and log_size and log_buf:
        log = tr.cstring(log_buf, min(log_size, LOG_LIMIT))
        if log is not None:
            e.deep["verifier_log"] = text(log)
            if log_size > LOG_LIMIT and len(log) >= LOG_LIMIT:
                e.deep["verifier_log_truncated"] = True
    if f.size >= 144 and f.has(140):
        after = tr.read(e.attr_addr + 140, 4)      # log_true_size (6.4), written back
        if len(after) == 4 and log_level:
            e.deep["log_true_size"] = int.from_bytes(after, "little")
    if ok and result is not None:
        _object_id(tr, e, result, "prog_id")


def _object_id(tr: Tracee, e: BpfEntry, fd: int, key: str) -> None:
    """The kernel's id of a new object (what ``bpftool prog show id N`` wants)."""
    value = tr.fdinfo(fd).get(key)
    if value is not None and value.strip().isdigit():
        e.deep[key] = int(value)


def _map_create_exit(tr: Tracee, e: BpfEntry, ok: bool, result: int | None) -> None:
    if ok and result is not None:
        _object_id(tr, e, result, "map_id")


def _obj_pin(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    d: dict[str, Value] = {"pathname": string_at(tr, f.u64(0)), "bpf_fd": f.s32(8)}
    if f.has(12):
        d["file_flags"] = flags_value(f.u32(12), _FILE_FLAGS)
    return d


def _prog_attach(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    d: dict[str, Value] = {
        "target_fd": f.s32(0),
        "attach_bpf_fd": f.s32(4),
        "attach_type": enum_value(kn.ATTACH_TYPE, f.u32(8), "BPF_???"),
        "attach_flags": flags_value(f.u32(12), _ATTACH_FLAGS),
    }
    if f.has(16):
        d["replace_bpf_fd"] = f.s32(16)
    return d


def _test_run(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    t: dict[str, Value] = {
        "prog_fd": f.s32(0), "retval": f.u32(4), "data_size_in": f.u32(8),
        "data_size_out": f.u32(12), "data_in": addr(f.u64(16)), "data_out": addr(f.u64(24)),
        "repeat": f.u32(32), "duration": f.u32(36),
    }
    if f.has(40):
        t.update({"ctx_size_in": f.u32(40), "ctx_size_out": f.u32(44),
                  "ctx_in": addr(f.u64(48)), "ctx_out": addr(f.u64(56))})
    if f.has(64):
        t.update({"flags": flags_value(f.u32(64), _TEST_RUN_FLAGS), "cpu": f.u32(68)})
    if f.has(72):
        t["batch_size"] = f.u32(72)
    return {"test": t}


def _next_id(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    return {"start_id": f.u32(0), "next_id": f.u32(4), "open_flags": f.u32(8)} \
        if f.has(8) else {"start_id": f.u32(0), "next_id": f.u32(4)}


def _next_id_exit(tr: Tracee, e: BpfEntry, ok: bool, result: int | None) -> None:
    # next_id is written by the kernel: strace shows "next_id=0 => 1"
    after = tr.read(e.attr_addr + 4, 4)
    if len(after) == 4 and isinstance(e.value, dict):
        before = e.value["next_id"]
        now = int.from_bytes(after, "little")
        if now != before:
            e.value["next_id"] = InOut(before, now)


def _get_fd_by_id(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    key = {"BPF_PROG_GET_FD_BY_ID": "prog_id", "BPF_MAP_GET_FD_BY_ID": "map_id",
           "BPF_BTF_GET_FD_BY_ID": "btf_id", "BPF_LINK_GET_FD_BY_ID": "link_id"}[e.name or ""]
    d: dict[str, Value] = {key: f.u32(0)}
    if key in ("prog_id", "map_id") and f.has(8):
        d["next_id"] = f.u32(4)
        d["open_flags"] = flags_value(f.u32(8), _FILE_FLAGS)
    return d


def _get_info(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    e.scratch["kind"] = tr.fd_path(f.s32(0))
    return {"info": {"bpf_fd": f.s32(0), "info_len": f.u32(4), "info": addr(f.u64(8))}}


def _get_info_exit(tr: Tracee, e: BpfEntry, ok: bool, result: int | None) -> None:
    """The ids the loader asked for (``bpftool prog show id N`` takes them)."""
    f = e.fields
    assert f is not None
    if not ok or not f.u64(8):
        return
    length = tr.read(e.attr_addr + 4, 4)
    info_len = int.from_bytes(length, "little") if len(length) == 4 else f.u32(4)
    info = Fields(tr.read(f.u64(8), min(info_len, 256)), min(info_len, 256))
    kind = (e.scratch.get("kind") or "").removeprefix("anon_inode:")
    # offsets: struct bpf_prog_info / bpf_map_info / bpf_link_info / bpf_btf_info (bpf.h)
    if kind == "bpf-prog" and info.has(4):
        e.deep["prog_id"] = info.u32(4)
        if info.has(8):
            e.deep["prog_tag"] = info.data[8:16].hex()
        if info.has(64):
            e.deep["prog_name"] = info.cstr(64, 16)
    elif kind == "bpf-map" and info.has(4):
        e.deep["map_id"] = info.u32(4)
        if info.has(24):
            e.deep["map_name"] = info.cstr(24, 16)
    elif kind == "bpf_link" and info.has(4):
        e.deep["link_id"] = info.u32(4)
        if info.has(8):
            # not "prog_id": that key names the id of the object asked about
            e.deep["link_prog_id"] = info.u32(8)
    elif kind == "btf" and info.has(12):
        e.deep["btf_id"] = info.u32(12)


def _raw_tracepoint(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    return {"raw_tracepoint": {"name": string_at(tr, f.u64(0), 128), "prog_fd": f.s32(8)}}


def _btf_load(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    btf, size = f.u64(0), f.u32(16)
    blob: Value = NULL
    if btf:
        data = tr.read(btf, min(size, 32))
        blob = Truncated(text(data)) if size > 32 else text(data)
    return {"btf": blob, "btf_log_buf": addr(f.u64(8)), "btf_size": size,
            "btf_log_size": f.u32(20), "btf_log_level": f.u32(24)}


def _btf_load_exit(tr: Tracee, e: BpfEntry, ok: bool, result: int | None) -> None:
    f = e.fields
    assert f is not None
    level, size, buf = f.u32(24), f.u32(20), f.u64(8)
    if level and size and buf:
        log = tr.cstring(buf, min(size, LOG_LIMIT))
        if log is not None:
            e.deep["btf_log"] = text(log)
    if ok and result is not None:
        _object_id(tr, e, result, "btf_id")


def _link_create(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    attach_type = f.u32(8)
    at = kn.ATTACH_TYPE.get(attach_type)
    at_name = at.name if at else ""
    d: dict[str, Value] = {
        "prog_fd": f.s32(0),
        "target_fd": f.s32(4),
        "attach_type": enum_value(kn.ATTACH_TYPE, attach_type, "BPF_???"),
        "flags": flags_value(f.u32(12), _ATTACH_FLAGS),
    }
    if f.has(16):
        if at_name == "BPF_PERF_EVENT":
            d["perf_event"] = {"bpf_cookie": f.u64(16)}
        elif at_name == "BPF_TRACE_KPROBE_MULTI":
            d["kprobe_multi"] = _kprobe_multi(tr, f)
        elif at_name == "BPF_TRACE_UPROBE_MULTI":
            d["uprobe_multi"] = _uprobe_multi(tr, f, e)
        elif at_name == "BPF_TRACE_ITER":
            d["iter_info"] = addr(f.u64(16))
            d["iter_info_len"] = f.u32(24)
        elif f.u32(16):
            d["target_btf_id"] = f.u32(16)
    return {"link_create": d}


def _pointer_array(tr: Tracee, address: int, count: int) -> list[int]:
    data = tr.read(address, count * 8)
    return [v for (v,) in struct.iter_unpack("<Q", data[:len(data) // 8 * 8])]


def _kprobe_multi(tr: Tracee, f: Fields) -> dict[str, Value]:
    # link_create.kprobe_multi: flags 16, cnt 20, syms 24, addrs 32, cookies 40 (bpf.h)
    cnt, syms = f.u32(20), f.u64(24)
    sym_value: Value = NULL
    if syms:
        names: list[Value] = [string_at(tr, p, 256) for p in _pointer_array(tr, syms, min(cnt, 32))]
        sym_value = names
    return {"flags": f.u32(16), "cnt": cnt, "syms": sym_value,
            "addrs": addr(f.u64(32)), "cookies": addr(f.u64(40))}


def _uprobe_multi(tr: Tracee, f: Fields, e: BpfEntry) -> dict[str, Value]:
    # link_create.uprobe_multi (6.6): path 16, offsets 24, ref_ctr_offsets 32, cookies 40,
    # cnt 48, flags 52, pid 56 -- newer than the 6.1 headers, from the kernel's bpf.h
    cnt = f.u32(48)
    path = string_at(tr, f.u64(16))
    offsets = _pointer_array(tr, f.u64(24), min(cnt, 4096)) if f.u64(24) else []
    e.deep["uprobe_multi"] = {"path": path if isinstance(path, str) else None,
                              "offsets": offsets, "retprobe": bool(f.u32(52) & 1),
                              "pid": f.u32(56)}
    return {"path": path, "offsets": addr(f.u64(24)), "ref_ctr_offsets": addr(f.u64(32)),
            "cookies": addr(f.u64(40)), "cnt": cnt, "flags": f.u32(52), "pid": f.u32(56)}


def _link_create_exit(tr: Tracee, e: BpfEntry, ok: bool, result: int | None) -> None:
    if ok and result is not None:
        _object_id(tr, e, result, "link_id")


def _link_update(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    return {"link_update": {"link_fd": f.s32(0), "new_prog_fd": f.s32(4),
                            "flags": flags_value(f.u32(8), _ATTACH_FLAGS),
                            "old_prog_fd": f.s32(12)}}


def _link_detach(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    return {"link_detach": {"link_fd": f.s32(0)}}


def _prog_bind_map(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    # strace 6.1 prints only the pointer; later versions print this shape
    return {"prog_bind_map": {"prog_fd": f.s32(0), "map_fd": f.s32(4), "flags": f.u32(8)}}


def _iter_create(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    return {"iter_create": {"link_fd": f.s32(0), "flags": f.u32(4)}}


def _enable_stats(tr: Tracee, f: Fields, e: BpfEntry) -> Value:
    kind = f.u32(0)
    return {"enable_stats": {"type": Sym("BPF_STATS_RUN_TIME") if kind == 0
                             else Commented(kind, "BPF_STATS_???")}}


Decoder = Callable[[Tracee, Fields, BpfEntry], Value]
Finisher = Callable[[Tracee, BpfEntry, bool, "int | None"], None]

_ENTRY: dict[str, Decoder] = {
    "BPF_MAP_CREATE": _map_create,
    "BPF_MAP_LOOKUP_ELEM": _elem,
    "BPF_MAP_LOOKUP_AND_DELETE_ELEM": _elem,
    "BPF_MAP_UPDATE_ELEM": _elem,
    "BPF_MAP_DELETE_ELEM": _elem,
    "BPF_MAP_GET_NEXT_KEY": _elem,
    "BPF_MAP_FREEZE": _map_freeze,
    "BPF_PROG_LOAD": _prog_load,
    "BPF_OBJ_PIN": _obj_pin,
    "BPF_OBJ_GET": _obj_pin,
    "BPF_PROG_ATTACH": _prog_attach,
    "BPF_PROG_DETACH": _prog_attach,
    "BPF_PROG_TEST_RUN": _test_run,
    "BPF_PROG_GET_NEXT_ID": _next_id,
    "BPF_MAP_GET_NEXT_ID": _next_id,
    "BPF_BTF_GET_NEXT_ID": _next_id,
    "BPF_LINK_GET_NEXT_ID": _next_id,
    "BPF_PROG_GET_FD_BY_ID": _get_fd_by_id,
    "BPF_MAP_GET_FD_BY_ID": _get_fd_by_id,
    "BPF_BTF_GET_FD_BY_ID": _get_fd_by_id,
    "BPF_LINK_GET_FD_BY_ID": _get_fd_by_id,
    "BPF_OBJ_GET_INFO_BY_FD": _get_info,
    "BPF_RAW_TRACEPOINT_OPEN": _raw_tracepoint,
    "BPF_BTF_LOAD": _btf_load,
    "BPF_LINK_CREATE": _link_create,
    "BPF_LINK_UPDATE": _link_update,
    "BPF_LINK_DETACH": _link_detach,
    "BPF_PROG_BIND_MAP": _prog_bind_map,
    "BPF_ITER_CREATE": _iter_create,
    "BPF_ENABLE_STATS": _enable_stats,
}

_EXIT: dict[str, Finisher] = {
    "BPF_MAP_CREATE": _map_create_exit,
    "BPF_MAP_LOOKUP_ELEM": _elem_exit,
    "BPF_MAP_LOOKUP_AND_DELETE_ELEM": _elem_exit,
    "BPF_MAP_GET_NEXT_KEY": _elem_exit,
    "BPF_PROG_LOAD": _prog_load_exit,
    "BPF_PROG_GET_NEXT_ID": _next_id_exit,
    "BPF_MAP_GET_NEXT_ID": _next_id_exit,
    "BPF_BTF_GET_NEXT_ID": _next_id_exit,
    "BPF_LINK_GET_NEXT_ID": _next_id_exit,
    "BPF_OBJ_GET_INFO_BY_FD": _get_info_exit,
    "BPF_BTF_LOAD": _btf_load_exit,
    "BPF_LINK_CREATE": _link_create_exit,
}


# -- perf_event_open(2) ------------------------------------------------------------------

PERF_ATTR_SIZES: Mapping[int, str] = {
    64: "PERF_ATTR_SIZE_VER0", 72: "PERF_ATTR_SIZE_VER1", 80: "PERF_ATTR_SIZE_VER2",
    96: "PERF_ATTR_SIZE_VER3", 104: "PERF_ATTR_SIZE_VER4", 112: "PERF_ATTR_SIZE_VER5",
    120: "PERF_ATTR_SIZE_VER6", 128: "PERF_ATTR_SIZE_VER7", 136: "PERF_ATTR_SIZE_VER8",
}

# enum perf_event_sample_format and perf_event_read_format (perf_event.h)
_SAMPLE_BITS = [(name, 1 << i) for i, name in enumerate([
    "PERF_SAMPLE_IP", "PERF_SAMPLE_TID", "PERF_SAMPLE_TIME", "PERF_SAMPLE_ADDR",
    "PERF_SAMPLE_READ", "PERF_SAMPLE_CALLCHAIN", "PERF_SAMPLE_ID", "PERF_SAMPLE_CPU",
    "PERF_SAMPLE_PERIOD", "PERF_SAMPLE_STREAM_ID", "PERF_SAMPLE_RAW",
    "PERF_SAMPLE_BRANCH_STACK", "PERF_SAMPLE_REGS_USER", "PERF_SAMPLE_STACK_USER",
    "PERF_SAMPLE_WEIGHT", "PERF_SAMPLE_DATA_SRC", "PERF_SAMPLE_IDENTIFIER",
    "PERF_SAMPLE_TRANSACTION", "PERF_SAMPLE_REGS_INTR", "PERF_SAMPLE_PHYS_ADDR",
    "PERF_SAMPLE_AUX", "PERF_SAMPLE_CGROUP", "PERF_SAMPLE_DATA_PAGE_SIZE",
    "PERF_SAMPLE_CODE_PAGE_SIZE", "PERF_SAMPLE_WEIGHT_STRUCT",
])]
_READ_FORMAT_BITS = [("PERF_FORMAT_TOTAL_TIME_ENABLED", 1), ("PERF_FORMAT_TOTAL_TIME_RUNNING", 2),
                     ("PERF_FORMAT_ID", 4), ("PERF_FORMAT_GROUP", 8), ("PERF_FORMAT_LOST", 16)]

# the bitfield word at offset 40, in declaration order (precise_ip is 2 bits wide)
_ATTR_BITS = [
    "disabled", "inherit", "pinned", "exclusive", "exclude_user", "exclude_kernel",
    "exclude_hv", "exclude_idle", "mmap", "comm", "freq", "inherit_stat", "enable_on_exec",
    "task", "watermark", "precise_ip", "mmap_data", "sample_id_all", "exclude_host",
    "exclude_guest", "exclude_callchain_kernel", "exclude_callchain_user", "mmap2",
    "comm_exec", "use_clockid", "context_switch", "write_backward", "namespaces", "ksymbol",
    "bpf_event", "aux_output", "cgroup", "text_poke", "build_id", "inherit_thread",
    "remove_on_exec", "sigtrap",
]
_PRECISE_IP = ["arbitrary skid", "constant skid", "requested to have 0 skid",
               "must have 0 skid"]

PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE, PERF_TYPE_BREAKPOINT = 0, 1, 5


class Pmu(Frozen):
    """A dynamic PMU this machine registered (``/sys/bus/event_source/devices/NAME``)."""

    __slots__ = _fields = ("name", "type", "retprobe_bit")

    name: str
    type: int
    retprobe_bit: int | None
    """Bit of ``config`` that makes a k/uretprobe (``format/retprobe``: ``config:0``)."""

    def __init__(self, name: str, type: int, retprobe_bit: int | None = None) -> None:
        init_field(self, "name", name)
        init_field(self, "type", type)
        init_field(self, "retprobe_bit", retprobe_bit)


def perf_attr(tr: Tracee, address: int, pid_arg: int, pmus: Mapping[int, Pmu],
              resolve: Callable[[str, int], str | None] | None = None,
              ) -> tuple[Value, dict[str, Any]]:
    """``struct perf_event_attr`` as strace -v prints it, plus the probe target."""
    deep: dict[str, Any] = {}
    if address == 0:
        return NULL, deep
    data = tr.read(address, 136)
    if len(data) < 8:
        return address, deep
    f = Fields(data, len(data))
    ptype, size = f.u32(0), f.u32(4)
    size_value = PERF_ATTR_SIZES.get(size)
    config = f.u64(8)
    bits = f.u64(40)
    d: dict[str, Value] = {
        "type": enum_value(kn.PERF_TYPE, ptype, "PERF_TYPE_???"),
        "size": Sym(size_value) if size_value else Commented(size, "PERF_ATTR_SIZE_???"),
    }
    if ptype == PERF_TYPE_HARDWARE:
        d["config"] = enum_value(kn.HW_CONFIG, config, "PERF_COUNT_HW_???")
    elif ptype == PERF_TYPE_SOFTWARE:
        d["config"] = enum_value(kn.SW_CONFIG, config, "PERF_COUNT_SW_???")
    else:
        d["config"] = config
    d["sample_freq" if bits & (1 << 10) else "sample_period"] = f.u64(16)
    d["sample_type"] = flags_value(f.u64(24), _SAMPLE_BITS)
    d["read_format"] = flags_value(f.u64(32), _READ_FORMAT_BITS)
    bit = 0
    for name in _ATTR_BITS:
        if name == "precise_ip":
            level = (bits >> bit) & 3
            d[name] = Commented(level, _PRECISE_IP[level])
            bit += 2
        else:
            d[name] = (bits >> bit) & 1
            bit += 1
    d["wakeup_watermark" if bits & (1 << 14) else "wakeup_events"] = f.u32(48)
    config1, config2 = f.u64(56), f.u64(64)
    if ptype == PERF_TYPE_BREAKPOINT:
        d["bp_type"] = f.u32(52)
        d["bp_addr"] = config1
        d["bp_len"] = config2
    else:
        d["config1"] = config1
        if size == 0 or size >= 72:
            d["config2"] = config2
    pmu = pmus.get(ptype)
    if pmu is not None and pmu.name in ("uprobe", "kprobe"):
        retprobe = pmu.retprobe_bit is not None and bool(config >> pmu.retprobe_bit & 1)
        if pmu.name == "uprobe":
            path = tr.cstring(config1, 4096) if config1 else None
            probe: dict[str, Any] = {
                "path": text(path) if path is not None else None,
                "offset": config2,
                "retprobe": retprobe,
                "pid": pid_arg,
            }
            ref_ctr = config >> 32
            if ref_ctr:
                probe["ref_ctr_offset"] = ref_ctr
            if resolve is not None and probe["path"]:
                probe["symbol"] = resolve(probe["path"], config2)
            deep["uprobe"] = probe
        else:
            func = tr.cstring(config1, 512) if config1 else None
            deep["kprobe"] = {
                "function": text(func) if func is not None else None,
                "offset": config2 if func is not None else 0,
                "address": None if config1 else config2,
                "retprobe": retprobe,
            }
    return d, deep
