"""Overhead of deep mode: ``bpftrace -e 'BEGIN { exit(); }'`` plain, under strace, under ptrace.

Run as root from the repository (``.venv/bin/python bench/bench_deep.py``).  Each
variant runs ``--runs`` times (interleaved, so a slow spell of the machine hits all
variants alike) and the median wall time is reported, with ratios:

* ``plain``           the command alone;
* ``strace``          strace with the explainer's syscall set, ``-f --seccomp-bpf``,
                      output to /dev/null (the tracing cost of the strace backend);
* ``run``             ``bpfexplain run`` with the strace backend, end to end;
* ``deep``            a fresh Python process calling ``trace_command`` (interpreter
                      start, imports and tracing: what ``run --deep`` adds before the
                      story is told);
* ``deep tracing``    the same, counting only the ``trace_command`` call (no interpreter
                      start or imports): the cost of tracing itself;
* ``run --deep``      ``bpfexplain run --deep`` end to end, when the CLI has the flag.

The issue's target: deep no more than 1.5x the strace backend.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ["bpftrace", "-e", "BEGIN { exit(); }"]
SYSCALLS = ("bpf,perf_event_open,ioctl,close,close_range,dup,dup2,dup3,fcntl,openat,read,"
            "mmap,clone,clone3,fork,vfork,execve,exit_group")
DEEP_SNIPPET = ("import sys, time\nfrom bpfexplain.deep.backend import trace_command\n"
                "t = time.perf_counter()\nevents, status = trace_command(sys.argv[1:])\n"
                "print('TRACED', time.perf_counter() - t, file=sys.stderr)\n")


def variants(python: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {
        "plain": TARGET,
        "strace": ["strace", "-f", "--seccomp-bpf", "-qq", "-o", "/dev/null",
                   "-e", f"trace={SYSCALLS}", *TARGET],
        "run": [python, "-m", "bpfexplain", "run", "--quiet-live", "--format", "json",
                "-o", "/dev/null", "--", *TARGET],
        "deep": [python, "-c", DEEP_SNIPPET, *TARGET],
    }
    help_text = subprocess.run([python, "-m", "bpfexplain", "run", "--help"],
                               capture_output=True, text=True, cwd=ROOT).stdout
    if "--deep" in help_text:
        found["run --deep"] = [python, "-m", "bpfexplain", "run", "--deep", "--quiet-live",
                               "--format", "json", "-o", "/dev/null", "--", *TARGET]
    return found


def once(cmd: list[str]) -> tuple[float, float | None]:
    """Wall time, and the tracing time the deep snippet reports."""
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                          check=False, timeout=120, text=True)
    wall = time.perf_counter() - start
    traced = None
    for line in done.stderr.splitlines():
        if line.startswith("TRACED "):
            traced = float(line.split()[1])
    return wall, traced


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root: bpftrace needs it", file=sys.stderr)
        return 2
    for tool in ("bpftrace", "strace"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    cmds = variants(args.python)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for cmd in cmds.values():       # warm caches (page cache, bpftrace's BTF parse)
        once(cmd)
    times["deep tracing"] = []
    for _ in range(args.runs):
        for name, cmd in cmds.items():
            wall, traced = once(cmd)
            times[name].append(wall)
            if traced is not None:
                times["deep tracing"].append(traced)
    medians = {name: statistics.median(t) for name, t in times.items()}
    base = medians["strace"]
    print(f"bpftrace -e 'BEGIN {{ exit(); }}', median of {args.runs} runs")
    print(f"{'variant':<12} {'median s':>9} {'min s':>7} {'max s':>7} "
          f"{'x plain':>8} {'x strace':>9}")
    for name, med in medians.items():
        print(f"{name:<12} {med:9.3f} {min(times[name]):7.3f} {max(times[name]):7.3f} "
              f"{med / medians['plain']:8.2f} {med / base:9.2f}")
    if "run" in medians:
        key = "run --deep" if "run --deep" in medians else "deep"
        print(f"\n{key} / strace backend (run): {medians[key] / medians['run']:.2f}x "
              f"(target <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
