"""Plain-language explanations of every term an eBPF loader's trace can show.

This is the single source of the words that the story uses the first time a concept
appears and that ``bpfexplain explain TERM`` prints, so that the two never disagree.
Concepts are written by hand; every value of every :mod:`bpfexplain.knowledge` table
gets an entry too, from the table's one-line description unless a richer hand-written
text below replaces it (an important value deserves more than a line).

Readers are assumed to know what a process and a system call are, and nothing about
eBPF.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from bpfexplain import knowledge as k
from bpfexplain.plain import Frozen, init_field

__all__ = ["GlossaryEntry", "all_entries", "lookup", "normalize", "suggest"]


class GlossaryEntry(Frozen):
    """One explained term."""

    __slots__ = _fields = ("term", "summary", "category", "aliases", "lifecycle", "since",
                           "see_also")

    term: str
    """The canonical spelling: ``BPF_PROG_LOAD``, ``verifier``."""
    summary: str
    """One to three plain sentences for someone who has never seen bpf(2)."""
    category: str
    """``concept`` or the knowledge table's title (``bpf command``, ``bpf map type``...)."""
    aliases: tuple[str, ...]
    lifecycle: str
    """Where in a loader's life the term shows up in a trace."""
    since: str | None
    """First Linux version with it, where known."""
    see_also: tuple[str, ...]
    """Other glossary terms, by canonical spelling."""

    def __init__(self, term: str, summary: str, category: str, aliases: tuple[str, ...] = (),
                 lifecycle: str = "", since: str | None = None,
                 see_also: tuple[str, ...] = ()) -> None:
        init_field(self, "term", term)
        init_field(self, "summary", summary)
        init_field(self, "category", category)
        init_field(self, "aliases", aliases)
        init_field(self, "lifecycle", lifecycle)
        init_field(self, "since", since)
        init_field(self, "see_also", see_also)


def _concept(
    term: str,
    summary: str,
    *,
    aliases: Iterable[str] = (),
    lifecycle: str = "",
    since: str | None = None,
    see_also: Iterable[str] = (),
) -> GlossaryEntry:
    return GlossaryEntry(
        term, summary, "concept", tuple(aliases), lifecycle, since, tuple(see_also)
    )


# --------------------------------------------------------------------------------
# Concepts.

