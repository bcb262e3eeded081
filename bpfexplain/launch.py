"""Start strace (and its watchdog) for ``run``, with next to nothing imported.

Every millisecond between the interpreter's start and strace's exec is one the
loader waits for (issue 11), so this module is the whole way from ``run``'s argv to
strace running: find strace and ask its version, check the command, make the FIFO,
start the watchdog, start strace.  It imports only modules the interpreter has
loaded anyway (``os``, ``_signal``, ``_thread``, ``time``) and two tiny modules of
ours; no ``subprocess``, ``threading``, ``re``, ``dataclasses``, ``tempfile`` or
``shutil``, which cost tens of milliseconds together.  :mod:`bpfexplain.live` takes
the started strace over (reader thread, signal watcher, the story) once it is
imported, while the loader already runs.

The watchdog and ``strace -V`` are started with ``posix_spawn`` (vfork and exec in
the C library); strace itself with a plain fork and exec and a few lines of Python
in the child (:func:`fork_exec`), because glibc's ``posix_spawn`` leaves its two
internal signals (32 and 33) *ignored* in the child, and strace would hand that on
to the traced command.  Either way the child gets what ``subprocess.Popen`` gave it:
the signal mask it is handed, default dispositions for the signals Python ignores
(``SIGPIPE``, ``SIGXFSZ``: ``restore_signals``), only fds 0-2 and the ones passed on
purpose (``close_fds``), a session of its own for the watchdog
(``start_new_session``); and, with no watchdog, a parent-death signal.
"""

# ruff: noqa: SIM105  (try/except/pass: contextlib is one of the imports avoided here)

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal.py's enums cost enum, functools...
import _thread
import os
import sys
import time

from bpfexplain.errors import BpfexplainError, CommandNotFound, EnvironmentProblem
from bpfexplain.traced import TRACED, TRACEFS_ROOTS

TYPE_CHECKING = False  # typing itself costs milliseconds; mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

MIN_STRACE = (4, 17)
"""``-e trace=?NAME`` (no error for a syscall this architecture lacks) came in 4.17."""

MIN_SECCOMP_BPF = (5, 3)
"""``--seccomp-bpf`` (untraced syscalls never stop the tracee) came in 5.3."""

STRING_LIMIT = 256
"""``-s``: enough for program and map names, paths and tracefs reads."""

BLOCKED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGCHLD)
"""Blocked from before strace starts until the run is over (see live.py: the signals
bpfexplain takes over, and SIGCHLD, which wakes its watcher thread)."""

_RESTORED = (_signal.SIGPIPE, _signal.SIGXFSZ)
"""Ignored by Python at start-up; a child gets them back at their defaults."""

_PR_SET_PDEATHSIG = 1
_F_SETPIPE_SZ = 1031
_SPAWN_TIMEOUT = 10.0


class TimedOut(Exception):
    """A :meth:`Child.wait` with a timeout ran out."""


# --------------------------------------------------------------------------------
# strace itself


class Strace:
    """The strace binary to use and what it can do (a value: compared by its fields)."""

    __slots__ = ("kill_on_exit", "path", "version", "version_text")

    def __init__(self, path: str, version: tuple[int, ...], version_text: str,
                 kill_on_exit: bool = False):
        self.path = path
        self.version = version
        self.version_text = version_text
        self.kill_on_exit = kill_on_exit
        """``--kill-on-exit``: strace's tracees get SIGKILL when strace dies (EXITKILL)."""

    def _fields(self) -> tuple[str, tuple[int, ...], str, bool]:
        return (self.path, self.version, self.version_text, self.kill_on_exit)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Strace):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (f"Strace(path={self.path!r}, version={self.version!r}, "
                f"version_text={self.version_text!r}, kill_on_exit={self.kill_on_exit!r})")

    @property
    def seccomp_bpf(self) -> bool:
        return self.version >= MIN_SECCOMP_BPF


_FOUND: dict[tuple[str, int, int, int], Strace] = {}
"""strace binaries already asked for their version in this process, by path and identity:
``run`` may ask in :mod:`bpfexplain.entry` and again in the CLI, and each ``strace -V``
is a fork and exec (milliseconds the loader waits for)."""


