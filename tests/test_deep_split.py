"""``run --deep`` started by the entry point: the tracer here, the explainer forked off.

:mod:`bpfexplain.deep.split` moves the events of a trace through a pipe, so these
tests hold it to what the in-process path gives: the explainer receives exactly the
events the tracer made (compared object by object on both sides of one real run),
typer parses every pre-started argv as that same ``run --deep``, exit statuses and
Ctrl-C behave as documented, and an explainer that dies leaves nothing running.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bpfexplain import entry, live
from bpfexplain.cli import app

ROOT = Path(__file__).resolve().parent.parent

# -- which argv are pre-started ---------------------------------------------------------

SHAPES: list[list[str]] = [
    ["run", "--deep", "--", "true"],
    ["run", "--deep", "--", "bpftrace", "-e", "BEGIN { exit(); }"],
    ["run", "--quiet-live", "--deep", "--format", "json", "--", "true", "--deep"],
    ["run", "--deep", "--brief", "--no-color", "--", "true"],
    ["run", "-v", "--deep", "--format=markdown", "--", "true"],
    ["run", "--deep", "--", "--", "true"],
    # not pre-started
    ["run", "--deep", "--deep", "--", "true"],
    ["--deep", "run", "--", "true"],
    ["run", "--deep", "--duration", "1", "--", "true"],
    ["run", "--deep", "-o", "out.json", "--", "true"],
    ["run", "--deep", "--format", "html", "--", "true"],
    ["run", "--deep", "--brief", "--verbose", "--", "true"],
    ["run", "--deep", "--backend", "ptrace", "--", "true"],
    ["run", "--deep", "true"],
    ["run", "--deep", "--"],
    ["run", "--", "--deep", "true"],
]


class _Reached(BaseException):
    """A run got as far as tracing with the ptrace backend.  Not an Exception: neither
    the CLI's nor the entry point's error handling may take it for an error."""

    def __init__(self, command: list[str], options: dict[str, Any]):
        super().__init__("reached")
        self.command = command
        self.options = options


def _stop_at_the_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    from bpfexplain import runner

    def deep_and_explain(command: list[str], **options: Any) -> int:
        raise _Reached(command, options)

    monkeypatch.setattr(runner, "deep_and_explain", deep_and_explain)


def _typer_deep_run(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> _Reached | None:
    """How typer's ``run`` would trace ``argv`` with the ptrace backend, or None if it
    never would."""
    _stop_at_the_trace(monkeypatch)
    try:
        CliRunner().invoke(app, argv)
    except _Reached as reached:
        return reached
    return None


@pytest.mark.parametrize("argv", SHAPES, ids=" ".join)
def test_deep_prestart_only_where_typer_agrees(argv: list[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    options = entry.prestart_deep_options(argv)
    assert entry.prestart_deep_command(argv) == (options.command if options else None)
    if options is None:
        return
    typer_way = _typer_deep_run(argv, monkeypatch)
    assert typer_way is not None, "pre-started, but typer's run would not trace"
    assert typer_way.command == options.command
    assert typer_way.options["duration"] is None
    # The explainer then carries on without typer: with exactly typer's options.
    _stop_at_the_trace(monkeypatch)
    with pytest.raises(_Reached) as own_way:
        entry.run_prestarted(options, deep=True)
    assert own_way.value.command == typer_way.command
    assert own_way.value.options == typer_way.options
    # and the strace pre-start leaves it alone
    assert entry.prestart_command(argv) is None


def test_deep_shapes_exercise_both_ways() -> None:
    taken = [argv for argv in SHAPES if entry.prestart_deep_command(argv) is not None]
    assert len(taken) == 6


# -- the two ends of one real run --------------------------------------------------------

SPY = r"""
import dataclasses, os, pickle, sys
from bpfexplain.deep import split

sent_file, got_file, *sys.argv[1:] = sys.argv[1:]
sent, got = [], []
send, messages = split._Sender.send, split.Incoming.messages

