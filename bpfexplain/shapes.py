"""A cache of call shapes in front of the grammar: the same values, without Lark each time.

Real logs repeat a few shapes endlessly: a map walk is thousands of

    bpf(BPF_MAP_GET_NEXT_KEY, {map_fd=3, key=0x7ffd5c1c, next_key=0x7ffd5c2c}, 24) = 0

that differ only in their numbers and strings.  A line's *shape* is its text with
every number and quoted string cut out (the *slots*); comments and ``-y``
annotations stay in the shape, whole.  The first time a shape repeats, the line is
parsed by the grammar twice: as it is, and as a *probe* with each slot replaced by a
sentinel of the same kind (a number by a number, a string by a string, so every
token keeps its type).  Where each sentinel lands in the probe's values says where
each slot goes; that template is compiled into one Python expression which builds
the values of any later line of the shape from its slot texts, converted exactly as
the grammar's transformer converts them (:func:`~bpfexplain.grammar._number`,
:func:`~bpfexplain.grammar.unquote`).

The grammar stays the one definition of the syntax: a template exists only after
it rebuilt the line it came from exactly as the grammar parsed it (types included);
a shape whose sentinel ends up inside a name or a comment (``sa_mask[0]=``,
``(errno 524)``) fails that check and is always handed to Lark.  The slots are whole
tokens of the grammar (the number and string patterns are the grammar's own, with
boundaries that keep them whole), so lines of one shape differ only in token texts
that never change the parse.  tests/test_shapes.py checks, over every line of every
fixture and over variants of each with other numbers and strings, that the cache and
the grammar give identical values.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

# The grammar's own answer for a line, from the flat-call reader when the line is
# flat: Lark is imported only for the first line that needs it (see flatcall.py).
from bpfexplain.flatcall import call_fields as parse_call_text
from bpfexplain.literals import MAX_NUMBER_DIGITS, SyntaxProblem, _number, _too_deep, unquote
from bpfexplain.values import Commented, Elided, Fd, Flags, Func, InOut, Sym, Truncated

_SLOTS = re.compile(
    # Runs of characters that cannot start a slot are skipped in one step (the scan
    # is most of the cost of a cache hit); then one of:
    r"[^\"/<0-9-]*(?:"
    # a whole C string (the grammar's STRING)
    r'(?P<str>"[^"\\]*(?:\\.[^"\\]*)*")'
    # comments and -y annotations (the grammar's COMMENT and FD_ANNOT) stay in the
    # shape whole: what is inside them is not a token of its own
    r"|/\*.*?\*/|<(?!<)(?:[^<>\n]|(?<=-)>|<(?:[^<>\n]|(?<=-)>)*>)*>(?:\(deleted\))?"
    # a whole integer, not part of a name, a float or a longer number
    r"|(?<![\w.\-])(?P<num>-?(?:0x[0-9a-fA-F]+|[0-9]+))(?![\w.])"
    # any other character that could have started one
    r"|(?s:.))?"
)
_RESULT_NUMBER = re.compile(r"-?(?:0x[0-9a-fA-F]+|[0-9]+)(?=[ <]|$)")
_RESULT_SEP = ") = "
_STR_MARK = "\x01"
_NUM_MARK = "\x02"
_SENTINEL = 7_300_000_000_000
"""Probe numbers are this plus the slot's index: far from any value strace prints
next to them, and the check against the grammar catches a coincidence anyway."""

MAX_SHAPES = 4096
"""Shapes remembered (least recently used dropped first): memory stays flat."""

MAX_TEXTS = 1024
"""Exact call texts remembered with their shape's builder and slots.  A map walk
repeats the very same text (the loader reuses its key and value buffers), so the
slot scan is skipped too; the table is simply emptied when full."""

_PENDING = "pending"
_UNCACHEABLE = "uncacheable"

Builder = Callable[[list[str]], dict[str, Any]]


def split_shape(text: str) -> tuple[str, list[str]] | None:
    """The shape of a call line and its slot texts, or None when it has no clear shape.

    Only the argument list is cut into slots; of the result, only its leading number
    (strace's notes after it, ``(Operation not permitted)``, stay whole).
    """
    if _STR_MARK in text or _NUM_MARK in text:
        return None  # the marks must not be confused with the line's own text
    cut = text.rfind(_RESULT_SEP)
    if cut < 0:
        return None
    head, result = text[:cut], text[cut + len(_RESULT_SEP):]
    parts: list[str] = []
    slots: list[str] = []
    last = 0
    for m in _SLOTS.finditer(head):
        kind = m.lastgroup
        if kind is None:
            continue
        start, end = m.span(kind)
        parts.append(head[last:start])
        parts.append(_STR_MARK if kind == "str" else _NUM_MARK)
        slots.append(head[start:end])
        last = end
    parts.append(head[last:])
    parts.append(_RESULT_SEP)
    number = _RESULT_NUMBER.match(result)
    if number is not None:
        parts.append(_NUM_MARK)
        slots.append(number.group())
        parts.append(result[number.end():])
    else:
        parts.append(result)
    return "".join(parts), slots


def _probe_text(shape: str, slots: list[str]) -> tuple[str, dict[object, int]]:
    """The shape with sentinels in its slots, and which value marks which slot."""
    out: list[str] = []
    marks: dict[object, int] = {}
    index = 0
    for piece in re.split(f"([{_STR_MARK}{_NUM_MARK}])", shape):
        if piece == _STR_MARK:
            sentinel = f"S{_SENTINEL + index}"
            out.append(f'"{sentinel}"')
            marks[sentinel] = index
            index += 1
        elif piece == _NUM_MARK:
            number = _SENTINEL + index
            if slots[index].startswith("-"):
                number = -number
            out.append(str(number))
            marks[number] = index
            index += 1
        else:
            out.append(piece)
    return "".join(out), marks


class _Unplaceable(Exception):
    """A value the template cannot express: the shape goes to Lark every time."""


class _Emitter:
    """Writes a template as one Python expression over the slot texts ``s``."""

    def __init__(self, marks: dict[object, int], slots: list[str]):
        self.marks = marks
        self.slots = slots
        self.consts: list[object] = []
        self.used: set[int] = set()
        self.converters: dict[int, Callable[[str], object]] = {}

    def const(self, value: object) -> str:
        self.consts.append(value)
        return f"K[{len(self.consts) - 1}]"

    def slot(self, value: object) -> str | None:
        """The expression for a sentinel, or None when ``value`` is not one."""
        if type(value) is int and value in self.marks:
            index = self.marks[value]
            if not _is_number(self.slots[index]):
                raise _Unplaceable
            self.used.add(index)
            self.converters[index] = _integer
            return f"N(s[{index}])"
        if type(value) is str and value in self.marks:
            index = self.marks[value]
            if not self.slots[index].startswith('"'):
                raise _Unplaceable
            self.used.add(index)
            self.converters[index] = unquote
            return f"U(s[{index}])"
        return None

    def emit(self, value: object) -> str:
        found = self.slot(value)
        if found is not None:
            return found
        kind = type(value)
        if kind is dict:
            if any(str(m) in key for key in value for m in self.marks):  # type: ignore[attr-defined]
                raise _Unplaceable  # a sentinel inside a field name (`sa_mask[0]=`)
            items = ", ".join(f"{self.const(k)}: {self.emit(v)}"
                              for k, v in value.items())  # type: ignore[attr-defined]
            return "{" + items + "}"
        if kind is list:
            return "[" + ", ".join(self.emit(v) for v in value) + "]"  # type: ignore[attr-defined]
        if kind is tuple:
            return "(" + "".join(self.emit(v) + ", " for v in value) + ")"  # type: ignore[attr-defined]
        if kind is Flags:
            return "Flags((" + "".join(self.emit(v) + ", " for v in value) + "))"  # type: ignore[attr-defined]
        if kind is Fd:
            return f"Fd({self.emit(value.num)}, {self.const(value.path)})"  # type: ignore[attr-defined]
        if kind is Commented:
            return f"Commented({self.emit(value.value)}, {self.const(value.comment)})"  # type: ignore[attr-defined]
        if kind is Truncated:
            return f"Truncated({self.emit(value.text)})"  # type: ignore[attr-defined]
        if kind is Func:
            return f"Func({self.const(value.name)}, {self.emit(value.args)})"  # type: ignore[attr-defined]
        if kind is InOut:
            return f"InOut({self.emit(value.before)}, {self.emit(value.after)})"  # type: ignore[attr-defined]
        if kind in (int, str, Sym, bool, type(None)) or value is Elided:
            if kind is str and any(str(m) in value for m in self.marks):  # type: ignore[operator]
                raise _Unplaceable  # a sentinel inside a name or a note
            if kind is Sym and any(str(m) in value for m in self.marks):  # type: ignore[operator]
                raise _Unplaceable
            return self.const(value)
        raise _Unplaceable


def _is_number(text: str) -> bool:
    return bool(text) and text[0] != '"'


def _integer(text: str) -> int | Sym:
    """:func:`~bpfexplain.grammar._number` for a slot (never a fraction), faster for
    the common forms: ``int(text, 0)`` reads ``0x1f``, ``-12`` and ``0`` alike and
    refuses only the leading-zero octal strace prints for modes (``0644``)."""
    if len(text) > MAX_NUMBER_DIGITS:
        return _number(text)  # its length guard: too long for any value strace prints
    try:
        return int(text, 0)
    except ValueError:
        return _number(text)


_NAMESPACE: dict[str, object] = {
    "N": _integer, "U": unquote, "Flags": Flags, "Fd": Fd, "Commented": Commented,
    "Truncated": Truncated, "Func": Func, "InOut": InOut,
}


class Template:
    """A shape's values from its slot texts (``template(slots)``), and the same from
    the slots' converted values (:attr:`from_values`, for a text seen before: a map
    walk repeats its exact text, so its numbers are converted once)."""

    __slots__ = ("converters", "from_texts", "from_values")

    def __init__(self, from_texts: Builder, from_values: Callable[[list[object]], dict[str, Any]],
                 converters: list[Callable[[str], object] | None]):
        self.from_texts = from_texts
        self.from_values = from_values
        self.converters = converters

    def __call__(self, slots: list[str]) -> dict[str, Any]:
        return self.from_texts(slots)

    def convert(self, slots: list[str]) -> list[object]:
        """The values the template reads from ``slots`` (numbers and strings are
        immutable, so one list serves every later line of the same text)."""
        return [None if convert is None else convert(text)
                for convert, text in zip(self.converters, slots, strict=True)]


_SLOT_CALL = re.compile(r"\b[NU]\(s\[(\d+)\]\)")


def compile_template(probe: dict[str, Any], marks: dict[object, int],
                     slots: list[str]) -> Template | None:
    """A builder for lines of this shape, or None when the probe cannot be one."""
    emitter = _Emitter(marks, slots)
    try:
        source = emitter.emit(probe)
    except _Unplaceable:
        return None
    namespace = dict(_NAMESPACE, K=emitter.consts)
    builder: Builder = eval(f"lambda s: {source}", namespace)  # our own text, built above
    # The same expression over converted values: every N(s[i]) / U(s[i]) becomes v[i].
    direct_source = _SLOT_CALL.sub(r"v[\1]", source)
    direct = eval(f"lambda v: {direct_source}", namespace)
    converters = [emitter.converters.get(index) for index in range(len(slots))]
    return Template(builder, direct, converters)


def same(a: object, b: object) -> bool:
    """Equal values of equal types, all the way down (``Sym("x") != "x"`` here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple))
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (Fd, Commented, Truncated, Func, InOut)):
        fields = a.__slots__
        return all(same(getattr(a, f), getattr(b, f)) for f in fields)
    return a == b


