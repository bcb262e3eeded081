"""The eBPF disassembler against text the kernel and bpftool print.

Expected lines are copied from ``bpftool prog dump xlated`` of a bpftrace program on
this project's test machine (helper numbers and map references differ there because
the kernel rewrote them: before loading a call names the helper id and a map is the
loader's fd), and from the verifier's printer for the instruction kinds bpftrace does
not emit.
"""

from __future__ import annotations

import pytest

from bpfexplain.deep import disasm
from bpfexplain.deep.disasm import Insn


def one(insn: Insn, *more: Insn) -> str:
    return disasm.insn_text([insn, *more], 0)


@pytest.mark.parametrize(("insn", "text"), [
    # ALU64 / ALU
    (Insn(0xBF, 6, 1, 0, 0), "r6 = r1"),
    (Insn(0xB7, 1, 0, 0, 0), "r1 = 0"),
    (Insn(0xB7, 2, 0, 0, 16), "r2 = 16"),
    (Insn(0x07, 1, 0, 0, -72), "r1 += -72"),
    (Insn(0xB4, 1, 0, 0, -1), "w1 = -1"),
    (Insn(0x0F, 1, 2, 0, 0), "r1 += r2"),
    (Insn(0x1C, 3, 4, 0, 0), "w3 -= w4"),
    (Insn(0x67, 1, 0, 0, 32), "r1 <<= 32"),
    (Insn(0xC7, 1, 0, 0, 32), "r1 s>>= 32"),
    (Insn(0x87, 1, 0, 0, 0), "r1 = -r1"),
    (Insn(0x84, 1, 0, 0, 0), "w1 = -w1"),
    (Insn(0x3F, 1, 2, 1, 0), "r1 s/= r2"),
    (Insn(0xBF, 1, 2, 8, 0), "r1 = (s8)r2"),
    (Insn(0xDC, 1, 0, 0, 16), "r1 = be16 r1"),
    (Insn(0xD4, 1, 0, 0, 64), "r1 = le64 r1"),
    (Insn(0xD7, 1, 0, 0, 32), "r1 = bswap32 r1"),
    # memory
    (Insn(0x7B, 10, 1, -64, 0), "*(u64 *)(r10 -64) = r1"),
    (Insn(0x79, 3, 6, 24, 0), "r3 = *(u64 *)(r6 +24)"),
    (Insn(0x71, 1, 10, -72, 0), "r1 = *(u8 *)(r10 -72)"),
    (Insn(0x61, 0, 1, 0, 0), "r0 = *(u32 *)(r1 +0)"),
    (Insn(0x62, 10, 0, -4, 7), "*(u32 *)(r10 -4) = 7"),
    (Insn(0x91, 0, 1, 2, 0), "r0 = *(s8 *)(r1 +2)"),
    (Insn(0xDB, 1, 2, 0, 0x00), "lock *(u64 *)(r1 +0) += r2"),
    (Insn(0xC3, 1, 2, 8, 0x01), "r2 = atomic_fetch_add((u32 *)(r1 +8), r2)"),
    (Insn(0xDB, 1, 2, 0, 0xE1), "r2 = atomic64_xchg((u64 *)(r1 +0), r2)"),
    (Insn(0xDB, 1, 2, 0, 0xF1), "r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)"),
    (Insn(0x30, 0, 0, 0, 12), "r0 = *(u8 *)skb[12]"),
    (Insn(0x48, 0, 2, 0, 4), "r0 = *(u16 *)skb[r2 + 4]"),
    # jumps and calls
    (Insn(0x55, 1, 0, 6, 0x63), "if r1 != 0x63 goto pc+6"),
    (Insn(0x15, 0, 0, 3, 0), "if r0 == 0x0 goto pc+3"),
    (Insn(0x2D, 1, 0, -43, 0), "if r1 > r0 goto pc-43"),
    (Insn(0xA6, 2, 0, 1, -1), "if w2 < 0xffffffff goto pc+1"),
    (Insn(0x05, 0, 0, -5, 0), "goto pc-5"),
    (Insn(0x06, 0, 0, 0, 1000), "gotol pc+1000"),
    (Insn(0x85, 0, 0, 0, 16), "call bpf_get_current_comm#16"),
    (Insn(0x85, 0, 0, 0, 1), "call bpf_map_lookup_elem#1"),
    (Insn(0x85, 0, 0, 0, 114), "call bpf_probe_read_user_str#114"),
    (Insn(0x85, 0, 1, 0, 7), "call pc+7"),
    (Insn(0x85, 0, 2, 0, 12345), "call kernel-function#12345"),
    (Insn(0x85, 0, 0, 0, 99999), "call unknown#99999"),
    (Insn(0x95, 0, 0, 0, 0), "exit"),
])
def test_single_instruction(insn: Insn, text: str) -> None:
    assert one(insn) == text


