"""``bpfexplain run`` end to end: real strace, real bpftrace and libbpf-tools, as root.

Each test runs the CLI in a subprocess, as a user would, and reads the final story
as JSON (``--format json -o FILE``, so the traced tool's own stdout stays apart).
Every run is bounded by a timeout; the whole module takes well under a minute.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bpfexplain import live, stopping
from tests.sigint_commands import IGNORES_SIGINT, LOSES_FIRST_SIGINT, SLOW_TO_FINISH

BPFEXPLAIN = [sys.executable, "-m", "bpfexplain"]
# Wide, so that rich does not wrap the steps these tests look for.
os.environ["COLUMNS"] = "250"
SEED = "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"
SEED_POINT = "tracepoint:raw_syscalls:sys_enter"
TIMEOUT = 60
RUNNING = re.compile(r"running — Ctrl-C to stop")
"""The status line: printed once the command has set up and settled (a Ctrl-C during
bpftrace's own setup is bpftrace's business, not ours)."""


# --------------------------------------------------------------------------------
# helpers


def bpfexplain(*args: str, timeout: float = TIMEOUT, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BPFEXPLAIN, *args], capture_output=True, text=True,
                          timeout=timeout, check=False, **kw)


def run_json(tmp_path: Path, *args: str, timeout: float = TIMEOUT,
             **kw: Any) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``bpfexplain run --format json -o FILE ARGS``: the process and the story."""
    out = tmp_path / "story.json"
    proc = bpfexplain("run", "--format", "json", "-o", str(out), *args, timeout=timeout, **kw)
    assert out.exists(), f"no story written; stderr:\n{proc.stderr}"
    return proc, json.loads(out.read_text())


def programs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in doc["objects"] if o["kind"] == "prog" and not o["probe"]]


def attachments(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in doc["attachments"] if not a["probe"]]


