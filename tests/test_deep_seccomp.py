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
