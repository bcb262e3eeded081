"""``--format events``: one JSON object per parsed event (JSON Lines).

Shows exactly what the parser understood, so the encoding keeps every distinction
the value types make: a symbol and a quoted string are both JSON strings, but flag
sets, fds, comments, truncation, functions and in/out values are tagged objects.
"""

from __future__ import annotations

from typing import Any

from bpfexplain.text import json_text
from bpfexplain.values import (
    Call,
    Commented,
    Elided,
    Event,
    Exit,
    Fd,
    Flags,
    Func,
    InOut,
    Signal,
    Truncated,
)


def encode_value(value: Any) -> Any:
    """A value as plain JSON data."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, str)):
        return value if not isinstance(value, str) else str(value)
    if isinstance(value, dict):
        return {k: encode_value(v) for k, v in value.items()}
    if isinstance(value, Flags):
        return {"flags": [encode_value(v) for v in value]}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, Fd):
        return {"fd": value.num, "path": value.path}
    if isinstance(value, Commented):
        return {"value": encode_value(value.value), "comment": value.comment}
    if isinstance(value, Truncated):
        return {"str": value.text, "truncated": True}
    if isinstance(value, Func):
        return {"func": value.name, "args": [encode_value(v) for v in value.args]}
    if isinstance(value, InOut):
        return {"in": encode_value(value.before), "out": encode_value(value.after)}
    if value is Elided:
        return "..."
    return repr(value)


def event_record(event: Event, file_names: list[str] | None = None) -> dict[str, Any]:
    origin = event.origin
    record: dict[str, Any] = {"line": origin.line}
    if origin.first_line != origin.line:
        record["first_line"] = origin.first_line
    if file_names and len(file_names) > 1:
        record["file"] = file_names[origin.file]
    record["pid"] = event.pid
    if event.time is not None:
        record["time"] = event.time
    if isinstance(event, Call):
        record["event"] = "call"
        record["name"] = event.name
        record["args"] = [encode_value(a) for a in event.args]
        if event.arg_names:
            record["arg_names"] = list(event.arg_names)
        record["result"] = event.result
        if event.errno is not None:
            record["errno"] = event.errno
        if event.result_path is not None:
            record["result_path"] = event.result_path
        if event.duration is not None:
            record["duration"] = event.duration
        if event.comm is not None:
            record["comm"] = event.comm
        if event.injected:
            record["injected"] = True
        if event.deep:
            record["deep"] = encode_value(event.deep)
    elif isinstance(event, Signal):
        record["event"] = "signal"
        record["signal"] = event.name
        record["info"] = {k: encode_value(v) for k, v in event.info.items()}
    elif isinstance(event, Exit):
        record["event"] = "exit"
        record["code"] = event.code
        if event.signal is not None:
            record["signal"] = event.signal
    return record


def event_line(event: Event, file_names: list[str] | None = None) -> str:
    return json_text(event_record(event, file_names), sort_keys=False)
