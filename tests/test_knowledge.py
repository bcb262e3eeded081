"""Knowledge tables and glossary: numbers checked against the kernel, words findable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bpfexplain import glossary, knowledge
from bpfexplain.knowledge import (
    ATTACH_TYPE,
    BPF_CMD,
    ERRNO,
    HW_CONFIG,
    LINK_TYPE,
    MAP_FLAGS,
    MAP_TYPE,
    PERF_FLAGS,
    PERF_IOCTL,
    PERF_TYPE,
    PROG_TYPE,
    SW_CONFIG,
)

# ---------------------------------------------------------------------------------
# Independent ioctl encoding (asm-generic/ioctl.h), not using knowledge.ioc.

_NRBITS, _TYPEBITS, _SIZEBITS = 8, 8, 14
_NRSHIFT = 0
_TYPESHIFT = _NRSHIFT + _NRBITS
_SIZESHIFT = _TYPESHIFT + _TYPEBITS
_DIRSHIFT = _SIZESHIFT + _SIZEBITS
_NONE, _WRITE, _READ = 0, 1, 2


def _IOC(d: int, t: str, nr: int, size: int) -> int:
    return (d << _DIRSHIFT) | (ord(t) << _TYPESHIFT) | (nr << _NRSHIFT) | (size << _SIZESHIFT)


def _IO(t: str, nr: int) -> int:
    return _IOC(_NONE, t, nr, 0)


def _IOW(t: str, nr: int, size: int) -> int:
    return _IOC(_WRITE, t, nr, size)


def _IOR(t: str, nr: int, size: int) -> int:
    return _IOC(_READ, t, nr, size)


def _IOWR(t: str, nr: int, size: int) -> int:
    return _IOC(_READ | _WRITE, t, nr, size)


PTR, U32, U64 = 8, 4, 8  # x86_64 / arm64 sizes, as strace -X raw prints there


def test_perf_ioctl_numbers_match_the_macros() -> None:
    expected = {
        "PERF_EVENT_IOC_ENABLE": _IO("$", 0),
        "PERF_EVENT_IOC_DISABLE": _IO("$", 1),
        "PERF_EVENT_IOC_REFRESH": _IO("$", 2),
        "PERF_EVENT_IOC_RESET": _IO("$", 3),
        "PERF_EVENT_IOC_PERIOD": _IOW("$", 4, U64),
        "PERF_EVENT_IOC_SET_OUTPUT": _IO("$", 5),
        "PERF_EVENT_IOC_SET_FILTER": _IOW("$", 6, PTR),
        "PERF_EVENT_IOC_ID": _IOR("$", 7, PTR),
        "PERF_EVENT_IOC_SET_BPF": _IOW("$", 8, U32),
        "PERF_EVENT_IOC_PAUSE_OUTPUT": _IOW("$", 9, U32),
        "PERF_EVENT_IOC_QUERY_BPF": _IOWR("$", 10, PTR),
        "PERF_EVENT_IOC_MODIFY_ATTRIBUTES": _IOW("$", 11, PTR),
    }
    assert {e.name: e.number for e in PERF_IOCTL} == expected
    # The numbers strace -X raw printed in fixtures/flags-Xraw.log.
    assert PERF_IOCTL.name(0x2400) == "PERF_EVENT_IOC_ENABLE"
    assert PERF_IOCTL.name(0x2401) == "PERF_EVENT_IOC_DISABLE"
    assert PERF_IOCTL.name(0x40042408) == "PERF_EVENT_IOC_SET_BPF"
    assert PERF_IOCTL.name("0x40042408") == "PERF_EVENT_IOC_SET_BPF"


def test_perf_ioctl_32bit_pointer_sizes_are_accepted() -> None:
    assert PERF_IOCTL.name(_IOR("$", 7, 4)) == "PERF_EVENT_IOC_ID"
    assert PERF_IOCTL.name(_IOW("$", 6, 4)) == "PERF_EVENT_IOC_SET_FILTER"


def test_ioc_helper_agrees() -> None:
    assert knowledge.ioc(1, "$", 8, 4) == _IOW("$", 8, 4) == 0x40042408


# ---------------------------------------------------------------------------------
# Against the installed UAPI headers (linux-libc-dev), when present.

BPF_H = Path("/usr/include/linux/bpf.h")
PERF_H = Path("/usr/include/linux/perf_event.h")


def _c_enum(text: str, enum: str) -> dict[str, int]:
    """Values of a C enum, evaluating ``A``, ``A = 3``, ``A = (1U << 2)``, ``A = B``."""
    body = re.search(r"enum\s+" + enum + r"\s*\{(.*?)\};", text, re.S)
    assert body is not None, enum
    src = re.sub(r"/\*.*?\*/", "", body.group(1), flags=re.S)
    src = re.sub(r"//[^\n]*", "", src)
    values: dict[str, int] = {}
    nxt = 0
    for item in src.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, expr = (p.strip() for p in item.partition("="))
        if expr:
            expr = re.sub(r"(\d+)U?L*L?\b", r"\1", expr)
            for known, val in values.items():
                expr = re.sub(rf"\b{known}\b", str(val), expr)
            nxt = int(eval(expr, {"__builtins__": {}}))
        values[name] = nxt
        nxt += 1
    return {n: v for n, v in values.items() if not n.startswith(("__", "MAX_"))}


@pytest.mark.skipif(not BPF_H.exists(), reason="linux-libc-dev headers not installed")
@pytest.mark.parametrize(
    ("enum", "table"),
    [
        ("bpf_cmd", BPF_CMD),
        ("bpf_prog_type", PROG_TYPE),
        ("bpf_map_type", MAP_TYPE),
        ("bpf_attach_type", ATTACH_TYPE),
        ("bpf_link_type", LINK_TYPE),
    ],
)
def test_bpf_enums_match_installed_header(enum: str, table: knowledge.Table) -> None:
    header = _c_enum(BPF_H.read_text(), enum)
    assert header, enum
    for name, number in header.items():
        if name == "BPF_COMMON_ATTRS":  # a flag or-ed into the command, not a command
            continue
        assert table.number(name) == number, name


@pytest.mark.skipif(not PERF_H.exists(), reason="linux-libc-dev headers not installed")
def test_perf_enums_match_installed_header() -> None:
    text = PERF_H.read_text()
    for enum, table in [
        ("perf_type_id", PERF_TYPE),
        ("perf_sw_ids", SW_CONFIG),
        ("perf_hw_id", HW_CONFIG),
    ]:
        header = {n: v for n, v in _c_enum(text, enum).items() if not n.endswith("_MAX")}
        assert {e.name: e.number for e in table} == header, enum
    flags = dict(re.findall(r"#define\s+(PERF_FLAG_\w+)\s+\(1UL << (\d+)\)", text))
    assert {e.name: e.number for e in PERF_FLAGS} == {n: 1 << int(s) for n, s in flags.items()}


@pytest.mark.skipif(not BPF_H.exists(), reason="linux-libc-dev headers not installed")
def test_bpf_flags_match_installed_header() -> None:
    text = BPF_H.read_text()
    header = {n: 1 << int(b) for n, b in re.findall(r"(BPF_F_\w+)\s*=?\s*\(1U << (\d+)\)", text)}
    checked = 0
    for table in (MAP_FLAGS, knowledge.PROG_FLAGS):
        for entry in table:
            if entry.name in header:  # an older header lacks the newest flags
                assert entry.number == header[entry.name], entry.name
                checked += 1
    assert checked >= 15


@pytest.mark.skipif(not PERF_H.exists(), reason="linux-libc-dev headers not installed")
def test_perf_ioctls_match_installed_header() -> None:
    text = PERF_H.read_text()
    sizes = {"__u64": 8, "__u32": 4}
    found = 0
    for name, kind, nr, arg in re.findall(
        r"#define\s+(PERF_EVENT_IOC_\w+)\s+_IO(\w*)\s*\('\$',\s*(\d+)(?:,\s*([^)]+))?\)", text
    ):
        size = sizes.get(arg.strip(), PTR) if arg else 0
        direction = {"": _NONE, "W": _WRITE, "R": _READ, "WR": _READ | _WRITE}[kind]
        assert PERF_IOCTL.number(name) == _IOC(direction, "$", int(nr), size), name
        found += 1
    assert found == len(PERF_IOCTL)


# ---------------------------------------------------------------------------------
# Table behaviour.


def test_known_values_both_ways() -> None:
    assert BPF_CMD.name(0) == "BPF_MAP_CREATE"
    assert BPF_CMD.name(5) == "BPF_PROG_LOAD"
    assert BPF_CMD.name(0x1C) == "BPF_LINK_CREATE"
    assert BPF_CMD.number("BPF_PROG_BIND_MAP") == 35
    assert MAP_TYPE.name(27) == "BPF_MAP_TYPE_RINGBUF"
    assert PROG_TYPE.number("tracepoint") == 5
    assert ATTACH_TYPE.name(0x2A) == "BPF_TRACE_KPROBE_MULTI"
    assert PERF_TYPE.name(5) == "PERF_TYPE_BREAKPOINT"
    assert SW_CONFIG.name(10) == "PERF_COUNT_SW_BPF_OUTPUT"
    assert SW_CONFIG.name(11) == "PERF_COUNT_SW_CGROUP_SWITCHES"
    assert ERRNO.name(524) == "ENOTSUPP"
    assert ERRNO.name(95) == "EOPNOTSUPP"
    assert ERRNO.number("ENOTSUP") == 95


def test_numbers_as_text_like_strace_raw_prints_them() -> None:
    assert BPF_CMD.name("0x17") == "BPF_BTF_GET_NEXT_ID"
    assert BPF_CMD.name("0") == "BPF_MAP_CREATE"
    assert MAP_TYPE.short("0x5") == "PERCPU_HASH"


def test_aliases_and_short_forms() -> None:
    assert BPF_CMD.name("BPF_PROG_RUN") == "BPF_PROG_TEST_RUN"
    assert BPF_CMD.name("prog_load") == "BPF_PROG_LOAD"
    assert PERF_IOCTL.name("SET_BPF") == "PERF_EVENT_IOC_SET_BPF"
    assert MAP_TYPE.name("BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED") == "BPF_MAP_TYPE_CGROUP_STORAGE"
    assert PROG_TYPE.short("BPF_PROG_TYPE_TRACEPOINT") == "TRACEPOINT"
    assert knowledge.short_name("BPF_PROG_TYPE_TRACEPOINT") == "TRACEPOINT"
    assert knowledge.short_name("BPF_MAP_CREATE") == "MAP_CREATE"
    assert knowledge.short_name("PERF_EVENT_IOC_ENABLE") == "ENABLE"
    assert knowledge.short_name("something") == "something"


def test_unknown_values_fall_back_readably() -> None:
    assert MAP_TYPE.name(0x24) == "BPF_MAP_TYPE_??? (0x24)"
    assert MAP_TYPE.get(0x24) is None
    assert 0x24 not in MAP_TYPE
    assert BPF_CMD.name(99) == "BPF_??? (0x63)"
    assert PROG_TYPE.short(200) == "BPF_PROG_TYPE_??? (0xc8)"
    assert "unknown bpf map type" in MAP_TYPE.describe(0x24)
    assert "0x24" in MAP_TYPE.describe("0x24")
    assert MAP_TYPE.name("BPF_MAP_TYPE_FROM_THE_FUTURE") == "BPF_MAP_TYPE_FROM_THE_FUTURE"
    assert MAP_TYPE.number("nonsense") is None
    assert PERF_TYPE.name(8) == "dynamic PMU type 8"
    assert PERF_IOCTL.name(0x1234) == "ioctl 0x1234"
    assert ERRNO.name(600) == "errno 600"
    assert knowledge.command_info(99).kind == "other"
    assert knowledge.command_info(99).creates is None


def test_flags_split() -> None:
    assert PERF_FLAGS.flags(0x8) == ["PERF_FLAG_FD_CLOEXEC"]
    assert MAP_FLAGS.flags((1 << 7) | (1 << 10) | (1 << 30)) == [
        "BPF_F_RDONLY_PROG", "BPF_F_MMAPABLE", "0x40000000",
    ]
    assert PERF_FLAGS.flags(0) == []


def test_every_entry_has_a_one_line_description() -> None:
    for table in knowledge.ALL_TABLES:
        for entry in table:
            assert entry.description, entry.name
            assert "\n" not in entry.description, entry.name
            assert table.describe(entry.number) == entry.description or table.bitflags


def test_numbers_are_unique_within_each_table() -> None:
    for table in knowledge.ALL_TABLES:
        numbers = [e.number for e in table]
        assert len(numbers) == len(set(numbers)), table.title


def test_every_command_has_tracking_info() -> None:
    for entry in BPF_CMD:
        info = knowledge.command_info(entry.name)
        assert info is not knowledge.command_info(-1), entry.name
    assert knowledge.command_info("BPF_PROG_LOAD").creates == "prog"
    assert knowledge.command_info("map_create").creates == "map"
    assert knowledge.command_info(0x1C).creates == "link"
    assert knowledge.command_info("BPF_BTF_GET_FD_BY_ID").kind == "reopen"
    assert knowledge.command_info("BPF_MAP_GET_NEXT_KEY").kind == "map_iterate"
    assert "map_fd" in knowledge.command_info("BPF_MAP_LOOKUP_ELEM").fd_fields


def test_anon_inode_names() -> None:
    assert knowledge.ANON_INODE_KINDS["bpf-map"] == "map"
    assert knowledge.ANON_INODE_KINDS["[perf_event]"] == "perf"


# ---------------------------------------------------------------------------------
# errno meanings in context.


def test_errno_meanings_depend_on_the_call() -> None:
    assert "verifier" in knowledge.errno_meaning("EACCES", "BPF_PROG_LOAD")
    assert "verifier" in knowledge.errno_meaning(13, "prog_load")
    assert "CAP_BPF" in knowledge.errno_meaning("EPERM", "BPF_MAP_CREATE")
    assert "unprivileged_bpf_disabled" in knowledge.errno_meaning("EPERM")
    assert "walk" in knowledge.errno_meaning("ENOENT", "BPF_MAP_GET_NEXT_KEY")
    assert "VM" in knowledge.errno_meaning("ENOENT", "perf_event_open")
    assert "log buffer" in knowledge.errno_meaning("ENOSPC", "BPF_PROG_LOAD")
    assert "not supported" in knowledge.errno_meaning(524)
    assert "not supported" in knowledge.errno_meaning(-524)
    # Nothing eBPF-specific: strerror's words.
    assert knowledge.errno_meaning("ECHILD") == "No child processes"
    assert knowledge.errno_meaning(600).startswith("unknown errno")


def test_expected_failures() -> None:
    assert knowledge.errno_is_expected("ENOENT", "BPF_MAP_GET_NEXT_KEY")
    assert knowledge.errno_is_expected(2, "map_get_next_key")
    assert knowledge.errno_is_expected("ENOENT", "BPF_BTF_GET_NEXT_ID")
    assert not knowledge.errno_is_expected("ENOENT", "perf_event_open")
    assert not knowledge.errno_is_expected("EACCES", "BPF_PROG_LOAD")


# ---------------------------------------------------------------------------------
# bpftrace-style names.


@pytest.mark.parametrize(
    ("ptype", "config", "name"),
    [
        (1, 0, "software:cpu-clock"),
        (1, 1, "software:task-clock"),
        (1, 2, "software:page-faults"),
        (1, 3, "software:context-switches"),
        (1, 4, "software:cpu-migrations"),
        (1, 5, "software:minor-faults"),
        (1, 6, "software:major-faults"),
        (1, 7, "software:alignment-faults"),
        (1, 8, "software:emulation-faults"),
        (1, 9, "software:dummy"),
        (1, 10, "software:bpf-output"),
        ("PERF_TYPE_SOFTWARE", 10, "software:bpf-output"),
        (0, 0, "hardware:cycles"),
        (0, 1, "hardware:instructions"),
        (0, 2, "hardware:cache-references"),
        (0, 3, "hardware:cache-misses"),
        (0, 4, "hardware:branch-instructions"),
        (0, 5, "hardware:branch-misses"),
        (0, 6, "hardware:bus-cycles"),
        (0, 7, "hardware:frontend-stalls"),
        (0, 8, "hardware:backend-stalls"),
        (0, 9, "hardware:ref-cycles"),
        ("0x2", 443, "tracepoint id 443"),
        (8, 0, "PMU type 8 config 0x0"),
        (1, 99, "software:0x63"),
    ],
)
def test_perf_probe_names(ptype: int | str, config: int, name: str) -> None:
    assert knowledge.perf_probe_name(ptype, config) == name


# ---------------------------------------------------------------------------------
# Glossary.


def test_every_enum_name_has_a_glossary_entry() -> None:
    for table in knowledge.ALL_TABLES:
        for entry in table:
            found = glossary.lookup(entry.name)
            assert found is not None, entry.name
            assert found.term == entry.name


def test_see_also_points_at_real_entries() -> None:
    for entry in glossary.all_entries():
        for other in entry.see_also:
            target = glossary.lookup(other)
            assert target is not None and target.term == other, (entry.term, other)


def test_terms_are_unique_and_summaries_plain() -> None:
    terms = [e.term for e in glossary.all_entries()]
    assert len(terms) == len(set(terms))
    for entry in glossary.all_entries():
        assert entry.summary.endswith("."), entry.term
        assert "\n" not in entry.summary, entry.term


@pytest.mark.parametrize(
    ("query", "term"),
    [
        ("prog_load", "BPF_PROG_LOAD"),
        ("PROG-LOAD", "BPF_PROG_LOAD"),
        ("bpf_prog_load", "BPF_PROG_LOAD"),
        ("BPF_PROG_RUN", "BPF_PROG_TEST_RUN"),
        ("SET_BPF", "PERF_EVENT_IOC_SET_BPF"),
        ("set-bpf", "PERF_EVENT_IOC_SET_BPF"),
        ("tracepoint", "tracepoint"),
        ("BPF_PROG_TYPE_TRACEPOINT", "BPF_PROG_TYPE_TRACEPOINT"),
        ("ringbuf", "ring buffer"),
        ("BPF_MAP_TYPE_RINGBUF", "BPF_MAP_TYPE_RINGBUF"),
        ("percpu_hash", "BPF_MAP_TYPE_PERCPU_HASH"),
        ("map_type_hash", "BPF_MAP_TYPE_HASH"),
        ("xdp", "BPF_PROG_TYPE_XDP"),
        ("kretprobe", "kprobe"),
        ("uretprobe", "uprobe"),
        ("software:bpf-output", "PERF_COUNT_SW_BPF_OUTPUT"),
        ("cycles", "PERF_COUNT_HW_CPU_CYCLES"),
        ("enotsupp", "ENOTSUPP"),
        ("ENOTSUP", "EOPNOTSUPP"),
        ("co-re", "CO-RE"),
        ("bpffs", "pin"),
        (".bss", "global data"),
        ("cap_perfmon", "CAP_BPF"),
        ("fd", "file descriptor"),
        ("perf_event", "perf event"),
        ("perf event array", "perf buffer"),
        ("  Verifier   Log ", "verifier log"),
    ],
)
def test_lookup_by_term_alias_and_short_form(query: str, term: str) -> None:
    entry = glossary.lookup(query)
    assert entry is not None, query
    assert entry.term == term


def test_lookup_unknown_is_none() -> None:
    assert glossary.lookup("no such thing at all") is None
    assert glossary.lookup("") is None


def test_suggestions_for_misspellings() -> None:
    assert glossary.suggest("prog_lod")[0] == "BPF_PROG_LOAD"
    assert glossary.suggest("verifer")[0] == "verifier"
    assert "tracepoint" in glossary.suggest("tracepiont")
    assert "ring buffer" in glossary.suggest("ringbuff")
    assert len(glossary.suggest("map", n=3)) <= 3
    assert glossary.suggest("zzzzzzzzzzzz") == []


def test_kernel_versions_where_known() -> None:
    expected = {
        "bpf() system call": "3.18",
        "BPF_LINK_CREATE": "5.7",
        "ring buffer": "5.8",
        "BPF_MAP_TYPE_RINGBUF": "5.8",
        "BTF": "4.18",
        "kprobe": "4.1",
        "CAP_BPF": "5.8",
        "PERF_EVENT_IOC_SET_BPF": "4.1",
    }
    for term, version in expected.items():
        entry = glossary.lookup(term)
        assert entry is not None and entry.since == version, term


def test_required_concepts_are_present() -> None:
    for term in [
        "eBPF program", "map", "BTF", "CO-RE", "verifier", "verifier log", "instruction",
        "helper function", "link", "pin", "feature probe", "perf event", "perf buffer",
        "ring buffer", "tracepoint", "tracepoint id", "raw tracepoint", "kprobe", "uprobe",
        "dynamic PMU", "software event", "hardware event", "file descriptor", "fd reuse",
        "close-on-exec", "per-CPU", "BEGIN/END probes", "global data", "CAP_BPF",
        "unprivileged_bpf_disabled", "strace",
    ]:
        entry = glossary.lookup(term)
        assert entry is not None and entry.category == "concept", term
