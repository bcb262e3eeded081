"""Overhead of deep mode: ``bpftrace -e 'BEGIN { exit(); }'`` plain, under strace, under ptrace.

Run as root from the repository (``.venv/bin/python bench/bench_deep.py``).  Each
variant runs ``--runs`` times, interleaved (a slow spell of this shared machine hits
all variants alike), after one warm-up run each; medians of wall and CPU time (the
whole process tree's, from ``RUSAGE_CHILDREN``) are reported:

* ``plain``         the command alone;
* ``strace``        strace with ``run``'s own flags, its log to a file (the baseline of
                    issue 11's target: ``run --deep`` at most 1.2x this);
* ``run --deep``    ``bpfexplain run --deep -- CMD`` end to end, as a user types it:
                    the entry point starts the command before the CLI is imported
                    (:mod:`bpfexplain.deep.split`);
* ``in-process``    ``run --deep -o FILE``, which is not pre-started: tracer, imports
                    and story one after the other in one process (what every
                    ``run --deep`` cost before the split);
* ``tracing``       a fresh Python process calling ``trace_command`` only: interpreter
                    start, the backend's imports and the trace, no story.

Then what python-ptrace costs the tracer: in fresh processes that have imported the
backend (as the tracer has when it makes its first :class:`Tracer`), the time to
import it as the backend does (``_Requests()``: no ``ldconfig``) beside a plain
``import ptrace.binding`` (which runs ``ldconfig -p``), interleaved, wall and CPU
(this process's and its children's, so the ``ldconfig`` run counts).

The package's bytecode is compiled first, as ``pip install`` does, so that no run pays
for compiling it.  It also prints, from one traced run, how many times the tracee
stopped (every stop is a round trip through this Python process) and how many events
came out.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bpfexplain import live  # noqa: E402  (after the path, to bench this checkout)

TARGET = ["bpftrace", "-e", "BEGIN { exit(); }"]
TRACING_SNIPPET = ("import sys\nfrom bpfexplain.deep.backend import trace_command\n"
                   "trace_command(sys.argv[1:])\n")
STOPS_SNIPPET = """
import collections, sys
from bpfexplain.deep import backend
stops = collections.Counter()
handle = backend.Tracer._handle
def counting(self, tid, status):
    stops["stops"] += 1
    handle(self, tid, status)
backend.Tracer._handle = counting
events, status = backend.trace_command(sys.argv[1:])
names = collections.Counter(getattr(e, "name", type(e).__name__) for e in events)
print(stops["stops"], len(events), dict(names.most_common(6)), file=sys.stderr)
"""

IMPORT_SNIPPET = """
import resource, sys, time
from bpfexplain.deep import backend
def cpu():
    return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
start, before = time.perf_counter(), cpu()
if sys.argv[1] == "backend":
    backend._Requests()
else:
    import ptrace.binding.func, ptrace.error
print(time.perf_counter() - start, cpu() - before)
"""
IMPORT_WAYS = {"as the backend does": "backend", "plain import": "plain"}


def import_cost(python: str, runs: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds of python-ptrace's import, each way, in fresh
    processes that have imported the backend already."""
    got: dict[str, list[tuple[float, float]]] = {name: [] for name in IMPORT_WAYS}
    for _ in range(runs):
        for name, way in IMPORT_WAYS.items():
            done = subprocess.run([python, "-c", IMPORT_SNIPPET, way], cwd=ROOT, check=True,
                                  capture_output=True, text=True, timeout=60)
            wall, cpu = done.stdout.split()
            got[name].append((float(wall), float(cpu)))
    return {name: (statistics.median(w for w, _ in samples),
                   statistics.median(c for _, c in samples))
            for name, samples in got.items()}


def variants(python: str, tmp: str) -> dict[str, list[str]]:
    bpfexplain = [python, "-m", "bpfexplain"]
    strace = live.find_strace()
    return {
        "plain": TARGET,
        "strace": [strace.path, *live.strace_flags(strace), "-o", f"{tmp}/trace.log",
                   *TARGET],
        "run --deep": [*bpfexplain, "run", "--deep", "--", *TARGET],
        "in-process": [*bpfexplain, "run", "--deep", "-o", f"{tmp}/story.txt", "--",
                       *TARGET],
        "tracing": [python, "-c", TRACING_SNIPPET, *TARGET],
    }


def once(cmd: list[str]) -> tuple[float, float]:
    """Wall and tree CPU time of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    status = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=ROOT, check=False, timeout=120).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit status {status}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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
    compileall.compile_dir(str(ROOT / "bpfexplain"), quiet=1)
    with tempfile.TemporaryDirectory(prefix="bench-deep-") as tmp:
        cmds = variants(args.python, tmp)
        for cmd in cmds.values():       # warm caches (page cache, bpftrace's BTF parse)
            once(cmd)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
        for _ in range(args.runs):
            for name, cmd in cmds.items():
                samples[name].append(once(cmd))
    wall = {name: statistics.median(w for w, _ in got) for name, got in samples.items()}
    cpu = {name: statistics.median(c for _, c in got) for name, got in samples.items()}
    print(f"bpftrace -e 'BEGIN {{ exit(); }}', medians of {args.runs} interleaved runs")
    print(f"{'variant':<12} {'wall s':>7} {'min s':>7} {'cpu s':>7} {'x strace':>9}")
    for name in cmds:
        print(f"{name:<12} {wall[name]:7.3f} {min(w for w, _ in samples[name]):7.3f} "
              f"{cpu[name]:7.3f} {wall[name] / wall['strace']:9.2f}")
    ratio = wall["run --deep"] / wall["strace"]
    print(f"\nrun --deep / strace: {ratio:.2f}x (target <= 1.20x: "
          f"{'MET' if ratio <= 1.20 else 'MISSED'})")
    done = subprocess.run([args.python, "-c", STOPS_SNIPPET, *TARGET], cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=120)
    stops, events, names = done.stderr.strip().splitlines()[-1].split(" ", 2)
    print(f"one traced run: {stops} ptrace stops for {events} events ({names})")
    runs = max(args.runs * 3, 21)
    print(f"\npython-ptrace's import in the tracer, medians of {runs} fresh processes:")
    for name, (wall_s, cpu_s) in import_cost(args.python, runs).items():
        print(f"  {name:<20} {wall_s * 1000:6.1f} ms wall {cpu_s * 1000:6.1f} ms CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