def command_process(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [p for p in doc["processes"] if p["command"] == name]
    assert found, f"no process {name!r} in {doc['processes']}"
    return found[0]


def sigints(process: dict[str, Any]) -> int:
    return sum(1 for s in process["signals"] if s["signal"] == "SIGINT")


def loaded_programs() -> dict[int, str]:
    """id → name of every eBPF program loaded on the machine now."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    return {p["id"]: p.get("name", "") for p in json.loads(out or "[]")}


def assert_all_gone(doc: dict[str, Any]) -> None:
    """No traced process of the run is alive.  A zombie is dead (this machine's pid 1 may
    be slow to reap orphans); a pid reused since has another name."""
    for p in doc["processes"]:
        pid = p["pid"]
        if pid is None:
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            state = stat[stat.rindex(")") + 2]
            if state != "Z":
                assert comm != (p["command"] or "")[:15], f"process {pid} ({comm}) still runs"


def held_programs() -> set[int]:
    """Ids of programs some live process holds an fd to (``prog_id:`` in fdinfo)."""
    held: set[int] = set()
    for fdinfo in Path("/proc").glob("[0-9]*/fdinfo/*"):
        with contextlib.suppress(OSError):
            m = re.search(r"^prog_id:\s*(\d+)", fdinfo.read_text(), re.M)
            if m is not None:
                held.add(int(m.group(1)))
    return held


@pytest.fixture
def no_programs_left() -> Iterator[list[dict[str, Any]]]:
    """Yield a list to append stories to; afterwards none of their programs may still be
    loaded.  Other users of this machine load programs too (with the same names, when
    they run the same bpftrace line), so a suspect is a new id with one of the stories'
    names that no live process holds: every process of ours is gone by then."""
    stories: list[dict[str, Any]] = []
    before = loaded_programs()
    yield stories
    names = {p["name"][:15] for doc in stories for p in programs(doc) if p["name"]}
    left: dict[int, str] = {}
    for _ in range(3):
        held = held_programs()
        left = {i: n for i, n in loaded_programs().items()
                if i not in before and n in names and i not in held}
        if not left:
            break
        time.sleep(0.5)  # a neighbour's program between its last close and its unload
    assert not left, f"programs still loaded after run: {left}"
    for doc in stories:
        assert_all_gone(doc)


class Running:
    """bpfexplain run in the background, its stdout and stderr collected as they come."""

    def __init__(self, *args: str, new_session: bool = False):
        self.proc = subprocess.Popen([*BPFEXPLAIN, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     start_new_session=new_session)
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._collect, args=(stream, sink), daemon=True).start()

    def _collect(self, stream: Any, sink: list[str]) -> None:
        for line in stream:
            with self._changed:
                sink.append(line)
                self._changed.notify_all()

    def wait_for(self, pattern: re.Pattern[str] | str, timeout: float = 30) -> str:
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.err:
                    if regex.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{regex.pattern!r} not seen on stderr:\n"
                                         + "".join(self.err))
                self._changed.wait(min(left, 0.2))

    def finish(self, timeout: float = TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            stop(self.proc)
            time.sleep(0.05)  # let the collectors drain

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def stderr(self) -> str:
        return "".join(self.err)


def stop(proc: subprocess.Popen[Any]) -> None:
    """End a bpfexplain that a failing test left running, the way that cleans up
    (SIGTERM stops what it traces; SIGKILL would leave the traced command behind)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def libc_path() -> str:
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        if line.strip().startswith("libc.so.6 (libc6") and "=>" in line:
            return line.rsplit("=>", 1)[1].strip()
    for candidate in ("/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6"):
        if os.path.exists(candidate):
            return candidate
    pytest.skip("libc.so.6 not found")


# --------------------------------------------------------------------------------
# the tools


@pytest.mark.live("bpftrace", "bpftool")
def test_seed_tracepoint_live_steps_then_story(
        tmp_path: Path, no_programs_left: list[dict[str, Any]]) -> None:
    proc, doc = run_json(tmp_path, "--duration", "2", "--", "bpftrace", "-e", SEED)
    no_programs_left.append(doc)
    assert proc.returncode == 0, proc.stderr
    # bpftrace's own map output reached stdout, intact
    assert re.search(r"^@\[[^\]]+\]: \d+$", proc.stdout, re.M), proc.stdout
    # the attach and enable steps were told while bpftrace ran, before --duration stopped it
    err = proc.stderr
    attach_at = err.find("PERF_EVENT_IOC_SET_BPF")
    enable_at = err.find("PERF_EVENT_IOC_ENABLE): perf event tracepoint")
    stop_at = err.find("--duration")
    assert 0 <= attach_at < stop_at and 0 <= enable_at < stop_at, err
    assert "bpftrace running — Ctrl-C to stop" in err
    (prog,) = programs(doc)
    assert prog["attrs"]["prog_type"] == "BPF_PROG_TYPE_TRACEPOINT"
    (att,) = attachments(doc)
    assert att["attach_point"] == SEED_POINT
    assert att["enabled"] and att["end"] == "disabled" and att["released_line"] is not None
    assert prog["closed_line"] is not None
    assert command_process(doc, "bpftrace")["exit_code"] == 0


@pytest.mark.live("bpftrace", "bpftool")
def test_uprobe_on_libc(tmp_path: Path, no_programs_left: list[dict[str, Any]]) -> None:
    probe = f"uprobe:{libc_path()}:getpid {{ @calls = count(); }}"
    proc, doc = run_json(tmp_path, "--quiet-live", "--duration", "1.5", "--",
                         "bpftrace", "-e", probe)
    no_programs_left.append(doc)
    assert proc.returncode == 0, proc.stderr
    assert "@calls:" in proc.stdout
    assert proc.stderr.count("\n") <= 3, "--quiet-live printed steps"
    (prog,) = programs(doc)
    assert prog["attrs"]["prog_type"] == "BPF_PROG_TYPE_KPROBE"  # uprobes are KPROBE programs
    (att,) = attachments(doc)
    assert att["attach_point"].startswith("uprobe")
    assert att["enabled"] and att["released_line"] is not None


@pytest.mark.live("bpftrace", "bpftool")
def test_interval_exits_by_itself(tmp_path: Path,
                                  no_programs_left: list[dict[str, Any]]) -> None:
    proc, doc = run_json(tmp_path, "--quiet-live", "--", "bpftrace", "-e",
                         "interval:ms:100 { @n++; if (@n >= 3) { exit(); } }")
    no_programs_left.append(doc)
    assert proc.returncode == 0, proc.stderr
    assert "@n: 3" in proc.stdout
    (prog,) = programs(doc)
    assert prog["attrs"]["prog_type"] == "BPF_PROG_TYPE_PERF_EVENT"
    (att,) = attachments(doc)
    # Named as bpftrace would (one cpu-clock event with a period, on one CPU); the raw
    # perf attributes stay beside it.
    assert att["attach_point"] == "interval:ms:100"
    (perf,) = [o for o in doc["objects"] if o["kind"] == "perf_event"
               and o["attrs"].get("config") == "PERF_COUNT_SW_CPU_CLOCK"]
    assert perf["attrs"]["perf_point"] == "software:cpu-clock:100000000"
    assert perf["attrs"]["sample_period"] == 100_000_000
    assert att["enabled"] and att["released_line"] is not None


@pytest.mark.live("bpftrace", "bpftool")
def test_begin_end(tmp_path: Path, no_programs_left: list[dict[str, Any]]) -> None:
    proc, doc = run_json(tmp_path, "--quiet-live", "--", "bpftrace", "-e",
                         'BEGIN { printf("hi\\n"); exit(); } END { printf("bye\\n"); }')
    no_programs_left.append(doc)
    assert proc.returncode == 0, proc.stderr
    assert "hi\nbye\n" in proc.stdout
    assert sorted(p["name"] for p in programs(doc)) == ["BEGIN", "END"]
    assert all(p["closed_line"] is not None for p in programs(doc))


@pytest.mark.live("bpftrace", "bpftool")
def test_uprobe_named_from_its_offset(tmp_path: Path,
                                      no_programs_left: list[dict[str, Any]]) -> None:
    """A live run is this machine: the uprobe's file offset (config2, shown because run
    keeps perf_event_attr unabbreviated) is named from libc's symbol table."""
    from bpfexplain.deep.elfsyms import symbols_of

    libc = "/lib/x86_64-linux-gnu/libc.so.6"
    elf = symbols_of(libc)
    assert elf is not None, "no libc to probe"
    # A function nothing on the machine calls all the time: a uprobe in a shared
    # library fires in every process that maps it.
    func = next(s for s in elf.symbols if s.name == "gethostbyname")
    proc, doc = run_json(tmp_path, "--quiet-live", "--duration", "2", "--", "bpftrace", "-e",
                         f"uprobe:{libc}:gethostbyname {{ @ = count(); }}")
    no_programs_left.append(doc)
    assert proc.returncode == 0, proc.stderr
    (att,) = attachments(doc)
    assert att["attach_point"] == f"uprobe:{libc}:gethostbyname"
    (perf,) = [o for o in doc["objects"] if o["kind"] == "perf_event"
               and o.get("attach_point") == att["attach_point"]]
    assert perf["attach_point_source"] == "local"
    assert perf["attrs"]["file"] == libc
    assert perf["attrs"]["offset"] == elf.offset(func.value)


@pytest.mark.live("execsnoop", "bpftool")
def test_execsnoop_sees_an_exec(tmp_path: Path, no_programs_left: list[dict[str, Any]]) -> None:
    out = tmp_path / "story.json"
    running = Running("run", "--format", "json", "-o", str(out), "--duration", "3", "--",
                      "execsnoop")
    running.wait_for(r"running — Ctrl-C to stop")
    subprocess.run(["/bin/true", "bpfexplain-test-marker"], check=True)
    assert running.finish() == 0, running.stderr
    doc = json.loads(out.read_text())
    no_programs_left.append(doc)
    assert "bpfexplain-test-marker" in running.stdout
    points = sorted(a["attach_point"] for a in attachments(doc))
    assert points == ["tracepoint:syscalls:sys_enter_execve",
                      "tracepoint:syscalls:sys_exit_execve"]
    assert all(a["enabled"] and a["released_line"] is not None for a in attachments(doc))
    assert {p["attrs"]["prog_type"] for p in programs(doc)} == {"BPF_PROG_TYPE_TRACEPOINT"}


@pytest.mark.live("bpftool")
def test_bpftool_prog_show(tmp_path: Path) -> None:
    proc, doc = run_json(tmp_path, "--quiet-live", "--", "bpftool", "prog", "show")
    assert proc.returncode == 0, proc.stderr
    # it may open programs others loaded (by id), but loads none of its own
    assert [p for p in programs(doc) if p["via"] == "BPF_PROG_LOAD"] == []
    assert attachments(doc) == []
    assert command_process(doc, "bpftool")["exit_code"] == 0


@pytest.mark.live("bpftrace", "setpriv")
def test_not_root_tells_the_eperm_story() -> None:
    where = Path(tempfile.mkdtemp(prefix="bpfexplain-test-"))
    where.chmod(0o777)  # pytest's tmp_path lies under a root-only directory
    out = where / "story.json"
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *BPFEXPLAIN, "run",
         "--quiet-live", "--format", "json", "-o", str(out), "--", "bpftrace", "-e", SEED],
        capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert "not running as root" in proc.stderr and "CAP_BPF" in proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(out.read_text())
    shutil.rmtree(where)
    assert any(f["errno"] == "EPERM" for f in doc["failures"]), doc["failures"]
    assert programs(doc) == []
    assert proc.returncode == command_process(doc, "bpftrace")["exit_code"] == 1


