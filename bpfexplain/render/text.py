"""The terminal story, with rich.

Every string from the log reaches rich as a :class:`rich.text.Text` built from plain
strings (never as markup), after :func:`bpfexplain.text.safe` escaped control
characters: a program named ``[bold]x`` prints as those characters, and one named
``\\x1b[2J`` cannot clear the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

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


PartKey = tuple[object, ...]
"""What a part of the story shows, all of it: equal keys print equal text."""


def story_parts(story: Story) -> list[tuple[PartKey | None, Callable[[], RenderableType]]]:
    """The story's renderables, in order, each made on demand: the phases, the graph
    and the problems with the key of what they show (see :class:`Prerendered`), the
    small parts (headline, titles, spacing, footer) with none."""
    parts: list[tuple[PartKey | None, Callable[[], RenderableType]]] = []

    def small(renderable: RenderableType) -> None:
        parts.append((None, lambda: renderable))

    headline = spans_text(story.headline)
    headline.stylize("headline")
    small(headline)
    if story.detail != "brief":
        number = 0
        many = len(story.sections) > 1
        for section in story.sections:
            if many:
                small(Text(""))
                title = Text("── ")
                title.append_text(spans_text(section.title))
                small(title)
            for phase in section.phases:
                number += 1
                small(Text(""))
                parts.append((("phase", number, phase), partial(_phase, number, phase)))
    small(Text(""))
    parts.append((("graph", story.graph), partial(_tree, story.graph)))
    real = tuple(p for p in story.problems if not p.probe)
    if real:
        small(Text(""))
        small(Text("What went wrong", style="phase"))
        parts.append((("problems", real), partial(_problems_part, real)))
    small(Text(""))
    for line in story.footer:
        small(Text(safe(line), style="dim"))
    return parts


def _problems_part(problems: tuple[Problem, ...]) -> RenderableType:
    return Padding(_problems_grid(list(problems)), (0, 0, 0, 2))


def story_renderables(story: Story) -> list[RenderableType]:
    return [make() for _, make in story_parts(story)]


class Prerendered:
    """Parts of a story already printed, as text, for one console.

    ``run`` builds the story so far while the loader is quiet (:meth:`fill`) and the
    final story then prints the parts that did not change from that text: the phases
    that ended long before the loader did cost nothing after it.  The text is what
    ``console.print`` writes, captured from the same console; a change of its width
    or colours since (a resized terminal) makes every part render afresh.
    """

    def __init__(self, console: Console):
        self.console = console
        self._texts: dict[tuple[object, PartKey], str] = {}

    def usable(self) -> bool:
        """Whether captured text is exactly what printing writes on this console."""
        c = self.console
        return not (c.record or c.quiet or c.is_jupyter)

    def _settings(self) -> object:
        c = self.console
        return (c.width, c.color_system, c.is_terminal, c.no_color, c.legacy_windows)

    def fill(self, story: Story) -> int:
        """Render the keyed parts of ``story`` not already rendered; how many were new.
        Parts no longer in the story are forgotten (the cache stays one story big)."""
        settings = self._settings()
        texts: dict[tuple[object, PartKey], str] = {}
        new = 0
        for key, make in story_parts(story):
            if key is None:
                continue
            at = (settings, key)
            text = self._texts.get(at)
            if text is None:
                with self.console.capture() as capture:
                    self.console.print(make())
                text = capture.get()
                new += 1
            texts[at] = text
        self._texts = texts
        return new

    def clear(self) -> None:
        self._texts = {}

    def text(self, key: PartKey) -> str | None:
        return self._texts.get((self._settings(), key))


def print_story(story: Story, console: Console, prerendered: Prerendered | None = None
                ) -> None:
    """``story`` on ``console``; parts found in ``prerendered`` (made for this same
    console) are written as they were rendered then."""
    cache = prerendered if prerendered is not None and prerendered.console is console \
        and prerendered.usable() else None
    for key, make in story_parts(story):
        text = cache.text(key) if cache is not None and key is not None else None
        if text is None:
            console.print(make())
        else:
            console.file.write(text)
    if cache is not None:
        console.file.flush()


def print_step(step: Step, console: Console) -> None:
    """One live step, as it happens."""
    console.print(_steps_grid([step]))
