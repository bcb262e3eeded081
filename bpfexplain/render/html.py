"""``--format html``: one self-contained page that links the story, graph, timeline and log.

The page is a single file (inline CSS, JavaScript and SVG) for a projector, a course
site or a bug report.  It fetches nothing: a Content-Security-Policy allows only the
page's own style and script (by hash) and forbids every other source.

What is where:

* the story, phase by phase (``<details>``, so each phase folds), with the glossary's
  words on every term it knows (shown on hover and on keyboard focus);
* the lifecycle picture (:mod:`bpfexplain.render.picture`), drawn by Graphviz as SVG
  when ``dot`` is installed, otherwise a list of the same nodes and a note;
* a timeline drawn here: one lane per object and per attachment, grouped by process,
  a bar from the line that made it to the line that released it, marks for attach,
  enable, disable, detach and failures, and feature probes folded into one lane; the
  time axis is the log's own clock (``-t/-tt/-ttt/-r``) or, without one, line order;
* the log, the lines the story cites highlighted.  A long log shows only the cited
  lines (and their neighbours) with buttons that bring the rest in on demand.

The links between views are data the page carries as JSON: which lines and which
lifecycle subjects (objects, attachments, failures) each step is about, which step
explains each subject and each cited line, and which subjects each graph node draws.
The script only follows those links; it computes nothing about eBPF.

Everything from the log is untrusted.  Text goes into HTML through
:func:`html.escape` (after :func:`bpfexplain.text.safe`), into the JSON blocks with
``<``, ``>`` and ``&`` written as ``\\u003c`` escapes (so no string can close the
``<script>`` element), and Graphviz's SVG is parsed and written out again keeping only
drawing elements and attributes (no scripts, no event handlers, no links).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import html
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from bpfexplain import glossary
from bpfexplain.logtext import LogText
from bpfexplain.render.dot import picture_dot
from bpfexplain.render.picture import Picture, Subject, build_picture
from bpfexplain.story import Phase, Step, Story, cite
from bpfexplain.story_words import Spans, name_spans
from bpfexplain.text import safe
from bpfexplain.tracking import Attachment, Failure, Lifecycle, Obj

FULL_LOG_LINES = 5000
"""Up to this many lines the log pane shows every line; above, only cited ones (and
their neighbours) until asked: a DOM of 100,000 rows would make the page slow to open."""

CONTEXT_LINES = 1
"""Neighbours shown around each cited line of a long log."""

SHOWN_PER_STEP = 40
"""In a long log, cited lines shown at first per step: a step that groups 100,000 map
reads shows its first lines, the rest come in with the "show" buttons."""

LONG_LINE = 4000
"""Characters of one log line shown in the pane (a verifier log line can be huge)."""

MarkKind = Literal["attach", "enable", "disable", "detach", "failure", "release"]
LineRef = tuple[int, int]
"""(file index, 1-based line)."""


def esc(text: object) -> str:
    """Untrusted text for HTML text and double-quoted attributes."""
    return html.escape(safe(str(text)), quote=True)


def json_for_script(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>`` or
    ``&`` (so nothing can close the element or open a comment), no U+2028/9."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _csp_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(style: str, script: str) -> str:
    """Nothing from anywhere except this page's own style and script (by hash)."""
    return ("default-src 'none'; "
            f"style-src {_csp_hash(style)}; script-src {_csp_hash(script)}; "
            "img-src data:; base-uri 'none'; form-action 'none'")


# --------------------------------------------------------------------------------
# subjects, steps and lines: the links the page follows


@dataclass
class _Links:
    """Keys for lifecycle subjects and who cites what."""

    lc: Lifecycle
    keys: dict[int, str] = field(default_factory=dict)
    subjects: dict[str, Subject] = field(default_factory=dict)
    at_line: dict[LineRef, list[str]] = field(default_factory=lambda: defaultdict(list))
    """Subjects each line's action is about."""
    lines_of: dict[str, dict[LineRef, None]] = field(
        default_factory=lambda: defaultdict(dict))
    """Lines of each subject's actions, in log order (a dict as an ordered set: a map
    read 100,000 times has 100,000 lines)."""

    def key(self, subject: Subject) -> str:
        found = self.keys.get(id(subject))
        if found is not None:
            return found
        prefix = "o" if isinstance(subject, Obj) else "a" if isinstance(subject, Attachment) \
            else "f"
        key = f"{prefix}{len(self.keys)}"
        self.keys[id(subject)] = key
        self.subjects[key] = subject
        return key

    def build(self) -> None:
        for obj in self.lc.objects:
            self.key(obj)
        for att in self.lc.attachments:
            self.key(att)
        for failure in self.lc.failures:
            self.key(failure)
        for action in self.lc.actions:
            for line in action.lines:  # a run of map reads: each of its calls
                ref = (action.file, line)
                for subject in (action.obj, action.other, action.attachment, action.failure):
                    if subject is None:
                        continue
                    key = self.key(subject)
                    if key not in self.at_line[ref]:
                        self.at_line[ref].append(key)
                    self.lines_of[key][ref] = None


def _origin(subject: Subject) -> LineRef:
    return (subject.file, subject.line)


@dataclass(frozen=True)
class _StepRef:
    id: str
    step: Step | None
    lines: tuple[LineRef, ...]


# --------------------------------------------------------------------------------
# the time axis


