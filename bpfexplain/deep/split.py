"""``run --deep`` started before the CLI: the tracer stays here, the explainer forks off.

Why: ``run --deep`` imports about 0.2 s of CPU work (typer, rich, the tracker, the
story) that the tracer does not need, and the traced command cannot run ahead while
they load: every one of its traced syscalls stops until this process answers.  A
thread would not help, since the imports hold the GIL through those stops.  So, as
:mod:`bpfexplain.entry` does with strace, the command starts first: when the argv is
a plain ``run --deep ... -- CMD`` (entry decides), :func:`prestart` forks.  The
child, the *explainer*, returns into the CLI as if nothing had happened, and
``run --deep`` there takes the events from a pipe (:func:`take`) instead of tracing.
This process, the one the user, the terminal and any ``kill`` see, traces the command
with the very same :class:`~bpfexplain.deep.backend.Tracer` (its Ctrl-C handling
unchanged), then waits for the explainer and exits with its status.  The two run on
both cores: the imports overlap the command's own run.  The explainer carries on
without typer (:func:`bpfexplain.entry.run_prestarted`, proven to make typer's call)
and below the command's priority until the trace ends (:data:`EXPLAINER_NICENESS`),
and the tracer imports nothing on its way to the command's exec that it can import
after it (pickle, queue, threading: the explainer's pipe is written from the first
event on).

The pipe carries pickles of ``(kind, value)``: ``("event", Event)`` for each event in
order, then ``("end", status)``, or ``("error", message)`` for an EnvironmentProblem,
or ``("crash", description)`` for a bug.  Both ends are this program (a fork), so the
pickles are trusted; the events are the Tracer's own objects, equal after the trip
(tests/test_deep_split.py).

If the explainer exits before the trace ends (typer refused something after all, a
bug), the trace is ended as a second Ctrl-C would, and this process exits with the
explainer's status: nothing is left running.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from bpfexplain.errors import EnvironmentProblem

if TYPE_CHECKING:
    import queue
    import threading

    from bpfexplain.values import Event

# pickle, queue and threading are imported where used: the tracer needs them only once
# the command is forked, and everything it imports before holds the command back.

__all__ = ["Incoming", "explain", "prestart", "take"]

_incoming: Incoming | None = None
"""In the explainer: the pipe from the tracer, until ``run --deep`` takes it."""

EXPLAINER_NICENESS = 5
"""How far below the tracer's (and so the command's) the explainer's priority is while
the command runs: on a busy machine the command and the tracer, which it waits for at
every stop, get the CPU first, and the explainer catches up (it has nothing to say
before the end anyway).  The strace backend's parser thread does the same
(:data:`bpfexplain.live.PARSER_NICENESS`, held equal by tests/test_deep_split.py)."""

_niceness: int | None = None
"""In the explainer: its nice value before :func:`_lower_priority`, until restored."""


def _lower_priority() -> None:
    """Lower the explainer's priority (one thread yet: the whole process's)."""
    global _niceness
    try:
        old = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, 0, min(old + EXPLAINER_NICENESS, 19))
    except OSError:
        return
    _niceness = old


def _restore_priority() -> None:
    """Back to the priority the explainer had (allowed to root; otherwise the story is
    simply told at the lower one), now that the command has ended: the user waits for
    the story."""
    global _niceness
    if _niceness is not None:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, _niceness)
        _niceness = None


class _QuietRaw(io.RawIOBase):
    """The pipe from the tracer as a raw stream that calls ``idle`` (when set) once the
    tracer has sent nothing for :data:`bpfexplain.live.IDLE_AFTER` seconds, once per
    quiet spell, before the read blocks on: as the strace backend's reader does."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self.idle: Callable[[], None] | None = None

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, buffer: Any) -> int:
        if self.idle is not None:
            import select

            from bpfexplain.live import IDLE_AFTER

            ready, _, _ = select.select([self._fd], [], [], IDLE_AFTER)
            if not ready:
                self.idle()
        return os.readv(self._fd, [buffer])

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


class Incoming:
    """The explainer's end: the events the tracer sends, for ``command``."""

    def __init__(self, command: list[str], fd: int) -> None:
        self.command = command
        self._raw = _QuietRaw(fd)
        self._stream = io.BufferedReader(self._raw)

    def messages(self) -> Iterator[tuple[str, Any]]:
        import pickle

        while True:
            try:
                # one Unpickler per message: each pickle numbers its memo from 0
                message = pickle.load(self._stream)
            except EOFError:
                return
            yield message

    def feed(self, on_event: Callable[[Event], None],
             on_idle: Callable[[], None] | None = None) -> int:
        """Pass every event to ``on_event`` as it arrives; the command's exit status.
        ``on_idle`` is called when the tracer has been quiet for a moment."""
        _warm_up()
        self._raw.idle = on_idle
        try:
            for kind, value in self.messages():
                if kind == "event":
                    on_event(value)
                elif kind == "end":
                    return int(value)
                elif kind == "error":
                    raise EnvironmentProblem(str(value))
                else:
                    raise RuntimeError(f"the tracer failed: {value}")
            raise EnvironmentProblem("the ptrace tracer stopped before the command ended")
        finally:
            _restore_priority()
            self.close()
            # the tracer has the terminal's Ctrl-C from here on (see prestart)
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def close(self) -> None:
        self._stream.close()


