"""``bpfexplain parse --format events``, ``--version`` and ``--help`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bpfexplain import __version__

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TIMEOUT = 120


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "bpfexplain", *args], input=stdin,
                          capture_output=True, timeout=TIMEOUT, check=False)
    out = subprocess.CompletedProcess(proc.args, proc.returncode,
                                      proc.stdout.decode(), proc.stderr.decode())
    assert "Traceback" not in out.stderr, out.stderr
    return out


def records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"bpfexplain {__version__}"


def test_help_shows_how_to_record_a_log() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    assert "strace -f" in proc.stdout
    proc = run("parse", "--help")
    assert proc.returncode == 0
    assert "--format" in proc.stdout and "--strict" in proc.stdout


def test_events_of_the_seed_fixture() -> None:
    proc = run("parse", "--format", "events", str(FIXTURES / "seed.log"))
    assert proc.returncode == 0, proc.stderr
    events = records(proc.stdout)
    calls = [e for e in events if e["event"] == "call"]
    assert calls, proc.stderr
    assert {c["name"] for c in calls} <= {"bpf", "perf_event_open", "ioctl"}
    assert all(isinstance(c["line"], int) and isinstance(c["pid"], int) for c in calls)
    loads = [c for c in calls if c["args"][0] == "BPF_PROG_LOAD"]
    assert loads
    assert any(e["event"] == "signal" and e["signal"] == "SIGINT" for e in events)
    summary = proc.stderr.splitlines()[0]
    assert "calls parsed" in summary and "0 unparsable" in summary


def test_events_are_in_line_order_and_lines_are_one_based() -> None:
    proc = run("parse", "--format", "events", str(FIXTURES / "seed.log"))
    lines = [int(e["line"]) for e in records(proc.stdout)]
    assert lines == sorted(lines)
    assert min(lines) >= 1


def test_ff_directory_names_files_and_takes_pids_from_them() -> None:
    proc = run("parse", "--format", "events", str(FIXTURES / "flags-ff"))
    assert proc.returncode == 0, proc.stderr
    events = records(proc.stdout)
    assert len({e["file"] for e in events}) > 1
    for e in events:
        assert str(e["file"]).endswith(f".{e['pid']}")
    assert "0 unparsable" in proc.stderr


def test_quiet_has_no_summary() -> None:
    proc = run("parse", "--format", "events", "-q", str(FIXTURES / "seed.log"))
    assert proc.returncode == 0
    assert proc.stderr == ""


def test_several_files_and_stdin_together() -> None:
    data = (FIXTURES / "seed.log").read_bytes()
    proc = run("parse", "--format", "events", str(FIXTURES / "verifier-reject.log"), "-",
               stdin=data)
    assert proc.returncode == 0, proc.stderr
    files = {e["file"] for e in records(proc.stdout)}
    assert files == {str(FIXTURES / "verifier-reject.log"), "<stdin>"}


def test_output_closed_early_is_not_an_error() -> None:
    parse = subprocess.Popen([sys.executable, "-m", "bpfexplain", "parse", "--format",
                              "events", "-q", str(FIXTURES / "two-loaders.log")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert parse.stdout is not None and parse.stderr is not None
    parse.stdout.readline()
    parse.stdout.close()
    assert parse.wait(timeout=TIMEOUT) == 0
    assert b"Traceback" not in parse.stderr.read()
