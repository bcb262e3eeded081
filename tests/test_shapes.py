"""The shape cache gives exactly the grammar's values: every fixture line, and variants.

For each call line of every recorded fixture (as framing hands it to the parser),
the cache is asked three times (first sight, learning, cached) and each answer must
equal the grammar's, types included.  Then variants of the line, with every number
and string the cache treats as a slot replaced by another of the same kind, must
give the grammar's values for the variant from the cached template, or the same
error.  Hand-made lines pin the cases that must never be cached.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from bpfexplain.framing import Stats, frames_from_streams, open_inputs
from bpfexplain.grammar import SyntaxProblem, parse_call_text
from bpfexplain.shapes import ShapeCache, same, split_shape

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_inputs() -> list[str]:
    found = sorted(str(p) for p in FIXTURES.glob("*.log"))
    found += sorted(str(p) for p in FIXTURES.glob("*/") if p.name != "src")
    return found


@cache
def call_texts(path: str) -> tuple[str, ...]:
    texts: dict[str, None] = {}
    for frame in frames_from_streams(open_inputs([path]), Stats()):
        if frame.kind == "call":
            texts.setdefault(frame.text)
    return tuple(texts)


def grammar(text: str) -> dict[str, Any] | str:
    try:
        return parse_call_text(text)
    except SyntaxProblem as exc:
        return f"error: {exc}"


def cached(shapes: ShapeCache, text: str) -> dict[str, Any] | str:
    try:
        return shapes.parse(text)
    except SyntaxProblem as exc:
        return f"error: {exc}"


def variant(text: str, seed: int) -> str | None:
    """``text`` with other numbers and strings in its slots, or None if it has none."""
    split = split_shape(text)
    if split is None or not split[1]:
        return None
    shape, slots = split
    out = []
    for index, piece in enumerate(re.split("([\x01\x02])", shape)):
        if piece == "\x02":
            old = slots.pop(0)
            sign = "-" if old.startswith("-") else ""
            digits = old.lstrip("-")
            if digits.startswith("0x"):
                new = hex(int(digits, 16) + seed + index)
            elif len(digits) > 1 and digits.startswith("0"):
                new = "0" + oct(int(digits, 8) + seed)[2:]  # stays octal
            else:
                new = str(int(digits) + seed + index)
            out.append(sign + new)
        elif piece == "\x01":
            old = slots.pop(0)
            out.append('"v' + str(seed) + old[1:-1][::-1].replace("\\", "") + '"')
        else:
            out.append(piece)
    return "".join(out)


@pytest.mark.parametrize("path", fixture_inputs(), ids=lambda p: Path(p).name)
def test_cache_matches_grammar_on_every_fixture_line(path: str) -> None:
    shapes = ShapeCache()
    texts = call_texts(path)
    assert texts, "no call lines read"
    for text in texts:
        expected = grammar(text)
        # 0: grammar, 1: template learnt, 2: template, 3: the exact text's values
        for attempt in range(4):
            got = cached(shapes, text)
            assert same(got, expected), (attempt, text, got, expected)
    for text in texts:
        for seed in (1, 7):
            other = variant(text, seed)
            if other is None:
                continue
            expected = grammar(other)
            got = cached(shapes, other)
            assert same(got, expected), (text, other, got, expected)


def test_the_cache_is_used() -> None:
    """Most repeated lines of a real log are answered from the cache."""
    shapes = ShapeCache()
    texts = call_texts(str(FIXTURES / "execsnoop.log"))
    for text in texts * 3:
        shapes.parse(text)
    for seed in (1, 2, 3):
        for text in texts:
            other = variant(text, seed)
            if other is not None:
                shapes.parse(other)
    assert shapes.hits > shapes.misses


@pytest.mark.parametrize("line", [
    # sentinels inside a field name, an errno note, a shift: never templated
    "rt_sigaction(SIGINT, {sa_handler=0x1, sa_mask[0]=4}, NULL, 8) = 0",
    "bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_KPROBE}, 148) = -1 (errno 524)",
    "capget({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<3}) = 0",
    # numbers that are not whole tokens
    "read(3, \"x\", 1.5) = 0",
    "ioctl(3, _IOC(_IOC_READ, 0x24, 0x7, 0x8), 0x7ffc) = 0",
    "openat(AT_FDCWD</tmp/a 1>, \"/sys/kernel/tracing/events/syscalls/x/id\", O_RDONLY) = 3</sys/a 2>",
])
def test_awkward_shapes_match_grammar(line: str) -> None:
    shapes = ShapeCache()
    for seed in (0, 1, 2, 3):
        text = line if seed == 0 else (variant(line, seed) or line)
        for _ in range(3):
            assert same(cached(shapes, text), grammar(text)), text


def test_memory_stays_bounded() -> None:
    shapes = ShapeCache(limit=8)
    for n in range(100):
        shapes.parse(f"bpf(BPF_MAP_CREATE, {{map_type=BPF_MAP_TYPE_HASH, f{n}=1}}, 72) = 3")
    assert len(shapes._shapes) <= 8


def test_same_tells_types_apart() -> None:
    from bpfexplain.values import Sym

    assert not same({"a": Sym("x")}, {"a": "x"})
    assert not same([1], (1,))
    assert same({"a": [1, Sym("x")]}, {"a": [1, Sym("x")]})