def which(name: str) -> str | None:
    """``shutil.which(name)`` (same search, same answers) without importing shutil."""
    def runnable(path: str) -> bool:
        return os.path.exists(path) and os.access(path, os.X_OK) and not os.path.isdir(path)

    if os.path.dirname(name):
        return name if runnable(name) else None
    search = os.environ.get("PATH")
    if search is None:
        search = os.confstr("CS_PATH") or os.defpath
    if not search:
        return None
    seen: set[str] = set()
    for folder in search.split(os.pathsep):
        if folder in seen:
            continue
        seen.add(folder)
        path = os.path.join(folder, name)
        if runnable(path):
            return path
    return None


def find_strace(program: str = "strace") -> Strace:
    """Locate strace and read its version; one-line errors when it is missing or too old."""
    path = which(program)
    if path is None:
        if os.sep in program:
            raise EnvironmentProblem(f"{program}: no such strace binary")
        raise EnvironmentProblem("strace is not installed (install it: apt-get install strace)")
    try:
        info = os.stat(path)
    except OSError:
        return _ask_strace(path)
    key = (path, info.st_ino, info.st_size, info.st_mtime_ns)
    found = _FOUND.get(key)
    if found is None:
        identity = _identity(path, info)
        remembered = _remembered_lines()
        found = _remembered(identity, remembered)
        if found is None:
            found = _ask_strace(path)
            _remember(path, identity, found, remembered)
        _FOUND[key] = found
    return found


# strace -V (and -h) cost the loader 2-5 ms at every start: what a binary answered is
# kept in the private cache directory, keyed by the file's identity, so that only a
# new or changed strace is asked again.  One line per binary, the newest first:
#   path TAB dev TAB ino TAB size TAB mtime_ns TAB ctime_ns TAB kill_on_exit TAB banner
# (a path or banner with a tab or a line break is never remembered).

_VERSIONS_FILE = "strace-versions-1"
_VERSIONS_KEPT = 8
_VERSIONS_LIMIT = 1 << 16


def _identity(path: str, info: os.stat_result) -> str:
    """``path`` and what changes when the file at it is replaced or rewritten."""
    return "\t".join((path, str(info.st_dev), str(info.st_ino), str(info.st_size),
                      str(info.st_mtime_ns), str(info.st_ctime_ns)))


def _remembered_lines() -> list[str]:
    from bpfexplain.private import cache_dir, open_private_dir, read_private

    folder = cache_dir()
    dir_fd = open_private_dir(folder) if folder else None
    if dir_fd is None:
        return []
    try:
        data = read_private(dir_fd, _VERSIONS_FILE, limit=_VERSIONS_LIMIT)
    finally:
        os.close(dir_fd)
    if data is None:
        return []
    return data.decode("utf-8", "replace").split("\n")


def _remembered(identity: str, lines: list[str]) -> Strace | None:
    """What the strace of ``identity`` answered before, if ``lines`` (the cache's)
    remember it intact."""
    prefix = identity + "\t"
    for line in lines:
        if not line.startswith(prefix):
            continue
        fields = line[len(prefix):].split("\t")
        if len(fields) != 2 or fields[0] not in ("0", "1"):
            return None
        banner = fields[1]
        version = version_in(banner)
        if version is None or version < MIN_STRACE:
            return None  # asked again: the asking says what is wrong
        return Strace(identity.split("\t", 1)[0], version, banner,
                      kill_on_exit=fields[0] == "1")
    return None


def _remember(path: str, identity: str, found: Strace, lines: list[str]) -> None:
    """Keep ``found`` for the next start, with the other binaries' ``lines`` (best
    effort: a cache, never an error)."""
    banner = found.version_text
    if any(c in text for text in (path, banner) for c in "\t\n\r") \
            or version_in(banner) != found.version:
        return
    line = f"{identity}\t{int(found.kill_on_exit)}\t{banner}"
    kept = [old for old in lines if old and not old.startswith(path + "\t")]
    from bpfexplain.private import cache_dir, open_private_dir
    from bpfexplain.safeio import write_private

    folder = cache_dir()
    dir_fd = open_private_dir(folder, create=2) if folder else None
    if dir_fd is None:
        return
    try:
        write_private(dir_fd, _VERSIONS_FILE,
                      "\n".join([line, *kept[:_VERSIONS_KEPT - 1]]).encode() + b"\n")
    finally:
        os.close(dir_fd)


