"""Lessons play to the end without root, strace or network; ``explain`` explains.

The CLI runs through typer's runner, whose stdin is not a terminal: that is the
non-interactive path scripts and CI take, so ``--step`` must not wait there.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bpfexplain import demo, glossary
from bpfexplain.cli import app
from bpfexplain.render.text import make_console

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def play_text(lesson: demo.Lesson, **kwargs: object) -> str:
    out = io.StringIO()
    demo.play(lesson, make_console(out, width=100, color=False), **kwargs)  # type: ignore[arg-type]
    return out.getvalue()


@pytest.mark.parametrize("name", demo.lesson_names())
def test_every_lesson_plays_to_the_end(name: str) -> None:
    result = runner.invoke(app, ["demo", name, "--step", "--no-color"])
    assert result.exit_code == 0, result.output
    lesson = demo.find_lesson(name)
    assert lesson.title in result.output
    # each recording told to its end: the graph and the footer are the last things
    assert result.output.count("Graph") == len(lesson.recordings)
    assert result.output.count("failures: ") == len(lesson.recordings)


def test_lessons_cover_the_issue() -> None:
    recordings = {r for lesson in demo.LESSONS for r in lesson.recordings}
    assert {"seed-full", "execsnoop", "uprobe", "profile", "bpftool-map-create",
            "go-loader", "verifier-reject"} <= recordings
    assert any(r.startswith("nonroot") for r in recordings)
    assert {"kprobe-fail", "hw-fail"} <= recordings
    for lesson in demo.LESSONS:
        assert lesson.intro.endswith(".") and len(lesson.intro) > 150, lesson.name


def test_recordings_are_real_fixtures_with_meta() -> None:
    for lesson in demo.LESSONS:
        for name in lesson.recordings:
            path = demo.recording_path(name)
            assert path.is_file() and path.with_suffix(".meta.json").is_file()
            assert demo.recorded_command(name)


def test_every_recording_ships_in_the_wheel() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    for lesson in demo.LESSONS:
        for name in lesson.recordings:
            for ext in (".log", ".meta.json"):
                assert included.get(f"fixtures/{name}{ext}") == f"bpfexplain/lessons/{name}{ext}"


def test_step_pauses_before_each_phase_and_the_graph() -> None:
    prompts: list[str] = []

    def wait(prompt: str) -> bool:
        prompts.append(prompt)
        return True

    lesson = demo.find_lesson("classic")
    text = play_text(lesson, step=True, wait=wait)
    story = demo.lesson_story("seed-full")
    phases = sum(len(s.phases) for s in story.sections)
    assert len(prompts) == phases + 1
    assert "the graph" in prompts[-1]
    assert "Graph" in text


def test_step_q_stops_the_lesson() -> None:
    text = play_text(demo.find_lesson("classic"), step=True, wait=lambda _p: False)
    assert "The classic one-liner" in text
    assert "Graph" not in text


def test_list_prints_names_only() -> None:
    result = runner.invoke(app, ["demo", "--list"])
    assert result.exit_code == 0
    assert result.output.split() == demo.lesson_names()


def test_demo_without_a_name_shows_the_catalogue() -> None:
    result = runner.invoke(app, ["demo", "--no-color"])
    assert result.exit_code == 0
    for lesson in demo.LESSONS:
        assert lesson.name in result.output and lesson.title in result.output


def test_unknown_lesson_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(demo.LessonError, match="did you mean classic"):
        demo.find_lesson("clasic")


def test_demo_handout_and_picture(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "classic", "--format", "markdown"])
    assert result.exit_code == 0
    assert "```mermaid" in result.output and "## Glossary" in result.output
    out = tmp_path / "pin.dot"
    result = runner.invoke(app, ["demo", "pinning", "--format", "dot", "--output", str(out)])
    assert result.exit_code == 0, result.output
    # two recordings: two files
    assert out.read_text().startswith("digraph")
    assert (tmp_path / "pin-2.dot").read_text().startswith("digraph")


def test_lessons_do_not_depend_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    # No strace, no tracefs: a lesson must still name its tracepoint from its meta file.
    monkeypatch.setenv("PATH", "/nonexistent")
    text = play_text(demo.find_lesson("classic"))
    assert "raw_syscalls:sys_enter" in text


# --------------------------------------------------------------------------------
# explain


@pytest.mark.parametrize("term", ["BPF_PROG_LOAD", "prog_load", "PERF_EVENT_IOC_SET_BPF",
                                  "verifier", "BTF", "link", "pin", "feature probe",
                                  "perf buffer", "ring buffer", "EPERM", "BPF_MAP_TYPE_HASH"])
def test_explain_known_terms(term: str) -> None:
    result = runner.invoke(app, ["explain", *term.split(), "--no-color"])
    assert result.exit_code == 0, result.output
    entry = glossary.lookup(term)
    assert entry is not None
    assert result.output.startswith(entry.term)
    assert "since:" in result.output
    assert entry.summary.split()[0] in result.output


def test_explain_shows_where_and_version() -> None:
    result = runner.invoke(app, ["explain", "BPF_PROG_LOAD", "--no-color"])
    assert "where:" in result.output and "Linux 3.18" in result.output


def test_explain_unknown_term_is_one_line_with_suggestions() -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-m", "bpfexplain", "explain", "verifer"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "closest: verifier" in lines[0]
