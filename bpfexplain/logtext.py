"""The raw text of the logs a story was told from, for views that show the log itself.

Parsing never needs it (framing reads streams line by line and forgets them); the
HTML page does: it shows the log beside the story and places the lifecycle in time.
:func:`capture` reads each input once into memory and hands framing a copy of the
same bytes, so the page shows exactly the lines the line numbers count.

Time: a log recorded with ``-t/-tt/-ttt`` carries a clock time per line, one with
``-r`` the time since the previous line.  :func:`LogText.clock` turns either into
seconds since the log's first timestamp; a log without timestamps has no clock and
views fall back to line order.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, Literal

from bpfexplain.framing import leader_timestamp, timestamp_seconds

ClockKind = Literal["time of day", "epoch", "relative"]
"""``-t/-tt`` (12:34:56.123456), ``-ttt`` (1700000000.123456) or ``-r`` (+0.000123)."""

_EPOCH_FLOOR = 1e8
"""-ttt prints seconds since 1970 (> 1e9 since 2001); -r prints small deltas."""


@dataclass(frozen=True)
class LogText:
    files: tuple[str, ...]
    lines: tuple[tuple[str, ...], ...]
    """Per input file, its lines without line ends (line N is ``lines[file][N - 1]``)."""

    def line(self, file: int, number: int) -> str | None:
        if 0 <= file < len(self.lines) and 1 <= number <= len(self.lines[file]):
            return self.lines[file][number - 1]
        return None

    @property
    def total(self) -> int:
        return sum(len(f) for f in self.lines)

    def clock(self) -> tuple[ClockKind, list[list[float | None]]] | None:
        """Seconds since the first timestamp of the logs, per file and line (None for a
        line without one: the traced program's output); None when no line is timed."""
        kind: ClockKind | None = None
        raw: list[list[str | None]] = []
        for lines in self.lines:
            stamps = [leader_timestamp(text) for text in lines]
            raw.append(stamps)
            if kind is None:
                first = next((s for s in stamps if s is not None), None)
                if first is not None:
                    kind = "time of day" if ":" in first else (
                        "epoch" if timestamp_seconds(first) >= _EPOCH_FLOOR else "relative")
        if kind is None:
            return None
        seconds: list[list[float | None]] = []
        for stamps in raw:
            out: list[float | None] = []
            total = 0.0
            previous: float | None = None
            for stamp in stamps:
                if stamp is None:
                    out.append(None)
                    continue
                value = timestamp_seconds(stamp)
                if kind == "relative":
                    # -r: each stamp is the time since the previous line's.
                    total += value
                    value = total
                elif kind == "time of day" and previous is not None and value < previous - 43200:
                    value += 86400  # the recording ran past midnight
                previous = value
                out.append(value)
            seconds.append(out)
        start = min((v for f in seconds for v in f if v is not None), default=0.0)
        return kind, [[None if v is None else v - start for v in f] for f in seconds]


def capture(streams: Sequence[tuple[str, BinaryIO]]) -> tuple[list[tuple[str, BinaryIO]],
                                                              LogText]:
    """Read every stream once: fresh streams over the same bytes, and their text.

    Lines are decoded as framing decodes them (UTF-8, invalid bytes replaced) and
    split on ``\\n`` only, so line N here is the line N the story cites.
    """
    fresh: list[tuple[str, BinaryIO]] = []
    texts: list[tuple[str, ...]] = []
    for name, stream in streams:
        data = stream.read()
        fresh.append((name, io.BytesIO(data)))
        text = data.decode("utf-8", "replace")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        texts.append(tuple(line.rstrip("\r") for line in lines))
    return fresh, LogText(tuple(name for name, _ in streams), tuple(texts))


def read_log(paths: Sequence[str]) -> LogText:
    """The text of log files by path (lessons, saved ``run`` logs)."""
    from bpfexplain.framing import open_inputs

    streams = open_inputs(list(paths))
    try:
        return capture(streams)[1]
    finally:
        for _, stream in streams:
            stream.close()
