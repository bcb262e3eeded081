"""A seeded mutation fuzzer over every fixture, through every output format.

Shared by the bounded test in the suite (tests/test_fuzz.py) and the long run in
bench/fuzz_long.py.  A case is a window of a real fixture, mutated by one to three
mutators chosen by a seed: byte flips, truncation, splices of two fixtures, huge
numbers, deep nesting, NULs, invalid UTF-8, unfinished/resumed pairs torn apart,
hidden characters in names.  Each case is explained in every format in-process; a
*failure* is an exception that is not one of bpfexplain's own errors (the CLI would
print "internal error"), an output that cannot be written as UTF-8, a raw hidden
character in an output, or a case that takes longer than CASE_LIMIT seconds (a hang).

Every failure ever found is kept in tests/fuzz-regressions/ (fuzz-made inputs, not
recordings: see the README there) and replayed by the suite.
"""

from __future__ import annotations

import io
import random
import re
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from bpfexplain.errors import BpfexplainError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
REGRESSIONS = Path(__file__).resolve().parent / "fuzz-regressions"
WINDOW = 160
"""Lines of a fixture per case: enough for fds to be made, used and closed."""
CASE_LIMIT = 20.0
"""Seconds one case may take in all formats before it counts as a hang."""

Mutator = Callable[[random.Random, bytes, list[bytes]], bytes]


def corpus() -> list[tuple[str, bytes]]:
    """Every fixture log (``-ff`` members too), by name."""
    found = [(p.name, p.read_bytes()) for p in sorted(FIXTURES.glob("*.log"))]
    for member in sorted(FIXTURES.glob("*/trace.*")):
        found.append((f"{member.parent.name}/{member.name}", member.read_bytes()))
    return found


# --------------------------------------------------------------------------------
# mutators


def flip_bytes(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _flip in range(rng.randint(1, 12)):
        if buf:
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf)


