"""The syscalls bpfexplain follows, written once.

The set is the tracker's own (bpf(2), fds, files, processes) plus every attach
route's (:mod:`bpfexplain.routes`).  It is what framing's prefilter lets through,
what ``run`` asks strace to trace (``-e trace=``), what the deep backend's seccomp
filter stops on, and what ``fixtures/record.sh`` records with: the script reads it
from ``python -m bpfexplain.traced``.
"""

from __future__ import annotations

import sys

from bpfexplain.routes import ROUTES
from bpfexplain.tracking import CORE_SYSCALLS

TRACED: frozenset[str] = CORE_SYSCALLS | frozenset(
    name for route in ROUTES for name in route.traced)
"""Every syscall the explainer uses; everything else is counted and skipped unparsed."""


def main(argv: list[str]) -> int:
    """Print the set, comma-separated (``--strace``: as ``trace=?a,?b``, the form
    that keeps strace quiet about syscalls this architecture lacks)."""
    names = sorted(TRACED)
    if argv == ["--strace"]:
        print("trace=" + ",".join("?" + name for name in names))
    elif not argv:
        print(",".join(names))
    else:
        print("usage: python -m bpfexplain.traced [--strace]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
