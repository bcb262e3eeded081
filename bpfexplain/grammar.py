"""The Lark parser for strace's call syntax, and the transformer that builds values.

The grammar itself lives in ``grammar/strace.lark`` (shipped inside the wheel as
``bpfexplain/grammar/strace.lark``).  The parser is built once per process, LALR with
the contextual lexer, and the transformer runs inside the parser so no tree is built.
"""

from __future__ import annotations

import pickle
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedInput, VisitError

from bpfexplain.literals import (
    MAX_DEPTH as MAX_DEPTH,
)
from bpfexplain.literals import (
    MAX_NUMBER_DIGITS as MAX_NUMBER_DIGITS,
)
from bpfexplain.literals import (
    SyntaxProblem as SyntaxProblem,
)
from bpfexplain.literals import (
    _annotation,
    _comment,
    _integer,
    _number,
    _result,
    _scalar,
    _too_deep,
)
from bpfexplain.literals import (
    unquote as unquote,
)
from bpfexplain.values import (
    Commented,
    Elided,
    Fd,
    Flags,
    Func,
    InOut,
    Sym,
    Truncated,
    Value,
    symbol,
)

_GRAMMAR_NAME = "strace.lark"


def grammar_text() -> str:
    """The grammar's source: from the installed package, or from a source checkout."""
    packaged = resources.files("bpfexplain").joinpath("grammar").joinpath(_GRAMMAR_NAME)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    # An editable install or a plain checkout: the grammar sits at the repo's top.
    checkout = Path(__file__).resolve().parent.parent / "grammar" / _GRAMMAR_NAME
    return checkout.read_text(encoding="utf-8")


_SPACED_OPS = frozenset({"&&", "=="})

_AT_FDCWD = -100
"""The number strace names AT_FDCWD: the only name it prints with a ``-y`` path."""


