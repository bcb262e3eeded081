"""``--format dot``: the lifecycle picture for Graphviz.

Every label is a double-quoted DOT string built by :func:`dot_quote`: a program
named ``x" -> evil [label="`` stays one literal label.  Graphviz also decodes HTML
entities in ordinary labels (``&lt;`` prints as ``<``), so ``&``, ``<`` and ``>`` are
written as entities, and backslashes are doubled so that a name cannot smuggle in
DOT's own escapes (``\\N``, ``\\l``).  Control characters were already made visible by
:func:`bpfexplain.text.safe`.
"""

from __future__ import annotations

from bpfexplain.render.picture import Picture, build_picture
from bpfexplain.story import Story
from bpfexplain.text import safe

# Colours follow the terminal theme (render/text.py) so a slide and a terminal agree:
# programs green, maps cyan, BTF magenta, perf events yellow, links blue, sockets teal.
NODE_STYLE: dict[str, str] = {
    "loader": 'shape=box, style="rounded,bold", color="#444444", fillcolor="#ffffff"',
    "prog": 'shape=box, style="rounded,filled,bold", color="#2e7d32", fillcolor="#c8e6c9"',
    "map": 'shape=cylinder, style=filled, color="#00838f", fillcolor="#b2ebf2"',
    "btf": 'shape=note, style=filled, color="#8e24aa", fillcolor="#f3e5f5"',
    "perf": 'shape=box, style=filled, color="#f9a825", fillcolor="#fff9c4"',
    "output": 'shape=box, style="filled,dashed", color="#f9a825", fillcolor="#fffde7"',
    "link": 'shape=box, style=filled, color="#1565c0", fillcolor="#bbdefb"',
    "socket": 'shape=box, style="rounded,filled", color="#00695c", fillcolor="#e0f2f1"',
    "point": 'shape=hexagon, style="filled,bold", color="#e65100", fillcolor="#ffe0b2"',
    "pin": 'shape=folder, style=filled, color="#5d4037", fillcolor="#efebe9"',
    "object": 'shape=box, style=filled, color="#616161", fillcolor="#eeeeee"',
    "failure": 'shape=box, style="rounded,filled,bold", color="#c62828", fillcolor="#ffcdd2"',
}

EDGE_STYLE: dict[str, str] = {
    # weight keeps the load → attach → enable spine straight and in the middle.
    "load": 'weight=8, color="#2e7d32", penwidth=2.2, fontcolor="#2e7d32"',
    "attach": 'weight=8, color="#1565c0", penwidth=2.2, fontcolor="#1565c0"',
    "enable": 'weight=8, color="#e65100", penwidth=2.2, fontcolor="#e65100"',
    "never": 'color="#c62828", style=dashed, fontcolor="#c62828"',
    "create": 'color="#9e9e9e", fontcolor="#616161"',
    "open": 'color="#9e9e9e", style=dashed, fontcolor="#616161"',
    "uses": 'color="#00838f", style=dashed, fontcolor="#00838f", arrowhead=vee',
    "types": 'color="#8e24aa", style=dotted, fontcolor="#8e24aa", arrowhead=vee',
    "output": 'color="#f9a825", style=dashed, fontcolor="#9e7b00"',
    "pin": 'color="#5d4037", fontcolor="#5d4037"',
    "failure": 'color="#c62828", penwidth=1.6, fontcolor="#c62828"',
}


def dot_escape(text: str) -> str:
    """The inside of a DOT double-quoted label for one line of untrusted text."""
    text = safe(text)
    return (text.replace("\\", "\\\\").replace("&", "&amp;").replace('"', '\\"')
            .replace("<", "&lt;").replace(">", "&gt;"))


def dot_quote(*lines: str) -> str:
    """A quoted DOT label; lines are joined with DOT's own centred line break."""
    return '"' + "\\n".join(dot_escape(line) for line in lines) + '"'


def picture_dot(pic: Picture) -> str:
    out = [
        "digraph bpfexplain {",
        "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=16, labelloc=t, "
        "nodesep=0.35, ranksep=0.6, pad=0.3, label=" + dot_quote(pic.title) + "];",
        '  node [fontname="Helvetica", fontsize=12, margin="0.15,0.06"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for node in pic.nodes:
        style = NODE_STYLE.get(node.kind, "shape=box")
        if node.probe:
            style += ', color="#9e9e9e", fontcolor="#757575", style="dashed"'
        out.append(f"  {node.id} [label={dot_quote(*node.lines)}, {style}];")
    for edge in pic.edges:
        style = EDGE_STYLE.get(edge.kind, "")
        out.append(f"  {edge.src} -> {edge.dst} [label={dot_quote(edge.label)}"
                   + (f", {style}" if style else "") + "];")
    out.append("}")
    return "\n".join(out) + "\n"


def story_dot(story: Story) -> str:
    """The DOT source of a story's picture."""
    return picture_dot(build_picture(story))