# --------------------------------------------------------------------------------
# Ctrl-C, SIGTERM, --duration


@pytest.mark.live("bpftrace", "bpftool")
def test_ctrl_c_to_bpfexplain_alone_is_passed_on(
        tmp_path: Path, no_programs_left: list[dict[str, Any]]) -> None:
    out = tmp_path / "story.json"
    running = Running("run", "--format", "json", "-o", str(out), "--", "bpftrace", "-e", SEED)
    running.wait_for(RUNNING)
    os.kill(running.proc.pid, signal.SIGINT)  # `kill -INT`: bpftrace itself gets nothing
    assert running.finish() == 0, running.stderr
    doc = json.loads(out.read_text())
    no_programs_left.append(doc)
    assert "passed SIGINT on" in running.stderr
    assert re.search(r"^@\[[^\]]+\]: \d+$", running.stdout, re.M), running.stdout
    assert sigints(command_process(doc, "bpftrace")) == 1
    (att,) = attachments(doc)
    assert att["attach_point"] == SEED_POINT and att["end"] == "disabled"


@pytest.mark.live("bpftrace", "bpftool")
def test_ctrl_c_to_the_process_group_is_not_doubled(
        tmp_path: Path, no_programs_left: list[dict[str, Any]]) -> None:
    out = tmp_path / "story.json"
    running = Running("run", "--format", "json", "-o", str(out), "--", "bpftrace", "-e", SEED,
                      new_session=True)
    running.wait_for(RUNNING)
    os.killpg(running.proc.pid, signal.SIGINT)  # like `timeout -s INT`: everyone, SI_USER
    assert running.finish() == 0, running.stderr
    doc = json.loads(out.read_text())
    no_programs_left.append(doc)
    assert "got the SIGINT too" in running.stderr
    assert sigints(command_process(doc, "bpftrace")) == 1
    assert re.search(r"^@\[[^\]]+\]: \d+$", running.stdout, re.M)


