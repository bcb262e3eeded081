"""The story and its renderings: content, failures explained, untrusted text kept inert."""

from __future__ import annotations

import io
import json
import re
import textwrap
from pathlib import Path

import jsonschema
import pytest

from bpfexplain.framing import Stats
from bpfexplain.parser import parse_events
from bpfexplain.render.json import story_json
from bpfexplain.render.markdown import story_markdown
from bpfexplain.render.text import make_console, print_story
from bpfexplain.resolve import Resolver
from bpfexplain.story import Story, build_story, cite
from bpfexplain.tracking import Tracker
from tests.fixture_stories import fixture_names, fixture_story

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SCHEMA = json.loads((ROOT / "docs" / "schema.json").read_text())


def story_of(text: str, detail: str = "default") -> Story:
    data = textwrap.dedent(text).strip("\n").encode()
    tracker = Tracker(Resolver())
    for event in parse_events([("t.log", io.BytesIO(data))], Stats()):
        tracker.feed(event)
    return build_story(tracker.lifecycle(), detail)




def render(story: Story, width: int = 100) -> str:
    out = io.StringIO()
    print_story(story, make_console(out, width=width, color=False))
    return out.getvalue()


def test_cite_compacts_ranges() -> None:
    assert cite([27]) == "L27"
    assert cite([19, 20, 21]) == "L19-21"
    assert cite([1, 2, 3, 25, 26]) == "L1-3, 25-26"
    assert cite([]) == ""


def test_seed_story_tells_each_step_with_its_line() -> None:
    text = render(fixture_story("seed.log"))
    assert "Checking what this kernel supports" in text
    assert re.search(r"L17 +map \"AT_\" PERCPU_HASH", text)
    assert re.search(r"L27 +program \"sys_enter\", type TRACEPOINT, 27 instructions → fd 9",
                     text)
    assert re.search(r"L28 +perf_event_open\(TRACEPOINT id 443 = raw_syscalls:sys_enter", text)
    assert "PERF_EVENT_IOC_SET_BPF, 9): program \"sys_enter\" will run each time" in text
    assert "For each of the 2 CPUs" in text
    # concepts explained once, the first time they appear
    assert text.count("A piece of kernel memory, organised as keys and values") == 1
    # the graph names the attach point and its life
    assert "PERF_EVENT_IOC_SET_BPF → tracepoint:raw_syscalls:sys_enter" in text
    assert "enabled L30 · disabled L33" in text
    # probes folded, counted
    assert "probes: 7 objects" in text and "folded" in text


def test_brief_is_graph_and_summary_only() -> None:
    text = render(fixture_story("seed.log", "brief"))
    assert "Creating maps" not in text
    assert "Graph" in text and "tracepoint:raw_syscalls:sys_enter" in text


def test_verbose_unfolds_probes() -> None:
    default = render(fixture_story("seed.log"))
    verbose = render(fixture_story("seed.log", "verbose"))
    assert '"libbpf_nametest"' not in default
    assert '"libbpf_nametest"' in verbose


# As strace prints it: ESC and BEL come escaped in octal.
HOSTILE = r"[bold red]x[/]\33[2J\7"


def test_hostile_names_print_literally_in_text() -> None:
    story = story_of(
        'bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_TRACEPOINT, insn_cnt=27, insns=0x1, '
        f'license="GPL", prog_name="{HOSTILE}"}}, 148) = 9\n'
        'bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_HASH, key_size=4, value_size=8, '
        'max_entries=1, map_name="[link=http://x]y"}, 72) = 3'
    )
    assert story.lifecycle.objects[0].name == "[bold red]x[/]\x1b[2J\x07"
    out = io.StringIO()
    console = make_console(out, width=200, color=True)
    print_story(story, console)
    text = out.getvalue()
    assert "\x1b[2J" not in text and "\x07" not in text
    assert "\\x1b[2J\\x07" in text
    assert "[bold red]x[/]" in text  # markup printed, not applied
    assert "[link=http://x]y" in text


def test_hostile_names_are_escaped_in_markdown() -> None:
    story = story_of("""
        bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_TRACEPOINT, insn_cnt=27, insns=0x1, license="GPL", prog_name="*a*<script>"}, 148) = 9
    """)
    md = story_markdown(story)
    assert "<script>" not in md
    assert r"\*a\*\<script\>" in md


