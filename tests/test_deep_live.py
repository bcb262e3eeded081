"""Deep mode against real loaders, as root: what it reads, and that it agrees with strace.

Each test traces a real command with :func:`trace_command`, checks the extras only
memory can give (instructions that match ``insn_cnt``, the maps a program references,
the uprobe's symbol, the verifier log), then traces the same command with strace and
checks that the tracker builds the same graph from both on every shared field.
Every command runs under ``timeout`` so a hang cannot stall the suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bpfexplain.deep import seccomp
from bpfexplain.deep.backend import trace_command
from bpfexplain.framing import Stats
from bpfexplain.parser import parse_events
from bpfexplain.resolve import Resolver
from bpfexplain.tracking import Lifecycle, Tracker
from bpfexplain.values import Call, Event, Exit, Signal

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
TRACEPOINT = "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); exit(); }"
UPROBE = f"uprobe:{LIBC}:malloc {{ @ = count(); exit(); }}"


def deep(cmd: list[str]) -> tuple[list[Event], int]:
    return trace_command(["timeout", "-s", "INT", "20", *cmd])


def strace(cmd: list[str], tmp_path: Path) -> list[Event]:
    import platform

    arch = seccomp.MACHINE_ARCH[platform.machine()]
    names = ",".join(sorted(seccomp.SYSCALLS_BY_ARCH[arch]))
    log = tmp_path / "strace.log"
    subprocess.run(["strace", "-f", "-s", "256", "-o", str(log), "-e", f"trace={names}",
                    "timeout", "-s", "INT", "20", *cmd],
                   check=False, capture_output=True, timeout=60)
    with open(log, "rb") as fh:
        return list(parse_events([(str(log), fh)], Stats()))


def bpf_calls(events: list[Event], cmd: str) -> list[Call]:
    return [e for e in events if isinstance(e, Call) and e.name == "bpf"
            and str(e.args[0]) == cmd]


def attr(call: Call) -> dict[str, Any]:
    value = call.args[1]
    assert isinstance(value, dict)
    return value


def lifecycle(events: list[Event]) -> Lifecycle:
    return Tracker(Resolver(local=True)).feed_all(events)


_SHARED = ("prog_type", "prog_name", "insn_cnt", "license", "expected_attach_type",
           "map_type", "map_name", "key_size", "value_size", "max_entries", "type", "config")


def machine_wide(what: str) -> bool:
    """An object or failure of a walk over the kernel's ids (bpftrace walks every BTF
    object: BTF_GET_NEXT_ID, then BTF_GET_FD_BY_ID and its info): how many there are
    depends on what other processes have loaded at that moment, not on the backend."""
    return "GET_FD_BY_ID" in what or "GET_NEXT_ID" in what


def graph(lc: Lifecycle) -> dict[str, Any]:
    """The tracker's view without what differs between two runs (fds, pids, lines,
    the machine's other eBPF objects)."""
    objects = []
    for o in lc.objects:
        if machine_wide(o.via):
            continue
        if o.kind in ("prog", "map", "perf_event", "link", "btf", "raw_tracepoint", "pinned"):
            attrs = {k: v for k, v in o.attrs.items() if k in _SHARED}
            objects.append((o.kind, o.name, o.probe, o.end, attrs, len(o.attachments),
                            sorted(m.name for m in o.maps if o.kind != "prog")))
    attachments = [(a.prog.name, a.via, a.attach_type, a.enabled, a.end)
                   for a in lc.attachments]
    failures = [(f.call, f.errno, f.probe) for f in lc.failures
                if f.call != "openat" and not machine_wide(f.call)]
    return {"objects": objects, "attachments": attachments, "failures": failures}


def assert_same_graph(deep_events: list[Event], strace_events: list[Event]) -> Lifecycle:
    a, b = lifecycle(deep_events), lifecycle(strace_events)
    ga, gb = graph(a), graph(b)
    assert ga["objects"] == gb["objects"]
    assert ga["attachments"] == gb["attachments"]
    assert ga["failures"] == gb["failures"]
    return a


def real_loads(events: list[Event]) -> list[Call]:
    return [c for c in bpf_calls(events, "BPF_PROG_LOAD")
            if c.ok and attr(c)["insn_cnt"] > 2]


def check_program_extras(call: Call, events: list[Event]) -> None:
    assert call.deep is not None
    assert len(call.deep["insns"]) == attr(call)["insn_cnt"]
    lines = call.deep["disasm"]
    assert lines[-1].endswith("exit")
    assert call.deep["prog_id"] > 0
    # every referenced map fd is a map this process created or opened before the load
    maps = {c.result for c in bpf_calls(events, "BPF_MAP_CREATE")
            if c.ok and c.pid == call.pid and c.origin.line < call.origin.line}
    assert call.deep["map_fds"], "the program uses maps"
    assert set(call.deep["map_fds"]) <= maps
    for fd in call.deep["map_fds"]:
        assert any(f"map[fd:{fd}]" in line for line in lines)


