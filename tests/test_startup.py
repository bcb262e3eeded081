"""Start-up: what each command imports, help text layout, the --color tri-state.

Speed itself is measured in bench/bench_targets.py; these tests pin the structure
that makes it possible: which modules a command may load before it answers, and
that ``run`` forks strace before the grammar, the tracker, the story and rich.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bpfexplain.cli import app

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("lark", "rich", "pydantic", "ptrace", "bpfexplain.grammar", "bpfexplain.parser",
         "bpfexplain.tracking", "bpfexplain.story", "bpfexplain.pipeline",
         "bpfexplain.render.text")
"""What a quick command must not load (a prefix: ``rich`` covers ``rich.console``)."""

# Runs the CLI in a fresh interpreter and reports the modules it had loaded when the
# command finished (or, for `run`, when it was about to start strace).
PROBE = r"""
import json, sys
watched = tuple(sys.argv[1].split(","))

def loaded():
    return sorted(m for m in sys.modules if m.split(".")[0] in watched or m in watched
                  or any(m == w or m.startswith(w + ".") for w in watched))

if sys.argv[2] == "run":
    from bpfexplain import live
    def spy(self, *args, **kwargs):
        print(json.dumps(loaded()))
        raise SystemExit(0)
    live.LiveTrace.start = spy
import atexit
if sys.argv[2] != "run":
    atexit.register(lambda: print(json.dumps(loaded())))
sys.argv = ["bpfexplain", *sys.argv[2:]]
from bpfexplain.cli import main
main()
"""


def loaded_modules(*argv: str) -> set[str]:
    watched = ",".join(("lark", "rich", "pydantic", "ptrace", "bpfexplain"))
    proc = subprocess.run([sys.executable, "-c", PROBE, watched, *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert last.startswith("["), f"no module list: {proc.stdout!r} {proc.stderr!r}"
    return set(json.loads(last))


def heavy(modules: set[str], allowed: tuple[str, ...] = ()) -> list[str]:
    return sorted(m for m in modules
                  if any(m == h or m.startswith(h + ".") for h in HEAVY)
                  and not any(m == a or m.startswith(a + ".") for a in allowed))


@pytest.mark.parametrize(("argv", "allowed"), [
    (("--version",), ()),
    (("demo", "--list"), ()),
    # explain prints one glossary entry with rich, but needs no story.
    (("explain", "map", "--no-color"), ("rich",)),
    (("--help",), ()),
])
def test_quick_commands_load_nothing_heavy(argv: tuple[str, ...],
                                           allowed: tuple[str, ...]) -> None:
    modules = loaded_modules(*argv)
    assert "bpfexplain.cli" in modules  # the probe really ran the CLI
    assert heavy(modules, allowed) == []


def test_demo_list_reads_no_recording_machinery() -> None:
    """`demo --list` prints names: json and importlib.resources are for recordings."""
    # Not PROBE: it imports json itself.
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print(' '.join(sorted(m for m in sys.modules\n"
             "    if m == 'json' or m.startswith(('json.', 'importlib.resources'))))))\n"
             "sys.argv = ['bpfexplain', 'demo', '--list']\n"
             "from bpfexplain.cli import main\n"
             "main()\n")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "classic" in lines  # the probe really listed lessons
    assert lines[-1] == ""


def test_command_annotations_are_objects() -> None:
    """typer reads each command's signature on every start; string annotations (a
    ``from __future__ import annotations`` in cli.py) would each be evaluated twice."""
    import inspect

    group = typer.main.get_command(app)
    callbacks = [command.callback for command in getattr(group, "commands", {}).values()]
    assert len(callbacks) >= 4
    for callback in callbacks:
        assert callback is not None
        wrapped = inspect.unwrap(callback)
        for name, annotation in wrapped.__annotations__.items():
            assert not isinstance(annotation, str), (wrapped.__name__, name)


def test_cli_does_not_pull_pydantic() -> None:
    """typer 0.29+ builds every option through pydantic at start (see pyproject)."""
    modules = loaded_modules("parse", "--help")
    assert not any(m.split(".")[0] == "pydantic" for m in modules)


@pytest.mark.live
def test_run_forks_strace_before_the_heavy_imports() -> None:
    modules = loaded_modules("run", "--", "/bin/true")
    assert "bpfexplain.live" in modules
    assert heavy(modules) == []


def _top_level_imports(argv: list[str]) -> list[str]:
    """The modules a fresh process imports at the top level, in order (``-X importtime``
    prints a module when its import ends, its own imports indented above it)."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    return [line.split("|")[2][1:] for line in proc.stderr.splitlines()
            if line.startswith("import time:") and line.count("|") == 2
            and not line.split("|")[2][1:].startswith((" ", "imported package"))]