_CONCEPTS: tuple[GlossaryEntry, ...] = (
    _concept(
        "eBPF",
        "A way to run small programs inside the Linux kernel without changing or "
        "rebuilding it. Tools like bpftrace, bcc and libbpf-based programs compile your "
        "script to eBPF, load it into the kernel and read back what it recorded.",
        aliases=("bpf", "extended bpf", "extended berkeley packet filter"),
        since="3.18",
        see_also=("eBPF program", "map", "bpf() system call", "verifier"),
    ),
    _concept(
        "bpf() system call",
        "The single system call through which user space creates and manages every "
        "eBPF object: its first argument is a command such as BPF_MAP_CREATE or "
        "BPF_PROG_LOAD, its second a structure whose fields depend on the command.",
        aliases=("bpf(2)", "bpf syscall", "sys_bpf", "bpf command"),
        lifecycle="every step: creating maps, loading programs, attaching, reading maps",
        since="3.18",
        see_also=("BPF_PROG_LOAD", "BPF_MAP_CREATE", "file descriptor"),
    ),
    _concept(
        "eBPF program",
        "A small piece of code, in the eBPF instruction set, that the kernel runs each "
        "time a chosen event happens (a function is called, a packet arrives, a timer "
        "fires). It is loaded with BPF_PROG_LOAD, checked by the verifier and then "
        "attached to the event; until attached it does nothing.",
        aliases=("program", "prog", "bpf program"),
        lifecycle="loaded with BPF_PROG_LOAD, then attached; freed when its last fd, "
        "link or attachment goes away",
        since="3.18",
        see_also=("BPF_PROG_LOAD", "verifier", "instruction", "link", "attach"),
    ),
    _concept(
        "map",
        "A piece of kernel memory, organised as keys and values, that eBPF programs and "
        "user space both read and write. Programs use maps to count, to keep state "
        "between runs and to hand results to the tool; the tool reads them with "
        "BPF_MAP_LOOKUP_ELEM and BPF_MAP_GET_NEXT_KEY.",
        aliases=("bpf map", "maps"),
        lifecycle="created with BPF_MAP_CREATE before the programs that use them are "
        "loaded; read while running or at the end",
        since="3.18",
        see_also=("BPF_MAP_CREATE", "BPF_MAP_TYPE_HASH", "per-CPU", "global data"),
    ),
    _concept(
        "attach",
        "Connecting a loaded program to the event that should run it. Depending on the "
        "event this is an ioctl on a perf event (PERF_EVENT_IOC_SET_BPF), "
        "BPF_LINK_CREATE, BPF_RAW_TRACEPOINT_OPEN or BPF_PROG_ATTACH, a setsockopt on a "
        "socket (SO_ATTACH_BPF), or a netlink message for XDP (IFLA_XDP) and tc (TCA_BPF).",
        aliases=("attachment", "attaching", "attach point", "hook"),
        lifecycle="after the program is loaded",
        see_also=("link", "PERF_EVENT_IOC_SET_BPF", "BPF_LINK_CREATE", "BPF_PROG_ATTACH"),
    ),
    _concept(
        "BTF",
        "BPF Type Format: a compact description of C types (structs, their fields and "
        "offsets, function signatures). The kernel publishes its own as "
        "/sys/kernel/btf/vmlinux (BTF object id 1); loaders read it to learn the "
        "running kernel's layout and load their own BTF to describe their maps and "
        "programs.",
        aliases=("bpf type format", "btf object", "vmlinux btf", "type information"),
        lifecycle="feature checks and setup: BPF_BTF_LOAD, BPF_BTF_GET_FD_BY_ID, "
        "btf_fd fields of BPF_MAP_CREATE and BPF_PROG_LOAD",
        since="4.18",
        see_also=("CO-RE", "BPF_BTF_LOAD", "BPF_BTF_GET_FD_BY_ID"),
    ),
    _concept(
        "CO-RE",
        "Compile Once, Run Everywhere: the program is compiled once with notes saying "
        "which struct fields it reads, and the loader (libbpf) patches the offsets to "
        "match the running kernel's BTF before BPF_PROG_LOAD. The patching happens in "
        "user space, so it is not visible in a trace except as BTF reads.",
        aliases=("core", "compile once run everywhere", "bpf co-re", "relocation"),
        lifecycle="before BPF_PROG_LOAD, inside the loader",
        since="5.2",
        see_also=("BTF", "libbpf"),
    ),
    _concept(
        "verifier",
        "The part of the kernel that checks every program during BPF_PROG_LOAD before "
        "accepting it: it walks all paths through the code and proves that the program "
        "ends, reads only memory it may read and calls only allowed helpers. A program "
        "it cannot prove safe is refused, usually with EACCES or EINVAL.",
        aliases=("bpf verifier", "verification"),
        lifecycle="inside BPF_PROG_LOAD",
        since="3.18",
        see_also=("verifier log", "BPF_PROG_LOAD", "EACCES"),
    ),
    _concept(
        "verifier log",
        "The verifier's explanation of what it checked and why it refused a program, "
        "written into a buffer the loader passes in BPF_PROG_LOAD (log_buf, log_size, "
        "log_level). Loaders often load without a log first and retry with one only "
        "when the load fails; ENOSPC means the buffer was too small.",
        aliases=("log_buf", "log_level", "verifier output"),
        lifecycle="inside BPF_PROG_LOAD (and BPF_BTF_LOAD for BTF)",
        since="3.18",
        see_also=("verifier", "ENOSPC"),
    ),
    _concept(
        "instruction",
        "One step of an eBPF program, 8 bytes long (a few, like loading a 64-bit "
        "constant, take 16). insn_cnt in BPF_PROG_LOAD counts them; a 2-instruction "
        "program is almost always a loader's feature probe.",
        aliases=("insn", "insns", "insn_cnt", "instructions"),
        lifecycle="BPF_PROG_LOAD",
        since="3.18",
        see_also=("eBPF program", "feature probe"),
    ),
    _concept(
        "helper function",
        "A kernel function an eBPF program may call, such as bpf_map_lookup_elem, "
        "bpf_get_current_comm or bpf_perf_event_output. Which helpers are allowed "
        "depends on the program type; loaders probe for them by loading tiny programs "
        "that call one.",
        aliases=("helper", "helpers", "bpf helper", "kfunc"),
        lifecycle="checked by the verifier during BPF_PROG_LOAD",
        since="3.18",
        see_also=("verifier", "feature probe"),
    ),
    _concept(
        "link",
        "A kernel object, held through an fd, that represents one attachment of a "
        "program to an event. While the link exists the program stays attached; "
        "closing its last fd (or BPF_LINK_DETACH) detaches it. Links can be pinned so "
        "an attachment outlives the tool.",
        aliases=("bpf link", "bpf_link", "link fd"),
        lifecycle="created at attach time by BPF_LINK_CREATE or BPF_RAW_TRACEPOINT_OPEN",
        since="5.7",
        see_also=("BPF_LINK_CREATE", "attach", "pin"),
    ),
    _concept(
        "pin",
        "Giving an eBPF object (program, map, link) a file name in the BPF filesystem, "
        "usually mounted at /sys/fs/bpf, with BPF_OBJ_PIN. A pinned object stays alive "
        "after the process that made it exits, and others can open it with BPF_OBJ_GET.",
        aliases=("pinning", "pinned", "bpffs", "bpf filesystem", "/sys/fs/bpf", "obj_pin"),
        lifecycle="after creation, for objects meant to outlive the tool",
        since="4.4",
        see_also=("BPF_OBJ_PIN", "BPF_OBJ_GET", "link"),
    ),
    _concept(
        "feature probe",
        "A throw-away map or program a loader creates only to find out what the running "
        "kernel supports (a program type, a helper, program names, kprobe_multi links, "
        "BTF features). Failures here are expected and simply steer the loader to "
        "another method; bpfexplain folds them.",
        aliases=("probe", "feature detection", "feature check", "probing"),
        lifecycle="at start-up, before the real objects are created",
        see_also=("BPF_PROG_TYPE_SOCKET_FILTER", "EOPNOTSUPP", "EBADF", "instruction"),
    ),
    _concept(
        "perf event",
        "A kernel event source opened with perf_event_open(2), which returns an fd: a "
        "counter, a timer, a tracepoint, a kprobe or uprobe. eBPF tools use perf events "
        "both as places to attach programs (PERF_EVENT_IOC_SET_BPF) and as output "
        "channels (PERF_COUNT_SW_BPF_OUTPUT).",
        aliases=("perf_event", "perf events", "perf fd", "perf_event_open fd"),
        lifecycle="perf_event_open, then ioctls to attach and enable; closed at exit",
        since="2.6.31",
        see_also=("perf_event_open", "PERF_EVENT_IOC_SET_BPF", "PERF_EVENT_IOC_ENABLE"),
    ),
    _concept(
        "perf_event_open",
        "The system call that opens a perf event: its attr argument says which kind "
        "(type, config), pid and cpu say what to watch (-1 and a CPU number mean all "
        "processes on that CPU), and it returns an fd.",
        aliases=("perf_event_open(2)", "sys_perf_event_open"),
        lifecycle="attaching tracepoint/kprobe/uprobe programs, and opening output "
        "channels",
        since="2.6.31",
        see_also=("perf event", "PERF_TYPE_TRACEPOINT", "dynamic PMU"),
    ),
    _concept(
        "ioctl",
        "A general-purpose system call for 'do this to that fd'. On perf event fds it "
        "enables, disables and attaches programs: PERF_EVENT_IOC_SET_BPF, "
        "PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_DISABLE. With strace -X raw the request "
        "shows as a number such as 0x40042408.",
        aliases=("ioctl(2)", "perf ioctl"),
        lifecycle="attaching and tearing down perf events",
        see_also=("PERF_EVENT_IOC_SET_BPF", "PERF_EVENT_IOC_ENABLE"),
    ),
    _concept(
        "perf buffer",
        "The older way for programs to send records to user space: a "
        "PERF_EVENT_ARRAY map holding one BPF_OUTPUT perf event per CPU, each with its "
        "own ring buffer the tool mmaps. Records may arrive out of order across CPUs; "
        "bpftrace uses it for printf and similar output.",
        aliases=("perf event array", "perf_event_array", "perfbuf", "perf output",
                 "perf ring buffer", "output channel"),
        lifecycle="setup: BPF_MAP_CREATE, then per CPU perf_event_open + "
        "PERF_EVENT_IOC_ENABLE + BPF_MAP_UPDATE_ELEM",
        since="4.4",
        see_also=("BPF_MAP_TYPE_PERF_EVENT_ARRAY", "PERF_COUNT_SW_BPF_OUTPUT",
                  "ring buffer"),
    ),
    _concept(
        "ring buffer",
        "The newer output channel: one RINGBUF map shared by all CPUs, which programs "
        "write records into and the tool reads by mmap, in order and without per-CPU "
        "perf events. Preferred over the perf buffer where the kernel has it.",
        aliases=("ringbuf", "bpf ring buffer", "bpf ringbuf"),
        lifecycle="setup: one BPF_MAP_CREATE with map_type RINGBUF",
        since="5.8",
        see_also=("BPF_MAP_TYPE_RINGBUF", "perf buffer"),
    ),
    _concept(
        "tracepoint",
        "A fixed, named place in the kernel's code, such as raw_syscalls:sys_enter or "
        "sched:sched_switch, where the kernel lets observers run code. Tracepoints are "
        "a stable interface, unlike kprobes; a TRACEPOINT program is attached by "
        "opening a perf event of type PERF_TYPE_TRACEPOINT with the tracepoint's id.",
        aliases=("tracepoints", "static tracepoint", "trace event"),
        lifecycle="attach: perf_event_open(type=PERF_TYPE_TRACEPOINT) + SET_BPF",
        since="4.7",
        see_also=("tracepoint id", "BPF_PROG_TYPE_TRACEPOINT", "raw tracepoint"),
    ),
    _concept(
        "tracepoint id",
        "The number that identifies a tracepoint on one machine, read from "
        "/sys/kernel/tracing/events/<group>/<name>/id and passed as config to "
        "perf_event_open. Ids differ between kernels and boots, so only the traced "
        "machine (or the loader reading that file in the trace) can say which "
        "tracepoint an id is.",
        aliases=("tp id", "event id", "config id"),
        lifecycle="perf_event_open(type=PERF_TYPE_TRACEPOINT, config=ID)",
        see_also=("tracepoint", "PERF_TYPE_TRACEPOINT"),
    ),
    _concept(
        "raw tracepoint",
        "A tracepoint used without the formatting step: the program gets the raw "
        "arguments the kernel passed, which is cheaper. Attached with "
        "BPF_RAW_TRACEPOINT_OPEN (or BPF_LINK_CREATE) by name, not through "
        "perf_event_open.",
        aliases=("raw_tracepoint", "raw_tp", "rawtracepoint", "tp_btf"),
        lifecycle="attach: BPF_RAW_TRACEPOINT_OPEN",
        since="4.17",
        see_also=("BPF_PROG_TYPE_RAW_TRACEPOINT", "BPF_RAW_TRACEPOINT_OPEN", "tracepoint"),
    ),
    _concept(
        "kprobe",
        "A probe on (almost) any kernel function: a kprobe runs the program when the "
        "function is entered, a kretprobe when it returns. Unlike tracepoints they "
        "follow the kernel's internal code and can break between versions. Attached "
        "through a perf event of the dynamic 'kprobe' PMU, or many at once with "
        "kprobe_multi links.",
        aliases=("kprobes", "kretprobe", "kretprobes", "kprobe/kretprobe", "kprobe_multi"),
        lifecycle="attach: perf_event_open(type=<kprobe PMU>) + SET_BPF, or BPF_LINK_CREATE",
        since="4.1",
        see_also=("BPF_PROG_TYPE_KPROBE", "dynamic PMU", "BPF_TRACE_KPROBE_MULTI",
                  "fentry/fexit"),
    ),
    _concept(
        "uprobe",
        "A probe on a function or address in a user-space program or library: a uprobe "
        "runs on entry, a uretprobe on return. The target file and offset go to "
        "perf_event_open in config1/config2, which strace prints only as pointers.",
        aliases=("uprobes", "uretprobe", "uretprobes", "uprobe/uretprobe", "usdt",
                 "uprobe_multi"),
        lifecycle="attach: perf_event_open(type=<uprobe PMU>) + SET_BPF, or BPF_LINK_CREATE",
        since="4.3",
        see_also=("BPF_PROG_TYPE_KPROBE", "dynamic PMU", "kprobe"),
    ),
    _concept(
        "fentry/fexit",
        "A faster, BTF-based way to trace kernel functions: fentry runs at a "
        "function's start, fexit at its end with both arguments and return value. "
        "These are TRACING programs attached with BPF_RAW_TRACEPOINT_OPEN or "
        "BPF_LINK_CREATE.",
        aliases=("fentry", "fexit", "fmod_ret", "kfunc probe", "kretfunc"),
        lifecycle="BPF_PROG_LOAD (TRACING) then BPF_LINK_CREATE/BPF_RAW_TRACEPOINT_OPEN",
        since="5.5",
        see_also=("BPF_PROG_TYPE_TRACING", "BTF", "kprobe"),
    ),
    _concept(
        "dynamic PMU",
        "A kind of perf event whose type number is chosen at boot and read from "
        "/sys/bus/event_source/devices/<name>/type: kprobe and uprobe are the common "
        "ones. strace shows such a type as a bare number (type=0x8 /* PERF_TYPE_??? */).",
        aliases=("pmu", "performance monitoring unit", "dynamic pmu type", "event source"),
        lifecycle="perf_event_open for kprobes and uprobes",
        since="4.17",
        see_also=("kprobe", "uprobe", "perf_event_open"),
    ),
    _concept(
        "software event",
        "A perf event counted by the kernel itself rather than by the CPU: clocks, page "
        "faults, context switches, and BPF_OUTPUT, the output channel for eBPF "
        "programs. bpftrace's software:cpu-clock:... probes use these.",
        aliases=("software", "software perf event", "sw event"),
        lifecycle="perf_event_open(type=PERF_TYPE_SOFTWARE)",
        since="2.6.31",
        see_also=("PERF_TYPE_SOFTWARE", "PERF_COUNT_SW_BPF_OUTPUT", "hardware event"),
    ),
    _concept(
        "hardware event",
        "A perf event counted by the CPU's performance counters: cycles, instructions, "
        "cache misses, branch misses. Virtual machines often have none, and then "
        "perf_event_open fails with ENOENT or EOPNOTSUPP.",
        aliases=("hardware", "hardware counter", "hw event", "pmc"),
        lifecycle="perf_event_open(type=PERF_TYPE_HARDWARE)",
        since="2.6.31",
        see_also=("PERF_TYPE_HARDWARE", "software event", "ENOENT"),
    ),
    _concept(
        "file descriptor",
        "A small number a process uses to refer to something the kernel holds open for "
        "it. Every eBPF program, map, BTF object, link and perf event a tool creates "
        "comes back as an fd; the object lives at least as long as some fd (or pin, or "
        "attachment) refers to it.",
        aliases=("fd", "fds", "descriptor", "anon_inode"),
        lifecycle="returned by creating calls; released by close() or at exit",
        see_also=("fd reuse", "close-on-exec"),
    ),
    _concept(
        "fd reuse",
        "The kernel always hands out the lowest free fd number, so a number freed by "
        "close() is soon given to something new: fd 8 may be a test program one moment "
        "and a perf event the next. A new object appearing on a live fd number means "
        "the previous one was released.",
        aliases=("fd number reuse", "reused fd"),
        lifecycle="throughout",
        see_also=("file descriptor",),
    ),
    _concept(
        "close-on-exec",
        "An fd flag (O_CLOEXEC, FD_CLOEXEC) that makes the kernel close the fd when "
        "the process runs a new program with execve. The kernel sets it on every fd "
        "bpf() returns, and perf events get it with PERF_FLAG_FD_CLOEXEC.",
        aliases=("cloexec", "o_cloexec", "fd_cloexec"),
        lifecycle="at execve",
        see_also=("file descriptor", "PERF_FLAG_FD_CLOEXEC"),
    ),
    _concept(
        "per-CPU",
        "Keeping a separate copy of data for each CPU, so programs running at the same "
        "time on different CPUs never wait for each other. PERCPU maps store one value "
        "per CPU for each key, and user space adds them up when it reads.",
        aliases=("percpu", "per cpu", "per-cpu map"),
        lifecycle="map creation and reading",
        see_also=("BPF_MAP_TYPE_PERCPU_HASH", "BPF_MAP_TYPE_PERCPU_ARRAY"),
    ),
    _concept(
        "BEGIN/END probes",
        "bpftrace's BEGIN and END blocks are not attached to any kernel event: recent "
        "bpftrace loads them as programs and runs each exactly once with "
        "BPF_PROG_TEST_RUN, at start and at exit (older versions attached them as "
        "uprobes on bpftrace's own BEGIN_trigger/END_trigger functions).",
        aliases=("begin", "end", "begin probe", "end probe", "test run"),
        lifecycle="BEGIN after attaching the other probes, END during teardown",
        since="4.12",
        see_also=("BPF_PROG_TEST_RUN", "bpftrace"),
    ),
    _concept(
        "global data",
        "A program's global variables live in ARRAY maps with one element, named after "
        "the ELF section they come from: .rodata (constants, frozen with "
        "BPF_MAP_FREEZE), .data (initialised variables) and .bss (zeroed variables). "
        "User space can often mmap them directly.",
        aliases=(".rodata", ".bss", ".data", "rodata", "bss", "global variables",
                 ".rodata/.bss maps", "kconfig map"),
        lifecycle="map creation, right before BPF_PROG_LOAD",
        since="5.2",
        see_also=("BPF_MAP_TYPE_ARRAY", "BPF_MAP_FREEZE", "BPF_F_MMAPABLE"),
    ),
    _concept(
        "CAP_BPF",
        "Capabilities split out of root: CAP_BPF allows creating maps and loading most "
        "programs; tracing programs and perf events also need CAP_PERFMON, networking "
        "programs CAP_NET_ADMIN. Before 5.8 all of this needed CAP_SYS_ADMIN.",
        aliases=("cap_perfmon", "capabilities", "cap_sys_admin", "cap_bpf/cap_perfmon",
                 "privileges", "root"),
        lifecycle="checked on BPF_MAP_CREATE, BPF_PROG_LOAD and perf_event_open",
        since="5.8",
        see_also=("EPERM", "unprivileged_bpf_disabled"),
    ),
    _concept(
        "unprivileged_bpf_disabled",
        "The sysctl kernel.unprivileged_bpf_disabled: when it is 1 or 2 (the default on "
        "most distributions), users without CAP_BPF or root get EPERM from bpf(), "
        "whatever they try to load.",
        aliases=("kernel.unprivileged_bpf_disabled", "unprivileged bpf"),
        lifecycle="any bpf() call by an unprivileged user",
        since="4.4",
        see_also=("CAP_BPF", "EPERM"),
    ),
    _concept(
        "perf_event_paranoid",
        "The sysctl kernel.perf_event_paranoid: how much an unprivileged user may "
        "observe with perf events. Values of 2 and above (common) stop users without "
        "CAP_PERFMON from watching the kernel or other processes.",
        aliases=("kernel.perf_event_paranoid",),
        lifecycle="perf_event_open",
        see_also=("CAP_BPF", "EACCES", "EPERM"),
    ),
    _concept(
        "RLIMIT_MEMLOCK",
        "The limit on locked memory per user. Before 5.11 the kernel charged eBPF maps "
        "and programs against it, so loaders raise it first (setrlimit) and a too-low "
        "limit showed up as EPERM or ENOMEM; since 5.11 memory is charged to the cgroup "
        "instead.",
        aliases=("memlock", "ulimit -l", "setrlimit"),
        lifecycle="start-up, before the first BPF_MAP_CREATE",
        see_also=("EPERM", "ENOMEM"),
    ),
    _concept(
        "tail call",
        "A jump from one eBPF program into another, chosen at run time from a "
        "PROG_ARRAY map; the first program does not come back. Used to split large "
        "logic and to chain programs.",
        aliases=("tail calls", "tailcall", "bpf_tail_call"),
        lifecycle="set up by filling a PROG_ARRAY map with BPF_MAP_UPDATE_ELEM",
        since="4.2",
        see_also=("BPF_MAP_TYPE_PROG_ARRAY",),
    ),
    _concept(
        "JIT",
        "After the verifier accepts a program the kernel translates it into the "
        "machine's native instructions (just-in-time compilation), so it runs at "
        "nearly the speed of built-in kernel code.",
        aliases=("jit compiler", "bpf jit", "jited"),
        lifecycle="inside BPF_PROG_LOAD, after verification",
        see_also=("verifier", "BPF_PROG_LOAD"),
    ),
    _concept(
        "object id",
        "Besides fds, which are private to a process, every program, map, BTF object "
        "and link has a system-wide id number. Tools list objects by id "
        "(BPF_PROG_GET_NEXT_ID...) and open them by id (BPF_PROG_GET_FD_BY_ID...).",
        aliases=("id", "prog id", "map id", "btf id", "link id"),
        lifecycle="inspection and feature checks",
        since="4.13",
        see_also=("BPF_OBJ_GET_INFO_BY_FD", "BPF_BTF_GET_FD_BY_ID"),
    ),
    _concept(
        "strace",
        "A tool that prints every system call a program makes, with its arguments and "
        "result. bpfexplain reads its output: run strace -f -e trace=bpf,"
        "perf_event_open,ioctl,close -o trace.log <command> and give it the log.",
        aliases=("strace log", "trace"),
        lifecycle="the input of bpfexplain",
        see_also=("bpf() system call", "perf_event_open"),
    ),
    _concept(
        "bpftrace",
        "A high-level tracing language for Linux: one-liners like "
        "'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }' are compiled to "
        "eBPF programs and maps, loaded, attached, and their maps printed at exit.",
        aliases=("bpftrace script",),
        see_also=("eBPF", "BEGIN/END probes", "map"),
    ),
    _concept(
        "libbpf",
        "The reference C library for loading eBPF objects: it reads a compiled .o file, "
        "probes kernel features, applies CO-RE relocations, creates maps, loads and "
        "attaches programs. Its probes carry names like libbpf_nametest.",
        aliases=("libbpf-based", "skeleton", "bpf skeleton"),
        see_also=("feature probe", "CO-RE", "global data"),
    ),
    # Attach routes outside bpf(): sockets, netlink (XDP, tc), cgroups.
    _concept(
        "netlink",
        "A socket family (AF_NETLINK) through which programs ask the kernel to change "
        "network settings: a request message (RTM_SETLINK, RTM_NEWTFILTER...) goes out "
        "with sendmsg or sendto, and the kernel answers with an NLMSG_ERROR message whose "
        "error field is 0 when the change was made. XDP and tc programs are attached this "
        "way; the interface then keeps them after the loader exits.",
        aliases=("AF_NETLINK", "NETLINK_ROUTE", "rtnetlink", "NLMSG_ERROR", "netlink ack",
                 "RTM_NEWLINK", "RTM_SETLINK", "RTM_GETLINK"),
        lifecycle="attaching XDP and tc programs; the ack says whether it worked",
        see_also=("IFLA_XDP", "TCA_BPF", "BPF_PROG_TYPE_XDP", "tc"),
    ),
    _concept(
        "IFLA_XDP",
        "The netlink attribute that attaches an XDP program to a network interface: "
        "IFLA_XDP_FD is the program's fd (-1 removes it), IFLA_XDP_FLAGS the mode "
        "(XDP_FLAGS_SKB_MODE generic, XDP_FLAGS_DRV_MODE native in the driver, "
        "XDP_FLAGS_HW_MODE offloaded to the card) and XDP_FLAGS_UPDATE_IF_NOEXIST 'only if "
        "none is attached'. The interface keeps the program until it is removed, for "
        "example with 'ip link set dev IFACE xdpgeneric off'.",
        aliases=("IFLA_XDP_FD", "IFLA_XDP_FLAGS", "IFLA_XDP_EXPECTED_FD", "xdpgeneric",
                 "generic XDP", "native XDP", "XDP mode"),
        lifecycle="sent in RTM_SETLINK/RTM_NEWLINK after the program is loaded",
        since="4.8",
        see_also=("netlink", "BPF_PROG_TYPE_XDP", "BPF_XDP"),
    ),
    _concept(
        "tc",
        "Linux traffic control. A clsact qdisc gives an interface two hooks, ingress "
        "(packets it receives, parent ffff:fff2) and egress (packets it sends, parent "
        "ffff:fff3); a filter of kind bpf runs a SCHED_CLS program there on every packet. "
        "With direct action (da) the program's return value is the verdict (TC_ACT_OK, "
        "TC_ACT_SHOT...). The qdisc keeps the filter after tc exits.",
        aliases=("traffic control", "clsact", "tc filter", "tc qdisc", "RTM_NEWQDISC",
                 "RTM_NEWTFILTER", "RTM_DELTFILTER", "direct action", "tcx"),
        lifecycle="a clsact qdisc, then a bpf filter over netlink (or a tcx link)",
        see_also=("TCA_BPF", "netlink", "BPF_PROG_TYPE_SCHED_CLS"),
    ),
    _concept(
        "TCA_BPF",
        "The options of a tc filter of kind bpf, in a netlink RTM_NEWTFILTER message: "
        "TCA_BPF_FD is the program's fd, TCA_BPF_NAME a name for listings, TCA_BPF_FLAGS "
        "with TCA_BPF_FLAG_ACT_DIRECT makes the program's return value the verdict.",
        aliases=("TCA_BPF_FD", "TCA_BPF_NAME", "TCA_BPF_FLAGS", "TCA_OPTIONS"),
        lifecycle="sent in RTM_NEWTFILTER after the program is loaded",
        since="4.1",
        see_also=("tc", "netlink"),
    ),
    _concept(
        "socket filter",
        "A program attached to one socket with setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, "
        "[prog_fd]): it runs on every packet the socket receives and can drop or trim "
        "it. With SO_ATTACH_REUSEPORT_EBPF the program instead picks which socket of a "
        "SO_REUSEPORT group gets each packet. It lasts until SO_DETACH_BPF or until the "
        "socket's last fd is closed.",
        aliases=("SO_ATTACH_BPF", "SO_ATTACH_REUSEPORT_EBPF", "SO_DETACH_BPF",
                 "SO_DETACH_FILTER", "SO_DETACH_REUSEPORT_BPF", "setsockopt"),
        lifecycle="setsockopt after the program is loaded and the socket made",
        since="3.19",
        see_also=("BPF_PROG_TYPE_SOCKET_FILTER", "BPF_PROG_TYPE_SK_REUSEPORT"),
    ),
    _concept(
        "cgroup",
        "A control group: a directory under /sys/fs/cgroup holding a set of processes. "
        "A cgroup program (cgroup_skb, cgroup_sock...) is attached to the directory's fd "
        "and runs for every process in the group, for example on every packet they send "
        "(BPF_CGROUP_INET_EGRESS). Attached with BPF_PROG_ATTACH, the cgroup keeps it "
        "after the loader exits until BPF_PROG_DETACH ('bpftool cgroup detach'); "
        "attached with BPF_LINK_CREATE, it lasts as long as the link.",
        aliases=("cgroups", "control group", "cgroup v2", "cgroup program"),
        lifecycle="BPF_PROG_ATTACH or BPF_LINK_CREATE on a cgroup directory's fd",
        since="4.10",
        see_also=("BPF_PROG_ATTACH", "BPF_CGROUP_INET_EGRESS", "link"),
    ),
)


