"""``bpfexplain run`` on loaders that start threads (issue 10): real bpftrace, as root.

bpftrace's own tools with ``#include`` (and execsnoop.bt) start threads that end with
``exit(0) = ?``; ``run`` used to die there, SIGKILL the loader and write no sidecar.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.test_live import attachments, command_process, no_programs_left, programs, run_json

__all__ = ["no_programs_left"]  # the fixture, imported so that pytest finds it here

EXECSNOOP_BT = Path("/usr/sbin/execsnoop.bt")
THREAD_EXIT = re.compile(r"^(\d+) +[\d.]+ exit\(0\) += \?$", re.M)


@pytest.mark.live("bpftrace", "bpftool")
def test_execsnoop_bt_threads_do_not_end_the_run(
        tmp_path: Path, no_programs_left: list[dict[str, Any]]) -> None:
    if not EXECSNOOP_BT.is_file():
        pytest.skip(f"{EXECSNOOP_BT} not installed (bpftrace's tools)")
    log = tmp_path / "trace.log"
    proc, doc = run_json(tmp_path, "--quiet-live", "--duration", "4", "--save", str(log), "--",
                         "bpftrace", str(EXECSNOOP_BT), timeout=90)
    no_programs_left.append(doc)
    assert "internal error" not in proc.stderr, proc.stderr
    # bpftrace was stopped by --duration's SIGINT and ended normally, not SIGKILLed
    bpftrace = command_process(doc, "bpftrace")
    assert bpftrace["exit_signal"] is None and bpftrace["exit_code"] == 0, bpftrace
    assert proc.returncode == 0, proc.stderr
    # --save wrote the log and its sidecar
    meta = json.loads((tmp_path / "trace.log.meta.json").read_text())
    assert "tracepoint_ids" in meta
    # the threads (each ends with exit(0) = ?) are bpftrace's, not processes of their own
    threads = {int(m.group(1)) for m in THREAD_EXIT.finditer(log.read_text())}
    assert threads, "no thread exit in the log: nothing tested"
    assert not threads & {p["pid"] for p in doc["processes"]}, doc["processes"]
    points = sorted(a["attach_point"] for a in attachments(doc))
    assert points == ["tracepoint:syscalls:sys_enter_execve",
                      "tracepoint:syscalls:sys_enter_execveat"]
    assert all(p["closed_line"] is not None for p in programs(doc))
