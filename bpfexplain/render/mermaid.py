"""``--format mermaid``: the lifecycle picture as a Mermaid flowchart.

Mermaid is rendered in browsers (GitHub, docs sites), so a label is HTML in the end.
Labels are always double-quoted, and every character outside a small safe set is
written as a Mermaid entity code (``#34;`` for ``"``, ``#60;`` for ``<``), which
Mermaid turns back into that literal character: no name from a log can close a
label, start markup, open a Markdown string or add a node.  Line breaks are our own
``<br/>``.
"""

from __future__ import annotations

import re

from bpfexplain.render.picture import Picture, build_picture
from bpfexplain.story import Story
from bpfexplain.text import safe

# Letters, digits, space and punctuation that mean nothing to Mermaid inside a
# quoted label; anything else (quotes, brackets, <>, &, #, ;, `, |, {}, *, ~ ...)
# becomes an entity code.  Non-ASCII letters pass: safe() already escaped the
# invisible and direction-changing ones.
_UNSAFE = re.compile(r"[^A-Za-z0-9 _.,:=+/()@'\-\u00a0-\uffff]|[\u00a0\u00ad\ufeff]")

SHAPES: dict[str, tuple[str, str]] = {
    "loader": ("(", ")"),
    "prog": ("[", "]"),
    "map": ("[(", ")]"),
    "btf": ("[/", "/]"),
    "perf": ("[", "]"),
    "output": ("[", "]"),
    "link": ("[", "]"),
    "socket": ("(", ")"),
    "point": ("{{", "}}"),
    "pin": ("[\\", "/]"),
    "failure": ("[", "]"),
    "object": ("[", "]"),
}

CLASSES: dict[str, str] = {
    "loader": "fill:#ffffff,stroke:#444444,stroke-width:2px",
    "prog": "fill:#c8e6c9,stroke:#2e7d32,stroke-width:2px,color:#000",
    "map": "fill:#b2ebf2,stroke:#00838f,color:#000",
    "btf": "fill:#f3e5f5,stroke:#8e24aa,color:#000",
    "perf": "fill:#fff9c4,stroke:#f9a825,color:#000",
    "output": "fill:#fffde7,stroke:#f9a825,stroke-dasharray:4 3,color:#000",
    "link": "fill:#bbdefb,stroke:#1565c0,color:#000",
    "socket": "fill:#e0f2f1,stroke:#00695c,color:#000",
    "point": "fill:#ffe0b2,stroke:#e65100,stroke-width:2px,color:#000",
    "pin": "fill:#efebe9,stroke:#5d4037,color:#000",
    "failure": "fill:#ffcdd2,stroke:#c62828,stroke-width:2px,color:#000",
    "object": "fill:#eeeeee,stroke:#616161,color:#000",
    "probe": "fill:#fafafa,stroke:#9e9e9e,stroke-dasharray:4 3,color:#757575",
}

ARROWS: dict[str, str] = {
    "load": "==>", "attach": "==>", "enable": "==>",
    "never": "-.->", "open": "-.->", "uses": "-.->", "types": "-.->", "output": "-.->",
}


def mermaid_escape(text: str) -> str:
    """One line of untrusted text, safe inside a double-quoted Mermaid label."""
    return _UNSAFE.sub(lambda m: f"#{ord(m.group(0))};", safe(text))


def mermaid_label(*lines: str) -> str:
    return '"' + "<br/>".join(mermaid_escape(line) for line in lines) + '"'


def picture_mermaid(pic: Picture) -> str:
    out = ["flowchart LR"]
    out.append(f"  %% {mermaid_escape(pic.title)}")
    for name, style in CLASSES.items():
        out.append(f"  classDef {name} {style}")
    for node in pic.nodes:
        left, right = SHAPES.get(node.kind, ("[", "]"))
        out.append(f"  {node.id}{left}{mermaid_label(*node.lines)}{right}")
    for edge in pic.edges:
        arrow = ARROWS.get(edge.kind, "-->")
        out.append(f"  {edge.src} {arrow}|{mermaid_label(edge.label)}| {edge.dst}")
    by_class: dict[str, list[str]] = {}
    for node in pic.nodes:
        by_class.setdefault("probe" if node.probe else node.kind, []).append(node.id)
    for name, ids in by_class.items():
        out.append(f"  class {','.join(ids)} {name}")
    return "\n".join(out) + "\n"


def story_mermaid(story: Story) -> str:
    """The Mermaid source of a story's picture."""
    return picture_mermaid(build_picture(story))
