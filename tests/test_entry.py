"""The entry point's pre-start of ``run``: only for argv that typer parses the same way.

``bpfexplain.entry`` starts strace before typer is imported when it can prove, from
the argv alone, that typer will run ``run`` with exactly that command and nothing
that changes how strace starts.  These tests hold it to that against typer's own
parsing, over many argv shapes, and check that the pre-start really comes first.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bpfexplain import entry, glossary, live
from bpfexplain.cli import app

ROOT = Path(__file__).resolve().parent.parent

SHAPES: list[list[str]] = [
    ["run", "--", "/bin/true"],
    ["run", "--", "bpftrace", "-e", "BEGIN { exit(); }"],
    ["run", "--quiet-live", "--", "true", "--quiet-live"],
    ["run", "--brief", "--", "true"],
    ["run", "-v", "--", "true", "-v"],
    ["run", "--verbose", "--color", "--", "true"],
    ["run", "--no-color", "--format", "json", "--", "true"],
    ["run", "--format=markdown", "--quiet-live", "--", "true"],
    ["run", "--format", "text", "--", "true", "--", "x"],
    ["run", "--", "--", "true"],
    ["run", "--", "-p", "1"],
    # not pre-started: values, conflicts, repeats, other commands, help
    ["run", "--format", "html", "--", "true"],
    ["run", "--format", "xml", "--", "true"],
    ["run", "--format", "--", "true"],
    ["run", "--brief", "--verbose", "--", "true"],
    ["run", "--brief", "--brief", "--", "true"],
    ["run", "--color", "--no-color", "--", "true"],
    ["run", "--quiet", "--", "true"],
    ["run", "--help", "--", "true"],
    ["run", "--deep", "--", "true"],
    ["run", "-p", "1"],
    ["run", "-o", "out.txt", "--", "true"],
    ["run", "--save", "t.log", "--", "true"],
    ["run", "--duration", "1", "--", "true"],
    ["run", "--strace", "/usr/bin/strace", "--", "true"],
    ["run", "true"],
    ["run", "--"],
    ["run"],
    ["--traceback", "run", "--", "true"],
    ["parse", "--", "run"],
    ["Run", "--", "true"],
    ["ru", "--", "true"],
]


class _Reached(BaseException):
    """typer's run (or the entry point's) got as far as tracing.  Not an Exception:
    neither the CLI's nor the entry point's error handling may take it for an error."""

    def __init__(self, config: live.RunConfig, options: dict[str, Any]):
        super().__init__("reached")
        self.config = config
        self.options = options


FAKE = live.Strace("/usr/bin/strace", (6, 1), "strace -- version 6.1")


def _no_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stop every run where it would start tracing, and say with what."""
    from bpfexplain import runner

    def trace(config: live.RunConfig, strace: live.Strace, **options: Any) -> int:
        assert strace == FAKE
        raise _Reached(config, options)

    monkeypatch.setattr(live, "find_strace", lambda program="strace": FAKE)
    monkeypatch.setattr(live, "resolve_command", lambda command: "/bin/true")
    monkeypatch.setattr(live, "preflight_warnings", lambda: [])
    monkeypatch.setattr(runner, "trace_and_explain", trace)