# --------------------------------------------------------------------------------
# Richer texts for the enum values people meet most; the rest use the table's line.

_RICH: dict[str, tuple[str, tuple[str, ...]]] = {
    # commands
    "BPF_MAP_CREATE": (
        "Creates a map: the key size, value size, maximum number of entries and map "
        "type are fixed here for the map's whole life. Returns the map's fd.",
        ("map", "BPF_MAP_TYPE_HASH"),
    ),
    "BPF_MAP_LOOKUP_ELEM": (
        "Reads the value stored under one key. Tools call it to read results, usually "
        "right after BPF_MAP_GET_NEXT_KEY returned the key; ENOENT just means the key "
        "is not there.",
        ("BPF_MAP_GET_NEXT_KEY", "map"),
    ),
    "BPF_MAP_UPDATE_ELEM": (
        "Writes the value under one key, creating the entry if needed. Loaders use it "
        "to fill maps before programs run: initial values, program tables for tail "
        "calls, perf event fds of a perf buffer.",
        ("map", "perf buffer", "tail call"),
    ),
    "BPF_MAP_GET_NEXT_KEY": (
        "Returns the key that follows a given key (or the first key, when given none), "
        "which is how user space walks through a whole map. The walk ends with ENOENT: "
        "that failure is normal.",
        ("BPF_MAP_LOOKUP_ELEM", "ENOENT"),
    ),
    "BPF_PROG_LOAD": (
        "Hands a program's instructions to the kernel, with its type (which events it "
        "may attach to) and license. The verifier checks it; if it is accepted, the "
        "kernel compiles it to machine code and returns the program's fd. Loading "
        "does not attach it to anything yet.",
        ("eBPF program", "verifier", "verifier log", "attach"),
    ),
    "BPF_OBJ_PIN": (
        "Gives a program, map or link a file name under the BPF filesystem "
        "(/sys/fs/bpf), so that it stays alive after the tool exits and other tools "
        "can open it.",
        ("pin", "BPF_OBJ_GET"),
    ),
    "BPF_OBJ_GET": (
        "Opens a pinned program, map or link from its path under /sys/fs/bpf and "
        "returns a new fd to it.",
        ("pin", "BPF_OBJ_PIN"),
    ),
    "BPF_PROG_ATTACH": (
        "The original attach command for cgroup, socket-map, flow-dissector and "
        "similar hooks: the program stays attached even after the tool closes its fd, "
        "until BPF_PROG_DETACH. Newer loaders prefer BPF_LINK_CREATE.",
        ("attach", "BPF_LINK_CREATE", "BPF_PROG_DETACH"),
    ),
    "BPF_PROG_TEST_RUN": (
        "Runs a loaded program once, immediately, on input given by the caller, and "
        "returns its result. Used for testing, by bpftrace to run BEGIN and END blocks, "
        "and to run SYSCALL programs.",
        ("BEGIN/END probes", "BPF_PROG_TYPE_SYSCALL"),
    ),
    "BPF_OBJ_GET_INFO_BY_FD": (
        "Asks the kernel to describe the object behind an fd: for a program its type, "
        "id, name and tag; for a map its type and sizes; for BTF its name and size; for "
        "a link what it attaches. Loaders call it a lot while checking features.",
        ("object id", "feature probe"),
    ),
    "BPF_RAW_TRACEPOINT_OPEN": (
        "Attaches a program to a raw tracepoint by name (or a TRACING/LSM program to "
        "its BTF-named target) and returns an fd; the program stays attached while "
        "that fd is open.",
        ("raw tracepoint", "link", "fentry/fexit"),
    ),
    "BPF_BTF_LOAD": (
        "Loads a block of BTF type information (the types of a program's maps and "
        "functions) into the kernel and returns its fd, which maps and programs then "
        "refer to.",
        ("BTF",),
    ),
    "BPF_BTF_GET_FD_BY_ID": (
        "Opens a loaded BTF object by id. Id 1 is the kernel's own type information "
        "(vmlinux), which loaders open to learn the running kernel's types.",
        ("BTF", "object id"),
    ),
    "BPF_MAP_FREEZE": (
        "Makes a map read-only from user space from now on. Loaders freeze the .rodata "
        "map after writing the constants, so the verifier can trust them.",
        ("global data",),
    ),
    "BPF_LINK_CREATE": (
        "Attaches a program to its target (cgroup, XDP device, perf event, kprobes, "
        "tracing target...) and returns a link fd; the attachment lasts while the link "
        "exists. Feature probes call it with target_fd=-1 or an odd attach type to see "
        "which error comes back.",
        ("link", "attach", "feature probe"),
    ),
    "BPF_LINK_DETACH": (
        "Detaches a link's program from its target without closing the link fd.",
        ("link",),
    ),
    "BPF_PROG_BIND_MAP": (
        "Ties a map's lifetime to a program that does not reference it in code, so "
        "the map lives as long as the program (used for metadata such as .rodata "
        "annotations).",
        ("map", "eBPF program"),
    ),
    # program types
    "BPF_PROG_TYPE_SOCKET_FILTER": (
        "A program that sees packets arriving at a socket and decides how much of "
        "each to keep. Because it is the simplest type, loaders use tiny SOCKET_FILTER "
        "programs (often 2 instructions) to probe kernel features.",
        ("feature probe",),
    ),
    "BPF_PROG_TYPE_KPROBE": (
        "A program run when a kernel function is entered (kprobe) or returns "
        "(kretprobe), or when a user-space function is entered or returns (uprobe, "
        "uretprobe). It receives the CPU registers at that moment.",
        ("kprobe", "uprobe", "dynamic PMU"),
    ),
    "BPF_PROG_TYPE_SCHED_CLS": (
        "A traffic-control (tc) classifier: runs on every packet passing a network "
        "interface's ingress or egress and can drop, edit or redirect it.",
        ("BPF_PROG_TYPE_XDP",),
    ),
    "BPF_PROG_TYPE_TRACEPOINT": (
        "A program run at a kernel tracepoint, a stable named point such as "
        "raw_syscalls:sys_enter. It receives the tracepoint's formatted record and is "
        "attached through a perf event of type PERF_TYPE_TRACEPOINT.",
        ("tracepoint", "tracepoint id", "PERF_EVENT_IOC_SET_BPF"),
    ),
    "BPF_PROG_TYPE_XDP": (
        "eXpress Data Path: a program run by the network driver on each received "
        "packet before the kernel's network stack sees it. It can drop, pass, bounce "
        "or redirect the packet, which makes it the fastest place to filter traffic.",
        ("BPF_MAP_TYPE_DEVMAP", "BPF_XDP"),
    ),
    "BPF_PROG_TYPE_PERF_EVENT": (
        "A program run when a perf event overflows: for example every N CPU cycles or "
        "at a fixed frequency, which is how profilers sample stacks (bpftrace's "
        "profile: and interval: probes, software: and hardware: probes).",
        ("perf event", "software event", "hardware event"),
    ),
    "BPF_PROG_TYPE_CGROUP_SKB": (
        "A program that sees the packets entering or leaving the processes of one "
        "cgroup and may drop them: a per-container firewall.",
        ("BPF_CGROUP_INET_INGRESS", "BPF_PROG_ATTACH"),
    ),
    "BPF_PROG_TYPE_CGROUP_SOCK": (
        "A program run when a process of a cgroup creates (or releases) a socket; it "
        "can refuse it or set its options.",
        ("BPF_CGROUP_INET_SOCK_CREATE",),
    ),
    "BPF_PROG_TYPE_CGROUP_DEVICE": (
        "A program that decides whether processes of a cgroup may open or create a "
        "device; container runtimes use it in place of the devices cgroup.",
        ("BPF_CGROUP_DEVICE",),
    ),
    "BPF_PROG_TYPE_CGROUP_SOCK_ADDR": (
        "A program run on bind, connect, sendmsg and similar calls in a cgroup that "
        "may check or rewrite the address, e.g. to redirect a service address.",
        ("BPF_CGROUP_INET4_CONNECT",),
    ),
    "BPF_PROG_TYPE_RAW_TRACEPOINT": (
        "A program run at a tracepoint that receives the tracepoint's raw arguments "
        "instead of a formatted record: less work per event than TRACEPOINT. Attached "
        "by name with BPF_RAW_TRACEPOINT_OPEN, not through a perf event.",
        ("raw tracepoint", "BPF_RAW_TRACEPOINT_OPEN", "BPF_PROG_TYPE_TRACEPOINT"),
    ),
    "BPF_PROG_TYPE_TRACING": (
        "BTF-based tracing programs: fentry and fexit on kernel functions, fmod_ret, "
        "BTF-typed tracepoints (tp_btf) and iterators. The expected_attach_type says "
        "which; they read arguments with their real C types.",
        ("fentry/fexit", "BTF", "BPF_TRACE_FENTRY"),
    ),
    "BPF_PROG_TYPE_STRUCT_OPS": (
        "Programs that implement the functions of a kernel operations table, such as "
        "a TCP congestion-control algorithm or a sched_ext CPU scheduler; registering "
        "the STRUCT_OPS map makes the kernel call them.",
        ("BPF_MAP_TYPE_STRUCT_OPS",),
    ),
    "BPF_PROG_TYPE_LSM": (
        "A program run at a Linux Security Module hook (file open, exec, socket "
        "connect...) that can deny the operation by returning an error: security "
        "policy written in eBPF.",
        ("BPF_LSM_MAC", "BTF"),
    ),
    "BPF_PROG_TYPE_SYSCALL": (
        "A program that can itself call bpf() to create maps and load programs; "
        "libbpf's light skeletons load everything through one such program, run with "
        "BPF_PROG_TEST_RUN.",
        ("BPF_PROG_TEST_RUN", "libbpf"),
    ),
    # map types
    "BPF_MAP_TYPE_HASH": (
        "A hash table: any fixed-size key to a fixed-size value, up to max_entries "
        "entries. The usual home of counts by process name, pid or stack.",
        ("map", "BPF_MAP_TYPE_PERCPU_HASH", "BPF_MAP_TYPE_LRU_HASH"),
    ),
    "BPF_MAP_TYPE_ARRAY": (
        "An array of max_entries values indexed by a 4-byte number from 0, all "
        "allocated up front and never deleted. Also the map type behind global "
        "variables (.rodata, .data, .bss).",
        ("map", "global data"),
    ),
    "BPF_MAP_TYPE_PROG_ARRAY": (
        "A table of program fds that a program can jump into with a tail call.",
        ("tail call",),
    ),
    "BPF_MAP_TYPE_PERF_EVENT_ARRAY": (
        "An array of perf event fds, normally one per CPU, through which programs send "
        "records to user space (bpf_perf_event_output): the perf buffer. bpftrace "
        "names it after its use, e.g. \"printf\".",
        ("perf buffer", "PERF_COUNT_SW_BPF_OUTPUT", "ring buffer"),
    ),
    "BPF_MAP_TYPE_PERCPU_HASH": (
        "A hash table that keeps a separate value for each CPU under every key, so "
        "programs on different CPUs never contend; reading a key returns one value per "
        "CPU, which the tool adds up. bpftrace uses it for count() and sum().",
        ("per-CPU", "BPF_MAP_TYPE_HASH"),
    ),
    "BPF_MAP_TYPE_PERCPU_ARRAY": (
        "An array with one value per CPU for each index: cheap per-CPU counters and "
        "scratch space too large for the program's 512-byte stack.",
        ("per-CPU", "BPF_MAP_TYPE_ARRAY"),
    ),
    "BPF_MAP_TYPE_STACK_TRACE": (
        "Stores call stacks: a program asks the kernel to save the current stack and "
        "gets a stack id to use as a key elsewhere; user space reads the addresses and "
        "turns them into function names.",
        ("BPF_MAP_TYPE_HASH",),
    ),
    "BPF_MAP_TYPE_LRU_HASH": (
        "A hash table that, when full, evicts the least recently used entry instead of "
        "failing: good for caches and for tracking connections.",
        ("BPF_MAP_TYPE_HASH", "BPF_MAP_TYPE_LRU_PERCPU_HASH"),
    ),
    "BPF_MAP_TYPE_LRU_PERCPU_HASH": (
        "An LRU hash table with a separate value for each CPU.",
        ("BPF_MAP_TYPE_LRU_HASH", "per-CPU"),
    ),
    "BPF_MAP_TYPE_LPM_TRIE": (
        "Longest-prefix-match lookups: finds the most specific stored prefix for a "
        "key, as routing tables and IP allow-lists need.",
        (),
    ),
    "BPF_MAP_TYPE_RINGBUF": (
        "A single ring buffer shared by all CPUs: programs reserve space, write a "
        "record and submit it; user space reads records in order through mmap. The "
        "newer, cheaper replacement for PERF_EVENT_ARRAY output.",
        ("ring buffer", "BPF_MAP_TYPE_PERF_EVENT_ARRAY"),
    ),
    "BPF_MAP_TYPE_STRUCT_OPS": (
        "A map whose value is a kernel operations table (e.g. tcp_congestion_ops) "
        "filled with STRUCT_OPS programs; updating or linking it registers the "
        "implementation with the kernel.",
        ("BPF_PROG_TYPE_STRUCT_OPS",),
    ),
    # perf
    "PERF_TYPE_TRACEPOINT": (
        "perf_event_open type for kernel tracepoints: config is the tracepoint id "
        "(from tracefs events/<group>/<name>/id). bpftrace opens one per CPU or one for "
        "all CPUs and attaches the program with PERF_EVENT_IOC_SET_BPF.",
        ("tracepoint", "tracepoint id"),
    ),
    "PERF_TYPE_SOFTWARE": (
        "perf_event_open type for events the kernel counts itself; config picks which "
        "(PERF_COUNT_SW_CPU_CLOCK, ..., PERF_COUNT_SW_BPF_OUTPUT).",
        ("software event", "PERF_COUNT_SW_BPF_OUTPUT"),
    ),
    "PERF_TYPE_HARDWARE": (
        "perf_event_open type for generic CPU counters; config picks which "
        "(PERF_COUNT_HW_CPU_CYCLES, ...). Often unavailable in virtual machines.",
        ("hardware event",),
    ),
    "PERF_COUNT_SW_BPF_OUTPUT": (
        "A software perf event that counts nothing and only carries data: eBPF "
        "programs write records into it with bpf_perf_event_output. Tools open one per "
        "CPU, enable it and store its fd in a PERF_EVENT_ARRAY map.",
        ("perf buffer", "BPF_MAP_TYPE_PERF_EVENT_ARRAY"),
    ),
    "PERF_COUNT_SW_CPU_CLOCK": (
        "A per-CPU high-resolution timer event; with a sample period or frequency it "
        "fires regularly and runs an attached PERF_EVENT program: bpftrace's "
        "profile:hz:N probes and software:cpu-clock.",
        ("BPF_PROG_TYPE_PERF_EVENT", "software event"),
    ),
    "PERF_EVENT_IOC_SET_BPF": (
        "ioctl on a perf event fd that attaches an eBPF program (its fd is the third "
        "argument): from now on the program runs each time the event fires. This is "
        "how tracepoint, kprobe, uprobe and perf-event programs are attached on "
        "kernels or loaders that do not use links.",
        ("attach", "perf event", "PERF_EVENT_IOC_ENABLE"),
    ),
    "PERF_EVENT_IOC_ENABLE": (
        "ioctl that switches a perf event on: a counter starts counting, an event with "
        "a program starts running it, an output channel starts accepting records.",
        ("PERF_EVENT_IOC_DISABLE", "PERF_EVENT_IOC_SET_BPF"),
    ),
    "PERF_EVENT_IOC_DISABLE": (
        "ioctl that switches a perf event off; tools do it at exit, before reading "
        "their maps, so that no new data arrives meanwhile.",
        ("PERF_EVENT_IOC_ENABLE",),
    ),
}


