"""Bad input through the real command line: a one-line message or a counted warning,
a documented exit code (see bpfexplain/cli.py), never a traceback, never a hang,
and every readable call still parsed.  Plus a property test of the parser API.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfexplain.errors import BpfexplainError
from bpfexplain.framing import Stats
from bpfexplain.parser import parse_events

BPF = b"bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_HASH, key_size=4}, 72) = 3\n"
TIMEOUT = 60


def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None,
        user: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bpfexplain", *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
                   *command]
    proc = subprocess.run(command, input=stdin, capture_output=True, timeout=TIMEOUT,
                          cwd=cwd, check=False)
    result = subprocess.CompletedProcess(proc.args, proc.returncode,
                                         proc.stdout.decode("utf-8", "replace"),
                                         proc.stderr.decode("utf-8", "replace"))
    assert "Traceback" not in result.stderr, result.stderr
    return result


def parse(path: Path | str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run("parse", "--format", "events", *extra, str(path))


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.startswith("bpfexplain: error")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    proc = parse(path)
    assert proc.returncode == 3
    assert "empty" in one_line_error(proc)
    assert proc.stdout == ""


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "binary.log"
    path.write_bytes(bytes(range(256)) * 400 + b"\x00" * 5000)
    proc = parse(path)
    assert proc.returncode == 3
    assert "no strace output" in one_line_error(proc)


def test_text_that_is_not_strace(tmp_path: Path) -> None:
    path = tmp_path / "readme.txt"
    path.write_text("Hello,\nthis is a letter (not a trace) = nothing.\n" * 50)
    proc = parse(path)
    assert proc.returncode == 3
    assert "no strace output" in one_line_error(proc)


def test_truncated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.log"
    path.write_bytes(BPF + b"12 bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_KPR")
    proc = parse(path)
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 1
    assert "1 unparsable" in proc.stderr
    assert "unparsable line 2" in proc.stderr


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.log"
    path.write_bytes(b'openat(AT_FDCWD, "/tmp/caf\xe9", O_RDONLY) = 3\n' + BPF)
    proc = parse(path)
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 2
    assert "1 lines were not valid UTF-8" in proc.stderr


def test_ten_megabyte_single_line(tmp_path: Path) -> None:
    path = tmp_path / "huge.log"
    with path.open("wb") as out:
        out.write(BPF)
        out.write(b'bpf(BPF_PROG_LOAD, {log_buf="' + b"A" * (10 * 1024 * 1024) + b'"}, 148) = 5\n')
        out.write(BPF)
    proc = parse(path)
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 2
    assert "line too long" in proc.stderr


def test_ten_megabyte_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "huge-nonl.log"
    path.write_bytes(BPF + b"x" * (10 * 1024 * 1024))
    proc = parse(path)
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 1


def test_deeply_nested_argument(tmp_path: Path) -> None:
    path = tmp_path / "nested.log"
    depth = 100_000
    path.write_bytes(b"bpf(BPF_PROG_LOAD, " + b"{a=" * depth + b"1" + b"}" * depth
                     + b", 148) = 3\n" + BPF)
    proc = parse(path)
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 1
    assert "nested more than" in proc.stderr


def test_deeply_nested_unclosed_argument(tmp_path: Path) -> None:
    path = tmp_path / "open.log"
    path.write_bytes(b"bpf(BPF_PROG_LOAD, " + b"[" * 100_000 + b" = 3\n" + BPF)
    proc = parse(path)
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 1


def test_missing_file(tmp_path: Path) -> None:
    proc = parse(tmp_path / "nope.log")
    assert proc.returncode == 3
    assert "no such file" in one_line_error(proc)


def test_directory_without_ff_files(tmp_path: Path) -> None:
    proc = parse(tmp_path)
    assert proc.returncode == 3
    assert "strace -ff" in one_line_error(proc)


def test_unreadable_proc_file() -> None:
    # Root reads any file, but not this one: the kernel refuses every read.
    proc = parse("/proc/self/mem")
    assert proc.returncode == 3
    one_line_error(proc)


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0,
                    reason="needs root and setpriv to drop to nobody")
def test_unreadable_file_for_an_unprivileged_user() -> None:
    # chmod 000 stops everyone but root, so the command runs as nobody (65534).
    # pytest's tmp_path sits in a 0700 directory; this one must be reachable.
    directory = Path(tempfile.mkdtemp(prefix="bpfexplain-perm-", dir="/tmp"))
    try:
        directory.chmod(0o755)
        path = directory / "secret.log"
        path.write_bytes(BPF)
        path.chmod(0)
        proc = run("parse", "--format", "events", str(path), user="65534", cwd=Path("/"))
        if "No module named" in proc.stderr or "Permission denied: '/" in proc.stderr:
            pytest.skip("nobody cannot run this checkout's interpreter: " + proc.stderr[-200:])
        assert proc.returncode == 3, proc.stderr
        assert "permission denied" in one_line_error(proc)
    finally:
        shutil.rmtree(directory)


def test_strict_turns_the_first_unparsable_line_into_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.log"
    path.write_bytes(BPF + b"bpf(BPF_MAP_CREATE, {map_type=} = 3\n" + BPF)
    proc = parse(path, "--strict")
    assert proc.returncode == 4
    assert "line 2" in one_line_error(proc)
    proc = parse(path)
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 2


def test_stdin() -> None:
    proc = run("parse", "--format", "events", "-", stdin=b"1234  " + BPF)
    assert proc.returncode == 0
    assert '"pid": 1234' in proc.stdout


def test_usage_error_exit_code() -> None:
    proc = run("parse", "--no-such-option", "x")
    assert proc.returncode == 2


def test_many_unparsable_lines_are_counted_not_all_listed(tmp_path: Path) -> None:
    path = tmp_path / "noisy.log"
    path.write_bytes(b"bpf(BPF_MAP_CREATE, {=} = 3\n" * 40 + BPF)
    proc = parse(path)
    assert proc.returncode == 0
    assert "40 unparsable" in proc.stderr
    assert "and 35 more" in proc.stderr
    assert len(proc.stderr.splitlines()) < 12


# -- property: whatever the input, only the project's own error escapes ----------

_STRACEISH = st.sampled_from([
    "bpf(", ")", " = ", "3", "-1", "EPERM", "(Operation not permitted)", "{", "}", "[", "]",
    ", ", "map_type=", "BPF_MAP_CREATE", '"', "\\", "...", "<unfinished ...>", "<... bpf resumed>",
    "[pid  12] ", "12 ", "<anon_inode:bpf-map>", "/* c */", " => ", "|", "<<", "?", "\n",
    "--- SIGINT {si_signo=SIGINT} ---", "+++ exited with 0 +++", "strace: ", "\x00", "\ufffd",
    "12:34:56.1 ", "<0.1>", "9" * 30,
])


def _read_all(data: bytes) -> None:
    stats = Stats()
    try:
        for _ in parse_events([("x", io.BytesIO(data))], stats):
            pass
    except BpfexplainError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_bpfexplain_errors(data: bytes) -> None:
    _read_all(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=2000))
def test_arbitrary_text_raises_only_bpfexplain_errors(text: str) -> None:
    _read_all(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_STRACEISH, max_size=80))
def test_strace_like_fragments_raise_only_bpfexplain_errors(parts: list[str]) -> None:
    _read_all("".join(parts).encode("utf-8", "surrogatepass"))