def version_in(banner: str) -> tuple[int, ...] | None:
    """The first ``version N.N[.N]`` in ``banner`` (as ``re.search(r"version
    (\\d+)\\.(\\d+)(?:\\.(\\d+))?")`` finds it), or None."""
    start = banner.find("version ")
    while start >= 0:
        numbers: list[int] = []
        at = start + len("version ")
        while len(numbers) < 3:
            end = at
            while end < len(banner) and banner[end].isdecimal():
                end += 1
            if end == at:
                break
            numbers.append(int(banner[at:end]))
            if len(numbers) == 3 or end >= len(banner) or banner[end] != "." or \
                    end + 1 >= len(banner) or not banner[end + 1].isdecimal():
                break
            at = end + 1
        if len(numbers) >= 2:
            return tuple(numbers)
        start = banner.find("version ", start + 1)
    return None


def _ask_strace(path: str) -> Strace:
    try:
        out = _output([path, "-V"], stderr=False)
    except (OSError, TimedOut) as exc:
        raise EnvironmentProblem(f"cannot run {path} -V: {exc}") from None
    first = out.decode("utf-8", "replace").splitlines()[0] if out.strip() else ""
    version = version_in(first)
    if version is None:
        # A custom build with an unusual banner: assume it is recent rather than refuse.
        return Strace(path, (99,), first or "unknown",
                      kill_on_exit=_has_kill_on_exit(path, (99,)))
    if version < MIN_STRACE:
        raise EnvironmentProblem(
            f"{path} is strace {'.'.join(map(str, version))}, too old for "
            f"'-e trace=?NAME' (needs {'.'.join(map(str, MIN_STRACE))} or newer); "
            "install a newer strace"
        )
    return Strace(path, version, first, kill_on_exit=_has_kill_on_exit(path, version))


def _has_kill_on_exit(path: str, version: tuple[int, ...]) -> bool:
    """Whether this strace knows ``--kill-on-exit`` (strace 6.1, for one, does not).

    Asked of the binary's own help, not guessed from the version; strace before 6.2
    cannot have it, so those are not even asked (a subprocess fewer at start-up).
    """
    if version < (6, 2):
        return False
    try:
        out = _output([path, "-h"], stderr=True)
    except (OSError, TimedOut):
        return False
    return b"--kill-on-exit" in out


def _output(argv: list[str], *, stderr: bool) -> bytes:
    """What ``argv`` writes on stdout (and stderr, merged, with ``stderr``), as
    ``subprocess.run(capture_output=True, timeout=10)`` would read it."""
    import select  # a C module: no import chain

    read_end, write_end = os.pipe()
    actions: list[tuple[object, ...]] = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_DUP2, write_end, 1)]
    if stderr:
        actions.append((os.POSIX_SPAWN_DUP2, write_end, 2))
    else:
        actions.append((os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0))
    try:
        child = spawn(argv, actions=actions)
    finally:
        os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + _SPAWN_TIMEOUT
    try:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([read_end], [], [], max(left, 0))
            if not ready:
                child.kill()
                child.wait()
                raise TimedOut(f"Command '{argv}' timed out after {_SPAWN_TIMEOUT:g} seconds")
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
    child.wait()
    return b"".join(chunks)


def trace_filter() -> str:
    """``-e trace=`` for the prefilter set; ``?`` keeps strace quiet about syscalls
    this architecture does not have (``fcntl64``, ``mmap2`` on x86_64)."""
    return "trace=" + ",".join("?" + name for name in sorted(TRACED))


def strace_flags(strace: Strace, *, attach: bool = False) -> list[str]:
    """The tracing flags ``run`` uses (without ``-o`` and the command): shared with the
    benchmark so that it compares like with like."""
    # -q: "Process N attached/detached" would land on the user's terminal, not in the log.
    flags = ["-f", "-q", "-ttt", "-s", str(STRING_LIMIT), "-e", trace_filter(),
             # perf_event_attr in full (the rest abbreviated as usual): a uprobe's file
             # offset (config2) only shows unabbreviated, and it names the probe.
             "-e", "abbrev=!perf_event_open"]
    if strace.kill_on_exit and not attach:
        # strace dying (whatever kills it) takes the traced command with it.
        flags.append("--kill-on-exit")
    if strace.seccomp_bpf and not attach:
        # Not with -p: the filter is installed in the command when strace starts it;
        # an attached process has none, and strace refuses the combination.
        flags.append("--seccomp-bpf")
    return flags