@pytest.mark.live("bpftrace")
def test_bpftrace_tracepoint(tmp_path: Path) -> None:
    cmd = ["bpftrace", "-e", TRACEPOINT]
    events, status = deep(cmd)
    assert status == 0
    (load,) = real_loads(events)
    assert attr(load)["prog_type"] == "BPF_PROG_TYPE_TRACEPOINT"
    check_program_extras(load, events)
    lc = assert_same_graph(events, strace(cmd, tmp_path))
    (prog,) = lc.real_programs()
    assert prog.attachments[0].attach_point == "tracepoint:raw_syscalls:sys_enter"
    assert load.deep is not None
    assert prog.deep["insns"] and prog.attrs["prog_id"] == load.deep["prog_id"]
    exits = [e for e in events if isinstance(e, Exit)]
    assert exits[-1].code == 0


@pytest.mark.live("bpftrace")
def test_bpftrace_uprobe_on_malloc(tmp_path: Path) -> None:
    if not Path(LIBC).exists():
        pytest.skip("no x86_64 glibc at the expected path")
    cmd = ["bpftrace", "-e", UPROBE]
    events, status = deep(cmd)
    assert status == 0
    (load,) = real_loads(events)
    assert attr(load)["prog_name"] == "malloc"
    check_program_extras(load, events)
    uprobes = [c for c in events if isinstance(c, Call) and c.name == "perf_event_open"
               and c.deep and "uprobe" in c.deep]
    (opened,) = uprobes
    assert opened.deep is not None
    assert opened.deep["uprobe"]["path"] == LIBC
    assert opened.deep["uprobe"]["symbol"] == "malloc"
    assert opened.deep["uprobe"]["retprobe"] is False
    lc = assert_same_graph(events, strace(cmd, tmp_path))
    (prog,) = lc.real_programs()
    assert prog.attachments[0].attach_point == f"uprobe:{LIBC}:malloc"


@pytest.mark.live("bpftrace")
def test_exec_through_a_shell_keeps_memory_reads_working() -> None:
    # the shell exec()s bpftrace in the same pid: the /proc/PID/mem handle must be
    # reopened, or it reads the dead address space and gets nothing (the program's
    # instructions, read after the exec, would be missing)
    events, status = deep(["sh", "-c", f"exec bpftrace -e '{TRACEPOINT}'"])
    assert status == 0
    execs = [e for e in events if isinstance(e, Call) and e.name == "execve" and e.ok]
    # timeout, then sh, then bpftrace in sh's pid
    assert [str(e.args[0]).rsplit("/", 1)[-1] for e in execs] == ["timeout", "sh", "bpftrace"]
    assert execs[1].pid == execs[2].pid
    (load,) = real_loads(events)
    check_program_extras(load, events)


@pytest.mark.live("execsnoop")
def test_libbpf_tools_execsnoop(tmp_path: Path) -> None:
    # timeout sends SIGINT after 2 s, as a user's Ctrl-C would
    cmd = ["timeout", "-s", "INT", "2", "execsnoop"]
    events, _ = trace_command(cmd)
    # its two programs, not libbpf's feature probes: the tracker tells them apart
    real = {p.line for p in lifecycle(events).real_programs()}
    loads = [c for c in real_loads(events) if c.origin.line in real]
    assert len(loads) == 2
    assert {attr(c)["prog_type"] for c in loads} == {"BPF_PROG_TYPE_TRACEPOINT"}
    for load in loads:
        check_program_extras(load, events)
    slots = [c.deep["perf_array_slot"] for c in bpf_calls(events, "BPF_MAP_UPDATE_ELEM")
             if c.deep and "perf_array_slot" in c.deep]
    assert [s["key"] for s in slots] == list(range(len(slots))) and slots
    links = [c for c in bpf_calls(events, "BPF_LINK_CREATE") if c.ok]
    assert links and all(c.deep and c.deep.get("link_id") for c in links)
    assert any(isinstance(e, Signal) and e.name == "SIGINT" for e in events)
    assert_same_graph(events, strace(cmd, tmp_path))


REJECT = textwrap.dedent("""
    import ctypes, os, struct, sys
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_ulong]
    # r0 = *(u64 *)(r10 +8); exit  -- reads above the frame: the verifier refuses it
    insns = ctypes.create_string_buffer(bytes.fromhex("79a0080000000000" "9500000000000000"))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(144)
    struct.pack_into("<IIQQIIQ", attr, 0, 1, 2, ctypes.addressof(insns),
                     ctypes.addressof(lic), 1, len(log), ctypes.addressof(log))
    struct.pack_into("16s", attr, 48, b"bad_prog")
    nr = {"x86_64": 321, "aarch64": 280}[os.uname().machine]
    fd = libc.syscall(nr, 5, ctypes.addressof(attr), 144)
    sys.exit(0 if fd < 0 else 1)
""")


