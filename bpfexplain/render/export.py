"""``--output FILE``: write a story or its picture to a file, by the file's suffix.

* ``.svg`` / ``.png`` with ``--format dot`` or ``mermaid`` (and ``.png`` always): the
  picture, rendered by Graphviz's ``dot`` (Mermaid needs a browser to render, so
  its picture goes through Graphviz too: it is the same picture);
* ``.svg`` / ``.html`` with ``--format text``: the coloured terminal story, recorded
  by rich and exported, for slides;
* anything else: the format's own text (``.dot``, ``.mmd``, ``.md``, ``.json``...).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, TextIO

from bpfexplain.errors import EnvironmentProblem
from bpfexplain.text import safe

if TYPE_CHECKING:
    from pathlib import Path

    from bpfexplain.story import Story

# The picture and file-writing modules (and shutil, subprocess, pathlib) are imported
# where they are used: a terminal story (run's end, the step that decides when it can
# exit) needs none of them.

PICTURE_FORMATS = ("dot", "mermaid")
STORY_WIDTH = 100
"""Columns of an exported story: wide enough for steps, narrow enough for a slide."""


class ExportError(EnvironmentProblem):
    """The picture or story could not be written (no Graphviz, unwritable file)."""



def export_kind(output: Path, fmt: str) -> str:
    """``graph-svg``, ``graph-png``, ``story-svg``, ``story-html`` or ``text``."""
    suffix = output.suffix.lower()
    if suffix == ".png":
        return "graph-png"
    if suffix == ".svg":
        return "graph-svg" if fmt in PICTURE_FORMATS else "story-svg"
    if suffix in (".html", ".htm"):
        return "story-html"
    return "text"


def render_graph(story: Story, output: Path, image: str, *,
                 dot_binary: str = "dot") -> None:
    """Render the story's picture to ``output`` as ``svg`` or ``png`` with Graphviz."""
    import shutil
    import subprocess

    found = shutil.which(dot_binary)
    if found is None:
        raise ExportError(f"cannot render {output.name}: Graphviz 'dot' is not installed "
                          "(apt install graphviz), or use --format dot and render it elsewhere")
    from bpfexplain.render.dot import story_dot
    from bpfexplain.safeio import REPORT_MODE, write_file

    source = story_dot(story)
    try:
        # 144 dpi: a PNG is for slides, where the default 96 dpi looks blurred.
        # The picture comes back on stdout, never `dot -o`: dot would open the path
        # itself, following whatever symlink or FIFO sits there.
        extra = ["-Gdpi=144"] if image == "png" else []
        done = subprocess.run([found, f"-T{image}", *extra],
                              input=source.encode(),
                              capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExportError(f"cannot render {output.name}: {exc}") from None
    if done.returncode != 0:
        first = done.stderr.decode(errors="replace").strip().splitlines()
        raise ExportError(f"cannot render {output.name}: dot failed"
                          + (f" ({safe(first[0])})" if first else ""))
    write_file(output, done.stdout, mode=REPORT_MODE)


def export_story(story: Story, output: Path, kind: str, *, title: str = "bpfexplain") -> None:
    """The coloured terminal story as SVG (a terminal window) or HTML."""
    from bpfexplain.render.text import make_console, print_story

    # force_terminal so that colours are recorded even when stdout is a pipe; the
    # recording goes to a throw-away buffer, only the export reaches the file.
    console = make_console(io.StringIO(), width=STORY_WIDTH, color=True)
    console.record = True
    print_story(story, console)
    if kind == "story-svg":
        text = console.export_svg(title=title)
    else:
        text = console.export_html(inline_styles=True)
    _write(output, text)


def write_text(output: Path, text: str) -> None:
    _write(output, text)


def _write(output: Path, text: str) -> None:
    # The one way a report reaches a file: see bpfexplain.safeio.
    from bpfexplain.safeio import REPORT_MODE, write_file

    write_file(output, text, mode=REPORT_MODE)


def format_story(story: Story, fmt: str) -> str:
    """The story as text in one of ``parse``'s formats (no colours: it goes to a file)."""
    if fmt == "dot":
        from bpfexplain.render.dot import story_dot

        return story_dot(story)
    if fmt == "mermaid":
        from bpfexplain.render.mermaid import story_mermaid

        return story_mermaid(story)
    if fmt == "markdown":
        from bpfexplain.render.handout import handout_markdown

        return handout_markdown(story)
    if fmt == "json":
        from bpfexplain.render.json import story_json
        from bpfexplain.text import json_text

        return json_text(story_json(story), indent=2) + "\n"
    from bpfexplain.render.text import make_console, print_story

    out = io.StringIO()
    print_story(story, make_console(out, width=STORY_WIDTH, color=False))
    return out.getvalue()


def write_story(story: Story, fmt: str, file: TextIO, *, color: bool | None = None) -> None:
    """The story in ``fmt`` on an open ``file``: the terminal story keeps its colours
    (rich decides by the file, or ``color`` forces them); other formats are text."""
    if fmt == "text":
        from bpfexplain.render.text import make_console, print_story

        print_story(story, make_console(file, color=color))
    else:
        file.write(format_story(story, fmt))
    file.flush()


def write_output(story: Story, fmt: str, output: Path) -> None:
    """``--output FILE``: a picture, an exported story or the format's text, by suffix."""
    kind = export_kind(output, fmt)
    if kind.startswith("graph-"):
        render_graph(story, output, kind.removeprefix("graph-"))
    elif kind.startswith("story-"):
        export_story(story, output, kind)
    else:
        write_text(output, format_story(story, fmt))
