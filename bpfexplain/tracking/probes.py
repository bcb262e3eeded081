"""The one home of "is this a feature probe?", and of what each probe tested.

libbpf, bpftrace and cilium/ebpf load throw-away programs and maps to learn what the
kernel supports.  They are not the user's objects: the story folds them and says
which feature was being checked.
"""

from __future__ import annotations

from typing import Any

from bpfexplain import knowledge as kn
from bpfexplain.tracking.files import TRIES_ANOTHER_WAY
from bpfexplain.tracking.records import (
    USER_STOP,
    Action,
    ActionKind,
    Attachment,
    Failure,
    Obj,
    ObjKind,
    Pin,
    Process,
)
from bpfexplain.values import as_int


def has_func_info(attrs: dict[str, Any]) -> bool:
    """The load carries BTF function info (``func_info_cnt``): the program was compiled
    from an object file with its own type information (a libbpf skeleton's, BCC's).
    Feature probes are assembled in place and never carry any, however small the
    program is (libbpf-tools' vfsstat has 6-instruction kprobes, syscount 2)."""
    count = as_int(attrs.get("func_info_cnt"))
    return count is not None and count > 0


def looks_like_probe_prog(attrs: dict[str, Any]) -> bool:
    """Feature probes are tiny programs (``r0 = 0; exit``, a helper call or two).

    A verifier log alone does not make a program the loader's own: bpftrace asks for
    one on its unnamed 2-instruction helper checks, whose answer is the point.  A
    tiny *named* program loaded with a log (``bad_prog``) is the loader's, though:
    the name and the log say it wants that program, and why it failed.  A program
    with BTF function info is one the loader compiled to use, never a probe.
    """
    name = str(attrs.get("prog_name") or "")
    count = attrs.get("insn_cnt")
    if name.startswith("libbpf_"):
        return True
    if has_func_info(attrs):
        return False
    if name and as_int(attrs.get("log_level")):
        return False
    return isinstance(count, int) and count <= 8


_MAP_FEATURES = {
    "libbpf_global": "global data (maps that hold a program's global variables)",
    "libbpf_mmap": "memory-mappable array maps (BPF_F_MMAPABLE)",
    "libbpf_det_bind": "binding maps to programs (BPF_PROG_BIND_MAP)",
    "libbpf_arr": "array maps",
}


def _prog_feature(prog: Obj) -> str:
    name = prog.name
    ptype = str(prog.attrs.get("prog_type", ""))
    eat = str(prog.attrs.get("expected_attach_type", ""))
    if name == "libbpf_nametest":
        return "program names (prog_name)"
    if eat == "BPF_TRACE_KPROBE_MULTI":
        return "kprobe_multi links (attach one program to many kernel functions)"
    if any(m.name == "libbpf_global" for m in prog.maps):
        return "global data"
    if ptype == "BPF_PROG_TYPE_SOCKET_FILTER" and prog.attrs.get("insn_cnt") == 2:
        return "loading a minimal program"
    return "program loading of type " + kn.PROG_TYPE.short(ptype) if ptype else \
        "program loading"


def link_probe_feature(failure: Failure) -> str:
    attach_type = failure.attrs.get("attach_type")
    if attach_type == "BPF_TRACE_KPROBE_MULTI":
        return "kprobe_multi links (attach one program to many kernel functions)"
    if attach_type == "BPF_PERF_EVENT":
        return "perf event links (BPF_LINK_CREATE for perf events)"
    return f"links of type {attach_type}"


_BTF_FEATURES = (
    ("enum64", "64-bit enums in BTF"),
    ("float", "floating-point types in BTF"),
    ("tag", "type and declaration tags in BTF"),
    (".data", "global variables described in BTF (DATASEC)"),
    ("x\x00a", "function prototypes in BTF"),
)


def btf_feature(blob: str) -> str:
    for needle, feature in _BTF_FEATURES:
        if needle in blob:
            return feature
    return "basic BTF support"



_TASK_FD_QUERY_ANSWERS = {
    "ENOTSUPP": "not a BPF perf fd: neither a perf event nor a raw tracepoint",
    "ENOENT": "not a BPF perf fd: a perf event without a BPF program (or the process "
              "has gone)",
    "EBADF": "no such fd any more (closed before the question reached it)",
    "ESRCH": "the process has gone",
    "EPERM": "not allowed to look at that process's fds",
}
"""``BPF_TASK_FD_QUERY`` asks whether one fd of a process is a perf event (or raw
tracepoint) with a BPF program; ``bpftool perf show`` asks it of every fd of every
process, and these errors are its answers."""


