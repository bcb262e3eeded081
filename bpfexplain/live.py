"""Run a loader under strace (or attach to one) and read strace's log as it is written.

This module is process management: it knows strace, signals, pipes and ``/proc``,
and hands typed events to the same parser ``parse`` uses.  The one piece that shows
anything, :class:`LiveView`, prints through the renderers on a console it is given.

Shapes chosen, and why:

* **strace writes to a FIFO in a private directory** (``-o DIR/strace.fifo``), not to
  an inherited pipe fd: strace opens its log close-on-exec, so the traced command
  gets exactly the fds it would get without bpfexplain (fd numbers are what the
  story is made of) and its stdout/stderr stay the user's, never mixed with the log.
  We hold a write end of the FIFO ourselves until strace exits, so an early read
  cannot mistake "strace has not opened it yet" for end of file.
* **A reader thread drains the FIFO into memory** as fast as strace writes, so a slow
  parse never makes strace (and with it the traced command) wait on a full pipe; it
  also tees into ``--save`` and notices ``--- SIGINT`` lines (see below).
* **Signals are taken synchronously** (blocked in every thread, collected by a
  watcher thread with ``sigtimedwait``): we need ``si_code`` to tell a terminal's
  Ctrl-C, which the kernel sends to the whole foreground process group
  (``SI_KERNEL``) and so already reached the command, from a ``kill`` aimed at
  bpfexplain alone, which must be passed on.  A ``kill -INT -PGID`` (``timeout -s
  INT``) also reaches everyone but looks like a plain ``kill``; for that case we
  wait briefly for strace to report the command receiving SIGINT before sending a
  second one, because a second SIGINT makes many tools skip their cleanup.
* strace started with ``-o FILE CMD`` blocks fatal signals itself (its ``-I3``
  default), so the first Ctrl-C never stops the tracing: we keep reading until the
  command has detached its probes, printed its maps and exited.  The second Ctrl-C
  (or SIGTERM/SIGHUP) SIGKILLs every process strace traces, then strace.
* **A watchdog outlives a killed bpfexplain** (SIGKILL, the OOM killer): strace before
  6.2 has no ``--kill-on-exit`` and a dying tracer only detaches its tracees, which
  would leave a loader's programs attached with nobody watching.  The watchdog (see
  ``launch.WATCHDOG``) kills what strace traces, then strace, and saves strace's last
  lines.  ``--kill-on-exit`` is passed as well where strace has it.
* **strace is started by :mod:`bpfexplain.launch`**, which imports next to nothing
  (and no ``subprocess``): ``run``'s pre-start (:mod:`bpfexplain.entry`) gets to strace's exec
  before this module (threads, dataclasses, subprocess) is even imported, and this
  module takes the running strace over (:func:`adopt_prestarted`).  Signals are
  blocked from before the spawn, so none is lost in between.
* ``--save`` is written as it arrives (unbuffered) and its sidecar is written when the
  run starts and again when it ends, so a killed run still leaves both.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import threading
import time
from _queue import Empty, SimpleQueue  # queue.py's own, without queue.py's imports
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from bpfexplain import launch
from bpfexplain.errors import EnvironmentProblem, InputError

# strace itself, the checks before starting it, the watchdog: the way to strace's exec
# lives in launch.py, which imports next to nothing (issue 11); here under their names.
from bpfexplain.launch import (
    MIN_SECCOMP_BPF as MIN_SECCOMP_BPF,
)
from bpfexplain.launch import (
    MIN_STRACE as MIN_STRACE,
)
from bpfexplain.launch import (
    STRING_LIMIT as STRING_LIMIT,
)
from bpfexplain.launch import (
    Child as Child,
)
from bpfexplain.launch import (
    Strace as Strace,
)
from bpfexplain.launch import (
    TimedOut as TimedOut,
)
from bpfexplain.launch import (
    find_strace as find_strace,
)
from bpfexplain.launch import (
    has_bpf_privileges as has_bpf_privileges,
)
from bpfexplain.launch import (
    preflight_warnings as preflight_warnings,
)
from bpfexplain.launch import (
    resolve_command as resolve_command,
)
from bpfexplain.launch import (
    strace_flags as strace_flags,
)
from bpfexplain.launch import (
    trace_filter as trace_filter,
)
from bpfexplain.launch import (
    tracefs_state as tracefs_state,
)
from bpfexplain.plain import Frozen, Record, init_field
from bpfexplain.stopping import DurationStop

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console

    from bpfexplain.deep.backend import Control
    from bpfexplain.framing import Stats
    from bpfexplain.render.text import Prerendered
    from bpfexplain.story import Story
    from bpfexplain.values import Event, Tracked

WATCHED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals bpfexplain takes over while a trace runs."""

_WAKE = signal.SIGCHLD
"""Also waited for, never acted on: strace exiting (our child) wakes the watcher at once,
and so does the main thread when the run is over, instead of a timeout running out."""
_BLOCKED = launch.BLOCKED
assert set(_BLOCKED) == {*WATCHED, _WAKE}