# --------------------------------------------------------------------------------
# checks before starting


def resolve_command(command: Sequence[str]) -> str:
    """The program that ``command`` runs, or a one-line error (exit 127/126 as a shell)."""
    name = command[0]
    found = which(name)
    if found is not None:
        return found
    if os.sep in name and os.path.exists(name):
        if os.path.isdir(name):
            raise CommandNotFound(f"{name}: is a directory", exit_code=126)
        raise CommandNotFound(f"{name}: permission denied (not executable)", exit_code=126)
    raise CommandNotFound(f"{name}: command not found")


def has_bpf_privileges() -> bool:
    """Root, or CAP_SYS_ADMIN, or both CAP_BPF and CAP_PERFMON (kernel 5.8+)."""
    if os.geteuid() == 0:
        return True
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            status = f.read()
    except OSError:
        return False
    caps = 0
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            try:
                caps = int(line[len("CapEff:"):].strip(), 16)
            except ValueError:
                pass
            break
    cap_sys_admin, cap_perfmon, cap_bpf = 21, 38, 39
    return bool(caps >> cap_sys_admin & 1) or bool(caps >> cap_bpf & 1 and caps >> cap_perfmon & 1)


def tracefs_state() -> str:
    """``readable``, ``unreadable`` (mounted, but root-only: 0700 by default) or
    ``unmounted``.  ``os.path`` answers False where ``pathlib`` raises on EACCES."""
    if any(os.path.isdir(os.path.join(root, "events")) for root in TRACEFS_ROOTS):
        return "readable"
    if any(os.path.ismount(root) for root in TRACEFS_ROOTS):
        return "unreadable"
    return "unmounted"


def preflight_warnings() -> list[str]:
    """Things that do not stop a run but change what the story can say."""
    warnings: list[str] = []
    if not has_bpf_privileges():
        warnings.append(
            "not running as root: loading eBPF needs root or the CAP_BPF and CAP_PERFMON "
            "capabilities (CAP_SYS_ADMIN on kernels before 5.8), so the kernel will most "
            "likely refuse with EPERM; the story will show where"
        )
    if tracefs_state() == "unmounted":
        warnings.append(
            "tracefs is not mounted, so tracepoint ids cannot be named (and tracepoint "
            "tools will fail); mount it: mount -t tracefs nodev /sys/kernel/tracing"
        )
    return warnings


# --------------------------------------------------------------------------------
# processes


class Child:
    """A process we started: ``subprocess.Popen``'s waiting, without subprocess.

    Any thread may wait or poll: one reaps (``waitpid``), under a lock, and the others
    see its status; a poll while another thread waits answers "still running", as
    ``Popen.poll`` does."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        """Its exit status, negative for a signal (``Popen.returncode``); None while it runs."""
        self._lock = _thread.allocate_lock()

    def _reap(self, flags: int) -> bool:
        """One ``waitpid`` (the lock held); whether the status is known now."""
        if self.returncode is not None:
            return True
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:
            # Reaped elsewhere (SIGCHLD set to SIG_IGN): the status is lost.
            self.returncode = 0
            return True
        if pid != self.pid:
            return False
        self.returncode = os.waitstatus_to_exitcode(status)
        return True

    def poll(self) -> int | None:
        if self.returncode is None and self._lock.acquire(False):
            try:
                self._reap(os.WNOHANG)
            finally:
                self._lock.release()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Its exit status; :class:`TimedOut` when it outlives ``timeout`` seconds."""
        if timeout is None:
            while self.returncode is None:
                with self._lock:
                    self._reap(0)
            return self.returncode
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while True:
            if self.poll() is not None:
                assert self.returncode is not None
                return self.returncode
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimedOut(f"process {self.pid} still runs after {timeout:g} s")
            delay = min(delay * 2, left, 0.05)
            time.sleep(delay)

    def send_signal(self, sig: int) -> None:
        """Signal it unless it is known to be gone (its pid may be someone else's then)."""
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(_signal.SIGKILL)


def _inherited_fds(keep: Iterable[int]) -> list[int]:
    """Our fds a child would inherit, beyond 0-2 and ``keep`` (``Popen``'s close_fds)."""
    kept = {0, 1, 2, *keep}
    found: list[int] = []
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return found
    for name in names:
        fd = int(name)
        if fd in kept:
            continue
        try:
            if os.get_inheritable(fd):
                found.append(fd)
        except OSError:
            pass  # the listing's own fd, closed meanwhile
    return found