def task_fd_query_answer(errno: str | None, pid: int | None, own: int | None) -> str | None:
    """What a failed ``BPF_TASK_FD_QUERY`` answered; None when it is a real failure.

    About another process's fd every listed error is an answer.  About the loader's
    own fd (bpftool first asks about one of its own to learn the command works) only
    "not a BPF perf fd" is: EPERM there means it may not use the command at all.
    """
    answer = _TASK_FD_QUERY_ANSWERS.get(errno or "")
    if answer is None or (pid == own and errno not in ("ENOTSUPP", "ENOENT")):
        return None
    return answer


def _retried_after_enospc(objects: list[Obj], failure: Failure) -> Obj | None:
    if failure.errno != "ENOSPC" or failure.call not in ("BPF_PROG_LOAD", "BPF_BTF_LOAD"):
        return None
    kind: ObjKind = "prog" if failure.call == "BPF_PROG_LOAD" else "btf"
    name = failure.attrs.get("prog_name", "")
    for obj in objects:
        if obj.kind == kind and obj.line > failure.line and obj.file == failure.file and (
            kind == "btf" or obj.name == name
        ):
            return obj
    return None

def _map_tried_and_dropped(pinned: set[int], first_real_prog: float, m: Obj) -> bool:
    """A map closed right after creation, unused, before any real program: a test.

    cilium/ebpf and others create such maps to learn whether map names or flags
    work; a real map lives at least until the programs that use it are loaded.
    ``first_real_prog`` is the line of the first program that does not look like a
    probe (infinity when there is none).
    """
    if m.ops or m.closed_line is None or m.end != "close" or m.closed_line - m.line > 3:
        return False
    if id(m) in pinned:
        return False
    return not first_real_prog < m.closed_line

_TEARDOWN: frozenset[ActionKind] = frozenset({
    "close", "disable", "detach", "exit", "signal", "failure",
})
"""Actions of a loader that is giving up: releasing what it holds, failing, exiting."""

_PROGRESS: frozenset[ActionKind] = frozenset({
    "prog_load", "map_create", "btf_load", "create", "attach", "perf_open", "enable",
    "pin", "obj_get", "test_run",
})
"""Actions that show a loader getting on with its work."""

def mark_failures_that_end_loaders(actions: list[Action], failures: list[Failure],
                                   processes: dict[int | None, Process],
                                   threads: dict[int | None, int | None]) -> None:
    """A failure that ends the loader is its cause, whatever its shape.

    For each process that exited non-zero or was killed, the last failure after its
    last step forward (a load, a map, an attachment...) and before its exit is the
    reason it gave up, with the failures of the same call and errno just before it
    (three EPERM loads in a row).  Earlier failures in between keep what they were: a
    missing PMU file the loader then tried another way around is not the cause, the
    other way failing is.  A stop the user asked for (SIGINT, SIGTERM after that last
    step) is not giving up: what fails while shutting down is told, not blamed.

    A probe's failure the loader went on past (it kept working afterwards, not only
    closing fds and exiting) is never the cause: bpftrace always tries to read
    ``available_filter_functions`` and goes on without it, so when it later exits
    with a compile error (printed to stderr, which strace does not record) the log
    holds no cause, and the story says so rather than blaming the probe.  A probe's
    failure followed only by the loader tearing down is where it gave up (BCC's
    Python dies when the kprobe blacklist is missing).
    """
    for failure in failures:
        failure.ends_loader = False
    ended = {p.tgid: p for p in processes.values() if p.tgid == p.pid and p.gave_up()}
    if not ended:
        return
    last_progress: dict[int | None, int] = {}
    stopped: dict[int | None, int] = {}
    for action in actions:
        tgid = threads.get(action.pid, action.pid)
        if action.kind in _PROGRESS and not action.probe:
            last_progress[tgid] = action.line
        elif action.kind == "signal" and action.detail.get("signal") in USER_STOP:
            stopped[tgid] = action.line
    # Where each process last did anything but tear down (close fds, exit, fail).
    last_work: dict[tuple[int | None, int], int] = {}
    for action in actions:
        if action.kind not in _TEARDOWN:
            key = (threads.get(action.pid, action.pid), action.file)
            last_work[key] = max(last_work.get(key, 0), action.line)
    last: dict[int | None, list[Failure]] = {}
    for failure in failures:
        tgid = threads.get(failure.pid, failure.pid)
        proc = ended.get(tgid)
        if proc is None:
            continue
        after = last_progress.get(tgid, 0)
        if stopped.get(tgid, -1) > after:
            continue
        exit_line = proc.exit_line
        if failure.line > after and (exit_line is None or failure.line <= exit_line):
            last.setdefault(tgid, []).append(failure)
    for tgid, tail in last.items():
        # A probe the loader went on past had its answer; it is not where it gave up.
        candidates = [f for f in tail if not (
            f.probe and last_work.get((tgid, f.file), 0) > f.line)]
        if not candidates:
            continue
        final = max(candidates, key=lambda f: f.line)
        for failure in tail:
            # A probe before the final failure had a fallback, which was tried.
            if failure is final or (not failure.probe and (
                    failure.call, failure.errno, failure.file) == (
                    final.call, final.errno, final.file)):
                failure.ends_loader = True
                failure.probe = False
                if failure.why.endswith(TRIES_ANOTHER_WAY):
                    # It had no other way: this is where it gave up.
                    failure.why = failure.why[:-len(TRIES_ANOTHER_WAY)] + \
                        "the loader had no other way and gave up"


