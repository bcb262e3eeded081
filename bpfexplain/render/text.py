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
from rich.tree import Tree

# The theme and the console live apart so that commands which print no story
# (`explain`, the demo table) need not import the story.
from bpfexplain.render.console import THEME as THEME
from bpfexplain.render.console import make_console as make_console
from bpfexplain.story import Node, Phase, Problem, Step, Story, cite
from bpfexplain.story_words import Spans
from bpfexplain.text import safe


def spans_text(spans: Spans) -> Text:
    text = Text()
    for chunk, style in spans:
        text.append(safe(chunk), style=style or "")
    return text


CITE_WIDTH = 9
"""Least width of the line-reference column; lists of references wrap inside it."""

MAX_CITE_WIDTH = 15
"""Widest the column grows so that one reference (``L12345-12399,``) is not cut."""


def _cite_width(cites: list[str]) -> int:
    """A column as wide as the longest single reference (lists wrap at their spaces),
    so that a long line number is never folded in the middle (``L2794-280`` / ``5``)."""
    longest = max((len(word) for c in cites for word in c.split()), default=0)
    return max(CITE_WIDTH, min(longest, MAX_CITE_WIDTH))


def _steps_grid(steps: tuple[Step, ...] | list[Step]) -> Table:
    """Steps as two columns, line references and text, so wrapped text stays aligned."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=_cite_width([cite(s.lines) for s in steps]), style="line",
                    overflow="fold")
    grid.add_column(ratio=1)
    for step in steps:
        body = spans_text(step.text)
        if step.probe and step.kind not in ("probes",):
            body.stylize("dim")
        cell: RenderableType = body
        if step.extra:
            log = Text("\n".join(safe(line) for line in step.extra), style="dim")
            cell = Group(body, Padding(log, (0, 0, 0, 2)))
        grid.add_row(Text(cite(step.lines)), cell)
    return grid


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
    if phase.steps:
        parts.append(Padding(_steps_grid(phase.steps), (0, 0, 0, 4)))
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


def _problems_grid(problems: list[Problem]) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=_cite_width([cite(p.lines) for p in problems]), style="line",
                    overflow="fold")
    grid.add_column(ratio=1)
    for problem in problems:
        parts: list[RenderableType] = [spans_text(problem.text), Text(safe(problem.why))]
        if problem.detail:
            parts.append(Text("\n".join(safe(line) for line in problem.detail), style="dim"))
        grid.add_row(Text(cite(problem.lines)), Group(*parts))
    return grid


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
        out.append(Padding(_problems_grid(real), (0, 0, 0, 2)))
    out.append(Text(""))
    for line in story.footer:
        out.append(Text(safe(line), style="dim"))
    return out


def print_story(story: Story, console: Console) -> None:
    for renderable in story_renderables(story):
        console.print(renderable)


def print_step(step: Step, console: Console) -> None:
    """One live step, as it happens."""
    console.print(_steps_grid([step]))
