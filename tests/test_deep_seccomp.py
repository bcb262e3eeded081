"""The seccomp filter stops exactly the syscalls framing keeps, per architecture."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bpfexplain.deep import seccomp
from bpfexplain.deep.seccomp import (
    AUDIT_ARCH_AARCH64,
    AUDIT_ARCH_I386,
    AUDIT_ARCH_X86_64,
    SECCOMP_RET_ALLOW,
    SECCOMP_RET_TRACE,
    X32_SYSCALL_BIT,
)
from bpfexplain.framing import INTERESTING


@pytest.mark.parametrize("arch", [AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64])
def test_filter_traces_exactly_the_interesting_syscalls(arch: int) -> None:
    prog = seccomp.build_filter(arch)
    wanted = seccomp.numbers(arch)
    assert set(wanted.values()) <= INTERESTING
    for nr in range(600):
        if wanted.get(nr) in seccomp.ARG_TESTS:
            continue    # traced for some arguments only: see the argument tests below
        expected = SECCOMP_RET_TRACE if nr in wanted else SECCOMP_RET_ALLOW
        assert seccomp.run_filter(prog, nr, arch) == expected, nr


def test_foreign_and_x32_tracees_are_traced_so_they_can_be_refused() -> None:
    prog = seccomp.build_filter(AUDIT_ARCH_X86_64)
    assert seccomp.run_filter(prog, 1, AUDIT_ARCH_I386) == SECCOMP_RET_TRACE
    # 514 is x32's ioctl: python-ptrace's table lists it as "ioctl" too
    assert seccomp.run_filter(prog, 514 | X32_SYSCALL_BIT, AUDIT_ARCH_X86_64) == \
        SECCOMP_RET_TRACE
    assert seccomp.run_filter(prog, 1, AUDIT_ARCH_X86_64) == SECCOMP_RET_ALLOW   # write


def test_filter_packs_as_struct_sock_filter() -> None:
    raw = seccomp.pack_filter(seccomp.build_filter(AUDIT_ARCH_X86_64))
    assert len(raw) % 8 == 0
    # first instruction: BPF_LD|BPF_W|BPF_ABS of seccomp_data.arch (offset 4)
    assert raw[:8] == bytes.fromhex("2000000004000000")


def _header_numbers(path: Path, pattern: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for m in re.finditer(pattern, path.read_text()):
        found[m.group(1)] = int(m.group(2))
    return found


def test_x86_64_numbers_match_the_installed_header() -> None:
    header = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
    if not header.exists():
        pytest.skip("no x86_64 unistd header")
    numbers = _header_numbers(header, r"#define __NR_(\w+) (\d+)")
    for name, nr in seccomp.X86_64_SYSCALLS.items():
        assert numbers[name] == nr, name


def test_aarch64_numbers_match_the_generic_header() -> None:
    header = Path("/usr/include/asm-generic/unistd.h")
    if not header.exists():
        pytest.skip("no asm-generic unistd header")
    numbers = _header_numbers(header, r"#define __NR(?:3264)?_(\w+) (\d+)")
    for name, nr in seccomp.AARCH64_SYSCALLS.items():
        assert numbers[name] == nr, name


# -- argument tests: the filter drops in the kernel exactly what the decoders drop -------

def _arg_sweeps() -> dict[str, list[tuple[int, ...]]]:
    """Argument tuples for every syscall the filter tests on an argument: every value
    its test names, neighbours, other bits, and high words that must not matter."""
    from bpfexplain import knowledge as kn

    mmap_flags = [f | high for f in range(0, 0x200) for high in (0, 0x1_0000_0000)]
    mmap_flags += [0x22, 0x802, 0x100001, 0x4000_0001, 0xFFFF_FFFF, 0xFFFF_FFFE]
    requests = set(range(0, 0x10000, 0x37)) | {entry.number for entry in kn.PERF_IOCTL}
    requests |= {0x8910, 0x8933, 0x8911, 0x8932, 0x2400, 0x24FF, 0x2500, 0x23FF, 0x5401,
                 0x4008_2406, 0xC008_2401, 0x1_0000_2401, 0xFFFF_24FF, 0xFFFF_FFFF}
    requests |= {r | 0x1_0000_0000 for r in (0x8933, 0x5401)}
    return {
        "mmap": [(0, 4096, 3, f, 5, 0) for f in mmap_flags],
        "fcntl": [(3, cmd, 0) for cmd in (*range(0, 1100), 0x1_0000_0000 | 1030,
                                          0x1_0000_0000, 0xFFFF_FFFF)],
        "ioctl": [(3, r, 0) for r in sorted(requests)],
    }


@pytest.mark.parametrize("arch", [AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64])
def test_argument_tests_agree_with_the_decoders(arch: int) -> None:
    from bpfexplain.deep.syscalls import ENTRY, Context
    from tests.test_deep_structs import FakeTracee

    prog = seccomp.build_filter(arch)
    by_name = {name: nr for nr, name in seccomp.numbers(arch).items()}
    sweeps = _arg_sweeps()
    assert set(sweeps) == set(seccomp.ARG_TESTS)
    for name, cases in sweeps.items():
        traced = 0
        for args in cases:
            kept = ENTRY[name](Context(arch), FakeTracee(), args) is not None
            verdict = seccomp.run_filter(prog, by_name[name], arch, args)
            assert verdict == (SECCOMP_RET_TRACE if kept else SECCOMP_RET_ALLOW), \
                (name, [hex(a) for a in args])
            traced += kept
        assert 0 < traced < len(cases), name   # both ways, or the sweep tests nothing
