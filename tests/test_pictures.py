"""Pictures and handouts: DOT, Mermaid and Markdown goldens, validity, hostile names.

Regenerate the goldens in tests/golden/pictures/ with the project's one command
(see tests/golden_files.py) and review the diff:

    BPFEXPLAIN_REGEN_GOLDENS=1 .venv/bin/pytest -q tests/test_pictures.py
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bpfexplain.demo import LESSONS
from bpfexplain.framing import Stats
from bpfexplain.parser import parse_events
from bpfexplain.render import export
from bpfexplain.render.dot import dot_quote, story_dot
from bpfexplain.render.handout import handout_markdown
from bpfexplain.render.mermaid import mermaid_escape, story_mermaid
from bpfexplain.render.picture import build_picture
from bpfexplain.resolve import Resolver
from bpfexplain.story import Story, build_story
from bpfexplain.tracking import Tracker
from tests.fixture_stories import fixture_names, fixture_story
from tests.golden_files import check_golden

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
GOLDEN_RECORDINGS = sorted({r for lesson in LESSONS for r in lesson.recordings}
                           | {"seed", "begin-end", "tp-wildcard", "two-loaders",
                              "opensnoop", "interval"})
HAVE_DOT = shutil.which("dot") is not None
# CI installs Graphviz (.ci/run): there a missing dot is a failure, not a skip.
needs_dot = pytest.mark.skipif(not HAVE_DOT and not os.environ.get("CI"),
                               reason="Graphviz (dot) is not installed")






def story_of(text: str, detail: str = "default") -> Story:
    data = textwrap.dedent(text).strip("\n").encode()
    tracker = Tracker(Resolver(local=False))
    for event in parse_events([("t.log", io.BytesIO(data))], Stats()):
        tracker.feed(event)
    return build_story(tracker.lifecycle(), detail)


# --------------------------------------------------------------------------------
# a syntax check for the Mermaid subset render/mermaid.py emits

_ID = r"n\d+"
_LABEL = r'"(?P<label>[^"]*)"'
_SHAPES = [(r"\(", r"\)"), (r"\[", r"\]"), (r"\[\(", r"\)\]"), (r"\[/", r"/\]"),
           (r"\{\{", r"\}\}"), (r"\[\\", r"/\]")]
_NODE = re.compile(rf"^  (?P<id>{_ID})(?:" + "|".join(
    f"{o}{_LABEL.replace('label', f'l{i}')}{c}" for i, (o, c) in enumerate(_SHAPES)) + ")$")
_EDGE = re.compile(rf'^  (?P<src>{_ID}) (?P<arrow>-->|==>|-\.->)\|{_LABEL}\| (?P<dst>{_ID})$')
_CLASSDEF = re.compile(r"^  classDef (?P<name>[a-z]+) [a-z-]+:[#0-9a-z. ]+(?:,[a-z-]+:[#0-9a-z. ]+)*$")
_CLASS = re.compile(rf"^  class (?P<ids>{_ID}(?:,{_ID})*) (?P<name>[a-z]+)$")
_COMMENT = re.compile(r"^  %% [^\n]*$")
# Inside a label: entity codes, our own line breaks, and characters with no meaning.
_LABEL_TEXT = re.compile(r"^(?:#\d+;|<br/>|[^\"<>\[\]{}|#;`&*~\\])*$")


def check_mermaid(source: str) -> tuple[set[str], list[tuple[str, str]], list[str]]:
    """Parse our Mermaid subset strictly; return node ids, edges and label texts."""
    lines = source.rstrip("\n").split("\n")
    assert lines[0] == "flowchart LR", lines[0]
    nodes: set[str] = set()
    classes: set[str] = set()
    edges: list[tuple[str, str]] = []
    labels: list[str] = []
    for line in lines[1:]:
        if _COMMENT.match(line):
            continue
        if m := _CLASSDEF.match(line):
            classes.add(m["name"])
            continue
        if m := _NODE.match(line):
            assert m["id"] not in nodes, f"node defined twice: {line}"
            nodes.add(m["id"])
            labels.append(next(v for k, v in m.groupdict().items()
                               if k.startswith("l") and v is not None))
            continue
        if m := _EDGE.match(line):
            assert m["src"] in nodes and m["dst"] in nodes, f"edge to unknown node: {line}"
            edges.append((m["src"], m["dst"]))
            labels.append(m["label"])
            continue
        if m := _CLASS.match(line):
            assert m["name"] in classes, f"class not defined: {line}"
            assert set(m["ids"].split(",")) <= nodes, line
            continue
        raise AssertionError(f"not valid Mermaid (for our subset): {line!r}")
    for label in labels:
        assert _LABEL_TEXT.match(label), f"unescaped character in label {label!r}"
    return nodes, edges, labels


def mermaid_unescape(label: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m[1])), label)


def test_the_mermaid_checker_rejects_what_mermaid_would() -> None:
    good = 'flowchart LR\n  n0["a"]\n  n1{{"b"}}\n  n0 ==>|"x"| n1\n'
    check_mermaid(good)
    for bad in ('flowchart LR\n  n0["a"b"]\n', 'flowchart LR\n  n0["a"]\n  n0 --> n9\n',
                'flowchart LR\n  n0["<b>x</b>"]\n', 'flowchart LR\n  n0["a"]\n  x y\n',
                'flowchart LR\n  n0["[x]"]\n', 'graph TD\n'):
        with pytest.raises(AssertionError):
            check_mermaid(bad)


# --------------------------------------------------------------------------------
# goldens


@pytest.mark.parametrize("name", GOLDEN_RECORDINGS)
def test_dot_golden(name: str) -> None:
    check_golden(f"pictures/{name}.dot", story_dot(fixture_story(f"{name}.log")))


@pytest.mark.parametrize("name", GOLDEN_RECORDINGS)
def test_mermaid_golden(name: str) -> None:
    check_golden(f"pictures/{name}.mmd", story_mermaid(fixture_story(f"{name}.log")))


@pytest.mark.parametrize("name", GOLDEN_RECORDINGS)
def test_markdown_handout_golden(name: str) -> None:
    check_golden(f"pictures/{name}.md", handout_markdown(fixture_story(f"{name}.log")))


def test_verbose_picture_golden() -> None:
    story = fixture_story("seed-full.log", "verbose")
    check_golden("pictures/seed-full.verbose.dot", story_dot(story))


# --------------------------------------------------------------------------------
# validity over every fixture


@needs_dot
@pytest.mark.parametrize("name", fixture_names())
def test_dot_is_valid_for_graphviz(name: str) -> None:
    for detail in ("default", "verbose"):
        source = story_dot(fixture_story(name, detail))
        done = subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr.decode()
        assert not done.stderr.strip(), done.stderr.decode()  # no warnings either


@pytest.mark.parametrize("name", fixture_names())
def test_mermaid_parses(name: str) -> None:
    for detail in ("default", "verbose"):
        story = fixture_story(name, detail)
        nodes, edges, _ = check_mermaid(story_mermaid(story))
        pic = build_picture(story)
        assert len(nodes) == len(pic.nodes) and len(edges) == len(pic.edges)


def test_handout_has_story_mermaid_and_glossary() -> None:
    story = fixture_story("seed-full.log")
    md = handout_markdown(story)
    block = re.search(r"```mermaid\n(.*?)```", md, re.S)
    assert block is not None
    check_mermaid(block[1])
    assert "## Glossary" in md
    for term in story.terms:
        assert f"**{term}**" in md.replace("\\", "")


def test_probes_only_when_verbose() -> None:
    default = build_picture(fixture_story("seed-full.log"))
    verbose = build_picture(fixture_story("seed-full.log", "verbose"))
    assert not any(n.probe for n in default.nodes)
    assert any(n.probe for n in verbose.nodes)


def test_the_classic_chain_is_three_numbered_arrows() -> None:
    pic = build_picture(fixture_story("seed-full.log"))
    labels = [e.label for e in pic.edges if e.kind in ("load", "attach", "enable")]
    assert [label[0] for label in labels] == ["①", "②", "③"]
    chain = [e for e in pic.edges if e.kind in ("load", "attach", "enable")]
    # loader → program → perf event → tracepoint: each arrow starts where the last ended
    assert chain[0].dst == chain[1].src and chain[1].dst == chain[2].src
    assert pic.node(chain[2].dst).title == "tracepoint:raw_syscalls:sys_enter"


# --------------------------------------------------------------------------------
# hostile names

HOSTILE = 'x\\"];evil[label=\\"<b>&amp;`*_|{}#;\\\\N\\n\\x1b[2J'
HOSTILE_TEXT = 'x"];evil[label="<b>&amp;`*_|{}#;\\N\n\x1b[2J'


def hostile_story() -> Story:
    return story_of(f"""
        bpf(BPF_MAP_CREATE, {{map_type=BPF_MAP_TYPE_HASH, key_size=4, value_size=8, max_entries=1, map_name="{HOSTILE}"}}, 72) = 3
        bpf(BPF_PROG_LOAD, {{prog_type=BPF_PROG_TYPE_TRACEPOINT, insn_cnt=27, insns=0x1, license="GPL", prog_name="{HOSTILE}"}}, 148) = 9
        perf_event_open({{type=PERF_TYPE_TRACEPOINT, size=0x88 /* PERF_ATTR_SIZE_??? */, config=443, sample_period=1, sample_type=PERF_SAMPLE_RAW, wakeup_events=1}}, -1, 0, -1, PERF_FLAG_FD_CLOEXEC) = 8
        ioctl(8, PERF_EVENT_IOC_SET_BPF, 9)     = 0
        ioctl(8, PERF_EVENT_IOC_ENABLE, 0)      = 0
    """)


def test_hostile_story_keeps_the_name() -> None:
    story = hostile_story()
    names = {o.name for o in story.lifecycle.objects}
    assert HOSTILE_TEXT in names, names


def test_hostile_names_stay_one_dot_label() -> None:
    story = hostile_story()
    source = story_dot(story)
    pic = build_picture(story)
    statements = [line for line in source.splitlines() if re.match(r"^  n\d+ \[", line)]
    assert len(statements) == len(pic.nodes)
    assert "evil" not in re.sub(r'"(?:[^"\\]|\\.)*"', '""', source)  # only inside labels
    assert "\x1b" not in source and "<b>" not in source


@needs_dot
def test_hostile_names_render_literally_in_svg() -> None:
    done = subprocess.run(["dot", "-Tsvg"], input=story_dot(hostile_story()).encode(),
                          capture_output=True, timeout=60, check=True)
    svg = ET.fromstring(done.stdout)
    texts = "".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    # Graphviz shows what the log held, with control characters made visible.
    assert 'program "x"];evil[label="<b>&amp;`*_|{}#;\\N\\n\\x1b[2J"' in texts
    assert not list(svg.iter("{http://www.w3.org/2000/svg}b"))


def test_hostile_names_stay_one_mermaid_label() -> None:
    story = hostile_story()
    source = story_mermaid(story)
    nodes, _, labels = check_mermaid(source)
    assert len(nodes) == len(build_picture(story).nodes)
    shown = [mermaid_unescape(label) for label in labels]
    assert any('program "x"];evil[label="<b>&amp;`*_|{}#;\\N\\n\\x1b[2J"' in s for s in shown)


def test_escapers_directly() -> None:
    assert dot_quote('a"b\\c', "<i>&") == '"a\\"b\\\\c\\n&lt;i&gt;&amp;"'
    assert mermaid_escape('a"[b]<c>') == "a#34;#91;b#93;#60;c#62;"
    assert mermaid_escape("\n") == "#92;n"


# --------------------------------------------------------------------------------
# --output


@needs_dot
@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_graph_images(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"graph{suffix}"
    export.write_output(fixture_story("seed-full.log"), "dot", out)
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data


def test_story_exports(tmp_path: Path) -> None:
    story = fixture_story("seed-full.log")
    svg, html = tmp_path / "story.svg", tmp_path / "story.html"
    export.write_output(story, "text", svg)
    export.write_output(story, "text", html)
    assert "<svg" in svg.read_text() and "sys_enter" in svg.read_text()
    assert "<html" in html.read_text().lower() and "sys_enter" in html.read_text()


def test_missing_graphviz_is_one_clear_error(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda _name: None)  # export imports it where used
    with pytest.raises(export.ExportError, match="Graphviz 'dot' is not installed"):
        export.write_output(fixture_story("seed.log"), "dot", tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()


def test_other_suffixes_get_the_format_text(tmp_path: Path) -> None:
    story = fixture_story("seed.log")
    out = tmp_path / "g.mmd"
    export.write_output(story, "mermaid", out)
    assert out.read_text() == story_mermaid(story)