@v_args(inline=True)
class ToValues(Transformer[Token, Any]):
    """Turns grammar rules into :mod:`bpfexplain.values` while the parser runs."""

    def call(self, name: Token, args: Any, result: dict[str, Any]) -> dict[str, Any]:
        values: list[Value] = []
        names: list[str | None] = []
        for arg_name, value in args or ():
            values.append(value)
            names.append(arg_name)
        result["name"] = str(name)
        result["args"] = tuple(values)
        result["arg_names"] = tuple(names) if any(n is not None for n in names) else ()
        return result

    def info(self, value: Value) -> Value:
        return value

    def args(self, *items: tuple[str | None, Value]) -> list[tuple[str | None, Value]]:
        return list(items)

    def named_arg(self, field: Token, value: Value) -> tuple[str | None, Value]:
        return (field[:-1], value)

    def arg(self, value: Value) -> tuple[str | None, Value]:
        return (None, value)

    def result(self, first: Token, *notes: Token) -> dict[str, Any]:
        return _result(None if first.type == "QMARK" else str(first),
                       [(token.type, str(token)) for token in notes])

    # -- values
    def inout(self, before: Value, after: Value) -> Value:
        return InOut(before, after)

    def alternative(self, first: Value, *others: Value) -> Value:
        # The first name is what the kernel saw; the others share its number.
        shown = " or ".join(_plain(o) for o in others)
        return Commented(first, "or " + shown)

    def commented(self, value: Value, *comments: Token) -> Value:
        return Commented(value, " ".join(_comment(c) for c in comments))

    def comment_first(self, *items: Any) -> Value:
        *comments, value = items
        return Commented(value, " ".join(_comment(c) for c in comments))

    def bare_comment(self, *comments: Token) -> Value:
        return Commented(Elided, " ".join(_comment(c) for c in comments))

    def flags(self, *items: Value) -> Value:
        return Flags(items)

    def operation(self, *items: Any) -> Value:
        # `1<<CAP_X`, `PERF_COUNT_HW_CACHE_OP_READ<<8`: kept as their text, a name
        # the knowledge tables can look up whole.
        # strace writes the arithmetic operators tight and the logical ones spaced.
        # A part named only in its comment (`-X verbose`: `0x1 /* ..._MISS */<<16`)
        # is kept by that name, so every -X style yields the same text.
        parts = [f" {i} " if isinstance(i, Token) and i in _SPACED_OPS
                 else str(i) if isinstance(i, Token) else symbol(i) or _plain(i)
                 for i in items]
        return Sym("".join(parts))

    def negated(self, value: Value) -> Value:
        return Func("~", (value,))

    def number(self, token: Token) -> Value:
        return _number(token)

    def fd(self, number: Token, annot: Token) -> Value:
        return Fd(_integer(number), _annotation(annot))

    def named_fd(self, name: Token, annot: Token) -> Value:
        # print_dirfd: `AT_FDCWD</tmp/dir>`, the cwd shown as AT_FDCWD's path.
        # Kept as the fd number AT_FDCWD stands for, as `-X raw` would print it.
        if name == "AT_FDCWD":
            return Fd(_AT_FDCWD, _annotation(annot))
        return Commented(Sym(name), _annotation(annot))

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
                # Unnamed members (`/* bytes 16..47 */ "..."`, wait4's status)
                # keep their order under keys that cannot clash with C names.
                name = f"#{anonymous}"
                anonymous += 1
            elif name in out:
                # Never lose a field: a decoder that prints a name twice (unions
                # shown member by member) keeps both.
                name = f"{name}#{sum(1 for k in out if k.split('#')[0] == name)}"
            out[name] = value
        return out

    def fields(self, *items: Any) -> list[tuple[str | None, Value]]:
        out: list[tuple[str | None, Value]] = []
        for item in items:
            if isinstance(item, Token):  # SIMPLE_FIELD: `name=value, `
                name, _, text = item.rstrip(", \t").partition("=")
                out.append((name, _scalar(text)))
            elif item is not None:  # None: the optional last member was absent
                out.append(item)
        return out

    def named_field(self, field: Token, value: Value) -> tuple[str | None, Value]:
        return (field[:-1], value)

    def anon_field(self, value: Value) -> tuple[str | None, Value]:
        return (None, value)

    def array(self, elements: list[Any] | None) -> Value:
        items = elements or []
        if any(isinstance(e, _Indexed) for e in items):
            # `[[0]=1, [5]=2]`: a sparse array, keyed by its printed indices.
            out: dict[str, Value] = {}
            for position, e in enumerate(items):
                if isinstance(e, _Indexed):
                    out[e.index] = e.value
                else:
                    out[f"#{position}"] = e
            return out
        return list(items)

    def elements(self, *items: Value) -> list[Value]:
        return list(items)

    def indexed(self, index: Value, _eq: Token, value: Value) -> Any:
        return _Indexed(_plain(index), value)

    def bitset(self, *items: Value) -> Value:
        return list(items)

    def bit(self, token: Token) -> Value:
        if token.type == "NUMBER":
            return _number(token)
        return Sym(token)

    def elided(self, _token: Token) -> Value:
        return Elided

    def unavailable(self, _token: Token) -> Value:
        # `???`: strace could not read the memory; nothing is known.
        return Elided


class _Indexed:
    """An ``[INDEX]=VALUE`` array element, only alive while its array is built."""

    __slots__ = ("index", "value")

    def __init__(self, index: str, value: Value):
        self.index = index
        self.value = value


def _plain(value: Any) -> str:
    """A value written back in strace's notation, for names built from parts
    (``WIFEXITED(s) && WEXITSTATUS(s) == 0``, ``TCGETS or SNDCTL_TMR_TIMEBASE``)."""
    if isinstance(value, Commented):
        return _plain(value.value)
    if isinstance(value, Fd):
        return str(value.num)
    if isinstance(value, Flags):
        return "|".join(_plain(v) for v in value)
    if isinstance(value, Func):
        if value.name == "~":
            return "~" + "".join(_plain(a) for a in value.args)
        return f"{value.name}({', '.join(_plain(a) for a in value.args)})"
    if isinstance(value, list):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    if isinstance(value, Sym):
        return str(value)
    if isinstance(value, str):
        return '"' + value + '"'
    if value is Elided:
        return "..."
    return str(value)


CACHE_LIMIT = 1 << 20
"""The analysed grammar is about 30 kB; anything much bigger is not ours."""


