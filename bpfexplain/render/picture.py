"""The lifecycle as a picture: nodes and edges that DOT and Mermaid both draw.

The story's own graph (:attr:`bpfexplain.story.Story.graph`) is a tree of sentences
for the terminal; a picture needs objects and the calls between them, so this module
reads the :class:`~bpfexplain.tracking.Lifecycle` behind the story instead.

The layout is meant to be read left to right as the lifecycle itself::

    loader ──① load──▶ program ──② attach──▶ perf event / link ──③ enable──▶ event

so the three steps a learner must see are the three numbered arrows.  Maps, BTF,
output buffers, pins and failures hang off that spine.  Probes (throw-away objects a
loader makes to test the kernel) are left out unless the story is verbose.

Labels here are plain, untrusted text (names come from the log); each renderer
escapes them for its own syntax.  Node ids are generated (``n0``, ``n1``...) and never
contain log text.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from dataclasses import dataclass, field

from bpfexplain import knowledge as kn
from bpfexplain import routes
from bpfexplain.story import Story, cite
from bpfexplain.tracking import Attachment, Failure, Lifecycle, Obj, Process

KINDS = ("loader", "prog", "map", "btf", "perf", "output", "link", "socket", "point", "pin",
         "failure", "object")
"""Node kinds; each renderer gives every kind one look (colour and shape)."""

EDGE_KINDS = ("load", "attach", "enable", "never", "create", "uses", "types", "output",
              "pin", "failure", "open")


@dataclass(frozen=True)
class PNode:
    id: str
    kind: str
    title: str
    details: tuple[str, ...] = ()
    probe: bool = False

    @property
    def lines(self) -> tuple[str, ...]:
        return (self.title, *self.details)


@dataclass(frozen=True)
class PEdge:
    src: str
    dst: str
    kind: str
    label: str


Subject = Obj | Attachment | Failure
"""What a node stands for in the lifecycle (for views that link the picture to the log)."""


@dataclass
class Picture:
    title: str
    nodes: list[PNode] = field(default_factory=list)
    edges: list[PEdge] = field(default_factory=list)
    about: dict[str, list[Subject]] = field(default_factory=dict)
    """Node id → the objects, attachments or failures it draws (none for loaders)."""

    def node(self, node_id: str) -> PNode:
        return next(n for n in self.nodes if n.id == node_id)


def _short(value: object) -> str:
    return kn.short_name(value) if isinstance(value, str) else str(value)


def _fd(obj: Obj) -> str:
    return f"fd {obj.fd}" if obj.fd is not None else "fd ?"


class _Drawer:
    def __init__(self, lc: Lifecycle, verbose: bool, title: str):
        self.lc = lc
        self.verbose = verbose
        self.pic = Picture(title)
        self.ids: dict[int, str] = {}
        self._loaders: dict[int | None, str] = {}
        self._pinned = {id(p.obj) for p in lc.pins if p.obj is not None}
        self._edges: set[PEdge] = set()
        """The edges drawn so far, to skip repeats without a scan (issue 12)."""

    # nodes

    def add(self, kind: str, title: str, details: tuple[str, ...] = (), *,
            probe: bool = False, key: object = None) -> str:
        node_id = f"n{len(self.pic.nodes)}"
        self.pic.nodes.append(PNode(node_id, kind, title, details, probe))
        if key is not None:
            self.ids[id(key)] = node_id
            if isinstance(key, Obj | Attachment | Failure):
                self.tie(node_id, key)
        return node_id

    def tie(self, node_id: str, *subjects: Subject) -> None:
        """Record that ``node_id`` draws ``subjects`` (one node may draw several)."""
        about = self.pic.about.setdefault(node_id, [])
        about.extend(s for s in subjects if all(s is not t for t in about))

    def edge(self, src: str, dst: str, kind: str, label: str) -> None:
        edge = PEdge(src, dst, kind, label)
        if edge not in self._edges:
            self._edges.add(edge)
            self.pic.edges.append(edge)

    def shown(self, obj: Obj) -> bool:
        # A pinned object outlives the loader on purpose: never a throw-away probe.
        return self.verbose or not self.is_probe(obj)

    def is_probe(self, obj: Obj) -> bool:
        return obj.probe and id(obj) not in self._pinned

    def loader(self, pid: int | None) -> str:
        proc = self._process(pid)
        key = proc.tgid if proc is not None else None
        if key not in self._loaders:
            name = proc.command if proc is not None and proc.command else "loader"
            where = f"pid {proc.pid}" if proc is not None and proc.pid is not None else ""
            self._loaders[key] = self.add("loader", name, (where,) if where else ())
        return self._loaders[key]

    def _process(self, pid: int | None) -> Process | None:
        procs = self.lc.processes
        for proc in procs.values():
            if proc.pid == pid or proc.tgid == pid:
                return proc
        # A thread's pid is not a process of its own (Go and bpftrace run bpf() from
        # threads): the objects belong to the loader that has a command name.
        named = [p for p in procs.values() if p.command]
        return named[0] if named else next(iter(procs.values()), None)

    # the parts

    def draw(self) -> Picture:
        lc = self.lc
        for obj in lc.objects:
            if obj.kind == "btf" and self.shown(obj) and self._btf_wanted(obj):
                self._btf(obj)
        for obj in lc.objects:
            if obj.kind == "map" and self.shown(obj) and obj.known:
                self._map(obj)
        for obj in lc.objects:
            if obj.kind == "prog" and self.shown(obj):
                if obj.same_as is not None and id(obj.same_as) in self.ids:
                    # Opened again from its pin: the same program, one node.
                    self.ids[id(obj)] = self.ids[id(obj.same_as)]
                    self.tie(self.ids[id(obj)], obj)
                    continue
                self._prog(obj)
        self._outputs()
        self._attachments()
        self._pins()
        self._unattached()
        self._failures()
        return self.pic

    def _btf_wanted(self, obj: Obj) -> bool:
        if self.verbose:
            return True
        users = [o for o in self.lc.objects if o.btf is obj and not o.probe]
        return bool(users) or obj.via == "BPF_BTF_LOAD"

    def _btf(self, obj: Obj) -> None:
        size = obj.attrs.get("btf_size")
        details = [f"{size} bytes" if size is not None else "", f"{_fd(obj)} · L{obj.line}"]
        node = self.add("btf", "BTF (type information)", tuple(d for d in details if d),
                        probe=self.is_probe(obj), key=obj)
        self._created(obj, node)

    def _map(self, obj: Obj) -> None:
        a = obj.attrs
        shape = _short(a.get("map_type")) if a.get("map_type") is not None else "map"
        if a.get("max_entries") is not None:
            shape += f" · {a['max_entries']} entries"
        title = f'map "{obj.name}"' if obj.name else "map"
        node = self.add("map", title, (shape, f"{_fd(obj)} · L{obj.line}"),
                        probe=self.is_probe(obj), key=obj)
        self._created(obj, node)
        if obj.btf is not None and id(obj.btf) in self.ids:
            self.edge(node, self.ids[id(obj.btf)], "types", "types from")

    def _prog(self, obj: Obj) -> None:
        a = obj.attrs
        what = _short(a.get("prog_type")) if a.get("prog_type") is not None else "program"
        if a.get("insn_cnt") is not None:
            what += f" · {a['insn_cnt']} insns"
        title = f'program "{obj.name}"' if obj.name else "program"
        node = self.add("prog", title, (what, f"{_fd(obj)} · L{obj.line}"),
                        probe=self.is_probe(obj), key=obj)
        if obj.via == "BPF_PROG_LOAD":
            self.edge(self.loader(obj.pid), node, "load", f"① load (BPF_PROG_LOAD, L{obj.line})")
        else:
            self._created(obj, node)
        for m in obj.maps:
            if id(m) in self.ids:
                self.edge(node, self.ids[id(m)], "uses", "uses")
        if obj.btf is not None and id(obj.btf) in self.ids:
            self.edge(node, self.ids[id(obj.btf)], "types", "types from")
        if obj.test_runs and not obj.attachments:
            self.edge(self.loader(obj.pid), node, "enable",
                      f"run once (BPF_PROG_TEST_RUN, {cite(obj.test_runs)})")

    def _created(self, obj: Obj, node: str) -> None:
        if not obj.known:
            return
        verb = {"BPF_MAP_CREATE": "create", "BPF_BTF_LOAD": "load",
                "BPF_OBJ_GET": "open pinned"}.get(obj.via, f"open existing ({obj.via})")
        kind = "open" if verb.startswith("open") else "create"
        self.edge(self.loader(obj.pid), node, kind, f"{verb} (L{obj.line})")

    def _outputs(self) -> None:
        """Output buffers (BPF_OUTPUT perf events) grouped per map: one node, not one per CPU."""
        by_map: dict[int, list[Obj]] = defaultdict(list)
        maps: dict[int, Obj] = {}
        for obj in self.lc.objects:
            if obj.kind == "perf_event" and obj.output_map is not None and self.shown(obj):
                by_map[id(obj.output_map)].append(obj)
                maps[id(obj.output_map)] = obj.output_map
        for key, perfs in by_map.items():
            cpus = [str(p.attrs.get("cpu")) for p in perfs if p.attrs.get("cpu") is not None]
            title = ("output buffer" if len(perfs) == 1 else f"{len(perfs)} output buffers")
            details = ["perf " + ("fd " if len(perfs) == 1 else "fds ")
                       + ", ".join(str(p.fd) for p in perfs)]
            if cpus:
                details.append(("cpu " if len(cpus) == 1 else "cpus ") + ", ".join(cpus))
            node = self.add("output", title, tuple(details))
            self.tie(node, *perfs)
            for p in perfs:
                self.ids[id(p)] = node
            if key in self.ids:
                self.edge(self.ids[key], node, "output",
                          f"sends records through ({cite(p.line for p in perfs)})")
            elif self.shown(maps[key]):
                self.edge(self.loader(perfs[0].pid), node, "create",
                          f"open ({cite(p.line for p in perfs)})")

    def _attachments(self) -> None:
        # One prog attached to the same point through several perf events (one per
        # CPU: profile, interval) is one picture node, not a row of identical boxes.
        groups: dict[tuple[int, str, str], list[Attachment]] = defaultdict(list)
        for att in self.lc.attachments:
            if not self.shown(att.prog) or id(att.prog) not in self.ids:
                continue
            groups[(id(att.prog), att.via, att.attach_point or "?")].append(att)
        points: dict[str, str] = {}
        for (_, via, point), atts in groups.items():
            route = routes.for_via(via)
            prog_node = self.ids[id(atts[0].prog)]
            if point not in points:
                title = point if point != "?" else "an event bpfexplain cannot name"
                points[point] = self.add("point", title)
            point_node = points[point]
            self.tie(point_node, *atts)
            holders = [a.link if a.link is not None else a.target for a in atts]
            attach_lines = cite(a.line for a in atts)
            short_via = route.short_via(via)
            look = route.holder
            if look is None or all(h is None for h in holders):
                # Nothing the loader holds: the kernel keeps it on the interface or
                # cgroup, live once the call (or the kernel's ack) says so.
                if all(a.enabled_line is not None for a in atts):
                    self.edge(prog_node, point_node, "attach",
                              f"② attach ({short_via}, {attach_lines})")
                else:
                    self.edge(prog_node, point_node, "never",
                              f"② attach asked ({short_via}, {attach_lines}), never "
                              "confirmed")
                continue
            objs = [h for h in holders if h is not None]
            # The route says how the object holding its attachments looks.
            title = look.title if len(objs) == 1 else f"{len(objs)} {look.many}"
            details = [("fd " if len(objs) == 1 else "fds ")
                       + ", ".join(str(o.fd) for o in objs)]
            cpus = [str(o.attrs.get("cpu")) for o in objs
                    if o.attrs.get("cpu") not in (None, -1)]
            if cpus:
                details.append(("cpu " if len(cpus) == 1 else "cpus ") + ", ".join(cpus))
            holder = self.add(look.kind, title, tuple(details))
            self.tie(holder, *objs, *atts)
            for o in objs:
                self.ids.setdefault(id(o), holder)
            self.edge(prog_node, holder, "attach", f"② attach ({short_via}, {attach_lines})")
            enabled = [a.enabled_line for a in atts if a.enabled_line is not None]
            if not enabled:
                self.edge(holder, point_node, "never", "never enabled")
            else:
                # A link goes live in the call that creates it (attach and enable are
                # one); a perf event when it is enabled.
                self.edge(holder, point_node, "enable", look.live.format(lines=cite(enabled)))

    def _pins(self) -> None:
        pin_nodes: dict[str, str] = {}
        for pin in self.lc.pins:
            if pin.obj is not None and id(pin.obj) not in self.ids:
                # BPF_OBJ_GET creates the object it opens; show it as what it is.
                if pin.via != "BPF_OBJ_GET" or not self.shown(pin.obj):
                    continue
                kind = pin.obj.kind if pin.obj.kind in ("map", "prog", "link") else "object"
                title = "pinned object" if kind == "object" else pin.obj.label()
                self.ids[id(pin.obj)] = self.add(kind, title, (f"{_fd(pin.obj)} · L{pin.line}",),
                                                 key=pin.obj)
            # One node per path: pinning and opening the same path meet there.
            node = pin_nodes.get(pin.path) or self.add("pin", pin.path,
                                                       ("pinned in the BPF filesystem",))
            pin_nodes[pin.path] = node
            if pin.obj is not None:
                self.tie(node, pin.obj)
            target = self.ids.get(id(pin.obj)) if pin.obj is not None else None
            if pin.via == "BPF_OBJ_GET":
                loader = self.loader(pin.obj.pid if pin.obj is not None else None)
                self.edge(loader, node, "open", f"open pinned (BPF_OBJ_GET, L{pin.line})")
                if target is not None:
                    self.edge(node, target, "open", "gives a new fd")
            elif target is not None:
                self.edge(target, node, "pin", f"pin (BPF_OBJ_PIN, L{pin.line})")

    def _failures(self) -> None:
        # The same failure repeated (a tool asking about every process's fds) is one box
        # citing all its lines, as the story tells it once: 306 identical boxes would
        # hide everything else and break Mermaid's size limits.
        groups: dict[tuple[object, ...], list[Failure]] = {}
        for f in self.lc.failures:
            if f.expected or (f.probe and not self.verbose):
                continue
            subject = id(f.subject) if f.subject is not None else f.attrs.get("prog_name")
            same_as = (f.call, f.errno, f.why, subject, f.pid, f.attrs.get("path"),
                       f.attrs.get("pathname"))
            groups.setdefault(same_as, []).append(f)
        for same in groups.values():
            f = same[0]
            details: list[str] = []
            if f.attrs.get("prog_name") and f.subject is None:
                details.append(f'program "{f.attrs["prog_name"]}"')
            for key in ("path", "pathname"):
                if f.attrs.get(key) and str(f.attrs[key]) not in f.why:
                    details.append(str(f.attrs[key]))
            # The reason, wrapped: a failure box is where a learner looks for "why".
            details += textwrap.wrap(f.why, 48, max_lines=3, placeholder=" …")
            lines = cite(x.line for x in same)
            details.append(lines if len(same) == 1 else f"{len(same)} times: {lines}")
            node = self.add("failure", f"{f.call} failed: {f.errno}", tuple(details),
                            probe=f.probe, key=f)
            self.tie(node, *same)
            src = self.ids.get(id(f.subject)) if f.subject is not None else None
            self.edge(src or self.loader(f.pid), node, "failure", f"failed ({lines})")

    def _unattached(self) -> None:
        """Programs loaded but never attached: say so, it is often the whole lesson."""
        for obj in self.lc.objects:
            if (obj.kind == "prog" and id(obj) in self.ids and not obj.attachments
                    and not any(o.same_as is obj and o.attachments for o in self.lc.objects)
                    and obj.same_as is None
                    and not obj.test_runs and obj.known and not obj.probe):
                node = self.add("point", "not attached to anything", probe=True)
                self.tie(node, obj)
                self.edge(self.ids[id(obj)], node, "never", "② never attached")


def build_picture(story: Story) -> Picture:
    """The picture of a story's lifecycle (probes only when the story is verbose)."""
    title = "".join(chunk for chunk, _ in story.headline)
    return _Drawer(story.lifecycle, story.detail == "verbose", title).draw()
