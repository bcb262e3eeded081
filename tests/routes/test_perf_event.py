"""Perf events (routes/perf_event.py): perf_event_open, SET_BPF, ENABLE and DISABLE."""

from __future__ import annotations

from bpfexplain import routes
from tests.routes.helpers import json_doc, lifecycle, picture, real, story


def test_seed_tracepoint_is_attached_enabled_and_disabled() -> None:
    (att,) = real(lifecycle("seed.log"))
    assert att.via == "PERF_EVENT_IOC_SET_BPF"
    assert att.attach_point == "tracepoint:raw_syscalls:sys_enter"
    assert att.target is not None and att.target.kind == "perf_event"
    assert att.enabled_line is not None and att.end == "disabled" and not att.kept


def test_perf_event_concepts_are_introduced_where_perf_events_are_met() -> None:
    s = story("seed.log")
    assert s.terms.index("perf event") < s.terms.index("PERF_EVENT_IOC_SET_BPF")


def test_picture_draws_the_perf_event_that_holds_it() -> None:
    pic = picture("seed.log")
    assert [n.kind for n in pic.nodes if n.kind in ("perf", "link", "socket")] == ["perf"]
    assert routes.for_via("PERF_EVENT_IOC_SET_BPF").holder is not None


def test_json_contract() -> None:
    doc = json_doc("seed.log")
    (att,) = [a for a in doc["attachments"] if not a["probe"]]
    assert (att["via"], att["enabled"], att["outlives_loader"]) == (
        "PERF_EVENT_IOC_SET_BPF", True, False)
