"""Explanation: turn a Lifecycle into a Story of phases and steps.

No rich here and no printing: a story is data (text spans with semantic style names,
line references, a graph) that each renderer lays out its own way.  Strings from the
log (program and map names, paths, verifier logs) stay untouched here; renderers
escape them.

Detail levels:

* ``brief``: the headline, the graph and what went wrong;
* ``default``: phases with steps, repetition grouped (never hidden: counts and line
  ranges are given), feature probes folded into one summary;
* ``verbose``: every action its own step, probes unfolded.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import chain, islice, repeat
from operator import lt
from typing import Any, TypedDict

from bpfexplain import glossary, routes
from bpfexplain.plain import Frozen, init_field
from bpfexplain.story_words import Span, Spans, existing_id, fd_span, name_spans
from bpfexplain.story_words import short as _short
from bpfexplain.tracking import (
    KIND_NOUN,
    Action,
    Attachment,
    Failure,
    Lifecycle,
    Obj,
    Process,
    looks_like_probe_prog,
)
from bpfexplain.tracking.naming import (
    ATTACH_TARGET,
    ATTACH_TARGET_SOURCE,
    NAME_HINT,
    NOT_LOOKED_UP,
)
from bpfexplain.tracking.records import each_call

DETAILS = ("brief", "default", "verbose")

_ATTACH_CALLS = routes.attach_calls()
"""Calls whose failures are told among the attach steps (each route names its own)."""

PHASES: dict[str, str] = {
    "start": "Starting",
    "features": "Checking what this kernel supports",
    "query": "Looking up existing eBPF objects",
    "btf": "Loading type information (BTF)",
    "maps": "Creating maps",
    "output": "Opening the output channel",
    "load": "Loading programs",
    "attach": "Attaching programs to events",
    "pin": "Pinning objects to the BPF filesystem",
    "open_pin": "Opening pinned objects",
    "run": "Running",
    "results": "Reading the results",
    "teardown": "Tearing down",
    "exit": "Exit",
}


class Step(Frozen):
    __slots__ = _fields = ("lines", "text", "kind", "probe", "file", "extra", "files")

    lines: tuple[int, ...]
    text: Spans
    kind: str
    probe: bool
    file: int
    """The input file of the step's lines (``strace -ff`` writes one file per process)."""
    extra: tuple[str, ...]
    """Further lines of literal log text (a verifier log), shown under the step."""
    files: tuple[int, ...]
    """The file of each line, when they are not all in :attr:`file`: a grouped step of a
    process whose threads ``strace -ff`` wrote to files of their own."""

    def __init__(self, lines: tuple[int, ...], text: Spans, kind: str, probe: bool = False,
                 file: int = 0, extra: tuple[str, ...] = (), files: tuple[int, ...] = ()) -> None:
        init_field(self, "lines", lines)
        init_field(self, "text", text)
        init_field(self, "kind", kind)
        init_field(self, "probe", probe)
        init_field(self, "file", file)
        init_field(self, "extra", extra)
        init_field(self, "files", files)

    @property
    def refs(self) -> tuple[tuple[int, int], ...]:
        """(file, line) of each of the step's lines."""
        if self.files:
            return tuple(zip(self.files, self.lines, strict=True))
        return tuple((self.file, n) for n in self.lines)


class Phase(Frozen):
    __slots__ = _fields = ("key", "title", "steps", "intro")

    key: str
    title: str
    steps: tuple[Step, ...]
    intro: tuple[str, ...]
    """Plain-language explanations of concepts met here for the first time."""

    def __init__(self, key: str, title: str, steps: tuple[Step, ...],
                 intro: tuple[str, ...] = ()) -> None:
        init_field(self, "key", key)
        init_field(self, "title", title)
        init_field(self, "steps", steps)
        init_field(self, "intro", intro)

    @property
    def lines(self) -> tuple[int, ...]:
        # set().union in C: a map walk's step cites every one of its calls
        return tuple(sorted(set().union(*(s.lines for s in self.steps))))


class Section(Frozen):
    """The phases of one process (there is one section when one process did it all)."""

    __slots__ = _fields = ("pid", "title", "phases")

    pid: int | None
    title: Spans
    phases: tuple[Phase, ...]

    def __init__(self, pid: int | None, title: Spans, phases: tuple[Phase, ...]) -> None:
        init_field(self, "pid", pid)
        init_field(self, "title", title)
        init_field(self, "phases", phases)


class Node(Frozen):
    __slots__ = _fields = ("label", "children")

    label: Spans
    children: tuple[Node, ...]

    def __init__(self, label: Spans, children: tuple[Node, ...] = ()) -> None:
        init_field(self, "label", label)
        init_field(self, "children", children)


class Problem(Frozen):
    __slots__ = _fields = ("lines", "text", "why", "detail", "probe", "files")

    lines: tuple[int, ...]
    text: Spans
    why: str
    detail: tuple[str, ...]
    probe: bool
    files: tuple[int, ...]
    """The input file of each line (``strace -ff``: one file per process or thread)."""

    def __init__(self, lines: tuple[int, ...], text: Spans, why: str, detail: tuple[str, ...] = (),
                 probe: bool = False, files: tuple[int, ...] = ()) -> None:
        init_field(self, "lines", lines)
        init_field(self, "text", text)
        init_field(self, "why", why)
        init_field(self, "detail", detail)
        init_field(self, "probe", probe)
        init_field(self, "files", files)

    @property
    def refs(self) -> tuple[tuple[int, int], ...]:
        """(file, line) of each of the problem's lines."""
        files = self.files or (0,) * len(self.lines)
        return tuple(zip(files, self.lines, strict=True))


class Story(Frozen):
    __slots__ = _fields = ("headline", "sections", "graph", "problems", "footer", "detail",
                           "lifecycle", "terms")
    _uncompared = frozenset({"lifecycle"})
    _unshown = frozenset({"lifecycle"})

    headline: Spans
    sections: tuple[Section, ...]
    graph: tuple[Node, ...]
    problems: tuple[Problem, ...]
    footer: tuple[str, ...]
    detail: str
    lifecycle: Lifecycle
    terms: tuple[str, ...]
    """Glossary terms the story used, in order of first use (for handouts)."""

    def __init__(self, headline: Spans, sections: tuple[Section, ...], graph: tuple[Node, ...],
                 problems: tuple[Problem, ...], footer: tuple[str, ...], detail: str,
                 lifecycle: Lifecycle, terms: tuple[str, ...] = ()) -> None:
        init_field(self, "headline", headline)
        init_field(self, "sections", sections)
        init_field(self, "graph", graph)
        init_field(self, "problems", problems)
        init_field(self, "footer", footer)
        init_field(self, "detail", detail)
        init_field(self, "lifecycle", lifecycle)
        init_field(self, "terms", terms)


# --------------------------------------------------------------------------------
# small text helpers


def cite(lines: Iterable[int]) -> str:
    """``L27``, ``L19-21``, ``L1-16, 25-26``: compact line references."""
    given = lines if isinstance(lines, (list, tuple)) else list(lines)
    # Steps' lines come in log order: checked in C, cheaper than sorting them again
    # (a map walk cites every one of its calls).
    ordered = given if all(map(lt, given, islice(given, 1, None))) else sorted(set(given))
    if not ordered:
        return ""
    ranges: list[tuple[int, int]] = []
    start = prev = ordered[0]
    for n in ordered[1:]:
        if n == prev + 1:
            prev = n
            continue
        ranges.append((start, prev))
        start = prev = n
    ranges.append((start, prev))
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in ranges]
    if len(parts) > 4:
        parts = [*parts[:3], "…", parts[-1]]
    return "L" + ", ".join(parts)


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


# --------------------------------------------------------------------------------
# the builder


