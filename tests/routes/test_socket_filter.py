"""Socket filters (routes/socket_filter.py) on the recorded libbpf loader:
SO_ATTACH_BPF, SO_DETACH_BPF (printed as SO_DETACH_FILTER) and
SO_ATTACH_REUSEPORT_EBPF on UDP sockets, closed at exit."""

from __future__ import annotations

import pytest

from tests.routes.helpers import json_doc, lifecycle, picture, real, story, text

FIXTURES = ["net-sockfilter.log", "net-sockfilter-yy.log", "net-sockfilter-yy-s6.13.log",
            "net-sockfilter-yy-s7.2.log"]


@pytest.mark.parametrize("name", FIXTURES)
def test_filter_and_reuseport_programs_are_attached_to_their_sockets(name: str) -> None:
    atts = real(lifecycle(name))
    assert [(a.via, a.prog.name, a.attach_point) for a in atts] == [
        ("SO_ATTACH_BPF", "sock_keep", "socket:AF_INET/SOCK_DGRAM"),
        ("SO_ATTACH_REUSEPORT_EBPF", "reuse_pass", "socket:AF_INET/SOCK_DGRAM"),
    ]
    keep, reuse = atts
    assert keep.target is not None and keep.target.kind == "socket" and keep.target.fd == 5
    assert (keep.line, keep.enabled_line, keep.ended_line, keep.end) == (64, 64, 65, "detached")
    # The reuseport program lasts as long as its socket: closed at L76.
    assert reuse.target is not None and reuse.target.fd == 8
    assert (reuse.enabled_line, reuse.ended_line, reuse.end) == (75, 76, "released")
    assert not keep.kept and not reuse.kept


def test_json_contract() -> None:
    doc = json_doc("net-sockfilter.log")
    atts = [a for a in doc["attachments"] if not a["probe"]]
    assert [(a["via"], a["attach_point"], a["enabled"], a["outlives_loader"]) for a in atts] == [
        ("SO_ATTACH_BPF", "socket:AF_INET/SOCK_DGRAM", True, False),
        ("SO_ATTACH_REUSEPORT_EBPF", "socket:AF_INET/SOCK_DGRAM", True, False),
    ]
    sockets = [o for o in doc["objects"] if o["kind"] == "socket"]
    assert [(o["fd"], o["attrs"]["domain"], o["attrs"]["type"]) for o in sockets] == [
        (5, "AF_INET", "SOCK_DGRAM"), (8, "AF_INET", "SOCK_DGRAM")]
    assert {a["target"] for a in atts} == {o["id"] for o in sockets}


def test_story_names_the_socket_and_never_a_perf_event() -> None:
    s = story("net-sockfilter.log")
    words = text(s)
    assert "setsockopt(5, SOL_SOCKET, SO_ATTACH_BPF): program \"sock_keep\" attached to " \
        "socket:AF_INET/SOCK_DGRAM" in words
    assert "setsockopt(5, SOL_SOCKET, SO_DETACH_BPF): detached program \"sock_keep\"" in words
    assert "closed fd 8: socket AF_INET/SOCK_DGRAM (its program goes with it)" in words
    assert "fd fd" not in words
    assert "perf event" not in words.lower()
    assert "socket filter" in s.terms and "perf event" not in s.terms
    # A socket filter ends with its socket: nothing outlives the loader.
    assert "still attached" not in words


def test_picture_draws_a_socket_not_a_link() -> None:
    pic = picture("net-sockfilter.log")
    holders = [n for n in pic.nodes if n.kind in ("socket", "link", "perf")]
    assert [n.kind for n in holders] == ["socket", "socket"]
    assert [n.title for n in holders] == ["socket", "socket"]