def _typer_run(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> _Reached | None:
    """How typer's ``run`` would trace ``argv``, or None if it never would."""
    _no_machine(monkeypatch)
    try:
        CliRunner().invoke(app, argv)
    except _Reached as reached:
        return reached
    return None


def _typer_run_config(argv: list[str], monkeypatch: pytest.MonkeyPatch
                      ) -> live.RunConfig | None:
    """The RunConfig typer's ``run`` traces with, or None if it never does."""
    reached = _typer_run(argv, monkeypatch)
    return reached.config if reached is not None else None


def _entry_run(options: entry.Prestart, monkeypatch: pytest.MonkeyPatch) -> _Reached:
    """How the entry point's own way carries on with a pre-started ``run``."""
    _no_machine(monkeypatch)
    try:
        entry.run_prestarted(options)
    except _Reached as reached:
        return reached
    raise AssertionError("the entry point's run did not trace")


@pytest.mark.parametrize("argv", SHAPES, ids=" ".join)
def test_prestart_only_where_typer_agrees(argv: list[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    options = entry.prestart_options(argv)
    if options is None:
        return
    typer_way = _typer_run(argv, monkeypatch)
    assert typer_way is not None, "pre-started, but typer's run would not start"
    assert typer_way.config == live.RunConfig(command=options.command)
    # The entry point then carries on without typer: with exactly typer's options.
    own_way = _entry_run(options, monkeypatch)
    assert own_way.config == typer_way.config
    assert own_way.options == typer_way.options


def test_the_shapes_exercise_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = [argv for argv in SHAPES if entry.prestart_command(argv) is not None]
    assert len(taken) == 11
    # Shapes typer accepts as a run but the pre-start leaves alone (they start their
    # own strace, or none): the check is not simply "everything".
    declined = [argv for argv in SHAPES if entry.prestart_command(argv) is None
                and _typer_run_config(argv, monkeypatch) is not None]
    assert ["run", "--format", "html", "--", "true"] in declined
    assert ["run", "true"] in declined


def test_a_session_for_another_config_is_not_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    class Fake:
        def __init__(self, config: live.RunConfig, strace: live.Strace):
            self.config = config
            self.trace = type("T", (), {"strace": strace})()
            self.exited = False

        def __exit__(self, *exc: object) -> None:
            self.exited = True

    strace = live.Strace("/usr/bin/strace", (6, 1), "x")
    other = Fake(live.RunConfig(command=["a"]), strace)
    monkeypatch.setattr(live, "_prestarted", other)
    got = live.open_session(live.RunConfig(command=["b"]), strace)
    assert isinstance(got, live.LiveSession) and other.exited
    same = Fake(live.RunConfig(command=["b"]), strace)
    monkeypatch.setattr(live, "_prestarted", same)
    with live.open_session(live.RunConfig(command=["b"]), strace) as session:
        assert session is same  # type: ignore[comparison-overlap]
    assert same.exited and live._prestarted is None


PROBE = r"""
import sys
before = set(sys.modules)
from bpfexplain import launch
def spy(*args, **kwargs):
    # What the way to strace's exec loaded, beyond the interpreter's own start.
    loaded = sorted(set(sys.modules) - before)
    import json
    print(json.dumps(loaded))
    sys.stdout.flush()
    import os
    os._exit(0)
launch.start = spy
sys.argv = ["bpfexplain", "run", "--", "/bin/true"]
from bpfexplain.entry import main
main()
"""

BEFORE_EXEC = {"__future__", "bpfexplain", "bpfexplain.entry", "bpfexplain.errors",
               "bpfexplain.launch", "bpfexplain.private", "bpfexplain.traced", "pwd",
               "select"}
"""Everything ``run`` may import before strace starts: no typer, rich or Lark, and
not even subprocess, threading, re, typing, dataclasses, tempfile or shutil (tens of
milliseconds together, which the loader would wait for); strace's remembered version
is read with ``bpfexplain.private`` (and ``pwd`` for root's home)."""


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_run_starts_strace_before_typer() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.stdout.strip(), proc.stderr
    assert set(json.loads(proc.stdout.strip().splitlines()[-1])) <= BEFORE_EXEC


TYPER_WAY = "import sys; sys.argv[0] = 'bpfexplain'; from bpfexplain.cli import main; main()"


def _outputs(cmd: list[str]) -> tuple[int, str, str]:
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    # pids and times differ from run to run; everything else must not.
    def plain(text: str) -> str:
        return re.sub(r"\d+", "N", text)
    return proc.returncode, plain(proc.stdout), plain(proc.stderr)


@pytest.mark.live
@pytest.mark.parametrize(("argv", "status"), [
    (["run", "--no-color", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], 3),
    (["run", "--brief", "--", "/bin/false"], 1),
    (["run", "--format", "json", "--quiet-live", "--", "/bin/true"], 0),
], ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_the_entry_points_run_is_typers_run(argv: list[str], status: int) -> None:
    """Same story, same stderr, same exit status, whether typer carries the run or the
    entry point does (the module's own way in, as the console script runs it)."""
    assert entry.prestart_options(argv) is not None
    own = _outputs([sys.executable, "-m", "bpfexplain", *argv])
    typer_way = _outputs([sys.executable, "-c", TYPER_WAY, *argv])
    assert own == typer_way
    assert own[0] == status


# ---- leaving without the interpreter's teardown ---------------------------------------

EXIT_PROBE = r"""
import atexit, sys, threading, time
from bpfexplain import entry
out = sys.argv[1]
def note(word):
    with open(out, "a") as f:
        f.write(word + "\n")
atexit.register(note, "handler")
def worker(word, delay):
    time.sleep(delay)
    note(word)
threading.Thread(target=worker, args=("daemon", 30), daemon=True).start()
if sys.argv[2] == "thread":
    threading.Thread(target=worker, args=("thread", 0.2)).start()
print("flushed at exit", end="")
entry.exit_now(int(sys.argv[3]))
"""


@pytest.mark.parametrize("mode", ["daemon-only", "thread"])
def test_exit_now_runs_handlers_once_waits_for_threads_and_keeps_the_status(
        tmp_path: Path, mode: str) -> None:
    out = tmp_path / "notes"
    done = subprocess.run([sys.executable, "-c", EXIT_PROBE, str(out), mode, "7"],
                          capture_output=True, text=True, cwd=ROOT, timeout=20)
    assert done.returncode == 7, done.stderr
    assert done.stdout == "flushed at exit"  # buffered output is not lost by os._exit
    notes = out.read_text().split()
    # The daemon thread sleeps 30 s: it is neither waited for nor (so) in the notes.
    expected = ["handler", "thread"] if mode == "thread" else ["handler"]
    assert sorted(notes) == sorted(expected)


CLI_PROBE = r"""
import sys
from bpfexplain import entry
real = entry.exit_now
def spy(status):
    print("exit_now", status, file=sys.stderr)
    real(status)
entry.exit_now = spy
sys.argv = ["bpfexplain", *sys.argv[1:]]
entry.main()
"""


@pytest.mark.parametrize(("argv", "status"), [
    (["explain", "map"], 0),
    (["explain", "no-such-term-here"], 2),
    (["--no-such-option"], 2),
])
def test_the_cli_path_leaves_through_exit_now(argv: list[str], status: int) -> None:
    done = subprocess.run([sys.executable, "-c", CLI_PROBE, *argv], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert done.returncode == status, done.stderr
    assert done.stderr.splitlines()[-1] == f"exit_now {status}"


# ---- explain without typer ------------------------------------------------------------

EXPLAIN_SHAPES: list[list[str]] = [
    ["explain", "map"],
    ["explain", "BPF_PROG_LOAD"],
    ["explain", "perf", "event"],
    ["explain", "SET_BPF"],
    ["explain", "no-such-term-here"],   # unknown: typer's explain says so, suggestions too
    ["explain", "--no-color", "map"],
    ["explain", "map", "--color"],
    ["explain", "--", "map"],
    ["explain", "-h"],
    ["explain"],
    ["explain", ""],
]

ENTRY_WAY = ("import atexit, sys\n"
             "atexit.register(lambda: print('TYPER', 'typer' in sys.modules, file=sys.stderr))\n"
             "sys.argv = ['bpfexplain', *sys.argv[1:]]\n"
             "from bpfexplain.entry import main\n"
             "main()\n")
CLI_WAY = ("import sys\n"
           "sys.argv = ['bpfexplain', *sys.argv[1:]]\n"
           "from bpfexplain.cli import main\n"
           "main()\n")


@pytest.mark.parametrize("argv", EXPLAIN_SHAPES, ids=" ".join)
def test_explain_without_typer_says_what_typer_says(argv: list[str]) -> None:
    def way(code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True,
                              text=True, cwd=ROOT, timeout=60, check=False)

    own, typers = way(ENTRY_WAY), way(CLI_WAY)
    *stderr, used = own.stderr.splitlines()
    assert (own.returncode, own.stdout, stderr) == (
        typers.returncode, typers.stdout, typers.stderr.splitlines())
    words = entry.explain_words(argv)
    known = words is not None and glossary.lookup(" ".join(words)) is not None
    assert used == f"TYPER {not known}"  # typer only where the fast way declined


def test_explain_shapes_exercise_both_ways() -> None:
    taken = [argv for argv in EXPLAIN_SHAPES if entry.explain_words(argv) is not None]
    assert len(taken) == 5
    assert ["explain", "--no-color", "map"] not in taken