class _Builder:
    def __init__(self, lc: Lifecycle, detail: str):
        self.lc = lc
        self.detail = detail
        self.verbose = detail == "verbose"
        self.terms: list[str] = []
        self._introduced: set[str] = set()

    # concepts

    def concept(self, term: str) -> str | None:
        """The glossary's words for a term, the first time the story needs it."""
        if term in self._introduced:
            return None
        entry = glossary.lookup(term)
        if entry is None:
            return None
        self._introduced.add(term)
        self.terms.append(entry.term)
        return entry.summary

    def use(self, term: str) -> None:
        entry = glossary.lookup(term)
        if entry is not None and entry.term not in self.terms:
            self.terms.append(entry.term)

    # phases

    def phase_of(self, action: Action, stop_line: int | None) -> str:
        kind = action.kind
        obj = action.obj
        after_stop = stop_line is not None and action.line > stop_line
        if action.probe:
            return "features"
        if kind in ("fork", "exec"):
            return "start"
        if kind == "failure":
            failure = action.failure
            assert failure is not None
            call = failure.call
            if call == "BPF_PROG_LOAD":
                return "load"
            if call in ("BPF_MAP_CREATE",):
                return "maps"
            if call in _ATTACH_CALLS:
                return "attach"
            if call.startswith("BPF_MAP_"):
                if failure.expected and action.obj is not None and action.obj.kind == "map":
                    # The ENOENT that ends a walk (or finds no key) belongs with the
                    # walk, in the phase its map reads are in.
                    return "results" if after_stop else "run"
                return "results" if after_stop else "maps"
            if call == "BPF_OBJ_PIN":
                return "pin"
            if call == "BPF_OBJ_GET":
                return "open_pin"
            if call == "BPF_TASK_FD_QUERY":
                return "query"  # a question about another process's fd, not a feature
            if call == "openat" and self._real_before(action.line):
                # A tracing file (kprobe_events, the kprobe blacklist) the loader
                # needed for its programs' events, once it has objects of its own.
                return "attach"
            return "features" if not self._real_before(action.line) else "query"
        if kind == "next_id" and action.detail.get("cmd") == "BPF_BTF_GET_NEXT_ID":
            return "features"  # walking BTF ids: looking for the kernel's own BTF
        if kind in ("reopen", "info", "next_id", "bpf", "create"):
            if obj is not None and obj.kind in ("map", "prog", "link") and kind == "create":
                return {"map": "maps", "prog": "load", "link": "attach"}[obj.kind]
            if kind == "info" and obj is not None and obj.kind in ("prog", "map", "btf") \
                    and obj.via not in ("BPF_PROG_GET_FD_BY_ID", "BPF_MAP_GET_FD_BY_ID",
                                        "BPF_BTF_GET_FD_BY_ID", "(before the trace)"):
                return {"prog": "load", "map": "maps", "btf": "btf"}[obj.kind]
            return "query"
        if kind == "btf_load":
            return "btf"
        if kind == "map_create":
            return "maps"
        if kind in ("prog_load", "bind_map"):
            return "load"
        if kind == "perf_open":
            assert obj is not None
            if obj.attrs.get("config") == "PERF_COUNT_SW_BPF_OUTPUT":
                return "output"
            return "attach"
        if kind == "mmap":
            return "output"
        if kind == "map_op":
            if action.detail.get("perf") is not None:
                return "output"
            if after_stop:
                return "results"
            op = action.detail.get("op", "")
            return "maps" if op in ("UPDATE_ELEM", "FREEZE", "UPDATE_BATCH") \
                and not self._attached_before(action.line) else "run"
        if kind == "enable":
            assert obj is not None
            if obj.attrs.get("config") == "PERF_COUNT_SW_BPF_OUTPUT":
                return "output"
            return "attach"
        if kind in ("attach", "qdisc"):
            return "attach"
        if kind == "pin":
            return "pin"
        if kind == "obj_get":
            # Opening an existing pin (BPF_OBJ_GET) is not pinning anything.
            return "open_pin"
        if kind in ("signal", "test_run"):
            return "run"
        if kind in ("disable", "close", "detach", "dup"):
            return "teardown" if after_stop or kind != "dup" else "load"
        if kind == "exit":
            return "exit"
        return "run"

    def _real_before(self, line: int) -> bool:
        return any(not o.probe and o.known and o.line < line and o.kind in ("prog", "map")
                   for o in self.lc.objects)

    def _attached_before(self, line: int) -> bool:
        return any(a.line < line for a in self.lc.attachments)

    # steps

    def step_text(self, action: Action) -> tuple[Spans, tuple[str, ...]]:
        kind = action.kind
        obj = action.obj
        d = action.detail
        if kind == "prog_load" and obj is not None:
            attrs = obj.attrs
            count = attrs.get("insn_cnt")
            spans: list[Span] = [*name_spans(obj), (", type ", None),
                                 (_short(attrs.get("prog_type")), "bpf.type"),
                                 *_btf_target_spans(attrs)]
            if count is not None:
                spans.append((f", {plural(count, 'instruction')}", None))
            spans += [(" → ", None), fd_span(obj.fd), *self.reuse_note(obj)]
            if obj.deep.get("prog_id") is not None:
                spans.append((f" (kernel id {obj.deep['prog_id']}: bpftool prog show id "
                               f"{obj.deep['prog_id']})", None))
            if obj.maps:
                spans += [("; uses ", None), *_join([name_spans(m) for m in obj.maps])]
            return tuple(spans), self._deep_extra(obj)
        if kind == "map_create" and obj is not None:
            a = obj.attrs
            spans = [*name_spans(obj), (" ", None), (_short(a.get("map_type")), "bpf.type")]
            if a.get("key_size") or a.get("value_size"):
                spans.append((f", key {a.get('key_size')} B → value {a.get('value_size')} B",
                              None))
            if a.get("max_entries") is not None:
                spans.append((f", {plural(a['max_entries'], 'entry', 'entries')}", None))
            spans += [(" → ", None), fd_span(obj.fd), *self.reuse_note(obj)]
            return tuple(spans), ()
        if kind == "btf_load" and obj is not None:
            size = obj.attrs.get("btf_size")
            return ((f"type information (BTF, {size} bytes) → ", None), fd_span(obj.fd)), ()
        if kind == "perf_open" and obj is not None:
            return self._perf_open_text(obj), ()
        if kind == "attach" and action.attachment is not None:
            return self._attach_text(action.attachment), ()
        route = d.get("route")
        if isinstance(route, str):
            step = routes.by_name(route).step
            if step is not None:
                return step(action), ()
        if kind in ("enable", "disable") and obj is not None:
            verb = "switched on" if kind == "enable" else "switched off"
            ioctl = "PERF_EVENT_IOC_ENABLE" if kind == "enable" else "PERF_EVENT_IOC_DISABLE"
            spans = [(f"ioctl({obj.fd}, {ioctl}): ", None), *name_spans(obj),
                     (f" is {verb}", None)]
            if kind == "enable" and obj.attachments:
                spans.append(("; its program now runs each time the event fires", None))
            return tuple(spans), ()
        if kind == "map_op" and obj is not None:
            op = d.get("op", "")
            perf = d.get("perf")
            if perf is not None:
                how = " (inferred: strace shows only pointers)" if d.get("inferred") else ""
                return (("stored ", None), *name_spans(perf), (f" (fd {perf.fd}) in ", None),
                        *name_spans(obj), (how, "dim")), ()
            return ((f"{op} on ", None), *name_spans(obj)), ()
        if kind == "close" and obj is not None:
            return (("closed ", None), fd_span(obj.fd), (": ", None),
                    *name_spans(obj), (self._close_note(obj), None)), ()
        if kind == "failure" and action.failure is not None:
            f = action.failure
            target = _btf_target_spans(f.attrs)
            named: Spans = ()
            if target and f.attrs.get("prog_name"):
                named = ((" for program ", None), (f'"{f.attrs["prog_name"]}"', "bpf.prog"),
                         *target)
            return ((f"{f.call} failed with ", None), (f.errno, "errno"), *named, (": ", None),
                    (f.why, None)), self._failure_detail(f)
        if kind == "test_run" and obj is not None:
            return (("ran ", None), *name_spans(obj),
                    (" once with BPF_PROG_TEST_RUN", None),
                    (f" (it returned {d.get('retval')})" if d.get("retval") is not None
                     else "", None)), ()
        if kind == "signal":
            sender = (d.get("info") or {}).get("si_pid")
            src = f" from pid {sender}" if sender else ""
            return ((d.get("signal", "signal"), "signal"), (f" arrived{src}", None)), ()
        if kind == "exit":
            if d.get("signal"):
                return (("killed by ", None), (str(d["signal"]), "signal")), ()
            return ((f"exited with status {d.get('code')}", None),), ()
        if kind == "mmap" and obj is not None:
            return (("mapped ", None), (f"{d.get('size', 0):,} bytes", None),
                    (" of ", None), *name_spans(obj), (" into memory", None)), ()
        if kind == "pin":
            target = name_spans(obj) if obj is not None else (("an object", None),)
            return (("pinned ", None), *target, (" at ", None),
                    (str(d.get("path")), "path")), ()
        if kind == "obj_get" and obj is not None:
            return (("opened the pinned object at ", None), (str(d.get("path")), "path"),
                    (" → ", None), fd_span(obj.fd)), ()
        if kind == "reopen" and obj is not None:
            ident = next(iter(obj.attrs.values()), None)
            return ((f"{d.get('cmd')}: opened existing {obj.kind} id {ident} → ", None),
                    fd_span(obj.fd)), ()
        if kind == "next_id":
            return ((f"{d.get('cmd')}: next id {d.get('next_id')}", None),), ()
        if kind == "bpf" and d.get("cmd") == "BPF_TASK_FD_QUERY":
            found: list[Span] = [(f"BPF_TASK_FD_QUERY: fd {d.get('fd')} of pid "
                                  f"{d.get('pid')} runs program id {d.get('prog_id')}", None)]
            if d.get("name"):
                found += [(" on ", None), (str(d["name"]), "bpf.point")]
            if d.get("fd_type"):
                found.append((f" ({_short(d['fd_type'])})", "dim"))
            return tuple(found), ()
        if kind == "info" and obj is not None:
            return (("asked the kernel for information on ", None), *name_spans(obj)), ()
        if kind == "bind_map":
            if obj is not None and action.other is not None:
                return (("bound ", None), *name_spans(action.other), (" to ", None),
                        *name_spans(obj)), ()
            return (("BPF_PROG_BIND_MAP: bound a map to a program (this strace prints only "
                     "a pointer, so which ones is not shown)", None),), ()
        if kind == "fork":
            return ((f"started process {d.get('child')}", None),), ()
        if kind == "exec":
            argv = " ".join(d.get("argv") or []) or str(d.get("command"))
            return (("runs ", None), (argv, "path")), ()
        if kind == "dup" and obj is not None:
            return ((f"duplicated fd {d.get('old')} as fd {d.get('new')}: ", None),
                    *name_spans(obj)), ()
        if kind == "detach":
            return (("detached ", None), *(name_spans(obj) if obj else (("a program", None),))), ()
        cmd = d.get("cmd") or kind
        tail: Spans = ((" on ", None), *name_spans(obj)) if obj is not None else ()
        return ((str(cmd), None), *tail), ()

    DISASM_SHOWN = 24
    """Instructions shown per program unless --verbose (execsnoop's has 1,935)."""

    def _deep_extra(self, prog: Obj) -> tuple[str, ...]:
        """What --deep read: the instructions, then the verifier's log, bounded."""
        lines: list[str] = []
        disasm = prog.deep.get("disasm") or []
        if disasm:
            shown = disasm if self.verbose else disasm[:self.DISASM_SHOWN]
            count = prog.attrs.get("insn_cnt") or len(disasm)
            lines.append(f"its {count} instructions, read from the loader's memory "
                         "(as bpftool prints them; a 64-bit load takes two):")
            lines += [str(line) for line in shown]
            if len(shown) < len(disasm):
                lines.append(f"… {len(disasm) - len(shown)} more (--verbose shows all)")
        log = str(prog.deep.get("verifier_log") or "")
        if log:
            log_lines = log.splitlines()
            if self.verbose:
                lines.append("verifier log:")
                lines += log_lines
            else:
                lines.append(f"verifier log: {plural(len(log_lines), 'line')} "
                             "(--verbose shows it)")
        return tuple(lines)

    def _close_note(self, obj: Obj) -> str:
        if obj.refs > 0:
            return " (another fd still holds it)"
        held = [a for a in obj.attachments if a.target is obj]
        if held and all(outlives(a, self.lc) for a in held):
            return f" (the {KIND_NOUN.get(obj.kind, obj.kind)} keeps its program attached)"
        if held and obj.kind == "socket":
            return " (its program goes with it)"
        if obj.kind == "prog" and any(a.prog is obj and a.ended_line is None
                                      and outlives(a, self.lc) for a in obj.attachments):
            return " (its attachment keeps the program loaded)"
        live = [a for a in obj.attachments if a.prog is obj and _holder_open_after(a, obj)]
        if obj.kind == "prog" and live:
            return " (its attachment keeps the program in the kernel until that is released)"
        return ""

    def reuse_note(self, obj: Obj) -> Spans:
        """``(fd 8 was the kprobe_multi test program's number...)``: fds are reused."""
        prev = obj.previous
        if prev is None or obj.fd is None or prev.closed_line is None:
            return ()
        what: Spans = name_spans(prev) if not prev.probe else (
            (f"a feature-test {KIND_NOUN.get(prev.kind, prev.kind)}", None),)
        if prev.end == "reused" and prev.closed_line == obj.line:
            # The trace did not include close(): the number coming back is the proof.
            return ((f" (fd {obj.fd} was ", "dim"), *[(t, "dim") for t, _ in what],
                     (" before; the log shows no close, but the kernel hands out a number "
                      "again only once it is free, so that one was released)", "dim"))
        return ((f" (fd {obj.fd} was ", "dim"), *[(t, "dim") for t, _ in what],
                (f" before, released L{prev.closed_line})", "dim"))

    def _failure_detail(self, f: Failure) -> tuple[str, ...]:
        if not f.detail:
            return ()
        lines = f.detail.splitlines()
        return tuple(lines if self.verbose or not f.probe else lines[:12])

    def _perf_open_text(self, obj: Obj) -> Spans:
        spans = list(self._perf_open_what(obj))
        a = obj.attrs
        cpu = a.get("cpu")
        where = "any CPU" if cpu == -1 else f"cpu {cpu}"
        spans += [(f", {where}) → ", None), fd_span(obj.fd), *self.reuse_note(obj)]
        if obj.attach_point in ("uprobe", "uretprobe", "usdt", "kprobe", "kretprobe") \
                and not a.get("file"):
            hint = obj.attrs.get("likely_target")
            spans.append(("; strace shows only a pointer to the probed function", "dim"))
            if hint:
                spans += [(" (the loader had just opened ", "dim"), (str(hint), "path"),
                          (" to look up its symbols)", "dim")]
            spans.append(("; --deep reads it", "dim"))
        return tuple(spans)

    def _perf_open_what(self, obj: Obj) -> Spans:
        """``perf_event_open(TRACEPOINT id 443 = raw_syscalls:sys_enter, all processes``:
        the event and whom it watches, without the CPU and the fd (which vary per CPU)."""
        a = obj.attrs
        spans: list[Span] = [("perf_event_open(", None)]
        ptype = a.get("type")
        config = a.get("config")
        if ptype == "PERF_TYPE_TRACEPOINT":
            spans.append((f"TRACEPOINT id {config}", None))
            if obj.attach_point:
                spans += [(" = ", None), (obj.attach_point.split(":", 1)[1], "bpf.point")]
                if obj.attach_source == "local":
                    spans.append((" (name resolved on this machine)", "dim"))
            else:
                spans += _unnamed_note(obj, "give --tracepoint-ids")
        elif isinstance(ptype, int):
            spans.append((f"dynamic PMU type {ptype}", None))
            if obj.attach_point:
                spans += [(" = ", None), (obj.attach_point, "bpf.point")]
            if isinstance(a.get("offset"), int) and a.get("file"):
                # The file and offset are the facts; a symbol is this machine's reading.
                read = " (read from that file on this machine)" \
                    if obj.attach_source == "local" else ""
                spans += [(f" at offset {a['offset']:#x} of ", None), (str(a["file"]), "path"),
                          (read, "dim")]
                if obj.attach_source != "local":
                    spans += _unnamed_note(obj, None)

        else:
            spans.append((f"{_short(ptype)} {_short(config)}", None))
            if config in ("PERF_COUNT_SW_CPU_CLOCK", "PERF_COUNT_SW_TASK_CLOCK"):
                spans.append((_clock_gloss(a), "dim"))
        pid = a.get("pid")
        spans.append((", all processes" if pid == -1 else f", pid {pid}", None))
        return tuple(spans)

    def _attach_text(self, att: Attachment) -> Spans:
        spans = routes.for_via(att.via).sentence(att)
        holder = att.link if att.link is not None else att.target
        if holder is None or holder.kind == "perf_event" or (
                att.target is not None and att.target.kind == "perf_event"):
            # The perf_event_open step tells how its event was named (a uprobe's symbol
            # from the binary's ELF, a tracepoint id from tracefs), also when a link
            # (BPF_LINK_CREATE of a perf event, as libbpf does) holds the attachment.
            return spans
        if holder.attach_source == "local" and att.attach_point:
            return (*spans, (" (name read from this machine's vmlinux BTF)", "dim"))
        return (*spans, *_unnamed_note(holder, None))

    # grouping

    def steps_for(self, key: str, actions: list[Action]) -> tuple[list[Step], list[str]]:
        """Steps of one phase, with repetition grouped unless verbose."""
        intro: list[str] = []
        steps: list[Step] = []
        if self.verbose:
            actions = each_call(actions)  # every call its own step
        if key == "features" and not self.verbose:
            return self._features_summary(actions), self._intro(key, actions)
        if key == "output" and not self.verbose:
            grouped = self._output_group(actions)
            if grouped is not None:
                return grouped, self._intro(key, actions)
        if key == "results" and not self.verbose:
            return self._results_group(actions), self._intro(key, actions)
        intro = self._intro(key, actions)
        if key == "query" and not self.verbose:
            answers, actions = self._task_fd_answers(actions)
            steps.extend(answers)
        if key == "attach" and not self.verbose:
            per_cpu, actions = self._per_cpu_attach(actions)
            steps.extend(per_cpu)
        run: list[Action] = []

        def flush() -> None:
            if not run:
                return
            if sum(a.calls for a in run) > 2 and not self.verbose:
                steps.append(self._group(run))
            else:
                for a in each_call(run):
                    text, extra = self.step_text(a)
                    steps.append(Step(_action_lines(a), text, a.kind, a.probe, a.file, extra))
            run.clear()

        for action in actions:
            if run and not _same_group(run[-1], action):
                flush()
            run.append(action)
        flush()
        ordered = _in_log_order(steps)
        if key == "exit":
            # After the exit: what the kernel still runs, and how to remove it.
            ordered += self._remains(actions)
        return ordered, intro

    def _remains(self, actions: list[Action]) -> list[Step]:
        """After the loader's exit: what the kernel still runs, and how to remove it."""
        exits = [a for a in actions if a.kind == "exit"]
        if not exits:
            return []
        pid = self._tgid(exits[0].pid)
        proc = self.lc.processes.get(pid)
        who = proc.command if proc is not None and proc.command else "the loader"
        steps: list[Step] = []
        for att in self.lc.attachments:
            if att.ended_line is not None or att.probe or not outlives(att, self.lc) \
                    or self._tgid(att.prog.pid) != pid:
                continue
            text: list[Span] = [*name_spans(att.prog), (" is still attached to ", None),
                                (att.attach_point or "its event", "bpf.point"),
                                (f" after {who} exited (attached L{att.line})", None)]
            pin = next((p for p in self.lc.pins if att.link is not None
                        and p.obj is att.link and p.via == "BPF_OBJ_PIN"), None)
            hint = f"rm {pin.path}" if pin is not None else \
                routes.for_via(att.via).remove_hint(att)
            if pin is not None:
                text.append((f": the pin {pin.path} holds its link", None))
            if hint:
                text.append((f"; remove it with `{hint}`", None))
            steps.append(Step((), tuple(text), "remains", False, att.file))
        return steps

    def _per_cpu_attach(self, actions: list[Action]) -> tuple[list[Step], list[Action]]:
        """One event opened on every CPU (profile, perf counters): told once, per CPU listed.

        Returns the grouped steps and the actions left to tell one by one.
        """
        actions = each_call(actions)
        families: dict[tuple[Any, ...], list[Obj]] = defaultdict(list)
        for a in actions:
            if a.kind == "perf_open" and a.obj is not None:
                attrs = {k: v for k, v in a.obj.attrs.items() if k != "cpu"}
                families[tuple(sorted((k, repr(v)) for k, v in attrs.items()))].append(a.obj)
        steps: list[Step] = []
        told: set[int] = set()
        for perfs in families.values():
            cpus = [p.attrs.get("cpu") for p in perfs]
            if len(perfs) < 2 or len(set(cpus)) != len(cpus) or -1 in cpus:
                continue
            members = {id(p) for p in perfs}
            mine = [a for a in actions if (a.obj is not None and id(a.obj) in members) or (
                a.attachment is not None and a.attachment.target is not None
                and id(a.attachment.target) in members)]
            told.update(id(a) for a in mine)
            opened = (*self._perf_open_what(perfs[0]), (")", None))
            progs = {a.attachment.prog.id: a.attachment for a in mine
                     if a.attachment is not None}
            head: list[Span] = [(f"On each of {plural(len(perfs), 'CPU')}: ", None), *opened]
            for att in progs.values():
                head += [("; ", None), (att.via, None), (": ", None), *name_spans(att.prog)]
            if any(a.kind == "enable" for a in mine):
                head.append(("; PERF_EVENT_IOC_ENABLE switches each one on", None))
            per: list[Span] = []
            for perf in perfs:
                lines = [a.line for a in mine if a.obj is perf or (
                    a.attachment is not None and a.attachment.target is perf)]
                if per:
                    per.append((" · ", None))
                per += [(f"{cite(lines)} cpu {perf.attrs.get('cpu')} → ", None),
                        fd_span(perf.fd)]
            steps.append(Step(tuple(a.line for a in mine), tuple(head), "attach",
                              **_placed(mine)))
            steps.append(Step((), tuple(per), "attach"))
        return steps, [a for a in actions if id(a) not in told]

    def _group(self, run: list[Action]) -> Step:
        first = run[0]
        lines = _lines_of(run)
        kind = first.kind
        objs = [a.obj for a in run if a.obj is not None]
        where = _placed(run)
        if kind == "close":
            kinds = Counter(o.kind for o in objs)
            what = ", ".join(plural(n, {"prog": "program", "map": "map", "btf": "BTF object",
                                        "perf_event": "perf event", "link": "link"}
                                    .get(k, k + " fd")) for k, n in kinds.items())
            return Step(lines, ((f"closed {len(run)} fds ({what}): ", None),
                                (", ".join(str(o.fd) for o in objs), "fd")), kind, **where)
        if kind == "disable":
            return Step(lines, ((f"switched off {plural(len(run), 'perf event')} with "
                                 "PERF_EVENT_IOC_DISABLE: fds ", None),
                                (", ".join(str(o.fd) for o in objs), "fd")), kind, **where)
        if all(_walk_map(a) is not None for a in run):
            ops = _ops_of([a for a in run if a.kind == "map_op"])
            ends = [a.failure for a in run if a.failure is not None]
            for f in ends:
                ops[f.call.replace("BPF_MAP_", "")] += 1
            walk: list[Span] = [(", ".join(f"{n} {op}" for op, n in ops.items()) + " on ",
                                 None), *name_spans(objs[0])]
            if ends:
                walk.append((f" ({plural(len(ends), 'ENOENT')}, normal: no more keys, or a "
                             "key not in the map)", "dim"))
            return Step(lines, tuple(walk), "map_op", **where)
        if kind == "info" and objs:
            return Step(lines, ((f"asked the kernel {len(run)} times for information on ",
                                 None), *name_spans(objs[0]),
                                (" (BPF_OBJ_GET_INFO_BY_FD)", None)), kind, **where)
        if kind == "failure" and first.failure is not None:
            f = first.failure
            return Step(lines, ((f"{f.call} failed with ", None), (f.errno, "errno"),
                                (f" ({len(run)} times): ", None), (f.why, None)), kind,
                        first.probe, **where)
        # anything else: the first one told, the rest counted
        text, extra = self.step_text(first)
        return Step(lines, (*text, (f" (and {len(run) - 1} more like it)", "dim")), kind,
                    first.probe, extra=extra, **where)

    def _features_summary(self, actions: list[Action]) -> list[Step]:
        actions = each_call(actions)
        probes = [a for a in actions if a.obj is not None and a.obj.probe
                  and a.kind in ("prog_load", "map_create", "btf_load", "reopen")]
        failures = [a for a in actions if a.kind == "failure"]
        lines = tuple(a.line for a in actions)
        features: list[str] = []
        seen: set[str] = set()
        for a in probes + failures:
            feature = a.obj.feature if a.obj is not None else None
            if a.failure is not None and a.failure.probe:
                feature = a.failure.feature or feature
            if feature and feature not in seen:
                seen.add(feature)
                features.append(feature)
        counts = Counter(a.obj.kind for a in probes if a.obj is not None)
        made = ", ".join(plural(n, {"prog": "test program", "map": "test map",
                                    "btf": "BTF object"}.get(k, k)) for k, n in counts.items())
        steps: list[Step] = []
        text: list[Span] = [(f"{plural(len(actions), 'call')}", None)]
        if made:
            text.append((f": {made}, made only to test the kernel and then released", None))
        steps.append(Step(lines, tuple(text), "probes", True, **_placed(actions)))
        if features:
            steps.append(Step((), (("checked: " + "; ".join(features), None),), "probes", True))
        for a in failures:
            f = a.failure
            assert f is not None
            if f.expected and not self.verbose:
                continue
            if f.probe:
                steps.append(Step((a.line,), ((f"{f.call} failed with ", None),
                                              (f.errno, "errno"),
                                              (", as a test may: " + f.why, None)),
                                  "failure", True, a.file))
            else:
                text2, extra = self.step_text(a)
                steps.append(Step((a.line,), text2, "failure", False, a.file, extra))
        return steps

    def _task_fd_answers(self, actions: list[Action]) -> tuple[list[Step], list[Action]]:
        """``bpftool perf show`` asks BPF_TASK_FD_QUERY about every fd of every process:
        its refusals are answers ("not a BPF perf fd", "not allowed to look"), told in
        one step with their counts and lines.  Returns that step and the other actions."""
        answers = [a for a in actions if a.kind == "failure" and a.failure is not None
                   and a.failure.expected and a.failure.call == "BPF_TASK_FD_QUERY"]
        if not answers:
            return [], actions
        told = {id(a) for a in answers}
        pids = {(a.failure.attrs.get("pid") if a.failure else None) for a in answers}
        by_errno: dict[str, list[Action]] = defaultdict(list)
        for a in answers:
            assert a.failure is not None
            by_errno[a.failure.errno].append(a)
        parts: list[str] = []
        for errno, group in sorted(by_errno.items(), key=lambda kv: -len(kv[1])):
            assert group[0].failure is not None
            who = sorted({str(a.failure.attrs.get("pid")) for a in group if a.failure})
            about = f" (pid {', '.join(who)})" if errno == "EPERM" and len(who) <= 3 else ""
            parts.append(f"{len(group):,} {errno}{about}: {group[0].failure.why}")
        text: Spans = ((f"BPF_TASK_FD_QUERY asked about {len(answers):,} fds of "
                        f"{plural(len(pids), 'process', 'processes')} whether each is a "
                        "perf event or raw tracepoint with a BPF program; these answers "
                        "say no: " + "; ".join(parts), None),)
        step = Step(tuple(a.line for a in answers), text, "answers", False, answers[0].file)
        return [step], [a for a in actions if id(a) not in told]

    def _output_group(self, actions: list[Action]) -> list[Step] | None:
        actions = each_call(actions)
        perfs = [a.obj for a in actions if a.kind == "perf_open" and a.obj is not None]
        if not perfs:
            return None
        maps = {id(p.output_map): p.output_map for p in perfs if p.output_map is not None}
        target: list[Span] = []
        if maps:
            m = next(iter(maps.values()))
            assert m is not None
            target = [(", and stored in ", None), *name_spans(m)]
        mmapped = any(a.kind == "mmap" for a in actions)
        cpus = [p.attrs.get("cpu") for p in perfs]
        head: list[Span] = [(f"For each of the {plural(len(perfs), 'CPU')} a software perf "
                             "event of kind BPF_OUTPUT is opened", None)]
        if mmapped:
            head.append((", its buffer mapped into memory", None))
        head.append((", enabled" if any(a.kind == "enable" for a in actions) else "", None))
        head += target
        head.append((", so programs can send records (printf, events) to user space.", None))
        per_cpu: list[Span] = []
        lines_of: dict[int, list[int]] = defaultdict(list)  # one pass, not one per CPU
        for a in actions:
            keys = {id(a.obj), id(a.detail.get("perf"))}
            for key in keys:
                lines_of[key].append(a.line)
        for perf, cpu in zip(perfs, cpus, strict=True):
            mine = lines_of.get(id(perf), [])
            if per_cpu:
                per_cpu.append((" · ", None))
            per_cpu += [(f"{cite(mine)} cpu {cpu} → ", None), fd_span(perf.fd)]
        lines = tuple(a.line for a in actions)
        return [Step(lines, tuple(head), "output", **_placed(actions)),
                Step((), tuple(per_cpu), "output")]

    def _results_group(self, actions: list[Action]) -> list[Step]:
        steps: list[Step] = []
        by_map: dict[int, list[Action]] = defaultdict(list)
        others: list[Action] = []
        for a in actions:
            expected_map_failure = (
                a.kind == "failure" and a.obj is not None and a.obj.kind == "map"
                and a.failure is not None and a.failure.expected
            )
            if (a.kind == "map_op" and a.obj is not None) or expected_map_failure:
                by_map[id(a.obj)].append(a)
            else:
                others.append(a)
        for group in by_map.values():
            m = group[0].obj
            assert m is not None
            ops: Counter[str] = Counter()
            enoent = 0
            for a in group:
                if a.kind == "failure":
                    assert a.failure is not None
                    ops[a.failure.call.replace("BPF_MAP_", "")] += 1
                    enoent += 1
                elif a.run is not None:
                    ops.update(a.run.ops())
                else:
                    ops[a.detail.get("op", "?")] += 1
            text: list[Span] = [("read ", None), *name_spans(m), (": ", None),
                                (" + ".join(f"{n} {op}" for op, n in ops.items()), None)]
            if enoent:
                text.append((f" ({plural(enoent, 'ENOENT')} just end the walk: no more keys)",
                             "dim"))
            steps.append(Step(_lines_of(group), tuple(text), "map_read",
                              **_placed(group)))
        for a in others:
            text2, extra = self.step_text(a)
            steps.append(Step((a.line,), text2, a.kind, a.probe, a.file, extra))
        steps.sort(key=lambda s: s.lines[0] if s.lines else 0)
        return steps

    def _intro(self, key: str, actions: list[Action]) -> list[str]:
        terms = {
            "features": ["feature probe"],
            "btf": ["BTF"],
            "maps": ["map"],
            "output": ["perf buffer"],
            "load": ["eBPF program", "verifier"],
            "attach": [],
            "pin": ["pin"],
            "open_pin": ["pin"],
            "query": ["object id"],
        }.get(key, [])
        if key == "attach":
            # Each route used here brings its own terms, in the registry's order; a
            # perf event opened here is met whichever route attaches to it.
            if any(a.kind == "perf_open" or (a.failure is not None
                                              and a.failure.call == "perf_event_open")
                   for a in actions):
                terms.append("perf event")
            used = {routes.for_via(a.attachment.via).name for a in actions
                    if a.kind == "attach" and a.attachment is not None}
            used |= {a.detail["route"] for a in actions
                     if isinstance(a.detail.get("route"), str)}
            for route in routes.ROUTES:
                if route.name in used:
                    terms += [t for t in route.terms if t not in terms]
        if key == "output" and any(
            a.obj is not None and a.obj.attrs.get("map_type") == "BPF_MAP_TYPE_RINGBUF"
            for a in actions
        ):
            terms = ["ring buffer"]
        out = []
        for term in terms:
            text = self.concept(term)
            if text:
                out.append(text)
        return out

    # whole story

    def build(self) -> Story:
        lc = self.lc
        sections = self._sections()
        graph = self._graph()
        problems = self._problems()
        return Story(self._headline(), sections, graph, problems, self._footer(), self.detail,
                     lc, tuple(self.terms))

    def _stop_line(self, actions: Sequence[Action]) -> int | None:
        for a in actions:
            if a.kind == "signal" and a.detail.get("signal") not in ("SIGCHLD", "SIGCONT",
                                                                   "SIGWINCH", "SIGPIPE"):
                return a.line
            if a.kind == "disable" and a.obj is not None and a.obj.attachments:
                return a.line
        return None

    def _sections(self) -> tuple[Section, ...]:
        by_proc: dict[int | None, list[Action]] = defaultdict(list)
        for a in self.lc.actions:
            proc = self._tgid(a.pid)
            by_proc[proc].append(a)
        interesting = [p for p, acts in by_proc.items()
                       if any(a.kind not in ("fork", "exec", "exit", "signal") for a in acts)]
        if not interesting:
            interesting = list(by_proc)[:1]
        sections = []
        for pid in interesting:
            actions = by_proc[pid]
            stop = self._stop_line(actions)
            buckets: dict[str, list[Action]] = defaultdict(list)
            for a in actions:
                key = self.phase_of(a, stop)
                if key == "start" and not self.verbose:
                    continue
                buckets[key].append(a)
            phases = []
            # Feature checks first (they are background), the rest in the order they
            # began, so the story reads like the log.
            order = sorted((k for k in PHASES if buckets.get(k)),
                           key=lambda k: (k != "features", k == "exit",
                                          min(a.line for a in buckets[k])))
            for key in order:
                steps, intro = self.steps_for(key, buckets[key])
                phases.append(Phase(key, PHASES[key], tuple(steps), tuple(intro)))
            process = self.lc.processes.get(pid)
            label: Spans = ((process.command if process and process.command else "process",
                             "proc"),
                            (f" (pid {pid})" if pid is not None else "", None))
            sections.append(Section(pid, label, tuple(phases)))
        return tuple(sections)

    def _tgid(self, pid: int | None) -> int | None:
        return self.lc.threads.get(pid, pid)

    def _headline(self) -> Spans:
        lc = self.lc
        progs = [p for p in lc.real_programs() if existing_id(p) is None and p.same_as is None]
        seen = [o for o in lc.objects if existing_id(o) is not None and not o.probe]
        atts = [a for a in lc.attachments if not a.probe]
        points = {_event_key(a) for a in atts}
        maps = [o for o in lc.objects if o.kind == "map" and not o.probe and o.known
                and existing_id(o) is None]
        outputs = [o for o in lc.objects if o.kind == "perf_event" and
                   o.attrs.get("config") == "PERF_COUNT_SW_BPF_OUTPUT"]
        doers = self._doers()
        parts = [plural(len(progs), "program")] if progs or not maps else []
        if atts and parts:
            # Only attached programs count as attached (bpftrace's BEGIN/END run once).
            # (A program opened by id or from a pin and attached counts as the event's.)
            attached = {id(a.prog) for a in atts}
            mine = {id(p) for p in progs}
            events = plural(len(points), "event")
            parts[0] += f", {len(attached)} attached to {events}" \
                if attached < mine else f" attached to {events}"
        if maps:
            parts.append(plural(len(maps), "map"))
        if outputs:
            channels = len({id(o.output_map) for o in outputs}) or 1
            parts.append(f"{plural(channels, 'output channel')} "
                         f"({plural(len(outputs), 'per-CPU buffer')})")
        if seen:
            kinds = Counter(KIND_NOUN.get(o.kind, o.kind) for o in seen)
            parts.append("looked at " + " and ".join(
                plural(n, f"existing {k}") for k, n in kinds.items()))
        if parts and parts[0] == "0 programs" and seen:
            parts.pop(0)
        real_failures = [f for f in lc.failures if not f.probe]
        if real_failures:
            parts.append(plural(len(real_failures), "failure"))
        head: list[Span] = []
        for i, proc in enumerate(doers[:3]):
            if i:
                head.append((" and " if i == len(doers[:3]) - 1 else ", ", None))
            head.append((proc.command or "process", "proc"))
            if proc.pid is not None:
                head.append((f" (pid {proc.pid})", None))
        if len(doers) > 3:
            head.append((f" and {len(doers) - 3} more", None))
        if not head:
            head.append(("the traced program", "proc"))
        head.append((": " + ", ".join(parts), None))
        head += self._gave_up(doers)
        return tuple(head)

    def _doers(self) -> list[Process]:
        """The processes that did eBPF work or failed at it (the loaders)."""
        lc = self.lc
        doers = [p for p in lc.processes.values()
                 if any(o.pid == p.tgid and o.known for o in lc.objects)
                 or any(f.pid == p.pid for f in lc.failures)]
        if not doers:
            doers = [p for p in lc.processes.values() if p.command][:1]
        return doers

    def _gave_up(self, doers: list[Process]) -> Spans:
        """``; bpftrace failed: exited with status 1 after BPF_PROG_LOAD EACCES (L15)``:
        a loader that gave up says so first, with the failures that ended it."""
        spans: list[Span] = []
        for proc in doers[:3]:
            how = proc.gave_up()
            if how is None:
                continue
            cause = [f for f in self.lc.failures if f.ends_loader
                     and self.lc.threads.get(f.pid, f.pid) == proc.tgid]
            spans += [("; ", None), (proc.command or "process", "proc"),
                      (f" failed: {how}", "errno")]
            if cause:
                named = sorted({f"{f.call} {f.errno}" for f in cause})
                spans.append((f" after {', '.join(named)} ({cite([f.line for f in cause])})",
                              None))
            else:
                # Never blame a probe the loader went past: say the cause is elsewhere.
                spans.append(("; the log shows no failing call that explains it (a loader "
                              "prints its reasons to stderr, which strace does not record)",
                              None))
        return tuple(spans)

    def _graph(self) -> tuple[Node, ...]:
        lc = self.lc
        nodes: list[Node] = []
        shown = [p for p in lc.objects if p.kind == "prog" and (self.verbose or not p.probe)]
        # A program opened again from its pin is the same kernel object: told under
        # the program that was pinned, not as a second program.
        reopened: dict[int, list[Obj]] = defaultdict(list)
        for prog in shown:
            if prog.same_as is not None and prog.same_as in shown:
                reopened[id(prog.same_as)].append(prog)
        for prog in shown:
            if prog.same_as is not None and prog.same_as in shown:
                continue
            label: list[Span] = [*name_spans(prog)]
            if prog.attrs.get("prog_type") is not None:
                label.append((f" ({_short(prog.attrs.get('prog_type'))}", None))
                if prog.attrs.get("insn_cnt") is not None:
                    label.append((f", {prog.attrs['insn_cnt']} insns", None))
                label.append((f", fd {prog.fd}, L{prog.line})", None))
            else:
                label.append((f" (already loaded; opened with {prog.via} → fd {prog.fd}, "
                              f"L{prog.line})", None))
            if prog.probe:
                label.append((" [probe]", "dim"))
            children: list[Node] = []
            for att in prog.attachments:
                children.append(self._attachment_node(att))
            for again in reopened.get(id(prog), []):
                proc = lc.processes.get(again.pid)
                who = f"{proc.command} (pid {proc.pid})" if proc and proc.command else \
                    f"pid {again.pid}"
                children.append(Node(
                    ((f"opened again from its pin by {who}: BPF_OBJ_GET → fd {again.fd}, "
                      f"L{again.line}", None),),
                    tuple(self._attachment_node(att) for att in again.attachments)))
            if not prog.attachments and not any(a.attachments
                                                for a in reopened.get(id(prog), [])):
                if prog.test_runs:
                    children.append(Node((("run once with BPF_PROG_TEST_RUN at ", None),
                                          (cite(prog.test_runs), None),
                                          (" (never attached to an event)", None))))
                elif existing_id(prog) is not None:
                    children.append(Node((("its attachments, if any, were made before this "
                                           "log; this process only looked at it", "dim"),)))
                elif prog.known:
                    children.append(Node((("not attached to anything in this log", "dim"),)))
            if prog.maps:
                children.append(Node((("uses maps: ", None),
                                      *_join([name_spans(m) for m in prog.maps]))))
            if prog.btf is not None:
                children.append(Node((("BTF ", None), fd_span(prog.btf.fd),
                                      (f" (L{prog.btf.line})", None))))
            children.append(Node(self._ending(prog)))
            nodes.append(Node(tuple(label), tuple(children)))
        maps = [o for o in lc.objects if o.kind == "map" and (self.verbose or not o.probe)]
        if maps:
            children2 = []
            for m in maps:
                kind = _short(m.attrs.get("map_type")) if m.attrs.get("map_type") is not None \
                    else f"already loaded; opened with {m.via}"
                label2: list[Span] = [*name_spans(m), (f" ({kind}", None)]
                if m.outputs:
                    label2.append((" ← perf fds " + ", ".join(str(p.fd) for p in m.outputs),
                                   None))
                label2.append((f", fd {m.fd}, L{m.line})", None))
                if m.btf is not None:
                    label2.append((" with BTF", "dim"))
                children2.append(Node(tuple(label2)))
            nodes.append(Node((("maps", None),), tuple(children2)))
        if not nodes:
            nodes.append(Node((("no eBPF program or map was created", "dim"),)))
        pins = [p for p in lc.pins if p.via != "BPF_OBJ_GET"]
        if pins:
            nodes.append(Node((("pins", None),), tuple(
                Node(((p.path, "path"), (" ← ", None),
                      *(_pinned_name(p.obj) if p.obj else (("?", None),)),
                      (f" (L{p.line}, {p.via})", None))) for p in pins)))
        opened = [p for p in lc.pins if p.via == "BPF_OBJ_GET"]
        if opened:
            nodes.append(Node((("opened pins", None),), tuple(
                Node(((p.path, "path"), (" → ", None),
                      *(_pinned_name(p.obj) if p.obj else (("?", None),)),
                      (f" (L{p.line}, {p.via})", None))) for p in opened)))
        return tuple(nodes)

    def _attachment_node(self, att: Attachment) -> Node:
        point: Span = (att.attach_point, "bpf.point") if att.attach_point else \
            ("an unnamed event", "dim")
        target = att.target
        where: list[Span] = [(f"{att.via} → ", None), point]
        if target is not None and target.kind == "perf_event":
            cpu = target.attrs.get("cpu")
            where.append((f" (perf fd {target.fd}" + (f", cpu {cpu}" if cpu not in (None, -1)
                                                      else "") + ")", None))
        if att.link is not None and att.link is not target:
            where.append((f" link fd {att.link.fd}", None))
        status: list[str] = []
        if att.enabled_line is not None:
            status.append(f"{routes.for_via(att.via).enabled_word} L{att.enabled_line}")
        elif att.kept:
            status.append("never confirmed by the kernel")
        else:
            status.append("never enabled")
        if att.ended_line is not None and att.end != "released":
            status.append(f"{att.end} L{att.ended_line}")
        end = self._release_of(att)
        if end:
            status.append(end)
        return Node(tuple(where), (Node(((" · ".join(status), None),)),))

    def _release_of(self, att: Attachment) -> str:
        if att.ended_line is None and outlives(att, self.lc):
            return self._kept_words(att)
        holder = att.link or att.target
        if holder is None:
            return ""
        if holder.end == "exit":
            return "released at exit"
        if holder.closed_line is not None:
            return f"released L{holder.closed_line}"
        return "still attached when the log ends"

    def _kept_words(self, att: Attachment) -> str:
        """``still attached after ip exited (the kernel keeps it)``."""
        proc = self.lc.processes.get(att.prog.pid)
        if proc is not None and proc.exit_line is not None:
            return f"still attached after {proc.command or 'the loader'} exited " \
                "(the kernel keeps it)"
        return "still attached when the log ends (the kernel keeps it when the loader exits)"

    def _ending(self, obj: Obj) -> Spans:
        kept = [a for a in obj.attachments if a.prog is obj and a.ended_line is None
                and outlives(a, self.lc)]
        if kept and obj.closed_line is not None:
            return ((f"its fds closed L{obj.closed_line}; the program stays loaded, held "
                     "by its attachment", "dim"),)
        if obj.closed_line is None:
            return (("still loaded when the log ends", "dim"),)
        how = {"close": "closed", "exit": "released when the process exited",
               "exec": "released by execve (close-on-exec)",
               "reused": "released (its fd number was reused)"}.get(obj.end or "", obj.end or "")
        return ((f"{how} L{obj.closed_line}", "dim"),)

    def _problems(self) -> tuple[Problem, ...]:
        """What went wrong; the same failure repeated is one problem with all its lines."""
        groups: dict[tuple[Any, ...], list[Failure]] = {}
        for f in self.lc.failures:
            if f.probe and not self.verbose:
                continue
            subject = f.subject.id if f.subject is not None else f.attrs.get("prog_name")
            key = (f.call, f.errno, f.why, subject, f.detail)
            groups.setdefault(key, []).append(f)
        out = []
        for same in groups.values():
            f = same[0]
            what: list[Span] = [(f.call, None), (" failed with ", None), (f.errno, "errno")]
            if len(same) > 1:
                what.append((f" ({len(same)} times)", None))
            if f.subject is not None:
                what += [(" for ", None), *name_spans(f.subject)]
                if f.subject.kind == "prog":
                    what += _btf_target_spans(f.subject.attrs)
            elif f.attrs.get("prog_name"):
                what += [(" for program ", None), (f'"{f.attrs["prog_name"]}"', "bpf.prog"),
                         *_btf_target_spans(f.attrs)]
            why = f.why
            if f.errno == "EPERM" and f.call == "BPF_PROG_LOAD" and \
                    looks_like_probe_prog(f.attrs):
                why += ("; this was only a feature-test program: even that was refused, so "
                        "nothing the loader needs could load")
            out.append(Problem(tuple(x.line for x in same), tuple(what), why,
                               self._failure_detail(f), f.probe,
                               tuple(x.file for x in same)))
        return tuple(out)

    def _footer(self) -> tuple[str, ...]:
        lc = self.lc
        probes = sum(1 for o in lc.objects if o.probe)
        probe_failures = sum(1 for f in lc.failures if f.probe)
        real = [f for f in lc.failures if not f.probe]
        parts = [f"probes: {probes} objects" + (f", {probe_failures} expected failures"
                                                if probe_failures else "")
                 + (" (folded; --verbose shows them)" if not self.verbose and probes else "")]
        grouped: dict[tuple[str, str], list[int]] = {}
        for f in real:
            grouped.setdefault((f.call, f.errno), []).append(f.line)
        ended = [p for p in self._doers() if p.tgid == p.pid and p.gave_up()]
        if real:
            told = ", ".join(f"{call} {errno} ({cite(lines)})"
                             for (call, errno), lines in grouped.items())
        elif ended:
            # Never "none that matter" after a loader gave up.
            told = "none in the log, yet " + ", ".join(
                f"{p.command or 'the process'} {p.gave_up()}" for p in ended[:3])
        else:
            told = "none that matter"
        parts.append("failures: " + told)
        return tuple(parts)