SI_KERNEL = 0x80
"""``si_code`` of a signal the kernel generated, as a terminal's Ctrl-C is."""

SIGINT_GRACE = 0.3
"""How long to wait for strace to show the command receiving a group-wide SIGINT
before concluding it did not and sending one ourselves."""

SAME_KEYPRESS = 0.25
"""A SIGINT this soon after the first one was dealt with is that same Ctrl-C relayed:
``timeout`` passes its own SIGINT on to us and to its whole process group, so one
keypress arrives two or three times within milliseconds.  Taking the copies for a
second Ctrl-C would SIGKILL a loader busy printing its results."""

KILL_GRACE = 1.0
"""After SIGKILLing the traced processes, how long strace may take to report their
deaths and exit before it is killed as well."""

PARSER_NICENESS = 5
"""How far below the loader's the priority of the thread that parses and explains is
while the loader runs: on a busy machine the loader (and strace) get the CPU first,
so tracing does not bend its timers, and the explanation catches up when it can.
The reader thread that drains strace's pipe keeps full priority."""

_PTRACE_TRACEME = 0
_FIRST_PID = re.compile(rb"(\d+) ")
IDLE_AFTER = 0.02
"""Seconds without strace output after which the log counts as quiet (see
:attr:`LiveTrace.on_idle`): longer than the gaps of a loader at work."""

PREPARE_SPACING = 4
"""A story prepared while the loader is quiet is prepared again only after this many
times as long as the last one took (and only when new events came)..."""

PREPARE_BUDGET = 0.1
PREPARE_SHARE = 0.02
"""...and only while all of them together took less than ``PREPARE_BUDGET`` seconds
plus ``PREPARE_SHARE`` of the run so far: a head start on the end, never a cost that
grows with a long run."""

PREPARE_MAX_ACTIONS = 5_000
"""...and not at all past this many tracked actions: the copy costs about 60 µs an
action here, and the first preparation, which no budget limits yet, must not hold
the live output back for long (a ``-p`` attach to a busy loader, say)."""

_READ_SIZE = 1 << 18
_SMALL_READ = 1 << 14
_GATHER = 0.01
"""After a read smaller than :data:`_SMALL_READ`, the reader waits this long (seconds)
before the next: strace writes one line at a time, and reading each as it comes
(a map walk: 20,000 lines a second) costs a wake-up of both threads per line, more
than explaining the line.  The pipe holds a megabyte, so strace never waits for it,
and live output comes at most 10 ms later."""


# --------------------------------------------------------------------------------
# checks before starting (the others, and strace's own, are in launch.py)


def check_pid(pid: int) -> None:
    if pid <= 0 or not os.path.exists(f"/proc/{pid}"):
        raise InputError(f"-p {pid}: no such process")
    if pid == os.getpid():
        raise InputError(f"-p {pid}: that is bpfexplain itself")


def ptrace_denied() -> str | None:
    """Why this process may not ptrace its own child, or None when it may.

    Only used to explain a strace that failed before writing anything: a container's
    seccomp profile or Yama's ptrace_scope=3 forbid it even to root.
    """
    import ctypes

    try:
        with open("/proc/sys/kernel/yama/ptrace_scope", encoding="utf-8") as f:
            scope = f.read().strip()
    except OSError:
        scope = ""
    if scope == "3":
        return "Yama forbids all ptrace on this machine (kernel.yama.ptrace_scope = 3)"
    libc = ctypes.CDLL(None, use_errno=True)  # find_library("c") would run ldconfig
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        result = libc.ptrace(_PTRACE_TRACEME, 0, None, None)
        os._exit(0 if result == 0 else min(ctypes.get_errno(), 255) or 1)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 0:
        return None
    return f"ptrace(PTRACE_TRACEME) failed: {os.strerror(code)}"


# --------------------------------------------------------------------------------
# /proc


class _ProcInfo(Frozen):
    __slots__ = _fields = ("pid", "ppid", "tracer")

    pid: int
    ppid: int
    tracer: int

    def __init__(self, pid: int, ppid: int, tracer: int) -> None:
        init_field(self, "pid", pid)
        init_field(self, "ppid", ppid)
        init_field(self, "tracer", tracer)


def _processes() -> list[_ProcInfo]:
    out: list[_ProcInfo] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as f:
                text = f.read()
        except OSError:
            continue  # gone meanwhile
        ppid = re.search(rb"\nPPid:\s*(\d+)", text)
        tracer = re.search(rb"\nTracerPid:\s*(\d+)", text)
        out.append(_ProcInfo(int(entry), int(ppid.group(1)) if ppid else 0,
                             int(tracer.group(1)) if tracer else 0))
    return out


def traced_by(tracer: int) -> set[int]:
    """Processes ``tracer`` traces, and every descendant of ``tracer`` besides."""
    procs = _processes()
    found = {p.pid for p in procs if p.tracer == tracer}
    children: dict[int, list[int]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p.pid)
    todo = [tracer]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    found.discard(tracer)
    found.discard(os.getpid())
    return found


