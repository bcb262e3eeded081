"""Reading strace's values: fields by name, symbols, plain data for attrs.

Fields move between strace versions and nest differently depending on ``size``, so
everything here looks fields up by name, never by position.
"""

from __future__ import annotations

import re
from typing import Any

from bpfexplain import knowledge as kn
from bpfexplain.tracking.records import ObjKind
from bpfexplain.values import Commented, Elided, Func, InOut, as_int, as_text, symbol, unwrap


def unwrap_fd(value: Any) -> Any:
    """Like :func:`unwrap` but keeps an :class:`Fd` (its annotation says what it is)."""
    while isinstance(value, (Commented, InOut)):
        value = value.value if isinstance(value, Commented) else value.after
    return value


def kind_from_annotation(path: str) -> ObjKind | None:
    """``anon_inode:bpf-prog`` → ``prog``: what ``-yy`` says an fd is."""
    m = re.match(r"anon_inode:(.*)$", path)
    if m is None:
        return None
    kind = kn.ANON_INODE_KINDS.get(m.group(1))
    if kind == "perf":
        return "perf_event"
    return kind


def find(attr: Any, key: str) -> Any:
    """A field by name anywhere in a (nested) struct: fields move between versions."""
    attr = unwrap(attr)
    if not isinstance(attr, dict):
        return None
    if key in attr:
        return attr[key]
    for value in attr.values():
        value = unwrap(value)
        if isinstance(value, dict):
            found = find(value, key)
            if found is not None:
                return found
    return None


def enum(table: kn.Table, value: Any) -> Any:
    """A symbolic name whatever ``-X`` was used; the number when nobody knows it."""
    name = symbol(value)
    if name is not None:
        return name
    number = as_int(value)
    if number is None:
        return None
    entry = table.get(number)
    return entry.name if entry is not None else number


def plain(value: Any) -> Any:
    """A value as plain data for attrs (symbols as names, fds as numbers)."""
    value = unwrap(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not Elided}
    if isinstance(value, list):
        return [plain(v) for v in value if v is not Elided]
    if value is Elided:
        return "..."
    if isinstance(value, Func):
        return f"{value.name}({', '.join(str(plain(a)) for a in value.args)})"
    text = as_text(value)
    if text is not None:
        return text
    if isinstance(value, tuple):
        return [str(v) for v in value]
    return value if isinstance(value, (int, float, str)) else str(value)


def plain_attrs(attr: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in attr.items() if v is not Elided and not k.startswith("#")}


def kernel_version(value: Any) -> int | None:
    """``kern_version`` as a version code, whatever ``-X`` printed:
    ``KERNEL_VERSION(5, 15, 122)``, ``0x50f7a /* KERNEL_VERSION(5, 15, 122) */``, ``0x50f7a``."""
    while isinstance(value, (Commented, InOut)):
        value = value.value if isinstance(value, Commented) else value.after
    if isinstance(value, Func) and value.name == "KERNEL_VERSION" and len(value.args) == 3:
        parts = [as_int(a) for a in value.args]
        if any(p is None or p < 0 for p in parts):
            return None
        major, minor, patch = (p or 0 for p in parts)
        return (major << 16) + (minor << 8) + min(patch, 255)
    number = as_int(value)
    return number if number is not None and number >= 0 else None