_PER_CPU = frozenset({"cpu", "fd"})


def _event_key(att: Attachment) -> tuple[object, ...]:
    """What tells one event from another, for counting them: its name when the log or
    the machine gave a full one; otherwise what the log shows of the event (a uprobe's
    offset under -v) and, when even that is all alike, the program (bpftrace attaches
    one program per probe).  The CPU never counts: per-CPU copies are one event."""
    point = att.attach_point or ""
    target = att.target
    if target is not None and target.kind == "socket":
        # Two sockets of the same kind are two places, though their points read alike.
        return (point, target.id)
    if (":" in point and not point.startswith(("uprobe:", "uretprobe:"))) or target is None:
        return (point,)
    shown = tuple(sorted((k, str(v)) for k, v in target.attrs.items() if k not in _PER_CPU))
    if ":" in point:
        return (point, shown)
    return (point, shown, att.prog.id)


def _pinned_name(obj: Obj) -> Spans:
    """An object in the list of pins: the path is already said, so not by its path."""
    if obj.via == "BPF_OBJ_GET" and not obj.name:
        return ((f"{KIND_NOUN.get(obj.kind, obj.kind)} ", None), fd_span(obj.fd))
    return name_spans(obj)


def outlives(att: Attachment, lc: Lifecycle) -> bool:
    """The kernel keeps it when the loader's fds are gone: netlink, a cgroup's
    BPF_PROG_ATTACH, or a link pinned in the BPF filesystem."""
    return att.kept or (att.link is not None and any(
        p.obj is att.link and p.via == "BPF_OBJ_PIN" for p in lc.pins))