def truncate(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    return data[:rng.randrange(len(data) + 1)]


def splice(rng: random.Random, data: bytes, others: list[bytes]) -> bytes:
    other = rng.choice(others)
    at, start = rng.randrange(len(data) + 1), rng.randrange(len(other) + 1)
    return data[:at] + other[start:start + rng.randint(1, 4000)] + data[at:]


_NUMBER = re.compile(rb"(?<![\w.])(?:0x[0-9a-f]+|\d+)(?![\w.])")


def huge_number(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    numbers = list(_NUMBER.finditer(data))
    if not numbers:
        return data
    m = rng.choice(numbers)
    digits = rng.choice([21, 41, 400, 4301, 6000])
    big = b"0x" + b"f" * digits if rng.random() < 0.5 else b"9" * digits
    if rng.random() < 0.2:
        big = b"\xd9\xa3" * 3  # ARABIC-INDIC DIGIT THREE: isdigit() says yes
    return data[:m.start()] + big + data[m.end():]


def deep_nesting(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    at = data.find(b"{", rng.randrange(len(data) + 1))
    if at < 0:
        at = rng.randrange(len(data) + 1)
    depth = rng.choice([50, 101, 1000, 20000])
    opener, closer = rng.choice([(b"{", b"}"), (b"[", b"]"), (b"f(", b")")])
    return data[:at] + opener * depth + b"1" + closer * depth + data[at:]


def nul_bytes(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + b"\x00" * rng.randint(1, 64) + data[at:]


def invalid_utf8(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    at = rng.randrange(len(data) + 1)
    junk = rng.choice([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80" * 9])
    return data[:at] + junk + data[at:]


_NAME = re.compile(rb'(prog_name|map_name|pathname|\w+)="')
HIDDEN_CHARS = ["\x9b", "\u202e", "\u200b", "\u200f", "\u061c", "\ufeff", "\x1b[2J",
                "\x07", "\U000e0041", "```", "<img src=x onerror=alert(1)>", "[bold]x"]


def hidden_in_names(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    names = list(_NAME.finditer(data))
    if not names:
        return data
    m = rng.choice(names)
    text = rng.choice(HIDDEN_CHARS)
    # as strace prints a name's bytes: escaped when not printable ASCII
    quoted = "".join(c if " " <= c < "\x7f" and c not in '"\\' else
                     "".join(f"\\{b:03o}" for b in c.encode()) for c in text)
    return data[:m.end()] + quoted.encode() + data[m.end():]


def tear_pairs(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    lines = data.split(b"\n")
    index = rng.randrange(len(lines))
    line = lines[index]
    cut = rng.randrange(len(line) + 1)
    lines[index] = line[:cut] + b" <unfinished ...>"
    pid = line.split(b" ", 1)[0] if line[:1].isdigit() else b"1"
    lines.insert(rng.randrange(len(lines) + 1),
                 pid + b" <... bpf resumed>" + line[cut:])
    return b"\n".join(lines)


def shuffle_lines(rng: random.Random, data: bytes, _: list[bytes]) -> bytes:
    lines = data.split(b"\n")
    for _swap in range(rng.randint(1, 10)):
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    if rng.random() < 0.3:
        lines = [line for line in lines if rng.random() < 0.7]
    return b"\n".join(lines)


MUTATORS: tuple[Mutator, ...] = (flip_bytes, truncate, splice, huge_number, deep_nesting,
                                 nul_bytes, invalid_utf8, hidden_in_names, tear_pairs,
                                 shuffle_lines)


@dataclass(frozen=True)
class Case:
    seed: int
    source: str
    steps: tuple[str, ...]
    data: bytes


def make_case(seed: int, files: list[tuple[str, bytes]]) -> Case:
    rng = random.Random(seed)
    name, content = rng.choice(files)
    lines = content.split(b"\n")
    start = rng.randrange(max(1, len(lines) - WINDOW))
    data = b"\n".join(lines[start:start + WINDOW])
    others = [c for _, c in rng.sample(files, min(3, len(files)))]
    steps = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        mutate = rng.choice(MUTATORS)
        data = mutate(rng, data, others)
        steps.append(mutate.__name__)
    return Case(seed, name, tuple(steps), data)


# --------------------------------------------------------------------------------
# running a case


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expired(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"more than {seconds:g} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _check_text(fmt: str, text: str) -> None:
    from bpfexplain.text import _CONTROL

    text.encode("utf-8")  # a lone surrogate would fail here, as on stdout
    hidden = _CONTROL.search(text)
    if hidden is not None:
        raise AssertionError(f"{fmt}: raw U+{ord(hidden.group()):04X} in the output")


def explain_everywhere(data: bytes, detail: str = "default") -> None:
    """``data`` as a log, in every format; raises on anything but bpfexplain's errors."""
    from bpfexplain.framing import Stats
    from bpfexplain.logtext import capture
    from bpfexplain.parser import parse_events
    from bpfexplain.pipeline import explain_streams, make_resolver
    from bpfexplain.render.events import event_line
    from bpfexplain.render.export import format_story
    from bpfexplain.render.html import story_html
    from bpfexplain.render.summary import summary_lines

    names = ["fuzz.log"]
    stats = Stats()
    try:
        for event in parse_events([("fuzz.log", io.BytesIO(data))], stats):
            _check_text("events", event_line(event, names))
    except BpfexplainError:
        pass
    for line in summary_lines(stats):
        _check_text("summary", line)
    stats = Stats()
    streams, log = capture([("fuzz.log", io.BytesIO(data))])
    try:
        story = explain_streams(streams, stats, make_resolver([], local=False),
                                detail=detail)
    except BpfexplainError:
        return
    for fmt in ("text", "json", "markdown", "dot", "mermaid"):
        _check_text(fmt, format_story(story, fmt))
    story_html(story, log).encode("utf-8")


def run_case(case: Case, limit: float = CASE_LIMIT) -> str | None:
    """None when the case passes, else what went wrong (one line)."""
    detail = ("default", "verbose", "brief")[case.seed % 3]
    try:
        with time_limit(limit):
            explain_everywhere(case.data, detail)
    except Hang as exc:
        return f"hang: {exc}"
    except Exception as exc:  # exactly what the fuzzer looks for
        where = ""
        tb = exc.__traceback__
        while tb is not None:
            where = f"{Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}"
            tb = tb.tb_next
        return f"{type(exc).__name__} at {where}: {str(exc)[:200]}"
    return None


def keep(case: Case, problem: str) -> Path:
    """Save a failing case as a regression input (fuzz-made, named so)."""
    REGRESSIONS.mkdir(exist_ok=True)
    path = REGRESSIONS / f"fuzz-made-{case.seed}.log"
    path.write_bytes(case.data)
    note = REGRESSIONS / "README.md"
    line = (f"| `{path.name}` | fuzz-made from `{case.source}` by "
            f"{', '.join(case.steps)} | {problem.replace('|', '/')[:120]} |\n")
    with note.open("a", encoding="utf-8") as f:
        f.write(line)
    return path