# --------------------------------------------------------------------------------
# Bulk entries from the knowledge tables.

_TABLE_LIFECYCLE: tuple[tuple[k.Table, str, str], ...] = (
    (k.BPF_CMD, "first argument of bpf()", "bpf() system call"),
    (k.PROG_TYPE, "prog_type of BPF_PROG_LOAD", "eBPF program"),
    (k.MAP_TYPE, "map_type of BPF_MAP_CREATE", "map"),
    (k.PERF_IOCTL, "request of ioctl() on a perf event fd", "ioctl"),
    (k.PERF_TYPE, "attr.type of perf_event_open", "perf_event_open"),
    (k.SW_CONFIG, "attr.config of perf_event_open when type is PERF_TYPE_SOFTWARE",
     "software event"),
    (k.HW_CONFIG, "attr.config of perf_event_open when type is PERF_TYPE_HARDWARE",
     "hardware event"),
    (k.ATTACH_TYPE, "expected_attach_type of BPF_PROG_LOAD; attach_type of "
     "BPF_PROG_ATTACH and BPF_LINK_CREATE", "attach"),
    (k.LINK_TYPE, "type of a link, in BPF_OBJ_GET_INFO_BY_FD on a link fd", "link"),
    (k.PERF_FLAGS, "flags, the last argument of perf_event_open", "perf_event_open"),
    (k.MAP_FLAGS, "map_flags of BPF_MAP_CREATE", "BPF_MAP_CREATE"),
    (k.PROG_FLAGS, "prog_flags of BPF_PROG_LOAD", "BPF_PROG_LOAD"),
    (k.ERRNO, "the result of a failed call: = -1 ENAME (...)", "strace"),
)

