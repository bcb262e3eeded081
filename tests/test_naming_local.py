"""Names looked up on this machine: only for logs from this kernel, and read right.

The kernel guard (:mod:`bpfexplain.origin`) is tested with a made-up "this machine"
so the answers do not depend on where the tests run; the BTF and ELF readers are
tested on small blobs built here (hand-made inputs, said so) and, marked live, on
this machine's own vmlinux BTF and python3 binary.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from bpfexplain.btf import Btf, BtfError, attach_target
from bpfexplain.origin import LogOrigin, ThisKernel, release_version, version_code
from bpfexplain.resolve import Resolver

HERE = ThisKernel(release="6.18.44-fc-v1147", version=version_code(6, 18, 44),
                  btf=(3185408, 2321574))


def origin(**kw: object) -> LogOrigin:
    o = LogOrigin(here=HERE)
    for key, value in kw.items():
        setattr(o, key, value)
    return o


def test_release_versions_as_the_kernel_computes_them() -> None:
    assert release_version("6.1.0-18-amd64") == version_code(6, 1, 0) == 0x060100
    assert release_version("5.15.122") == (5 << 16) + (15 << 8) + 122
    # KERNEL_VERSION caps the patch level at 255 (4.9.337 reports 4.9.255).
    assert release_version("4.9.337") == version_code(4, 9, 255)
    assert release_version("not-a-kernel") is None


def test_an_unknown_origin_refuses_local_names() -> None:
    why = origin().refusal("tracepoint")
    assert why == "the log does not say which kernel recorded it"


def test_a_live_run_is_this_machine() -> None:
    o = origin(live=True, release="1.2.3")
    assert o.refusal("tracepoint") is None and o.refusal("btf") is None


def test_the_seed_notes_kernel_is_not_this_one() -> None:
    # The seed notes' bpftrace log: kern_version=KERNEL_VERSION(5, 15, 122).
    o = origin()
    o.note_kern_version(version_code(5, 15, 122))
    why = o.refusal("tracepoint")
    assert why is not None and "5.15.122" in why and "6.18.44-fc-v1147" in why


def test_zero_kern_version_means_unset() -> None:
    o = origin()
    o.note_kern_version(0)
    assert o.version is None


def test_same_version_names_tracepoints_but_not_btf_ids() -> None:
    o = origin()
    o.note_kern_version(version_code(6, 18, 44))
    assert o.refusal("tracepoint") is None
    assert o.refusal("pmu") is None
    why = o.refusal("btf")
    assert why is not None and "builds" in why


def test_release_decides_over_version() -> None:
    # Another build of the same version (the fixtures' sidecars say fc-v657).
    o = origin()
    o.note_release("6.18.44-fc-v657", "sidecar")
    o.note_kern_version(version_code(6, 18, 44))
    why = o.refusal("tracepoint")
    assert why is not None and "sidecar" in why and "fc-v657" in why
    o2 = origin()
    o2.note_release("6.18.44-fc-v1147", "uname")
    assert o2.refusal("btf") is None


def test_btf_header_read_by_the_loader_decides_btf_names() -> None:
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 3185408, 3185408, 2321574)
    o = origin()
    o.note_btf_read(header)
    assert o.refusal("btf") is None
    assert o.refusal("tracepoint") is None  # one BTF, one kernel build
    # The BTF header outweighs a sidecar's release (same build, renamed machine?).
    o.note_release("6.18.44-other", "sidecar")
    assert o.refusal("tracepoint") is None
    other = origin()
    other.note_btf_read(struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 100, 100, 50))
    assert "differs" in (other.refusal("btf") or "")
    assert "differs" in (other.refusal("tracepoint") or "")


def test_resolver_refuses_and_says_why() -> None:
    r = Resolver(local=True, origin=origin(), _local_tp_cache={348: "syscalls:sys_enter_reboot"})
    r.note_kernel_version(version_code(5, 15, 122))
    assert r.tracepoint(348) is None
    assert "5.15.122" in (r.refusal("tracepoint") or "")
    # Names the log or the user gave are always used.
    r.tracepoints[348] = ("raw_syscalls:sys_enter", "file")
    assert r.tracepoint(348) == ("raw_syscalls:sys_enter", "file")
    # With local lookups off there is nothing to explain.
    assert Resolver(local=False, origin=origin()).refusal("tracepoint") is None


def test_resolver_reads_the_kernel_from_the_sidecar(tmp_path: Path) -> None:
    sidecar = tmp_path / "x.meta.json"
    sidecar.write_text('{"kernel": "5.10.0-28-amd64", "tracepoint_ids": {}}')
    r = Resolver(local=True, origin=origin(), _local_tp_cache={1: "a:b"})
    r.load_sidecar(sidecar)
    assert r.tracepoint(1) is None
    assert "5.10.0-28-amd64 (its sidecar says)" in (r.refusal("tracepoint") or "")


def test_resolver_learns_the_btf_header_from_a_read() -> None:
    r = Resolver(local=True, origin=origin())
    data = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, 3185408, 3185408, 2321574)
    r.learn_from_read("/sys/kernel/btf/vmlinux", data.decode("latin-1") + "\x01\x00")
    assert r.origin.btf == (3185408, 2321574)


# --------------------------------------------------------------------------------
# BTF


def _btf(types: list[tuple[str, int, int, bytes]]) -> bytes:
    """A little-endian BTF blob (hand-made for the test): (name, kind, vlen, extra)."""
    strings = b"\0"
    body = b""
    for name, kind, vlen, extra in types:
        off = len(strings) if name else 0
        if name:
            strings += name.encode() + b"\0"
        body += struct.pack("<III", off, (kind << 24) | vlen, 0) + extra
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(body), len(body), len(strings))
    return header + body + strings


def test_btf_walks_every_kind_size() -> None:
    blob = _btf([
        ("int", 1, 0, b"\0" * 4),                    # 1 INT (+4)
        ("", 2, 0, b""),                              # 2 PTR
        ("task_struct", 4, 2, b"\0" * 24),           # 3 STRUCT, 2 members
        ("", 13, 3, b"\0" * 24),                      # 4 FUNC_PROTO, 3 params
        ("btf_trace_block_rq_issue", 8, 0, b""),     # 5 TYPEDEF
        ("e", 6, 2, b"\0" * 16),                      # 6 ENUM, 2 values
        ("vfs_read", 12, 1, b""),                     # 7 FUNC (vlen = linkage)
        ("x", 3, 0, b"\0" * 12),                      # 8 ARRAY
        ("bpf_lsm_file_open", 12, 1, b""),            # 9 FUNC
        ("e64", 19, 1, b"\0" * 12),                   # 10 ENUM64
    ])
    b = Btf(blob)
    assert len(b) == 10
    issue = b.type(5)
    assert issue is not None and (issue.kind, issue.name) == ("typedef", "btf_trace_block_rq_issue")
    assert attach_target(issue, "tp_btf") == "block_rq_issue"
    read = b.type(7)
    assert read is not None and attach_target(read, "fentry") == "vfs_read"
    assert attach_target(read, "tp_btf") is None  # a function is not a tracepoint
    lsm = b.type(9)
    assert lsm is not None and attach_target(lsm, "lsm") == "file_open"
    assert b.type(0) is None and b.type(11) is None


def test_btf_rejects_what_it_cannot_read() -> None:
    with pytest.raises(BtfError):
        Btf(b"\0" * 24)
    with pytest.raises(BtfError):
        Btf(_btf([("x", 31, 0, b"")]))  # no such kind
    with pytest.raises(BtfError):
        Btf(_btf([("int", 1, 0, b"\0" * 4)])[:-8])  # truncated


@pytest.mark.live
def test_this_machines_vmlinux_btf() -> None:
    from bpfexplain.btf import vmlinux

    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        pytest.skip("this kernel has no vmlinux BTF")
    b = vmlinux()
    assert b is not None and len(b) > 1000
    ids = {}
    for i in range(1, len(b) + 1):
        t = b.type(i)
        assert t is not None
        if t.name in ("btf_trace_sched_switch", "vfs_read"):
            ids[t.name] = t
    assert attach_target(ids["btf_trace_sched_switch"], "tp_btf") == "sched_switch"
    assert attach_target(ids["vfs_read"], "fentry") == "vfs_read"


# --------------------------------------------------------------------------------
# uprobes and USDT


@pytest.mark.live
def test_usdt_and_symbols_of_real_binaries() -> None:
    from bpfexplain.deep.elfsyms import symbols_of

    # Debian's python3 is built with its USDT probes (a pyenv one may not be).
    python = "/usr/bin/python3"
    elf = symbols_of(os.path.realpath(python))
    if elf is None or not elf.usdt:
        pytest.skip("this python3 has no USDT probes")
    probe = next(p for p in elf.usdt if p.name == "function__entry")
    offset = elf.offset(probe.address)
    assert offset is not None
    r = Resolver(local=True, origin=LogOrigin(live=True))
    target = r.uprobe_target(os.path.realpath(python), offset)
    assert target is not None and (target.kind, target.name) == ("usdt", "python:function__entry")
    libc = "/lib/x86_64-linux-gnu/libc.so.6"
    if os.path.exists(libc):
        libc_elf = symbols_of(libc)
        assert libc_elf is not None
        malloc = next(s for s in libc_elf.symbols if s.name == "malloc")
        at = libc_elf.offset(malloc.value)
        assert at is not None
        found = r.uprobe_target(libc, at)
        assert found is not None and (found.kind, found.name) == ("symbol", "malloc")


def test_uprobe_targets_are_not_read_for_a_log_from_elsewhere() -> None:
    r = Resolver(local=True, origin=origin())
    r.note_kernel_version(version_code(5, 15, 122))
    assert r.uprobe_target("/bin/true", 0x1000) is None


@pytest.mark.parametrize(("text", "code"), [
    ("bpf(BPF_PROG_LOAD, {kern_version=KERNEL_VERSION(5, 15, 122)}, 128) = 9",
     version_code(5, 15, 122)),
    # -X verbose and -X raw print the same number differently.
    ("bpf(0x5 /* BPF_PROG_LOAD */, {kern_version=0x50f7a /* KERNEL_VERSION(5, 15, 122) */}, "
     "0x80) = 9", version_code(5, 15, 122)),
    ("bpf(0x5, {kern_version=0x61220}, 0x80) = 9", 0x61220),
    ("bpf(BPF_PROG_LOAD, {kern_version=KERNEL_VERSION(0, 0, 0)}, 128) = 9", 0),
])
def test_kern_version_in_every_x_style(text: str, code: int) -> None:
    from bpfexplain.grammar import parse_call_text
    from bpfexplain.tracking.fields import kernel_version

    args = parse_call_text(text)["args"]
    assert kernel_version(args[1]["kern_version"]) == code