@pytest.mark.live("bpftrace", "bpftool")
def test_ctrl_c_on_a_terminal(tmp_path: Path, no_programs_left: list[dict[str, Any]]) -> None:
    """A real ^C typed on a terminal: the kernel signals the foreground group (SI_KERNEL)."""
    out = tmp_path / "story.json"
    master, slave = os.openpty()

    def controlling_tty() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([*BPFEXPLAIN, "run", "--format", "json", "-o", str(out), "--",
                             "bpftrace", "-e", SEED], stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True, preexec_fn=controlling_tty)
    os.close(slave)
    seen = bytearray()
    try:
        # Every read waits in select with a deadline: a run that never prints or never
        # lets go of the terminal fails this test instead of hanging the suite.
        deadline = time.monotonic() + 30
        while not RUNNING.search(seen.decode("utf-8", "replace")):
            left = deadline - time.monotonic()
            assert left > 0, seen.decode("utf-8", "replace")
            if select.select([master], [], [], left)[0]:
                with contextlib.suppress(OSError):
                    seen += os.read(master, 4096)
        os.write(master, b"\x03")
        deadline = time.monotonic() + TIMEOUT
        while True:
            left = deadline - time.monotonic()
            assert left > 0, seen.decode("utf-8", "replace")
            if not select.select([master], [], [], left)[0]:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every writer of the terminal is gone
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait(TIMEOUT) == 0, seen.decode("utf-8", "replace")
    finally:
        stop(proc)
        os.close(master)
    text = seen.decode("utf-8", "replace")
    doc = json.loads(out.read_text())
    no_programs_left.append(doc)
    assert "got the Ctrl-C too" in text
    assert sigints(command_process(doc, "bpftrace")) == 1
    assert re.search(r"^@\[[^\]]+\]: \d+\r?$", text, re.M), text