def _lines_of(actions: list[Action]) -> tuple[int, ...]:
    """The line of every call the actions stand for, in order (runs of map reads
    taken apart in C, not one by one)."""
    if all(a.run is None for a in actions):
        return tuple(a.line for a in actions)
    return tuple(chain.from_iterable(a.lines for a in actions))


def _ops_of(actions: list[Action]) -> Counter[str]:
    """How many calls of each map operation, in the order each first appeared."""
    ops: Counter[str] = Counter()
    for a in actions:
        if a.run is not None:
            ops.update(a.run.ops())
        else:
            ops[a.detail.get("op", "?")] += 1
    return ops


class _Place(TypedDict):
    file: int
    files: tuple[int, ...]


def _placed(actions: Sequence[Action]) -> _Place:
    """Where the lines of a step grouping ``actions`` (in the order of
    :func:`_lines_of`: every call a run stands for) are: their one input file, or each
    line's when they span several (``strace -ff`` gives every thread a file of its own)."""
    files = tuple(chain.from_iterable(repeat(a.file, a.calls) for a in actions))
    if not files:
        return {"file": 0, "files": ()}
    if all(f == files[0] for f in files):
        return {"file": files[0], "files": ()}
    return {"file": files[0], "files": files}


def _action_lines(action: Action) -> tuple[int, ...]:
    """A step's lines: a netlink request's and the kernel's answer's, else the call's."""
    att = action.attachment
    first = att.line if att is not None and att.kept and att.line < action.line else \
        action.detail.get("request_line")
    if isinstance(first, int) and first < action.line:
        return (first, action.line)
    return (action.line,)