_COMMAND_LIFECYCLE: dict[str, str] = {
    "create": "setup: creates a new object and returns its fd",
    "reopen": "opens an fd to an object that already exists",
    "map_read": "reading a map: while running or at the end",
    "map_write": "filling or changing a map",
    "map_iterate": "walking a map, usually at the end to print results",
    "attach": "attaching a program to its event",
    "detach": "teardown: detaching a program",
    "pin": "making an object outlive the process",
    "query": "inspection and feature checks",
    "run": "running a program on demand",
    "other": "",
}


_ERRNO_SEE_ALSO: dict[str, tuple[str, ...]] = {
    "EPERM": ("CAP_BPF", "unprivileged_bpf_disabled", "perf_event_paranoid", "RLIMIT_MEMLOCK"),
    "EACCES": ("verifier", "verifier log", "perf_event_paranoid"),
    "EINVAL": ("verifier", "feature probe"),
    "ENOENT": ("BPF_MAP_GET_NEXT_KEY", "tracepoint id", "hardware event", "pin"),
    "EOPNOTSUPP": ("feature probe",),
    "ENOTSUPP": ("feature probe",),
    "E2BIG": ("verifier", "instruction"),
    "ENOSPC": ("verifier log", "BPF_MAP_UPDATE_ELEM"),
    "EBADF": ("file descriptor", "feature probe"),
    "EEXIST": ("pin", "attach"),
    "ENOMEM": ("RLIMIT_MEMLOCK",),
}