# Waits without forking every moment (each child's exit would be a live step and hold
# back the status line); background jobs of a script ignore SIGINT, sh only traps it.
TRAPS_SIGINT = "trap 'echo trapped' INT; while :; do sleep 10 & wait $!; done"


@pytest.mark.live()
def test_second_ctrl_c_stops_everything_and_still_tells(tmp_path: Path) -> None:
    out = tmp_path / "story.json"
    running = Running("run", "--format", "json", "-o", str(out), "--", "sh", "-c",
                      TRAPS_SIGINT)
    running.wait_for(r"sh running — Ctrl-C to stop")
    os.kill(running.proc.pid, signal.SIGINT)
    running.wait_for(r"Ctrl-C again to stop it now")
    time.sleep(0.5)
    assert "trapped" in running.stdout  # the first one reached the command, which chose to live
    started = time.monotonic()
    os.kill(running.proc.pid, signal.SIGINT)
    assert running.finish() == 130, running.stderr
    assert time.monotonic() - started < 5
    doc = json.loads(out.read_text())
    sh = command_process(doc, "sh")
    assert sh["exit_signal"] == "SIGKILL"
    assert_all_gone(doc)
    assert "Traceback" not in running.stderr


@pytest.mark.live()
def test_sigterm_stops_everything(tmp_path: Path) -> None:
    out = tmp_path / "story.json"
    running = Running("run", "--format", "json", "-o", str(out), "--", "sh", "-c",
                      TRAPS_SIGINT)
    running.wait_for(r"sh running — Ctrl-C to stop")
    os.kill(running.proc.pid, signal.SIGTERM)
    assert running.finish() == 128 + signal.SIGTERM, running.stderr
    doc = json.loads(out.read_text())
    assert command_process(doc, "sh")["exit_signal"] == "SIGKILL"
    assert_all_gone(doc)


@pytest.mark.live()
def test_duration_interrupts_and_status_is_the_commands(tmp_path: Path) -> None:
    started = time.monotonic()
    proc, doc = run_json(tmp_path, "--duration", "1", "--", "sleep", "30", timeout=20)
    assert time.monotonic() - started < 10
    # sleep dies of the SIGINT: the shell's 128+2
    assert proc.returncode == 130, proc.stderr
    assert command_process(doc, "sleep")["exit_signal"] == "SIGINT"
    assert "--duration 1s elapsed" in proc.stderr


