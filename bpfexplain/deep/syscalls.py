"""Raw syscall arguments to the values the strace parser would have produced.

One entry function per syscall of :data:`bpfexplain.framing.INTERESTING`.  It runs at
the seccomp stop, before the kernel acts (the only moment a bpf_attr, an execve path
or an fd_array is certainly as the loader wrote it), and returns a :class:`Pending`
whose ``finish`` runs at the exit stop with the result.  Returning None means "not
worth an event": the same decision framing's prefilter makes on strace text (an ioctl
that is not a perf ioctl, a private mmap, an fcntl that does not dup), taken before
the call so the tracee is resumed without waiting for its exit stop.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Mapping
from typing import Any

from bpfexplain import knowledge as kn
from bpfexplain.deep import netlink, structs
from bpfexplain.deep.seccomp import AUDIT_ARCH_AARCH64
from bpfexplain.deep.structs import (
    NULL,
    Fields,
    Tracee,
    addr,
    flag_set,
    flags_value,
    string_at,
    text,
)
from bpfexplain.plain import Record
from bpfexplain.values import Commented, Flags, Sym, Value

Args = tuple[Value, ...]
Finish = Callable[[Tracee, "int | None"], "tuple[Args, dict[str, Any] | None] | None"]
"""At the exit stop: (args, deep) to emit, or None to drop the call."""


class Pending(Record):
    """A syscall seen at entry, waiting for its result."""

    __slots__ = _fields = ("name", "args", "arg_names", "deep", "finish", "result_is_fd",
                           "start", "no_return")

    name: str
    args: Args
    arg_names: tuple[str | None, ...]
    deep: dict[str, Any] | None
    finish: Finish | None
    result_is_fd: bool
    """Annotate the result with its ``/proc/PID/fd`` target, as strace -y would."""
    start: float
    no_return: bool
    """exit/exit_group: emitted at entry with result None (``= ?``)."""

    def __init__(self, name: str, args: Args, arg_names: tuple[str | None, ...] = (),
                 deep: dict[str, Any] | None = None, finish: Finish | None = None,
                 result_is_fd: bool = False, start: float = 0.0,
                 no_return: bool = False) -> None:
        self.name = name
        self.args = args
        self.arg_names = arg_names
        self.deep = deep
        self.finish = finish
        self.result_is_fd = result_is_fd
        self.start = start
        self.no_return = no_return


class Context(Record):
    """Facts about the machine the decoders need, gathered once per trace."""

    __slots__ = _fields = ("arch", "pmus", "cpus", "resolve_symbol")

    arch: int
    pmus: Mapping[int, structs.Pmu]
    cpus: int
    resolve_symbol: Callable[[Tracee, str, int], str | None] | None

    def __init__(self, arch: int, pmus: Mapping[int, structs.Pmu] | None = None, cpus: int = 1,
                 resolve_symbol: Callable[[Tracee, str, int], str | None] | None = None,
                 ) -> None:
        self.arch = arch
        self.pmus = {} if pmus is None else pmus
        self.cpus = cpus
        self.resolve_symbol = resolve_symbol


def s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def s64(value: int) -> int:
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value & (1 << 63) else value


def _fd(value: int) -> Value:
    return s32(value)


AT_FDCWD = -100


def _dirfd(value: int) -> Value:
    fd = s32(value)
    return Sym("AT_FDCWD") if fd == AT_FDCWD else fd


# -- open flags (asm-generic/fcntl.h; aarch64 moves four of them, arch/arm64 fcntl.h) ------

_O_COMMON = [
    ("O_CREAT", 0o100), ("O_EXCL", 0o200), ("O_NOCTTY", 0o400), ("O_TRUNC", 0o1000),
    ("O_APPEND", 0o2000), ("O_NONBLOCK", 0o4000), ("O_DSYNC", 0o10000),
    ("O_ASYNC", 0o20000), ("O_NOATIME", 0o1000000), ("O_CLOEXEC", 0o2000000),
    ("O_PATH", 0o10000000), ("O_TMPFILE", 0o20000000),
]
_O_X86 = [("O_DIRECT", 0o40000), ("O_LARGEFILE", 0o100000), ("O_DIRECTORY", 0o200000),
          ("O_NOFOLLOW", 0o400000)]
_O_ARM64 = [("O_DIRECTORY", 0o40000), ("O_NOFOLLOW", 0o100000), ("O_DIRECT", 0o200000),
            ("O_LARGEFILE", 0o400000)]
_O_SYNC_BIT = 0o4000000
_ACCMODE = ["O_RDONLY", "O_WRONLY", "O_RDWR"]


def open_flags(value: int, arch: int) -> Value:
    """``O_RDONLY|O_CLOEXEC``: the access mode always first, as strace prints it."""
    value &= 0xFFFFFFFF
    access = value & 3
    members: list[str | int] = [Sym(_ACCMODE[access]) if access < 3 else access]
    rest = value & ~3
    if rest & _O_SYNC_BIT and rest & 0o10000:
        members.append(Sym("O_SYNC"))
        rest &= ~(_O_SYNC_BIT | 0o10000)
    bits = _O_COMMON + (_O_ARM64 if arch == AUDIT_ARCH_AARCH64 else _O_X86)
    return flag_set(members, rest, bits)


# -- mmap (asm-generic/mman-common.h, asm-generic/mman.h, x86 MAP_32BIT) -------------------

_PROT = [("PROT_READ", 1), ("PROT_WRITE", 2), ("PROT_EXEC", 4), ("PROT_SEM", 8),
         ("PROT_GROWSDOWN", 0x01000000), ("PROT_GROWSUP", 0x02000000)]
_MAP_TYPES = {1: "MAP_SHARED", 2: "MAP_PRIVATE", 3: "MAP_SHARED_VALIDATE"}
_MAP_FLAGS = [
    ("MAP_FIXED", 0x10), ("MAP_ANONYMOUS", 0x20), ("MAP_32BIT", 0x40),
    ("MAP_GROWSDOWN", 0x100), ("MAP_DENYWRITE", 0x800), ("MAP_EXECUTABLE", 0x1000),
    ("MAP_LOCKED", 0x2000), ("MAP_NORESERVE", 0x4000), ("MAP_POPULATE", 0x8000),
    ("MAP_NONBLOCK", 0x10000), ("MAP_STACK", 0x20000), ("MAP_HUGETLB", 0x40000),
    ("MAP_SYNC", 0x80000), ("MAP_FIXED_NOREPLACE", 0x100000),
]


def mmap_flags(value: int) -> Value:
    members: list[str | int] = []
    kind = value & 0x0F
    if kind in _MAP_TYPES:
        members.append(Sym(_MAP_TYPES[kind]))
        rest = value & ~0x0F
    else:
        rest = value
    for name, bit in _MAP_FLAGS:
        if rest & bit:
            members.append(Sym(name))
            rest &= ~bit
    if rest:
        members.append(rest)
    if not members:
        return 0
    return members[0] if len(members) == 1 else Flags(members)


# -- clone (linux/sched.h) -------------------------------------------------------------------

_CLONE = [
    ("CLONE_VM", 0x100), ("CLONE_FS", 0x200), ("CLONE_FILES", 0x400),
    ("CLONE_SIGHAND", 0x800), ("CLONE_PIDFD", 0x1000), ("CLONE_PTRACE", 0x2000),
    ("CLONE_VFORK", 0x4000), ("CLONE_PARENT", 0x8000), ("CLONE_THREAD", 0x10000),
    ("CLONE_NEWNS", 0x20000), ("CLONE_SYSVSEM", 0x40000), ("CLONE_SETTLS", 0x80000),
    ("CLONE_PARENT_SETTID", 0x100000), ("CLONE_CHILD_CLEARTID", 0x200000),
    ("CLONE_DETACHED", 0x400000), ("CLONE_UNTRACED", 0x800000),
    ("CLONE_CHILD_SETTID", 0x1000000), ("CLONE_NEWCGROUP", 0x2000000),
    ("CLONE_NEWUTS", 0x4000000), ("CLONE_NEWIPC", 0x8000000), ("CLONE_NEWUSER", 0x10000000),
    ("CLONE_NEWPID", 0x20000000), ("CLONE_NEWNET", 0x40000000), ("CLONE_IO", 0x80000000),
    ("CLONE_CLEAR_SIGHAND", 0x100000000), ("CLONE_INTO_CGROUP", 0x200000000),
]


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"SIG_{number}" if number else "0"


def clone_flags(value: int, *, with_signal: bool) -> Value:
    members: list[str | int] = []
    rest = value
    for name, bit in _CLONE:
        if rest & bit:
            members.append(Sym(name))
            rest &= ~bit
    if with_signal and rest & 0xFF:
        members.append(Sym(signal_name(rest & 0xFF)))
        rest &= ~0xFF
    if rest:
        members.append(rest)
    if not members:
        return 0
    return members[0] if len(members) == 1 else Flags(members)


def _clone(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    # x86_64: clone(flags, stack, parent_tid, child_tid, tls); the generic ABI (aarch64)
    # swaps the last two: clone(flags, stack, parent_tid, tls, child_tid)
    flags, stack, parent_tid = a[0], a[1], a[2]
    child_tid, tls = (a[4], a[3]) if ctx.arch == AUDIT_ARCH_AARCH64 else (a[3], a[4])
    args: list[Value] = [addr(stack), clone_flags(flags, with_signal=True)]
    names: list[str | None] = ["child_stack", "flags"]
    if flags & (0x100000 | 0x1000):
        args.append(addr(parent_tid))
        names.append("parent_tid")
    if flags & (0x1000000 | 0x200000):
        args.append(addr(child_tid))
        names.append("child_tidptr")
    if flags & 0x80000:
        args.append(addr(tls))
        names.append("tls")
    return Pending("clone", tuple(args), tuple(names))


def _clone3(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    size = a[1]
    data = tr.read(a[0], min(size, 88)) if a[0] else b""
    if not data:
        return Pending("clone3", (addr(a[0]), size))
    # struct clone_args (linux/sched.h): flags 0, pidfd 8, child_tid 16, parent_tid 24,
    # exit_signal 32, stack 40, stack_size 48, tls 56, set_tid 64, set_tid_size 72, cgroup 80
    f = Fields(data, len(data))
    flags = f.u64(0)
    d: dict[str, Value] = {"flags": clone_flags(flags, with_signal=False)}
    if flags & 0x1000:
        d["pidfd"] = addr(f.u64(8))
    if flags & (0x1000000 | 0x200000):
        d["child_tid"] = addr(f.u64(16))
    if flags & 0x100000:
        d["parent_tid"] = addr(f.u64(24))
    sig = f.u64(32)
    d["exit_signal"] = Sym(signal_name(sig)) if sig else 0
    d["stack"] = addr(f.u64(40))
    d["stack_size"] = f.u64(48)
    if flags & 0x80000:
        d["tls"] = addr(f.u64(56))
    return Pending("clone3", (d, size))


# -- the rest --------------------------------------------------------------------------------

_NUMBER_LINE = re.compile(rb"-?[0-9]+\n")
_READ_LIMIT = 64


def _read(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    fd, buf, count = s32(a[0]), a[1], a[2]

    def finish(tr: Tracee, result: int | None) -> tuple[Args, dict[str, Any] | None] | None:
        # framing keeps only reads that return a number and a newline (a tracepoint id
        # or PMU type read from tracefs/sysfs): do the same on the bytes
        if result is None or not 0 < result <= _READ_LIMIT:
            return None
        data = tr.read(buf, result)
        if not _NUMBER_LINE.fullmatch(data):
            return None
        return (fd, text(data), count), None

    return Pending("read", (fd, buf, count), finish=finish)


def _open(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    args: list[Value] = [string_at(tr, a[0]), open_flags(a[1], ctx.arch)]
    if a[1] & (0o100 | 0o20000000):
        args.append(a[2] & 0o7777)
    return Pending("open", tuple(args), result_is_fd=True)


def _openat(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    args: list[Value] = [_dirfd(a[0]), string_at(tr, a[1]), open_flags(a[2], ctx.arch)]
    if a[2] & (0o100 | 0o20000000):
        args.append(a[3] & 0o7777)
    return Pending("openat", tuple(args), result_is_fd=True)


def _openat2(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    how: Value = addr(a[2])
    data = tr.read(a[2], 24) if a[2] else b""
    if len(data) == 24:
        f = Fields(data, 24)    # struct open_how: flags, mode, resolve (linux/openat2.h)
        how = {"flags": open_flags(f.u64(0), ctx.arch), "mode": f.u64(8),
               "resolve": f.u64(16)}
    return Pending("openat2", (_dirfd(a[0]), string_at(tr, a[1]), how, a[3]),
                   result_is_fd=True)


def _close(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    return Pending("close", (_fd(a[0]),))


_CLOSE_RANGE = [("CLOSE_RANGE_UNSHARE", 2), ("CLOSE_RANGE_CLOEXEC", 4)]


def _close_range(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    last = a[1] & 0xFFFFFFFF
    last_value: Value = Commented(last, "~0U") if last == 0xFFFFFFFF else last
    return Pending("close_range", (a[0] & 0xFFFFFFFF, last_value,
                                   flags_value(a[2] & 0xFFFFFFFF, _CLOSE_RANGE)))


def _dup(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    return Pending("dup", (_fd(a[0]),), result_is_fd=True)


def _dup2(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    return Pending("dup2", (_fd(a[0]), _fd(a[1])), result_is_fd=True)


def _dup3(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    flags = a[2] & 0xFFFFFFFF
    return Pending("dup3", (_fd(a[0]), _fd(a[1]),
                            Sym("O_CLOEXEC") if flags == 0o2000000 else flags),
                   result_is_fd=True)


_F_DUPFD, _F_DUPFD_CLOEXEC = 0, 1030


def _fcntl(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending | None:
    cmd = a[1] & 0xFFFFFFFF
    if cmd not in (_F_DUPFD, _F_DUPFD_CLOEXEC):
        return None
    name = "F_DUPFD" if cmd == _F_DUPFD else "F_DUPFD_CLOEXEC"
    return Pending("fcntl", (_fd(a[0]), Sym(name), s32(a[2])), result_is_fd=True)


def _mmap(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending | None:
    if not a[3] & 0x01:      # MAP_SHARED or MAP_SHARED_VALIDATE: perf and ring buffers
        return None
    args = (addr(a[0]), a[1], flags_value(a[2] & 0xFFFFFFFF, _PROT, zero="PROT_NONE"),
            mmap_flags(a[3] & 0xFFFFFFFF), _fd(a[4]), a[5])
    return Pending("mmap", args)


_PERF_IOC_TYPE = 0x24     # '$' in _IOC(dir, '$', nr, size)


def _ioctl(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending | None:
    request = a[1] & 0xFFFFFFFF
    if request in (netlink.SIOCGIFINDEX, netlink.SIOCGIFNAME):
        return _ifreq_ioctl(s32(a[0]), request, a[2])
    if (request >> 8) & 0xFF != _PERF_IOC_TYPE:
        return None
    entry = kn.PERF_IOCTL.get(request)
    req: Value = Sym(entry.name) if entry else request
    name = entry.name if entry else ""
    arg: Value
    if name in ("PERF_EVENT_IOC_SET_BPF", "PERF_EVENT_IOC_SET_OUTPUT"):
        arg = s32(a[2])
    elif name == "PERF_EVENT_IOC_SET_FILTER":
        arg = string_at(tr, a[2], 4096)
    elif name in ("PERF_EVENT_IOC_ID", "PERF_EVENT_IOC_PERIOD", "PERF_EVENT_IOC_QUERY_BPF",
                  "PERF_EVENT_IOC_MODIFY_ATTRIBUTES"):
        arg = addr(a[2])
    else:
        arg = a[2]
    return Pending("ioctl", (_fd(a[0]), req, arg))


def _ifreq_ioctl(fd: int, request: int, where: int) -> Pending:
    """if_nametoindex/if_indextoname: the struct ifreq as the kernel left it."""
    name = Sym("SIOCGIFINDEX" if request == netlink.SIOCGIFINDEX else "SIOCGIFNAME")

    def finish(tr: Tracee, result: int | None) -> tuple[Args, dict[str, Any] | None] | None:
        data = tr.read(where, netlink.IFNAMSIZ + 4) if where else b""
        if len(data) < netlink.IFNAMSIZ + 4:
            return (fd, name, addr(where)), None
        return (fd, name, netlink.ifreq_value(request, data, result == 0)), None

    return Pending("ioctl", (fd, name, addr(where)), finish=finish)


_ARGV_LIMIT = 4096


def _string_array(tr: Tracee, address: int) -> list[Value] | Value:
    if address == 0:
        return NULL
    items: list[Value] = []
    for _ in range(_ARGV_LIMIT // 64):
        chunk = tr.read(address + len(items) * 8, 64 * 8)
        if len(chunk) < 8:
            break
        for i in range(0, len(chunk) // 8 * 8, 8):
            ptr = int.from_bytes(chunk[i:i + 8], "little")
            if ptr == 0:
                return items
            items.append(string_at(tr, ptr))
    return items


def _count_pointers(tr: Tracee, address: int) -> int:
    count = 0
    while count < 1 << 16:
        chunk = tr.read(address + count * 8, 512)
        if len(chunk) < 8:
            return count
        for i in range(0, len(chunk) // 8 * 8, 8):
            if chunk[i:i + 8] == b"\0" * 8:
                return count
            count += 1
    return count


def _envp(tr: Tracee, address: int) -> Value:
    if address == 0:
        return NULL
    n = _count_pointers(tr, address)
    return Commented(address, f"{n} var{'s' if n != 1 else ''}")


def _execve(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    return Pending("execve", (string_at(tr, a[0]), _string_array(tr, a[1]), _envp(tr, a[2])))


_AT_FLAGS = [("AT_SYMLINK_NOFOLLOW", 0x100), ("AT_EMPTY_PATH", 0x1000)]


def _execveat(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    return Pending("execveat", (_dirfd(a[0]), string_at(tr, a[1]), _string_array(tr, a[2]),
                                _envp(tr, a[3]), flags_value(a[4] & 0xFFFFFFFF, _AT_FLAGS)))


def _exit(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    return Pending("exit", (s32(a[0]),), no_return=True)


def _exit_group(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    return Pending("exit_group", (s32(a[0]),), no_return=True)


def _fork(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    return Pending("fork", ())


def _vfork(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    return Pending("vfork", ())


_PERF_FLAGS = structs.table_bits(kn.PERF_FLAGS)


def _perf_event_open(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    pid = s32(a[1])

    def resolve(path: str, offset: int) -> str | None:
        if ctx.resolve_symbol is None:
            return None
        return ctx.resolve_symbol(tr, path, offset)

    attr, deep = structs.perf_attr(tr, a[0], pid, ctx.pmus, resolve)
    args = (attr, pid, s32(a[2]), s32(a[3]), flags_value(a[4] & 0xFFFFFFFF, _PERF_FLAGS))
    return Pending("perf_event_open", args, deep=deep or None, result_is_fd=True)


def _bpf(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    cmd, size = a[0] & 0xFFFFFFFF, a[2] & 0xFFFFFFFF
    entry = structs.bpf_enter(tr, cmd, a[1], size, cpus=ctx.cpus)

    def finish(tr: Tracee, result: int | None) -> tuple[Args, dict[str, Any] | None] | None:
        attr, deep = structs.bpf_exit(tr, entry, result)
        return (structs.cmd_value(cmd), attr, size), deep or None

    return Pending("bpf", (structs.cmd_value(cmd), entry.value, size), finish=finish,
                   result_is_fd=entry.name in _BPF_FD_COMMANDS)


# commands whose result is a new fd (strace's RVAL_FD decoders)
_BPF_FD_COMMANDS = frozenset({
    "BPF_MAP_CREATE", "BPF_PROG_LOAD", "BPF_OBJ_GET", "BPF_PROG_GET_FD_BY_ID",
    "BPF_MAP_GET_FD_BY_ID", "BPF_BTF_GET_FD_BY_ID", "BPF_LINK_GET_FD_BY_ID",
    "BPF_RAW_TRACEPOINT_OPEN", "BPF_BTF_LOAD", "BPF_LINK_CREATE", "BPF_ENABLE_STATS",
    "BPF_ITER_CREATE", "BPF_TOKEN_CREATE",
})


# -- attach routes outside bpf(): sockets and rtnetlink ---------------------------------------

_NETLINK_READ_LIMIT = 1 << 16
"""Netlink buffers read per call: a dump reply is a few KiB; the ones that matter here
(link and tc requests, acks) are under a hundred bytes."""


def route_socket(tr: Tracee, fd: int) -> bool:
    """Whether ``fd`` is an AF_NETLINK/NETLINK_ROUTE socket of the tracee: its inode
    (``socket:[N]``) listed with protocol 0 in the tracee's ``/proc/PID/net/netlink``.
    strace decodes a netlink message only on such a socket; so do we."""
    inode = netlink.socket_inode(tr.fd_path(fd))
    if inode is None:
        return False
    try:
        with open(f"/proc/{tr.pid}/net/netlink", encoding="ascii", errors="replace") as f:
            protocols = netlink.netlink_protocols(f)
    except OSError:
        return False
    return protocols.get(inode) == netlink.NETLINK_ROUTE


def _socket(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending:
    return Pending("socket", netlink.socket_args(s32(a[0]), a[1] & 0xFFFFFFFF, s32(a[2])),
                   result_is_fd=True)


def _setsockopt(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending | None:
    level, optname, optlen = s32(a[1]), s32(a[2]), s32(a[4])
    if not netlink.wants_setsockopt(level, optname):
        return None     # the same choice as framing's prefilter: filter options only
    optval = tr.read(a[3], min(max(optlen, 0), 16)) if a[3] else None
    return Pending("setsockopt", netlink.setsockopt_args(s32(a[0]), level, optname, optval,
                                                         a[3], optlen))


def _sockaddr(tr: Tracee, address: int, length: int) -> Value:
    if address == 0:
        return NULL
    data = tr.read(address, min(max(length, 0), 128))
    if len(data) >= 12 and int.from_bytes(data[:2], "little") == netlink.AF_NETLINK:
        return netlink.sockaddr_nl(data)
    return address


def _sendto(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending | None:
    fd, buf, length = s32(a[0]), a[1], a[2]
    if not route_socket(tr, fd):
        return None
    msgs = netlink.messages(tr.read(buf, min(length, _NETLINK_READ_LIMIT)))
    if msgs is None:
        return None
    return Pending("sendto", (fd, msgs, length, netlink.msg_flags(a[3]),
                              _sockaddr(tr, a[4], s32(a[5])), s32(a[5])))


_MSGHDR_SIZE = 56   # struct msghdr on 64-bit: name, namelen, iov, iovlen, control,
#                     controllen, flags (linux/socket.h, user_msghdr)


def _msghdr(tr: Tracee, address: int, received: int | None) -> Value | None:
    """The msghdr at ``address`` with its netlink iovecs decoded: all of them for a
    send (``received`` None), the first ``received`` bytes for a receive.  None when
    no iovec holds a netlink message (framing drops such calls as well)."""
    data = tr.read(address, _MSGHDR_SIZE) if address else b""
    if len(data) < _MSGHDR_SIZE:
        return None
    f = Fields(data, len(data))
    name_addr, namelen = f.u64(0), f.u32(8)
    iov_addr, iovlen = f.u64(16), f.u64(24)
    controllen, flags = f.u64(40), f.s32(48)
    iovecs = tr.read(iov_addr, min(iovlen, 64) * 16) if iov_addr else b""
    left = received
    decoded: list[tuple[int, int, Value]] = []
    found = False
    for i in range(0, len(iovecs) // 16 * 16, 16):
        base = int.from_bytes(iovecs[i:i + 8], "little")
        length = int.from_bytes(iovecs[i + 8:i + 16], "little")
        take = length if left is None else min(length, left)
        value: Value = NULL if base == 0 else base
        if base and take > 0:
            msgs = netlink.messages(tr.read(base, min(take, _NETLINK_READ_LIMIT)))
            if msgs is not None:
                value, found = msgs, True
        if left is not None:
            left -= take
        decoded.append((base, length, value))
    if not found:
        return None
    name = tr.read(name_addr, min(namelen, 128)) if name_addr else None
    return netlink.msghdr_value(name, name_addr, namelen, decoded, controllen, flags)


def _sendmsg(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending | None:
    fd = s32(a[0])
    if not route_socket(tr, fd):
        return None
    msg = _msghdr(tr, a[1], None)
    if msg is None:
        return None
    return Pending("sendmsg", (fd, msg, netlink.msg_flags(a[2])))


def _recvmsg(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending | None:
    fd, address, flags = s32(a[0]), a[1], a[2]
    if not route_socket(tr, fd):
        return None

    def finish(tr: Tracee, result: int | None) -> tuple[Args, dict[str, Any] | None] | None:
        # The reply exists only now; MSG_PEEK|MSG_TRUNC probes with an empty iovec
        # carry no message and are dropped, as framing drops their lines.
        if result is None or result <= 0:
            return None
        msg = _msghdr(tr, address, result)
        if msg is None:
            return None
        return (fd, msg, netlink.msg_flags(flags)), None

    return Pending("recvmsg", (fd, address, netlink.msg_flags(flags)), finish=finish)


def _recvfrom(ctx: Context, tr: Tracee, a: tuple[int, ...]) -> Pending | None:
    fd, buf, length, flags, src, lenp = s32(a[0]), a[1], a[2], a[3], a[4], a[5]
    if not route_socket(tr, fd):
        return None
    before = int.from_bytes(tr.read(lenp, 4), "little") if lenp else None

    def finish(tr: Tracee, result: int | None) -> tuple[Args, dict[str, Any] | None] | None:
        if result is None or result <= 0:
            return None
        msgs = netlink.messages(tr.read(buf, min(result, length, _NETLINK_READ_LIMIT)))
        if msgs is None:
            return None
        addrlen: Value = NULL
        source: Value = NULL
        if lenp and before is not None:
            after = int.from_bytes(tr.read(lenp, 4), "little")
            addrlen = netlink.addrlen_value(before, after)
            source = _sockaddr(tr, src, after)
        return (fd, msgs, length, netlink.msg_flags(flags), source, addrlen), None

    return Pending("recvfrom", (fd, buf, length, netlink.msg_flags(flags)), finish=finish)


Enter = Callable[[Context, Tracee, tuple[int, ...]], "Pending | None"]

ENTRY: dict[str, Enter] = {
    "bpf": _bpf,
    "perf_event_open": _perf_event_open,
    "ioctl": _ioctl,
    "close": _close,
    "close_range": _close_range,
    "dup": _dup,
    "dup2": _dup2,
    "dup3": _dup3,
    "fcntl": _fcntl,
    "open": _open,
    "openat": _openat,
    "openat2": _openat2,
    "read": _read,
    "mmap": _mmap,
    "clone": _clone,
    "clone3": _clone3,
    "fork": _fork,
    "vfork": _vfork,
    "execve": _execve,
    "execveat": _execveat,
    "exit": _exit,
    "exit_group": _exit_group,
    "socket": _socket,
    "setsockopt": _setsockopt,
    "sendto": _sendto,
    "sendmsg": _sendmsg,
    "recvfrom": _recvfrom,
    "recvmsg": _recvmsg,
}


def errno_of(rval: int) -> tuple[int | None, str | None]:
    """(result, errno name) the way strace reports a return value."""
    if -4095 <= rval < 0:
        number = -rval
        entry = kn.ERRNO.get(number)
        name = entry.name if entry else f"errno {number}"
        if 512 <= number <= 530 and number in (512, 513, 514, 516):
            return None, name      # ERESTART*: strace prints "= ? ERESTARTSYS"
        return -1, name
    return rval, None
