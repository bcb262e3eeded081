"""``--duration``'s schedule: when a run with a time limit sends which signal.

Both backends (strace's watcher thread, the ptrace tracer's timer thread) ask
:meth:`DurationStop.due` a few times a second and do what it says; this module only
decides, it sends nothing.

Why more than one SIGINT: a loader may lose the first.  bpftrace 0.17's SIGINT
handler only sets a flag, and the flag is read when its ``epoll_wait`` fails with
EINTR or when its BPF side sends an event; a SIGINT that lands while it is still
attaching (a slow uprobe ``perf_event_open`` on a busy machine) sets the flag before
the poll loop starts, and a probe that never fires then polls forever.  Waiting for
the log to go quiet first (:data:`SETTLED`) makes that rare, not impossible: a
syscall that takes long looks just as quiet.  So once the command has been left alone
for a while after a SIGINT without showing any activity, it gets another, and a
command that outlives all of them is SIGKILLed like a second Ctrl-C would: a
``--duration`` run always ends.  No second SIGINT while the log moves: a loader busy
printing its maps on the way out must not be interrupted halfway (BCC's Python tools
die with a traceback at a second KeyboardInterrupt).
"""

from __future__ import annotations

from typing import Literal

Step = Literal["interrupt", "interrupt-again", "kill"]

SETTLED = 0.3
"""The first SIGINT waits for this much quiet in the log: a loader in the middle of
starting up may lose it, one that has settled into running acts on it."""

SETTLE_CAP = 5.0
"""...but no longer than this past the duration, for loaders that never go quiet."""

AGAIN_AFTER = 2.0
"""Seconds after a SIGINT before another may be sent..."""

AGAIN_QUIET = 1.0
"""...and only once the log has been this long without a line: a loader acting on the
SIGINT (detaching, printing its maps) shows it."""

AGAINS = 2
"""SIGINTs sent after the first before giving up on them."""

KILL_AFTER = 5.0
"""After the last SIGINT, seconds of a quiet log before everything is SIGKILLed..."""

KILL_CAP = 30.0
"""...or seconds after the first SIGINT, whatever the log does."""


class DurationStop:
    """Where one run is in the schedule; times are ``time.monotonic()`` seconds.

    A plain class, not a dataclass: every ``run`` imports this module, and a
    dataclass costs about a millisecond of start-up to build (issue 11)."""

    __slots__ = ("duration", "first_sigint", "killed", "last_sigint", "sigints", "started")

    def __init__(self, duration: float, started: float) -> None:
        self.duration = duration
        self.started = started
        self.sigints = 0
        self.first_sigint = 0.0
        self.last_sigint = 0.0
        self.killed = False

    def due(self, now: float, last_output: float) -> Step | None:
        """The step to take now, if any (taken to be done: call again for the next).

        ``last_output`` is when the log last grew (or ``started``, before it has)."""
        if self.killed:
            return None
        quiet = now - max(last_output, self.started)
        if self.sigints == 0:
            over = now - self.started - self.duration
            if over < 0 or (quiet < SETTLED and over < SETTLE_CAP):
                return None
            self.sigints = 1
            self.first_sigint = self.last_sigint = now
            return "interrupt"
        since_last = now - self.last_sigint
        if self.sigints <= AGAINS:
            if since_last >= AGAIN_AFTER and quiet >= AGAIN_QUIET:
                self.sigints += 1
                self.last_sigint = now
                return "interrupt-again"
            if now - self.first_sigint < KILL_CAP:
                return None
        elif (since_last < KILL_AFTER or quiet < AGAIN_QUIET) \
                and now - self.first_sigint < KILL_CAP:
            return None
        self.killed = True
        return "kill"

    def say(self, step: Step, whom: str = "") -> str:
        """What bpfexplain tells the user it did at ``step``, ``whom`` being who got the
        SIGINT (``the command (pid 1234)``; no one at ``kill``): both backends word it
        alike."""
        if step == "interrupt":
            return f"--duration {self.duration:g}s elapsed: sent SIGINT to {whom}"
        if step == "interrupt-again":
            return (f"still running and quiet {AGAIN_AFTER:g}s after the SIGINT (it may have "
                    f"come too early to be seen): sent SIGINT again to {whom}")
        return f"still running after {self.sigints} SIGINTs: stopping everything now (SIGKILL)"
