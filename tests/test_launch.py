"""bpfexplain.launch: the way to strace's exec without subprocess, shutil, re or tempfile.

Each stand-in is held to what it replaces: ``which`` to ``shutil.which``, the version
reading to the regular expression it was, :class:`launch.Child` to ``Popen``'s waiting,
and :func:`launch.spawn` to what ``Popen(close_fds=True, restore_signals=True)`` gave a
child (fds, signal mask and dispositions, session).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bpfexplain import launch

# Prints what a child got: open fds, blocked signals, session.  (Signal dispositions
# are checked with cat: Python ignores SIGPIPE itself as it starts.)
REPORT = r"""
import json, os, signal
print(json.dumps({
    "fds": sorted(int(n) for n in os.listdir("/proc/self/fd")),
    "blocked": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    "own_session": os.getsid(0) == os.getpid(),
}))
"""


def _report(**kwargs: object) -> dict[str, Any]:
    read_end, write_end = os.pipe()
    child = launch.spawn([sys.executable, "-I", "-S", "-c", REPORT],
                         actions=[(os.POSIX_SPAWN_DUP2, write_end, 1)],
                         **kwargs)  # type: ignore[arg-type]
    os.close(write_end)
    with os.fdopen(read_end, "rb") as out:
        text = out.read().decode()
    assert child.wait() == 0
    report: dict[str, Any] = json.loads(text)
    return report


def test_spawn_gives_a_child_what_popen_gave() -> None:
    leaked = os.open(os.devnull, os.O_RDONLY)
    os.set_inheritable(leaked, True)  # inherited from our parent, say: Popen closed it
    kept = os.open(os.devnull, os.O_RDONLY)  # not inheritable, but passed on purpose
    try:
        got = _report(keep=(kept,), mask={signal.SIGUSR1}, new_session=True)
        assert kept in got["fds"] and leaked not in got["fds"]
        assert got["blocked"] == [int(signal.SIGUSR1)]
        assert got["own_session"]
        assert not os.get_inheritable(kept)  # inheritable only for the spawn
        # Without a mask the caller's goes on; without a session, ours; nothing kept.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
        try:
            plain = _report()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        assert kept not in plain["fds"] and leaked not in plain["fds"]
        assert int(signal.SIGUSR2) in plain["blocked"]
        assert not plain["own_session"]
        # An empty mask is a mask: everything unblocked.
        assert _report(mask=set())["blocked"] == []
    finally:
        os.close(leaked)
        os.close(kept)


def test_spawn_restores_the_signals_python_ignores() -> None:
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN  # Python's own start-up
    read_end, write_end = os.pipe()
    child = launch.spawn(["/bin/cat", "/proc/self/status"],
                         actions=[(os.POSIX_SPAWN_DUP2, write_end, 1)])
    os.close(write_end)
    with os.fdopen(read_end, "rb") as out:
        status = out.read().decode()
    assert child.wait() == 0
    m = re.search(r"^SigIgn:\s*([0-9a-f]+)$", status, re.M)
    assert m is not None, status
    ignored = int(m.group(1), 16)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        assert not ignored >> (sig - 1) & 1, sig


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_the_traced_command_ignores_no_signal(tmp_path: Path) -> None:
    """Python ignores SIGPIPE and SIGXFSZ, glibc's posix_spawn leaves its internal
    signals 32 and 33 ignored in its child: the command under strace gets none of
    that (as with Popen)."""
    out = tmp_path / "status"
    strace = launch.find_strace()
    started = launch.start(strace, ["/bin/sh", "-c", f"grep -E 'Sig(Ign|Blk)' /proc/self/status > {out}"],
                           restore_mask={signal.SIGUSR1})
    try:
        assert started.proc.wait(20) == 0
    finally:
        started.watchdog.stand_down()
        for fd in (started.rfd, started.wfd):
            os.close(fd)
        launch.remove_dir(started.dir)
    status = out.read_text()
    assert re.search(r"^SigIgn:\s*0+$", status, re.M), status


def test_fork_exec_gives_a_child_what_popen_gave(capfd: pytest.CaptureFixture[str]) -> None:
    leaked = os.open(os.devnull, os.O_RDONLY)
    os.set_inheritable(leaked, True)
    try:
        child = launch.fork_exec([sys.executable, "-I", "-S", "-c", REPORT],
                                 {signal.SIGUSR1}, dies_with_us=False)
        assert child.wait(20) == 0
    finally:
        os.close(leaked)
    got = json.loads(capfd.readouterr().out)
    assert leaked not in got["fds"] and got["fds"][:3] == [0, 1, 2]
    assert got["blocked"] == [int(signal.SIGUSR1)] and not got["own_session"]
    with pytest.raises(OSError):
        launch.fork_exec(["/nonexistent/bpfexplain-test"], set(), dies_with_us=False)


def test_spawn_reports_a_missing_program() -> None:
    with pytest.raises(OSError):
        launch.spawn(["/nonexistent/bpfexplain-test"])


@pytest.mark.parametrize("name", ["sh", "strace", "python3", "no-such-bpfexplain-program",
                                  "/bin/sh", "/bin", "./tests", "", "/etc/passwd"])
@pytest.mark.parametrize("path", [None, "", "/usr/bin:/bin", "/nonexistent::/bin:/bin",
                                  "/etc"])
def test_which_is_shutils(name: str, path: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if path is None:
        monkeypatch.delenv("PATH", raising=False)
    else:
        monkeypatch.setenv("PATH", path)
    assert launch.which(name) == shutil.which(name)


BANNER = re.compile(r"version (\d+)\.(\d+)(?:\.(\d+))?")


@pytest.mark.parametrize("banner", [
    "strace -- version 6.1", "strace -- version 5.10.0", "strace -- version 6.1.2.3",
    "strace -- version 6", "strace -- version 6.", "version x.1 version 4.17",
    "strace version 4.26-git", "strace -- version ", "custom", "", "version 10.20.",
    "version 1.2.3a", "version 7.x.1",
])
def test_version_is_read_as_the_expression_read_it(banner: str) -> None:
    m = BANNER.search(banner)
    expected = tuple(int(g) for g in m.groups() if g is not None) if m else None
    assert launch.version_in(banner) == expected


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_strace_version_is_the_binarys() -> None:
    out = subprocess.run(["strace", "-V"], capture_output=True, text=True, check=True).stdout
    found = launch._ask_strace(shutil.which("strace") or "")
    assert found.version_text == out.splitlines()[0]
    assert found == launch._ask_strace(found.path)  # a value, compared by its fields
    assert hash(found) == hash(launch._ask_strace(found.path))


def test_child_waits_like_popen() -> None:
    child = launch.spawn(["/bin/sh", "-c", "sleep 0.3; exit 7"])
    assert child.poll() is None
    with pytest.raises(launch.TimedOut):
        child.wait(0.05)
    # One thread blocks in wait, another polls and waits with a timeout meanwhile.
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(child.wait()))
    waiter.start()
    time.sleep(0.05)
    assert child.poll() is None  # the waiter holds the reaping: "still running"
    assert child.wait(5) == 7
    waiter.join(5)
    assert got == [7] and child.poll() == 7 and child.returncode == 7


def test_child_status_of_a_signal_is_negative() -> None:
    child = launch.spawn(["/bin/sleep", "30"])
    child.kill()
    assert child.wait(5) == -signal.SIGKILL
    child.kill()  # gone: nothing is sent (its pid may be reused)


def test_private_dir_is_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    made = Path(launch.private_dir("bpfexplain-"))
    assert made.parent == tmp_path and made.name.startswith("bpfexplain-")
    assert made.stat().st_mode & 0o777 == 0o700
    assert launch.private_dir("bpfexplain-") != str(made)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))
    assert Path(launch.private_dir("bpfexplain-")).parent != tmp_path / "missing"


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_without_a_watchdog_strace_dies_with_us(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the watchdog cannot start, strace is forked with a parent-death signal."""
    strace = launch.find_strace()
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    started = launch.start(strace, ["/bin/true"])
    try:
        assert started.watchdog.proc is None
        status = open(f"/proc/{started.proc.pid}/status").read()  # noqa: SIM115
        assert re.search(r"^SigBlk:\s*0+$", status, re.M), status
        assert started.proc.wait(10) == 0
    finally:
        started.watchdog.stand_down()
        for fd in (started.rfd, started.wfd):
            os.close(fd)
        launch.remove_dir(started.dir)


