"""BPF_RAW_TRACEPOINT_OPEN (routes/raw_tracepoint.py) on the Go loader's recording."""

from __future__ import annotations

from tests.routes.helpers import lifecycle, picture, real, story


def test_raw_tracepoint_link_is_live_at_once() -> None:
    (att,) = real(lifecycle("go-loader.log"))
    assert att.via == "BPF_RAW_TRACEPOINT_OPEN"
    assert att.attach_point == "raw_tracepoint:sys_enter"
    assert att.link is not None and att.link.kind == "raw_tracepoint"
    assert att.enabled_line == att.line


def test_no_perf_event_concept_without_a_perf_event() -> None:
    s = story("go-loader.log")
    assert "link" in s.terms and "perf event" not in s.terms


def test_picture_draws_a_raw_tracepoint_link() -> None:
    titles = [n.title for n in picture("go-loader.log").nodes if n.kind == "link"]
    assert titles == ["raw tracepoint link"]