class _PlainUnpickler(pickle.Unpickler):
    """Loads dicts, lists, strings and numbers only: refusing every global means a
    pickle cannot name a function to call, so loading it cannot run code."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"global {module}.{name} refused")


def _build(text: str) -> Lark:
    return Lark(text, parser="lalr", lexer="contextual", transformer=ToValues(),
                maybe_placeholders=True, start=["call", "info"])


def _cached_parser(text: str) -> Lark:
    """The parser from the grammar cache, or built (and cached) when there is none.

    Building the LALR tables costs about 0.3 s, a third of a short ``run``.  Lark's
    own ``cache=`` option opens its pickle by path and unpickles it whole, so the
    cache is kept here instead: in a directory that is ours alone (checked on each
    opened descriptor, see :func:`bpfexplain.private.open_private_dir`), holding only
    Lark's plain serialised tables, loaded with an unpickler that accepts no globals.
    """
    import hashlib
    import io
    import os

    import lark
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    from bpfexplain.private import cache_dir, open_private_dir, read_private
    from bpfexplain.safeio import write_private

    folder = cache_dir()
    dir_fd = open_private_dir(folder, create=2) if folder else None
    if dir_fd is None:
        return _build(text)
    try:
        digest = hashlib.sha256((lark.__version__ + text).encode()).hexdigest()[:16]
        name = f"grammar-{digest}.pickle"
        data = read_private(dir_fd, name, limit=CACHE_LIMIT)
        if data is not None:
            try:
                tables = _PlainUnpickler(io.BytesIO(data)).load()
                loaded: Lark = Lark._load_from_dict(  # type: ignore[no-untyped-call]
                    tables["data"], tables["memo"], transformer=ToValues())
                return loaded
            except Exception:  # any damage: rebuild and rewrite
                pass
        built = _build(text)
        tables, memo = built.memo_serialize([TerminalDef, Rule])
        tables["options"] = {k: v for k, v in tables["options"].items()
                             if k != "transformer"}
        write_private(dir_fd, name, pickle.dumps({"data": tables, "memo": memo},
                                                 protocol=pickle.HIGHEST_PROTOCOL))
        return built
    finally:
        os.close(dir_fd)


@lru_cache(maxsize=1)
def parser() -> Lark:
    """The one parser of this process (grammar compiled once, then cached)."""
    return _cached_parser(grammar_text())


def parse_call_text(text: str) -> dict[str, Any]:
    """Parse ``NAME(args) = result`` into a dict of Call fields (name, args, result...)."""
    if _too_deep(text):
        raise SyntaxProblem(f"nested more than {MAX_DEPTH} levels deep; not parsed", None, "")
    try:
        result: dict[str, Any] = parser().parse(text, start="call")  # type: ignore[assignment]
    except UnexpectedInput as exc:
        column = getattr(exc, "column", None)
        context = exc.get_context(text, span=30) if hasattr(exc, "get_context") else ""
        raise SyntaxProblem(_describe(exc), column, context) from None
    except VisitError as exc:  # a transformer bug or an absurd literal
        raise SyntaxProblem(f"could not convert value: {exc.orig_exc}", None, "") from None
    except (ValueError, OverflowError) as exc:
        # The embedded transformer's own errors arrive unwrapped: a number too
        # long for int(), a fraction where a whole number belongs.
        raise SyntaxProblem(f"could not convert value: {exc}", None, "") from None
    except (LarkError, RecursionError) as exc:
        raise SyntaxProblem(type(exc).__name__, None, "") from None
    return result


def parse_value_text(text: str) -> Value:
    """Parse one value in strace's notation, such as a signal line's ``{si_signo=...}``."""
    if _too_deep(text):
        raise SyntaxProblem(f"nested more than {MAX_DEPTH} levels deep; not parsed", None, "")
    try:
        value: Value = parser().parse(text, start="info")  # type: ignore[assignment]
        return value
    except UnexpectedInput as exc:
        raise SyntaxProblem(_describe(exc), getattr(exc, "column", None), "") from None
    except VisitError as exc:
        raise SyntaxProblem(f"could not convert value: {exc.orig_exc}", None, "") from None
    except (ValueError, OverflowError) as exc:
        # The embedded transformer's own errors arrive unwrapped: a number too
        # long for int(), a fraction where a whole number belongs.
        raise SyntaxProblem(f"could not convert value: {exc}", None, "") from None
    except (LarkError, RecursionError) as exc:
        raise SyntaxProblem(type(exc).__name__, None, "") from None


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