def _errno_summary(entry: k.Entry) -> str:
    parts = [f"{entry.name} ({entry.description})."]
    contexts = k.errno_contexts(entry.name)
    general = contexts.pop("bpf", None)
    if general:
        parts.append(f"From bpf(): {general}.")
    for context, text in contexts.items():
        parts.append(f"From {context}: {text}.")
    return " ".join(parts)


def _enum_entries() -> list[GlossaryEntry]:
    result: list[GlossaryEntry] = []
    for table, lifecycle, concept in _TABLE_LIFECYCLE:
        for entry in table:
            aliases = [a for a in table.aliases(entry.name) if a != entry.name.upper()]
            if table is k.SW_CONFIG and entry.number in k.SOFTWARE_PROBE_NAMES:
                bt = k.SOFTWARE_PROBE_NAMES[entry.number]
                aliases += [bt, "software:" + bt]
            if table is k.HW_CONFIG and entry.number in k.HARDWARE_PROBE_NAMES:
                bt = k.HARDWARE_PROBE_NAMES[entry.number]
                aliases += [bt, "hardware:" + bt]
            rich = _RICH.get(entry.name)
            if rich is not None:
                summary, see_also = rich
            elif table is k.ERRNO:
                summary = _errno_summary(entry)
                see_also = _ERRNO_SEE_ALSO.get(entry.name, ())
            else:
                summary = f"A {table.title}: {entry.description}."
                see_also = ()
            stage = lifecycle
            if table is k.BPF_CMD:
                kind = _COMMAND_LIFECYCLE[k.command_info(entry.name).kind]
                stage = f"{lifecycle}; {kind}" if kind else lifecycle
            result.append(GlossaryEntry(
                term=entry.name,
                summary=summary,
                category=table.title,
                aliases=tuple(aliases),
                lifecycle=stage,
                since=entry.since,
                see_also=tuple(dict.fromkeys((*see_also, concept))),
            ))
    return result


