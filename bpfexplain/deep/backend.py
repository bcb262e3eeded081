"""The ptrace tracer: run a command and yield strace-shaped events with memory extras.

How it works, and why:

* **The child** (``os.fork``) asks to be traced (``PTRACE_TRACEME``), stops itself so
  the options can be set before anything interesting runs, installs the seccomp filter
  of :mod:`.seccomp`, and execs the command.  Everything the tracee inherits is what it
  would have had without bpfexplain, except the filter, which only *reports*
  syscalls; ``PR_SET_NO_NEW_PRIVS`` (which would stop setuid programs gaining
  privileges) is set only when we lack ``CAP_SYS_ADMIN`` and the kernel insists.
* **Options**: ``TRACESECCOMP`` (a stop, event 7, only where the filter says so),
  ``TRACEFORK/VFORK/CLONE/EXEC`` to follow every process and thread, ``TRACESYSGOOD`` to
  tell syscall stops from SIGTRAPs, ``EXITKILL`` so nothing traced outlives us.
* **One loop**, ``waitpid(-1, __WALL)``, rather than python-ptrace's event loop: that
  one polls with sleeps (slow with several threads), its ``addProcess`` can block when
  the child's first stop was already collected, and its enter/exit alternation loses
  step with seccomp stops.  ``PTRACE_GET_SYSCALL_INFO`` (0x420e, Linux 5.3) says at
  every stop whether it is a seccomp stop, an entry or an exit, with the arch.
* **Per syscall**: at the seccomp stop the arguments are decoded (memory is as the
  loader wrote it), then ``PTRACE_SYSCALL`` runs the call to its exit stop where the
  result and the out-values (verifier log, next_id, looked-up values) are read; then
  ``PTRACE_CONT`` until the next filtered syscall.  Calls framing would drop (private
  mmaps, non-perf ioctls) are resumed at once, without an exit stop.
* **Primitives**: every ptrace request goes through python-ptrace's binding
  (:class:`_Requests`: ``ptrace_traceme``, ``ptrace_setoptions``, ``ptrace_cont``,
  ``ptrace_syscall``, ``ptrace_geteventmsg``, ``ptrace_getsiginfo``, and its generic
  ``ptrace()`` for ``PTRACE_GET_SYSCALL_INFO``).  Everything imported before the
  command starts delays it, so python-ptrace is imported when the first tracer is
  made, not at start-up, and its import does not run ``ldconfig`` to find the C
  library already loaded (:func:`_libc_known`).  Memory is read with one ``pread``
  of ``/proc/TID/mem`` per buffer rather than python-ptrace's ``PtraceProcess``
  (why: :class:`_Memory`), reopened after exec: the old handle reads the dead
  address space.

Ctrl-C: the first goes to the target, as it would without bpfexplain (when the
terminal already delivered it to the whole foreground process group, it is not sent
twice); the second, or a SIGTERM, kills every traced process at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import importlib.machinery
import os
import signal
import struct
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from bpfexplain.deep import seccomp, structs
from bpfexplain.deep.seccomp import ARCH_NAMES, MACHINE_ARCH, X32_SYSCALL_BIT
from bpfexplain.deep.syscalls import ENTRY, Context, Pending, errno_of, s64, signal_name
from bpfexplain.errors import EnvironmentProblem
from bpfexplain.launch import which
from bpfexplain.plain import Record
from bpfexplain.values import Call, Event, Exit, Origin, Signal, Value

__all__ = ["deep_supported", "trace_command"]

# linux/ptrace.h
PTRACE_TRACEME = 0
PTRACE_CONT = 7
PTRACE_SYSCALL = 24
PTRACE_SETOPTIONS = 0x4200
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GETSIGINFO = 0x4202
PTRACE_GET_SYSCALL_INFO = 0x420E
PTRACE_SYSCALL_INFO_ENTRY, PTRACE_SYSCALL_INFO_EXIT, PTRACE_SYSCALL_INFO_SECCOMP = 1, 2, 3
PTRACE_O_TRACESYSGOOD = 0x1
PTRACE_O_TRACEFORK = 0x2
PTRACE_O_TRACEVFORK = 0x4
PTRACE_O_TRACECLONE = 0x8
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_TRACESECCOMP = 0x80
PTRACE_O_EXITKILL = 0x100000
PTRACE_EVENT_FORK, PTRACE_EVENT_VFORK, PTRACE_EVENT_CLONE = 1, 2, 3
PTRACE_EVENT_EXEC, PTRACE_EVENT_SECCOMP = 4, 7
OPTIONS = (PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK
           | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP
           | PTRACE_O_EXITKILL)
WALL = 0x40000000          # __WALL: threads and non-SIGCHLD children too

# linux/prctl.h, linux/seccomp.h
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

CAP_SYS_PTRACE, CAP_SYS_ADMIN = 19, 21

# siginfo_t (asm-generic/siginfo.h, 64-bit): int si_signo, si_errno, si_code, then the
# union 8-aligned at 16; kill/tkill/sigqueue and SIGCHLD both start pid_t pid, uid_t uid
# (32 bits), and SIGCHLD goes on with int status
_SIGINFO_HEAD = struct.Struct("<iii4xiIi")

# struct ptrace_syscall_info (linux/ptrace.h): u8 op, u8 pad[3], u32 arch, u64 ip, u64 sp,
# then entry {u64 nr, u64 args[6]} | exit {s64 rval, u8 is_error} | seccomp {nr, args, u32}
_INFO_SIZE = 88
_INFO_HEAD = struct.Struct("<B3xIQQ")
_INFO_CALL = struct.Struct("<Q6Q")
_INFO_EXIT = struct.Struct("<qB")

_SI_CODES = {0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER",
             -3: "SI_MESGQ", -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL"}
_CLD_CODES = {1: "CLD_EXITED", 2: "CLD_KILLED", 3: "CLD_DUMPED", 4: "CLD_TRAPPED",
              5: "CLD_STOPPED", 6: "CLD_CONTINUED"}


# -- can deep mode work here? -------------------------------------------------------------

def _status_field(name: str, pid: int | str = "self") -> str | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith(name + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _has_capability(bit: int) -> bool:
    caps = _status_field("CapEff")
    return caps is not None and bool(int(caps, 16) >> bit & 1)


def deep_supported() -> str | None:
    """None when deep mode can work on this machine, else the reason in one line."""
    if not sys.platform.startswith("linux"):
        return f"deep mode needs Linux (ptrace and seccomp); this is {sys.platform}"
    machine = os.uname().machine
    if machine not in MACHINE_ARCH:
        return f"deep mode supports x86_64 and aarch64; this machine is {machine}"
    # Found, not imported: the import waits until a tracer is made (see _Requests).
    if importlib.machinery.PathFinder.find_spec("ptrace") is None:
        return ("python-ptrace is missing although bpfexplain requires it; "
                "reinstall bpfexplain or pip install python-ptrace")
    scope = _read_int("/proc/sys/kernel/yama/ptrace_scope")
    if scope == 3:
        return "ptrace is disabled on this machine (kernel.yama.ptrace_scope=3)"
    if scope == 2 and not _has_capability(CAP_SYS_PTRACE):
        return ("ptrace is restricted to CAP_SYS_PTRACE here (kernel.yama.ptrace_scope=2); "
                "run as root")
    if _status_field("Seccomp") is None:
        return "the kernel has no seccomp support, which deep mode needs to stop only on bpf calls"
    return None


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


# -- memory and /proc, for the decoders ---------------------------------------------------

class _Memory:
    """The :class:`~bpfexplain.deep.structs.Tracee` view of one traced thread.

    Reads go through ``/proc/TID/mem``, one ``pread`` per buffer (a tracer may read
    any mapping of its stopped tracee there), opened at the first read: most stops
    read nothing.

    Not python-ptrace's ``PtraceProcess.readBytes``, which reads the same file but
    (0.9.9) needs a ``PtraceDebugger`` and a ``PtraceProcess`` per thread (whose
    ``__del__`` sends ``PTRACE_DETACH`` to a pid that may belong to another process
    by then, unless told otherwise), seeks then reads (two syscalls per buffer), keeps
    its handle across exec, where it reads the dead address space, and when a read
    comes back empty (as that stale handle's do) replaces itself, for that process
    from then on, with one ``PTRACE_PEEKTEXT`` per 8-byte word: thousands of
    syscalls for one verifier log."""

    def __init__(self, tid: int, cache: dict[int, dict[str, str]]) -> None:
        self.pid = tid
        self._fd = -1
        self._fdinfo_cache = cache

    def reset(self) -> None:
        """Forget the old address space after exec: a handle opened before reads the
        dead one (0 bytes)."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = -1

    def read(self, address: int, size: int) -> bytes:
        if size <= 0 or address <= 0 or address + size > 1 << 64:
            return b""
        try:
            if self._fd < 0:
                self._fd = os.open(f"/proc/{self.pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
            return os.pread(self._fd, size, address)
        except (OSError, OverflowError):
            # EIO: the first byte is unmapped (the kernel returns partial reads
            # itself); an address past off_t's range is not user memory
            return b""

    def cstring(self, address: int, limit: int) -> bytes | None:
        if address <= 0:
            return None
        out = bytearray()
        at = address
        while len(out) < limit:
            # never cross a page in one read: the next page may be unmapped
            chunk = min(4096 - at % 4096, limit - len(out))
            data = self.read(at, chunk)
            if not data:
                return bytes(out) if out else None
            nul = data.find(b"\0")
            if nul >= 0:
                out += data[:nul]
                return bytes(out)
            out += data
            at += len(data)
        return bytes(out)

    def fdinfo(self, fd: int) -> dict[str, str]:
        cached = self._fdinfo_cache.get(fd)
        if cached is not None:
            return cached
        info: dict[str, str] = {}
        try:
            with open(f"/proc/{self.pid}/fdinfo/{fd}", encoding="ascii", errors="replace") as fh:
                for line in fh:
                    key, _, value = line.partition(":")
                    info[key.strip()] = value.strip()
        except OSError:
            return info
        if "map_type" in info:
            # maps are asked about on every element operation; see _forget_fds
            self._fdinfo_cache[fd] = info
        return info

    def fd_path(self, fd: int) -> str | None:
        try:
            return os.readlink(f"/proc/{self.pid}/fd/{fd}")
        except OSError:
            return None


# Records, not dataclasses (bpfexplain.plain): the tracer imports this module before
# the command runs, and dataclasses (with the inspect module they import) held the
# command back about 15 ms (issue 11).


class _Thread(Record):
    __slots__ = _fields = ("tid", "mem", "tgid", "started", "pending", "comm")

    tid: int
    mem: _Memory
    tgid: int
    started: bool
    """Its first SIGSTOP (auto-attach) was consumed."""
    pending: Pending | None
    comm: str | None

    def __init__(self, tid: int, mem: _Memory, tgid: int, started: bool = False,
                 pending: Pending | None = None, comm: str | None = None) -> None:
        self.tid = tid
        self.mem = mem
        self.tgid = tgid
        self.started = started
        self.pending = pending
        self.comm = comm


class _State(Record):
    __slots__ = _fields = ("events", "interrupts", "forced_by", "root", "root_status",
                           "root_execed")

    events: list[Event]
    interrupts: int
    forced_by: int | None
    """The signal (a second Ctrl-C, SIGTERM) that made us SIGKILL everything."""
    root: int
    root_status: int | None
    root_execed: bool

    def __init__(self, events: list[Event] | None = None, interrupts: int = 0,
                 forced_by: int | None = None, root: int = 0, root_status: int | None = None,
                 root_execed: bool = False) -> None:
        self.events = [] if events is None else events
        self.interrupts = interrupts
        self.forced_by = forced_by
        self.root = root
        self.root_status = root_status
        self.root_execed = root_execed


# -- machine facts ---------------------------------------------------------------------

def _pmus() -> dict[int, structs.Pmu]:
    base = "/sys/bus/event_source/devices"
    found: dict[int, structs.Pmu] = {}
    try:
        names = os.listdir(base)
    except OSError:
        return found
    for name in names:
        if name not in ("uprobe", "kprobe"):
            continue
        number = _read_int(f"{base}/{name}/type")
        if number is None:
            continue
        bit: int | None = None
        try:
            with open(f"{base}/{name}/format/retprobe", encoding="ascii") as fh:
                spec = fh.read().strip()          # "config:0"
            bit = int(spec.split(":", 1)[1].split("-")[0])
        except (OSError, ValueError, IndexError):
            bit = None
        found[number] = structs.Pmu(name, number, bit)
    return found


def _possible_cpus() -> int:
    try:
        with open("/sys/devices/system/cpu/possible", encoding="ascii") as fh:
            spec = fh.read().strip()
    except OSError:
        return os.cpu_count() or 1
    count = 0
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        count += (int(hi) - int(lo) + 1) if hi else 1
    return max(count, 1)


def _resolve_symbol(tr: structs.Tracee, path: str, offset: int) -> str | None:
    from bpfexplain.deep import elfsyms  # only uprobes need it: keep startup short

    # the path is the tracee's: read it through its root (containers, chroots)
    host = f"/proc/{tr.pid}/root{path}" if path.startswith("/") else f"/proc/{tr.pid}/cwd/{path}"
    return elfsyms.symbol_at(host, offset)


def _elf_class(path: str) -> int | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(5)
    except OSError:
        return None
    if head[:4] != b"\x7fELF" or len(head) < 5:
        return None
    return head[4]


# -- ptrace(2), through python-ptrace ---------------------------------------------------

def _mapped_libc() -> str | None:
    """The path of the C library this interpreter has mapped, from ``/proc/self/maps``
    (glibc: ``.../libc.so.6``; older ones ``libc-2.31.so``), or None when none is
    recognisable (musl's libc is its dynamic loader, ``ld-musl-*.so.1``)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                at = line.find("/")
                if at < 0:
                    continue
                path = line[at:].rstrip("\n")
                name = os.path.basename(path)
                if name.startswith("libc.so") or (name.startswith("libc-")
                                                   and name.endswith(".so")):
                    return path
    except OSError:
        return None
    return None


@contextlib.contextmanager
def _libc_known() -> Iterator[None]:
    """While it lasts, ``ctypes.util.find_library("c")`` answers with the C library
    already mapped into this process instead of running ``ldconfig -p`` (a fork and an
    exec, on the path between ``run --deep`` and the command's start).

    For python-ptrace's import only: ``ptrace.ctypes_libc`` asks ``find_library("c")``
    once and hands the answer to ``CDLL``, and ``dlopen`` of the mapped file's path
    returns the library already loaded, the very one ``ldconfig`` would have named.
    Any other name, or no recognisable libc, goes to the real function, which is put
    back afterwards.  (Another thread calling meanwhile gets that same, true answer.)

    When ``ctypes.util`` is not imported yet (the tracer of a pre-started ``run
    --deep``), it is not imported for this either: importing it imports subprocess,
    shutil and what they need (about 5 ms before the command can start), only for a
    function that is not called.  A stand-in module named ``ctypes.util`` answers
    meanwhile, for ``"c"`` itself and for anything else by importing the real module;
    it is gone afterwards, so a later ``import ctypes.util`` gets the real one.
    """
    libc = _mapped_libc()
    if libc is None:
        yield
        return
    if "ctypes.util" not in sys.modules:
        stand_in = _LibcStandIn(libc)
        sys.modules["ctypes.util"] = stand_in
        try:
            yield
        finally:
            if sys.modules.get("ctypes.util") is stand_in:
                del sys.modules["ctypes.util"]
        return
    import ctypes.util

    real = ctypes.util.find_library

    def find_library(name: str) -> str | None:
        return libc if name == "c" else real(name)

    ctypes.util.find_library = find_library
    try:
        yield
    finally:
        ctypes.util.find_library = real


class _LibcStandIn(types.ModuleType):
    """``ctypes.util`` for the length of :func:`_libc_known`, when it is not imported:
    ``find_library("c")`` is the mapped C library; any other name or attribute comes
    from the real module, imported then (and from then on in ``sys.modules``)."""

    def __init__(self, libc: str) -> None:
        super().__init__("ctypes.util")
        self._libc = libc

    def find_library(self, name: str) -> str | None:
        if name == "c":
            return self._libc
        return self._real().find_library(name)  # type: ignore[no-any-return]

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self._real(), attr)

    def _real(self) -> Any:
        import importlib

        if sys.modules.get("ctypes.util") is self:
            del sys.modules["ctypes.util"]
        return importlib.import_module("ctypes.util")


class _Requests:
    """Every ptrace request the tracer makes: python-ptrace's own functions
    (``ptrace.binding.func``), bound once; ``PTRACE_GET_SYSCALL_INFO``, for which it
    has no wrapper, goes through its generic ``ptrace()``.  Each raises python-ptrace's
    ``PtraceError`` (``error``), with the errno (ESRCH: the thread died meanwhile).

    python-ptrace is imported here, when the first tracer is made, never at start-up:
    its import is the one part of it that runs before the command can start (about
    10 ms here, measured by ``bench/bench_deep.py``: its error module loads
    ``logging`` and ``traceback``), with the C library looked up as
    :func:`_libc_known` says.  Memory is not read through it (see :class:`_Memory`).
    """

    def __init__(self) -> None:
        with _libc_known():
            from ptrace.binding import func
            from ptrace.error import PtraceError
        self.error: type[Exception] = PtraceError
        self.traceme: Callable[[], None] = func.ptrace_traceme
        self.setoptions: Callable[[int, int], None] = func.ptrace_setoptions
        self.cont: Callable[[int, int], None] = func.ptrace_cont
        self.syscall: Callable[[int, int], None] = func.ptrace_syscall
        # The kernel stores an unsigned long and python-ptrace reads it as a pid_t: its
        # c_int keeps the value in ctypes' 16-byte inline buffer, so the 8-byte store
        # stays in bounds, and on the little-endian machines deep mode runs on
        # (x86_64, aarch64) the low half read is the whole pid.
        self.geteventmsg: Callable[[int], int] = func.ptrace_geteventmsg
        self.getsiginfo: Callable[[int], Any] = func.ptrace_getsiginfo
        self.request: Callable[[int, int, int, int], int] = func.ptrace


# -- the tracer --------------------------------------------------------------------------

class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Tracer:
    """One traced command.  Use :func:`trace_command`."""

    def __init__(self, native: int, on_event: Callable[[Event], None] | None) -> None:
        self._ptrace = _Requests()     # first: python-ptrace's import
        self.native = native
        self.numbers = seccomp.numbers(native)
        self.on_event = on_event
        self.state = _State()
        self.threads: dict[int, _Thread] = {}
        self.fd_caches: dict[int, dict[int, dict[str, str]]] = {}
        self.ctx = Context(native, _pmus(), _possible_cpus(), _resolve_symbol)
        self._info = ctypes.create_string_buffer(_INFO_SIZE)
        self._info_addr = ctypes.addressof(self._info)
        self.companion: int | None = None
        """A child of ours that is not traced but whose exit ends the trace (the
        explainer of :mod:`.split`); its wait status lands in ``companion_status``."""
        self.companion_status: int | None = None

    # events

    def _emit(self, event_factory: Callable[[Origin], Event]) -> None:
        n = len(self.state.events) + 1
        event = event_factory(Origin(0, n, n))
        self.state.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    # threads

    def _add(self, tid: int, *, started: bool) -> _Thread:
        tgid_text = _status_field("Tgid", tid)
        tgid = int(tgid_text) if tgid_text and tgid_text.isdigit() else tid
        cache = self.fd_caches.setdefault(tgid, {})
        thread = _Thread(tid, _Memory(tid, cache), tgid, started)
        self.threads[tid] = thread
        return thread

    def _drop(self, thread: _Thread) -> None:
        thread.mem.reset()
        self.threads.pop(thread.tid, None)

    def _comm(self, thread: _Thread) -> str | None:
        if thread.comm is None:
            try:
                with open(f"/proc/{thread.tid}/comm", encoding="utf-8", errors="replace") as fh:
                    thread.comm = fh.read().rstrip("\n")
            except OSError:
                return None
        return thread.comm

    # ptrace primitives

    def _resume(self, thread: _Thread, sig: int = 0) -> None:
        try:
            if thread.pending is not None:
                self._ptrace.syscall(thread.tid, sig)
            else:
                self._ptrace.cont(thread.tid, sig)
        except self._ptrace.error as exc:     # killed meanwhile (ESRCH)
            if getattr(exc, "errno", None) != errno.ESRCH:
                raise

    def _syscall_info(self, tid: int) -> tuple[int, int, bytes] | None:
        try:
            self._ptrace.request(PTRACE_GET_SYSCALL_INFO, tid, _INFO_SIZE, self._info_addr)
        except self._ptrace.error:
            return None
        raw = self._info.raw
        op, arch, _, _ = _INFO_HEAD.unpack_from(raw, 0)
        return op, arch, raw

    # the loop

    def run(self, path: str, argv: list[str],
            on_start: Callable[[int, Control], None] | None) -> int:
        child = self._spawn(path, argv)
        self.state.root = child
        if on_start is not None:
            on_start(child, Control(self))
        restore = self._install_signal_handlers()
        try:
            self._loop()
        except BaseException:
            self._kill_all()
            self._reap()
            raise
        finally:
            restore()
        status = self.state.root_status
        if self.state.forced_by is not None:
            # As the strace backend: 128+N for the signal that made us stop it, not
            # the SIGKILL we sent (137).
            return 128 + self.state.forced_by
        if status is None:
            return 0
        if os.WIFSIGNALED(status):
            return 128 + os.WTERMSIG(status)
        return os.WEXITSTATUS(status)

    def _spawn(self, path: str, argv: list[str]) -> int:
        libc = ctypes.CDLL(None, use_errno=True)
        # variadic prototypes: without argtypes, ctypes would pass a pointer as a C int
        libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
        prog = seccomp.pack_filter(seccomp.build_filter(self.native))
        filt = ctypes.create_string_buffer(prog, len(prog))
        fprog = _SockFprog(len(prog) // 8, ctypes.addressof(filt))
        need_nnp = not _has_capability(CAP_SYS_ADMIN)
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:     # the child: no Python-level work beyond these calls
            stage = "ptrace"
            try:
                os.close(read_end)
                for sig in (signal.SIGPIPE, signal.SIGXFSZ):
                    signal.signal(sig, signal.SIG_DFL)
                self._ptrace.traceme()
                os.kill(os.getpid(), signal.SIGSTOP)
                stage = "seccomp"
                if need_nnp and libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl")
                if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                              ctypes.addressof(fprog), 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "seccomp")
                stage = "exec"
                os.execv(path, argv)
            except (OSError, self._ptrace.error) as exc:
                number = getattr(exc, "errno", None) or 0
                os.write(write_end, f"{stage}:{number}".encode())
            finally:
                os._exit(127)
        os.close(write_end)
        self._child_report = read_end
        _, status = os.waitpid(pid, WALL)
        if not os.WIFSTOPPED(status):
            raise EnvironmentProblem(self._child_failure(argv) or
                                     f"cannot start {argv[0]} under ptrace")
        try:
            self._ptrace.setoptions(pid, OPTIONS)
        except self._ptrace.error as exc:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, WALL)
            raise EnvironmentProblem(f"ptrace options refused by this kernel: {exc}") from None
        self._add(pid, started=True)
        self._ptrace.cont(pid, 0)
        return pid

    def _child_failure(self, argv: list[str]) -> str | None:
        try:
            report = os.read(self._child_report, 64).decode()
        except OSError:
            return None
        finally:
            os.close(self._child_report)
        if not report:
            return None
        stage, _, number = report.partition(":")
        reason = os.strerror(int(number)) if number.isdigit() else "failed"
        if stage == "ptrace":
            return f"ptrace not permitted: {reason} (deep mode needs root or CAP_SYS_PTRACE)"
        if stage == "seccomp":
            return f"cannot install the seccomp filter deep mode needs: {reason}"
        return f"cannot run {argv[0]}: {reason}"

    def _loop(self) -> None:
        while self.threads:
            try:
                tid, status = os.waitpid(-1, WALL)
            except ChildProcessError:
                break
            self._handle(tid, status)
        if not self.state.root_execed:
            problem = self._child_failure(["the command"])
            if problem:
                raise EnvironmentProblem(problem)
        else:
            with contextlib.suppress(OSError):
                os.close(self._child_report)

    def _handle(self, tid: int, status: int) -> None:
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            self._exited(tid, status)
            return
        if not os.WIFSTOPPED(status):
            return
        sig = os.WSTOPSIG(status)
        event = (status >> 16) & 0xFF
        thread = self.threads.get(tid)
        if thread is None:
            # a new child reported before its parent's fork event
            thread = self._add(tid, started=True)
            if sig == signal.SIGSTOP and event == 0:
                self._resume(thread)
                return
        if sig == signal.SIGTRAP | 0x80:
            self._syscall_stop(thread)
        elif sig == signal.SIGTRAP and event:
            if event == PTRACE_EVENT_SECCOMP:
                self._seccomp_stop(thread)
            elif event in (PTRACE_EVENT_FORK, PTRACE_EVENT_VFORK, PTRACE_EVENT_CLONE):
                new = self._ptrace.geteventmsg(tid)
                if new not in self.threads:
                    self._add(new, started=False)
                self._forked(thread, new)
                self._resume(thread)
            elif event == PTRACE_EVENT_EXEC:
                self._exec_stop(thread)
            else:
                self._resume(thread)
        elif sig == signal.SIGSTOP and not thread.started:
            thread.started = True
            self._resume(thread)
        else:
            self._signal_stop(thread, sig)

    def _forked(self, thread: _Thread, child: int) -> None:
        """Report the fork now, with the child's pid, rather than at its exit stop: a
        vfork parent returns only after the child exec'd or exited, and the child's
        calls need their parent known first (strace prints them inside the parent's
        ``<unfinished ...>``)."""
        pending = thread.pending
        if pending is not None and pending.name in ("clone", "clone3", "fork", "vfork"):
            thread.pending = None
            self._finish(thread, pending, child, None)

    def _exited(self, tid: int, status: int) -> None:
        thread = self.threads.get(tid)
        if thread is None and tid != self.state.root:
            if tid == self.companion:
                # Nobody is left to explain the trace: end it as a second Ctrl-C would.
                self.companion_status = status
                self._kill_all()
            return      # a child of this Python process that we never traced
        if thread is not None:
            if thread.pending is not None:
                # killed inside a call: strace shows "= ?"
                self._emit_call(thread, thread.pending, None, None)
                thread.pending = None
            self._drop(thread)
        if tid == self.state.root:
            self.state.root_status = status
        now = time.time()
        if os.WIFEXITED(status):
            code = os.WEXITSTATUS(status)
            self._emit(lambda o: Exit(o, tid, now, code=code))
        else:
            name = signal_name(os.WTERMSIG(status))
            core = os.WCOREDUMP(status)
            self._emit(lambda o: Exit(o, tid, now, signal=name, core_dumped=core))
        if not any(t.tgid == (thread.tgid if thread else tid) for t in self.threads.values()):
            self.fd_caches.pop(thread.tgid if thread else tid, None)

    def _signal_stop(self, thread: _Thread, sig: int) -> None:
        try:
            si = self._ptrace.getsiginfo(thread.tid)
        except self._ptrace.error:
            # a group-stop, not a delivery: nothing to deliver
            self._resume(thread)
            return
        # Decoded from the bytes python-ptrace's request filled, not through its field
        # names: its siginfo declares uid_t as an unsigned short, cutting uids > 65535.
        _, _, code, pid, uid, status = _SIGINFO_HEAD.unpack_from(bytes(si))
        info: dict[str, Value] = {"si_signo": signal_name(sig)}
        if sig == signal.SIGCHLD and code in _CLD_CODES:
            info["si_code"] = _CLD_CODES[code]
            info["si_pid"] = pid
            info["si_uid"] = uid
            info["si_status"] = status
        else:
            info["si_code"] = _SI_CODES.get(code, str(code))
            if code in (0, -1, -6):
                info["si_pid"] = pid
                info["si_uid"] = uid
        name = signal_name(sig)
        now = time.time()
        tid = thread.tid
        self._emit(lambda o: Signal(name, info, o, tid, now))
        self._resume(thread, sig)

    def _foreign(self, thread: _Thread, arch: int, nr: int) -> None:
        if arch == seccomp.AUDIT_ARCH_X86_64 and nr & X32_SYSCALL_BIT:
            kind = "an x32"
        else:
            kind = f"a 32-bit ({ARCH_NAMES.get(arch, hex(arch))})"
        raise EnvironmentProblem(
            f"process {thread.tid} ({self._comm(thread) or '?'}) is {kind} program; deep mode "
            "traces 64-bit programs only: use the strace backend")

    def _seccomp_stop(self, thread: _Thread) -> None:
        got = self._syscall_info(thread.tid)
        if got is None or got[0] != PTRACE_SYSCALL_INFO_SECCOMP:
            self._resume(thread)
            return
        _, arch, raw = got
        nr, *args = _INFO_CALL.unpack_from(raw, 24)
        if arch != self.native or nr & X32_SYSCALL_BIT:
            self._foreign(thread, arch, nr)
        name = self.numbers.get(nr)
        enter = ENTRY.get(name or "")
        if name is None or enter is None:
            self._resume(thread)
            return
        start = time.time()
        try:
            pending = enter(self.ctx, thread.mem, tuple(args))
        except Exception as exc:       # a decoder bug must not stop the trace
            pending = Pending(name, tuple(args), deep={"decode_error": repr(exc)})
        if pending is None:
            self._resume(thread)
            return
        pending.start = start
        if pending.no_return:
            self._emit_call(thread, pending, None, None)
            self._resume(thread)
            return
        thread.pending = pending
        self._resume(thread)

    def _syscall_stop(self, thread: _Thread) -> None:
        pending = thread.pending
        got = self._syscall_info(thread.tid)
        if pending is None or got is None or got[0] != PTRACE_SYSCALL_INFO_EXIT:
            self._resume(thread)
            return
        rval, _ = _INFO_EXIT.unpack_from(got[2], 24)
        thread.pending = None
        result, err = errno_of(s64(rval))
        self._finish(thread, pending, result, err)
        self._resume(thread)

    def _finish(self, thread: _Thread, pending: Pending, result: int | None,
                err: str | None) -> None:
        self._forget_fds(thread, pending, result)
        if pending.finish is not None:
            try:
                done = pending.finish(thread.mem, result)
            except Exception as exc:
                done = pending.args, {**(pending.deep or {}), "decode_error": repr(exc)}
            if done is None:
                return
            pending.args, deep = done
            if deep:
                pending.deep = {**(pending.deep or {}), **deep}
        self._emit_call(thread, pending, result, err)

    def _forget_fds(self, thread: _Thread, pending: Pending, result: int | None) -> None:
        """Keep the map fdinfo cache true: an fd number changes meaning only through
        these calls (or exec), so drop what they touch."""
        cache = thread.mem._fdinfo_cache
        if not cache:
            return
        name = pending.name
        if name in ("close", "dup2", "dup3"):
            target = pending.args[0] if name == "close" else pending.args[1]
            if isinstance(target, int):
                cache.pop(target, None)
        elif name in ("close_range", "execve", "execveat"):
            cache.clear()
        if pending.result_is_fd and result is not None and result >= 0:
            cache.pop(result, None)

    def _emit_call(self, thread: _Thread, pending: Pending, result: int | None,
                   err: str | None) -> None:
        now = time.time()
        result_path = None
        if pending.result_is_fd and result is not None and result >= 0:
            result_path = thread.mem.fd_path(result)
        comm = self._comm(thread)
        tid = thread.tid

        def make(origin: Origin) -> Event:
            return Call(
                name=pending.name, args=pending.args, result=result, errno=err,
                origin=origin, pid=tid, time=now,
                duration=now - pending.start if pending.start else None,
                result_path=result_path, comm=comm, arg_names=pending.arg_names,
                deep=pending.deep,
            )

        self._emit(make)

    def _exec_stop(self, thread: _Thread) -> None:
        former = self._ptrace.geteventmsg(thread.tid)
        if former != thread.tid:
            # a non-leader thread exec'd: it now has the leader's id (execve(2) NOTES)
            old = self.threads.get(former)
            if old is not None:
                if thread.pending is None:
                    thread.pending = old.pending
                old.pending = None
                self._drop(old)
        thread.mem.reset()
        thread.comm = None
        thread.mem._fdinfo_cache.clear()
        if thread.tid == self.state.root:
            self.state.root_execed = True
        self._resume(thread)

    # signals and teardown

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def on_interrupt(signum: int, frame: FrameType | None) -> None:
            self.state.interrupts += 1
            if signum == signal.SIGINT and self.state.interrupts == 1:
                if not self._terminal_sent_it():
                    self._signal_root(signal.SIGINT)
                _notice("Ctrl-C: waiting for the command to finish (Ctrl-C again to stop "
                        "it now)")
            else:
                self.state.forced_by = signum
                _notice(f"{signal.Signals(signum).name}: stopping everything now")
                self._kill_all()

        old_int = signal.signal(signal.SIGINT, on_interrupt)
        old_term = signal.signal(signal.SIGTERM, on_interrupt)

        def restore() -> None:
            signal.signal(signal.SIGINT, old_int)
            signal.signal(signal.SIGTERM, old_term)

        return restore

    def _terminal_sent_it(self) -> bool:
        """True when a Ctrl-C reached the target already: the terminal signals the whole
        foreground process group, which the target shares with us."""
        for stream in (sys.stdin, sys.stdout, sys.stderr):
            try:
                fd = stream.fileno()
                if os.isatty(fd):
                    return (os.tcgetpgrp(fd) == os.getpgrp()
                            and os.getpgid(self.state.root) == os.getpgrp())
            except (OSError, ValueError, AttributeError):
                continue
        return False

    def _signal_root(self, sig: int) -> None:
        with contextlib.suppress(OSError):
            os.kill(self.state.root, sig)

    def _kill_all(self) -> None:
        for tid in list(self.threads):
            with contextlib.suppress(OSError):
                os.kill(tid, signal.SIGKILL)

    def _reap(self) -> None:
        deadline = time.time() + 5
        while self.threads and time.time() < deadline:
            try:
                tid, status = os.waitpid(-1, WALL)
            except ChildProcessError:
                break
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                if tid == self.companion:
                    self.companion_status = status
                thread = self.threads.get(tid)
                if thread is not None:
                    self._drop(thread)


def _notice(message: str) -> None:
    # Called from a signal handler: a plain write, no lock a renderer might hold.
    with contextlib.suppress(OSError):
        os.write(2, f"bpfexplain: {message}\n".encode())


def _find_command(name: str) -> str:
    if "/" in name:
        if not os.path.exists(name):
            raise EnvironmentProblem(f"command not found: {name}")
        return name
    found = which(name)
    if found is None:
        raise EnvironmentProblem(f"command not found: {name}")
    return found


class Control:
    """What a ``--duration`` thread may ask of a running trace, from any thread."""

    __slots__ = ("_tracer",)

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def interrupted(self) -> bool:
        """Whether a Ctrl-C (or SIGTERM) reached bpfexplain: the user has taken over."""
        return self._tracer.state.interrupts > 0

    def stop_everything(self) -> None:
        """SIGKILL everything traced; the run's status is then 137."""
        self._tracer.state.forced_by = signal.SIGKILL
        self._tracer._kill_all()


def trace_command(
    argv: list[str],
    *,
    on_event: Callable[[Event], None] | None = None,
    on_start: Callable[[int, Control], None] | None = None,
) -> tuple[list[Event], int]:
    """Run ``argv`` under the ptrace backend: (events in order, the target's exit status).

    Events are the strace parser's types (``Call``, ``Signal``, ``Exit``) with
    ``Call.deep`` filled where memory told more; ``origin.line`` counts events from 1.
    ``on_event`` sees each event as it happens; ``on_start`` gets the target's pid once
    it runs (to send it signals, e.g. for a ``--duration``) and the run's
    :class:`Control`.  The exit status is
    128+N when a signal N killed the target.  Raises EnvironmentProblem when deep mode
    cannot work here or the command cannot be started.
    """
    path, native = prepare(argv)
    tracer = Tracer(native, on_event)
    status = tracer.run(path, list(argv), on_start)
    return tracer.state.events, status


def prepare(argv: list[str]) -> tuple[str, int]:
    """Every check made before tracing ``argv``: (the program's path, the native audit
    arch).  Raises EnvironmentProblem with the reason when deep mode cannot trace it."""
    reason = deep_supported()
    if reason is not None:
        raise EnvironmentProblem(reason)
    if not argv:
        raise EnvironmentProblem("no command given to trace")
    path = _find_command(argv[0])
    if _elf_class(path) == 1:
        raise EnvironmentProblem(
            f"{argv[0]} is a 32-bit program; deep mode traces 64-bit programs only: "
            "use the strace backend")
    return path, MACHINE_ARCH[os.uname().machine]