@pytest.mark.live()
def test_duration_sends_sigint_again_when_the_first_is_lost(tmp_path: Path) -> None:
    proc, doc = run_json(tmp_path, "--quiet-live", "--duration", "0.5", "--",
                         sys.executable, "-c", LOSES_FIRST_SIGINT, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "--duration 0.5s elapsed: sent SIGINT" in proc.stderr
    assert "sent SIGINT again" in proc.stderr
    assert "SIGKILL" not in proc.stderr
    (python,) = [p for p in doc["processes"] if p["exit_code"] is not None]
    assert sigints(python) == 2
    assert python["exit_code"] == 0


@pytest.mark.live()
def test_duration_ends_a_command_that_ignores_sigint(tmp_path: Path) -> None:
    started = time.monotonic()
    proc, doc = run_json(tmp_path, "--quiet-live", "--duration", "0.5", "--",
                         sys.executable, "-c",
                         IGNORES_SIGINT, timeout=40)
    assert time.monotonic() - started < 30
    assert proc.returncode == 128 + signal.SIGKILL, proc.stderr
    assert proc.stderr.count("sent SIGINT again") == stopping.AGAINS
    assert f"still running after {1 + stopping.AGAINS} SIGINTs: stopping everything now" \
        in proc.stderr
    (python,) = doc["processes"]
    assert python["exit_signal"] == "SIGKILL"
    assert sigints(python) == 1 + stopping.AGAINS


@pytest.mark.live()
def test_duration_stands_down_after_a_ctrl_c(tmp_path: Path) -> None:
    """A Ctrl-C before the duration is up: the command gets that SIGINT alone, however
    long it then takes to finish (here 3 s of quiet, the kind --duration resends to)."""
    out = tmp_path / "story.json"
    running = Running("run", "--format", "json", "-o", str(out), "--duration", "1",
                      "--quiet-live", "--", sys.executable, "-c", SLOW_TO_FINISH)
    running.wait_for("^ready$")
    os.kill(running.proc.pid, signal.SIGINT)
    assert running.finish() == 0, running.stderr
    assert "passed SIGINT on" in running.stderr
    assert "--duration" not in running.stderr, running.stderr
    doc = json.loads(out.read_text())
    (python,) = [p for p in doc["processes"] if p["exit_code"] is not None]
    assert sigints(python) == 1


@pytest.mark.live()
def test_exit_status_is_the_commands() -> None:
    proc = bpfexplain("run", "--quiet-live", "--", "sh", "-c", "exit 7")
    assert proc.returncode == 7, proc.stderr


# --------------------------------------------------------------------------------
# --save, -p


@pytest.mark.live("bpftrace")
def test_save_then_parse_elsewhere_gives_the_same_names(tmp_path: Path) -> None:
    log = tmp_path / "trace.log"
    proc, doc = run_json(tmp_path, "--quiet-live", "--save", str(log), "--", "bpftrace", "-e",
                         SEED + " interval:s:1 { exit(); }")
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((tmp_path / "trace.log.meta.json").read_text())
    tp_id = Path("/sys/kernel/tracing/events/raw_syscalls/sys_enter/id").read_text().strip()
    assert meta["tracepoint_ids"] == {tp_id: "raw_syscalls:sys_enter"}
    assert meta["pmu_types"]["tracepoint"] == 2
    assert "uprobe" in meta["pmu_types"]
    assert log.read_text().count("\n") > 100
    # "elsewhere": no local tracefs lookups, the sidecar alone names the id
    parsed = bpfexplain("parse", "--format", "json", "-q", "--no-resolve-locally", str(log))
    assert parsed.returncode == 0, parsed.stderr
    again = json.loads(parsed.stdout)
    points = sorted(a["attach_point"] for a in attachments(doc))
    assert SEED_POINT in points
    assert sorted(a["attach_point"] for a in attachments(again)) == points


@pytest.mark.live("bpftrace")
def test_attach_to_a_running_loader(tmp_path: Path) -> None:
    loader = subprocess.Popen(["bpftrace", "-e", SEED], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        assert loader.stdout is not None
        assert "Attaching" in loader.stdout.readline()
        out = tmp_path / "story.json"
        running = Running("run", "--format", "json", "-o", str(out), "-p", str(loader.pid))
        running.wait_for(rf"process {loader.pid} running — Ctrl-C to detach")
        loader.send_signal(signal.SIGINT)
        assert running.finish() == 0, running.stderr
        assert loader.wait(TIMEOUT) == 0
    finally:
        if loader.poll() is None:
            loader.kill()
            loader.wait()
    assert "strace:" not in running.stderr  # no "Process N attached" on the user's terminal
    doc = json.loads(out.read_text())
    # strace came in after the setup: the fds it closes were opened before the log began
    closed = [o for o in doc["objects"] if not o["known"] and o["closed_line"] is not None]
    assert closed, doc["objects"]
    assert any(p["pid"] == loader.pid and p["exit_code"] == 0 for p in doc["processes"])


@pytest.mark.live()
def test_attach_to_an_idle_process_and_let_go(tmp_path: Path) -> None:
    idle = subprocess.Popen(["sleep", "30"])
    try:
        proc, doc = run_json(tmp_path, "-p", str(idle.pid), "--duration", "0.5")
        assert proc.returncode == 0, proc.stderr
        assert idle.poll() is None  # detached, still running: it was never ours to stop
        assert doc["objects"] == []
    finally:
        idle.kill()
        idle.wait()


@pytest.mark.live("setpriv")
def test_attach_not_permitted() -> None:
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           *BPFEXPLAIN, "run", "-p", "1"],
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert proc.returncode == 5
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("bpfexplain: error: strace could not attach to process 1")
    assert "CAP_SYS_PTRACE" in last and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------------
# errors: one line, an exit code, no traceback


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("bpfexplain: error: "), proc.stderr
    return lines[0]


@pytest.mark.live()
def test_command_not_found() -> None:
    proc = bpfexplain("run", "--", "no-such-loader-xyz", "--flag")
    assert proc.returncode == 127
    assert "no-such-loader-xyz: command not found" in _one_line_error(proc)


def test_strace_not_installed(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    proc = bpfexplain("run", "--", "/bin/true", env=env)
    assert proc.returncode == 5
    assert "apt-get install strace" in _one_line_error(proc)


def test_strace_too_old(tmp_path: Path) -> None:
    fake = tmp_path / "strace"
    fake.write_text("#!/bin/sh\necho 'strace -- version 4.10'\n")
    fake.chmod(0o755)
    proc = bpfexplain("run", "--strace", str(fake), "--", "/bin/true")
    assert proc.returncode == 5
    assert "too old" in _one_line_error(proc)


def test_seccomp_bpf_only_where_strace_has_it() -> None:
    assert "--seccomp-bpf" in live.strace_flags(live.Strace("strace", (6, 1), ""))
    assert "--seccomp-bpf" not in live.strace_flags(live.Strace("strace", (5, 2), ""))
    assert "--seccomp-bpf" not in live.strace_flags(live.Strace("strace", (6, 1), ""),
                                                    attach=True)
    # every prefilter name is marked optional, so no strace rejects an unknown syscall
    names = live.trace_filter().removeprefix("trace=").split(",")
    assert names and all(n.startswith("?") for n in names)


def test_output_checked_before_tracing(tmp_path: Path) -> None:
    proc = bpfexplain("run", "-o", str(tmp_path / "missing" / "story.json"), "--", "/bin/true")
    assert proc.returncode == 3
    assert "no such directory" in _one_line_error(proc)


def test_command_or_pid_not_both() -> None:
    proc = bpfexplain("run")
    assert proc.returncode == 2
    proc = bpfexplain("run", "-p", "1", "--", "true")
    assert proc.returncode == 2


def test_pid_that_does_not_exist() -> None:
    if shutil.which("strace") is None:
        pytest.skip("strace not installed")
    proc = bpfexplain("run", "-p", "999999999")
    assert proc.returncode == 3
    assert "no such process" in _one_line_error(proc)