class _Axis:
    """Where a log line sits on the timeline.

    With timestamps: seconds since the log's first one.  Without: line order, one step
    per line the lifecycle cites (a log's first hundreds of lines are often calls that
    matter to no object, and equal spacing by line number would squeeze every bar into
    its last tenth).
    """

    def __init__(self, lc: Lifecycle, log: LogText | None):
        self.clock: list[list[float | None]] | None = None
        self.kind = "line order"
        if log is not None:
            found = log.clock()
            if found is not None:
                self.kind, seconds = found
                # A line without a time (the program's output) sits at the last time before it.
                filled: list[list[float | None]] = []
                for per_file in seconds:
                    last: float | None = None
                    out: list[float | None] = []
                    for value in per_file:
                        if value is not None:
                            last = value
                        out.append(last)
                    filled.append(out)
                self.clock = filled
        self.events = sorted(_lifecycle_lines(lc))
        if self.clock is not None:
            values = [v for f in self.clock for v in f if v is not None]
            self.end = max(values, default=0.0)
        else:
            # One step past the last cited line: where bars still open at the end stop.
            self.end = float(len(self.events) + 1)

    def at(self, ref: LineRef) -> float:
        file, line = ref
        if self.clock is not None:
            column = self.clock[file] if 0 <= file < len(self.clock) else []
            value = column[line - 1] if 1 <= line <= len(column) else None
            return value if value is not None else 0.0
        index = bisect.bisect_left(self.events, ref)
        exact = index < len(self.events) and self.events[index] == ref
        return float(index + 1) if exact else index + 0.5

    @property
    def start(self) -> float:
        return 0.0 if self.clock is not None else 1.0

    @property
    def timed(self) -> bool:
        return self.clock is not None

    def label(self, value: float) -> str:
        if self.clock is None:
            index = min(max(round(value) - 1, 0), len(self.events) - 1)
            return f"L{self.events[index][1]}" if self.events else ""
        if self.end >= 10:
            return f"{value:.1f} s"
        if self.end >= 0.1:
            return f"{value:.3f} s"
        return f"{value * 1000:.2f} ms"


def _lifecycle_lines(lc: Lifecycle) -> set[LineRef]:
    refs: set[LineRef] = {(a.file, line) for a in lc.actions for line in a.lines}
    for obj in lc.objects:
        refs.add((obj.file, obj.line))
        if obj.closed_line is not None:
            refs.add((obj.file, obj.closed_line))
    for att in lc.attachments:
        refs.add((att.file, att.line))
        for n in (att.enabled_line, att.ended_line):
            if n is not None:
                refs.add((att.file, n))
    refs.update((f.file, f.line) for f in lc.failures)
    return refs


@dataclass
class _Mark:
    ref: LineRef
    kind: MarkKind
    label: str


@dataclass
class _Bar:
    key: str
    label: str
    kind: str
    start: LineRef
    end: LineRef | None
    end_how: str
    marks: list[_Mark] = field(default_factory=list)


@dataclass
class _Lane:
    label: str
    bars: list[_Bar]
    probe: bool = False


@dataclass
class _Group:
    title: str
    lanes: list[_Lane]


def _bar_kind(obj: Obj) -> str:
    return re.sub(r"[^a-z0-9_]", "", obj.kind) or "unknown"


def _subject_label(obj: Obj) -> str:
    """The story's own words for an object (``program "sys_enter"``, ``map id 12``)."""
    label = "".join(text for text, _ in name_spans(obj))
    cpu = obj.attrs.get("cpu")
    if obj.kind == "perf_event" and isinstance(cpu, int) and cpu >= 0:
        label += f" (cpu {cpu})"  # one per CPU: the lanes would read the same
    return label


def _timeline_groups(lc: Lifecycle, links: _Links, *, fold: bool = True) -> list[_Group]:
    """Lanes from the lifecycle: every object kind (except plain files) and attachment.

    Feature probes share one folded lane, as the story folds them; ``fold=False`` (a
    verbose story tells each probe) gives each its own lane."""
    by_proc: dict[int | None, list[Obj]] = defaultdict(list)
    for obj in lc.objects:
        if obj.kind == "file":
            continue
        by_proc[lc.threads.get(obj.pid, obj.pid)].append(obj)
    atts_by_proc: dict[int | None, list[Attachment]] = defaultdict(list)
    for att in lc.attachments:
        atts_by_proc[lc.threads.get(att.prog.pid, att.prog.pid)].append(att)
    fails_by_proc: dict[int | None, list[Failure]] = defaultdict(list)
    for failure in lc.failures:
        if failure.subject is None and not failure.probe:
            fails_by_proc[lc.threads.get(failure.pid, failure.pid)].append(failure)
    groups: list[_Group] = []
    procs = list(dict.fromkeys([*by_proc, *atts_by_proc, *fails_by_proc]))
    for pid in procs:
        process = lc.processes.get(pid)
        name = process.command if process is not None and process.command else "process"
        title = f"{name} (pid {pid})" if pid is not None else name
        lanes: list[_Lane] = []
        probes: list[_Bar] = []
        for obj in by_proc.get(pid, []):
            bar = _object_bar(obj, links, lc)
            if obj.probe and fold:
                probes.append(bar)
            else:
                lanes.append(_Lane(_subject_label(obj), [bar]))
        for att in atts_by_proc.get(pid, []):
            bar = _attachment_bar(att, links)
            if att.probe and fold:
                probes.append(bar)
            else:
                lanes.append(_Lane(bar.label, [bar]))
        for failure in fails_by_proc.get(pid, []):
            key = links.key(failure)
            ref = _origin(failure)
            lanes.append(_Lane(f"{failure.call} failed", [_Bar(
                key, f"{failure.call} failed with {failure.errno}", "failure", ref, ref,
                "failed", [_Mark(ref, "failure", f"{failure.errno}: {failure.why}")])]))
        if probes:
            lanes.append(_Lane(f"feature probes ({len(probes)}, folded)", probes, probe=True))
        if lanes:
            groups.append(_Group(title, lanes))
    return groups


_END_WORDS = {"close": "closed", "exit": "released when the process exited",
              "exec": "released by execve", "reused": "released (fd number reused)"}


def _object_bar(obj: Obj, links: _Links, lc: Lifecycle) -> _Bar:
    marks: list[_Mark] = []
    for n in obj.enabled_lines:
        marks.append(_Mark((obj.file, n), "enable", "enabled (PERF_EVENT_IOC_ENABLE)"))
    for n in obj.disabled_lines:
        marks.append(_Mark((obj.file, n), "disable", "disabled (PERF_EVENT_IOC_DISABLE)"))
    for att in obj.attachments:
        marks.append(_Mark(_origin(att), "attach", f"attached ({att.via})"))
        if att.end == "detached" and att.ended_line is not None:
            marks.append(_Mark((att.file, att.ended_line), "detach", "detached"))
    for failure in lc.failures:
        if failure.subject is obj:
            marks.append(_Mark(_origin(failure), "failure",
                               f"{failure.call} failed with {failure.errno}"))
    end = (obj.file, obj.closed_line) if obj.closed_line is not None else None
    how = _END_WORDS.get(obj.end or "", obj.end or "") if end is not None else \
        "still there when the log ends"
    if obj.kind == "file" or not obj.known:
        how += " (made before the log starts)" if not obj.known else ""
    return _Bar(links.key(obj), _subject_label(obj), _bar_kind(obj), _origin(obj), end, how,
                marks)