def _holder_open_after(att: Attachment, prog: Obj) -> bool:
    holder = att.link or att.target
    return holder is not None and (holder.closed_line is None or
                                   (prog.closed_line is not None and
                                    holder.closed_line > prog.closed_line))


def _in_log_order(steps: list[Step]) -> list[Step]:
    """Steps sorted by their first line; a step without lines stays after the one before."""
    keyed: list[tuple[int, int, Step]] = []
    last = 0
    for index, step in enumerate(steps):
        if step.lines:
            last = step.lines[0]
        keyed.append((last, index, step))
    return [step for _, _, step in sorted(keyed, key=lambda k: (k[0], k[1]))]


def _btf_target_spans(attrs: dict[str, Any]) -> Spans:
    """`` (to attach to fentry:vfs_read; name read from this machine's vmlinux BTF)``:
    what a BTF-described program is meant for, said where it is loaded or refused."""
    target = attrs.get(ATTACH_TARGET)
    if not target:
        return ()
    spans: list[Span] = [(" (to attach to ", None), (str(target), "bpf.point")]
    if attrs.get(ATTACH_TARGET_SOURCE) == "local":
        spans.append(("; name read from this machine's vmlinux BTF", "dim"))
    elif attrs.get(NOT_LOOKED_UP):
        spans.append((f"; not looked up on this machine: {attrs[NOT_LOOKED_UP]}", "dim"))
    return (*spans, (")", None))


