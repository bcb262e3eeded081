"""The Lark parser for strace's call syntax, and the transformer that builds values.

The grammar itself lives in ``grammar/strace.lark`` (shipped inside the wheel as
``bpfexplain/grammar/strace.lark``).  The parser is built once per process, LALR with
the contextual lexer, and the transformer runs inside the parser so no tree is built.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedInput, VisitError

from bpfexplain.values import Commented, Elided, Fd, Flags, Func, InOut, Sym, Truncated, Value

_GRAMMAR_NAME = "strace.lark"


def grammar_text() -> str:
    """The grammar's source: from the installed package, or from a source checkout."""
    packaged = resources.files("bpfexplain").joinpath("grammar").joinpath(_GRAMMAR_NAME)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    # An editable install or a plain checkout: the grammar sits at the repo's top.
    checkout = Path(__file__).resolve().parent.parent / "grammar" / _GRAMMAR_NAME
    return checkout.read_text(encoding="utf-8")


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


def _number(text: str) -> int | float:
    if text.startswith(("0x", "-0x")):
        return int(text, 16)
    if "." in text or "e" in text or "E" in text:
        return float(text)
    # strace prints octal modes with a leading 0 (`0644`); a lone 0 is decimal.
    if len(text) > 1 and text[0] == "0" and text.isdigit():
        return int(text, 8)
    return int(text)


@v_args(inline=True)
class ToValues(Transformer[Token, Any]):
    """Turns grammar rules into :mod:`bpfexplain.values` while the parser runs."""

    def start(self, name: Token, args: Any, result: dict[str, Any]) -> dict[str, Any]:
        values: list[Value] = []
        names: list[str | None] = []
        for arg_name, value in args or ():
            values.append(value)
            names.append(arg_name)
        result["name"] = str(name)
        result["args"] = tuple(values)
        result["arg_names"] = tuple(names) if any(n is not None for n in names) else ()
        return result

    def args(self, *items: tuple[str | None, Value]) -> list[tuple[str | None, Value]]:
        return list(items)

    def named_arg(self, field: Token, value: Value) -> tuple[str | None, Value]:
        return (field[:-1], value)

    def arg(self, value: Value) -> tuple[str | None, Value]:
        return (None, value)

    # -- results
    def result_value(
        self, number: Token, annot: Token | None, text: Token | None, injected: Token | None
    ) -> dict[str, Any]:
        return {
            "result": _number(number),
            "errno": None,
            "result_path": annot[1:-1] if annot else None,
            "injected": injected is not None,
        }

    def result_unknown(self) -> dict[str, Any]:
        return {"result": None, "errno": None, "result_path": None, "injected": False}

    def result_error(
        self, number: Token, errno: Token, text: Token | None, injected: Token | None
    ) -> dict[str, Any]:
        return {
            "result": _number(number),
            "errno": str(errno),
            "result_path": None,
            "injected": injected is not None,
        }

    def result_errnum(
        self, number: Token, errnum: Token, injected: Token | None
    ) -> dict[str, Any]:
        # `= -1 (errno 524)`: strace had no name for it; keep the number as text.
        return {
            "result": _number(number),
            "errno": "errno " + errnum[len("(errno "):-1],
            "result_path": None,
            "injected": injected is not None,
        }

    # -- values
    def inout(self, before: Value, after: Value) -> Value:
        return InOut(before, after)

    def commented(self, value: Value, *comments: Token) -> Value:
        return Commented(value, " ".join(c[2:-2].strip() for c in comments))

    def bare_comment(self, *comments: Token) -> Value:
        return Commented(Elided, " ".join(c[2:-2].strip() for c in comments))

    def flags(self, *items: Any) -> Value:
        # items alternate atom, OP, atom...; only `|` builds a flag set, other
        # operators (`1<<CAP_X`, `SIGRTMIN+1`) are kept as their text.
        ops = {str(items[i]) for i in range(1, len(items), 2)}
        atoms = items[0::2]
        if ops == {"|"}:
            return Flags(atoms)
        return Sym("".join(str(i) for i in items))

    def negated(self, value: Value) -> Value:
        return Func("~", (value,))

    def number(self, token: Token) -> Value:
        return _number(token)  # type: ignore[return-value]

    def fd(self, number: Token, annot: Token) -> Value:
        return Fd(int(_number(number)), annot[1:-1])

    def string(self, token: Token) -> Value:
        return unquote(token)

    def truncated(self, token: Token, _ellipsis: Token) -> Value:
        return Truncated(unquote(token))

    def symbol(self, token: Token) -> Value:
        return Sym(token)

    def func(self, name: Token, args: list[tuple[str | None, Value]] | None) -> Value:
        return Func(str(name), tuple(v for _, v in args or ()))

    def struct(self, fields: list[tuple[str | None, Value]] | None) -> Value:
        out: dict[str, Value] = {}
        anonymous = 0
        for name, value in fields or ():
            if name is None:
                if value is Elided:
                    out["..."] = Elided
                    continue
                # Unnamed members (`/* bytes 16..47 */`, positional values) keep
                # their order under synthetic keys that cannot clash with C names.
                name = f"#{anonymous}"
                anonymous += 1
            out[name] = value
        return out

    def fields(self, *items: tuple[str | None, Value]) -> list[tuple[str | None, Value]]:
        return list(items)

    def named_field(self, field: Token, value: Value) -> tuple[str | None, Value]:
        return (field[:-1], value)

    def anon_field(self, value: Value) -> tuple[str | None, Value]:
        return (None, value)

    def array(self, elements: list[Value] | None) -> Value:
        return list(elements or ())

    def elements(self, *items: Value) -> list[Value]:
        return list(items)

    def bitset(self, items: list[Value]) -> Value:
        return list(items)

    def spaced(self, *items: Value) -> list[Value]:
        return list(items)

    def elided(self, _token: Token) -> Value:
        return Elided


@lru_cache(maxsize=1)
def parser() -> Lark:
    """The one parser of this process (grammar compiled once, then cached)."""
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        transformer=ToValues(),
        maybe_placeholders=True,
        cache=False,
    )


class SyntaxProblem(Exception):
    """A call text the grammar rejects; ``column`` is 1-based where it went wrong."""

    def __init__(self, message: str, column: int | None, context: str):
        super().__init__(message)
        self.column = column
        self.context = context


def parse_call_text(text: str) -> dict[str, Any]:
    """Parse ``NAME(args) = result`` into a dict of Call fields (name, args, result...)."""
    try:
        result: dict[str, Any] = parser().parse(text)  # type: ignore[assignment]
    except UnexpectedInput as exc:
        column = getattr(exc, "column", None)
        context = exc.get_context(text, span=30) if hasattr(exc, "get_context") else ""
        raise SyntaxProblem(_describe(exc), column, context) from None
    except VisitError as exc:  # a transformer bug or an absurd literal
        raise SyntaxProblem(f"could not convert value: {exc.orig_exc}", None, "") from None
    except (LarkError, RecursionError) as exc:
        raise SyntaxProblem(type(exc).__name__, None, "") from None
    return result


def _describe(exc: UnexpectedInput) -> str:
    token = getattr(exc, "token", None)
    column = getattr(exc, "column", "?")
    if token is not None and getattr(token, "type", None) == "$END":
        return "line ends in the middle of a call"
    if token is not None:
        shown = str(token)
        if len(shown) > 20:
            shown = shown[:20] + "…"
        return f"unexpected {shown!r} at column {column}"
    char = getattr(exc, "char", None)
    if char is not None:
        return f"unexpected character {char!r} at column {column}"
    return f"syntax error at column {column}"
