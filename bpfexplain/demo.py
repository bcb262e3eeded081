"""Bundled lessons: real recordings that play without root, strace or network.

Each lesson is one or more strace logs recorded by ``fixtures/record.sh`` on a
BPF-enabled machine, with a title and a one-paragraph introduction for someone who has
never seen eBPF.  The recordings ship inside the wheel as ``bpfexplain/lessons/``
(see ``pyproject.toml``); in a source checkout they are read from ``fixtures/``.

Stories of lessons are built with ``local=False``: names of tracepoint ids come from
each recording's ``.meta.json``, never from the machine playing the lesson, so a
lesson tells the same story everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bpfexplain.errors import BpfexplainError

if TYPE_CHECKING:
    from rich.console import Console

    from bpfexplain.story import Story

# rich and the story are imported where a lesson is shown, json and importlib.resources
# where a recording is read: `demo --list` and the lesson table must start fast
# (bench/bench_targets.py holds them under 0.15 s).


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    intro: str
    recordings: tuple[str, ...]
    """Fixture names (``seed-full`` for ``seed-full.log``), played in order."""
    look_for: str = ""
    """What to watch in the story: the one thing a presenter would point at."""


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "classic",
        "The classic one-liner: count system calls with bpftrace",
        "bpftrace turns a one-line script into an eBPF program, asks the kernel to check "
        "and load it, and hangs it on a tracepoint, a fixed place in the kernel that fires "
        "on every system call. This recording is 'bpftrace -e "
        "\"tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }\"' stopped with "
        "Ctrl-C after 3 seconds. Watch the three steps every tracing tool takes: load the "
        "program, attach it to an event, switch the event on.",
        ("seed-full",),
        "BPF_PROG_LOAD, then perf_event_open on the tracepoint, then "
        "PERF_EVENT_IOC_SET_BPF (attach) and PERF_EVENT_IOC_ENABLE (switch on).",
    ),
    Lesson(
        "libbpf",
        "A libbpf CO-RE tool: execsnoop",
        "Compiled tools from libbpf-tools (and bcc's libbpf-based rewrites) carry their "
        "eBPF programs inside the binary. libbpf first reads the kernel's own type "
        "information (BTF) so one binary runs on many kernel versions (CO-RE: compile "
        "once, run everywhere), loads the program's BTF, creates maps for its global "
        "variables (.rodata), and attaches through links (BPF_LINK_CREATE) instead of "
        "perf ioctls. Events reach the tool through a perf buffer, one per CPU.",
        ("execsnoop",),
        "the BTF load, the 'execsnoo.rodata' map, BPF_LINK_CREATE, and the perf buffer "
        "stored in map 'events'.",
    ),
    Lesson(
        "uprobe",
        "A uprobe: tracing a function in a user-space library",
        "A uprobe runs an eBPF program when a process calls a function in a binary or "
        "library, here malloc() in libc. The kernel has no fixed event for that, so "
        "bpftrace creates one: perf_event_open with the 'uprobe' event source, whose type "
        "number the kernel assigns at boot, and the path and offset of the function.",
        ("uprobe",),
        "perf_event_open with a dynamic PMU type (uprobe) instead of a tracepoint id.",
    ),
    Lesson(
        "profile",
        "Sampling every CPU: bpftrace profile:hz:99",
        "A profiler does not wait for an event in the code: it interrupts each CPU at a "
        "fixed rate (99 times a second here) and looks at what was running. bpftrace "
        "opens one timer perf event per CPU and attaches the same program to each of them.",
        ("profile",),
        "one perf event per CPU, each with the same program attached and enabled.",
    ),
    Lesson(
        "pinning",
        "Pinning: objects that outlive their loader (bpftool)",
        "An eBPF object lives as long as something holds it. Pinning gives it a name in "
        "the BPF filesystem (/sys/fs/bpf) that holds it after the loader exits; any "
        "program can open it again by that path. First 'bpftool map create' makes a map "
        "and pins it, then 'bpftool map show pinned' opens it by its path.",
        ("bpftool-map-create", "bpftool-map-show-pinned"),
        "BPF_OBJ_PIN in the first recording and BPF_OBJ_GET in the second.",
    ),
    Lesson(
        "go",
        "A Go loader: raw_tracepoint:sys_enter with cilium/ebpf",
        "Loaders are not only C tools. This one is a small Go program (fixtures/src/"
        "goloader/main.go) in the spirit of the 'libbpfgo beginners' exercise, built with "
        "the cilium/ebpf library as Debian packages it: it writes its eBPF program with "
        "the library's assembler (no C compiler), counts system calls by number in an "
        "array map and attaches to the raw tracepoint sys_enter. A raw tracepoint needs "
        "no perf event: one bpf() call attaches and enables at once. The Go runtime runs "
        "bpf() from several threads, and the library probes the kernel first.",
        ("go-loader",),
        "BPF_RAW_TRACEPOINT_OPEN: attach and enable are a single call here.",
    ),
    Lesson(
        "not-root",
        "What failure looks like: not allowed (EPERM)",
        "Loading eBPF programs needs privileges (root, or CAP_BPF with CAP_PERFMON). "
        "Here bpftrace and execsnoop are run as the unprivileged user 'nobody': the "
        "kernel answers their first bpf() calls with EPERM, and the tools give up.",
        ("nonroot-bpftrace", "nonroot-execsnoop"),
        "bpf() returning EPERM, and nothing loaded.",
    ),
    Lesson(
        "verifier",
        "What failure looks like: the verifier says no",
        "Before the kernel accepts a program, its verifier proves that the program is "
        "safe: it terminates and reads only memory it may read. This small loader "
        "(fixtures/src/badprog.c) loads a program that reads a register it never set; "
        "the verifier rejects it with EACCES and explains why in its log.",
        ("verifier-reject",),
        "BPF_PROG_LOAD failing with EACCES, and the verifier's log.",
    ),
    Lesson(
        "missing-probe",
        "What failure looks like: an event this machine does not have",
        "Programs load fine, but attaching needs the event to exist. This virtual machine "
        "has no kprobe support and no hardware counters, so 'kprobe:do_nanosleep' and "
        "'hardware:cycles' load their programs and then fail to attach them (ENOENT).",
        ("kprobe-fail", "hw-fail"),
        "a program that is loaded but never attached, and the failing open.",
    ),
)


def lesson_names() -> list[str]:
    return [lesson.name for lesson in LESSONS]


def find_lesson(name: str) -> Lesson:
    for lesson in LESSONS:
        if lesson.name == name:
            return lesson
    import difflib

    close = difflib.get_close_matches(name, lesson_names(), n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise LessonError(f"no lesson named {name!r}{hint}; 'bpfexplain demo --list' lists them")


class LessonError(BpfexplainError):
    """An unknown lesson, or a lesson whose recording is missing from this install."""

    exit_code = 2


# --------------------------------------------------------------------------------
# finding recordings


def _candidates() -> Iterator[Path]:
    from importlib import resources

    # Installed from a wheel: bpfexplain/lessons/ (force-included from fixtures/).
    packaged = resources.files("bpfexplain") / "lessons"
    if isinstance(packaged, Path):
        yield packaged
    # A source checkout: the repository's fixtures/ beside the package.
    yield Path(__file__).resolve().parent.parent / "fixtures"


def recording_path(name: str) -> Path:
    """The ``.log`` of a recording, from the package data or the source checkout."""
    for directory in _candidates():
        path = directory / f"{name}.log"
        if path.is_file():
            return path
    raise LessonError(f"the recording {name}.log is missing from this installation")


def recording_meta(name: str) -> dict[str, object]:
    import json

    path = recording_path(name).with_suffix(".meta.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def recorded_command(name: str) -> str:
    """The loader's own command line (what the learner would type), from the meta file."""
    command = str(recording_meta(name).get("command", ""))
    _, sep, rest = command.partition(f"-o {name}.log ")
    return rest if sep else command