class ShapeCache:
    """``parse(text)``: what :func:`~bpfexplain.grammar.parse_call_text` returns, faster."""

    def __init__(self, limit: int = MAX_SHAPES):
        self.limit = limit
        self._shapes: OrderedDict[str, Template | str] = OrderedDict()
        self._texts: dict[str, tuple[Callable[[list[object]], dict[str, Any]],
                                     list[object]]] = {}
        self.hits = 0
        self.misses = 0

    def parse(self, text: str) -> dict[str, Any]:
        known = self._texts.get(text)
        if known is not None:
            self.hits += 1
            return known[0](known[1])
        split = split_shape(text)
        if split is None:
            self.misses += 1
            return parse_call_text(text)
        shape, slots = split
        entry = self._shapes.get(shape)
        if entry is not None and not isinstance(entry, str):
            self._shapes.move_to_end(shape)
            try:
                fields = entry(slots)
            except (ValueError, OverflowError):
                fields = None  # let the grammar say what is wrong with it
            if fields is not None:
                self.hits += 1
                if len(self._texts) >= MAX_TEXTS:
                    self._texts.clear()
                self._texts[text] = (entry.from_values, entry.convert(slots))
                return fields
        self.misses += 1
        if _too_deep(text):
            return parse_call_text(text)  # raises, as the grammar would
        fields = parse_call_text(text)
        if entry is None:
            self._remember(shape, _PENDING)  # a template only for shapes that repeat
        elif entry == _PENDING:
            self._remember(shape, self._learn(shape, slots, fields) or _UNCACHEABLE)
        return fields

    def _learn(self, shape: str, slots: list[str], fields: dict[str, Any]) -> Template | None:
        probe_text, marks = _probe_text(shape, slots)
        try:
            probe = parse_call_text(probe_text)
        except SyntaxProblem:
            return None
        builder = compile_template(probe, marks, slots)
        if builder is None:
            return None
        try:
            rebuilt = builder(slots)
        except (ValueError, OverflowError):
            return None
        return builder if same(rebuilt, fields) else None

    def _remember(self, shape: str, entry: Template | str) -> None:
        self._shapes[shape] = entry
        self._shapes.move_to_end(shape)
        while len(self._shapes) > self.limit:
            self._shapes.popitem(last=False)
