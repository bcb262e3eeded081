"""Backend pieces that need no tracee: refusals, machine facts, the wait-status plumbing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bpfexplain.deep import backend, seccomp
from bpfexplain.errors import EnvironmentProblem


def test_supported_here_or_says_why() -> None:
    reason = backend.deep_supported()
    if os.uname().machine in seccomp.MACHINE_ARCH and Path("/proc/self/status").exists():
        assert reason is None or "ptrace" in reason
    else:
        assert reason is not None and "\n" not in reason


def test_foreign_architectures_are_refused_clearly() -> None:
    tracer = backend.Tracer.__new__(backend.Tracer)
    thread = backend._Thread(1234, None, None, 1234, comm="old32")  # type: ignore[arg-type]
    with pytest.raises(EnvironmentProblem, match=r"32-bit \(i386\).*strace backend"):
        tracer._foreign(thread, seccomp.AUDIT_ARCH_I386, 5)
    with pytest.raises(EnvironmentProblem, match="x32"):
        tracer._foreign(thread, seccomp.AUDIT_ARCH_X86_64, 514 | seccomp.X32_SYSCALL_BIT)


def test_32bit_executables_are_refused_before_starting(tmp_path: Path) -> None:
    if backend.deep_supported() is not None:
        pytest.skip("deep mode cannot run here")
    prog = tmp_path / "prog32"
    prog.write_bytes(b"\x7fELF\x01\x01\x01" + b"\0" * 60)
    prog.chmod(0o755)
    with pytest.raises(EnvironmentProblem, match="32-bit"):
        backend.trace_command([str(prog)])
    with pytest.raises(EnvironmentProblem, match="command not found"):
        backend.trace_command(["no-such-command-bpfexplain"])
    with pytest.raises(EnvironmentProblem, match="no command"):
        backend.trace_command([])


def test_machine_facts() -> None:
    assert backend._possible_cpus() >= 1
    for pmu in backend._pmus().values():
        assert pmu.name in ("uprobe", "kprobe") and pmu.type >= 6

