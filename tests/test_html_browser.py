"""The HTML page in a real browser: Debian's chromium, headless, driven by Selenium.

One browser for the whole module (starting chromium costs a second).  The browser runs
with a fresh profile and with background networking, component updates and sync off,
so it fetches nothing on its own; the page must not either (its CSP forbids it, and a
violation would be reported here).  Where chromium, chromium-driver or Selenium is
missing the tests are skipped, except under CI, where that is a failure.

Also here, because the browser is: every fixture's ``--format mermaid`` diagram is
parsed and rendered by the real Mermaid library (``npm ci --prefix tests/mermaid``,
done by .ci/run; test-only, never in a page we ship).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bpfexplain.demo import find_lesson, lesson_pages
from bpfexplain.render.html import story_html
from bpfexplain.render.mermaid import story_mermaid
from bpfexplain.render.picture import build_picture
from bpfexplain.story import Story
from tests.fixture_stories import FIXTURES, ROOT, fixture_names, fixture_story
from tests.long_log import write_long_log

ARTIFACTS = ROOT / "tests" / "artifacts"
MERMAID = ROOT / "tests" / "mermaid" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
INJECTION = ROOT / "tests" / "handmade" / "handmade-injection.log"
EVIL = "</script><img src=x onerror=alert(1)>"

# Runs before any script of the page: counts dialogs (an injected alert would be one)
# and records every Content-Security-Policy violation.
WATCH = """
window.__alerts = 0;
window.alert = window.confirm = window.prompt = function () { window.__alerts++; };
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def _unavailable() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for tool in ("chromium", "chromedriver"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt install chromium chromium-driver)"
    return None


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _unavailable()
    if reason is not None:
        _skip_or_fail(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="bpfexplain-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1600,1100",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pages")


def open_page(driver: Any, path: Path) -> None:
    driver.get(path.as_uri())
    driver.get_log("browser")  # start each page with an empty console
    driver.refresh()
    assert driver.execute_script("return document.documentElement.dataset.ready") == "1"


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE",)]


def write_page(pages: Path, name: str, story: Story, log_path: Path | None = None) -> Path:
    from bpfexplain.logtext import read_log

    log = read_log([str(log_path)]) if log_path is not None else None
    path = pages / f"{name}.html"
    path.write_text(story_html(story, log))
    return path


def classic(pages: Path) -> Path:
    path = pages / "classic.html"
    if not path.exists():
        path.write_text(lesson_pages(find_lesson("classic"))[0])
    return path


def page_steps(story: Story) -> list[set[tuple[int, int]]]:
    """Each step's lines in page order (what went wrong first), from the story itself."""
    out = [{(0, n) for n in p.lines} for p in story.problems]
    for section in story.sections:
        for phase in section.phases:
            out += [{(s.file, n) for n in s.lines} for s in phase.steps]
    return out


def lit_lines(driver: Any) -> set[tuple[int, int]]:
    pairs = driver.execute_script(
        "return Array.from(document.querySelectorAll('.ln.lit')).map("
        "e => [+e.dataset.file, +e.dataset.line]);")
    return {(f, n) for f, n in pairs}


def current_step(driver: Any) -> str | None:
    result = driver.execute_script(
        "var c = document.querySelectorAll('li.step.current');"
        "return c.length === 1 ? c[0].id : (c.length ? 'several' : null);")
    return str(result) if result is not None else None


def click(driver: Any, element: Any) -> None:
    """A real click at the element's centre, after bringing it to the middle of its
    scroll boxes (WebDriver's own scrolling leaves an element at a box's edge, where a
    late layout change can put the next phase's title under the pointer)."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', inline: 'center'})",
                          element)
    element.click()


# ----------------------------------------------------------------------------- loading


def test_classic_page_loads_clean_and_is_saved(browser: Any, pages: Path) -> None:
    open_page(browser, classic(pages))
    assert console_errors(browser) == []
    assert browser.execute_script("return window.__csp") == []
    # The policy let the page's own style and script through: the layout is a grid and
    # the script made the steps clickable (checked further below).
    assert browser.execute_script(
        "return getComputedStyle(document.querySelector('main')).display") == "grid"
    assert browser.execute_script("return document.querySelectorAll('#graph svg g[data-node]')"
                                  ".length") > 3
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "classic.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000


# ----------------------------------------------------------------------------- story → log


@pytest.mark.parametrize("name", ["seed-full.log", "execsnoop.log", "kprobe-fail.log"])
def test_each_step_lights_exactly_its_lines(browser: Any, pages: Path, name: str) -> None:
    story = fixture_story(name)
    open_page(browser, write_page(pages, name, story, FIXTURES / name))
    expected = page_steps(story)
    steps = browser.find_elements("css selector", "li.step")
    assert len(steps) == len(expected)
    for element, lines in zip(steps, expected, strict=True):
        click(browser, element)
        assert current_step(browser) == element.get_attribute("id")
        assert lit_lines(browser) == lines, element.text
    assert console_errors(browser) == [] and browser.execute_script("return window.__csp") == []


def test_a_step_lights_its_objects_in_graph_and_timeline(browser: Any, pages: Path) -> None:
    story = fixture_story("seed-full.log")
    open_page(browser, write_page(pages, "seed-full", story, FIXTURES / "seed-full.log"))
    prog = story.lifecycle.real_programs()[0]
    load = next(e for e in browser.find_elements("css selector", "li.step")
                if e.find_element("css selector", ".cite").text == f"L{prog.line}")
    click(browser, load)
    lit_nodes = browser.execute_script(
        "return Array.from(document.querySelectorAll('#graph [data-node].lit'))"
        ".map(e => e.dataset.node);")
    pic = build_picture(story)
    prog_node = next(n.id for n in pic.nodes if n.kind == "prog")
    assert lit_nodes == [prog_node]
    lit_bars = browser.execute_script(
        "return Array.from(document.querySelectorAll('rect.bar.lit'))"
        ".map(e => e.dataset.startLine);")
    assert lit_bars == [str(prog.line)]
    # ...and its log line scrolled into the log pane's view.
    assert browser.execute_script(
        "var l = document.querySelector('.ln.lit').getBoundingClientRect(),"
        " b = document.querySelector('.logbox').getBoundingClientRect();"
        "return l.top >= b.top && l.bottom <= b.bottom;")
    browser.execute_script("document.querySelector('.logbox').scrollTop = 0")
    click(browser, browser.find_elements("css selector", "li.step")[-1])
    last = page_steps(story)[-1]
    if last:
        assert browser.execute_script(
            "var l = document.querySelector('.ln.lit').getBoundingClientRect(),"
            " b = document.querySelector('.logbox').getBoundingClientRect();"
            "return l.top >= b.top && l.bottom <= b.bottom;")


# ----------------------------------------------------------------------------- views → story


def subject_lines(subject: Any, story: Story) -> set[int]:
    lines = {subject.line}
    for a in story.lifecycle.actions:
        if subject in (a.obj, a.other, a.attachment, a.failure):
            lines.add(a.line)
    return lines


def current_lines(driver: Any, expected: list[set[tuple[int, int]]]) -> set[int]:
    steps = driver.find_elements("css selector", "li.step")
    ids = [s.get_attribute("id") for s in steps]
    current = current_step(driver)
    assert current in ids, current
    return {n for _, n in expected[ids.index(current)]}


@pytest.mark.parametrize("name", ["seed-full.log", "go-loader.log", "bpftool-map-show-pinned.log"])
def test_graph_nodes_open_the_step_that_explains_them(browser: Any, pages: Path,
                                                       name: str) -> None:
    story = fixture_story(name)
    open_page(browser, write_page(pages, f"graph-{name}", story, FIXTURES / name))
    pic = build_picture(story)
    expected = page_steps(story)
    cited = {n for lines in expected for _, n in lines}
    checked = 0
    for node_id, subjects in pic.about.items():
        wanted = set().union(*(subject_lines(s, story) for s in subjects)) & cited
        if not wanted:
            continue
        node = browser.find_element("css selector", f'#graph [data-node="{node_id}"]')
        browser.execute_script("document.querySelectorAll('.current').forEach("
                               "e => e.classList.remove('current'));")
        click(browser, node)
        got = current_lines(browser, expected)
        # The step that opens tells the node's first subject being made (or used).
        first = subjects[0]
        made = {first.line} & cited
        assert got & (made or wanted), (node_id, got, wanted)
        assert browser.execute_script("return document.activeElement.id") == current_step(browser)
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("name", ["seed-full.log", "profile.log", "go-loader.log"])
def test_timeline_bars_open_their_step_and_sit_in_line_order(browser: Any, pages: Path,
                                                            name: str) -> None:
    story = fixture_story(name)
    open_page(browser, write_page(pages, f"tl-{name}", story, FIXTURES / name))
    expected = page_steps(story)
    cited = {n for lines in expected for _, n in lines}
    geometry = browser.execute_script(
        "return Array.from(document.querySelectorAll('rect.bar')).map(b => ["
        "+b.dataset.startLine, b.dataset.endLine ? +b.dataset.endLine : null,"
        "b.x.baseVal.value, b.x.baseVal.value + b.width.baseVal.value]);")
    # Bars start and end where the lines of creation and release sit on the axis: the
    # same line is the same x, and a later line is never to the left.
    # (A bar shorter than 3 px is drawn 3 px wide so that it can be seen and clicked:
    # its right edge is not a position.)
    points = sorted({(line, round(x, 1)) for line, _, x, _ in geometry} |
                    {(end, round(x2, 1)) for _, end, x, x2 in geometry
                     if end is not None and x2 - x > 3.01})
    xs_of: dict[int, set[float]] = {}
    for line, x in points:
        xs_of.setdefault(line, set()).add(x)
    assert all(len(xs) == 1 for xs in xs_of.values()), xs_of
    ordered = [xs_of[line].pop() for line in sorted(xs_of)]
    assert ordered == sorted(ordered)
    opened = 0
    # Bars of the folded probe lane overlap by design; every other bar is clicked.
    for bar in browser.find_elements("css selector", ".lane:not(.probe) rect.bar"):
        start = int(bar.get_attribute("data-start-line"))
        if start not in cited:
            continue
        browser.execute_script("document.querySelectorAll('.current').forEach("
                               "e => e.classList.remove('current'));")
        click(browser, bar)
        assert start in current_lines(browser, expected)
        opened += 1
    assert opened >= 3


def test_log_lines_and_keys_open_steps(browser: Any, pages: Path) -> None:
    story = fixture_story("seed-full.log")
    open_page(browser, write_page(pages, "keys", story, FIXTURES / "seed-full.log"))
    from selenium.webdriver.common.keys import Keys

    # Fold every phase, then click the attach line in the log: its phase opens again.
    browser.execute_script("document.querySelectorAll('details.phase').forEach("
                           "d => d.open = false);")
    att = story.lifecycle.attachments[0]
    click(browser, browser.find_element("id", f"L0-{att.line}"))
    current = browser.find_element("css selector", "li.step.current")
    assert str(att.line) in current.find_element("css selector", ".cite").text
    assert browser.execute_script("return arguments[0].closest('details').open", current)
    assert browser.execute_script("return document.activeElement") == current
    # Arrow keys walk the steps; each one becomes the chosen step.
    steps = browser.find_elements("css selector", "li.step")
    index = steps.index(current)
    current.send_keys(Keys.ARROW_DOWN)
    assert current_step(browser) == steps[index + 1].get_attribute("id")
    steps[index + 1].send_keys(Keys.ARROW_UP)
    assert current_step(browser) == current.get_attribute("id")
    # Enter on a focused log line and on a graph node does what a click does.
    line = browser.find_element("id", f"L0-{story.lifecycle.real_programs()[0].line}")
    browser.execute_script("arguments[0].focus()", line)
    line.send_keys(Keys.ENTER)
    assert lit_lines(browser) == {(0, story.lifecycle.real_programs()[0].line)}
    # A glossary term shows its entry when it has keyboard focus, not only on hover.
    term = browser.find_element("css selector", "details[open] li.step dfn.term")
    tip = term.get_attribute("data-tip")
    assert tip and len(tip) > 40
    shown = "return getComputedStyle(arguments[0], '::after').content"
    assert browser.execute_script(shown, term) in ("none", "normal", "")
    browser.execute_script("arguments[0].focus()", term)
    assert browser.execute_script(shown, term) == '"' + tip.replace('"', '\\"') + '"'
    assert console_errors(browser) == []


def test_print_opens_every_phase_and_hides_the_controls(browser: Any, pages: Path) -> None:
    open_page(browser, classic(pages))
    browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = false);"
                           "window.dispatchEvent(new Event('beforeprint'));")
    assert browser.execute_script(
        "return Array.from(document.querySelectorAll('details.phase')).every(d => d.open)")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert browser.execute_script(
            "return getComputedStyle(document.querySelector('.help')).display") == "none"
        assert browser.execute_script(
            "var l = document.querySelector('.ln:not(.cited)');"
            "return l ? getComputedStyle(l).display : 'none'") == "none"
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


# ----------------------------------------------------------------------------- hostile input


def test_injection_fixture_runs_nothing(browser: Any, pages: Path) -> None:
    from bpfexplain.framing import Stats, open_inputs
    from bpfexplain.logtext import capture
    from bpfexplain.pipeline import explain_streams, make_resolver

    streams, log = capture(open_inputs([str(INJECTION)]))
    story = explain_streams(streams, Stats(), make_resolver([str(INJECTION)], local=False))
    path = pages / "injection.html"
    path.write_text(story_html(story, log))
    open_page(browser, path)
    for step in browser.find_elements("css selector", "li.step"):
        click(browser, step)
    for node in browser.find_elements("css selector", "#graph [data-node]")[:6]:
        click(browser, node)
    assert browser.execute_script("return window.__alerts") == 0
    assert browser.execute_script(
        "return document.querySelectorAll('img, iframe, object, embed, foreignObject,"
        " [onerror], [onload]').length") == 0
    assert browser.execute_script("return document.scripts.length") == 2
    # Shown literally: in the story, the graph, the timeline and the log.
    text = browser.find_element("tag name", "body").get_attribute("textContent")
    assert text.count(EVIL) >= 4
    assert "<svg onload=alert(3)>" in text and "'-alert(4)-'${x}" in text
    assert "</script><script>alert(5)</script>" in text
    assert console_errors(browser) == []


def test_long_log_opens_with_cited_lines_and_brings_in_the_rest(browser: Any,
                                                                pages: Path) -> None:
    long_log = pages / "long.log"
    filler = write_long_log(long_log, 30_000)
    from bpfexplain.framing import Stats, open_inputs
    from bpfexplain.logtext import capture
    from bpfexplain.pipeline import explain_streams, make_resolver

    streams, log = capture(open_inputs([str(long_log)]))
    story = explain_streams(streams, Stats(), make_resolver([str(long_log)], local=False))
    path = pages / "long.html"
    path.write_text(story_html(story, log))
    open_page(browser, path)
    shown = browser.execute_script("return document.querySelectorAll('.ln').length")
    assert 50 < shown < 2_000
    gap = browser.find_element("css selector", ".gap button")
    hidden = int(gap.text.split()[1].replace(",", ""))
    assert hidden >= filler and gap.text.endswith(f"(L1–{hidden})")
    click(browser, gap)
    after = browser.execute_script("return document.querySelectorAll('.ln').length")
    assert after == shown + 2000
    assert browser.find_element("id", "L0-1").text.endswith("= 0x55bfea36d000")
    # Steps still light their lines, now far down the log.
    prog = story.lifecycle.real_programs()[0]
    assert prog.line > filler
    click(browser, browser.find_element("id", f"L0-{prog.line}"))
    assert lit_lines(browser) == {(0, prog.line)}
    assert console_errors(browser) == []


# ----------------------------------------------------------------------------- Mermaid


@pytest.fixture(scope="module")
def mermaid_page(browser: Any, pages: Path) -> Any:
    if not MERMAID.is_file():
        _skip_or_fail("the Mermaid library is missing (npm ci --prefix tests/mermaid)")
    harness = pages / "mermaid.html"
    harness.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><div id="out"></div>'
        f'<script src="{MERMAID.as_uri()}"></script>'
        "<script>mermaid.initialize({startOnLoad: false, securityLevel: 'strict'});"
        "</script></body></html>")
    browser.get(harness.as_uri())
    assert browser.execute_script("return typeof mermaid.parse") == "function"
    return browser


RENDER = """
var done = arguments[arguments.length - 1];
var text = arguments[0], id = arguments[1];
mermaid.parse(text).then(function () {
  return mermaid.render(id, text);
}).then(function (r) { done({ok: true, svg: r.svg}); },
        function (e) { done({ok: false, error: String(e && e.message || e)}); });
"""


@pytest.mark.parametrize("name", fixture_names())
def test_every_fixture_diagram_renders_in_mermaid(mermaid_page: Any, name: str) -> None:
    text = story_mermaid(fixture_story(name))
    mermaid_page.set_script_timeout(30)
    result = mermaid_page.execute_async_script(RENDER, text, "d" + str(abs(hash(name))))
    assert result["ok"], result.get("error")
    svg = result["svg"]
    # Every node of the picture reached the drawing.
    assert svg.count('class="node') >= len(build_picture(fixture_story(name)).nodes)