def _warm_up() -> None:
    """Build now, while the command runs, what the story would otherwise build only
    after it ended, while the user waits: the glossary's index of terms (about 4 ms,
    the bulk of a first story of a short run).  The explainer has the time: the
    command's first events are all it has to read meanwhile."""
    from bpfexplain import glossary

    glossary.all_entries()


def take(command: list[str]) -> Incoming | None:
    """The pre-started trace, when it was started for exactly ``command``."""
    global _incoming
    incoming, _incoming = _incoming, None
    if incoming is None:
        return None
    if incoming.command != command:
        # Cannot happen when entry's argv check is right.  Closing the pipe ends that
        # trace (the tracer stops at the first event it cannot send).
        incoming.close()
        _restore_priority()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        return None
    return incoming


class _Sender:
    """The tracer's end: pickles now, written by a thread, so a busy explainer (still
    importing) never holds up the traced command."""

    def __init__(self, fd: int, on_broken: Callable[[], None]) -> None:
        self._fd = fd
        self._queue: queue.SimpleQueue[bytes | None] | None = None
        self._on_broken = on_broken
        self._thread: threading.Thread | None = None
        self.broken = False

    def start(self) -> None:
        # Started once the command is forked (no thread exists while the child runs
        # Python code between fork and exec), and pickle and queue imported only then:
        # the command's exec overlaps their import instead of waiting for it.
        import pickle
        import queue
        import threading

        self._dumps = pickle.dumps
        self._protocol = pickle.HIGHEST_PROTOCOL
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="bpfexplain-sender",
                                        daemon=True)
        self._thread.start()

    def send(self, kind: str, value: object) -> None:
        if self._queue is None:
            self.start()  # an event before the command started: cannot happen, but safe
        assert self._queue is not None
        if not self.broken:
            self._queue.put(self._dumps((kind, value), protocol=self._protocol))

    def _write(self) -> None:
        assert self._queue is not None
        while (data := self._queue.get()) is not None:
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self._fd, view):]
            except OSError:             # EPIPE: the explainer is gone
                self.broken = True
                self._on_broken()
                return

    def close(self) -> None:
        if self._thread is None:
            self.start()
        assert self._queue is not None
        self._queue.put(None)
        assert self._thread is not None
        self._thread.join()
        os.close(self._fd)


def prestart(command: list[str]) -> bool:
    """Start tracing ``command`` before the CLI exists (see the module docstring).

    True in the explainer, with the trace waiting for :func:`take` (run the CLI with
    :func:`explain`); False at once, having started nothing, when any check
    ``run --deep`` makes before tracing would fail (the ordinary path then says
    why); never returns in the tracer.
    """
    global _incoming
    from bpfexplain.launch import which

    if not command or which(command[0]) is None:
        return False    # live.resolve_command's error, told by run
    from bpfexplain.deep import backend

    try:
        path, native = backend.prepare(command)
    except EnvironmentProblem:
        return False
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    # The explainer must not die of the terminal's Ctrl-C, which the whole foreground
    # group gets: the tracer decides what the first and the second one do.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    explainer = os.fork()
    if explainer == 0:
        os.close(write_end)
        _lower_priority()
        _incoming = Incoming(list(command), read_end)
        return True
    os.close(read_end)
    signal.signal(signal.SIGINT, previous)
    _trace(command, path, native, write_end, explainer)


def _trace(command: list[str], path: str, native: int, fd: int, explainer: int) -> NoReturn:
    from bpfexplain.deep import backend

    tracer = backend.Tracer(native, None)
    sender = _Sender(fd, tracer._kill_all)
    tracer.on_event = lambda event: sender.send("event", event)
    tracer.companion = explainer
    try:
        sender.send("end", tracer.run(path, list(command), lambda pid, stop: sender.start()))
    except EnvironmentProblem as exc:
        sender.send("error", str(exc))
    except BaseException as exc:    # a bug: the explainer reports it as run would
        sender.send("crash", f"{type(exc).__name__}: {exc}")
    sender.close()
    # From here the explainer has the terminal's Ctrl-C (it prints the story).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    status = tracer.companion_status
    if status is None:
        try:
            _, status = os.waitpid(explainer, 0)
        except ChildProcessError:   # reaped by the tracer's loop after all
            status = tracer.companion_status or 0
    # Nothing to tear down here: leave without unloading the interpreter.
    os._exit(_exit_code(status))


def _exit_code(status: int) -> int:
    """A wait status as the shell reports it: the code, or 128+N for signal N."""
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def explain(main: Callable[[], int]) -> NoReturn:
    """Run ``run --deep``'s explaining side in the explainer (``main`` returns the exit
    status, or raises SystemExit as the CLI does), then leave at once with that status.

    A forked child leaves with ``os._exit``: the interpreter's teardown (tens of
    milliseconds with rich, typer and the tracker loaded) would only delay the
    tracer, which waits for this exit to exit itself.  Output is flushed first.
    """
    code = 0
    try:
        code = main()
    except SystemExit as exc:
        from bpfexplain.entry import exit_status

        code = exit_status(exc)
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except BaseException:
        import traceback  # not before the command starts: only a crash needs it

        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1
    os._exit(code)