def test_ld_imm64_forms() -> None:
    pair = Insn(0, 0, 0, 0, 0)
    assert one(Insn(0x18, 1, 1, 0, 3), pair) == "r1 = map[fd:3]"
    assert one(Insn(0x18, 2, 2, 0, 5), Insn(0, 0, 0, 0, 16)) == "r2 = map[fd:5][0]+16"
    assert one(Insn(0x18, 1, 0, 0, 0), Insn(0, 0, 0, 0, 0x65)) == "r1 = 0x6500000000"
    assert one(Insn(0x18, 3, 0, 0, -1), pair) == "r3 = 0xffffffff"
    assert one(Insn(0x18, 1, 5, 0, 1), pair) == "r1 = map[idx:1]"
    assert disasm.insn_text([Insn(0x18, 1, 5, 0, 1), pair], 0, fd_array=[7, 9]) == \
        "r1 = map[fd:9]"
    assert one(Insn(0x18, 1, 4, 0, 12), pair) == "r1 = subprog[+12]"


def test_listing_skips_the_second_half_of_ld_imm64() -> None:
    prog = [
        Insn(0xBF, 6, 1, 0, 0),
        Insn(0x18, 1, 1, 0, 3), Insn(0, 0, 0, 0, 0),
        Insn(0xBF, 2, 10, 0, 0),
        Insn(0x07, 2, 0, 0, -16),
        Insn(0x85, 0, 0, 0, 1),
        Insn(0x95, 0, 0, 0, 0),
    ]
    assert disasm.disassemble(prog) == [
        "   0: (bf) r6 = r1",
        "   1: (18) r1 = map[fd:3]",
        "   3: (bf) r2 = r10",
        "   4: (07) r2 += -16",
        "   5: (85) call bpf_map_lookup_elem#1",
        "   6: (95) exit",
    ]


def test_roundtrip_through_bytes() -> None:
    prog = [Insn(0x79, 0, 10, -8, 0), Insn(0x18, 1, 1, 0, 4), Insn(0, 0, 0, 0, 0)]
    raw = b"".join(i.pack() for i in prog)
    assert raw[:8].hex() == "79a0f8ff00000000"        # dst in the low nibble
    assert disasm.unpack(raw) == prog
    assert disasm.unpack(raw + b"\x01\x02") == prog     # a torn tail is dropped


def test_map_references_and_helpers() -> None:
    pair = Insn(0, 0, 0, 0, 0)
    prog = [
        Insn(0x18, 1, 1, 0, 4), pair,
        Insn(0x18, 1, 2, 0, 3), Insn(0, 0, 0, 0, 8),
        Insn(0x18, 1, 1, 0, 4), pair,
        Insn(0x18, 1, 6, 0, 0), pair,
        Insn(0x18, 1, 0, 0, 5), pair,              # a plain constant, not a map
        Insn(0x85, 0, 0, 0, 14),
        Insn(0x85, 0, 0, 0, 25),
        Insn(0x85, 0, 0, 0, 14),
        Insn(0x95, 0, 0, 0, 0),
    ]
    assert disasm.map_fds(prog) == [4, 3]
    assert disasm.map_fds(prog, fd_array=[11]) == [4, 3, 11]
    assert disasm.fd_array_indexes(prog) == [0]
    assert disasm.helpers_used(prog) == ["bpf_get_current_pid_tgid", "bpf_perf_event_output"]


def test_helper_table_matches_the_installed_header() -> None:
    import re
    from pathlib import Path

    header = Path("/usr/include/linux/bpf.h")
    if not header.exists():
        pytest.skip("no kernel UAPI headers")
    text = header.read_text()
    start = text.index("#define __BPF_FUNC_MAPPER(FN")
    body = text[start:text.index("\n\n", start)]
    names = re.findall(r"FN\((\w+)", body)
    if names and names[0] == "FN":
        names = names[1:]
    # 6.1 lists bare names; 6.2+ writes FN(name, id, ##ctx)
    names = [n for n in names if n not in ("x",)]
    assert list(disasm.HELPERS[:len(names)]) == names
