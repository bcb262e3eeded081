"""Which syscalls stop the tracee, per architecture, and the seccomp filter that says so.

Without a filter, ptrace stops the tracee twice on *every* syscall; a loader such as
bpftrace makes tens of thousands of them (page faults aside, mostly futex, mmap of
LLVM, reads of BTF), and each stop costs a round trip through this Python process.
A classic BPF program attached with ``seccomp(SECCOMP_SET_MODE_FILTER)`` returns
``SECCOMP_RET_TRACE`` only for the syscalls the explainer reads (the same set as
:data:`bpfexplain.framing.INTERESTING`) and ``SECCOMP_RET_ALLOW`` for the rest, so
the tracee stops only where it matters.  The set comes from :mod:`bpfexplain.traced`
(framing's ``INTERESTING`` is the same set), which imports nothing: the filter is
built before the command starts, so framing's regexes must not hold it back.

Numbers come from ``arch/x86/entry/syscalls/syscall_64.tbl`` (installed as
``/usr/include/x86_64-linux-gnu/asm/unistd_64.h``) and from the generic table aarch64
uses (``/usr/include/asm-generic/unistd.h``); ``tests/test_deep_seccomp.py`` checks
them against those headers when present.  The filter layout follows
``/usr/include/linux/filter.h`` (``struct sock_filter``: u16 code, u8 jt, u8 jf,
u32 k) and ``/usr/include/linux/seccomp.h`` (``struct seccomp_data``: int nr at
offset 0, u32 arch at 4).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping

from bpfexplain.plain import Frozen, init_field
from bpfexplain.traced import TRACED as INTERESTING

# linux/audit.h: EM_* | __AUDIT_ARCH_64BIT (0x80000000) | __AUDIT_ARCH_LE (0x40000000)
AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_AARCH64 = 0xC00000B7
AUDIT_ARCH_I386 = 0x40000003
AUDIT_ARCH_ARM = 0x40000028

# x32 shares AUDIT_ARCH_X86_64 and marks its numbers with this bit
# (arch/x86/include/uapi/asm/unistd.h: __X32_SYSCALL_BIT).
X32_SYSCALL_BIT = 0x40000000

ARCH_NAMES: Mapping[int, str] = {
    AUDIT_ARCH_X86_64: "x86_64",
    AUDIT_ARCH_AARCH64: "aarch64",
    AUDIT_ARCH_I386: "i386",
    AUDIT_ARCH_ARM: "arm",
}

# Only the syscalls of framing.INTERESTING that exist on each architecture.  aarch64
# has no open, dup2, fork or vfork: its libc uses openat, dup3 and clone.
X86_64_SYSCALLS: Mapping[str, int] = {
    "read": 0, "open": 2, "close": 3, "mmap": 9, "ioctl": 16, "dup": 32, "dup2": 33,
    "clone": 56, "fork": 57, "vfork": 58, "execve": 59, "exit": 60, "fcntl": 72,
    "exit_group": 231, "openat": 257, "dup3": 292, "perf_event_open": 298, "bpf": 321,
    "execveat": 322, "clone3": 435, "close_range": 436, "openat2": 437,
    "socket": 41, "sendto": 44, "recvfrom": 45, "sendmsg": 46, "recvmsg": 47,
    "setsockopt": 54,
}

AARCH64_SYSCALLS: Mapping[str, int] = {
    "dup": 23, "dup3": 24, "fcntl": 25, "ioctl": 29, "openat": 56, "close": 57,
    "read": 63, "exit": 93, "exit_group": 94, "clone": 220, "execve": 221, "mmap": 222,
    "perf_event_open": 241, "bpf": 280, "execveat": 281, "clone3": 435,
    "close_range": 436, "openat2": 437, "socket": 198, "sendto": 206, "recvfrom": 207,
    "setsockopt": 208, "sendmsg": 211, "recvmsg": 212,
}

SYSCALLS_BY_ARCH: Mapping[int, Mapping[str, int]] = {
    AUDIT_ARCH_X86_64: X86_64_SYSCALLS,
    AUDIT_ARCH_AARCH64: AARCH64_SYSCALLS,
}

MACHINE_ARCH: Mapping[str, int] = {"x86_64": AUDIT_ARCH_X86_64, "aarch64": AUDIT_ARCH_AARCH64}
"""``platform.machine()`` to the audit arch of native (64-bit) tracees."""

# linux/filter.h and linux/bpf_common.h opcodes used below
_BPF_LD_W_ABS = 0x20   # BPF_LD | BPF_W | BPF_ABS
_BPF_JEQ_K = 0x15      # BPF_JMP | BPF_JEQ | BPF_K
_BPF_JSET_K = 0x45     # BPF_JMP | BPF_JSET | BPF_K
_BPF_AND_K = 0x54      # BPF_ALU | BPF_AND | BPF_K
_BPF_RET_K = 0x06      # BPF_RET | BPF_K

# linux/seccomp.h
SECCOMP_RET_TRACE = 0x7FF00000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_SET_MODE_FILTER = 1

_OFF_NR = 0     # struct seccomp_data.nr
_OFF_ARCH = 4   # struct seccomp_data.arch
_OFF_ARGS = 16  # struct seccomp_data.args[6], u64 each; the low word first (both arches
                # are little-endian)


class ArgTest(Frozen):
    """Trace a syscall only when the low word of argument ``arg``, masked with
    ``mask``, equals one of ``values`` (``mask=0``: no mask)."""

    __slots__ = _fields = ("arg", "values", "mask")

    arg: int
    values: tuple[int, ...]
    mask: int

    def __init__(self, arg: int, values: tuple[int, ...], mask: int = 0) -> None:
        init_field(self, "arg", arg)
        init_field(self, "values", values)
        init_field(self, "mask", mask)


# Syscalls of the set whose decoders (bpfexplain.deep.syscalls) drop most calls at
# entry, decided on one argument: the filter decides the same in the kernel, so those
# calls never stop the tracee at all.  bpftrace alone makes ~100 private mmaps (its
# libraries) against 2 shared ones (its perf buffers): a quarter of all its stops.
# tests/test_deep_seccomp.py holds each test to its decoder over sweeps of values.
ARG_TESTS: Mapping[str, tuple[ArgTest, ...]] = {
    # MAP_SHARED (0x01; MAP_SHARED_VALIDATE 0x03 has it too): perf and ring buffers
    "mmap": (ArgTest(3, (0x01,), mask=0x01),),
    # F_DUPFD, F_DUPFD_CLOEXEC: the fcntls that make an fd
    "fcntl": (ArgTest(1, (0, 1030)),),
    # SIOCGIFNAME, SIOCGIFINDEX (ifindex lookups of attach routes), and the perf
    # ioctls: type '$' (0x24) in _IOC(dir, type, nr, size)
    "ioctl": (ArgTest(1, (0x8910, 0x8933)), ArgTest(1, (0x2400,), mask=0xFF00)),
}


class Insn(Frozen):
    """One classic BPF instruction (``struct sock_filter``)."""

    __slots__ = _fields = ("code", "jt", "jf", "k")

    code: int
    jt: int
    jf: int
    k: int

    def __init__(self, code: int, jt: int, jf: int, k: int) -> None:
        init_field(self, "code", code)
        init_field(self, "jt", jt)
        init_field(self, "jf", jf)
        init_field(self, "k", k)

    def pack(self) -> bytes:
        return struct.pack("<HBBI", self.code, self.jt, self.jf, self.k)


def numbers(arch: int, names: Iterable[str] = INTERESTING) -> dict[int, str]:
    """Syscall number -> name for ``arch``, limited to ``names`` (unknown arch: empty)."""
    table = SYSCALLS_BY_ARCH.get(arch, {})
    wanted = set(names)
    return {nr: name for name, nr in table.items() if name in wanted}


def build_filter(native: int, names: Iterable[str] = INTERESTING) -> list[Insn]:
    """The filter program: trace ``names`` for the native arch, and everything foreign.

    Foreign tracees (i386 or x32 on x86_64, arm on aarch64) are traced on every syscall
    so the backend sees their first one and can say clearly that they are not supported,
    rather than silently missing their bpf() calls.  Syscalls with :data:`ARG_TESTS`
    jump to a block of their own after the main chain (classic BPF jumps only forward),
    which ends in its own RET TRACE / RET ALLOW.
    """
    table = numbers(native, names)
    if not table:
        raise ValueError(f"no syscall table for audit arch {native:#x}")
    nrs = sorted(table)
    x32_check = native == AUDIT_ARCH_X86_64
    header = 3 + (1 if x32_check else 0)
    trace_at = header + len(nrs) + 1    # the RET TRACE after the compare chain and RET ALLOW

    blocks: dict[int, list[Insn]] = {}
    for nr in nrs:
        tests = ARG_TESTS.get(table[nr])
        if tests:
            blocks[nr] = _arg_block(tests)
    block_at: dict[int, int] = {}
    at = trace_at + 1
    for nr, block in blocks.items():
        block_at[nr] = at
        at += len(block)

    def to(target: int, here: int) -> int:
        return target - here - 1

    prog: list[Insn] = [Insn(_BPF_LD_W_ABS, 0, 0, _OFF_ARCH)]
    # arch == native ? go on : trace (to report the foreign tracee)
    prog.append(Insn(_BPF_JEQ_K, 0, to(trace_at, 1), native))
    prog.append(Insn(_BPF_LD_W_ABS, 0, 0, _OFF_NR))
    if x32_check:
        prog.append(Insn(_BPF_JSET_K, to(trace_at, 3), 0, X32_SYSCALL_BIT))
    for i, nr in enumerate(nrs):
        prog.append(Insn(_BPF_JEQ_K, to(block_at.get(nr, trace_at), header + i), 0, nr))
    prog.append(Insn(_BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    prog.append(Insn(_BPF_RET_K, 0, 0, SECCOMP_RET_TRACE))
    assert len(prog) - 1 == trace_at, (len(prog), trace_at)
    for block in blocks.values():
        prog.extend(block)
    if any(i.jt > 255 or i.jf > 255 for i in prog):
        raise ValueError("seccomp filter too long for 8-bit jumps")
    return prog


def _arg_block(tests: tuple[ArgTest, ...]) -> list[Insn]:
    """Compare the arguments; any match jumps to the block's RET TRACE at its end."""
    body: list[Insn] = []
    for test in tests:
        body.append(Insn(_BPF_LD_W_ABS, 0, 0, _OFF_ARGS + 8 * test.arg))
        if test.mask:
            body.append(Insn(_BPF_AND_K, 0, 0, test.mask))
        body.extend(Insn(_BPF_JEQ_K, 0, 0, value) for value in test.values)
    body.append(Insn(_BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    trace_at = len(body)
    # fill in the jumps to the RET TRACE placed after the RET ALLOW
    block = [Insn(i.code, trace_at - n - 1, 0, i.k) if i.code == _BPF_JEQ_K else i
             for n, i in enumerate(body)]
    block.append(Insn(_BPF_RET_K, 0, 0, SECCOMP_RET_TRACE))
    return block


def pack_filter(prog: list[Insn]) -> bytes:
    return b"".join(insn.pack() for insn in prog)


def run_filter(prog: list[Insn], nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """Interpret the filter for one syscall (tests check the jumps this way)."""
    acc = 0
    pc = 0
    data = {_OFF_NR: nr & 0xFFFFFFFF, _OFF_ARCH: arch}
    for i, value in enumerate(args):
        data[_OFF_ARGS + 8 * i] = value & 0xFFFFFFFF
        data[_OFF_ARGS + 8 * i + 4] = (value >> 32) & 0xFFFFFFFF
    while True:
        insn = prog[pc]
        if insn.code == _BPF_LD_W_ABS:
            acc = data.get(insn.k, 0)
            pc += 1
        elif insn.code == _BPF_AND_K:
            acc &= insn.k
            pc += 1
        elif insn.code == _BPF_JEQ_K:
            pc += 1 + (insn.jt if acc == insn.k else insn.jf)
        elif insn.code == _BPF_JSET_K:
            pc += 1 + (insn.jt if acc & insn.k else insn.jf)
        elif insn.code == _BPF_RET_K:
            return insn.k
        else:
            raise ValueError(f"unexpected opcode {insn.code:#x}")
