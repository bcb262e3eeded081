"""``--format html`` without a browser: escaping, self-containment, the data the page links
by, the log's clock, the CLI.  The page's behaviour in a real browser is in
test_html_browser.py."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from bpfexplain.logtext import LogText, capture, read_log
from bpfexplain.render.html import (
    FULL_LOG_LINES,
    SCRIPT,
    SHOWN_PER_STEP,
    STYLE,
    PageOptions,
    _clean_svg,
    json_for_script,
    story_html,
)
from bpfexplain.render.picture import build_picture
from tests.fixture_stories import FIXTURES, ROOT, fixture_names, fixture_story

INJECTION = ROOT / "tests" / "handmade" / "handmade-injection.log"
EVIL = "</script><img src=x onerror=alert(1)>"


def page_of(path: Path, **options: object) -> str:
    from bpfexplain.framing import Stats, open_inputs
    from bpfexplain.pipeline import explain_streams, make_resolver

    streams, log = capture(open_inputs([str(path)]))
    story = explain_streams(streams, Stats(), make_resolver([str(path)], local=False))
    return story_html(story, log, PageOptions(**options))  # type: ignore[arg-type]


def data_of(page: str) -> dict[str, object]:
    m = re.search(r'<script type="application/json" id="bpfx-data">(.*?)</script>', page, re.S)
    assert m is not None
    loaded = json.loads(m.group(1))
    assert isinstance(loaded, dict)
    return loaded


# ----------------------------------------------------------------------------- escaping


def test_injection_fixture_says_it_is_hand_made() -> None:
    assert INJECTION.name.startswith("handmade-")
    readme = (INJECTION.parent / "README.md").read_text()
    assert "NOT real recordings" in readme and INJECTION.name in readme
    assert EVIL in INJECTION.read_text()


def test_injection_is_shown_as_text_never_as_markup() -> None:
    page = page_of(INJECTION)
    # Every place the names land (story, graph, timeline, log, tooltips) escaped them.
    assert "<img" not in page and "onerror=alert(1)>" not in page
    assert "<svg onload" not in page
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    # Exactly the page's own script elements: the data, and the code.
    assert len(re.findall(r"<script\b", page, re.I)) == 2
    assert len(re.findall(r"</script", page, re.I)) == 2
    # The literal name survives the JSON block (as \u003c escapes, so it cannot end it).
    assert "alert(5)" in page and "<script>alert(5)" not in page


def test_json_for_script_cannot_close_the_element() -> None:
    text = json_for_script({"a": "</script><!-- \u2028 & >"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- \u2028 & >"}


def test_graphviz_svg_is_rewritten_without_scripts_or_handlers() -> None:
    hostile = ET.fromstring(
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'width="10pt" onload="alert(1)"><script>alert(2)</script>'
        '<g class="node"><title>n0</title><a xlink:href="javascript:alert(3)">'
        '<text x="1" onclick="alert(4)">&lt;b&gt;</text></a></g>'
        '<foreignObject><div>x</div></foreignObject></svg>')
    out = _clean_svg(hostile, {"n0": EVIL}, top=True)
    assert "alert(2)" not in out and "onload" not in out and "onclick" not in out
    assert "javascript" not in out and "foreignObject" not in out and "<div" not in out
    assert 'data-node="n0"' in out and "&lt;b&gt;" in out
    assert "&lt;/script&gt;&lt;img" in out


# ----------------------------------------------------------------------------- self-contained


def test_page_is_self_contained_with_a_policy_for_its_own_code() -> None:
    page = page_of(FIXTURES / "seed-full.log")
    policy = html.unescape(re.search(
        r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1))  # type: ignore[union-attr]
    assert "default-src 'none'" in policy
    for source in (STYLE, SCRIPT):
        digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert f"<style>{STYLE}</style>" in page and f"<script>{SCRIPT}</script>" in page
    # Nothing to fetch: no src, no stylesheet link, no url(), no remote address.
    assert not re.search(r"\bsrc=|<link\b|url\(|https?://", page)
    # No inline style attribute: the policy would block it.
    assert not re.search(r"\sstyle=", page)


def test_without_graphviz_the_page_says_so_and_lists_the_nodes() -> None:
    page = page_of(FIXTURES / "seed-full.log", dot_binary="no-such-dot-binary")
    assert "Graphviz is not installed" in page and "apt install graphviz" in page
    assert 'class="gnode" data-node="n' in page
    assert 'class="bar' in page and 'id="L0-245"' in page  # timeline and log still there


def test_graph_nodes_carry_the_subjects_they_draw() -> None:
    story = fixture_story("seed-full.log")
    pic = build_picture(story)
    kinds = {n.id: n.kind for n in pic.nodes}
    drawn = {kinds[node_id] for node_id in pic.about}
    assert {"prog", "map", "perf", "point", "output"} <= drawn
    prog = next(n for n in pic.nodes if n.kind == "prog")
    assert [getattr(s, "name", None) for s in pic.about[prog.id]] == ["sys_enter"]


# ----------------------------------------------------------------------------- links


def expected_steps(name: str) -> list[list[list[int]]]:
    """The lines of each step in page order (problems first), from the story itself."""
    story = fixture_story(name)
    out = [[[0, n] for n in p.lines] for p in story.problems]
    for section in story.sections:
        for phase in section.phases:
            out += [[[s.file, n] for n in s.lines] for s in phase.steps]
    return out


@pytest.mark.parametrize("name", ["seed-full.log", "execsnoop.log", "kprobe-fail.log"])
def test_steps_cite_the_story_lines(name: str) -> None:
    data = data_of(page_of(FIXTURES / name))
    steps = data["steps"]
    assert isinstance(steps, dict)
    assert [s["lines"] for s in steps.values()] == expected_steps(name)


def test_objects_lead_to_the_step_that_made_them() -> None:
    story = fixture_story("seed-full.log")
    data = data_of(page_of(FIXTURES / "seed-full.log"))
    steps, item_step = data["steps"], data["itemStep"]
    assert isinstance(steps, dict) and isinstance(item_step, dict)
    prog = next(o for o in story.lifecycle.real_programs())
    # The step that explains the program's key cites its creation line.
    keys = [k for k, s in item_step.items() if [0, prog.line] in steps[s]["lines"]]
    assert keys, "no subject leads to the program's load step"


def bars(page: str) -> list[dict[str, str]]:
    return [dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', m.group(0)))
            for m in re.finditer(r'<rect class="bar[^>]*>', page)]


@pytest.mark.parametrize("name", ["seed-full.log", "execsnoop.log", "profile.log",
                                  "bpftool-map-show-pinned.log"])
def test_timeline_bars_run_from_creation_to_release(name: str) -> None:
    story = fixture_story(name)
    page = page_of(FIXTURES / name)
    found = {(b["data-start-line"], b["data-end-line"]) for b in bars(page)}
    for obj in story.lifecycle.objects:
        if obj.kind == "file":
            continue
        end = "" if obj.closed_line is None else str(obj.closed_line)
        assert (str(obj.line), end) in found, obj.label()
    for att in story.lifecycle.attachments:
        end = "" if att.ended_line is None else str(att.ended_line)
        assert (str(att.line), end) in found


def test_timeline_uses_the_log_clock() -> None:
    page = page_of(FIXTURES / "flags-ttt.log")
    assert "strace -ttt" in page and re.search(r">\d+\.\d+ (?:s|ms)</text>", page)
    untimed = page_of(FIXTURES / "seed.log")
    assert "no timestamps in the log" in untimed


# ----------------------------------------------------------------------------- the log's clock


def clock_of(name: str) -> tuple[str, list[float | None]]:
    found = read_log([str(FIXTURES / name)]).clock()
    assert found is not None
    kind, seconds = found
    return kind, seconds[0]


def test_clock_of_each_timestamp_style() -> None:
    kind, seconds = clock_of("flags-ttt.log")
    assert kind == "epoch"
    timed = [s for s in seconds if s is not None]
    assert timed[0] == 0.0 and timed == sorted(timed) and timed[-1] > 0
    kind, seconds = clock_of("flags-ttT.log")
    assert kind == "time of day" and next(s for s in seconds if s is not None) == 0.0
    kind, seconds = clock_of("flags-r.log")
    assert kind == "relative"
    timed = [s for s in seconds if s is not None]
    # -r stamps are deltas: added up they grow with the log
    assert timed == sorted(timed) and timed[-1] > max(timed[1] - timed[0], 0)
    assert read_log([str(FIXTURES / "seed.log")]).clock() is None


def test_relative_stamps_add_up() -> None:
    log = LogText(("x",), (("     0.000000 bpf(A) = 0", "program output",
                            "     0.250000 bpf(B) = 0", "     0.500000 close(3) = 0"),))
    assert log.clock() == ("relative", [[0.0, None, 0.25, 0.75]])


def test_capture_hands_framing_the_same_bytes() -> None:
    data = b"1 bpf(x) = 0\r\n2 caf\xe9\nlast line without newline"
    streams, log = capture([("in", io.BytesIO(data))])
    assert streams[0][1].read() == data
    assert log.lines == (("1 bpf(x) = 0", "2 caf\ufffd", "last line without newline"),)


# ----------------------------------------------------------------------------- the CLI


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bpfexplain", *args], capture_output=True,
                          text=True, timeout=120, check=False, cwd=cwd)


def test_parse_writes_a_page(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = run_cli("parse", "-q", str(FIXTURES / "seed-full.log"), "--format", "html",
                   "-o", str(out))
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and 'id="timeline"' in page
    stdin = subprocess.run([sys.executable, "-m", "bpfexplain", "parse", "-q", "-",
                            "--format", "html"], input=(FIXTURES / "seed.log").read_text(),
                           capture_output=True, text=True, timeout=120, check=False)
    assert stdin.returncode == 0 and 'id="L0-29"' in stdin.stdout


def test_demo_page_and_site(tmp_path: Path) -> None:
    done = run_cli("demo", "classic", "--format", "html", "-o", str(tmp_path / "c.html"))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "c.html").read_text()
    assert "The classic one-liner" in page and "from seed-full.log" in page
    site = tmp_path / "course"
    done = run_cli("demo", "--site", str(site))
    assert done.returncode == 0, done.stderr
    index = (site / "index.html").read_text()
    from bpfexplain.demo import LESSONS, page_names

    for lesson in LESSONS:
        names = page_names(lesson)
        assert f'href="{names[0]}"' in index
        for name in names:
            text = (site / name).read_text()
            assert 'href="index.html"' in text and "Content-Security-Policy" in text
    assert (site / "pinning-2.html").is_file()
    bad = run_cli("demo", "classic", "--site", str(site))
    assert bad.returncode == 2 and "--site" in bad.stderr


@pytest.mark.live("bpftrace")
def test_run_writes_a_page_with_the_live_log(tmp_path: Path) -> None:
    out = tmp_path / "run.html"
    done = run_cli("run", "--quiet-live", "--duration", "2", "--format", "html", "-o", str(out),
                   "--", "bpftrace", "-e",
                   "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }")
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    # The log strace wrote (kept in a private directory for the page) is in the page, and
    # the program loaded in this run has its bar.
    assert "from &lt;strace&gt;" in page
    data = data_of(page)
    steps = data["steps"]
    assert isinstance(steps, dict)
    cited = {n for s in steps.values() for _, n in s["lines"]}
    assert cited and all(f'id="L0-{n}"' in page for n in cited)
    assert 'program &quot;sys_enter&quot;' in page and 'class="bar k-prog' in page


def test_a_story_without_a_log_still_links_story_graph_and_timeline() -> None:
    # run --deep reads the loader itself: there is no strace log to show.
    story = fixture_story("seed.log")
    page = story_html(story, None)
    assert "there are no log lines to show" in page and 'class="ln' not in page
    assert "line order" in page and 'class="bar k-prog' in page
    data = data_of(page)
    assert data["steps"] and data["nodes"]


def test_per_cpu_lanes_say_which_cpu() -> None:
    page = page_of(FIXTURES / "profile.log")
    assert "perf event profile:hz:99 (cpu 0)" in page
    assert "perf event profile:hz:99 (cpu 1)" in page


_PANE_ITEM = re.compile(
    r'<div class="ln[^"]*" id="L(\d+)-(\d+)"'
    r'|<div class="gap" data-file="(\d+)" data-from="(\d+)" data-to="(\d+)">')


def check_log_pane(page: str, steps: dict[str, Any], log: LogText) -> None:
    """What the log pane promises, short log or long: every line of every file is in
    it exactly once and in order, as a row or inside a "show" gap whose lines the page
    carries; a short log shows every row; a long one shows at least the first
    SHOWN_PER_STEP cited lines of each step as rows; so every cited line is on the page
    or one button away, with its own text."""
    rows: dict[int, set[int]] = defaultdict(set)
    gaps: dict[int, list[tuple[int, int]]] = defaultdict(list)
    expect: dict[int, int] = defaultdict(lambda: 1)
    for m in _PANE_ITEM.finditer(page):
        if m.group(1) is not None:
            f, n = int(m.group(1)), int(m.group(2))
            assert n == expect[f], f"file {f}: row L{n} where L{expect[f]} was due"
            rows[f].add(n)
            expect[f] = n + 1
        else:
            f, a, b = int(m.group(3)), int(m.group(4)), int(m.group(5))
            assert a == expect[f] and b >= a, f"file {f}: gap L{a}-{b} where L{expect[f]} was due"
            gaps[f].append((a, b))
            expect[f] = b + 1
    for f, lines in enumerate(log.lines):
        assert expect[f] == len(lines) + 1, f"file {f}: the pane ends at L{expect[f] - 1}"
    hidden_m = re.search(r'<script type="application/json" id="bpfx-log">(.*?)</script>',
                         page, re.S)
    if log.total <= FULL_LOG_LINES:
        assert not any(gaps.values()) and hidden_m is None
    else:
        assert any(gaps.values()) and hidden_m is not None
        hidden = json.loads(hidden_m.group(1))
        # The lines a gap brings in are the log's own (json: <, > and & as escapes).
        for f, spans in gaps.items():
            for a, b in spans:
                assert hidden[f][a - 1:b] == list(log.lines[f][a - 1:b])
    for step in steps.values():
        cited = sorted((f, n) for f, n in step["lines"])
        for f, n in cited[:SHOWN_PER_STEP]:
            assert n in rows[f], (step["lines"][:3], f, n)
        for f, n in cited:
            assert n in rows[f] or any(a <= n <= b for a, b in gaps[f]), (f, n)


def test_a_long_log_shows_cited_lines_and_keeps_the_rest_one_click_away() -> None:
    # bcc-runqlat: 17,434 lines, far above FULL_LOG_LINES, with steps citing more
    # lines than SHOWN_PER_STEP (BCC reads thousands of header files).
    path = FIXTURES / "bcc-runqlat.log"
    log = read_log([str(path)])
    assert log.total > FULL_LOG_LINES
    page = page_of(path)
    steps = data_of(page)["steps"]
    assert isinstance(steps, dict)
    assert any(len(step["lines"]) > SHOWN_PER_STEP for step in steps.values())
    check_log_pane(page, steps, log)
    rows = len(re.findall(r'<div class="ln[^"]*" id="L', page))
    assert rows < log.total // 4  # the point of a long log's pane: not every row


@pytest.mark.parametrize("name", fixture_names())
def test_every_fixture_makes_a_linked_page(name: str) -> None:
    path = FIXTURES / name
    page = page_of(path)
    data = data_of(page)
    steps = data["steps"]
    assert isinstance(steps, dict) and steps
    check_log_pane(page, steps, read_log([str(path)]))
    # Every subject a node draws leads to a step, and every step it leads to exists.
    item_step = data["itemStep"]
    assert isinstance(item_step, dict) and set(item_step.values()) <= set(steps)
    story = fixture_story(name)
    bars_found = bars(page)
    shown = [o for o in story.lifecycle.objects if o.kind != "file"]
    assert len(bars_found) >= len(shown) + len(story.lifecycle.attachments)


def test_probes_fold_into_one_lane_unless_the_story_is_verbose() -> None:
    folded = story_html(fixture_story("seed-full.log"), read_log([str(FIXTURES / "seed-full.log")]))
    assert folded.count('<g class="lane probe">') == 1 and "feature probes (7, folded)" in folded
    verbose = story_html(fixture_story("seed-full.log", "verbose"),
                         read_log([str(FIXTURES / "seed-full.log")]))
    assert '<g class="lane probe">' not in verbose
    assert len(bars(verbose)) == len(bars(folded))
