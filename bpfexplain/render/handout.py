"""Teaching material: lesson notes in Markdown and glossary entries in the terminal.

Both take their words from :mod:`bpfexplain.glossary`, the one source of every
explanation, so a handout, ``bpfexplain explain`` and the story never disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from bpfexplain import glossary
from bpfexplain.glossary import GlossaryEntry

if TYPE_CHECKING:
    from bpfexplain.story import Story


def entry_gloss(entry: GlossaryEntry) -> str:
    """The entry as one paragraph: what it is, where it shows up, since when."""
    text = entry.summary.rstrip()
    if entry.lifecycle:
        text += f" Where: {entry.lifecycle}."
    if entry.since:
        text += f" Since Linux {entry.since}."
    return text


def handout_markdown(story: Story) -> str:
    """Lesson notes: the story, its picture as a Mermaid block, the terms it used."""
    # Here, not at the top: `bpfexplain explain TERM` needs only print_entry, and the
    # story's modules would double its start-up time.
    from bpfexplain.render.markdown import story_markdown
    from bpfexplain.render.mermaid import story_mermaid

    terms: list[tuple[str, str]] = []
    for term in story.terms:
        entry = glossary.lookup(term)
        if entry is not None:
            terms.append((entry.term, entry_gloss(entry)))
    return story_markdown(story, mermaid=story_mermaid(story), glossary_terms=terms)


def print_entry(entry: GlossaryEntry, console: Console) -> None:
    """``bpfexplain explain TERM``: the entry, laid out for reading."""
    head = Text(entry.term, style="bold green")
    head.append(f"  ({entry.category})", style="dim")
    console.print(head)
    console.print(Padding(Text(entry.summary), (0, 0, 0, 2), expand=False))
    rows: list[tuple[str, str]] = []
    if entry.lifecycle:
        rows.append(("where", entry.lifecycle))
    rows.append(("since", f"Linux {entry.since}" if entry.since else "not recorded"))
    if entry.aliases:
        rows.append(("also", ", ".join(entry.aliases)))
    if entry.see_also:
        rows.append(("see", ", ".join(entry.see_also)))
    for label, value in rows:
        row = Text(f"  {label + ':':<7}", style="bold")
        row.append(value)
        console.print(row)
