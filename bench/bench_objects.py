"""Story building is linear in objects (issue 12): one line each for 10k, 20k, 40k.

    .venv/bin/python bench/bench_objects.py [--sizes 10000 20000 40000]

Two generated logs per size (synthetic, written to a temporary directory, never
fixtures): ``maps``, N map creations on N live fds, the shape issue 12 measured
(10,000 took 15 s as a story, 20,000 62 s); and ``seed``, the seed fixture's
bpftrace run repeated in one process until it made N objects (fd reuse, programs,
perf events, attachments and their releases).  Each is parsed and told as a story
(``--format json``) in-process; the line gives the seconds and microseconds per
object, and the last column the ratio of the per-object cost to the smallest size's:
about 1 is linear, 2 would mean twice the size costs four times as much.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def maps_log(n: int) -> str:
    return "".join(
        f"100 {1000 + i * 0.0001:.6f} bpf(BPF_MAP_CREATE, {{map_type=BPF_MAP_TYPE_HASH, "
        f"key_size=4, value_size=4, max_entries=1, map_flags=0, inner_map_fd=0, "
        f'map_name="m{i}", map_ifindex=0}}, 72) = {3 + i}\n'
        for i in range(n))


def seed_log(n: int) -> str:
    lines = (ROOT / "fixtures" / "seed.log").read_text().splitlines()
    body = [re.sub(r"^\d+ ", "100 ", line) for line in lines
            if not line.startswith(("+++", "---")) and "exit" not in line]
    per_round = sum(1 for line in body if re.search(r"\) = [1-9]\d*$", line)
                    and ("bpf(BPF_" in line or "perf_event_open" in line))
    return "\n".join(body * max(1, n // max(1, per_round))) + "\n"


def tell(path: Path) -> float:
    from bpfexplain.framing import Stats, open_inputs
    from bpfexplain.pipeline import explain_streams, make_resolver
    from bpfexplain.render.export import format_story

    started = time.perf_counter()
    story = explain_streams(open_inputs([str(path)]), Stats(),
                            make_resolver([], local=False))
    format_story(story, "json")
    return time.perf_counter() - started


def count_objects(path: Path) -> int:
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "bpfexplain", "parse", "-q", "--format",
                          "json", str(path)], capture_output=True, text=True, check=True)
    return len(json.loads(out.stdout)["objects"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, 40_000])
    args = parser.parse_args()
    from bpfexplain.grammar import parser as grammar

    grammar()  # built once, not timed
    with tempfile.TemporaryDirectory(prefix="bpfx-bench-objects-") as scratch:
        for kind, make in (("maps", maps_log), ("seed", seed_log)):
            base: float | None = None
            for n in args.sizes:
                path = Path(scratch) / f"{kind}-{n}.log"
                path.write_text(make(n))
                took = tell(path)
                objects = count_objects(path) if kind == "seed" else n
                per = took / objects * 1e6
                base = base or per
                print(f"bench_objects {kind:5} {objects:7,} objects: {took:6.2f} s "
                      f"{per:6.1f} us/object  x{per / base:.2f}", flush=True)


if __name__ == "__main__":
    main()