def spawn(argv: list[str], *, actions: list[tuple[object, ...]] | None = None,
          keep: tuple[int, ...] = (), mask: Iterable[int] | None = None,
          new_session: bool = False) -> Child:
    """Start ``argv[0]`` (a path) with ``posix_spawn``: ``keep`` fds passed on, every
    other inherited fd above 2 closed, SIGPIPE and SIGXFSZ at their defaults, the
    signal mask ``mask`` (None: the caller's), a new session with ``new_session``.

    ``keep`` fds are made inheritable just for the spawn: a process another thread
    started meanwhile would inherit them too, so callers spawn before their threads."""
    file_actions: list[tuple[object, ...]] = list(actions or [])
    file_actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited_fds(keep)]
    made: list[int] = []
    try:
        for fd in keep:
            if not os.get_inheritable(fd):
                os.set_inheritable(fd, True)
                made.append(fd)
        if mask is None:  # (an empty setsigmask would empty the mask: not the same)
            pid = os.posix_spawn(argv[0], argv, os.environ,
                                 file_actions=file_actions,
                                 setsigdef=_RESTORED, setsid=new_session)
        else:
            pid = os.posix_spawn(argv[0], argv, os.environ,
                                 file_actions=file_actions,
                                 setsigdef=_RESTORED, setsid=new_session, setsigmask=mask)
    finally:
        for fd in made:
            os.set_inheritable(fd, False)
    return Child(pid)


def fork_exec(argv: list[str], mask: Iterable[int], *, dies_with_us: bool) -> Child:
    """Start ``argv[0]`` (a path) as :func:`spawn` would, by fork and exec: with
    ``dies_with_us``, also with ``PR_SET_PDEATHSIG`` (strace when there is no watchdog
    to outlive us: see live.py).

    The child sets the mask, the signal defaults (and the death signal), closes what
    ``Popen`` would close and execs; an exec failure comes back through a
    close-on-exec pipe."""
    libc = None
    if dies_with_us:
        import ctypes  # loaded before the fork: the child only calls into it

        libc = ctypes.CDLL(None)
    close = _inherited_fds(())
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
            for sig in _RESTORED:
                _signal.signal(sig, _signal.SIG_DFL)
            if libc is not None:
                libc.prctl(_PR_SET_PDEATHSIG, _signal.SIGKILL, 0, 0, 0)
            for fd in close:
                try:
                    os.close(fd)
                except OSError:
                    pass
            os.execv(argv[0], argv)
        except OSError as exc:
            os.write(report_w, str(exc.errno or 0).encode())
        finally:
            os._exit(127)
    os.close(report_w)
    try:
        said = os.read(report_r, 32)
    finally:
        os.close(report_r)
    if said:
        os.waitpid(pid, 0)
        code = int(said)
        raise OSError(code, os.strerror(code), argv[0])
    return Child(pid)


# --------------------------------------------------------------------------------
# the watchdog: what strace cannot do for itself when bpfexplain is SIGKILLed