def test_the_command_imports_nothing_before_the_entry_point() -> None:
    """The installed ``bpfexplain`` reaches :mod:`bpfexplain.entry` having imported
    nothing an empty interpreter does not: pip's wrapper for an entry point imports
    ``re`` first, milliseconds that ``run`` would spend before forking strace."""
    command = Path(sys.executable).with_name("bpfexplain")
    assert command.is_file(), "the package is not installed into this environment"
    ours = _top_level_imports([str(command), "--version"])
    assert "bpfexplain.entry" in ours
    before = ours[:ours.index("bpfexplain.entry")]
    empty = _top_level_imports([sys.executable, "-c", "pass"])
    assert set(before) - set(empty) <= {"bpfexplain"}, before


def test_traced_set_is_the_trackers_and_the_routes() -> None:
    """bpfexplain.traced writes the set out so that run need not import the tracker
    before forking strace; it must stay what the tracker and the routes follow."""
    from bpfexplain import traced

    assert traced.derived() == traced.TRACED, (
        "update TRACED in bpfexplain/traced.py to: " + repr(sorted(traced.derived())))


# ---- help text ------------------------------------------------------------------

def _commands() -> list[tuple[list[str], str]]:
    """Every command's argv for --help, with the help and epilog text it is given."""
    group = typer.main.get_command(app)
    found: list[tuple[list[str], str]] = [
        ([], (group.help or "") + "\n\n" + (group.epilog or ""))]
    for name, command in getattr(group, "commands", {}).items():
        found.append(([name], (command.help or "") + "\n\n" + (command.epilog or "")))
    return found


def test_every_command_is_checked() -> None:
    names = {tuple(argv) for argv, _ in _commands()}
    assert {(), ("parse",), ("run",), ("demo",), ("explain",)} <= names


@pytest.mark.parametrize(("argv", "source"), _commands(),
                         ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_help_keeps_example_lines(argv: list[str], source: str) -> None:
    """Indented example lines print as written, one per line, never rewrapped."""
    examples = [line.strip() for line in source.splitlines()
                if line.startswith("    ") and line.strip()]
    result = CliRunner().invoke(app, [*argv, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    printed = {line.strip() for line in result.output.splitlines()}
    if argv in ([], ["run"], ["demo"], ["explain"], ["parse"]):
        assert examples, "this command's help is expected to show examples"
    for line in examples:
        assert line in printed, f"example line rewrapped: {line!r}\n{result.output}"


# ---- --color / --no-color / neither -----------------------------------------------

ESC = "\x1b["


@pytest.mark.parametrize(("flag", "coloured"), [
    (["--color"], True),
    (["--no-color"], False),
    ([], False),  # the runner's stdout is not a terminal
])
def test_color_is_tri_state(flag: list[str], coloured: bool,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for argv in (["explain", "map"], ["demo"]):
        result = CliRunner().invoke(app, [*argv, *flag])
        assert result.exit_code == 0, result.output
        assert (ESC in result.output) is coloured, (argv, flag, result.output[:200])


# ---- while the loader runs --------------------------------------------------------

def _nice_of(tid: int) -> int:
    # /proc/PID/task/TID/stat: field 19 is the nice value; the command name (field 2)
    # may hold spaces, so count from the closing parenthesis.
    stat = Path(f"/proc/self/task/{tid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[16])


@pytest.mark.live
def test_parsing_yields_the_cpu_to_the_loader_but_not_the_pipe_reader() -> None:
    from bpfexplain import live
    from bpfexplain.framing import Stats

    before = os.getpriority(os.PRIO_PROCESS, 0)
    config = live.RunConfig(command=["/bin/sleep", "0.3"])
    with live.LiveSession(config, live.find_strace()) as session:
        reader = session.trace._reader
        assert reader is not None and reader.native_id is not None
        during = os.getpriority(os.PRIO_PROCESS, 0)
        reader_nice = _nice_of(reader.native_id)
        for _ in session.events(Stats()):
            pass
    after = os.getpriority(os.PRIO_PROCESS, 0)
    assert during == min(before + live.PARSER_NICENESS, 19)
    assert reader_nice == before
    assert after == before


LIGHT_RUN = ("import atexit, sys\n"
             "atexit.register(lambda: print('MODULES', *sorted(sys.modules), file=sys.stderr))\n"
             "sys.argv = ['bpfexplain', 'run', '--', '/bin/true']\n"
             "from bpfexplain.entry import main\n"
             "main()\n")


@pytest.mark.live
def test_a_small_runs_story_loads_no_file_or_process_machinery() -> None:
    """A run whose story is told on the terminal opens no file by name, starts no
    process after strace and writes no JSON: pathlib, shutil, subprocess, json and
    tempfile (and queue.py) stay unloaded; each would cost the run milliseconds."""
    proc = subprocess.run([sys.executable, "-c", LIGHT_RUN], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    [line] = [line for line in proc.stderr.splitlines() if line.startswith("MODULES ")]
    modules = set(line.split()[1:])
    assert {"bpfexplain.story", "rich.console"} <= modules  # the story was told
    assert not {"pathlib", "shutil", "subprocess", "json", "tempfile", "queue"} & modules
