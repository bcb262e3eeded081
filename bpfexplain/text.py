"""Making untrusted text from logs safe to print, once for each kind of output.

Everything a log contains is untrusted: a program or map name can hold rich markup
(``[bold]``), terminal control sequences (``\\x1b[2J``, or the single C1 byte U+009B
that many terminals take for ``ESC [``), direction overrides (U+202E) that show text
backwards, and invisible characters (U+200B, U+FEFF...) that make two different names
look alike.  Each output context has one escape, built on the same character class:

* terminal, Markdown, DOT, Mermaid, HTML/SVG exports: :func:`safe` first makes every
  such character visible as ``\\xNN``/``\\uNNNN`` (the renderers then add their own
  syntax escapes: ``md_escape``, ``dot_escape``, ``mermaid_escape``, rich's HTML);
* JSON (the story and the events): :func:`json_text` keeps the data exact but writes
  those characters as JSON ``\\u`` escapes, so a terminal that shows the JSON shows
  no raw control character.
"""

from __future__ import annotations

import re
from typing import Any

_HIDDEN = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (tab and newline are handled apart), DEL, C1
    "\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"  # soft hyphen, fillers, ALM
    "\u200b-\u200f"  # zero-width space/joiners, LRM, RLM
    "\u2028-\u202e"  # line/paragraph separators, bidi embeddings and overrides
    "\u2060-\u206f"  # word joiner, invisible operators, bidi isolates
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"  # fillers, variation selectors, BOM
    "\ud800-\udfff"  # lone surrogates (undecodable bytes kept by surrogateescape)
    "\U000e0000-\U000e0fff"  # tag characters, variation selectors supplement
)
_CONTROL = re.compile(f"[{_HIDDEN}]")


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe(text: str) -> str:
    """``text`` with control, bidi and invisible characters (tab/newline too) escaped."""
    text = text.replace("\t", "\\t").replace("\n", "\\n")
    return _CONTROL.sub(_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_text(data: Any, **options: Any) -> str:
    """``json.dumps`` (readable non-ASCII text kept) with every hidden character
    written as a ``\\u`` escape: the same data for a JSON reader, nothing raw for a
    terminal.  Such characters only occur inside JSON strings, so the result stays
    valid JSON."""
    import json  # not at import: a text story (run's usual end) never writes JSON

    return _CONTROL.sub(_json_escape, json.dumps(data, ensure_ascii=False, **options))