# --------------------------------------------------------------------------------
# Lookup.

_SEPARATORS = re.compile(r"[\s_\-]+")


def normalize(term: str) -> str:
    """The lookup key of a term: lower case, runs of spaces, ``-`` and ``_`` as one ``_``."""
    return _SEPARATORS.sub("_", term.strip().lower()).strip("_")


@cache
def _index() -> tuple[tuple[GlossaryEntry, ...], dict[str, GlossaryEntry]]:
    entries = (*_CONCEPTS, *_enum_entries())
    index: dict[str, GlossaryEntry] = {}
    # Precedence on clashes: any canonical term, then concept aliases, then the short
    # forms of enum names in table order (so "xdp" is the program type, not the attach
    # type, and "tracepoint" is the concept).
    for entry in entries:
        index.setdefault(normalize(entry.term), entry)
    for entry in entries:
        for alias in entry.aliases:
            index.setdefault(normalize(alias), entry)
    return entries, index


def all_entries() -> tuple[GlossaryEntry, ...]:
    """Every entry: concepts first, then enum values table by table."""
    return _index()[0]


def lookup(term: str) -> GlossaryEntry | None:
    """The entry for a term, alias or short form, case-insensitively; None if unknown.

    Accepts ``BPF_PROG_LOAD``, ``prog_load``, ``prog-load``, ``SET_BPF``, ``ringbuf``,
    ``software:cpu-clock``.  Numbers are not terms: turn them into names with the
    knowledge tables first (``ERRNO.name(524)``).
    """
    index = _index()[1]
    key = normalize(term)
    entry = index.get(key)
    if entry is None:
        # People write bpf_ringbuf for ringbuf, or map_type_hash for BPF_MAP_TYPE_HASH.
        other = key[len("bpf_"):] if key.startswith("bpf_") else "bpf_" + key
        entry = index.get(other)
    return entry


def suggest(term: str, n: int = 5) -> list[str]:
    """Up to ``n`` canonical terms closest to a misspelled one, best first."""
    index = _index()[1]
    import difflib  # only for a term not found: most lookups never need it

    matches = difflib.get_close_matches(normalize(term), index.keys(), n=n * 3, cutoff=0.6)
    terms = dict.fromkeys(index[m].term for m in matches)
    return list(terms)[:n]
