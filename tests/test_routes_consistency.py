"""Every attach route is wired everywhere it must be.

A route's syscalls must pass framing's prefilter, be in the set ``run`` traces and the
set ``fixtures/record.sh`` records with, stop the deep backend (a seccomp number on
x86_64 and aarch64, and a decoder); its ``via`` values must be in the JSON schema and
the :data:`~bpfexplain.tracking.records.Via` kinds; its glossary terms must exist.
:func:`route_problems` lists what is missing, so the checks themselves are tested
with fake routes that miss one part each.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import pytest

from bpfexplain import glossary, live, routes
from bpfexplain.deep import seccomp
from bpfexplain.deep.syscalls import ENTRY
from bpfexplain.framing import INTERESTING
from bpfexplain.routes import ROUTES, Route
from bpfexplain.traced import TRACED
from bpfexplain.tracking import CORE_SYSCALLS, Tracker
from bpfexplain.tracking.records import Via

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "schema.json").read_text())


def _schema_vias() -> frozenset[str]:
    return frozenset(SCHEMA["$defs"]["attachment"]["properties"]["via"]["enum"])


def _traced_by_run() -> frozenset[str]:
    expr = live.trace_filter()
    assert expr.startswith("trace=")
    return frozenset(name.lstrip("?") for name in expr[len("trace="):].split(","))


@dataclass(frozen=True)
class Wiring:
    """Where a route's parts must appear; the real places by default."""

    prefilter: Collection[str] = INTERESTING
    traced: Collection[str] = field(default_factory=_traced_by_run)
    seccomp_tables: Mapping[str, Mapping[str, int]] = field(default_factory=lambda: {
        "x86_64": seccomp.X86_64_SYSCALLS, "aarch64": seccomp.AARCH64_SYSCALLS})
    decoders: Collection[str] = frozenset(ENTRY)
    schema_vias: Collection[str] = field(default_factory=_schema_vias)
    via_kinds: Collection[str] = frozenset(get_args(Via))
    term: Callable[[str], Any] = glossary.lookup


def route_problems(route: Route, wiring: Wiring | None = None) -> list[str]:
    """What is missing for ``route``, one line each; empty when it is fully wired."""
    w = wiring or Wiring()
    problems: list[str] = []
    if not route.vias:
        problems.append(f"{route.name}: makes no attachments (no via)")
    if not route.traced:
        problems.append(f"{route.name}: follows no syscall")
    for name in sorted(route.traced):
        if name not in w.prefilter:
            problems.append(f"{route.name}: {name} is dropped by framing's prefilter")
        if name not in w.traced:
            problems.append(f"{route.name}: {name} is not traced by run")
        for arch, table in w.seccomp_tables.items():
            if name not in table:
                problems.append(f"{route.name}: {name} has no {arch} number in the deep "
                                "backend's seccomp filter")
        if name not in w.decoders:
            problems.append(f"{route.name}: {name} has no deep-mode decoder")
    for via in route.vias:
        if via not in w.schema_vias:
            problems.append(f"{route.name}: via {via} is not in docs/schema.json")
        if via not in w.via_kinds:
            problems.append(f"{route.name}: via {via} is not a Via kind")
        if w.term(via) is None:
            problems.append(f"{route.name}: via {via} is not in the glossary")
    for term in route.terms:
        if w.term(term) is None:
            problems.append(f"{route.name}: term {term!r} is not in the glossary")
    return problems


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_route_is_wired(route: Route) -> None:
    assert route_problems(route) == []


def test_each_via_belongs_to_exactly_one_route() -> None:
    vias = [via for route in ROUTES for via in route.vias]
    assert len(vias) == len(set(vias))
    assert set(vias) == set(get_args(Via)) == _schema_vias()
    for via in vias:
        assert via in routes.for_via(via).vias


def test_route_names_are_their_modules() -> None:
    for route in ROUTES:
        module = sys.modules[f"bpfexplain.routes.{route.name}"]
        assert module.ROUTE is route


def test_every_handled_syscall_and_command_reaches_the_tracker() -> None:
    tracker = Tracker()
    for route in ROUTES:
        for name in route.syscalls:
            assert name in tracker._calls, (route.name, name)
        for cmd, handler in route.bpf_commands.items():
            assert tracker.bpf_routes[cmd] is handler


