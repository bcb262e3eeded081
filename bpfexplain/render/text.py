"""The terminal story, with rich.

Every string from the log reaches rich as a :class:`rich.text.Text` built from plain
strings (never as markup), after :func:`bpfexplain.text.safe` escaped control
characters: a program named ``[bold]x`` prints as those characters, and one named
``\\x1b[2J`` cannot clear the screen.
"""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from rich.theme import Theme
from rich.tree import Tree

from bpfexplain.story import Node, Phase, Problem, Spans, Step, Story, cite
from bpfexplain.text import safe

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


def spans_text(spans: Spans) -> Text:
    text = Text()
    for chunk, style in spans:
        text.append(safe(chunk), style=style or "")
    return text


def _step(step: Step) -> RenderableType:
    ref = cite(step.lines)
    row = Text()
    if len(ref) > 9:
        # A long list of lines gets a line of its own rather than pushing the text.
        row.append(ref + "\n" + " " * 10, style="line")
    else:
        row.append(f"{ref:<9} " if ref else " " * 10, style="line")
    row.append_text(spans_text(step.text))
    if step.probe and step.kind not in ("probes",):
        row.stylize("dim")
    if not step.extra:
        return row
    log = Text("\n".join(safe(line) for line in step.extra), style="dim")
    return Group(row, Padding(log, (0, 0, 0, 12)))


def _phase(number: int, phase: Phase) -> RenderableType:
    head = Table.grid(expand=True)
    head.add_column()
    head.add_column(justify="right")
    lines = phase.lines
    where = ""
    if lines:
        where = ("line " if len(lines) == 1 else "lines ") + cite(lines)[1:]
    head.add_row(Text(f"{number:>2}  {phase.title}", style="phase"), Text(where, style="line"))
    parts: list[RenderableType] = [head]
    for intro in phase.intro:
        parts.append(Padding(Text(intro, style="italic"), (0, 0, 0, 4)))
    for step in phase.steps:
        parts.append(Padding(_step(step), (0, 0, 0, 4)))
    return Group(*parts)


def _tree(nodes: tuple[Node, ...]) -> Tree:
    tree = Tree(Text("Graph", style="phase"), guide_style="dim")

    def add(parent: Tree, node: Node) -> None:
        branch = parent.add(spans_text(node.label))
        for child in node.children:
            add(branch, child)

    for node in nodes:
        add(tree, node)
    return tree


def _problem(problem: Problem) -> RenderableType:
    row = Text()
    row.append(f"{cite(problem.lines):<9} ", style="line")
    row.append_text(spans_text(problem.text))
    parts: list[RenderableType] = [row, Padding(Text(problem.why), (0, 0, 0, 10))]
    if problem.detail:
        log = Text("\n".join(safe(line) for line in problem.detail), style="dim")
        parts.append(Padding(log, (0, 0, 0, 10)))
    return Group(*parts)


def story_renderables(story: Story) -> list[RenderableType]:
    out: list[RenderableType] = []
    headline = spans_text(story.headline)
    headline.stylize("headline")
    out.append(headline)
    if story.detail != "brief":
        number = 0
        many = len(story.sections) > 1
        for section in story.sections:
            if many:
                out.append(Text(""))
                title = Text("── ")
                title.append_text(spans_text(section.title))
                out.append(title)
            for phase in section.phases:
                number += 1
                out.append(Text(""))
                out.append(_phase(number, phase))
    out.append(Text(""))
    out.append(_tree(story.graph))
    real = [p for p in story.problems if not p.probe]
    if real:
        out.append(Text(""))
        out.append(Text("What went wrong", style="phase"))
        for problem in real:
            out.append(Padding(_problem(problem), (0, 0, 0, 2)))
    out.append(Text(""))
    for line in story.footer:
        out.append(Text(line, style="dim"))
    return out


def print_story(story: Story, console: Console) -> None:
    for renderable in story_renderables(story):
        console.print(renderable)


def print_step(step: Step, console: Console, *, phase: str | None = None) -> None:
    """One live step, as it happens."""
    row = Text()
    if phase:
        row.append(f"[{phase}] ", style="dim")
    row.append_text(Text.assemble(_as_text(_step(step))))
    console.print(row)


def _as_text(renderable: RenderableType) -> Text:
    if isinstance(renderable, Text):
        return renderable
    return Text("")
