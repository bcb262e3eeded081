"""How strace writes numbers, strings and results, and what they become: no Lark here.

The grammar's transformer (:mod:`bpfexplain.grammar`), the shape cache
(:mod:`bpfexplain.shapes`) and the flat-call reader (:mod:`bpfexplain.flatcall`) all
convert token texts with these functions, so a value means the same whichever of
them read it; keeping them apart from the grammar lets the last two run without
importing Lark at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bpfexplain.values import Flags, Sym, Value

_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "v": "\v", "f": "\f", "a": "\a", "b": "\b",
    "\\": "\\", '"': '"', "'": "'", "?": "?", "e": "\x1b",
}


def _unescape_char(match: re.Match[str]) -> str:
    code = match.group(1)
    if code[0] == "x" and len(code) > 1:
        return chr(int(code[1:], 16))
    if code[0] in "01234567":
        return chr(int(code, 8))
    return _SIMPLE_ESCAPES.get(code, code)


def unquote(token: str) -> str:
    """A C string literal as strace prints it, decoded.

    strace escapes every non-printable byte, so the result maps bytes 1:1 to code
    points below 256; text that was UTF-8 is re-decoded so names read naturally.
    """
    body = token[1:-1]
    if "\\" not in body:
        return body
    text = _ESCAPE.sub(_unescape_char, body)
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


MAX_NUMBER_DIGITS = 40
"""Longest number accepted from a log.  strace prints 64-bit values (20 decimal
digits, 16 hex, 22 octal); a longer one is hostile or damaged, and Python would
refuse to print a decimal of more than 4,300 digits anyway, in every renderer."""


def _number(text: str) -> int | Sym:
    # The grammar's edge: every number of a call passes here before it is an int.
    if len(text) > MAX_NUMBER_DIGITS + 3:
        raise ValueError(f"a number of {len(text):,} characters (more than "
                         f"{MAX_NUMBER_DIGITS} digits)")
    if text.startswith(("0x", "-0x")):
        return int(text, 16)
    if "." in text or "e" in text or "E" in text:
        # Value has no float: the few fractional numbers strace prints (load
        # averages, `-T` inside decoded structs) are kept as fixed-point text.
        return Sym(text)
    # strace prints octal modes with a leading 0 (`0644`); a lone 0 is decimal.
    if len(text) > 1 and text[0] == "0" and text.isdigit():
        return int(text, 8)
    return int(text)


def _result(number: str | None, notes: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The fields of a call's result from its pieces, told apart by token type
    (``notes``: the grammar's terminal name and text of each piece)."""
    errno: str | None = None
    path: str | None = None
    injected = False
    for kind, token in notes:
        if kind == "ERRNO":
            errno = str(token)
        elif kind == "FD_ANNOT":
            path = _annotation(token)
        elif kind == "NOTE":
            text = token[1:-1]
            if text.startswith("errno ") and text[6:].isdigit():
                # `= -1 (errno 524)`: strace had no name for it; keep the number.
                errno = text
            elif text.startswith("INJECTED"):
                injected = True
            # strerror texts, `(DELAYED)` and `(flags ...)` add nothing the
            # explainer does not derive itself.
    return {
        "result": _integer(number) if number is not None else None,
        "errno": errno,
        "result_path": path,
        "injected": injected,
    }


def _integer(text: str) -> int:
    """A number that must be whole (a result, an fd); a fraction is a syntax error."""
    value = _number(text)
    if isinstance(value, Sym):
        raise ValueError(f"not a whole number: {text}")
    return value


def _scalar(text: str) -> Value:
    """The value part of a SIMPLE_FIELD token: a number, a name, a flag set of those,
    or a quoted string."""
    first = text[0]
    if first == '"':
        return unquote(text)
    if "|" in text:
        return Flags(_scalar(part) for part in text.split("|"))
    if first == "-" or first.isdigit():
        return _number(text)
    return Sym(text)


def _annotation(token: str) -> str:
    """``<anon_inode:bpf-map>`` -> ``anon_inode:bpf-map`` (a ``(deleted)`` mark kept)."""
    if token.endswith(")"):
        cut = token.rindex(">")
        return token[1:cut] + " " + token[cut + 1:]
    return token[1:-1]


def _comment(token: str) -> str:
    return token[2:-2].strip()


class SyntaxProblem(Exception):
    """A call text the grammar rejects; ``column`` is 1-based where it went wrong."""

    def __init__(self, message: str, column: int | None, context: str):
        super().__init__(message)
        self.column = column
        self.context = context


MAX_DEPTH = 100
"""Deepest nesting of braces, brackets and parentheses accepted.  strace's own
renderings stay below ten; the limit keeps every later recursive walk (the JSON
encoder, the tracker) far from Python's recursion limit on hostile input."""

_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = re.compile(r"[{}\[\]()]")


def _too_deep(text: str) -> bool:
    """Whether ``text`` nests deeper than MAX_DEPTH (outside quoted strings)."""
    if text.count("{") + text.count("[") + text.count("(") <= MAX_DEPTH:
        return False  # the common case: too few openers to be too deep
    depth = 0
    for m in _BRACKETS.finditer(_STRINGS.sub('""', text)):
        if m.group() in "{[(":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        else:
            depth -= 1
    return False