WATCHDOG = r"""
import os, select, signal, sys, time
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
    signal.signal(s, signal.SIG_IGN)
control, log, save, attach = (int(a) for a in sys.argv[1:5])
said = b""
while True:
    chunk = os.read(control, 64)
    if not chunk:
        break
    said += chunk
words = said.split()
if not words or words[-1] == b"done":
    os._exit(0)  # nothing to guard: no teardown either, bpfexplain may be reaping us
strace = int(words[0])

def status(pid):
    try:
        with open("/proc/%d/status" % pid, "rb") as f:
            text = f.read()
    except OSError:
        return None
    fields = dict(line.split(b":", 1) for line in text.splitlines() if b":" in line)
    return int(fields.get(b"PPid", b"0")), int(fields.get(b"TracerPid", b"0"))

def traced():
    found, children = set(), {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = status(int(entry))
            if info is not None:
                children.setdefault(info[0], []).append(int(entry))
                if info[1] == strace:
                    found.add(int(entry))
    todo = [strace, *found]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    found.discard(strace)
    found.discard(os.getpid())
    return found

deadline = time.monotonic() + 5
while not attach and time.monotonic() < deadline:
    victims = traced()
    if not victims:
        break
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.02)
# strace writes the deaths (its last lines) and exits; then it is told to go anyway.
grace = time.monotonic() + 0.5
while status(strace) is not None and time.monotonic() < grace + 2:
    if time.monotonic() > grace:
        try:
            os.kill(strace, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.02)
if log >= 0 and save >= 0:
    # Whatever strace wrote after bpfexplain died still reaches the saved log.
    os.set_blocking(log, False)
    end = time.monotonic() + 2
    while time.monotonic() < end:
        ready, _, _ = select.select([log], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(log, 1 << 16)
        except BlockingIOError:
            continue
        if not chunk:
            break
        os.write(save, chunk)
"""
"""Run with ``python -I -S -c`` in a session of its own, beside strace: if bpfexplain
dies without saying ``done`` on the control pipe (SIGKILL, the OOM killer), it
SIGKILLs everything strace traces, then strace, and copies strace's last lines into
the ``--save`` log.  strace before 6.2 has no ``--kill-on-exit``, and a tracer that
simply dies only *detaches* its tracees: a loader would keep its programs attached
with nobody watching.  With ``-p`` only strace is killed (the process is not ours)."""


class Watchdog:
    """The watchdog process and our end of its control pipe."""

    def __init__(self, log_fd: int, save_fd: int, attach: bool):
        read_end, self._control = os.pipe()  # both close-on-exec: nobody else inherits them
        self._release_lock = _thread.allocate_lock()
        fds = tuple(fd for fd in (read_end, log_fd, save_fd) if fd >= 0)
        try:
            self.proc: Child | None = spawn(
                [sys.executable, "-I", "-S", "-c", WATCHDOG, str(read_end), str(log_fd),
                 str(save_fd), str(int(attach))],
                actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)],
                keep=fds, new_session=True)
        except OSError:
            self.proc = None
        finally:
            os.close(read_end)

    def watch(self, strace_pid: int) -> None:
        try:
            os.write(self._control, f"{strace_pid}\n".encode())
        except OSError:
            pass

    def release(self) -> None:
        """Tell the watchdog it is not needed: it leaves without touching anything.

        Safe from any thread, and more than once.  The reader thread calls it as soon
        as strace has exited and its log is read (and saved) to the end: nothing is
        left to guard then, and the watchdog exits while the story is still being
        told instead of being waited for after it."""
        with self._release_lock:
            if self._control >= 0:
                try:
                    os.write(self._control, b"done\n")
                except OSError:
                    pass
                os.close(self._control)
                self._control = -1

    def stand_down(self) -> None:
        """Everything ended in order: released, and its process reaped, but not waited for.

        Released, it exits within milliseconds; waiting for that cost every run 1-4 ms
        at its very end.  A daemon thread reaps it instead (killing it if it has not
        left within 5 s), so that a long-lived caller keeps no zombie; a bpfexplain
        that exits first leaves the reaping to init."""
        self.release()
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            _thread.start_new_thread(_reap, (proc,))


def _reap(proc: Child) -> None:
    if not exited_within(proc, 5):
        proc.kill()
    proc.wait()


def exited_within(proc: Child, timeout: float) -> bool:
    """Whether ``proc`` exits within ``timeout`` seconds, told the moment it does.

    Polling waits with sleeps that double up to 50 ms: at the end of every run that
    cost about 7 ms of waiting for a watchdog that had long gone.  A pidfd becomes
    readable when the process exits (Linux 5.3+); without one, the polling wait it is."""
    import select

    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        try:
            proc.wait(timeout)
        except TimedOut:
            return False
        return True
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    return bool(ready)


# --------------------------------------------------------------------------------
# strace started


