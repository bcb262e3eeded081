"""The fuzzer of tests/fuzzing.py for a long run (issue 12: twenty minutes, every format).

    .venv/bin/python -m bench.fuzz_long [--minutes 20] [--first-seed N]

Seeds continue past those the suite's bounded run uses.  Every failure is saved as a
regression input in tests/fuzz-regressions/ (named fuzz-made-SEED.log, with a README
line) so the suite replays it from then on.  Prints one summary line: cases run,
failures, the slowest case.
"""

from __future__ import annotations

import argparse
import sys
import time

from tests import fuzzing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--first-seed", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    files = fuzzing.corpus()
    deadline = time.monotonic() + args.minutes * 60
    seed = args.first_seed
    failures = 0
    slowest = (0.0, seed)
    while time.monotonic() < deadline:
        case = fuzzing.make_case(seed, files)
        started = time.monotonic()
        problem = fuzzing.run_case(case)
        took = time.monotonic() - started
        slowest = max(slowest, (took, seed))
        if problem is not None:
            failures += 1
            path = fuzzing.keep(case, problem)
            print(f"seed {seed}: {problem} -> {path}", flush=True)
        seed += 1
    cases = seed - args.first_seed
    print(f"fuzz_long: {cases:,} cases in {args.minutes:g} min over {len(files)} fixture "
          f"files, {failures} failures, slowest case {slowest[0]:.2f} s (seed {slowest[1]})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
