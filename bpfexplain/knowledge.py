"""What the numbers and names in an eBPF loader's strace log mean: data, not logic.

Every enumeration a trace can show (bpf commands, program/map/attach/link types, perf
event types and configs, perf ioctls, flags, errno values) is a :class:`Table`: one
object that turns numbers into names, names into numbers and either into a one-line
plain-language description, with a readable fallback for values this module does not
know (a kernel newer than the table, or ``strace -X raw`` output).  In the manner of
pyelftools' ``enums.py``/``descriptions.py`` the model never stores these strings: the
tracker keeps numbers or names and asks here when it needs words.

Sources of the numbers, so they can be re-checked:

* ``/usr/include/linux/bpf.h`` and ``/usr/include/linux/perf_event.h`` from Debian's
  ``linux-libc-dev`` 6.1 (the values up to Linux 6.1);
* the same two UAPI headers as vendored by libbpf (``include/uapi/linux/``, 2026),
  for everything added after 6.1.  Enums in these headers are append-only, so newer
  values never change older numbers.

``tests/test_knowledge.py`` parses the installed headers, when present, and checks
every number here against them.

``since`` is the first mainline kernel that had the value, where known; ``None`` means
"not recorded here", not "very old".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Literal

from bpfexplain.plain import Frozen, init_field

__all__ = [
    "ALL_TABLES",
    "ANON_INODE_KINDS",
    "ATTACH_TYPE",
    "BPF_CMD",
    "BPF_COMMON_ATTRS",
    "ERRNO",
    "HARDWARE_PROBE_NAMES",
    "HW_CONFIG",
    "LINK_TYPE",
    "MAP_FLAGS",
    "MAP_TYPE",
    "PERF_FLAGS",
    "PERF_IOCTL",
    "PERF_TYPE",
    "PROG_FLAGS",
    "PROG_TYPE",
    "SOFTWARE_PROBE_NAMES",
    "SW_CONFIG",
    "CommandInfo",
    "CommandKind",
    "Entry",
    "ObjectKind",
    "Table",
    "command_info",
    "errno_contexts",
    "errno_is_expected",
    "errno_meaning",
    "ioc",
    "perf_probe_name",
    "short_name",
]


class Entry(Frozen):
    """One named value of a kernel enumeration."""

    __slots__ = _fields = ("name", "number", "description", "since")

    name: str
    number: int
    description: str
    since: str | None

    def __init__(self, name: str, number: int, description: str, since: str | None = None) -> None:
        init_field(self, "name", name)
        init_field(self, "number", number)
        init_field(self, "description", description)
        init_field(self, "since", since)


Key = int | str


class Table:
    """A kernel enumeration: number ↔ name ↔ description, with fallbacks.

    Keys may be given as the number, the full name (``BPF_PROG_TYPE_TRACEPOINT``), the
    short name without the table's prefix (``TRACEPOINT``, ``tracepoint``), an alias
    (``BPF_PROG_RUN``) or a number written as text (``"0x24"``, ``"36"``) as
    ``strace -X raw`` prints it.
    """

    def __init__(
        self,
        title: str,
        prefix: str,
        entries: Iterable[Entry],
        *,
        aliases: Mapping[str, str] | None = None,
        number_aliases: Mapping[int, str] | None = None,
        unknown: str = "{prefix}??? ({number:#x})",
        bitflags: bool = False,
    ) -> None:
        self.title = title
        """What one value is, for messages: ``"bpf map type"``."""
        self.prefix = prefix
        self.bitflags = bitflags
        """True when values combine with ``|`` (decode them with :meth:`flags`)."""
        self._unknown = unknown
        self._entries: tuple[Entry, ...] = tuple(entries)
        self._by_number: dict[int, Entry] = {}
        self._by_key: dict[str, Entry] = {}
        for entry in self._entries:
            # The first entry wins a number: later ones are spellings of the same value.
            self._by_number.setdefault(entry.number, entry)
            self._by_key[entry.name.upper()] = entry
        for entry in self._entries:
            short = self._strip(entry.name).upper()
            self._by_key.setdefault(short, entry)
        for alias, target in (aliases or {}).items():
            self._by_key[alias.upper()] = self._by_key[target.upper()]
            self._by_key.setdefault(self._strip(alias).upper(), self._by_key[target.upper()])
        for number, target in (number_aliases or {}).items():
            self._by_number[number] = self._by_key[target.upper()]
        self._spellings: dict[int, list[str]] | None = None
        """Each entry's keys (by the entry's id), in ``_by_key`` order: built once, on
        the first :meth:`aliases`, so that the glossary's index of every entry is one
        pass over each table and not one pass per entry."""

    def _strip(self, name: str) -> str:
        if self.prefix and name.upper().startswith(self.prefix.upper()):
            return name[len(self.prefix):]
        return name

    # -- lookups ----------------------------------------------------------------

    def get(self, key: Key) -> Entry | None:
        """The entry for a number or any accepted spelling of a name, or None."""
        if isinstance(key, bool):
            return None
        if isinstance(key, int):
            return self._by_number.get(key)
        text = key.strip()
        entry = self._by_key.get(text.upper())
        if entry is not None:
            return entry
        try:
            return self._by_number.get(int(text, 0))
        except ValueError:
            return None

    def name(self, key: Key) -> str:
        """The canonical name, or a strace-like fallback: ``BPF_MAP_TYPE_??? (0x24)``."""
        entry = self.get(key)
        if entry is not None:
            return entry.name
        if isinstance(key, int):
            return self._unknown.format(prefix=self.prefix, number=key)
        try:
            return self._unknown.format(prefix=self.prefix, number=int(key.strip(), 0))
        except ValueError:
            # A name we do not know (a newer kernel, or a typo): keep it as given.
            return key

    def number(self, key: Key) -> int | None:
        """The number of a name (or of a number, when known), else None."""
        entry = self.get(key)
        return entry.number if entry is not None else None

    def short(self, key: Key) -> str:
        """The name without the table prefix: ``TRACEPOINT``; fallbacks as :meth:`name`."""
        entry = self.get(key)
        if entry is None:
            return self.name(key)
        return self._strip(entry.name)

    def describe(self, key: Key) -> str:
        """One plain-language line; for unknown values says so and shows the value."""
        entry = self.get(key)
        if entry is not None:
            return entry.description
        return f"unknown {self.title} {self.name(key)} (newer kernel than bpfexplain knows?)"

    def since(self, key: Key) -> str | None:
        """First kernel version with this value, where recorded."""
        entry = self.get(key)
        return entry.since if entry is not None else None

    def flags(self, value: int) -> list[str]:
        """Split a ``|``-combined value into names; leftover bits as one hex number."""
        names: list[str] = []
        rest = value
        for entry in self._entries:
            if entry.number and value & entry.number == entry.number and rest & entry.number:
                names.append(entry.name)
                rest &= ~entry.number
        if rest:
            names.append(f"{rest:#x}")
        return names

    # -- container protocol -------------------------------------------------------

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, (int, str)) and self.get(key) is not None

    def names(self) -> list[str]:
        return [entry.name for entry in self._entries]

    def aliases(self, key: Key) -> list[str]:
        """Every accepted spelling of an entry except its canonical name (upper case)."""
        entry = self.get(key)
        if entry is None:
            return []
        if self._spellings is None:
            spellings: dict[int, list[str]] = {}
            for spelling, holder in self._by_key.items():
                spellings.setdefault(id(holder), []).append(spelling)
            self._spellings = spellings
        canonical = entry.name.upper()
        return [k for k in self._spellings[id(entry)] if k != canonical]

    def __repr__(self) -> str:
        return f"Table({self.title!r}, {len(self)} entries)"


def _seq(rows: Iterable[tuple[str, str | None, str]], start: int = 0) -> list[Entry]:
    """Entries for a C enum without explicit values: numbered in declaration order."""
    return [Entry(name, i, desc, since) for i, (name, since, desc) in enumerate(rows, start)]


def _num(rows: Iterable[tuple[str, int, str | None, str]]) -> list[Entry]:
    return [Entry(name, number, desc, since) for name, number, since, desc in rows]


# --------------------------------------------------------------------------------
# enum bpf_cmd (bpf.h): the first argument of bpf(2).

BPF_CMD = Table("bpf command", "BPF_", _seq([
    ("BPF_MAP_CREATE", "3.18",
     "create a map (memory shared by eBPF programs and user space); returns a map fd"),
    ("BPF_MAP_LOOKUP_ELEM", "3.18", "read the value stored under a key of a map"),
    ("BPF_MAP_UPDATE_ELEM", "3.18", "create or overwrite the value under a key of a map"),
    ("BPF_MAP_DELETE_ELEM", "3.18", "remove a key and its value from a map"),
    ("BPF_MAP_GET_NEXT_KEY", "3.18",
     "get the key after a given one, to walk a map; ENOENT means the walk is over"),
    ("BPF_PROG_LOAD", "3.18",
     "hand eBPF instructions to the kernel; the verifier checks them and, if they are safe, "
     "the kernel returns a program fd"),
    ("BPF_OBJ_PIN", "4.4",
     "pin a program, map or link to a file under the BPF filesystem (/sys/fs/bpf) so it "
     "outlives the process"),
    ("BPF_OBJ_GET", "4.4", "open a pinned program, map or link by its path; returns a new fd"),
    ("BPF_PROG_ATTACH", "4.10",
     "attach a program to a cgroup, socket map, flow dissector or similar hook "
     "(the older attach API that returns no link fd)"),
    ("BPF_PROG_DETACH", "4.10", "detach a program attached with BPF_PROG_ATTACH"),
    ("BPF_PROG_TEST_RUN", "4.12",
     "run a loaded program once, right now, on input supplied by the caller"),
    ("BPF_PROG_GET_NEXT_ID", "4.13", "list the programs loaded on the system, one id at a time"),
    ("BPF_MAP_GET_NEXT_ID", "4.13", "list the maps that exist on the system, one id at a time"),
    ("BPF_PROG_GET_FD_BY_ID", "4.13", "open an fd to a loaded program from its system-wide id"),
    ("BPF_MAP_GET_FD_BY_ID", "4.13", "open an fd to a map from its system-wide id"),
    ("BPF_OBJ_GET_INFO_BY_FD", "4.13",
     "ask the kernel about the program, map, BTF object or link behind an fd "
     "(type, id, name, sizes...)"),
    ("BPF_PROG_QUERY", "4.15", "list the programs attached to a hook such as a cgroup"),
    ("BPF_RAW_TRACEPOINT_OPEN", "4.17",
     "attach a program to a raw tracepoint (or an fentry/fexit/LSM target); "
     "returns an fd that keeps it attached"),
    ("BPF_BTF_LOAD", "4.18", "load BTF type information into the kernel; returns a BTF fd"),
    ("BPF_BTF_GET_FD_BY_ID", "4.18",
     "open an fd to a BTF object from its id (id 1 is the kernel's own, vmlinux)"),
    ("BPF_TASK_FD_QUERY", "4.18",
     "ask what a process's perf-event or raw-tracepoint fd is attached to"),
    ("BPF_MAP_LOOKUP_AND_DELETE_ELEM", "4.20",
     "read and remove an element in one step (pop from a queue or stack map)"),
    ("BPF_MAP_FREEZE", "5.2",
     "make a map read-only for user space from now on (done for .rodata constants)"),
    ("BPF_BTF_GET_NEXT_ID", "5.4", "list the BTF objects loaded on the system, one id at a time"),
    ("BPF_MAP_LOOKUP_BATCH", "5.6", "read many elements of a map in one call"),
    ("BPF_MAP_LOOKUP_AND_DELETE_BATCH", "5.6",
     "read and remove many elements of a map in one call"),
    ("BPF_MAP_UPDATE_BATCH", "5.6", "write many elements of a map in one call"),
    ("BPF_MAP_DELETE_BATCH", "5.6", "remove many elements of a map in one call"),
    ("BPF_LINK_CREATE", "5.7",
     "attach a program to a hook and return a link fd; the attachment lasts as long as the link"),
    ("BPF_LINK_UPDATE", "5.7", "swap the program behind an existing link in one atomic step"),
    ("BPF_LINK_GET_FD_BY_ID", "5.8", "open an fd to a link from its system-wide id"),
    ("BPF_LINK_GET_NEXT_ID", "5.8", "list the links on the system, one id at a time"),
    ("BPF_ENABLE_STATS", "5.8",
     "turn on run-time statistics (run count and time) for all programs while the "
     "returned fd stays open"),
    ("BPF_ITER_CREATE", "5.8",
     "turn an iterator link into a readable fd; each read runs the iterator program"),
    ("BPF_LINK_DETACH", "5.9", "detach a link's program from its hook without closing the link"),
    ("BPF_PROG_BIND_MAP", "5.10",
     "keep a map alive as long as a program, even if the program's code never uses it"),
    ("BPF_TOKEN_CREATE", "6.9",
     "derive a BPF token from a BPF filesystem mount, delegating chosen bpf() rights to "
     "an unprivileged container"),
    ("BPF_PROG_STREAM_READ_BY_FD", None,
     "read a program's message stream (text the program or the kernel wrote about it)"),
    ("BPF_PROG_ASSOC_STRUCT_OPS", None, "associate a program with a struct_ops map"),
]), aliases={"BPF_PROG_RUN": "BPF_PROG_TEST_RUN"})

BPF_COMMON_ATTRS = 1 << 16
"""The newest kernels let a loader set this bit in the command (``bpf(0x10005, ...)``)
to say that common attributes follow; mask it off before looking the command up."""

ObjectKind = Literal["prog", "map", "btf", "link", "iter", "stats", "token", "pinned", "perf"]
"""What an fd refers to.  ``pinned`` is an OBJ_GET result whose kind shows only in
``-yy`` annotations or later calls; ``perf`` is a perf_event_open fd."""

CommandKind = Literal[
    "create", "reopen", "map_read", "map_write", "map_iterate", "attach", "detach",
    "pin", "query", "run", "other",
]


class CommandInfo(Frozen):
    """How a tracker should treat one bpf command."""

    __slots__ = _fields = ("kind", "creates", "fd_fields")

    kind: CommandKind
    creates: ObjectKind | None
    """Kind of the fd the call returns on success, if it returns one."""
    fd_fields: tuple[str, ...]
    """``union bpf_attr`` fields holding existing fds (strace prints the same names,
    sometimes nested: ``info={bpf_fd=3, ...}``, ``test={prog_fd=9, ...}``)."""

    def __init__(self, kind: CommandKind, creates: ObjectKind | None = None,
                 fd_fields: tuple[str, ...] = ()) -> None:
        init_field(self, "kind", kind)
        init_field(self, "creates", creates)
        init_field(self, "fd_fields", fd_fields)


_COMMAND_INFO: dict[str, CommandInfo] = {
    "BPF_MAP_CREATE": CommandInfo("create", "map", ("btf_fd", "inner_map_fd", "map_token_fd")),
    "BPF_MAP_LOOKUP_ELEM": CommandInfo("map_read", None, ("map_fd",)),
    "BPF_MAP_UPDATE_ELEM": CommandInfo("map_write", None, ("map_fd",)),
    "BPF_MAP_DELETE_ELEM": CommandInfo("map_write", None, ("map_fd",)),
    "BPF_MAP_GET_NEXT_KEY": CommandInfo("map_iterate", None, ("map_fd",)),
    "BPF_PROG_LOAD": CommandInfo(
        "create", "prog",
        ("prog_btf_fd", "attach_btf_obj_fd", "attach_prog_fd", "prog_token_fd"),
    ),
    "BPF_OBJ_PIN": CommandInfo("pin", None, ("bpf_fd",)),
    "BPF_OBJ_GET": CommandInfo("reopen", "pinned"),
    "BPF_PROG_ATTACH": CommandInfo(
        "attach", None, ("target_fd", "attach_bpf_fd", "replace_bpf_fd")
    ),
    "BPF_PROG_DETACH": CommandInfo("detach", None, ("target_fd", "attach_bpf_fd")),
    "BPF_PROG_TEST_RUN": CommandInfo("run", None, ("prog_fd",)),
    "BPF_PROG_GET_NEXT_ID": CommandInfo("query"),
    "BPF_MAP_GET_NEXT_ID": CommandInfo("query"),
    "BPF_PROG_GET_FD_BY_ID": CommandInfo("reopen", "prog"),
    "BPF_MAP_GET_FD_BY_ID": CommandInfo("reopen", "map"),
    "BPF_OBJ_GET_INFO_BY_FD": CommandInfo("query", None, ("bpf_fd",)),
    "BPF_PROG_QUERY": CommandInfo("query", None, ("target_fd",)),
    "BPF_RAW_TRACEPOINT_OPEN": CommandInfo("attach", "link", ("prog_fd",)),
    "BPF_BTF_LOAD": CommandInfo("create", "btf", ("btf_token_fd",)),
    "BPF_BTF_GET_FD_BY_ID": CommandInfo("reopen", "btf"),
    "BPF_TASK_FD_QUERY": CommandInfo("query", None, ("fd",)),
    "BPF_MAP_LOOKUP_AND_DELETE_ELEM": CommandInfo("map_write", None, ("map_fd",)),
    "BPF_MAP_FREEZE": CommandInfo("other", None, ("map_fd",)),
    "BPF_BTF_GET_NEXT_ID": CommandInfo("query"),
    "BPF_MAP_LOOKUP_BATCH": CommandInfo("map_read", None, ("map_fd",)),
    "BPF_MAP_LOOKUP_AND_DELETE_BATCH": CommandInfo("map_write", None, ("map_fd",)),
    "BPF_MAP_UPDATE_BATCH": CommandInfo("map_write", None, ("map_fd",)),
    "BPF_MAP_DELETE_BATCH": CommandInfo("map_write", None, ("map_fd",)),
    "BPF_LINK_CREATE": CommandInfo("attach", "link", ("prog_fd", "target_fd")),
    "BPF_LINK_UPDATE": CommandInfo("attach", None, ("link_fd", "new_prog_fd", "old_prog_fd")),
    "BPF_LINK_GET_FD_BY_ID": CommandInfo("reopen", "link"),
    "BPF_LINK_GET_NEXT_ID": CommandInfo("query"),
    "BPF_ENABLE_STATS": CommandInfo("create", "stats"),
    "BPF_ITER_CREATE": CommandInfo("create", "iter", ("link_fd",)),
    "BPF_LINK_DETACH": CommandInfo("detach", None, ("link_fd",)),
    "BPF_PROG_BIND_MAP": CommandInfo("other", None, ("prog_fd", "map_fd")),
    "BPF_TOKEN_CREATE": CommandInfo("create", "token", ("bpffs_fd",)),
    "BPF_PROG_STREAM_READ_BY_FD": CommandInfo("query", None, ("prog_fd",)),
    "BPF_PROG_ASSOC_STRUCT_OPS": CommandInfo("other", None, ("map_fd", "prog_fd")),
}

_UNKNOWN_COMMAND = CommandInfo("other")


def command_info(command: Key) -> CommandInfo:
    """How to track a bpf command; unknown commands are ``other`` and create nothing."""
    entry = BPF_CMD.get(command)
    if entry is None:
        return _UNKNOWN_COMMAND
    return _COMMAND_INFO.get(entry.name, _UNKNOWN_COMMAND)


# What ``strace -yy`` shows after an fd (``3<anon_inode:bpf-map>``), as object kinds.
# The names are the ones the kernel passes to anon_inode_getfd()/getfile().
ANON_INODE_KINDS: Mapping[str, ObjectKind] = {
    "bpf-prog": "prog",
    "bpf-map": "map",
    "bpf_link": "link",
    "btf": "btf",
    "bpf_iter": "iter",
    "bpf-stats": "stats",
    "[perf_event]": "perf",
    # Before links existed (< 5.7) a raw tracepoint attachment had its own inode name.
    "bpf-raw-tracepoint": "link",
}


# --------------------------------------------------------------------------------
# enum bpf_prog_type (bpf.h): prog_type of BPF_PROG_LOAD.

PROG_TYPE = Table("bpf program type", "BPF_PROG_TYPE_", _seq([
    ("BPF_PROG_TYPE_UNSPEC", None, "no program type (invalid; 0 means unset)"),
    ("BPF_PROG_TYPE_SOCKET_FILTER", "3.19",
     "filters or copies packets arriving at a socket (also the usual feature-probe program)"),
    ("BPF_PROG_TYPE_KPROBE", "4.1",
     "runs when a kernel function (kprobe/kretprobe) or user function (uprobe/uretprobe) "
     "is entered or returns"),
    ("BPF_PROG_TYPE_SCHED_CLS", "4.1", "classifies and edits packets in traffic control (tc)"),
    ("BPF_PROG_TYPE_SCHED_ACT", "4.1", "a traffic-control (tc) action on packets"),
    ("BPF_PROG_TYPE_TRACEPOINT", "4.7",
     "runs at a stable, named trace point in the kernel (e.g. raw_syscalls:sys_enter)"),
    ("BPF_PROG_TYPE_XDP", "4.8",
     "processes packets in the network driver, before the kernel's network stack"),
    ("BPF_PROG_TYPE_PERF_EVENT", "4.9",
     "runs on a perf event such as a timer or hardware counter overflow (profiling, sampling)"),
    ("BPF_PROG_TYPE_CGROUP_SKB", "4.10", "filters packets entering or leaving a cgroup"),
    ("BPF_PROG_TYPE_CGROUP_SOCK", "4.10", "runs when a process in a cgroup creates a socket"),
    ("BPF_PROG_TYPE_LWT_IN", "4.10", "lightweight tunnel: packets coming in on a route"),
    ("BPF_PROG_TYPE_LWT_OUT", "4.10", "lightweight tunnel: packets going out on a route"),
    ("BPF_PROG_TYPE_LWT_XMIT", "4.10", "lightweight tunnel: transmit path of a route"),
    ("BPF_PROG_TYPE_SOCK_OPS", "4.13", "tunes TCP connections of a cgroup at TCP events"),
    ("BPF_PROG_TYPE_SK_SKB", "4.14", "parses or redirects data between sockets of a sockmap"),
    ("BPF_PROG_TYPE_CGROUP_DEVICE", "4.15", "decides which devices a cgroup may open"),
    ("BPF_PROG_TYPE_SK_MSG", "4.17", "judges or redirects messages sent on sockmap sockets"),
    ("BPF_PROG_TYPE_RAW_TRACEPOINT", "4.17",
     "runs at a tracepoint with the raw, unformatted arguments (cheaper than TRACEPOINT)"),
    ("BPF_PROG_TYPE_CGROUP_SOCK_ADDR", "4.17",
     "checks or rewrites the address of bind/connect/sendmsg in a cgroup"),
    ("BPF_PROG_TYPE_LWT_SEG6LOCAL", "4.18", "an IPv6 segment-routing (SRv6) local action"),
    ("BPF_PROG_TYPE_LIRC_MODE2", "4.18", "decodes infrared remote-control signals"),
    ("BPF_PROG_TYPE_SK_REUSEPORT", "4.19",
     "picks which of several SO_REUSEPORT sockets gets a new connection"),
    ("BPF_PROG_TYPE_FLOW_DISSECTOR", "4.20", "parses packet headers for the flow dissector"),
    ("BPF_PROG_TYPE_CGROUP_SYSCTL", "5.2", "checks or changes sysctl access from a cgroup"),
    ("BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE", "5.2",
     "a raw tracepoint program that may write to the tracepoint's buffer"),
    ("BPF_PROG_TYPE_CGROUP_SOCKOPT", "5.3", "checks or changes getsockopt/setsockopt in a cgroup"),
    ("BPF_PROG_TYPE_TRACING", "5.5",
     "BTF-based tracing: fentry/fexit/fmod_ret on kernel functions, BTF tracepoints, "
     "iterators"),
    ("BPF_PROG_TYPE_STRUCT_OPS", "5.6",
     "implements a kernel operations table in eBPF (e.g. a TCP congestion control, "
     "a sched_ext scheduler)"),
    ("BPF_PROG_TYPE_EXT", "5.6", "replaces a function of another eBPF program (freplace)"),
    ("BPF_PROG_TYPE_LSM", "5.7", "a security check at a Linux Security Module hook"),
    ("BPF_PROG_TYPE_SK_LOOKUP", "5.9", "chooses the socket that receives a new connection"),
    ("BPF_PROG_TYPE_SYSCALL", "5.14",
     "a program that itself calls bpf(); run with BPF_PROG_TEST_RUN (light skeletons)"),
    ("BPF_PROG_TYPE_NETFILTER", "6.4", "a netfilter hook deciding a packet's verdict"),
]))


# --------------------------------------------------------------------------------
# enum bpf_map_type (bpf.h): map_type of BPF_MAP_CREATE.

MAP_TYPE = Table("bpf map type", "BPF_MAP_TYPE_", _seq([
    ("BPF_MAP_TYPE_UNSPEC", None, "no map type (invalid; 0 means unset)"),
    ("BPF_MAP_TYPE_HASH", "3.19", "a hash table: any key to a value"),
    ("BPF_MAP_TYPE_ARRAY", "3.19",
     "a fixed-size array indexed 0..N-1; also holds global variables (.data/.rodata/.bss)"),
    ("BPF_MAP_TYPE_PROG_ARRAY", "4.2",
     "a table of programs that one program can jump into (tail calls)"),
    ("BPF_MAP_TYPE_PERF_EVENT_ARRAY", "4.3",
     "one perf event fd per CPU; programs send records through it to user space "
     "(perf buffer)"),
    ("BPF_MAP_TYPE_PERCPU_HASH", "4.6",
     "a hash table with a separate value for each CPU, so CPUs never contend"),
    ("BPF_MAP_TYPE_PERCPU_ARRAY", "4.6", "an array with a separate value for each CPU"),
    ("BPF_MAP_TYPE_STACK_TRACE", "4.6", "stores call stacks; programs record them by id"),
    ("BPF_MAP_TYPE_CGROUP_ARRAY", "4.8", "holds cgroup fds, to test cgroup membership"),
    ("BPF_MAP_TYPE_LRU_HASH", "4.10",
     "a hash table that evicts the least recently used entry when full"),
    ("BPF_MAP_TYPE_LRU_PERCPU_HASH", "4.10", "an LRU hash table with per-CPU values"),
    ("BPF_MAP_TYPE_LPM_TRIE", "4.11", "longest-prefix match, e.g. IP address to route"),
    ("BPF_MAP_TYPE_ARRAY_OF_MAPS", "4.12", "an array whose values are other maps"),
    ("BPF_MAP_TYPE_HASH_OF_MAPS", "4.12", "a hash table whose values are other maps"),
    ("BPF_MAP_TYPE_DEVMAP", "4.14", "network devices that XDP can redirect packets to"),
    ("BPF_MAP_TYPE_SOCKMAP", "4.14", "sockets that programs can redirect data between"),
    ("BPF_MAP_TYPE_CPUMAP", "4.15", "CPUs that XDP can redirect packets to"),
    ("BPF_MAP_TYPE_XSKMAP", "4.18", "AF_XDP sockets that XDP can deliver packets to"),
    ("BPF_MAP_TYPE_SOCKHASH", "4.18", "like SOCKMAP, keyed by a hash instead of an index"),
    ("BPF_MAP_TYPE_CGROUP_STORAGE", "4.19",
     "storage for each cgroup a program is attached to (deprecated for CGRP_STORAGE)"),
    ("BPF_MAP_TYPE_REUSEPORT_SOCKARRAY", "4.19", "sockets for SK_REUSEPORT programs to pick"),
    ("BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE", "4.20", "per-CPU storage for each attached cgroup"),
    ("BPF_MAP_TYPE_QUEUE", "4.20", "a first-in first-out queue of values (no keys)"),
    ("BPF_MAP_TYPE_STACK", "4.20", "a last-in first-out stack of values (no keys)"),
    ("BPF_MAP_TYPE_SK_STORAGE", "5.2", "data attached to each socket"),
    ("BPF_MAP_TYPE_DEVMAP_HASH", "5.4", "like DEVMAP, keyed by a hash (e.g. ifindex)"),
    ("BPF_MAP_TYPE_STRUCT_OPS", "5.6",
     "a kernel operations table filled with STRUCT_OPS programs; registering it activates them"),
    ("BPF_MAP_TYPE_RINGBUF", "5.8",
     "a ring buffer shared by all CPUs that programs write records into for user space"),
    ("BPF_MAP_TYPE_INODE_STORAGE", "5.10", "data attached to each inode (for LSM programs)"),
    ("BPF_MAP_TYPE_TASK_STORAGE", "5.11", "data attached to each task (thread)"),
    ("BPF_MAP_TYPE_BLOOM_FILTER", "5.16",
     "a Bloom filter: answers 'maybe present' or 'surely absent'"),
    ("BPF_MAP_TYPE_USER_RINGBUF", "6.1",
     "a ring buffer that user space writes and programs read"),
    ("BPF_MAP_TYPE_CGRP_STORAGE", "6.2", "data attached to each cgroup"),
    ("BPF_MAP_TYPE_ARENA", "6.9",
     "a memory region shared page by page between programs and user space (mmap)"),
    ("BPF_MAP_TYPE_INSN_ARRAY", None,
     "instruction offsets of a program, used for its indirect jumps"),
    ("BPF_MAP_TYPE_RHASH", None, "a resizable hash table"),
]), aliases={
    # bpf.h renamed these two in 6.x; strace and older headers use the first names.
    "BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED": "BPF_MAP_TYPE_CGROUP_STORAGE",
    "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE_DEPRECATED": "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE",
})


# --------------------------------------------------------------------------------
# enum bpf_attach_type (bpf.h): expected_attach_type of BPF_PROG_LOAD, attach_type of
# BPF_PROG_ATTACH and BPF_LINK_CREATE.  0 is BPF_CGROUP_INET_INGRESS, so a program that
# sets nothing shows that name: it usually means "unset".

ATTACH_TYPE = Table("bpf attach type", "BPF_", _seq([
    ("BPF_CGROUP_INET_INGRESS", "4.10",
     "packets entering a cgroup (also what 0, i.e. 'unset', prints as)"),
    ("BPF_CGROUP_INET_EGRESS", "4.10", "packets leaving a cgroup"),
    ("BPF_CGROUP_INET_SOCK_CREATE", "4.10", "socket creation in a cgroup"),
    ("BPF_CGROUP_SOCK_OPS", "4.13", "TCP events of a cgroup's sockets"),
    ("BPF_SK_SKB_STREAM_PARSER", "4.14", "message parser of a sockmap"),
    ("BPF_SK_SKB_STREAM_VERDICT", "4.14", "verdict on stream data of a sockmap"),
    ("BPF_CGROUP_DEVICE", "4.15", "device access by a cgroup"),
    ("BPF_SK_MSG_VERDICT", "4.17", "verdict on messages sent on a sockmap socket"),
    ("BPF_CGROUP_INET4_BIND", "4.17", "IPv4 bind() in a cgroup"),
    ("BPF_CGROUP_INET6_BIND", "4.17", "IPv6 bind() in a cgroup"),
    ("BPF_CGROUP_INET4_CONNECT", "4.17", "IPv4 connect() in a cgroup"),
    ("BPF_CGROUP_INET6_CONNECT", "4.17", "IPv6 connect() in a cgroup"),
    ("BPF_CGROUP_INET4_POST_BIND", "4.17", "after an IPv4 bind() in a cgroup"),
    ("BPF_CGROUP_INET6_POST_BIND", "4.17", "after an IPv6 bind() in a cgroup"),
    ("BPF_CGROUP_UDP4_SENDMSG", "4.18", "UDP/IPv4 sendmsg() in a cgroup"),
    ("BPF_CGROUP_UDP6_SENDMSG", "4.18", "UDP/IPv6 sendmsg() in a cgroup"),
    ("BPF_LIRC_MODE2", "4.18", "an infrared (LIRC) device"),
    ("BPF_FLOW_DISSECTOR", "4.20", "the flow dissector of a network namespace"),
    ("BPF_CGROUP_SYSCTL", "5.2", "sysctl access in a cgroup"),
    ("BPF_CGROUP_UDP4_RECVMSG", "5.2", "UDP/IPv4 recvmsg() in a cgroup"),
    ("BPF_CGROUP_UDP6_RECVMSG", "5.2", "UDP/IPv6 recvmsg() in a cgroup"),
    ("BPF_CGROUP_GETSOCKOPT", "5.3", "getsockopt() in a cgroup"),
    ("BPF_CGROUP_SETSOCKOPT", "5.3", "setsockopt() in a cgroup"),
    ("BPF_TRACE_RAW_TP", "5.5", "a BTF-typed raw tracepoint (tp_btf)"),
    ("BPF_TRACE_FENTRY", "5.5", "entry of a kernel function (fentry)"),
    ("BPF_TRACE_FEXIT", "5.5", "return of a kernel function, with its arguments (fexit)"),
    ("BPF_MODIFY_RETURN", "5.7", "changes a kernel function's return value (fmod_ret)"),
    ("BPF_LSM_MAC", "5.7", "an LSM security hook"),
    ("BPF_TRACE_ITER", "5.8", "an iterator over kernel objects (tasks, maps, ...)"),
    ("BPF_CGROUP_INET4_GETPEERNAME", "5.8", "IPv4 getpeername() in a cgroup"),
    ("BPF_CGROUP_INET6_GETPEERNAME", "5.8", "IPv6 getpeername() in a cgroup"),
    ("BPF_CGROUP_INET4_GETSOCKNAME", "5.8", "IPv4 getsockname() in a cgroup"),
    ("BPF_CGROUP_INET6_GETSOCKNAME", "5.8", "IPv6 getsockname() in a cgroup"),
    ("BPF_XDP_DEVMAP", "5.8", "XDP program run after a devmap redirect"),
    ("BPF_CGROUP_INET_SOCK_RELEASE", "5.9", "socket release in a cgroup"),
    ("BPF_XDP_CPUMAP", "5.9", "XDP program run after a cpumap redirect"),
    ("BPF_SK_LOOKUP", "5.9", "socket lookup in a network namespace"),
    ("BPF_XDP", "5.9", "XDP on a network device, through a link"),
    ("BPF_SK_SKB_VERDICT", "5.13", "verdict on sockmap data (stream or datagram)"),
    ("BPF_SK_REUSEPORT_SELECT", "5.14", "SO_REUSEPORT socket selection"),
    ("BPF_SK_REUSEPORT_SELECT_OR_MIGRATE", "5.14", "SO_REUSEPORT selection or migration"),
    ("BPF_PERF_EVENT", "5.15", "a perf event (kprobe, uprobe, tracepoint...) through a link"),
    ("BPF_TRACE_KPROBE_MULTI", "5.18", "many kprobes at once (kprobe_multi)"),
    ("BPF_LSM_CGROUP", "6.0", "an LSM hook, only for tasks of one cgroup"),
    ("BPF_STRUCT_OPS", "6.4", "a struct_ops map, through a link"),
    ("BPF_NETFILTER", "6.4", "a netfilter hook"),
    ("BPF_TCX_INGRESS", "6.6", "tc ingress through the tcx link API"),
    ("BPF_TCX_EGRESS", "6.6", "tc egress through the tcx link API"),
    ("BPF_TRACE_UPROBE_MULTI", "6.6", "many uprobes at once (uprobe_multi)"),
    ("BPF_CGROUP_UNIX_CONNECT", "6.7", "unix-socket connect() in a cgroup"),
    ("BPF_CGROUP_UNIX_SENDMSG", "6.7", "unix-socket sendmsg() in a cgroup"),
    ("BPF_CGROUP_UNIX_RECVMSG", "6.7", "unix-socket recvmsg() in a cgroup"),
    ("BPF_CGROUP_UNIX_GETPEERNAME", "6.7", "unix-socket getpeername() in a cgroup"),
    ("BPF_CGROUP_UNIX_GETSOCKNAME", "6.7", "unix-socket getsockname() in a cgroup"),
    ("BPF_NETKIT_PRIMARY", "6.7", "primary device of a netkit pair"),
    ("BPF_NETKIT_PEER", "6.7", "peer device of a netkit pair"),
    ("BPF_TRACE_KPROBE_SESSION", "6.10", "entry and return of kprobes as one session"),
    ("BPF_TRACE_UPROBE_SESSION", "6.13", "entry and return of uprobes as one session"),
    ("BPF_TRACE_FSESSION", None, "entry and return of a kernel function as one session"),
    ("BPF_TRACE_FENTRY_MULTI", None, "entry of many kernel functions at once"),
    ("BPF_TRACE_FEXIT_MULTI", None, "return of many kernel functions at once"),
    ("BPF_TRACE_FSESSION_MULTI", None, "entry and return of many kernel functions"),
]))


# --------------------------------------------------------------------------------
# enum bpf_link_type (bpf.h): what kind of attachment a link fd holds (link info).

LINK_TYPE = Table("bpf link type", "BPF_LINK_TYPE_", _seq([
    ("BPF_LINK_TYPE_UNSPEC", None, "no link type"),
    ("BPF_LINK_TYPE_RAW_TRACEPOINT", "5.8", "a program attached to a raw tracepoint"),
    ("BPF_LINK_TYPE_TRACING", "5.8", "an fentry/fexit/fmod_ret/LSM/tp_btf attachment"),
    ("BPF_LINK_TYPE_CGROUP", "5.8", "a program attached to a cgroup"),
    ("BPF_LINK_TYPE_ITER", "5.8", "an iterator program, ready for BPF_ITER_CREATE"),
    ("BPF_LINK_TYPE_NETNS", "5.8", "a program attached to a network namespace"),
    ("BPF_LINK_TYPE_XDP", "5.9", "an XDP program attached to a network device"),
    ("BPF_LINK_TYPE_PERF_EVENT", "5.15", "a program attached to a perf event"),
    ("BPF_LINK_TYPE_KPROBE_MULTI", "5.18", "a program attached to many kprobes"),
    ("BPF_LINK_TYPE_STRUCT_OPS", "6.4", "a registered struct_ops map"),
    ("BPF_LINK_TYPE_NETFILTER", "6.4", "a netfilter hook"),
    ("BPF_LINK_TYPE_TCX", "6.6", "a tc program through tcx"),
    ("BPF_LINK_TYPE_UPROBE_MULTI", "6.6", "a program attached to many uprobes"),
    ("BPF_LINK_TYPE_NETKIT", "6.7", "a program on a netkit device"),
    ("BPF_LINK_TYPE_SOCKMAP", "6.10", "a program attached to a sockmap"),
    ("BPF_LINK_TYPE_TRACING_MULTI", None, "a program attached to many kernel functions"),
]))


# --------------------------------------------------------------------------------
# perf_event.h: attr.type, attr.config, ioctls and flags of perf_event_open(2).

PERF_TYPE = Table("perf event type", "PERF_TYPE_", _seq([
    ("PERF_TYPE_HARDWARE", "2.6.31", "a CPU hardware counter (cycles, instructions, ...)"),
    ("PERF_TYPE_SOFTWARE", "2.6.31",
     "a counter kept by the kernel itself (cpu-clock, page-faults, bpf-output, ...)"),
    ("PERF_TYPE_TRACEPOINT", "2.6.31",
     "a kernel tracepoint; config is its id from tracefs events/<group>/<name>/id"),
    ("PERF_TYPE_HW_CACHE", "2.6.31", "a CPU cache counter (level, operation, hit or miss)"),
    ("PERF_TYPE_RAW", "2.6.31", "a CPU-specific raw hardware event code"),
    ("PERF_TYPE_BREAKPOINT", "2.6.33", "a hardware breakpoint / watchpoint on an address"),
]), unknown="dynamic PMU type {number}")
# Types from 6 up are assigned at boot to dynamic PMUs (kprobe, uprobe, CPU PMUs...), read
# from /sys/bus/event_source/devices/*/type: only the traced machine knows which is which.

SW_CONFIG = Table("software perf event", "PERF_COUNT_SW_", _seq([
    ("PERF_COUNT_SW_CPU_CLOCK", "2.6.31", "a high-resolution per-CPU timer (timed sampling)"),
    ("PERF_COUNT_SW_TASK_CLOCK", "2.6.31", "a clock that runs only while the task runs"),
    ("PERF_COUNT_SW_PAGE_FAULTS", "2.6.31", "page faults"),
    ("PERF_COUNT_SW_CONTEXT_SWITCHES", "2.6.31", "context switches"),
    ("PERF_COUNT_SW_CPU_MIGRATIONS", "2.6.31", "moves of a task to another CPU"),
    ("PERF_COUNT_SW_PAGE_FAULTS_MIN", None, "minor page faults (no disk I/O needed)"),
    ("PERF_COUNT_SW_PAGE_FAULTS_MAJ", None, "major page faults (needed disk I/O)"),
    ("PERF_COUNT_SW_ALIGNMENT_FAULTS", "2.6.33", "unaligned memory accesses the kernel fixed"),
    ("PERF_COUNT_SW_EMULATION_FAULTS", "2.6.33", "instructions the kernel had to emulate"),
    ("PERF_COUNT_SW_DUMMY", "3.12", "counts nothing; a placeholder event"),
    ("PERF_COUNT_SW_BPF_OUTPUT", "4.4",
     "an output channel: eBPF programs write records into it for user space "
     "(bpf_perf_event_output)"),
    ("PERF_COUNT_SW_CGROUP_SWITCHES", "5.13", "context switches to a task in another cgroup"),
]))

HW_CONFIG = Table("hardware perf event", "PERF_COUNT_HW_", _seq([
    ("PERF_COUNT_HW_CPU_CYCLES", "2.6.31", "CPU cycles"),
    ("PERF_COUNT_HW_INSTRUCTIONS", "2.6.31", "instructions retired"),
    ("PERF_COUNT_HW_CACHE_REFERENCES", "2.6.31", "cache accesses (usually last-level cache)"),
    ("PERF_COUNT_HW_CACHE_MISSES", "2.6.31", "cache misses (usually last-level cache)"),
    ("PERF_COUNT_HW_BRANCH_INSTRUCTIONS", "2.6.31", "branch instructions retired"),
    ("PERF_COUNT_HW_BRANCH_MISSES", "2.6.31", "mispredicted branches"),
    ("PERF_COUNT_HW_BUS_CYCLES", "2.6.31", "bus cycles"),
    ("PERF_COUNT_HW_STALLED_CYCLES_FRONTEND", None, "cycles stalled in the CPU front end"),
    ("PERF_COUNT_HW_STALLED_CYCLES_BACKEND", None, "cycles stalled in the CPU back end"),
    ("PERF_COUNT_HW_REF_CPU_CYCLES", "3.3", "reference cycles, not scaled by frequency"),
]))


# Linux's generic ioctl encoding (asm-generic/ioctl.h, used by x86, arm, arm64, riscv,
# s390...): dir in bits 30-31, size in 16-29, type in 8-15, nr in 0-7.
_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2


def ioc(direction: int, kind: str, nr: int, size: int) -> int:
    """``_IOC(dir, type, nr, size)``: direction 0 none, 1 write, 2 read, 3 both."""
    return (direction << 30) | (size << 16) | (ord(kind) << 8) | nr


# The size of _IOW('$', 6, char *) and friends is a pointer's: 8 on 64-bit machines, which
# the table uses; the 32-bit numbers are accepted as aliases.  (powerpc, mips and sparc
# encode directions differently and are not covered.)
PERF_IOCTL = Table("perf event ioctl", "PERF_EVENT_IOC_", _num([
    ("PERF_EVENT_IOC_ENABLE", ioc(_IOC_NONE, "$", 0, 0), "2.6.31",
     "switch the event on: it starts counting, or firing its attached program"),
    ("PERF_EVENT_IOC_DISABLE", ioc(_IOC_NONE, "$", 1, 0), "2.6.31", "switch the event off"),
    ("PERF_EVENT_IOC_REFRESH", ioc(_IOC_NONE, "$", 2, 0), "2.6.31",
     "allow the event to overflow N more times, then disable it"),
    ("PERF_EVENT_IOC_RESET", ioc(_IOC_NONE, "$", 3, 0), "2.6.31", "set the event's count to 0"),
    ("PERF_EVENT_IOC_PERIOD", ioc(_IOC_WRITE, "$", 4, 8), None,
     "change the sampling period or frequency"),
    ("PERF_EVENT_IOC_SET_OUTPUT", ioc(_IOC_NONE, "$", 5, 0), None,
     "send this event's records into another event's buffer"),
    ("PERF_EVENT_IOC_SET_FILTER", ioc(_IOC_WRITE, "$", 6, 8), "2.6.32",
     "set a tracepoint filter expression"),
    ("PERF_EVENT_IOC_ID", ioc(_IOC_READ, "$", 7, 8), "3.12", "read the event's unique id"),
    ("PERF_EVENT_IOC_SET_BPF", ioc(_IOC_WRITE, "$", 8, 4), "4.1",
     "attach an eBPF program (the argument is its fd): it runs each time the event fires"),
    ("PERF_EVENT_IOC_PAUSE_OUTPUT", ioc(_IOC_WRITE, "$", 9, 4), "4.7",
     "pause (1) or resume (0) writing into the event's ring buffer"),
    ("PERF_EVENT_IOC_QUERY_BPF", ioc(_IOC_READ | _IOC_WRITE, "$", 10, 8), "4.16",
     "list the eBPF programs attached to this tracepoint/kprobe/uprobe event"),
    ("PERF_EVENT_IOC_MODIFY_ATTRIBUTES", ioc(_IOC_WRITE, "$", 11, 8), "4.17",
     "change some attributes of an existing event"),
]), number_aliases={
    ioc(_IOC_WRITE, "$", 6, 4): "PERF_EVENT_IOC_SET_FILTER",
    ioc(_IOC_READ, "$", 7, 4): "PERF_EVENT_IOC_ID",
    ioc(_IOC_READ | _IOC_WRITE, "$", 10, 4): "PERF_EVENT_IOC_QUERY_BPF",
    ioc(_IOC_WRITE, "$", 11, 4): "PERF_EVENT_IOC_MODIFY_ATTRIBUTES",
}, unknown="ioctl {number:#x}")

PERF_FLAGS = Table("perf_event_open flag", "PERF_FLAG_", _num([
    ("PERF_FLAG_FD_NO_GROUP", 1 << 0, None, "ignore group_fd when grouping events"),
    ("PERF_FLAG_FD_OUTPUT", 1 << 1, None, "send output to group_fd's buffer (broken)"),
    ("PERF_FLAG_PID_CGROUP", 1 << 2, "2.6.39", "pid is a cgroup fd: count only that cgroup"),
    ("PERF_FLAG_FD_CLOEXEC", 1 << 3, "3.14", "close the fd on execve (O_CLOEXEC)"),
]), bitflags=True)


# --------------------------------------------------------------------------------
# BPF_F_* flags of BPF_MAP_CREATE (map_flags) and BPF_PROG_LOAD (prog_flags).

MAP_FLAGS = Table("bpf map flag", "BPF_F_", _num([
    ("BPF_F_NO_PREALLOC", 1 << 0, "4.6", "allocate hash entries on demand, not all up front"),
    ("BPF_F_NO_COMMON_LRU", 1 << 1, "4.10", "keep a separate LRU list per CPU"),
    ("BPF_F_NUMA_NODE", 1 << 2, "4.14", "allocate on the NUMA node given in numa_node"),
    ("BPF_F_RDONLY", 1 << 3, "4.15", "user space may only read the map"),
    ("BPF_F_WRONLY", 1 << 4, "4.15", "user space may only write the map"),
    ("BPF_F_STACK_BUILD_ID", 1 << 5, "4.17", "store stacks as build id + offset"),
    ("BPF_F_ZERO_SEED", 1 << 6, "5.0", "use hash seed 0 (for tests)"),
    ("BPF_F_RDONLY_PROG", 1 << 7, "5.2", "programs may only read the map (.rodata)"),
    ("BPF_F_WRONLY_PROG", 1 << 8, "5.2", "programs may only write the map"),
    ("BPF_F_CLONE", 1 << 9, "5.4", "copy socket storage to cloned sockets"),
    ("BPF_F_MMAPABLE", 1 << 10, "5.5",
     "user space may mmap() the map (global variables are read without syscalls)"),
    ("BPF_F_PRESERVE_ELEMS", 1 << 11, "5.10", "keep perf event array entries after close"),
    ("BPF_F_INNER_MAP", 1 << 12, "5.10", "inner maps of this map-in-map may differ in size"),
    ("BPF_F_LINK", 1 << 13, "6.4", "a struct_ops map that is attached through a link"),
    ("BPF_F_PATH_FD", 1 << 14, "6.5", "pin/get relative to a directory fd"),
    ("BPF_F_VTYPE_BTF_OBJ_FD", 1 << 15, None, "value type BTF comes from a module"),
    ("BPF_F_TOKEN_FD", 1 << 16, "6.9", "a BPF token fd grants the rights for this call"),
    ("BPF_F_SEGV_ON_FAULT", 1 << 17, "6.9", "arena: user-space faults get SIGSEGV"),
    ("BPF_F_NO_USER_CONV", 1 << 18, "6.9", "arena: no user-space address conversion"),
    ("BPF_F_RB_OVERWRITE", 1 << 19, None, "ring buffer overwrites the oldest data when full"),
]), bitflags=True)

PROG_FLAGS = Table("bpf program flag", "BPF_F_", _num([
    ("BPF_F_STRICT_ALIGNMENT", 1 << 0, "4.12", "verifier checks alignment strictly"),
    ("BPF_F_ANY_ALIGNMENT", 1 << 1, "5.0", "verifier ignores alignment (testing)"),
    ("BPF_F_TEST_RND_HI32", 1 << 2, "5.3", "verifier test mode: poison upper 32 bits"),
    ("BPF_F_TEST_STATE_FREQ", 1 << 3, "5.4", "verifier test mode: checkpoint states often"),
    ("BPF_F_SLEEPABLE", 1 << 4, "5.10", "the program may sleep (e.g. read user memory)"),
    ("BPF_F_XDP_HAS_FRAGS", 1 << 5, "5.18", "XDP program handles multi-buffer packets"),
    ("BPF_F_XDP_DEV_BOUND_ONLY", 1 << 6, "6.3", "XDP program bound to one device"),
    ("BPF_F_TEST_REG_INVARIANTS", 1 << 7, "6.8", "verifier test mode: check register bounds"),
]), bitflags=True)


# --------------------------------------------------------------------------------
# errno: numbers for `= -1 (errno 524)`, names for `= -1 EPERM (...)`.  Linux's
# generic numbering (x86, arm, arm64, riscv...).  Descriptions are strerror()'s words;
# errno_meaning() says what they mean for bpf(2) and perf_event_open(2).

_ERRNO_ROWS: list[tuple[str, int, str]] = [
    ("EPERM", 1, "Operation not permitted"), ("ENOENT", 2, "No such file or directory"),
    ("ESRCH", 3, "No such process"), ("EINTR", 4, "Interrupted system call"),
    ("EIO", 5, "Input/output error"), ("ENXIO", 6, "No such device or address"),
    ("E2BIG", 7, "Argument list too long"), ("ENOEXEC", 8, "Exec format error"),
    ("EBADF", 9, "Bad file descriptor"), ("ECHILD", 10, "No child processes"),
    ("EAGAIN", 11, "Resource temporarily unavailable"), ("ENOMEM", 12, "Cannot allocate memory"),
    ("EACCES", 13, "Permission denied"), ("EFAULT", 14, "Bad address"),
    ("ENOTBLK", 15, "Block device required"), ("EBUSY", 16, "Device or resource busy"),
    ("EEXIST", 17, "File exists"), ("EXDEV", 18, "Invalid cross-device link"),
    ("ENODEV", 19, "No such device"), ("ENOTDIR", 20, "Not a directory"),
    ("EISDIR", 21, "Is a directory"), ("EINVAL", 22, "Invalid argument"),
    ("ENFILE", 23, "Too many open files in system"), ("EMFILE", 24, "Too many open files"),
    ("ENOTTY", 25, "Inappropriate ioctl for device"), ("ETXTBSY", 26, "Text file busy"),
    ("EFBIG", 27, "File too large"), ("ENOSPC", 28, "No space left on device"),
    ("ESPIPE", 29, "Illegal seek"), ("EROFS", 30, "Read-only file system"),
    ("EMLINK", 31, "Too many links"), ("EPIPE", 32, "Broken pipe"),
    ("EDOM", 33, "Numerical argument out of domain"),
    ("ERANGE", 34, "Numerical result out of range"),
    ("EDEADLK", 35, "Resource deadlock avoided"), ("ENAMETOOLONG", 36, "File name too long"),
    ("ENOLCK", 37, "No locks available"), ("ENOSYS", 38, "Function not implemented"),
    ("ENOTEMPTY", 39, "Directory not empty"), ("ELOOP", 40, "Too many levels of symbolic links"),
    ("ENOMSG", 42, "No message of desired type"), ("EIDRM", 43, "Identifier removed"),
    ("ECHRNG", 44, "Channel number out of range"), ("EL2NSYNC", 45, "Level 2 not synchronized"),
    ("EL3HLT", 46, "Level 3 halted"), ("EL3RST", 47, "Level 3 reset"),
    ("ELNRNG", 48, "Link number out of range"), ("EUNATCH", 49, "Protocol driver not attached"),
    ("ENOCSI", 50, "No CSI structure available"), ("EL2HLT", 51, "Level 2 halted"),
    ("EBADE", 52, "Invalid exchange"), ("EBADR", 53, "Invalid request descriptor"),
    ("EXFULL", 54, "Exchange full"), ("ENOANO", 55, "No anode"),
    ("EBADRQC", 56, "Invalid request code"), ("EBADSLT", 57, "Invalid slot"),
    ("EBFONT", 59, "Bad font file format"), ("ENOSTR", 60, "Device not a stream"),
    ("ENODATA", 61, "No data available"), ("ETIME", 62, "Timer expired"),
    ("ENOSR", 63, "Out of streams resources"), ("ENONET", 64, "Machine is not on the network"),
    ("ENOPKG", 65, "Package not installed"), ("EREMOTE", 66, "Object is remote"),
    ("ENOLINK", 67, "Link has been severed"), ("EADV", 68, "Advertise error"),
    ("ESRMNT", 69, "Srmount error"), ("ECOMM", 70, "Communication error on send"),
    ("EPROTO", 71, "Protocol error"), ("EMULTIHOP", 72, "Multihop attempted"),
    ("EDOTDOT", 73, "RFS specific error"), ("EBADMSG", 74, "Bad message"),
    ("EOVERFLOW", 75, "Value too large for defined data type"),
    ("ENOTUNIQ", 76, "Name not unique on network"), ("EBADFD", 77, "File descriptor in bad state"),
    ("EREMCHG", 78, "Remote address changed"),
    ("ELIBACC", 79, "Can not access a needed shared library"),
    ("ELIBBAD", 80, "Accessing a corrupted shared library"),
    ("ELIBSCN", 81, ".lib section in a.out corrupted"),
    ("ELIBMAX", 82, "Attempting to link in too many shared libraries"),
    ("ELIBEXEC", 83, "Cannot exec a shared library directly"),
    ("EILSEQ", 84, "Invalid or incomplete multibyte or wide character"),
    ("ERESTART", 85, "Interrupted system call should be restarted"),
    ("ESTRPIPE", 86, "Streams pipe error"), ("EUSERS", 87, "Too many users"),
    ("ENOTSOCK", 88, "Socket operation on non-socket"),
    ("EDESTADDRREQ", 89, "Destination address required"), ("EMSGSIZE", 90, "Message too long"),
    ("EPROTOTYPE", 91, "Protocol wrong type for socket"),
    ("ENOPROTOOPT", 92, "Protocol not available"),
    ("EPROTONOSUPPORT", 93, "Protocol not supported"),
    ("ESOCKTNOSUPPORT", 94, "Socket type not supported"),
    ("EOPNOTSUPP", 95, "Operation not supported"),
    ("EPFNOSUPPORT", 96, "Protocol family not supported"),
    ("EAFNOSUPPORT", 97, "Address family not supported by protocol"),
    ("EADDRINUSE", 98, "Address already in use"),
    ("EADDRNOTAVAIL", 99, "Cannot assign requested address"), ("ENETDOWN", 100, "Network is down"),
    ("ENETUNREACH", 101, "Network is unreachable"),
    ("ENETRESET", 102, "Network dropped connection on reset"),
    ("ECONNABORTED", 103, "Software caused connection abort"),
    ("ECONNRESET", 104, "Connection reset by peer"), ("ENOBUFS", 105, "No buffer space available"),
    ("EISCONN", 106, "Transport endpoint is already connected"),
    ("ENOTCONN", 107, "Transport endpoint is not connected"),
    ("ESHUTDOWN", 108, "Cannot send after transport endpoint shutdown"),
    ("ETOOMANYREFS", 109, "Too many references: cannot splice"),
    ("ETIMEDOUT", 110, "Connection timed out"), ("ECONNREFUSED", 111, "Connection refused"),
    ("EHOSTDOWN", 112, "Host is down"), ("EHOSTUNREACH", 113, "No route to host"),
    ("EALREADY", 114, "Operation already in progress"),
    ("EINPROGRESS", 115, "Operation now in progress"), ("ESTALE", 116, "Stale file handle"),
    ("EUCLEAN", 117, "Structure needs cleaning"), ("ENOTNAM", 118, "Not a XENIX named type file"),
    ("ENAVAIL", 119, "No XENIX semaphores available"), ("EISNAM", 120, "Is a named type file"),
    ("EREMOTEIO", 121, "Remote I/O error"), ("EDQUOT", 122, "Disk quota exceeded"),
    ("ENOMEDIUM", 123, "No medium found"), ("EMEDIUMTYPE", 124, "Wrong medium type"),
    ("ECANCELED", 125, "Operation canceled"), ("ENOKEY", 126, "Required key not available"),
    ("EKEYEXPIRED", 127, "Key has expired"), ("EKEYREVOKED", 128, "Key has been revoked"),
    ("EKEYREJECTED", 129, "Key was rejected by service"), ("EOWNERDEAD", 130, "Owner died"),
    ("ENOTRECOVERABLE", 131, "State not recoverable"),
    ("ERFKILL", 132, "Operation not possible due to RF-kill"),
    ("EHWPOISON", 133, "Memory page has hardware error"),
    # Kernel-internal values (include/linux/errno.h) that should never reach user space
    # but do: bpf() returns ENOTSUPP (524) from several paths, and strace versions that
    # do not know it print "errno 524".
    ("ERESTARTSYS", 512, "kernel-internal: restart the system call"),
    ("ERESTARTNOINTR", 513, "kernel-internal: restart the system call"),
    ("ERESTARTNOHAND", 514, "kernel-internal: restart if no signal handler"),
    ("ENOIOCTLCMD", 515, "kernel-internal: no such ioctl command"),
    ("ERESTART_RESTARTBLOCK", 516, "kernel-internal: restart via restart_syscall"),
    ("EPROBE_DEFER", 517, "kernel-internal: driver probe deferred"),
    ("EOPENSTALLED", 518, "kernel-internal: open found a stale dentry"),
    ("ENOPARAM", 519, "kernel-internal: parameter not supported"),
    ("EBADHANDLE", 521, "kernel-internal (NFS): illegal handle"),
    ("ENOTSYNC", 522, "kernel-internal (NFS): update synchronization mismatch"),
    ("EBADCOOKIE", 523, "kernel-internal (NFS): cookie is stale"),
    ("ENOTSUPP", 524, "kernel-internal: operation not supported"),
    ("ETOOSMALL", 525, "kernel-internal: buffer or request is too small"),
    ("ESERVERFAULT", 526, "kernel-internal (NFS): server fault"),
    ("EBADTYPE", 527, "kernel-internal (NFS): type not supported by server"),
    ("EJUKEBOX", 528, "kernel-internal (NFS): request initiated, but will not complete"),
    ("EIOCBQUEUED", 529, "kernel-internal: iocb queued, will get completion event"),
    ("ERECALLCONFLICT", 530, "kernel-internal (NFS): conflict with recalled state"),
]

ERRNO = Table(
    "errno", "", _num((name, num, None, desc) for name, num, desc in _ERRNO_ROWS),
    aliases={"EWOULDBLOCK": "EAGAIN", "EDEADLOCK": "EDEADLK", "ENOTSUP": "EOPNOTSUPP"},
    unknown="errno {number}",
)

# What a failure means in an eBPF loader's trace, from the most specific context to
# the least: (errno, bpf command or syscall or ioctl) first, then (errno, "bpf").
# Contexts use canonical names: "BPF_PROG_LOAD", "perf_event_open",
# "PERF_EVENT_IOC_SET_BPF", "ioctl", "bpf".
_ERRNO_CONTEXT: dict[tuple[str, str], str] = {
    ("EPERM", "bpf"):
        "not allowed: needs root, or CAP_BPF (plus CAP_PERFMON for tracing, CAP_NET_ADMIN "
        "for networking), or unprivileged use is off (kernel.unprivileged_bpf_disabled); "
        "older kernels also failed this way when the locked-memory limit "
        "(RLIMIT_MEMLOCK) was too low",
    ("EPERM", "perf_event_open"):
        "not allowed: needs root or CAP_PERFMON, or kernel.perf_event_paranoid is too "
        "strict for this kind of event",
    ("EACCES", "bpf"): "permission denied by the kernel's checks for this object",
    ("EACCES", "BPF_PROG_LOAD"):
        "the verifier rejected the program: it could not prove it safe (its log says why)",
    ("EACCES", "perf_event_open"):
        "not allowed for this event, e.g. kernel.perf_event_paranoid or tracefs permissions",
    ("EINVAL", "bpf"):
        "the kernel did not accept an argument: a field it does not know, a bad "
        "combination of types and flags, or a size it does not expect",
    ("EINVAL", "BPF_PROG_LOAD"):
        "the kernel refused the load request itself (unknown program type or attach type, "
        "bad flags or BTF, or the verifier found malformed instructions)",
    ("EINVAL", "perf_event_open"):
        "an invalid event description: an unknown type or config, or flags this kernel "
        "does not support",
    ("EINVAL", "PERF_EVENT_IOC_SET_BPF"):
        "this program type cannot be attached to this kind of perf event",
    ("ENOENT", "bpf"): "no such object: the id, key or pinned path does not exist",
    ("ENOENT", "BPF_MAP_GET_NEXT_KEY"):
        "no more keys: the walk through the map is finished (normal)",
    ("ENOENT", "BPF_MAP_LOOKUP_ELEM"): "the key is not in the map (normal)",
    ("ENOENT", "BPF_MAP_LOOKUP_AND_DELETE_ELEM"): "the key is not in the map (normal)",
    ("ENOENT", "BPF_MAP_DELETE_ELEM"): "the key was not in the map",
    ("ENOENT", "BPF_MAP_LOOKUP_BATCH"): "no more elements: the batch walk is finished (normal)",
    ("ENOENT", "BPF_MAP_LOOKUP_AND_DELETE_BATCH"):
        "no more elements: the batch walk is finished (normal)",
    ("ENOENT", "BPF_PROG_GET_NEXT_ID"): "no more programs: the list is finished (normal)",
    ("ENOENT", "BPF_MAP_GET_NEXT_ID"): "no more maps: the list is finished (normal)",
    ("ENOENT", "BPF_BTF_GET_NEXT_ID"): "no more BTF objects: the list is finished (normal)",
    ("ENOENT", "BPF_LINK_GET_NEXT_ID"): "no more links: the list is finished (normal)",
    ("ENOENT", "BPF_OBJ_GET"): "nothing is pinned at that path",
    ("ENOENT", "perf_event_open"):
        "no such event on this machine: e.g. hardware counters inside a VM, a tracepoint "
        "or kprobe target that does not exist, or a PMU this kernel lacks",
    ("ENOENT", "BPF_LINK_CREATE"): "the attach target (function, tracepoint...) was not found",
    ("ENOENT", "BPF_RAW_TRACEPOINT_OPEN"): "no raw tracepoint of that name",
    ("EOPNOTSUPP", "bpf"):
        "this kernel (or its configuration) does not support the feature; "
        "loaders probing features expect this",
    ("EOPNOTSUPP", "perf_event_open"):
        "this event or option is not supported here (e.g. sampling on a counter that "
        "cannot interrupt)",
    ("ENOTSUPP", "bpf"):
        "not supported (a kernel-internal code that leaks out of bpf()): e.g. a helper, "
        "attach mode or map feature this kernel or driver lacks",
    ("E2BIG", "bpf"):
        "the request is too large, or the attribute struct is bigger than this kernel "
        "knows and its extra bytes are not zero (a loader newer than the kernel)",
    ("E2BIG", "BPF_PROG_LOAD"):
        "the program is too big or too complex for the verifier (instruction or state "
        "limit), or the request has fields this kernel does not know",
    ("E2BIG", "BPF_MAP_CREATE"):
        "the map is too big (key/value size or entries), or the request has fields this "
        "kernel does not know",
    ("E2BIG", "perf_event_open"): "attr.size is larger than this kernel knows, with non-zero extra",
    ("ENOSPC", "bpf"): "no room left: the map is full, or a log buffer is too small",
    ("ENOSPC", "BPF_PROG_LOAD"):
        "the verifier log buffer was too small for its messages; loaders retry with a "
        "bigger one",
    ("ENOSPC", "BPF_BTF_LOAD"):
        "the BTF log buffer was too small for its messages; loaders retry with a bigger one",
    ("ENOSPC", "BPF_MAP_UPDATE_ELEM"): "the map is full (max_entries reached)",
    ("EBADF", "bpf"):
        "an fd argument is not open, or not the kind expected (e.g. a map fd where a program "
        "fd belongs); feature probes pass -1 on purpose",
    ("EBADF", "perf_event_open"): "group_fd is not a valid perf event fd",
    ("EBADF", "ioctl"): "the fd is not open, or the program fd given is not a program",
    ("EEXIST", "bpf"):
        "already exists: the key is in the map (with BPF_NOEXIST), the pin path is taken, or "
        "a program is already attached there",
    ("EEXIST", "PERF_EVENT_IOC_SET_BPF"): "a program is already attached to this event",
    ("ENOMEM", "bpf"):
        "the kernel could not allocate memory (on older kernels: the locked-memory limit, "
        "RLIMIT_MEMLOCK, was reached)",
    ("EFAULT", "bpf"):
        "the kernel could not read or write a user-space buffer (a bad pointer), or an "
        "internal verifier error",
    ("ESRCH", "bpf"): "no such element or process (e.g. a pid in BPF_TASK_FD_QUERY is gone)",
    ("ESRCH", "perf_event_open"): "the pid to observe does not exist",
    ("EBUSY", "bpf"): "the hook is already in use, e.g. another XDP program is attached",
    ("EBUSY", "perf_event_open"): "the hardware counter is taken by another user",
    ("EAGAIN", "bpf"): "temporary failure; loaders retry (the verifier was interrupted)",
    ("EINTR", "bpf"): "interrupted by a signal; loaders retry",
    ("ENODEV", "perf_event_open"): "the PMU does not support this kind of event",
    ("EMFILE", "bpf"): "the process has too many open fds (RLIMIT_NOFILE)",
    ("ENOTTY", "ioctl"): "the fd is not a perf event (wrong fd for this ioctl)",
    ("ENOSYS", "bpf"): "this kernel has no bpf() system call (built without CONFIG_BPF_SYSCALL)",
    ("ENXIO", "bpf"): "the device or hook needed is not there",
    ("ERANGE", "bpf"): "a value is out of the allowed range",
    ("EOVERFLOW", "bpf"): "a value or count does not fit",
    ("EDOM", "bpf"): "a value is outside what the map accepts",
    ("ELOOP", "bpf"): "maps or programs would nest too deep or form a loop",
}


def _errno_name(err: Key) -> str:
    if isinstance(err, int) and err < 0:
        err = -err
    return ERRNO.name(err)


def _contexts(call: str | None) -> list[str]:
    if not call:
        return ["bpf"]
    cmd = BPF_CMD.get(call)
    if cmd is not None:
        return [cmd.name, "bpf"]
    ioctl = PERF_IOCTL.get(call)
    if ioctl is not None:
        return [ioctl.name, "ioctl"]
    return [call, "bpf"]


def errno_contexts(err: Key) -> dict[str, str]:
    """Every recorded eBPF meaning of an error, by context (``"bpf"``, a command...)."""
    name = _errno_name(err)
    return {ctx: text for (errname, ctx), text in _ERRNO_CONTEXT.items() if errname == name}


def errno_meaning(err: Key, call: str | None = None) -> str:
    """What an error means for a call: ``call`` is a bpf command (``"BPF_PROG_LOAD"`` or
    ``"prog_load"``), a perf ioctl, or a syscall name (``"perf_event_open"``, ``"ioctl"``).

    Falls back to the eBPF-wide meaning, then to strerror's words.
    """
    name = _errno_name(err)
    for context in _contexts(call):
        text = _ERRNO_CONTEXT.get((name, context))
        if text is not None:
            return text
    return ERRNO.describe(name)


# Failures that are a normal part of a loader's work, not problems to report.
_EXPECTED: frozenset[tuple[str, str]] = frozenset({
    ("ENOENT", "BPF_MAP_GET_NEXT_KEY"),
    ("ENOENT", "BPF_MAP_LOOKUP_ELEM"),
    ("ENOENT", "BPF_MAP_LOOKUP_AND_DELETE_ELEM"),
    ("ENOENT", "BPF_MAP_LOOKUP_BATCH"),
    ("ENOENT", "BPF_MAP_LOOKUP_AND_DELETE_BATCH"),
    ("ENOENT", "BPF_PROG_GET_NEXT_ID"),
    ("ENOENT", "BPF_MAP_GET_NEXT_ID"),
    ("ENOENT", "BPF_BTF_GET_NEXT_ID"),
    ("ENOENT", "BPF_LINK_GET_NEXT_ID"),
})
# BPF_TASK_FD_QUERY's answers depend on whose fd was asked about: see
# tracking.probes.task_fd_query_answer.
# ENOSPC on a load is not listed: it is harmless only when the loader retries with a
# bigger log buffer, which the tracker can see and this table cannot.


def errno_is_expected(err: Key, call: str | None = None) -> bool:
    """True for failures that simply end a walk or trigger a routine retry."""
    name = _errno_name(err)
    return any((name, context) in _EXPECTED for context in _contexts(call))


# --------------------------------------------------------------------------------
# bpftrace's names for perf events (probe types software: and hardware:).

SOFTWARE_PROBE_NAMES: Mapping[int, str] = {
    0: "cpu-clock",
    1: "task-clock",
    2: "page-faults",
    3: "context-switches",
    4: "cpu-migrations",
    5: "minor-faults",
    6: "major-faults",
    7: "alignment-faults",
    8: "emulation-faults",
    9: "dummy",
    10: "bpf-output",
    # bpftrace has no probe for this one; perf(1) calls it cgroup-switches.
    11: "cgroup-switches",
}

HARDWARE_PROBE_NAMES: Mapping[int, str] = {
    0: "cycles",
    1: "instructions",
    2: "cache-references",
    3: "cache-misses",
    4: "branch-instructions",
    5: "branch-misses",
    6: "bus-cycles",
    7: "frontend-stalls",
    8: "backend-stalls",
    9: "ref-cycles",
}


def perf_probe_name(perf_type: Key, config: int) -> str:
    """A bpftrace-style name for a perf event: ``software:cpu-clock``, ``hardware:cycles``.

    Types bpftrace has no fixed name for come out descriptive: ``tracepoint id 443``
    (resolving ids needs the traced machine's tracefs), ``PMU type 8 config 0x0``.
    """
    number = perf_type if isinstance(perf_type, int) else PERF_TYPE.number(perf_type)
    if number is None:
        return f"{perf_type} config {config:#x}"
    if number == 1:
        return "software:" + SOFTWARE_PROBE_NAMES.get(config, f"{config:#x}")
    if number == 0:
        return "hardware:" + HARDWARE_PROBE_NAMES.get(config, f"{config:#x}")
    if number == 2:
        return f"tracepoint id {config}"
    if number in PERF_TYPE:
        return f"{PERF_TYPE.short(number).lower()} config {config:#x}"
    return f"PMU type {number} config {config:#x}"


# --------------------------------------------------------------------------------

ALL_TABLES: tuple[Table, ...] = (
    BPF_CMD, PROG_TYPE, MAP_TYPE, ATTACH_TYPE, LINK_TYPE,
    PERF_TYPE, SW_CONFIG, HW_CONFIG, PERF_IOCTL, PERF_FLAGS,
    MAP_FLAGS, PROG_FLAGS, ERRNO,
)

# Longest prefix first, so BPF_PROG_TYPE_ wins over BPF_.
_PREFIXES = sorted({t.prefix for t in ALL_TABLES if t.prefix}, key=len, reverse=True)


def short_name(name: str) -> str:
    """``BPF_PROG_TYPE_TRACEPOINT`` → ``TRACEPOINT``; names without a known prefix as is."""
    for prefix in _PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix):]
    return name
