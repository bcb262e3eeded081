"""The terminal console and its theme: semantic style names for every renderer.

Kept free of the story's modules so that ``bpfexplain explain`` and the demo's lesson
table, which print no story, start fast.
"""

from __future__ import annotations

from rich.console import Console
from rich.theme import Theme

THEME = Theme({
    "bpf.prog": "bold green",
    "bpf.map": "bold cyan",
    "bpf.btf": "magenta",
    "bpf.perf": "yellow",
    "bpf.link": "blue",
    "bpf.other": "white",
    "bpf.point": "bold yellow",
    "bpf.type": "cyan",
    "fd": "bright_blue",
    "errno": "bold red",
    "signal": "bold magenta",
    "proc": "bold",
    "path": "italic",
    "dim": "dim",
    "line": "dim cyan",
    "phase": "bold underline",
    "headline": "bold",
    "probe": "dim",
})


def make_console(file: object | None = None, *, width: int | None = None,
                 color: bool | None = None) -> Console:
    """A console with the bpfexplain theme; ``color=False`` for plain text."""
    kwargs: dict[str, object] = {"theme": THEME, "highlight": False, "emoji": False,
                                 "markup": False}
    if file is not None:
        kwargs["file"] = file
    if width is not None:
        kwargs["width"] = width
    if color is False:
        kwargs["color_system"] = None
        kwargs["no_color"] = True
    elif color is True:
        kwargs["force_terminal"] = True
    return Console(**kwargs)  # type: ignore[arg-type]