def test_no_module_the_way_to_exec_avoids_is_loaded() -> None:
    code = ("import sys; before = set(sys.modules); import bpfexplain.launch; "
            "print(sorted(set(sys.modules) - before))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == str(["__future__", "bpfexplain", "bpfexplain.errors",
                               "bpfexplain.launch", "bpfexplain.traced"])


def test_a_released_watchdog_is_reaped_without_being_waited_for(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """stand_down returns at once; the watchdog still ends, reaped (no zombie left)."""
    gate = threading.Event()
    real = launch.exited_within

    def held(proc: launch.Child, timeout: float) -> bool:
        gate.wait(10)
        return real(proc, timeout)

    monkeypatch.setattr(launch, "exited_within", held)
    watchdog = launch.Watchdog(-1, -1, attach=False)
    assert watchdog.proc is not None
    pid = watchdog.proc.pid
    watchdog.stand_down()  # would hang for 10 s if it waited through exited_within
    assert watchdog.proc is None
    assert Path(f"/proc/{pid}").exists()  # not reaped yet: the reaper is held
    gate.set()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not Path(f"/proc/{pid}").exists(), "the watchdog was not reaped"


# ---- strace's answers, remembered ----------------------------------------------------

def _fake_strace(folder: Path, banner: str) -> tuple[Path, Path]:
    """A strace that notes each time it is asked, and what it answers."""
    asked = folder / "asked"
    fake = folder / "strace"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {asked}\necho '{banner}'\n")
    fake.chmod(0o755)
    return fake, asked


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from bpfexplain import private

    folder = tmp_path / "cache" / "bpfexplain"
    monkeypatch.setattr(private, "cache_dir", lambda: str(folder))
    monkeypatch.setattr(launch, "_FOUND", {})
    (tmp_path / "bin").mkdir()
    return folder


def test_strace_is_asked_once_per_binary(tmp_path: Path, cache: Path) -> None:
    fake, asked = _fake_strace(tmp_path / "bin", "strace -- version 6.1")
    first = launch.find_strace(str(fake))
    launch._FOUND.clear()  # as a new process
    assert launch.find_strace(str(fake)) == first
    assert asked.read_text().split() == ["-V"]  # 6.1: -h is not asked either
    assert stat_mode(cache / launch._VERSIONS_FILE) == 0o600
    # Rewritten (a new strace installed at the same path): asked again.
    fake.write_text(fake.read_text().replace("6.1", "6.0"))
    launch._FOUND.clear()
    assert launch.find_strace(str(fake)).version == (6, 0)
    assert asked.read_text().split() == ["-V", "-V"]
    lines = (cache / launch._VERSIONS_FILE).read_text().splitlines()
    assert len(lines) == 1 and lines[0].endswith("\t0\tstrace -- version 6.0")


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize("damage", [
    lambda line: line.replace("\t0\t", "\tyes\t"),             # not a flag
    lambda line: line.replace("version 6.1", "version 4.2"),   # too old: the asking says so
    lambda line: line.replace("version 6.1", "version"),       # no version
    lambda line: line.rsplit("\t", 1)[0],                      # a field short
])
def test_a_damaged_answer_is_asked_again(tmp_path: Path, cache: Path,
                                         damage: Callable[[str], str]) -> None:
    fake, asked = _fake_strace(tmp_path / "bin", "strace -- version 6.1")
    launch.find_strace(str(fake))
    kept = cache / launch._VERSIONS_FILE
    kept.write_text(damage(kept.read_text().rstrip("\n")) + "\n")
    launch._FOUND.clear()
    assert launch.find_strace(str(fake)).version == (6, 1)
    assert asked.read_text().split() == ["-V", "-V"]


def test_an_unreadable_cache_is_no_cache(tmp_path: Path, cache: Path) -> None:
    """A cache directory others may write is neither read nor written."""
    cache.mkdir(parents=True, mode=0o777)
    cache.chmod(0o777)
    fake, asked = _fake_strace(tmp_path / "bin", "strace -- version 6.1")
    for _ in range(2):
        launch._FOUND.clear()
        assert launch.find_strace(str(fake)).version == (6, 1)
    assert asked.read_text().split() == ["-V", "-V"]
    assert not (cache / launch._VERSIONS_FILE).exists()


def test_each_binary_keeps_its_own_answer(tmp_path: Path, cache: Path) -> None:
    answers = {}
    for n in range(3):  # 6.2 knows --kill-on-exit: strace -h is asked as well
        folder = tmp_path / f"s{n}"
        folder.mkdir()
        fake, _ = _fake_strace(folder, f"strace -- version 6.{n}")
        answers[fake] = launch.find_strace(str(fake))
    launch._FOUND.clear()
    for fake, found in answers.items():
        assert launch.find_strace(str(fake)) == found
    for n, fake in enumerate(answers):
        assert (fake.parent / "asked").read_text().split() == ["-V", "-h"][:1 + (n == 2)]
