"""``--format markdown``: the story as lesson notes (a handout).

Strings from the log are escaped for Markdown (and HTML) so that a name such as
``*x*`` or ``<script>`` reads literally in any renderer.
"""

from __future__ import annotations

import re

from bpfexplain.story import Node, Story, cite
from bpfexplain.story_words import Spans
from bpfexplain.text import safe

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", safe(text))


_BACKTICKS = re.compile(r"`+")


def fenced(lines: tuple[str, ...] | list[str], indent: str = "  ") -> list[str]:
    """Untrusted lines as a fenced code block nothing in them can close: the fence is
    longer than any run of backticks inside (CommonMark's rule), so a log line of
    three backticks stays text and raw HTML after it is never rendered."""
    body = [safe(line) for line in lines]
    longest = max((len(m.group()) for line in body for m in _BACKTICKS.finditer(line)),
                  default=0)
    fence = "`" * max(3, longest + 1)
    return [indent + fence, *(indent + line for line in body), indent + fence]


def _spans(spans: Spans) -> str:
    out = []
    for chunk, style in spans:
        escaped = md_escape(chunk)
        if style in ("bpf.prog", "bpf.map", "bpf.point", "errno") and chunk.strip():
            escaped = f"**{escaped}**"
        out.append(escaped)
    return "".join(out)


def _tree(node: Node, depth: int, out: list[str]) -> None:
    out.append("  " * depth + "- " + _spans(node.label))
    for child in node.children:
        _tree(child, depth + 1, out)


def story_markdown(story: Story, *, mermaid: str | None = None,
                   glossary_terms: list[tuple[str, str]] | None = None) -> str:
    out: list[str] = [f"# {_spans(story.headline)}", ""]
    if story.detail != "brief":
        number = 0
        for section in story.sections:
            if len(story.sections) > 1:
                out += [f"## {_spans(section.title)}", ""]
            for phase in section.phases:
                number += 1
                where = cite(phase.lines)
                out.append(f"### {number}. {md_escape(phase.title)}"
                           + (f" ({where})" if where else ""))
                out.append("")
                for intro in phase.intro:
                    out += [f"> {md_escape(intro)}", ""]
                for step in phase.steps:
                    ref = cite(step.lines)
                    prefix = f"`{ref}` " if ref else ""
                    out.append(f"- {prefix}{_spans(step.text)}")
                    if step.extra:
                        out.append("")
                        out += fenced(step.extra)
                out.append("")
    out += ["## Graph", ""]
    if mermaid:
        out += ["```mermaid", mermaid.rstrip("\n"), "```", ""]
    for node in story.graph:
        _tree(node, 0, out)
    out.append("")
    real = [p for p in story.problems if not p.probe]
    if real:
        out += ["## What went wrong", ""]
        for p in real:
            out.append(f"- `{cite(p.lines)}` {_spans(p.text)}: {md_escape(p.why)}")
            if p.detail:
                out += ["", *fenced(p.detail)]
        out.append("")
    if glossary_terms:
        out += ["## Glossary", ""]
        for term, summary in glossary_terms:
            out.append(f"- **{md_escape(term)}**: {md_escape(summary)}")
        out.append("")
    out += [f"_{md_escape(line)}_" for line in story.footer]
    return "\n".join(out) + "\n"