def shape(value):
    # every type and value spelled out, so that the comparison does not go through
    # pickle itself
    kind = type(value).__qualname__
    if dataclasses.is_dataclass(value):
        return kind, tuple((f.name, shape(getattr(value, f.name)))
                           for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return kind, tuple((shape(k), shape(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return kind, tuple(shape(v) for v in value)
    return kind, repr(value)

def spy_send(self, kind, value):
    sent.append(shape((kind, value)))
    send(self, kind, value)

def spy_messages(self):
    for message in messages(self):
        got.append(shape(message))
        if message[0] != "event":       # the last one: feed stops reading here
            with open(got_file, "wb") as fh:
                pickle.dump(got, fh)
        yield message

close = split._Sender.close
def spy_close(self):
    close(self)
    with open(sent_file, "wb") as fh:
        pickle.dump(sent, fh)

split._Sender.send, split._Sender.close = spy_send, spy_close
split.Incoming.messages = spy_messages
from bpfexplain.entry import main
main()
"""


def _run_entry(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bpfexplain", *argv], capture_output=True,
                          text=True, timeout=timeout, cwd="/tmp", check=False)


@pytest.mark.live("bpftrace")
def test_the_explainer_gets_exactly_the_tracers_events(tmp_path: Path) -> None:
    sent_file, got_file = tmp_path / "sent.pickle", tmp_path / "got.pickle"
    script = "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); exit(); }"
    proc = subprocess.run(
        [sys.executable, "-c", SPY, str(sent_file), str(got_file), "run",
         "--deep", "--quiet-live", "--format", "json", "--",
         "sh", "-c", f"exec bpftrace -e '{script}' > /dev/null"],
        capture_output=True, text=True, timeout=60, cwd="/tmp", check=False)
    assert proc.returncode == 0, proc.stderr
    with open(sent_file, "rb") as fh:
        sent = pickle.load(fh)
    with open(got_file, "rb") as fh:
        got = pickle.load(fh)
    assert got == sent
    assert sent[-1] == ("tuple", (("str", "'end'"), ("int", "0")))
    text = repr(sent)
    # a program load with its instructions read from memory went through
    assert "'BPF_PROG_LOAD'" in text and "'disasm'" in text and "'Call'" in text
    assert '"attach_point": "tracepoint:raw_syscalls:sys_enter"' in proc.stdout


# -- statuses, signals, and an explainer that is gone ------------------------------------

@pytest.mark.live()
def test_exit_status_passes_through() -> None:
    assert _run_entry("run", "--deep", "--quiet-live", "--", "sh", "-c", "exit 3"
                      ).returncode == 3
    assert _run_entry("run", "--deep", "--quiet-live", "--", "sh", "-c", "kill -TERM $$"
                      ).returncode == 128 + signal.SIGTERM
    missing = _run_entry("run", "--deep", "--", "no-such-command-bpfx")
    assert missing.returncode == 127
    assert "command not found" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.live()
def test_second_interrupt_ends_it_and_the_story_is_told() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bpfexplain", "run", "--deep", "--quiet-live", "--no-color",
         "--", "sh", "-c", "trap '' INT; sleep 30; sleep 30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/tmp",
        stdin=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)      # passed on, and ignored by the shell
        time.sleep(0.5)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)      # the second one ends it all
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGINT, err
    assert "SIGINT: stopping everything now" in err
    assert "sh (pid" in out, out


def _read_until(master: int, seen: bytearray, text: str | None, timeout: float) -> None:
    """Read the terminal into ``seen`` until ``text`` shows (None: until it closes)."""
    deadline = time.monotonic() + timeout
    while text is None or text not in seen.decode("utf-8", "replace"):
        left = deadline - time.monotonic()
        assert left > 0, seen.decode("utf-8", "replace")
        if not select.select([master], [], [], left)[0]:
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:     # EIO: every writer of the terminal is gone
            chunk = b""
        if not chunk:
            assert text is None, seen.decode("utf-8", "replace")
            return
        seen += chunk


@pytest.mark.live()
def test_ctrl_c_typed_on_a_terminal_reaches_the_command_and_spares_the_explainer() -> None:
    # The terminal signals the whole foreground group: the tracer, the explainer and
    # the command.  The command gets it (and here chooses to live), the explainer must
    # survive it; the second ^C ends everything and the story is still told.
    master, slave = os.openpty()

    def controlling_tty() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    traps = "trap 'echo trapped' INT; echo ready; while :; do sleep 10 & wait $!; done"
    proc = subprocess.Popen([sys.executable, "-m", "bpfexplain", "run", "--deep",
                             "--quiet-live", "--no-color", "--", "sh", "-c", traps],
                            stdin=slave, stdout=slave, stderr=slave, cwd="/tmp",
                            start_new_session=True, preexec_fn=controlling_tty)
    os.close(slave)
    seen = bytearray()
    try:
        _read_until(master, seen, "ready", 30)
        os.write(master, b"\x03")
        _read_until(master, seen, "Ctrl-C again to stop it now", 10)
        _read_until(master, seen, "trapped", 10)
        time.sleep(0.5)     # a second delivery would show by now
        with contextlib.suppress(OSError):
            while select.select([master], [], [], 0)[0]:
                seen += os.read(master, 4096)
        assert seen.decode("utf-8", "replace").count("trapped") == 1
        assert proc.poll() is None, seen.decode("utf-8", "replace")
        os.write(master, b"\x03")
        _read_until(master, seen, None, 20)
        assert proc.wait(10) == 128 + signal.SIGINT
    finally:
        with contextlib.suppress(OSError):
            proc.kill()
        proc.wait()
        os.close(master)
    text = seen.decode("utf-8", "replace")
    assert "stopping everything now" in text
    assert "sh (pid" in text and "Traceback" not in text


GONE = r"""
import os, sys
from bpfexplain.deep import split
split.explain = lambda main: os._exit(5)   # the explainer dies before taking the trace
sys.argv = ["bpfexplain", "run", "--deep", "--", "sleep", sys.argv[1]]
from bpfexplain.entry import main
main()
"""


def _running(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if fh.read().split(b"\0")[:2] == [b"sleep", marker.encode()]:
                    found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.mark.live()
def test_an_explainer_that_dies_leaves_nothing_running() -> None:
    marker = f"29.{os.getpid()}"
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", GONE, marker], capture_output=True,
                          text=True, timeout=25, cwd="/tmp", check=False)
    assert proc.returncode == 5, proc.stderr
    assert time.monotonic() - start < 20
    assert _running(marker) == []


# -- the explainer yields the CPU while the command runs -----------------------------------

SIBLINGS = r"""
import os
me, parent = os.getpid(), os.getppid()
with open(f"/proc/{parent}/task/{parent}/children") as fh:
    others = [int(pid) for pid in fh.read().split() if int(pid) != me]
print("NICE", os.getpriority(os.PRIO_PROCESS, parent),
      *[os.getpriority(os.PRIO_PROCESS, pid) for pid in others])
"""


def test_the_explainers_niceness_is_the_strace_parsers() -> None:
    from bpfexplain.deep import split

    assert split.EXPLAINER_NICENESS == live.PARSER_NICENESS > 0


@pytest.mark.live()
def test_the_explainer_runs_below_the_command_then_tells_at_its_own_priority() -> None:
    # The command sees its siblings: the explainer, forked by the same tracer.
    proc = _run_entry("run", "--deep", "--quiet-live", "--format", "json", "--",
                      sys.executable, "-c", SIBLINGS)
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("NICE "))
    tracer, *explainers = (int(word) for word in line.split()[1:])
    assert explainers == [min(tracer + live.PARSER_NICENESS, 19)]


def test_the_explainers_priority_comes_back_when_the_trace_ends() -> None:
    from bpfexplain.deep import split

    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:     # a stand-in explainer: lowered, then fed the end of a trace
        try:
            os.close(write_end)
            before = os.getpriority(os.PRIO_PROCESS, 0)
            split._lower_priority()
            during = os.getpriority(os.PRIO_PROCESS, 0)
            tracer_end = os.pipe()
            with os.fdopen(tracer_end[1], "wb") as fh:
                pickle.dump(("end", 7), fh)
            status = split.Incoming(["x"], tracer_end[0]).feed(lambda event: None)
            after = os.getpriority(os.PRIO_PROCESS, 0)
            ok = (during == min(before + split.EXPLAINER_NICENESS, 19) and status == 7
                  and after == (before if os.geteuid() == 0 else during))
            os._exit(0 if ok else 1)
        finally:
            os._exit(2)
    os.close(read_end)
    os.close(write_end)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_explainer_builds_the_glossary_index_before_the_end() -> None:
    from bpfexplain import glossary
    from bpfexplain.deep import split

    glossary._index.cache_clear()
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as fh:
        pickle.dump(("end", 0), fh)
    assert split.Incoming(["x"], read_end).feed(lambda event: None) == 0
    assert glossary._index.cache_info().currsize == 1