def looks_like_load_probe(attrs: dict[str, Any], first: dict[str, Any] | None = None) -> bool:
    """The shape of a probe's failed load: tiny, without BTF function info, and either
    unnamed (or named ``libbpf_*``) or named but first tried without a verifier log
    (libbpf-tools' ``fentry_can_attach`` loads a 2-instruction TRACING program
    ``test``; libbpf retries a refused load once with a log, which is the same
    attempt).  ``first`` is that first attempt when this load is its retry.  A named
    program whose first load already asked for a log (``bad_prog``) is the loader's.
    Only the shape: :func:`classify_probes` also asks what came next."""
    name = str(attrs.get("prog_name") or "")
    count = attrs.get("insn_cnt")
    if not (isinstance(count, int) and count <= 8) or has_func_info(attrs):
        return False
    if not name or name.startswith("libbpf_"):
        return True
    return not as_int((first or attrs).get("log_level"))


def _first_attempt(failures: list[Failure], index: int) -> dict[str, Any] | None:
    """The load this failed ``BPF_PROG_LOAD`` retries, if it is a retry: the failure just
    before it in the same process, of the same program (name, type, size)."""
    this = failures[index]
    for earlier in reversed(failures[:index]):
        if earlier.pid != this.pid or earlier.file != this.file:
            continue
        if earlier.call == "BPF_PROG_LOAD" and all(
                earlier.attrs.get(k) == this.attrs.get(k)
                for k in ("prog_name", "prog_type", "insn_cnt")):
            return earlier.attrs
        return None
    return None


def _tried_and_went_on(objects: list[Obj], failure: Failure) -> bool:
    """After a failed load the loader still made something: the failure steered it."""
    return any(o.line > failure.line and o.file == failure.file and o.pid == failure.pid
               and o.known and o.kind in ("prog", "map", "link", "perf_event")
               and not (o.kind == "prog" and looks_like_probe_prog(o.attrs))
               for o in objects)


def _load_probe(objects: list[Obj], failures: list[Failure], index: int) -> str | None:
    """What a failed ``BPF_PROG_LOAD`` tested, when it was a probe; None when it was not.

    Decided by shape and by what happened next, not by whether a verifier log was
    asked for: bpftrace loads 2-instruction unnamed KPROBE programs that call one
    helper, with ``log_level=1``, and reads the verifier's refusal (EACCES) to learn
    whether the helper exists.  A probe-shaped load is a probe when the loader went on
    to make its own objects afterwards, even when the kernel refused it with EPERM:
    the kernel refused that kind of program (fentry here), not the loader, which went
    on another way.  When nothing followed, the refusal is the loader's real problem.
    """
    failure = failures[index]
    attrs = failure.attrs
    if not looks_like_load_probe(attrs, _first_attempt(failures, index)):
        return None
    if not _tried_and_went_on(objects, failure):
        return None
    if as_int(attrs.get("log_level")) and attrs.get("prog_type") == "BPF_PROG_TYPE_KPROBE":
        return ("which helper functions the kernel offers (bpftrace loads a tiny program "
                "calling one and reads the verifier's answer)")
    if attrs.get("expected_attach_type") in ("BPF_TRACE_FENTRY", "BPF_TRACE_FEXIT"):
        return ("whether fentry/fexit programs can attach to the traced function (a tiny "
                "TRACING program aimed at it; when refused, the loader takes another way)")
    ptype = str(attrs.get("prog_type", ""))
    return "program loading of type " + kn.PROG_TYPE.short(ptype) if ptype else \
        "program loading"


_REFUSED_KIND = ("the kernel refused this kind of program here; other loads went through "
                 "afterwards, so bpf() itself is allowed (tracing programs also need "
                 "CAP_PERFMON, and a kernel may not support this attach type)")
"""Why a probe's load was refused with EPERM when the loader went on loading."""

_AFTER_LOADS = ("not allowed for this kind of program: this loader had loaded other "
                "programs before, so bpf() itself is allowed (tracing programs also need "
                "CAP_PERFMON, and a kernel may not support this attach type)")
"""What an EPERM load means after the same loader's programs loaded: it replaces the
generic "needs root" reading, which those earlier loads rule out."""


