"""Flat call lines read without Lark: same values as the grammar, or no answer.

Most call lines outside ``bpf(2)`` are flat: numbers, names, flag sets, strings and
arrays of those, as in::

    openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3
    execve("/bin/true", ["/bin/true"], 0x7ffd410020c0 /* 39 vars */) = 0
    close(3) = 0
    exit_group(0) = ?

A short run such as ``bpfexplain run -- /bin/true`` sees nothing else, and
importing Lark and loading its tables costs more than everything else that run
does after strace has started.  :func:`parse_flat` reads exactly this canonical
form (one space after each comma, `` = `` before the result, padded or not) and answers None for
anything else, down to a doubled space; :func:`call_fields` then hands the line to
the grammar, which stays the one definition of the syntax.  The values are built
by the transformer's own converters (:mod:`bpfexplain.literals`), and
tests/test_flatcall.py checks, over every call line of every fixture and over
hand-made edge cases, that every answer equals the grammar's, types included.
"""

from __future__ import annotations

import re
from typing import Any

from bpfexplain.literals import _comment, _number, _result, unquote
from bpfexplain.values import Commented, Elided, Flags, Sym, Truncated, Value

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The grammar's NUMBER without fractions and exponents (a following `.` or letter
# makes the line not flat: see _END_OF_ATOM).
_INTEGER = re.compile(r"-?(?:0x[0-9a-fA-F]+|[0-9]+)")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_EQUALS = re.compile(r"\) += ")
_COMMENT = re.compile(r" (/\*.*?\*/)")
_ERRNO = re.compile(r"E[A-Z0-9_]+")
_NOTE = re.compile(r"\([^()]*(?:\([^()]*\)[^()]*)*\)")
_END_OF_ATOM = frozenset(",)|]")
"""What may follow a number or a name in a flat line (a space only before a comment).
Anything else (``.``, ``<``, ``(``, ``=``, ``:``, letters after digits) belongs to a
token or a rule this reader does not know, and the grammar reads the line."""


class _NotFlat(Exception):
    """The line is not in the flat form: the grammar reads it."""


def call_fields(text: str) -> dict[str, Any]:
    """What :func:`bpfexplain.grammar.parse_call_text` returns for ``text``: read
    here when the line is flat, by the grammar (imported then) otherwise."""
    fields = parse_flat(text)
    if fields is not None:
        return fields
    from bpfexplain.grammar import parse_call_text

    return parse_call_text(text)


def parse_flat(text: str) -> dict[str, Any] | None:
    """The grammar's fields for a flat call line, or None when the line is not flat."""
    try:
        return _Reader(text).call()
    except (_NotFlat, ValueError, OverflowError):
        # ValueError/OverflowError: a number the converters refuse; the grammar
        # says what is wrong with it, in its own words.
        return None


class _Reader:
    __slots__ = ("pos", "text")

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def call(self) -> dict[str, Any]:
        text = self.text
        m = _NAME.match(text)
        if m is None or text[m.end():m.end() + 1] != "(":
            raise _NotFlat
        name = m.group()
        self.pos = m.end() + 1
        args: list[Value] = []
        if text[self.pos:self.pos + 1] != ")":
            while True:
                args.append(self.value(top=True))
                if text[self.pos:self.pos + 2] == ", ":
                    self.pos += 2
                elif text[self.pos:self.pos + 1] == ")":
                    break
                else:
                    raise _NotFlat
        # strace pads short calls so that results line up: `close(3)        = 0`.
        m = _EQUALS.match(text, self.pos)
        if m is None:
            raise _NotFlat
        fields = self.result(m.end())
        # The key order of the grammar's ToValues.call: results first.
        fields["name"] = name
        fields["args"] = tuple(args)
        fields["arg_names"] = ()
        return fields

    def result(self, pos: int) -> dict[str, Any]:
        text = self.text
        number: str | None
        if text[pos:pos + 1] == "?":
            number = None
            pos += 1
        else:
            m = _INTEGER.match(text, pos)
            if m is None:
                raise _NotFlat
            number = m.group()
            pos = m.end()
        notes: list[tuple[str, str]] = []
        while pos < len(text):
            if text[pos] != " ":
                raise _NotFlat
            pos += 1
            m = _ERRNO.match(text, pos)
            kind = "ERRNO"
            if m is None:
                m = _NOTE.match(text, pos)
                kind = "NOTE"
            if m is None:
                raise _NotFlat
            end = m.end()
            if end < len(text) and text[end] != " ":
                raise _NotFlat  # `EPERM2x`, `(a)b`: not whole tokens
            notes.append((kind, m.group()))
            pos = end
        return _result(number, notes)  # its ValueError for a fraction: see parse_flat

    def value(self, *, top: bool) -> Value:
        """One argument (``top``) or array element."""
        text = self.text
        char = text[self.pos:self.pos + 1]
        if char == '"':
            m = _STRING.match(text, self.pos)
            if m is None:
                raise _NotFlat
            self.pos = m.end()
            string = unquote(m.group())
            if text.startswith("...", self.pos):
                self.pos += 3
                self._end_of_value()
                return Truncated(string)
            self._end_of_value()
            return string
        if char == "[":
            if not top:
                raise _NotFlat  # nested arrays, `[[0]=1]`: the grammar's
            self.pos += 1
            items: list[Value] = []
            if text[self.pos:self.pos + 1] != "]":
                while True:
                    items.append(self.value(top=False))
                    if text[self.pos:self.pos + 2] == ", ":
                        self.pos += 2
                    elif text[self.pos:self.pos + 1] == "]":
                        break
                    else:
                        raise _NotFlat  # `[INT TERM]` is a bit set: the grammar's
            self.pos += 1
            self._end_of_value()
            return items
        if text.startswith("...", self.pos):
            self.pos += 3
            self._end_of_value()
            return Elided
        parts = [self.atom()]
        while text[self.pos:self.pos + 1] == "|":
            self.pos += 1
            parts.append(self.atom())
        if len(parts) > 1:
            self._end_of_value()
            return Flags(parts)
        m = _COMMENT.match(text, self.pos)
        if m is not None:
            # `0x7ffd410020c0 /* 39 vars */`: a single number or name with its note.
            self.pos = m.end()
            self._end_of_value()
            return Commented(parts[0], _comment(m.group(1)))
        self._end_of_value()
        return parts[0]

    def atom(self) -> Value:
        """A number or a name, ending where the flat form allows."""
        text = self.text
        m = _INTEGER.match(text, self.pos)
        if m is not None:
            end = m.end()
            self._atom_ends(end)
            self.pos = end
            return _number(m.group())
        m = _NAME.match(text, self.pos)
        if m is None:
            raise _NotFlat
        end = m.end()
        self._atom_ends(end)
        self.pos = end
        return Sym(m.group())

    def _atom_ends(self, end: int) -> None:
        following = self.text[end:end + 1]
        if following in _END_OF_ATOM and following:
            return
        if self.text.startswith(" /*", end):
            return
        raise _NotFlat

    def _end_of_value(self) -> None:
        following = self.text[self.pos:self.pos + 1]
        if not following or following not in ",)]":
            raise _NotFlat