@pytest.mark.live()
def test_verifier_rejection_shows_the_log(tmp_path: Path) -> None:
    script = tmp_path / "reject.py"
    script.write_text(REJECT)
    events, status = trace_command([sys.executable, str(script)])
    assert status == 0
    (load,) = [c for c in bpf_calls(events, "BPF_PROG_LOAD")
               if attr(c)["prog_name"] == "bad_prog"]
    assert load.errno in ("EACCES", "EINVAL")
    assert attr(load)["log_buf"] == ""          # what strace sees: read too early
    assert load.deep is not None
    log = load.deep["verifier_log"]
    assert "R10" in log or "invalid" in log
    assert load.deep["disasm"] == ["   0: (79) r0 = *(u64 *)(r10 +8)", "   1: (95) exit"]
    lc = lifecycle(events)
    (failure,) = [f for f in lc.failures if f.call == "BPF_PROG_LOAD"]
    assert failure.detail == log


@pytest.mark.live("bpftrace")
def test_first_interrupt_goes_to_the_target(tmp_path: Path) -> None:
    # not on a terminal, so bpfexplain itself must pass the SIGINT on
    code = textwrap.dedent("""
        import json, sys
        from bpfexplain.deep.backend import trace_command
        from bpfexplain.values import Call, Signal, symbol

        def attached(event):
            if isinstance(event, Call) and event.name == "ioctl" and len(event.args) > 1 \\
                    and symbol(event.args[1]) == "PERF_EVENT_IOC_SET_BPF":
                print("ATTACHED", file=sys.stderr, flush=True)

        events, status = trace_command(["bpftrace", "-e",
            "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"], on_event=attached)
        sigs = [e.name for e in events if isinstance(e, Signal)]
        print(json.dumps({"status": status, "signals": sigs}))
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    # bpftrace 0.17 loses a SIGINT that comes before its poll loop (see
    # bpfexplain.stopping), and traced by Python on a busy machine it may take seconds
    # to get there: the SIGINT waits for the probe's attach, whenever that comes.
    runaway = threading.Timer(90, os.killpg, (proc.pid, signal.SIGKILL))
    runaway.start()
    try:
        assert proc.stderr is not None
        before: list[str] = []
        for line in proc.stderr:
            if line == "ATTACHED\n":
                break
            before.append(line)
        else:
            raise AssertionError("the probe was never attached:\n" + "".join(before))
        time.sleep(1)  # from the attach to the poll loop: an ENABLE ioctl and no more
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        runaway.cancel()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err
    import json
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == 0
    assert "SIGINT" in result["signals"]


@pytest.mark.live()
def test_second_interrupt_kills_everything() -> None:
    code = textwrap.dedent("""
        import json
        from bpfexplain.deep.backend import trace_command
        from bpfexplain.values import Exit
        events, status = trace_command(["sh", "-c", "trap '' INT; sleep 30; sleep 30"])
        killed = [e.signal for e in events if isinstance(e, Exit)]
        print(json.dumps({"status": status, "killed": killed}))
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    start = time.monotonic()
    try:
        time.sleep(2)
        proc.send_signal(signal.SIGINT)      # passed on, and ignored by the shell
        time.sleep(1)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)      # the second one ends it all
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert time.monotonic() - start < 15
    import json
    result = json.loads(out.strip().splitlines()[-1])
    # The documented status of a second Ctrl-C is 130 (as with the strace backend),
    # not the 137 of the SIGKILL that ended the target; and the user is told.
    assert result["status"] == 128 + signal.SIGINT, err
    assert "SIGINT: stopping everything now" in err
    assert result["killed"] and set(result["killed"]) == {"SIGKILL"}


@pytest.mark.live()
def test_a_child_appears_after_the_call_that_made_it() -> None:
    # Python's subprocess uses vfork: the parent's call returns only after the child
    # exec'd, yet the child's calls must come after it, as its parent's fds are copied
    code = "import subprocess; subprocess.run(['true'])"
    events, status = trace_command([sys.executable, "-c", code])
    assert status == 0
    forks = [e for e in events if isinstance(e, Call)
             and e.name in ("vfork", "clone", "clone3", "fork") and e.ok]
    (fork,) = forks
    child = fork.result
    first = next(e for e in events if getattr(e, "pid", None) == child)
    assert fork.origin.line < first.origin.line