@pytest.mark.parametrize(("line", "call", "errno", "needle"), [
    ('bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_TRACEPOINT, insn_cnt=30, insns=0x1, '
     'license="GPL", prog_name="p"}, 148) = -1 EPERM (Operation not permitted)',
     "BPF_PROG_LOAD", "EPERM", "CAP_BPF"),
    ('bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_TRACEPOINT, insn_cnt=30, insns=0x1, '
     'license="GPL", log_level=1, log_size=4096, log_buf="", prog_name="p"}, 148) '
     '= -1 EACCES (Permission denied)', "BPF_PROG_LOAD", "EACCES", "--deep"),
    ('perf_event_open({type=PERF_TYPE_HARDWARE, size=0, config=PERF_COUNT_HW_CPU_CYCLES, '
     'sample_period=1000000}, -1, 0, -1, PERF_FLAG_FD_CLOEXEC) = -1 ENOENT '
     '(No such file or directory)', "perf_event_open", "ENOENT", "hardware"),
    ('bpf(BPF_LINK_CREATE, {link_create={prog_fd=8, target_fd=11, '
     'attach_type=BPF_PERF_EVENT, flags=0}}, 48) = -1 EOPNOTSUPP (Operation not supported)',
     "BPF_LINK_CREATE", "EOPNOTSUPP", "support"),
    ('bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_TRACEPOINT, insn_cnt=99999, insns=0x1, '
     'license="GPL", prog_name="p"}, 148) = -1 E2BIG (Argument list too long)',
     "BPF_PROG_LOAD", "E2BIG", "big"),
    ('bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_TRACEPOINT, insn_cnt=30, insns=0x1, '
     'license="GPL", log_level=1, log_size=16, log_buf="", prog_name="p"}, 148) '
     '= -1 ENOSPC (No space left on device)', "BPF_PROG_LOAD", "ENOSPC", "log"),
    ('ioctl(8, PERF_EVENT_IOC_SET_BPF, 9) = -1 EBADF (Bad file descriptor)',
     "PERF_EVENT_IOC_SET_BPF", "EBADF", "fd"),
])
def test_each_failure_kind_is_explained(line: str, call: str, errno: str, needle: str) -> None:
    story = story_of(line)
    (failure,) = story.lifecycle.failures
    assert (failure.call, failure.errno) == (call, errno)
    assert needle.lower() in failure.why.lower(), failure.why
    text = render(story)
    assert "What went wrong" in text and errno in text


def test_json_follows_the_contract_for_the_seed() -> None:
    doc = story_json(fixture_story("seed.log"))
    jsonschema.validate(doc, SCHEMA)
    progs = [o for o in doc["objects"] if o["kind"] == "prog" and not o["probe"]]
    assert [(p["attrs"]["prog_type"], p["attrs"]["prog_name"], p["attrs"]["insn_cnt"], p["fd"],
             p["line"]) for p in progs] == [("BPF_PROG_TYPE_TRACEPOINT", "sys_enter", 27, 9, 27)]
    (att,) = [a for a in doc["attachments"] if not a["probe"]]
    assert att["prog"] == progs[0]["id"]
    assert att["via"] == "PERF_EVENT_IOC_SET_BPF"
    assert att["attach_point"] == "tracepoint:raw_syscalls:sys_enter"
    assert att["enabled"] is True
    target = next(o for o in doc["objects"] if o["id"] == att["target"])
    assert target["attrs"]["type"] == "PERF_TYPE_TRACEPOINT" and target["attrs"]["config"] == 443




@pytest.mark.parametrize("name", fixture_names())
def test_json_of_every_fixture_validates(name: str) -> None:
    doc = story_json(fixture_story(name))
    jsonschema.validate(doc, SCHEMA)
    ids = {o["id"] for o in doc["objects"]}
    for att in doc["attachments"]:
        assert att["prog"] in ids
        assert att["target"] is None or att["target"] in ids


@pytest.mark.parametrize("name", ["seed.log", "flags-Xraw.log", "flags-Xverbose.log",
                                  "flags-yy.log", "seed-s5.10.log", "seed-s7.2.log",
                                  "flags-ff"])
def test_every_rendering_of_the_seed_gives_the_same_graph(name: str) -> None:
    doc = story_json(fixture_story(name))
    real = [a for a in doc["attachments"] if not a["probe"]]
    points = {a["attach_point"] for a in real}
    assert "tracepoint:raw_syscalls:sys_enter" in points
    assert all(a["enabled"] for a in real)
    progs = [o for o in doc["objects"] if o["kind"] == "prog" and not o["probe"]
             and o["via"] == "BPF_PROG_LOAD"]
    assert {p["attrs"]["prog_type"] for p in progs} == {"BPF_PROG_TYPE_TRACEPOINT"}


def test_tracepoint_ids_file_names_ids_when_nothing_else_does(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    log = tmp_path / "trace.log"  # no sidecar beside it
    shutil.copy(FIXTURES / "seed.log", log)
    ids = tmp_path / "ids.txt"
    ids.write_text("443 raw_syscalls:sys_enter\n442 raw_syscalls:sys_exit\n")

    def attach_points(*extra: str) -> set[str | None]:
        proc = subprocess.run(
            [sys.executable, "-m", "bpfexplain", "parse", "--format", "json", "-q",
             "--no-resolve-locally", *extra, str(log)],
            capture_output=True, text=True, check=True, timeout=60)
        doc = json.loads(proc.stdout)
        return {a["attach_point"] for a in doc["attachments"] if not a["probe"]}

    assert attach_points() == {None}
    assert attach_points("--tracepoint-ids", str(ids)) == {"tracepoint:raw_syscalls:sys_enter"}