def private_dir(prefix: str) -> str:
    """A new directory only we may use (``tempfile.mkdtemp(prefix=prefix)``, in the
    same places: ``$TMPDIR``, ``$TEMP``, ``$TMP``, /tmp, /var/tmp, /usr/tmp, here)."""
    places = [os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP")]
    places += ["/tmp", "/var/tmp", "/usr/tmp", os.getcwd()]
    last: OSError | None = None
    for place in places:
        if not place:
            continue
        for _ in range(100):
            path = os.path.abspath(os.path.join(place, prefix + os.urandom(6).hex()))
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                continue
            except OSError as exc:
                last = exc
                break
            return path
    raise last or FileNotFoundError("no usable temporary directory")


def remove_dir(path: str) -> None:
    """Remove a :func:`private_dir` and what it holds (``shutil.rmtree(path,
    ignore_errors=True)`` for a folder of plain entries, as ours is: the FIFO)."""
    try:
        names = os.listdir(path)
    except OSError:
        names = []
    for name in names:
        try:
            os.unlink(os.path.join(path, name))
        except OSError:
            pass
    try:
        os.rmdir(path)
    except OSError:
        pass


class Started:
    """strace running, as :func:`start` left it: the pieces live.LiveTrace takes over."""

    def __init__(self, strace: Strace, command: list[str], pid: int | None, argv: list[str],
                 folder: str, rfd: int, wfd: int, watchdog: Watchdog, proc: Child,
                 old_mask: set[int] | None):
        self.strace = strace
        self.command = command
        self.pid = pid
        self.argv = argv
        self.dir = folder
        self.rfd = rfd
        self.wfd = wfd
        self.watchdog = watchdog
        self.proc = proc
        self.old_mask = old_mask
        """The signal mask before :func:`prestart` blocked :data:`BLOCKED` (None when
        the caller blocked them itself)."""
        self.started = time.monotonic()


def start(strace: Strace, command: list[str], *, pid: int | None = None, save_fd: int = -1,
          restore_mask: Iterable[int] = ()) -> Started:
    """Start strace on ``command`` (or attached to ``pid``), writing to a FIFO, with the
    watchdog beside it; the caller has blocked :data:`BLOCKED`, and the command gets
    ``restore_mask``.  On failure nothing is left behind."""
    folder = private_dir("bpfexplain-")
    fifo = os.path.join(folder, "strace.fifo")
    rfd = wfd = -1
    watchdog: Watchdog | None = None
    try:
        os.mkfifo(fifo, 0o600)
        # Reader first (non-blocking, or the open would wait for a writer), then our own
        # writer so that reads block instead of seeing end-of-file until strace exits.
        rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        wfd = os.open(fifo, os.O_WRONLY)
        os.set_blocking(rfd, True)
        try:
            import fcntl  # a C module

            fcntl.fcntl(rfd, _F_SETPIPE_SZ, 1 << 20)  # headroom, best effort
        except OSError:
            pass
        attach = pid is not None
        argv = [strace.path, *strace_flags(strace, attach=attach), "-o", fifo]
        argv += ["-p", str(pid)] if attach else ["--", *command]
        watchdog = Watchdog(rfd, save_fd, attach)
        mask = set(restore_mask)
        try:
            # With a watchdog, strace must outlive a killed bpfexplain for a moment: the
            # watchdog finds the tracees through it.  Without one, it dies with us.
            proc = fork_exec(argv, mask, dies_with_us=watchdog.proc is None)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot start {strace.path}: {exc.strerror}") from None
        watchdog.watch(proc.pid)
    except BaseException:
        if watchdog is not None:
            watchdog.stand_down()
        for fd in (rfd, wfd):
            if fd >= 0:
                os.close(fd)
        remove_dir(folder)
        raise
    return Started(strace, list(command), pid, argv, folder, rfd, wfd, watchdog, proc, None)


_prestarted: Started | None = None
"""strace started by :mod:`bpfexplain.entry` before anything else was imported."""


def prestart(command: list[str]) -> bool:
    """Start strace now for a ``run`` of ``command`` whose argv typer is proven to
    accept (see :mod:`bpfexplain.entry`); False, with nothing started, when any check
    ``run`` makes before starting strace would say something (it then says it)."""
    global _prestarted
    try:
        strace = find_strace()
        resolve_command(command)
        if preflight_warnings():
            return False  # run prints them before strace starts: let it
        old_mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, BLOCKED)
        try:
            started = start(strace, command, restore_mask=old_mask)
        except BaseException:
            _signal.pthread_sigmask(_signal.SIG_SETMASK, old_mask)
            raise
    except BpfexplainError:
        return False  # run reports it, exactly as it always does
    started.old_mask = set(old_mask)
    _prestarted = started
    return True


def take_prestarted() -> Started | None:
    """The pre-started strace, handed over once."""
    global _prestarted
    started, _prestarted = _prestarted, None
    return started
