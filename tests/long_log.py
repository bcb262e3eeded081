"""A long log from real lines: a real recording with real uninteresting strace lines around it.

The filler is every line of ``fixtures/unfiltered.log`` (a real unfiltered trace) whose
system call the explainer skips (futex, mprotect, newfstatat...), cycled; the story is
that of ``fixtures/seed-full.log``, whose lines follow the filler unchanged.  Used by the
HTML tests (a page whose log pane must not hold every line) and bench/bench_html.py.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from bpfexplain.framing import INTERESTING

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
_NAME = re.compile(r"^\d+\s+([a-z_0-9]+)\(")


def filler_lines() -> list[str]:
    lines = []
    for line in (FIXTURES / "unfiltered.log").read_text().splitlines():
        m = _NAME.match(line)
        if m is not None and m.group(1) not in INTERESTING and line.rstrip().endswith(
                tuple("0123456789)")):
            lines.append(line)
    return lines


def write_long_log(path: Path, total: int, story: str = "seed-full.log") -> int:
    """Write ``total`` lines (filler, then the recording); return the filler's length."""
    real = (FIXTURES / story).read_text().splitlines()
    count = max(total - len(real), 0)
    filler = list(itertools.islice(itertools.cycle(filler_lines()), count))
    path.write_text("\n".join([*filler, *real]) + "\n")
    return count