def _attachment_bar(att: Attachment, links: _Links) -> _Bar:
    point = att.attach_point or "an unnamed event"
    label = f"{_subject_label(att.prog)} → {point}"
    marks = [_Mark(_origin(att), "attach", f"attached ({att.via})")]
    if att.enabled_line is not None:
        marks.append(_Mark((att.file, att.enabled_line), "enable", "live"))
    end: LineRef | None = None
    how = "still attached when the log ends"
    if att.ended_line is not None:
        end = (att.file, att.ended_line)
        how = att.end or "ended"
        kind: MarkKind = {"disabled": "disable", "detached": "detach"}.get(
            att.end or "", "release")  # type: ignore[assignment]
        marks.append(_Mark(end, kind, how))
    return _Bar(links.key(att), label, "attachment", _origin(att), end, how, marks)


# --------------------------------------------------------------------------------
# the timeline as SVG

_TL_WIDTH = 1000
_TL_LABEL = 250
_TL_PAD = 16
_ROW = 22


def _timeline_svg(groups: list[_Group], axis: _Axis) -> str:
    if not groups:
        return '<p class="note">No eBPF object was made or used in this log.</p>'
    plot_w = _TL_WIDTH - _TL_LABEL - _TL_PAD
    start0 = axis.start
    span = max(axis.end, start0)
    # A log with one timed line (or one line) still gets a usable, non-zero scale.
    scale = plot_w / max(span - start0, 1e-9)

    def x(ref: LineRef) -> float:
        return round(_TL_LABEL + (axis.at(ref) - start0) * scale, 2)

    x_end = round(_TL_LABEL + plot_w, 2)
    out: list[str] = []
    y = 34
    # axis ticks
    ticks = []
    for i in range(6):
        value = start0 + (span - start0) * i / 5
        tx = round(_TL_LABEL + (value - start0) * scale, 2)
        ticks.append(f'<line class="tick" x1="{tx}" y1="24" x2="{tx}" y2="{{H}}"/>'
                     f'<text class="ticklabel" x="{tx}" y="16" text-anchor="middle">'
                     f'{esc(axis.label(value))}</text>')
    for group in groups:
        out.append(f'<text class="proc" x="4" y="{y + 14}">{esc(group.title)}</text>')
        y += _ROW
        for lane in group.lanes:
            cls = "lane probe" if lane.probe else "lane"
            out.append(f'<g class="{cls}">')
            out.append(f'<text class="lanelabel" x="14" y="{y + 15}">'
                       f'{esc(_clip(lane.label, 38))}<title>{esc(lane.label)}</title></text>')
            for bar in lane.bars:
                x1 = x(bar.start)
                x2 = x(bar.end) if bar.end is not None else x_end
                width = max(round(x2 - x1, 2), 3)
                open_end = " open" if bar.end is None else ""
                end_line = str(bar.end[1]) if bar.end is not None else ""
                until = f" → L{bar.end[1]}" if bar.end is not None else " →"
                tip = f"{bar.label}: L{bar.start[1]}{until}, {bar.end_how}"
                out.append(
                    f'<rect class="bar k-{bar.kind}{open_end}" tabindex="0" role="button" '
                    f'data-item="{bar.key}" data-file="{bar.start[0]}" '
                    f'data-start-line="{bar.start[1]}" data-end-line="{end_line}" '
                    f'x="{x1}" y="{y + 4}" width="{width}" height="{_ROW - 8}" rx="3">'
                    f'<title>{esc(tip)}</title></rect>')
                for mark in bar.marks:
                    out.append(_mark_svg(mark, x(mark.ref), y + _ROW // 2, bar.key))
            out.append("</g>")
            y += _ROW
        y += 6
    height = y + 4
    body = "".join(t.replace("{H}", str(height)) for t in ticks) + "".join(out)
    legend = ('<p class="legend"><span class="lg k-prog"></span>program '
              '<span class="lg k-map"></span>map <span class="lg k-perf_event"></span>perf event '
              '<span class="lg k-link"></span>link <span class="lg k-attachment"></span>'
              'attachment &nbsp; marks: <b class="m-attach">●</b> attach '
              '<b class="m-enable">▲</b> enable <b class="m-disable">▼</b> disable '
              '<b class="m-detach">■</b> detach <b class="m-failure">✖</b> failure '
              f'&nbsp; axis: {esc(_axis_words(axis))}</p>')
    return (legend + f'<svg class="timeline" viewBox="0 0 {_TL_WIDTH} {height}" '
            f'width="100%" role="img" aria-label="timeline of the objects">{body}</svg>')


def _axis_words(axis: _Axis) -> str:
    if not axis.timed:
        return "line order (no timestamps in the log), one step per line the story uses"
    return {"time of day": "time since the first line (strace -t/-tt)",
            "epoch": "time since the first line (strace -ttt)",
            "relative": "time since the first line (strace -r, added up)"}.get(
                axis.kind, "time since the first line")


def _mark_svg(mark: _Mark, cx: float, cy: int, key: str) -> str:
    tip = f"<title>{esc(mark.label)} (L{mark.ref[1]})</title>"
    common = f'class="mark m-{mark.kind}" data-item="{key}" data-line="{mark.ref[1]}"'
    if mark.kind == "attach":
        return f'<circle {common} cx="{cx}" cy="{cy}" r="4">{tip}</circle>'
    if mark.kind == "enable":
        return (f'<polygon {common} points="{cx - 5},{cy + 5} {cx + 5},{cy + 5} {cx},{cy - 5}">'
                f"{tip}</polygon>")
    if mark.kind == "disable":
        return (f'<polygon {common} points="{cx - 5},{cy - 5} {cx + 5},{cy - 5} {cx},{cy + 5}">'
                f"{tip}</polygon>")
    if mark.kind == "failure":
        return (f'<path {common} d="M{cx - 5} {cy - 5}L{cx + 5} {cy + 5}M{cx + 5} {cy - 5}'
                f'L{cx - 5} {cy + 5}">{tip}</path>')
    return f'<rect {common} x="{cx - 4}" y="{cy - 4}" width="8" height="8">{tip}</rect>'


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# --------------------------------------------------------------------------------
# the graph


_SVG_ELEMENTS = {"svg", "g", "title", "polygon", "polyline", "path", "ellipse", "circle",
                 "rect", "text", "line", "tspan"}
_SVG_ATTRIBUTES = {"class", "viewBox", "points", "d", "cx", "cy", "rx", "ry", "r", "x", "y",
                   "x1", "y1", "x2", "y2", "fill", "stroke", "stroke-width",
                   "stroke-dasharray", "font-family", "font-size", "font-weight",
                   "font-style", "text-anchor", "transform", "opacity", "fill-opacity",
                   "stroke-opacity", "preserveAspectRatio"}


def graphviz_svg(pic: Picture, *, dot_binary: str = "dot") -> str | None:
    """The picture drawn by Graphviz, sanitised for inline use; None without Graphviz."""
    found = shutil.which(dot_binary)
    if found is None:
        return None
    try:
        done = subprocess.run([found, "-Tsvg"], input=picture_dot(pic).encode(),
                              capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    try:
        root = ET.fromstring(done.stdout)
    except ET.ParseError:
        return None
    titles = {n.id: " · ".join(n.lines) for n in pic.nodes}
    return _clean_svg(root, titles, top=True)


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _clean_svg(el: ET.Element, titles: dict[str, str], *, top: bool = False) -> str:
    """Write Graphviz's SVG again with only drawing elements and attributes.

    Node groups get ``data-node`` (the picture's node id, from Graphviz's ``<title>``),
    a tooltip with the node's text, and keyboard focus.
    """
    tag = _local(el.tag)
    if tag not in _SVG_ELEMENTS and tag != "a":
        return ""
    attrs: list[str] = []
    inner = ""
    children = list(el)
    if tag == "g" and el.get("class") in ("node", "edge"):
        title = next((c for c in children if _local(c.tag) == "title"), None)
        name = (title.text or "") if title is not None else ""
        children = [c for c in children if _local(c.tag) != "title"]
        if el.get("class") == "node" and re.fullmatch(r"n\d+", name):
            attrs.append(f'data-node="{name}" tabindex="0" role="button"')
            inner = f"<title>{esc(titles.get(name, ''))}</title>"
    for key, value in el.attrib.items():
        local = _local(key)
        if local in _SVG_ATTRIBUTES:
            attrs.append(f'{local}="{esc(value)}"')
    if top:
        # Graphviz's own size (in pt) is kept as the largest the picture gets: a small
        # graph is not blown up to the page's width; CSS shrinks a big one to fit.
        attrs = [a for a in attrs if not a.startswith(("width=", "height="))]
        width = _points(el.get("width"))
        attrs.append((f'width="{width}" ' if width else 'width="100%" ')
                     + 'role="img" aria-label="lifecycle graph"')
    if el.text and tag in ("text", "tspan", "title"):
        inner += esc(el.text)
    for child in children:
        inner += _clean_svg(child, titles)
        if child.tail and tag in ("text", "tspan"):
            inner += esc(child.tail)
    if tag == "a":
        return inner  # links are dropped, what they wrap is kept
    return f"<{tag}{' ' if attrs else ''}{' '.join(attrs)}>{inner}</{tag}>"


def _points(value: str | None) -> str | None:
    """``"612pt"`` → ``"816"`` CSS pixels (Graphviz sizes its SVG in points)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)pt", value or "")
    return str(round(float(m.group(1)) * 4 / 3)) if m is not None else None


def _graph_list(pic: Picture) -> str:
    """Without Graphviz: the same nodes and edges as a list, still linked to the story."""
    names = {n.id: n.title for n in pic.nodes}
    items = []
    for node in pic.nodes:
        details = " · ".join(node.details)
        items.append(f'<li class="gnode" data-node="{node.id}" tabindex="0" role="button">'
                     f'<b>{esc(node.title)}</b>'
                     + (f" <span class=\"dim\">{esc(details)}</span>" if details else "")
                     + "</li>")
    edges = [f"<li>{esc(names.get(e.src, '?'))} → {esc(names.get(e.dst, '?'))}: "
             f"{esc(e.label)}</li>" for e in pic.edges]
    return ('<p class="note">Graphviz is not installed, so the picture is given as a list. '
            'Install it (<code>apt install graphviz</code>) and write the page again to see '
            'the drawing, or draw <code>bpfexplain parse LOG --format dot</code> '
            'elsewhere.</p>'
            f'<ul class="graph-list">{"".join(items)}</ul>'
            f'<details><summary>arrows</summary><ul>{"".join(edges)}</ul></details>')


# --------------------------------------------------------------------------------
# the story

_API_WORD = re.compile(r"\b(?:BPF|PERF|SO|IFLA|TCA|RTM)_[A-Z0-9_]+\b|\bE[A-Z]{2,}\b")
_GLOSSED_STYLES = {"bpf.type", "errno", "signal"}
_NAME_STYLES = {"bpf.prog", "bpf.map", "bpf.btf", "bpf.perf", "bpf.link", "bpf.other",
                "bpf.point", "path", "proc", "fd"}


class _Glosser:
    """Wraps terms the glossary knows in ``<dfn>`` with the entry's words as a tooltip."""

    def __init__(self, story: Story):
        words = [t for t in story.terms if re.fullmatch(r"[a-z][a-z ()-]{2,}", t)]
        words.sort(key=len, reverse=True)
        self.concepts = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b") \
            if words else None

    def dfn(self, text: str, term: str) -> str:
        entry = glossary.lookup(term)
        if entry is None:
            return esc(text)
        return (f'<dfn class="term" tabindex="0" data-tip="{esc(entry.summary)}">'
                f"{esc(text)}</dfn>")

    def spans(self, spans: Spans) -> str:
        out: list[str] = []
        used: set[str] = set()
        for text, style in spans:
            cls = f' class="s-{style.replace(".", "-")}"' if style else ""
            if style in _GLOSSED_STYLES and glossary.lookup(text) is not None:
                out.append(f"<span{cls}>{self.dfn(text, text)}</span>")
            elif style in _NAME_STYLES:
                out.append(f"<span{cls}>{esc(text)}</span>")
            else:
                out.append(f"<span{cls}>{self.plain(text, used)}</span>" if cls
                           else self.plain(text, used))
        return "".join(out)

    def plain(self, text: str, used: set[str]) -> str:
        """Known API words and concepts (once per step) become glossary terms."""
        text = safe(text)
        pieces: list[tuple[int, int, str]] = []
        for m in _API_WORD.finditer(text):
            if m.group(0) not in used and glossary.lookup(m.group(0)) is not None:
                used.add(m.group(0))
                pieces.append((m.start(), m.end(), m.group(0)))
        if self.concepts is not None:
            for m in self.concepts.finditer(text):
                word = m.group(0)
                if word in used or any(a < m.end() and m.start() < b for a, b, _ in pieces):
                    continue
                used.add(word)
                pieces.append((m.start(), m.end(), word))
        pieces.sort()
        out: list[str] = []
        at = 0
        for start, end, term in pieces:
            out.append(html.escape(text[at:start]))
            out.append(self.dfn(text[start:end], term))
            at = end
        out.append(html.escape(text[at:]))
        return "".join(out)


def _plain(spans: Spans) -> str:
    return "".join(t for t, _ in spans)


# --------------------------------------------------------------------------------
# the page


@dataclass
class PageLink:
    href: str
    text: str


@dataclass
class PageOptions:
    """What a page says beyond the story: a lesson's title and words, site navigation."""

    title: str | None = None
    intro: str = ""
    look_for: str = ""
    links: list[PageLink] = field(default_factory=list)
    dot_binary: str = "dot"


def story_html(story: Story, log: LogText | None = None,
               options: PageOptions | None = None) -> str:
    """The whole page for one story (and, when given, the log it was told from)."""
    return _Page(story, log, options or PageOptions()).render()


class _Page:
    def __init__(self, story: Story, log: LogText | None, options: PageOptions):
        self.story = story
        self.log = log
        self.options = options
        self.lc = story.lifecycle
        self.links = _Links(self.lc)
        self.links.build()
        self.gloss = _Glosser(story)
        self.steps: list[_StepRef] = []
        self.cited: set[LineRef] = set()

    # story

    def _story_html(self) -> str:
        out: list[str] = []
        problems = self.story.problems
        if problems:
            out.append('<section class="problems"><h3>What went wrong</h3><ol>')
            for problem in problems:
                ref = self._add_step(None, problem.refs)
                detail = "".join(f"{esc(line)}\n" for line in problem.detail)
                out.append(
                    f'<li class="step problem{" probe" if problem.probe else ""}" id="{ref}" '
                    f'data-step="{ref}" tabindex="0">'
                    f'<span class="cite">{esc(cite(problem.lines))}</span> '
                    f"{self.gloss.spans(problem.text)}: {self.gloss.plain(problem.why, set())}"
                    + (f'<pre class="extra">{detail}</pre>' if detail else "") + "</li>")
            out.append("</ol></section>")
        number = 0
        for section in self.story.sections:
            if len(self.story.sections) > 1:
                out.append(f'<h3 class="section">{self.gloss.spans(section.title)}</h3>')
            for phase in section.phases:
                number += 1
                out.append(self._phase_html(phase, number))
        if self.story.footer:
            out.append('<ul class="footer">' + "".join(
                f"<li>{esc(line)}</li>" for line in self.story.footer) + "</ul>")
        return "".join(out)

    def _phase_html(self, phase: Phase, number: int) -> str:
        lines = cite(phase.lines)
        intro = "".join(f'<p class="intro">{self.gloss.plain(p, set())}</p>'
                        for p in phase.intro)
        steps = []
        for step in phase.steps:
            ref = self._add_step(step, step.refs)
            extra = ""
            if step.extra:
                extra = '<pre class="extra">' + "".join(
                    f"{esc(line)}\n" for line in step.extra) + "</pre>"
            cls = "step probe" if step.probe else "step"
            steps.append(f'<li class="{cls}" id="{ref}" data-step="{ref}" tabindex="0">'
                         f'<span class="cite">{esc(cite(step.lines))}</span> '
                         f'<span class="text">{self.gloss.spans(step.text)}</span>'
                         f"{extra}</li>")
        return (f'<details class="phase" open data-phase="{esc(phase.key)}">'
                f'<summary><span class="pno">{number}</span> {esc(phase.title)} '
                f'<span class="cite">{esc(lines)}</span></summary>'
                f'{intro}<ol class="steps">{"".join(steps)}</ol></details>')

    def _add_step(self, step: Step | None, lines: tuple[LineRef, ...]) -> str:
        ref = f"s{len(self.steps)}"
        self.steps.append(_StepRef(ref, step, lines))
        self.cited.update(lines)
        return ref

    # links as data

    def _data(self, pic: Picture) -> dict[str, Any]:
        line_step: dict[str, str] = {}
        # Story steps explain a line before the problem list does.
        ordered = [s for s in self.steps if s.step is not None] + \
            [s for s in self.steps if s.step is None]
        for ref in ordered:
            for f, n in ref.lines:
                line_step.setdefault(f"{f}:{n}", ref.id)
        steps: dict[str, Any] = {}
        for ref in self.steps:
            items: list[str] = []
            for line in ref.lines:
                for key in self.links.at_line.get(line, []):
                    if key not in items:
                        items.append(key)
            steps[ref.id] = {"lines": [list(x) for x in ref.lines], "items": items}
        item_step: dict[str, str] = {}
        for key, subject in self.links.subjects.items():
            candidates = [_origin(subject), *self.links.lines_of.get(key, {})]
            for f, n in candidates:
                found = line_step.get(f"{f}:{n}")
                if found is not None:
                    item_step[key] = found
                    break
        nodes = {node_id: [self.links.key(s) for s in subjects]
                 for node_id, subjects in pic.about.items()}
        return {"steps": steps, "lineStep": line_step, "itemStep": item_step,
                "nodes": nodes}

    # log

    def _log_html(self) -> tuple[str, str]:
        """The log pane, and the JSON of lines not in it (shown on demand)."""
        log = self.log
        if log is None:
            return ('<p class="note">This story was not told from a strace log (run --deep '
                    'reads the loader itself), so there are no log lines to show; line '
                    'numbers count its events.</p>', "")
        full = log.total <= FULL_LOG_LINES
        out: list[str] = []
        hidden: list[list[str]] = []
        for index, lines in enumerate(log.lines):
            if len(log.files) > 1:
                out.append(f'<h3 class="file">{esc(log.files[index])}</h3>')
            shown: set[int] = set()
            if full:
                shown = set(range(1, len(lines) + 1))
            else:
                for ref in self.steps:
                    for f, n in sorted(ref.lines)[:SHOWN_PER_STEP]:
                        if f == index:
                            shown.update(range(max(1, n - CONTEXT_LINES),
                                               min(len(lines), n + CONTEXT_LINES) + 1))
            out.append(f'<div class="lines" data-file="{index}">')
            gap_start: int | None = None
            for number in range(1, len(lines) + 1):
                if number not in shown:
                    if gap_start is None:
                        gap_start = number
                    continue
                if gap_start is not None:
                    out.append(_gap(index, gap_start, number - 1))
                    gap_start = None
                out.append(self._line_html(index, number, lines[number - 1]))
            if gap_start is not None:
                out.append(_gap(index, gap_start, len(lines)))
            out.append("</div>")
            hidden.append([] if full else list(lines))
        note = "" if full else (
            f'<p class="note">{log.total:,} lines: only the lines the story cites (and '
            "their neighbours) are shown; each “show” button brings in the lines it "
            "stands for.</p>")
        return note + "".join(out), ("" if full else json_for_script(hidden))

    def _line_html(self, file: int, number: int, text: str) -> str:
        cited = (file, number) in self.cited
        shown = text if len(text) <= LONG_LINE else text[:LONG_LINE] + \
            f" … ({len(text) - LONG_LINE:,} more characters)"
        attrs = ' tabindex="0"' if cited else ""
        return (f'<div class="ln{" cited" if cited else ""}" id="L{file}-{number}" '
                f'data-file="{file}" data-line="{number}"{attrs}>'
                f'<span class="no">{number}</span><code>{esc(shown)}</code></div>')

    # all of it

    def render(self) -> str:
        story = self.story
        pic = build_picture(story)
        headline = _plain(story.headline)
        title = self.options.title or f"bpfexplain: {headline}"
        story_part = self._story_html()
        svg = graphviz_svg(pic, dot_binary=self.options.dot_binary)
        graph_part = svg if svg is not None else _graph_list(pic)
        axis = _Axis(self.lc, self.log)
        timeline_part = _timeline_svg(
            _timeline_groups(self.lc, self.links, fold=story.detail != "verbose"), axis)
        log_part, hidden_json = self._log_html()
        data = json_for_script(self._data(pic))
        csp = content_security_policy(STYLE, SCRIPT)
        nav = ""
        if self.options.links:
            nav = '<nav class="site">' + " · ".join(
                f'<a href="{esc(link.href)}">{esc(link.text)}</a>'
                for link in self.options.links) + "</nav>"
        intro = ""
        if self.options.intro:
            intro += f'<p class="lesson-intro">{esc(self.options.intro)}</p>'
        if self.options.look_for:
            intro += (f'<p class="look-for"><b>Look for:</b> '
                      f"{self.gloss.plain(self.options.look_for, set())}</p>")
        files = ", ".join(self.log.files) if self.log is not None else ""
        hidden_block = (f'<script type="application/json" id="bpfx-log">{hidden_json}</script>'
                        if hidden_json else "")
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer">'
            f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
            "<body>"
            f"<header>{nav}<h1>{self.gloss.spans(story.headline)}</h1>{intro}"
            + (f'<p class="files">from {esc(files)}</p>' if files else "")
            + '<p class="help">Click a step to see its log lines and objects; click a log '
            "line, a box in the graph or a bar in the timeline to open the step that "
            "explains it. Keys: Tab to move, Enter to choose, ↑/↓ between steps.</p>"
            "</header><main>"
            f'<section id="story" aria-label="the story"><h2>The story</h2>{story_part}'
            "</section>"
            '<div class="views">'
            f'<section id="graph" aria-label="the graph"><h2>The lifecycle</h2>{graph_part}'
            "</section>"
            f'<section id="timeline" aria-label="the timeline"><h2>Timeline</h2>'
            f"{timeline_part}</section>"
            f'<section id="log" aria-label="the log"><h2>The log</h2>'
            f'<div class="logbox">{log_part}</div></section>'
            "</div></main>"
            f'<script type="application/json" id="bpfx-data">{data}</script>{hidden_block}'
            f"<script>{SCRIPT}</script></body></html>\n"
        )


def _gap(file: int, first: int, last: int) -> str:
    count = last - first + 1
    return (f'<div class="gap" data-file="{file}" data-from="{first}" data-to="{last}">'
            f'<button type="button">show {count:,} more line{"s" if count != 1 else ""} '
            f"(L{first}–{last})</button></div>")


# --------------------------------------------------------------------------------
# index page of a course (demo --site)


def index_html(title: str, intro: str, entries: Iterable[tuple[str, str, str]]) -> str:
    """A course's index: (href, title, one paragraph) per page; same CSP, no script."""
    items = "".join(f'<li><a href="{esc(href)}">{esc(name)}</a><p>{esc(words)}</p></li>'
                    for href, name, words in entries)
    csp = content_security_policy(STYLE, "")
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body class=\"index\">"
            f"<header><h1>{esc(title)}</h1><p>{esc(intro)}</p></header>"
            f'<main class="index"><ol class="lessons">{items}</ol></main></body></html>\n')


STYLE = """
:root{--prog:#2e7d32;--map:#00838f;--perf:#f9a825;--link:#1565c0;--btf:#8e24aa;
--fail:#c62828;--lit:#ffe082;--ink:#1a1a1a;--dim:#666;--line:#ddd}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;
color:var(--ink);background:#fff}
header{padding:12px 20px;border-bottom:1px solid var(--line)}
h1{font-size:1.3em;margin:.2em 0}
h2{font-size:1.1em;margin:.2em 0 .5em}
h3{font-size:1em;margin:.6em 0 .3em}
.help,.files,.note,.legend{color:var(--dim);font-size:.9em;margin:.3em 0}
nav.site a{margin-right:.3em}
main{display:grid;grid-template-columns:minmax(320px,42%) 1fr;grid-template-areas:
"story views";gap:12px 20px;padding:12px 20px;align-items:start}
#story{grid-area:story;max-height:88vh;overflow:auto}
.views{grid-area:views;min-width:0}
section{min-width:0}
details.phase{border:1px solid var(--line);border-radius:6px;margin:0 0 8px;padding:4px 8px}
details.phase>summary{cursor:pointer;font-weight:600}
.pno{display:inline-block;min-width:1.6em;color:#fff;background:#455a64;border-radius:3px;
text-align:center;margin-right:.3em}
.intro{color:#37474f;font-size:.92em;margin:.3em 0 .4em}
ol.steps,section.problems ol{list-style:none;margin:0;padding:0}
li.step{padding:3px 6px;border-radius:4px;cursor:pointer;border-left:3px solid transparent}
li.step:hover{background:#f5f5f5}
li.step:focus{outline:2px solid #1565c0;outline-offset:1px}
li.step.current{background:#fff8e1;border-left-color:#ff8f00}
li.step.probe{color:#555}
li.problem{border-left-color:var(--fail)}
.cite{font:12px ui-monospace,Menlo,Consolas,monospace;color:#00838f;white-space:nowrap}
pre.extra{font-size:12px;background:#fafafa;border:1px solid #eee;padding:4px;overflow:auto;
max-height:16em;margin:4px 0}
.s-bpf-prog{color:var(--prog);font-weight:600}.s-bpf-map{color:var(--map);font-weight:600}
.s-bpf-btf{color:var(--btf)}.s-bpf-perf{color:#9e7b00}.s-bpf-link{color:var(--link)}
.s-bpf-point{color:#e65100;font-weight:600}.s-bpf-type{color:#00838f}
.s-fd{color:#1565c0}.s-errno{color:var(--fail);font-weight:700}.s-signal{color:#8e24aa}
.s-proc{font-weight:700}.s-path{font-style:italic}.s-dim{color:var(--dim)}
dfn.term{font-style:normal;border-bottom:1px dotted #888;position:relative;cursor:help}
dfn.term:hover::after,dfn.term:focus::after{content:attr(data-tip);position:absolute;
left:0;top:1.4em;z-index:10;width:26em;max-width:70vw;background:#263238;color:#fff;
padding:6px 8px;border-radius:4px;font-size:13px;font-weight:400;line-height:1.35;
white-space:normal;pointer-events:none}
dfn.term:focus{outline:1px dashed #1565c0}
ul.footer{color:var(--dim);font-size:.9em}
#graph svg{max-width:100%;max-height:70vh;height:auto;display:block;margin:auto}
#graph g.node{cursor:pointer}
#graph g.node.lit polygon,#graph g.node.lit ellipse,#graph g.node.lit path{
stroke:#ff6f00;stroke-width:4}
#graph g.node:focus{outline:none}#graph g.node:focus polygon,#graph g.node:focus path{
stroke-dasharray:4 2;stroke-width:3}
ul.graph-list li.gnode{cursor:pointer}ul.graph-list li.gnode.lit{background:var(--lit)}
svg.timeline{font:11px system-ui,Helvetica,Arial,sans-serif;overflow:visible}
.tick{stroke:#eee}.ticklabel{fill:#777}.proc{font-weight:700;fill:#333}
.lanelabel{fill:#333}.lane.probe .lanelabel{fill:#888;font-style:italic}
rect.bar{fill:#90a4ae;stroke:#546e7a;cursor:pointer}
rect.bar.k-prog{fill:#c8e6c9;stroke:var(--prog)}rect.bar.k-map{fill:#b2ebf2;stroke:var(--map)}
rect.bar.k-perf_event{fill:#fff9c4;stroke:var(--perf)}rect.bar.k-btf{fill:#f3e5f5;stroke:var(--btf)}
rect.bar.k-link,rect.bar.k-raw_tracepoint{fill:#bbdefb;stroke:var(--link)}
rect.bar.k-attachment{fill:#ffe0b2;stroke:#e65100}rect.bar.k-failure{fill:#ffcdd2;stroke:var(--fail)}
.lane.probe rect.bar{fill:#eceff1;stroke:#b0bec5;opacity:.8}
rect.bar.open{stroke-dasharray:5 3}
rect.bar.lit{stroke:#ff6f00;stroke-width:3}
rect.bar:focus{outline:none;stroke:#1565c0;stroke-width:3}
.mark{pointer-events:none}.m-attach{fill:#1565c0;color:#1565c0}
.m-enable{fill:#e65100;color:#e65100}.m-disable{fill:#757575;color:#757575}
.m-detach,.m-release{fill:#5d4037;color:#5d4037}
path.m-failure{stroke:var(--fail);stroke-width:2.5;fill:none}b.m-failure{color:var(--fail)}
.lg{display:inline-block;width:14px;height:10px;border:1px solid #999;margin:0 3px 0 8px}
.lg.k-prog{background:#c8e6c9}.lg.k-map{background:#b2ebf2}.lg.k-perf_event{background:#fff9c4}
.lg.k-link{background:#bbdefb}.lg.k-attachment{background:#ffe0b2}
.logbox{max-height:45vh;overflow:auto;border:1px solid var(--line);border-radius:6px;
font:12px/1.5 ui-monospace,Menlo,Consolas,monospace}
.ln{display:flex;white-space:pre;padding:0 6px}
.ln .no{min-width:5em;color:#999;text-align:right;padding-right:1em;user-select:none}
.ln code{font:inherit;white-space:pre}
.ln.cited{background:#f1f8e9;cursor:pointer}
.ln.cited .no{color:#2e7d32;font-weight:700}
.ln.lit{background:var(--lit)}
.ln:focus{outline:2px solid #1565c0}
.gap{padding:2px 6px;background:#fafafa;border-top:1px dashed #ddd;border-bottom:1px dashed #ddd}
.gap button{font:inherit;font-size:11px;cursor:pointer}
h3.file{font:600 12px ui-monospace,monospace;margin:6px}
body.index main.index{display:block;max-width:60em}
ol.lessons li{margin:0 0 1em}ol.lessons p{margin:.2em 0;color:#444}
.lesson-intro{max-width:60em}.look-for{max-width:60em;color:#37474f}
@media (max-width:900px){main{grid-template-columns:1fr;grid-template-areas:
"story" "views"}#story{max-height:none}}
@media print{
body{font-size:11pt}.help,.gap,nav.site{display:none}
main{display:block}#story{max-height:none;overflow:visible}
section{break-inside:auto;margin-bottom:12pt}
details.phase{break-inside:avoid}
.logbox{max-height:none;overflow:visible;border:0}
.ln{white-space:pre-wrap}.ln:not(.cited){display:none}
dfn.term::after{display:none}
li.step.current{background:none}
}
"""

SCRIPT = """
(function(){
'use strict';
var D=JSON.parse(document.getElementById('bpfx-data').textContent);
var hidden=null, litLines={};
function $$(sel,root){return Array.prototype.slice.call((root||document).querySelectorAll(sel));}
function steps(){return $$('li.step');}
function clear(){
  $$('.lit').forEach(function(e){e.classList.remove('lit');});
  $$('li.step.current').forEach(function(e){e.classList.remove('current');});
}
function openPhase(el){
  var d=el.closest('details');
  while(d){d.open=true;d=d.parentElement?d.parentElement.closest('details'):null;}
}
function select(id,opts){
  var el=document.getElementById(id), s=D.steps[id];
  if(!el||!s){return;}
  clear();
  el.classList.add('current');
  openPhase(el);
  var first=null;
  litLines={};
  s.lines.forEach(function(r){
    litLines[r[0]+':'+r[1]]=true;
    var ln=document.getElementById('L'+r[0]+'-'+r[1]);
    if(ln){ln.classList.add('lit');if(!first){first=ln;}}
  });
  var items={};
  s.items.forEach(function(k){items[k]=true;});
  $$('[data-node]').forEach(function(n){
    var keys=D.nodes[n.getAttribute('data-node')]||[];
    if(keys.some(function(k){return items[k];})){n.classList.add('lit');}
  });
  $$('rect.bar[data-item]').forEach(function(b){
    if(items[b.getAttribute('data-item')]){b.classList.add('lit');}
  });
  if(first){
    var box=first.closest('.logbox');
    if(box){box.scrollTop=first.offsetTop-box.offsetTop-box.clientHeight/3;}
  }
  if(opts&&opts.reveal){el.scrollIntoView({block:'nearest'});}
  if(opts&&opts.focus){el.focus({preventScroll:!!opts.reveal});}
}
function openStepFor(id){if(id){select(id,{reveal:true,focus:true});}}
function fromItems(keys){
  for(var i=0;i<keys.length;i++){var s=D.itemStep[keys[i]];if(s){return s;}}
  return null;
}
function activate(t){
  var step=t.closest('li.step');
  if(step){select(step.id);return true;}
  var ln=t.closest('.ln');
  if(ln){
    openStepFor(D.lineStep[ln.getAttribute('data-file')+':'+ln.getAttribute('data-line')]);
    return true;
  }
  var node=t.closest('[data-node]');
  if(node){openStepFor(fromItems(D.nodes[node.getAttribute('data-node')]||[]));return true;}
  var bar=t.closest('rect.bar');
  if(bar){openStepFor(D.itemStep[bar.getAttribute('data-item')]);return true;}
  var gap=t.closest('.gap');
  if(gap&&t.closest('button')){expand(gap);return true;}
  return false;
}
function esc(s){return s.replace(/&/g,'&amp;').replace(/</g,'&lt;').replace(/>/g,'&gt;');}
function expand(gap){
  if(hidden===null){hidden=JSON.parse(document.getElementById('bpfx-log').textContent);}
  var f=+gap.getAttribute('data-file'), a=+gap.getAttribute('data-from');
  var b=+gap.getAttribute('data-to');
  var stop=Math.min(b,a+1999), lines=hidden[f]||[], frag=document.createDocumentFragment();
  for(var n=a;n<=stop;n++){
    var div=document.createElement('div');
    div.className='ln';div.id='L'+f+'-'+n;
    if(D.lineStep[f+':'+n]){div.classList.add('cited');div.tabIndex=0;}
    if(litLines[f+':'+n]){div.classList.add('lit');}
    div.setAttribute('data-file',f);div.setAttribute('data-line',n);
    var no=document.createElement('span');no.className='no';no.textContent=n;
    var code=document.createElement('code');code.textContent=lines[n-1]||'';
    div.appendChild(no);div.appendChild(code);frag.appendChild(div);
  }
  gap.parentNode.insertBefore(frag,gap);
  if(stop<b){
    gap.setAttribute('data-from',stop+1);
    gap.querySelector('button').textContent=
      'show '+(b-stop).toLocaleString()+' more lines (L'+(stop+1)+'\\u2013'+b+')';
  }else{gap.parentNode.removeChild(gap);}
}
document.addEventListener('click',function(e){
  if(e.target.closest('summary')){return;}
  activate(e.target);
});
document.addEventListener('keydown',function(e){
  var t=e.target;
  if(!(t instanceof Element)){return;}
  if(e.key==='ArrowDown'||e.key==='ArrowUp'){
    var cur=t.closest('li.step');
    if(!cur){return;}
    var all=steps(), i=all.indexOf(cur)+(e.key==='ArrowDown'?1:-1);
    if(i>=0&&i<all.length){e.preventDefault();openPhase(all[i]);all[i].focus();select(all[i].id);}
    return;
  }
  if((e.key==='Enter'||e.key===' ')&&!t.closest('summary')&&!t.closest('button')){
    if(activate(t)){e.preventDefault();}
  }
});
window.addEventListener('beforeprint',function(){$$('details').forEach(function(d){d.open=true;});});
document.documentElement.setAttribute('data-ready','1');
})();
"""