def lesson_story(name: str, detail: str = "default") -> Story:
    """The story of one recording, named from its own meta file only."""
    from bpfexplain.framing import Stats, open_inputs
    from bpfexplain.pipeline import explain_streams, make_resolver

    path = str(recording_path(name))
    resolver = make_resolver([path], local=False)
    return explain_streams(open_inputs([path]), Stats(), resolver, detail=detail)


# --------------------------------------------------------------------------------
# playing


def lesson_table(console: Console) -> None:
    """What ``bpfexplain demo`` shows without a name: every lesson and how to play it."""
    from rich.text import Text

    console.print(Text("Lessons (real recordings; no root, strace or network needed)",
                       style="bold"))
    console.print()
    width = max(len(lesson.name) for lesson in LESSONS)
    for lesson in LESSONS:
        row = Text("  ")
        row.append(f"{lesson.name:<{width}}", style="bold green")
        row.append("  " + lesson.title)
        console.print(row)
    console.print()
    console.print(Text("Play one with 'bpfexplain demo NAME' (add --step to go phase by "
                       "phase); look up any word with 'bpfexplain explain TERM'.",
                       style="dim"))


def play(lesson: Lesson, console: Console, *, step: bool = False,
         wait: Callable[[str], bool] | None = None, detail: str = "default") -> None:
    """Tell a lesson: its introduction, then each recording's story.

    With ``step``, ``wait(prompt)`` is called before each phase and before the graph;
    it returns False to stop the lesson early.  Callers decide whether that reads a
    key: the CLI passes a no-op when stdin is not a terminal, so a lesson always plays
    to the end in scripts and tests.
    """
    from rich.console import Group
    from rich.padding import Padding
    from rich.rule import Rule
    from rich.text import Text
    from rich.tree import Tree

    from bpfexplain.render.text import story_renderables

    console.print(Rule(Text(lesson.title, style="bold")))
    console.print(Padding(Text(lesson.intro), (1, 2, 0, 2), expand=False))
    if lesson.look_for:
        look = Text("Look for: ", style="bold")
        look.append(lesson.look_for)
        console.print(Padding(look, (1, 2, 0, 2), expand=False))
    for index, name in enumerate(lesson.recordings, 1):
        story = lesson_story(name, detail)
        console.print()
        head = Text(f"Recording {index}/{len(lesson.recordings)}: " if
                    len(lesson.recordings) > 1 else "Recording: ", style="bold")
        head.append(recorded_command(name), style="italic")
        console.print(head)
        console.print()
        renderables = story_renderables(story)
        phases = sum(1 for r in renderables if isinstance(r, Group))
        seen = 0
        for renderable in renderables:
            if step and wait is not None and _is_pause_point(renderable):
                seen += 1
                what = "the graph" if isinstance(renderable, Tree) else \
                    f"phase {seen} of {phases}"
                if not wait(f"[Enter: {what}, q: stop] "):
                    return
            console.print(renderable)
        _terms(story, console)


