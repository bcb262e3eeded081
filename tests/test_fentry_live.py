"""``bpfexplain run`` on a real fentry/fexit loader, as root (issue 10).

The loader of the ``libbpf-fentry`` fixture (fixtures/src/fentry/) is built here with
clang and libbpf.  A live run is this machine, so the programs' ``attach_btf_id`` is
named from this kernel's vmlinux BTF.  Whether this kernel can run fentry programs
decides what happens next; both outcomes are checked: refused (the fixture's machine:
EPERM at load, the loader exits 1 and the story blames the load) or attached (a kernel
with BPF trampolines: both programs attached to their named functions).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.test_live import attachments, command_process, no_programs_left, run_json

__all__ = ["no_programs_left"]  # the fixture, imported so that pytest finds it here

SRC = Path(__file__).resolve().parent.parent / "fixtures" / "src" / "fentry"


def build(tmp: Path) -> tuple[Path, Path]:
    for f in SRC.glob("*.c"):
        shutil.copy(f, tmp / f.name)
    obj, loader = tmp / "fentry.bpf.o", tmp / "fentryload"
    subprocess.run(["clang", "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86",
                    "-I/usr/include/x86_64-linux-gnu", "-c", "fentry.bpf.c", "-o", str(obj)],
                   cwd=tmp, check=True, capture_output=True, timeout=120)
    subprocess.run(["gcc", "-O2", "-o", str(loader), "fentryload.c", "-lbpf"],
                   cwd=tmp, check=True, capture_output=True, timeout=120)
    return loader, obj


@pytest.mark.live("clang", "gcc", "bpftool")
def test_fentry_loader_named_and_its_outcome_told(
        tmp_path: Path, no_programs_left: list[dict[str, Any]]) -> None:
    loader, obj = build(tmp_path)
    proc, doc = run_json(tmp_path, "--quiet-live", "--", str(loader), str(obj), timeout=90)
    no_programs_left.append(doc)
    assert "internal error" not in proc.stderr, proc.stderr
    me = command_process(doc, "fentryload")
    refused = [f for f in doc["failures"] if f["call"] == "BPF_PROG_LOAD"
               and f.get("attrs", {}).get("prog_name") == "on_vfs_read"]
    if refused:
        for f in refused:
            assert f["attrs"]["attach_target"] == "fentry:vfs_read"
            assert f["attrs"]["attach_target_source"] == "local"
            assert not f["probe"]
        assert me["exit_code"] == 1
        assert not attachments(doc)
    else:
        points = sorted(a["attach_point"] for a in attachments(doc))
        assert points == ["fentry:vfs_read", "fexit:vfs_write"], doc["failures"]
        assert me["exit_code"] == 0