def _loaded_before(objects: list[Obj], failure: Failure) -> bool:
    """The same process loaded a program (a probe counts) before this failed load."""
    return any(o.kind == "prog" and o.known and o.via == "BPF_PROG_LOAD"
               and o.pid == failure.pid and o.file == failure.file and o.line < failure.line
               for o in objects)


def _named_and_kept(prog: Obj, failed: set[int]) -> bool:
    """A program with its own name that the loader keeps until it ends is the loader's,
    however small (a 2-instruction socket filter ``sock_keep``).  Probes are unnamed,
    named ``libbpf_*``, closed (or their fd reused) right after the test, or tried in
    an attachment the kernel refused (bpftrace's ``ksys_read`` kprobe_multi test)."""
    if not prog.name or prog.name.startswith("libbpf_") or id(prog) in failed:
        return False
    return prog.closed_line is None or prog.end in ("exit", "exec")


def classify_probes(objects: list[Obj], attachments: list[Attachment], pins: list[Pin],
                    failures: list[Failure]) -> None:
    """Mark feature probes (and say what each tested); safe to run more than once."""
    pinned = {id(p.obj) for p in pins if p.obj is not None}
    failed = {id(f.subject) for f in failures if f.subject is not None}
    for obj in objects:
        if obj.kind == "prog":
            # A test run is how bpftrace runs BEGIN/END, but also how it checks
            # that test runs work: an unnamed do-nothing program is the check.
            # Named and used beats small: a program that is attached, pinned or run
            # by name is the loader's own, however few its instructions.
            obj.probe = (not obj.attachments and id(obj) not in pinned
                         and (not obj.test_runs or not obj.name)
                         and not _named_and_kept(obj, failed)
                         and looks_like_probe_prog(obj.attrs))
            if obj.probe:
                obj.feature = _prog_feature(obj)
    used_btf = {id(o.btf) for o in objects if o.btf is not None and not o.probe}
    # Indexes, not scans: a loader with tens of thousands of maps must not cost
    # maps x objects here (issue 12).
    users_of: dict[int, list[Obj]] = {}
    progs_of_link: dict[int, list[Obj]] = {}
    first_real_prog = float("inf")
    for obj in objects:
        if obj.kind == "prog":
            for used in obj.maps:
                users_of.setdefault(id(used), []).append(obj)
            if obj.known and not looks_like_probe_prog(obj.attrs):
                first_real_prog = min(first_real_prog, obj.line)
    for att in attachments:
        if att.link is not None:
            progs_of_link.setdefault(id(att.link), []).append(att.prog)
    for obj in objects:
        if obj.kind == "map":
            users = users_of.get(id(obj), [])
            obj.probe = obj.name.startswith("libbpf_") or (
                bool(users) and all(p.probe for p in users) and not obj.ops
            ) or _map_tried_and_dropped(pinned, first_real_prog, obj)
            if obj.probe:
                obj.feature = _MAP_FEATURES.get(
                    obj.name, "map names" if obj.name == "feature_test" else "map features")
        elif obj.kind == "btf":
            if id(obj) in used_btf:
                obj.probe = False
            elif obj.via == "BPF_BTF_GET_FD_BY_ID":
                obj.probe = True
                obj.feature = "reading the kernel's own type information (vmlinux BTF)"
            else:
                size = obj.attrs.get("btf_size")
                obj.probe = isinstance(size, int) and size < 256
        elif obj.kind == "link":
            progs = progs_of_link.get(id(obj), [])
            obj.probe = bool(progs) and all(p.probe for p in progs)
        elif obj.kind == "perf_event":
            progs = [a.prog for a in obj.attachments]
            obj.probe = bool(progs) and all(p.probe for p in progs)
    for index, failure in enumerate(failures):
        subject = failure.subject
        if failure.ends_loader:
            failure.probe = False  # the cause of the loader giving up, whatever its shape
            continue
        retry = _retried_after_enospc(objects, failure)
        if retry is not None:
            failure.probe = True
            if "retried with a bigger buffer" not in failure.why:
                failure.why += f"; the loader retried with a bigger buffer (L{retry.line})"
            continue
        if failure.call == "BPF_PROG_LOAD" and subject is None:
            feature = _load_probe(objects, failures, index)
            if feature is not None:
                failure.probe = True
                failure.feature = feature
                if failure.errno == "EPERM":
                    # Not "needs root": the loader went on loading its own programs.
                    failure.why = _REFUSED_KIND
                continue
        if failure.errno == "EPERM" and failure.call != "openat":
            # Not even allowed to probe: that is the user's real problem.
            failure.probe = False
            if failure.call == "BPF_PROG_LOAD" and _loaded_before(objects, failure):
                failure.why = _AFTER_LOADS
        elif subject is not None and subject.kind == "prog" and subject.probe:
            failure.probe = True
            if failure.call == "BPF_LINK_CREATE":
                subject.feature = link_probe_feature(failure)