def _is_pause_point(renderable: object) -> bool:
    # story_renderables() lays out each phase as a Group and the graph as a Tree;
    # those are the places a presenter stops to talk.
    from rich.console import Group
    from rich.tree import Tree

    return isinstance(renderable, Group | Tree)


def _terms(story: Story, console: Console) -> None:
    from rich.padding import Padding
    from rich.text import Text

    if not story.terms:
        return
    text = Text("Terms in this recording: ", style="bold")
    text.append(", ".join(story.terms))
    text.append(" · bpfexplain explain TERM", style="dim")
    console.print(Padding(text, (1, 0, 0, 0), expand=False))


# --------------------------------------------------------------------------------
# pages: demo --format html and demo --site


def page_names(lesson: Lesson) -> list[str]:
    """File names of a lesson's pages: ``NAME.html``, then ``NAME-2.html``..."""
    return [f"{lesson.name}.html" if index == 0 else f"{lesson.name}-{index + 1}.html"
            for index in range(len(lesson.recordings))]


def lesson_pages(lesson: Lesson, detail: str = "default", *,
                 site: bool = False) -> list[str]:
    """One HTML page per recording of a lesson (with site navigation when ``site``)."""
    from bpfexplain.logtext import LogText, read_log
    from bpfexplain.render.html import PageLink, PageOptions, story_html

    names = page_names(lesson)
    pages: list[str] = []
    for index, recording in enumerate(lesson.recordings):
        story = lesson_story(recording, detail)
        log = read_log([str(recording_path(recording))])
        # The page names the recording, not where this installation keeps it.
        log = LogText((f"{recording}.log",), log.lines)
        part = f" ({index + 1}/{len(names)})" if len(names) > 1 else ""
        links: list[PageLink] = []
        if site:
            links.append(PageLink("index.html", "all lessons"))
            if index > 0:
                links.append(PageLink(names[index - 1], "previous recording"))
            if index + 1 < len(names):
                links.append(PageLink(names[index + 1], "next recording"))
        options = PageOptions(title=f"{lesson.title}{part}",
                              intro=lesson.intro + f" Recorded: {recorded_command(recording)}",
                              look_for=lesson.look_for, links=links)
        pages.append(story_html(story, log, options))
    return pages


def write_site(directory: Path, detail: str = "default") -> list[Path]:
    """Every lesson as pages plus ``index.html``: a course for any static web server."""
    from bpfexplain import safeio
    from bpfexplain.render.export import write_text
    from bpfexplain.render.html import index_html

    safeio.make_dirs(directory)  # refuses another user's symlink, as each page's write does
    written: list[Path] = []
    entries: list[tuple[str, str, str]] = []
    for lesson in LESSONS:
        names = page_names(lesson)
        for name, page in zip(names, lesson_pages(lesson, detail, site=True), strict=True):
            path = directory / name
            write_text(path, page)
            written.append(path)
        entries.append((names[0], lesson.title, lesson.intro))
    index = directory / "index.html"
    write_text(index, index_html(
        "bpfexplain: eBPF lifecycles, explained from real recordings",
        "Each lesson is a real strace recording of a real eBPF loader, told step by step "
        "beside its lifecycle graph, a timeline of its objects and the log itself.",
        entries))
    written.append(index)
    return written
