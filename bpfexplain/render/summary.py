"""The reading summary printed on stderr: what was read, parsed, skipped and not understood."""

from __future__ import annotations

from bpfexplain.framing import Problem, Stats
from bpfexplain.text import safe

SHOWN = 5
"""How many problem lines are listed by number before the rest is only counted."""


def _where(stats: Stats, file: int, line: int) -> str:
    if len(stats.files) > 1:
        return f"{safe(stats.files[file])}:{line}"
    return f"line {line}"


def _listed(stats: Stats, problems: list[Problem], label: str) -> list[str]:
    out: list[str] = []
    for p in problems[:SHOWN]:
        out.append(f"  {label} {_where(stats, p.file, p.line)}: {safe(p.reason)}")
    if len(problems) > SHOWN:
        out.append(f"  ... and {len(problems) - SHOWN} more")
    return out


def summary_lines(stats: Stats) -> list[str]:
    files = f" from {len(stats.files)} files" if len(stats.files) > 1 else ""
    lines = [
        f"bpfexplain: read {stats.lines:,} lines{files}: {stats.calls:,} calls parsed, "
        f"{stats.skipped:,} skipped by the prefilter, {stats.program_output:,} not strace "
        f"output, {len(stats.unparsable):,} unparsable, {len(stats.warnings):,} warnings"
    ]
    lines += _listed(stats, stats.unparsable, "unparsable")
    lines += _listed(stats, stats.warnings, "warning")
    if stats.invalid_utf8:
        lines.append(f"  {stats.invalid_utf8:,} lines were not valid UTF-8 "
                     "(bad bytes shown as U+FFFD)")
    return lines