# -- the traced set is written once ---------------------------------------------------


def test_traced_set_is_the_trackers_plus_the_routes() -> None:
    assert frozenset(CORE_SYSCALLS | {n for r in ROUTES for n in r.traced}) == TRACED
    assert INTERESTING == TRACED
    assert _traced_by_run() == TRACED
    assert set(seccomp.numbers(seccomp.AUDIT_ARCH_X86_64).values()) == \
        TRACED & set(seccomp.X86_64_SYSCALLS)


def test_record_script_reads_the_traced_set() -> None:
    script = (ROOT / "fixtures" / "record.sh").read_text()
    assert re.search(r"^FULLSET=\$\(.*-m bpfexplain\.traced --strace\)", script, re.M)
    out = subprocess.run([sys.executable, "-m", "bpfexplain.traced", "--strace"],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == live.trace_filter()
    plain = subprocess.run([sys.executable, "-m", "bpfexplain.traced"], capture_output=True,
                           text=True, check=True, cwd=ROOT).stdout
    assert plain.strip().split(",") == sorted(TRACED)


def test_every_core_syscall_is_decoded_in_deep_mode_where_it_exists() -> None:
    for name in CORE_SYSCALLS:
        if name in seccomp.X86_64_SYSCALLS or name in seccomp.AARCH64_SYSCALLS:
            assert name in ENTRY, name


# -- the checks can fail ------------------------------------------------------------


def _fake(**changes: Any) -> Route:
    """The perf event route with some parts changed: a route that is not wired."""
    route = routes.perf_event.ROUTE
    fields = {name: getattr(route, name) for name in Route._fields}
    return Route(**{**fields, "name": "fake", **changes})


def test_a_fully_wired_fake_route_passes() -> None:
    assert route_problems(_fake()) == []


def test_a_syscall_nobody_traces_is_reported_everywhere() -> None:
    route = _fake(syscalls={**routes.perf_event.ROUTE.syscalls, "frobnicate": lambda t, c: None})
    problems = route_problems(route)
    assert problems == [
        "fake: frobnicate is dropped by framing's prefilter",
        "fake: frobnicate is not traced by run",
        "fake: frobnicate has no x86_64 number in the deep backend's seccomp filter",
        "fake: frobnicate has no aarch64 number in the deep backend's seccomp filter",
        "fake: frobnicate has no deep-mode decoder",
    ]


@pytest.mark.parametrize("part, wiring, expected", [
    ("prefilter", Wiring(prefilter=INTERESTING - {"ioctl"}),
     "fake: ioctl is dropped by framing's prefilter"),
    ("run", Wiring(traced=TRACED - {"perf_event_open"}),
     "fake: perf_event_open is not traced by run"),
    ("seccomp", Wiring(seccomp_tables={
        "x86_64": seccomp.X86_64_SYSCALLS,
        "aarch64": {k: v for k, v in seccomp.AARCH64_SYSCALLS.items() if k != "ioctl"}}),
     "fake: ioctl has no aarch64 number in the deep backend's seccomp filter"),
    ("decoder", Wiring(decoders=frozenset(ENTRY) - {"perf_event_open"}),
     "fake: perf_event_open has no deep-mode decoder"),
    ("schema", Wiring(schema_vias=_schema_vias() - {"PERF_EVENT_IOC_SET_BPF"}),
     "fake: via PERF_EVENT_IOC_SET_BPF is not in docs/schema.json"),
    ("kinds", Wiring(via_kinds=frozenset(get_args(Via)) - {"PERF_EVENT_IOC_SET_BPF"}),
     "fake: via PERF_EVENT_IOC_SET_BPF is not a Via kind"),
])
def test_each_missing_part_is_reported(part: str, wiring: Wiring, expected: str) -> None:
    assert route_problems(_fake(), wiring) == [expected], part


def test_a_term_missing_from_the_glossary_is_reported() -> None:
    problems = route_problems(_fake(terms=("PERF_EVENT_IOC_SET_BPF", "frobnication")))
    assert problems == ["fake: term 'frobnication' is not in the glossary"]


def test_a_route_that_attaches_nothing_is_reported() -> None:
    problems = route_problems(_fake(vias=(), syscalls={}))
    assert problems == ["fake: makes no attachments (no via)", "fake: follows no syscall"]
