"""Parser benchmark: lines per second and peak memory, next to a plain regex splitter.

    .venv/bin/python bench/bench_parse.py [--keep DIR] [--quick]

Builds, from the recorded fixtures, three logs:

* ``unfiltered``: 1,000,000 lines of an unfiltered ``strace -f`` trace (the real
  lines of fixtures/unfiltered.log, cycled) with the eBPF calls of every fixture
  buried in it, one every 100 lines;
* ``filler``: the same 1,000,000 lines with only what the prefilter drops, to
  measure the skip rate alone;
* ``bpf``: 100,000 lines of only bpf / perf_event_open / ioctl calls, each one
  parsed by the grammar.

Each measurement runs in its own process (``resource`` max RSS is per process and
only grows), parsing with ``parse_events`` exactly as ``bpfexplain parse`` does,
minus printing.  Memory is measured at a quarter of each size and at the full size:
it must not grow with the log.  Targets (issue 2): >= 5,000 parsed eBPF call
lines/s and >= 500,000 skipped lines/s.  Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bpfexplain.framing import _CALL_START, _CONTENT_CHECKS, INTERESTING  # noqa: E402

FIXTURES = ROOT / "fixtures"
BPF_CALL = re.compile(r"^(?:\[pid\s+\d+\] |\d+\s+)?(?:[\d:.]+\s+)?"
                      r"(?:bpf|perf_event_open|ioctl)\(.*\) += ")

# The child: parse one file, report time and memory as JSON on stdout.
CHILD = r"""
import json, resource, sys, time
mode, path = sys.argv[1], sys.argv[2]
if mode == "parse":
    from bpfexplain.framing import Stats
    from bpfexplain.grammar import parser
    from bpfexplain.parser import parse_events
    parser()  # build the grammar before the clock starts, as any long run amortises it
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stats = Stats()
    start = time.perf_counter()
    with open(path, "rb") as stream:
        for _ in parse_events([(path, stream)], stats):
            pass
    elapsed = time.perf_counter() - start
    counts = {"lines": stats.lines, "calls": stats.calls, "skipped": stats.skipped,
              "unparsable": len(stats.unparsable)}
else:
    import re
    line_re = re.compile(r"^(?:\[pid\s+(\d+)\] |(\d+)\s+)?(?:[\d:.]+\s+)?([a-z_0-9]+)\(")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    lines = 0
    with open(path, "rb") as stream:
        for raw in stream:
            line_re.match(raw.decode("utf-8", "replace"))
            lines += 1
    elapsed = time.perf_counter() - start
    counts = {"lines": lines}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"elapsed": elapsed, "base_kb": base, "peak_kb": peak, **counts}))
"""


def fixture_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def bpf_lines() -> list[str]:
    """Every complete bpf/perf_event_open/ioctl call line of every fixture."""
    lines: list[str] = []
    for log in sorted(FIXTURES.glob("*.log")):
        if log.name == "mixed.log":  # program output mixed in; not a clean source
            continue
        lines += [line for line in fixture_lines(log) if BPF_CALL.match(line)]
    return lines


def skipped_filler(lines: list[str]) -> list[str]:
    """The lines of an unfiltered trace that the prefilter drops without parsing."""
    out = []
    for line in lines:
        m = _CALL_START.match(line)
        if m is None or line.endswith("<unfinished ...>"):
            continue
        name = m.group("name")
        check = _CONTENT_CHECKS.get(name)
        if name not in INTERESTING or (check is not None and not check.search(line, m.end())):
            out.append(line)
    return out


def write_log(path: Path, filler: list[str], buried: list[str], total: int,
              every: int) -> None:
    """``total`` lines: filler cycled, with a buried line every ``every`` lines."""
    fill = itertools.cycle(filler)
    bury = itertools.cycle(buried) if buried else None
    with path.open("w", encoding="utf-8") as out:
        for number in range(total):
            if bury is not None and number % every == every - 1:
                out.write(next(bury))
            else:
                out.write(next(fill))
            out.write("\n")


def measure(mode: str, path: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(proc.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="write the logs here and keep them")
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    work = args.keep or Path(tempfile.mkdtemp(prefix="bpfexplain-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    unfiltered = fixture_lines(FIXTURES / "unfiltered.log")
    calls = bpf_lines()
    filler = skipped_filler(unfiltered)
    logs = []
    for name, fill, buried, total, every in (
        ("unfiltered", unfiltered, calls, 1_000_000 // scale, 100),
        ("filler", filler, [], 1_000_000 // scale, 1),
        ("bpf", calls, calls, 100_000 // scale, 1),
    ):
        for size in (total // 4, total):
            path = work / f"{name}-{size}.log"
            if name == "bpf":
                write_log(path, fill, [], size, 1)
            else:
                write_log(path, fill, buried, size, every)
            logs.append((name, size, path))

    print(f"logs in {work}; {len(calls):,} distinct eBPF call lines, "
          f"{len(unfiltered):,} unfiltered filler lines")
    print(f"{'log':<11}{'lines':>11}{'parser lines/s':>16}{'calls/s':>10}"
          f"{'skipped/s':>12}{'peak MB':>9}{'+MB':>6}{'regex lines/s':>15}{'regex MB':>9}")
    results = {}
    for name, size, path in logs:
        parsed = measure("parse", path)
        split = measure("regex", path)
        results[(name, size)] = parsed
        t = parsed["elapsed"]
        print(f"{name:<11}{size:>11,}{parsed['lines'] / t:>16,.0f}{parsed['calls'] / t:>10,.0f}"
              f"{parsed['skipped'] / t:>12,.0f}{parsed['peak_kb'] / 1024:>9.1f}"
              f"{(parsed['peak_kb'] - parsed['base_kb']) / 1024:>6.1f}"
              f"{split['lines'] / split['elapsed']:>15,.0f}{split['peak_kb'] / 1024:>9.1f}")
        if parsed["unparsable"]:
            print(f"  ! {parsed['unparsable']:,.0f} unparsable lines")

    full_bpf = results[("bpf", 100_000 // scale)]
    full_filler = results[("filler", 1_000_000 // scale)]
    bpf_rate = full_bpf["calls"] / full_bpf["elapsed"]
    skip_rate = full_filler["skipped"] / full_filler["elapsed"]
    print()
    print(f"eBPF call lines parsed: {bpf_rate:,.0f}/s (target 5,000): "
          f"{'met' if bpf_rate >= 5000 else 'MISSED'}")
    print(f"lines skipped by the prefilter: {skip_rate:,.0f}/s (target 500,000): "
          f"{'met' if skip_rate >= 500_000 else 'MISSED'}")
    for name in ("unfiltered", "filler", "bpf"):
        total = (1_000_000 if name != "bpf" else 100_000) // scale
        small, big = results[(name, total // 4)], results[(name, total)]
        print(f"peak memory, {name}: {small['peak_kb'] / 1024:.1f} MB at {total // 4:,} lines, "
              f"{big['peak_kb'] / 1024:.1f} MB at {total:,} lines")
    if not args.keep:
        for _, _, path in logs:
            path.unlink()
        work.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
