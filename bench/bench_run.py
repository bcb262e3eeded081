"""What ``bpfexplain run`` costs: ``bpftrace -e 'BEGIN { exit(); }'`` timed four ways.

Run as root from the repository: ``.venv/bin/python bench/bench_run.py [--runs N]``.
Variants run interleaved (a slow spell of the machine hits all alike); each reports
the median wall time of N runs (default 7) and ratios:

* ``plain``           the command alone;
* ``strace -f``       plain ``strace -f -e trace=SET -o FILE``, SET being run's prefilter
                      set: what a user recording a log by hand pays (the issue's baseline);
* ``strace (run)``    strace with exactly the flags ``run`` passes (``-ttt -s 256``,
                      ``--seccomp-bpf`` where supported), writing a file: the tracing
                      part of ``run`` alone;
* ``run``             ``bpfexplain run`` end to end: live steps on stderr and the text
                      story on stdout (both to /dev/null);
* ``run --quiet-live --format json``: the same without live steps, story as JSON;
* ``run: start-up only``  ``bpfexplain run -p NO-SUCH-PID``: everything ``run`` does before
                      it can start strace (interpreter, CLI framework, checks), then an
                      error: the fixed cost that no tuning of the tracing can remove.

The target: ``run`` no more than 10% over ``strace -f``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bpfexplain import live  # noqa: E402  (after the path, to bench this checkout)
from bpfexplain.framing import INTERESTING  # noqa: E402

TARGET = ["bpftrace", "-e", "BEGIN { exit(); }"]
TARGET_PERCENT = 10
NO_SUCH_PID = 2**22 + 1  # above the kernel's largest pid_max
EXPECTED_STATUS = {"run: start-up only": 3}


def variants(python: str, log: str) -> dict[str, list[str]]:
    strace = live.find_strace()
    plain_filter = "trace=" + ",".join(sorted(INTERESTING))
    bpfexplain = [python, "-m", "bpfexplain", "run"]
    return {
        "plain": TARGET,
        "strace -f": [strace.path, "-f", "-e", plain_filter, "-o", log, *TARGET],
        "strace (run)": [strace.path, *live.strace_flags(strace), "-o", log, *TARGET],
        "run": [*bpfexplain, "--", *TARGET],
        "run --quiet-live --format json": [*bpfexplain, "--quiet-live", "--format", "json",
                                           "--", *TARGET],
        "run: start-up only": [*bpfexplain, "-p", str(NO_SUCH_PID)],
    }


def once(name: str, cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          cwd=ROOT, check=False, timeout=120)
    elapsed = time.perf_counter() - start
    if proc.returncode != EXPECTED_STATUS.get(name, 0):
        raise SystemExit(f"{' '.join(cmd)}: exit status {proc.returncode}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per variant (default 7)")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter that runs bpfexplain (default: this one)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: bpftrace needs it")
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        cmds = variants(args.python, os.path.join(tmp, "trace.log"))
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for name, cmd in cmds.items():  # warm caches (page cache, lark's grammar cache)
            once(name, cmd)
        for _ in range(args.runs):
            for name, cmd in cmds.items():
                times[name].append(once(name, cmd))
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    base, strace = medians["plain"], medians["strace -f"]
    print(f"{' '.join(TARGET)}: median of {args.runs} runs (seconds)")
    print(f"{'variant':34} {'median':>8} {'min':>8} {'max':>8} {'/plain':>7} {'/strace -f':>10}")
    for name, ts in times.items():
        m = medians[name]
        print(f"{name:34} {m:8.3f} {min(ts):8.3f} {max(ts):8.3f} {m / base:7.2f} "
              f"{m / strace:10.2f}")
    over = (medians["run"] / strace - 1) * 100
    verdict = "meets" if over <= TARGET_PERCENT else "misses"
    print(f"run adds {over:+.1f}% over plain strace -f ({verdict} the {TARGET_PERCENT}% target); "
          f"{(medians['run'] / medians['strace (run)'] - 1) * 100:+.1f}% over strace with "
          "run's own flags")
    startup = medians["run: start-up only"]
    rest = medians["run"] - startup
    print(f"of which start-up before strace can begin: {startup:.3f}s; the rest of run "
          f"({rest:.3f}s) is {(rest / strace - 1) * 100:+.1f}% over plain strace -f")


if __name__ == "__main__":
    main()