def _unnamed_note(obj: Obj, advice: str | None) -> Spans:
    """Why a number stays a number, and what the log hints instead: ``(not looked up
    on this machine: the log was recorded on Linux 5.15.122, ...; the program attached
    to it is named "sys_enter")``."""
    why = obj.attrs.get(NOT_LOOKED_UP)
    hint = obj.attrs.get(NAME_HINT)
    parts: list[str] = []
    if why:
        parts.append(f"not looked up on this machine: {why}")
    if hint:
        parts.append(f'a hint: the program attached to it is named "{hint}"')
    elif advice and not why:
        parts.append(f"name unknown: {advice}")
    elif advice:
        parts.append(advice)
    return ((" (" + "; ".join(parts) + ")", "dim"),) if parts else ()


def _clock_gloss(attrs: dict[str, Any]) -> str:
    """What a clock event's numbers mean: a timer's period, or a sampling rate."""
    if attrs.get("freq") and attrs.get("sample_freq"):
        return f" (a timer sampling {attrs['sample_freq']} times a second)"
    period = attrs.get("sample_period")
    if not isinstance(period, int) or period <= 0:
        return ""
    for unit, size in (("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if period % size == 0:
            return f" (a timer firing every {period // size} {unit})"
    return f" (a timer firing every {period} ns)"


def _join(groups: list[Spans]) -> Spans:
    out: list[Span] = []
    for i, g in enumerate(groups):
        if i:
            out.append((", ", None))
        out += g
    return tuple(out)


def _walk_map(a: Action) -> int | None:
    """The map a plain map read or its expected failure (a walk's ENOENT) is about."""
    if a.obj is None or a.obj.kind != "map":
        return None
    if a.kind == "map_op" and a.detail.get("perf") is None:
        return id(a.obj)
    if a.kind == "failure" and a.failure is not None and a.failure.expected:
        return id(a.obj)
    return None


def _same_group(a: Action, b: Action) -> bool:
    walk = _walk_map(a)
    if walk is not None and walk == _walk_map(b):
        return True  # a walk and the ENOENTs that end it are told as one step
    if a.kind != b.kind or a.kind not in ("close", "disable", "map_op", "failure", "info"):
        return False
    if a.kind == "info":
        return a.obj is b.obj
    if a.kind == "failure":
        fa, fb = a.failure, b.failure
        return fa is not None and fb is not None and (fa.call, fa.errno, fa.why) == (
            fb.call, fb.errno, fb.why)
    if a.kind == "map_op":
        return a.obj is b.obj and a.detail.get("perf") is None and b.detail.get("perf") is None
    return True


def build_story(lc: Lifecycle, detail: str = "default") -> Story:
    """The story of a lifecycle at one of :data:`DETAILS`."""
    if detail not in DETAILS:
        raise ValueError(f"unknown detail level {detail!r}")
    return _Builder(lc, detail).build()


def step_for_action(action: Action, builder_state: _Builder | None = None) -> Step:
    """One action as a step on its own (live output, before the whole story exists)."""
    builder = builder_state or _Builder(Lifecycle([], [], [], [], [], {}, []), "default")
    text, extra = builder.step_text(action)
    return Step((action.line,), text, action.kind, action.probe, action.file, extra)
