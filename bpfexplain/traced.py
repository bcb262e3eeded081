"""The syscalls bpfexplain follows, written once (and where tracefs is).

The set is the tracker's own (bpf(2), fds, files, processes) plus every attach
route's (:mod:`bpfexplain.routes`).  It is what framing's prefilter lets through,
what ``run`` asks strace to trace (``-e trace=``), what the deep backend's seccomp
filter stops on, and what ``fixtures/record.sh`` records with: the script reads it
from ``python -m bpfexplain.traced``.
"""

from __future__ import annotations

import sys

TRACED: frozenset[str] = frozenset({
    "bpf", "clone", "clone3", "close", "close_range", "dup", "dup2", "dup3", "execve",
    "execveat", "exit", "exit_group", "fcntl", "fcntl64", "fork", "ioctl", "mmap",
    "mmap2", "open", "openat", "openat2", "perf_event_open", "read", "recvfrom",
    "recvmsg", "sendmsg", "sendto", "setsockopt", "socket", "vfork",
})
"""Every syscall the explainer uses; everything else is counted and skipped unparsed.

Written out rather than computed here: ``run`` needs the set before it forks strace,
and importing the tracker and every route first would hold the loader back by tens
of milliseconds (issue 11).  :func:`derived` computes it from its sources, and
tests/test_startup.py checks that the two agree (its failure prints the new set)."""


TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
"""Where tracefs is mounted (the second is the old debugfs place).  Here, with the
syscall set, because ``run`` checks it too before forking strace; the tracepoint
names themselves are read by :mod:`bpfexplain.resolve`."""


def derived() -> frozenset[str]:
    """The set from its sources: the tracker's own syscalls and every route's."""
    from bpfexplain.routes import ROUTES
    from bpfexplain.tracking import CORE_SYSCALLS

    return CORE_SYSCALLS | frozenset(name for route in ROUTES for name in route.traced)


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
