"""Making untrusted text from logs safe to print.

Everything a log contains is untrusted: a program or map name can hold rich markup
(``[bold]``) or terminal control sequences (``\\x1b[2J``).  Renderers pass every
string from a log through :func:`safe` (for plain text) and build rich ``Text``
objects from it (never markup strings), so nothing from a log can style or control
the terminal.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def safe(text: str) -> str:
    """``text`` with control characters (C0, C1, bidi overrides, tab/newline too) escaped."""
    text = text.replace("\t", "\\t").replace("\n", "\\n")
    return _CONTROL.sub(_escape, text)