# --------------------------------------------------------------------------------
# the log as a stream


class _ChunkReader(io.RawIOBase):
    """A raw stream over chunks a reader thread queues; an empty chunk is end of file.

    ``idle`` is called (on the reading thread) when no chunk has come for
    :data:`IDLE_AFTER` seconds, once per quiet spell, before the read blocks on."""

    def __init__(self, chunks: SimpleQueue[bytes], idle: Callable[[], None] | None = None):
        super().__init__()
        self._chunks = chunks
        self._idle = idle
        self._rest = b""
        self._eof = False

    def _next(self) -> bytes:
        if self._idle is not None:
            try:
                return self._chunks.get(timeout=IDLE_AFTER)
            except Empty:
                self._idle()
        return self._chunks.get()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._rest:
            if self._eof:
                return 0
            chunk = self._next()
            if not chunk:
                self._eof = True
                return 0
            self._rest = chunk
        view = memoryview(buffer).cast("B")
        n = min(len(view), len(self._rest))
        view[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


# --------------------------------------------------------------------------------
# the traced process tree


class RunConfig(Record):
    """What ``run`` was asked to do."""

    __slots__ = _fields = ("command", "pid", "duration", "save", "strace")

    command: list[str]
    pid: int | None
    duration: float | None
    save: Path | None
    strace: str

    def __init__(self, command: list[str] | None = None, pid: int | None = None,
                 duration: float | None = None, save: Path | None = None,
                 strace: str = "strace") -> None:
        self.command = [] if command is None else command
        self.pid = pid
        self.duration = duration
        self.save = save
        self.strace = strace


class LiveTrace:
    """strace running ``command`` (or attached to ``pid``), its log readable as a stream.

    Call :meth:`start`, read :attr:`stream` to its end, then :meth:`wait`; :meth:`close`
    (also on error paths) guarantees no process we started is left behind.
    """

    def __init__(self, strace: Strace, config: RunConfig):
        self.strace = strace
        self.config = config
        self.attach = config.pid is not None
        self.proc: Child | None = None
        self.argv: list[str] = []
        self.first_pid: int | None = config.pid
        """The command's pid: strace's first line names it (``-p``: the given pid)."""
        self.bytes_read = 0
        self.last_output = time.monotonic()
        """When strace last wrote (monotonic): quiet means the command is waiting."""
        self._dir: str | None = None
        self._rfd: int | None = None
        self._wfd: int | None = None
        self._chunks: SimpleQueue[bytes] = SimpleQueue()
        self._reader: threading.Thread | None = None
        self._waiter: threading.Thread | None = None
        self._save: BinaryIO | None = None
        self._watchdog: launch.Watchdog | None = None
        self._sigint_seen = float("-inf")
        self._tail = b""
        self._lock = threading.Lock()
        self._strace_gone = threading.Event()
        self.killed = False
        self.on_idle: Callable[[], None] | None = None
        """Called on the thread reading :attr:`stream` when strace has been quiet for
        :data:`IDLE_AFTER` seconds (the loader waits, or works without system calls)."""
        self.stream: BinaryIO = io.BufferedReader(_ChunkReader(self._chunks, self._idle),
                                                  1 << 16)

    def _idle(self) -> None:
        if self.on_idle is not None:
            self.on_idle()

    # -- starting ---------------------------------------------------------------

    def start(self, restore_mask: set[int | signal.Signals] | None = None) -> None:
        """Start strace; ``restore_mask`` is the signal mask the command should get."""
        if self.config.save is not None:
            from bpfexplain.safeio import LOG_MODE, create_stream

            self._save = create_stream(self.config.save, mode=LOG_MODE)
        started = launch.start(self.strace, list(self.config.command), pid=self.config.pid,
                               save_fd=self._save.fileno() if self._save else -1,
                               restore_mask=restore_mask if restore_mask is not None else ())
        self.adopt(started)

    def adopt(self, started: launch.Started) -> None:
        """Take over strace as :func:`launch.start` left it: read it, wait for it."""
        self._dir = started.dir
        self._rfd = started.rfd
        self._wfd = started.wfd
        self.argv = started.argv
        self._watchdog = started.watchdog
        self.proc = started.proc
        self._reader = threading.Thread(target=self._read_loop, name="strace-reader",
                                        daemon=True)
        self._reader.start()
        self._waiter = threading.Thread(target=self._wait_loop, name="strace-waiter",
                                        daemon=True)
        self._waiter.start()

    def _read_loop(self) -> None:
        assert self._rfd is not None
        rfd = self._rfd
        while True:
            try:
                chunk = os.read(rfd, _READ_SIZE)
            except OSError:
                chunk = b""
            if not chunk:
                break
            if not self.bytes_read and self._dir is not None:
                # strace has the FIFO open now: its name is no longer needed, and gone
                # now it cannot outlive a bpfexplain that gets SIGKILLed.
                launch.remove_dir(self._dir)
            self.bytes_read += len(chunk)
            self.last_output = time.monotonic()
            if self._save is not None:
                self._save.write(chunk)
            if self.first_pid is None:
                m = _FIRST_PID.match(chunk)
                if m is not None:
                    self.first_pid = int(m.group(1))
            if b"--- SIGINT " in self._tail + chunk:
                self._sigint_seen = time.monotonic()
            self._tail = chunk[-16:]
            self._chunks.put(chunk)
            if len(chunk) < _SMALL_READ:
                self._strace_gone.wait(_GATHER)  # no waiting for more once strace is gone
        # End of file: strace has exited (our own writer closes only after that) and
        # everything it wrote is read and saved, so the watchdog has nothing left to do.
        watchdog = self._watchdog
        if watchdog is not None and self._wfd is None:
            watchdog.release()
        self._chunks.put(b"")

    def _wait_loop(self) -> None:
        assert self.proc is not None
        self.proc.wait()
        self._strace_gone.set()
        # strace's end of the FIFO is closed now; closing ours lets the reader see EOF.
        with self._lock:
            if self._wfd is not None:
                os.close(self._wfd)
                self._wfd = None

    # -- while it runs -----------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command_pids(self) -> set[int]:
        """The traced processes now alive."""
        if self.proc is None:
            return set()
        return traced_by(self.proc.pid)

    def interrupt(self, si_code: int) -> str:
        """The first Ctrl-C: make sure the command gets exactly one SIGINT.

        Returns what happened, for the user.
        """
        if self.attach:
            # Not our command: the user's Ctrl-C means "stop watching", as with strace -p.
            self.signal_strace(signal.SIGINT)
            return f"detaching from process {self.config.pid} (it keeps running)"
        received = time.monotonic()
        if si_code == SI_KERNEL and self._in_our_group():
            return "the command got the Ctrl-C too; waiting for it to finish"
        deadline = received + SIGINT_GRACE
        while time.monotonic() < deadline:
            if self._sigint_seen >= received - 0.5:
                return "the command got the SIGINT too; waiting for it to finish"
            time.sleep(0.01)
        sent = self.signal_command(signal.SIGINT)
        return f"passed SIGINT on to {sent}; waiting for it to finish"

    def _in_our_group(self) -> bool:
        if self.first_pid is None:
            return True  # not even started: strace's child is still in our group
        try:
            return os.getpgid(self.first_pid) == os.getpgrp()
        except OSError:
            return False

    def signal_command(self, sig: signal.Signals) -> str:
        """Send ``sig`` as a terminal would: to every traced process in our process group
        (the command's children included), or to the command alone if it left the group."""
        if self.attach:
            self.signal_strace(sig)
            return f"strace, to detach from process {self.config.pid}"
        pids = self.command_pids()
        ours = os.getpgrp()
        group = set()
        for pid in pids:
            with contextlib.suppress(OSError):
                if os.getpgid(pid) == ours:
                    group.add(pid)
        targets = group or ({self.first_pid} if self.first_pid is not None else set())
        for pid in targets:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        if self.first_pid in targets and len(targets) == 1:
            return f"the command (pid {self.first_pid})"
        return f"{len(targets)} traced process(es)"

    def signal_strace(self, sig: signal.Signals) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.kill(self.proc.pid, sig)

    def kill_all(self) -> None:
        """Stop everything now: SIGKILL the traced processes, then strace if it lingers.

        With ``-p`` the attached process is not ours to kill: only strace is killed,
        and the kernel detaches it.
        """
        self.killed = True
        proc = self.proc
        if proc is None:
            return
        if not self.attach:
            deadline = time.monotonic() + KILL_GRACE
            while proc.poll() is None and time.monotonic() < deadline:
                # Repeat: a process may fork between our scan and our kill.
                for pid in self.command_pids():
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(TimedOut):
                    proc.wait(0.05)
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()
        if not self.attach:
            # strace gone, anything it started but did not reap is an orphan now.
            for pid in traced_by(proc.pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    # -- ending ------------------------------------------------------------------

    def wait(self) -> int:
        """strace's exit status as a shell reports it (128+N for a signal)."""
        assert self.proc is not None
        code = self.proc.wait()
        return 128 - code if code < 0 else code

    def close(self) -> None:
        """Leave nothing behind: processes, threads, fds, the FIFO."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill_all()
        if self._waiter is not None:
            self._waiter.join(5)
        if self._reader is not None:
            self._reader.join(5)
        if self._watchdog is not None:
            self._watchdog.stand_down()
            self._watchdog = None
        with self._lock:
            for fd in (self._wfd, self._rfd):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._wfd = self._rfd = None
        if self._save is not None:
            self._save.close()
            self._save = None
        if self._dir is not None:
            launch.remove_dir(self._dir)
            self._dir = None


# --------------------------------------------------------------------------------
# a whole run: trace, signals, duration


class Outcome(Record):
    """How a run ended."""

    __slots__ = _fields = ("status", "command_status", "forced_by", "interrupted",
                           "duration_elapsed")

    status: int
    """bpfexplain's exit status: the command's (128+N when signal N killed it), or
    128+N when a second Ctrl-C (2) or SIGTERM (15) made bpfexplain stop it."""
    command_status: int | None
    forced_by: str | None
    interrupted: bool
    duration_elapsed: bool

    def __init__(self, status: int, command_status: int | None, forced_by: str | None = None,
                 interrupted: bool = False, duration_elapsed: bool = False) -> None:
        self.status = status
        self.command_status = command_status
        self.forced_by = forced_by
        self.interrupted = interrupted
        self.duration_elapsed = duration_elapsed


Notice = Callable[[str], None]


def _lower_own_priority(by: int) -> int | None:
    """Lower the calling thread's priority; its old nice value, or None if unchanged.

    Linux keeps a nice value per thread, and ``setpriority(PRIO_PROCESS, 0)`` sets the
    caller's alone: threads started earlier (the pipe reader, the signal watcher) keep
    theirs."""
    try:
        old = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, 0, min(old + by, 19))
    except OSError:
        return None
    return old


def _stderr_notice(message: str) -> None:
    import sys

    print(f"bpfexplain: {message}", file=sys.stderr, flush=True)


class LiveSession:
    """One ``run``: strace started, signals watched, events read; use as a context manager.

    ``notice`` receives short messages about what bpfexplain did (Ctrl-C handling,
    ``--duration``); ``tick`` is called about five times a second from the watcher
    thread, for a status line.  Both may be called from another thread.
    """

    def __init__(self, config: RunConfig, strace: Strace, *, notice: Notice | None = None,
                 tick: Callable[[], None] | None = None):
        self.config = config
        self.trace = LiveTrace(strace, config)
        self.notice: Notice = notice or _stderr_notice
        self.tick: Callable[[], None] = tick or (lambda: None)
        self.started = 0.0
        self.interrupted = False
        self.forced_by: str | None = None
        self.duration_elapsed = False
        self.command_status: int | None = None
        self.tracepoint_ids: set[int] = set()
        self._old_mask: set[int | signal.Signals] | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._first_sigint_done = float("-inf")
        self._niceness: int | None = None
        self._duration_stop: DurationStop | None = None

    def __enter__(self) -> LiveSession:
        return self._enter(None)

    def _enter(self, started: launch.Started | None) -> LiveSession:
        """Start strace, or (``started``) take over the one :mod:`bpfexplain.launch`
        started, with :data:`_BLOCKED` already blocked there."""
        if started is None:
            # Block before strace exists so that no Ctrl-C can slip between the two; the
            # child gets the old mask back before it execs.
            self._old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)
        else:
            self._old_mask = set(started.old_mask or ())
        try:
            if started is None:
                self.started = time.monotonic()
                self.trace.start(restore_mask=self._old_mask)
            else:
                self.started = started.started
                self.trace.adopt(started)
            self.write_meta(None)
            if self.config.duration is not None:
                self._duration_stop = DurationStop(self.config.duration, self.started)
            self._watcher = threading.Thread(target=self._watch, name="signal-watcher",
                                             daemon=True)
            self._watcher.start()
            self._niceness = _lower_own_priority(PARSER_NICENESS)
        except BaseException:
            self._finish()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()

    def _finish(self) -> None:
        self._stop.set()
        if self._niceness is not None:
            # Back to where it was (allowed to root; otherwise the rest of the run, the
            # story, simply stays at the lower priority).
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, 0, self._niceness)
            self._niceness = None
        if self._watcher is not None:
            if self._watcher.ident is not None and self._watcher.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    signal.pthread_kill(self._watcher.ident, _WAKE)
            self._watcher.join(5)
        self.trace.close()
        if self._old_mask is not None:
            # Swallow signals that arrived after the watcher stopped: unblocking them
            # would raise KeyboardInterrupt at some random point of the rendering.
            while signal.sigtimedwait(_BLOCKED, 0) is not None:
                pass
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old_mask)
            self._old_mask = None

    # -- the watcher thread -------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.is_set():
            info = signal.sigtimedwait(_BLOCKED, 0.2)
            if info is not None and info.si_signo != _WAKE:
                self._on_signal(info.si_signo, info.si_code)
            if self._duration_stop is not None:
                self._check_duration(self._duration_stop)
            with contextlib.suppress(Exception):
                self.tick()

    def _check_duration(self, schedule: DurationStop) -> None:
        if self.trace.killed or not self.trace.running:
            return
        if self.interrupted and not self.duration_elapsed:
            return  # the user's Ctrl-C came first: what happens next is theirs to say
        step = schedule.due(time.monotonic(), self.trace.last_output)
        if step is None:
            return
        self.duration_elapsed = True
        if step == "kill":
            self.forced_by = "SIGKILL"
            self.notice(schedule.say(step))
            self.trace.kill_all()
            return
        self.interrupted = True  # a Ctrl-C from now on is the second one
        self.notice(schedule.say(step, self.trace.signal_command(signal.SIGINT)))

    def _on_signal(self, signo: int, si_code: int) -> None:
        if self.trace.killed or not self.trace.running:
            return
        name = signal.Signals(signo).name
        if signo == signal.SIGINT and not self.interrupted:
            self.interrupted = True
            what = self.trace.interrupt(si_code)
            self.notice(f"Ctrl-C: {what} (Ctrl-C again to stop it now)")
            self._first_sigint_done = time.monotonic()
            return
        if signo == signal.SIGINT and \
                time.monotonic() - self._first_sigint_done < SAME_KEYPRESS:
            return  # the first Ctrl-C again, relayed (see SAME_KEYPRESS)
        self.forced_by = name
        self.notice(f"{name}: stopping everything now")
        self.trace.kill_all()

    # -- the main thread ----------------------------------------------------------

    def events(self, stats: Stats) -> Iterator[Tracked]:
        """Typed events as strace writes them; ends when strace has exited."""
        from bpfexplain.framing import frames_from_streams
        from bpfexplain.parser import events_from_frames

        # Map walks come in bulk (MapReads): a tool printing a map every second
        # writes tens of thousands of such lines a second, and strace waits for us.
        frames = frames_from_streams([("<strace>", self.trace.stream)], stats, map_reads=True)
        for event in events_from_frames(frames, stats, names=["<strace>"]):
            self._note(event)
            yield event

    def _note(self, event: Event | Tracked) -> None:
        from bpfexplain.values import Call, Exit, as_int, symbol, unwrap

        if isinstance(event, Exit):
            if event.pid is not None and event.pid == self.trace.first_pid:
                if event.signal is not None:
                    self.command_status = 128 + _signal_number(event.signal)
                elif event.code is not None:
                    self.command_status = event.code
        elif isinstance(event, Call) and event.name == "perf_event_open" and event.args:
            attr = unwrap(event.args[0])
            if isinstance(attr, dict):
                kind = attr.get("type")
                if symbol(kind) == "PERF_TYPE_TRACEPOINT" or as_int(kind) == 2:
                    config = as_int(attr.get("config"))
                    if config is not None:
                        self.tracepoint_ids.add(config)

    def outcome(self, stats: Stats) -> Outcome:
        """Wait for strace, then say how the run ended (or raise when strace could not
        trace at all)."""
        strace_status = self.trace.wait()
        # An attached process may well do nothing we trace before we let go of it.
        stopped_by_us = self.trace.killed or self.interrupted or self.duration_elapsed
        if stats.lines == 0 and not stopped_by_us:
            self._finish()
            raise self._no_output(strace_status)
        if self.forced_by is not None:
            status = 128 + signal.Signals[self.forced_by].value
        elif self.command_status is not None:
            status = self.command_status
        elif self.trace.attach:
            status = 0  # detached; the process lives on
        else:
            status = strace_status
        return Outcome(status, self.command_status, self.forced_by, self.interrupted,
                       self.duration_elapsed)

    def _no_output(self, strace_status: int) -> EnvironmentProblem:
        denied = ptrace_denied()
        if denied is not None:
            return EnvironmentProblem(
                f"ptrace is not permitted here, so strace cannot trace: {denied} "
                "(in a container: run it with --cap-add SYS_PTRACE or a seccomp profile "
                "that allows ptrace)"
            )
        if self.trace.attach:
            return EnvironmentProblem(
                f"strace could not attach to process {self.config.pid} (exit status "
                f"{strace_status}; its message is above): attaching to another user's "
                "process needs root or CAP_SYS_PTRACE"
            )
        return EnvironmentProblem(
            f"strace failed before the command started (exit status {strace_status}; its "
            "message is above)"
        )

    # -- --save -------------------------------------------------------------------

    def write_meta(self, outcome: Outcome | None) -> Path | None:
        """``FILE.meta.json`` next to a ``--save FILE`` log: the names of the numbers
        this machine gave (tracepoint ids, PMU types) so ``parse`` elsewhere agrees.

        Written once when the run starts (``outcome`` None) and again at its end."""
        if self.config.save is None:
            return None
        from bpfexplain.safeio import REPORT_MODE, write_file

        path = meta_path(self.config.save)
        meta = machine_meta(self.tracepoint_ids)
        meta.update({
            "command": self.config.command if not self.trace.attach else None,
            "pid": self.config.pid,
            "strace_argv": self.trace.argv,
            "strace_version": self.trace.strace.version_text,
            "exit_status": outcome.command_status if outcome is not None else None,
        })
        import json

        write_file(path, json.dumps(meta, indent=2, sort_keys=True) + "\n", mode=REPORT_MODE)
        return path


_prestarted: LiveSession | None = None
"""The session of the strace :mod:`bpfexplain.entry` started (through
:func:`launch.prestart`) before typer was imported, for ``run``."""


def adopt_prestarted() -> None:
    """Take the pre-started strace over now, if there is one: its reader, waiter and
    signal watcher threads start here, the earlier the better."""
    global _prestarted
    started = launch.take_prestarted()
    if started is not None:
        session = LiveSession(RunConfig(command=list(started.command)), started.strace)
        session._enter(started)
        if _prestarted is None:
            _prestarted = session
        else:  # cannot happen (one pre-start per process): leave nothing running
            session.__exit__(None, None, None)


def open_session(config: RunConfig, strace: Strace) -> contextlib.AbstractContextManager[
        LiveSession]:
    """``run``'s session: the pre-started one when it was started for exactly this
    run, otherwise a new one (started on entering)."""
    global _prestarted
    adopt_prestarted()
    session, _prestarted = _prestarted, None
    if session is not None:
        if session.config == config and session.trace.strace == strace:
            return _Entered(session)
        session.__exit__(None, None, None)  # not this run's: gone before ours starts
    return LiveSession(config, strace)


def abandon_prestarted() -> None:
    """A pre-started session that ``run`` never took (it cannot happen when the argv
    check is right): stop it, as a run that failed would stop."""
    global _prestarted
    adopt_prestarted()
    session, _prestarted = _prestarted, None
    if session is not None:
        session.__exit__(None, None, None)


class _Entered(contextlib.AbstractContextManager["LiveSession"]):
    """A session already entered: ``with`` only exits it."""

    def __init__(self, session: LiveSession):
        self.session = session

    def __enter__(self) -> LiveSession:
        return self.session

    def __exit__(self, *exc: object) -> None:
        self.session.__exit__(*exc)


def meta_path(log: Path) -> Path:
    return log.with_name(log.name + ".meta.json")


def machine_meta(tracepoint_ids: set[int]) -> dict[str, object]:
    """What only this machine knows: tracepoint names for ``tracepoint_ids`` and every
    PMU type (few, and a uprobe's type is all a log shows of it)."""
    import platform

    from bpfexplain.resolve import read_local_pmus, read_local_tracepoints

    readable = tracefs_state() == "readable"
    tracepoints = read_local_tracepoints() if tracepoint_ids and readable else {}
    return {
        "tracepoint_ids": {str(n): tracepoints[n] for n in sorted(tracepoint_ids)
                           if n in tracepoints},
        "pmu_types": {name: n for n, name in sorted(read_local_pmus().items())},
        "kernel": platform.release(),
        "arch": platform.machine(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _signal_number(name: str) -> int:
    try:
        return signal.Signals[name].value
    except KeyError:
        return 0  # a real-time signal strace named its own way: status 128, still "killed"



# --------------------------------------------------------------------------------
# what the user sees while it runs


class LiveView:
    """Live steps and the status line while the command runs, then the story.

    Steps come from the story layer's :class:`~bpfexplain.pipeline.LiveExplainer` and
    are printed by the text renderer on ``console`` (stderr: stdout carries the
    command's own output).  ``feed`` runs on the main thread, ``notice`` and ``tick``
    on the watcher thread, hence the lock.
    """

    STATUS_AFTER = 0.6
    """Seconds without a new step before the status line is printed: once the
    command has settled into running, not between two attach steps."""

    def __init__(self, console: Console, *, quiet: bool, files: list[str] | None = None):
        from bpfexplain.pipeline import LiveExplainer
        from bpfexplain.resolve import Resolver

        self.console = console
        self.quiet = quiet
        # This machine's tracefs and sysfs are authoritative here: the log is being
        # made on it, now.
        resolver = Resolver(local=True)
        if tracefs_state() != "readable":
            # Nothing to name ids with (and not root, tracefs is 0700): an empty table
            # instead of a scan that would fail on the first directory.
            resolver = Resolver(local=True, _local_tp_cache={})
        self.explainer = LiveExplainer(resolver, files=files or ["<strace>"])
        self.session: LiveSession | None = None
        self._lock = threading.Lock()
        self._last_step = time.monotonic()
        self._last_status = ""
        self._fed = 0
        self._prepare: tuple[str, Prerendered] | None = None
        self._prepared_at = 0  # self._fed when the story was last prepared
        self._prepare_after = 0.0
        self._prepare_spent = 0.0
        self._began = time.monotonic()

    def attach(self, session: LiveSession) -> None:
        """Show ``session``'s notices and status from now on."""
        self.session = session
        session.notice = self.notice
        session.tick = self.tick
        session.trace.on_idle = self.get_ahead

    def prepare_story(self, detail: str, prerendered: Prerendered) -> None:
        """While the loader is quiet, render the story so far into ``prerendered``:
        at the end, only the parts that changed since are rendered (after the loader
        exits, the user waits for every millisecond of that)."""
        self._prepare = (detail, prerendered)

    def get_ahead(self) -> None:
        """The idle hook (either backend's): prepare the story, within
        :data:`PREPARE_SPACING` and the budget (:data:`PREPARE_BUDGET`,
        :data:`PREPARE_SHARE`)."""
        if self._prepare is None or self._fed == self._prepared_at:
            return
        if len(self.explainer.tracker.actions) > PREPARE_MAX_ACTIONS:
            return
        begun = time.monotonic()
        budget = PREPARE_BUDGET + PREPARE_SHARE * (begun - self._began)
        if begun < self._prepare_after or self._prepare_spent > budget:
            return
        detail, prerendered = self._prepare
        fed = self._fed
        try:
            with self._lock:
                story = self.explainer.story_so_far(detail)
            prerendered.fill(story)
        except Exception:
            # Only ever a head start: the final story is made and printed as always.
            prerendered.clear()
            self._prepare = None
            return
        took = time.monotonic() - begun
        self._prepared_at = fed
        self._prepare_spent += took
        self._prepare_after = time.monotonic() + PREPARE_SPACING * took

    def notice(self, message: str) -> None:
        from rich.text import Text

        with self._lock:
            self.console.print(Text(f"bpfexplain: {message}", style="bold"), soft_wrap=True)

    def feed(self, event: Tracked) -> None:
        with self._lock:
            self._fed += 1
            steps = self.explainer.feed(event)
            if self.quiet or not steps:
                return
            from bpfexplain.render.text import print_step

            for step in steps:
                print_step(step, self.console)
            self._last_step = time.monotonic()

    def tick(self) -> None:
        session = self.session
        if self.quiet or session is None or not session.trace.running:
            return
        if session.interrupted or session.trace.killed:
            return
        from rich.text import Text

        with self._lock:
            if time.monotonic() - self._last_step < self.STATUS_AFTER:
                return
            status = self.status_line(session)
            if status != self._last_status:
                self._last_status = status
                self.console.print(Text(f"bpfexplain: {status}", style="dim"), soft_wrap=True)

    def status_line(self, session: LiveSession) -> str:
        """``1 program attached (tracepoint:raw_syscalls:sys_enter), bpftrace running —
        Ctrl-C to stop``."""
        live = [a for a in self.explainer.tracker.attachments
                if not a.probe and a.enabled and a.ended_line is None]
        programs = {id(a.prog) for a in live}
        name = os.path.basename(session.config.command[0]) if session.config.command \
            else f"process {session.config.pid}"
        head = ""
        if programs:
            head = f"{len(programs)} program{'s' if len(programs) != 1 else ''} attached"
            points = sorted({a.attach_point for a in live if a.attach_point})
            if points:
                more = ", ..." if len(points) > 3 else ""
                head += " (" + ", ".join(points[:3]) + more + ")"
            head += ", "
        stop = "Ctrl-C to detach" if session.trace.attach else "Ctrl-C to stop"
        return f"{head}{name} running — {stop}"

    def story(self, detail: str = "default") -> Story:
        return self.explainer.story(detail)


def run_deep(command: list[str], view: LiveView, *, duration: float | None = None) -> int:
    """Trace ``command`` with the ptrace backend (``run --deep``); its exit status.

    Events go to ``view`` as they happen, like the strace backend's; ``duration``
    sends SIGINT once the command has run that long, like pressing Ctrl-C.
    """
    from bpfexplain.deep import split
    from bpfexplain.deep.backend import deep_supported, trace_command

    prestarted = split.take(command)
    if prestarted is not None:
        # traced since bpfexplain.entry started it (never with a duration, which the
        # tracer would have to time)
        assert duration is None
        return prestarted.feed(view.feed, on_idle=view.get_ahead)
    reason = deep_supported()
    if reason is not None:
        raise EnvironmentProblem(f"--deep cannot work here: {reason}")
    resolve_command(command)
    last_event = time.monotonic()
    done = threading.Event()

    def feed(event: Event) -> None:
        nonlocal last_event
        last_event = time.monotonic()
        view.feed(event)

    def on_start(child: int, control: Control) -> None:
        if duration is not None:
            schedule = DurationStop(duration, time.monotonic())
            threading.Thread(target=_deep_duration, name="duration",
                             args=(schedule, child, control, view, done,
                                   lambda: last_event), daemon=True).start()

    try:
        _, status = trace_command(command, on_event=feed, on_start=on_start)
    finally:
        done.set()
    return status


def _deep_duration(schedule: DurationStop, child: int, control: Control, view: LiveView,
                   done: threading.Event, last_event: Callable[[], float]) -> None:
    """``--duration`` under ``--deep``: the strace backend's schedule, sent to the command
    (the tracer's own SIGINT handler is for a Ctrl-C at bpfexplain)."""
    while not done.wait(0.2):
        if control.interrupted():
            return  # the user's Ctrl-C: what happens next is theirs to say
        step = schedule.due(time.monotonic(), last_event())
        if step == "kill":
            view.notice(schedule.say(step))
            control.stop_everything()
            return
        if step is None:
            continue
        with contextlib.suppress(OSError):
            os.kill(child, signal.SIGINT)
        view.notice(schedule.say(step, f"the command (pid {child})"))
