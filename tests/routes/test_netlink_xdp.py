"""XDP over netlink (routes/netlink_xdp.py) on real recordings: iproute2 (sendmsg),
libbpf's bpf_xdp_attach and bpftool net attach (sendto), and a detach with fd -1."""

from __future__ import annotations

import pytest

from tests.routes.helpers import json_doc, lifecycle, picture, real, story, text

ATTACHES = {
    # fixture: (program, request line, ack line, loader)
    "net-ip-xdp.log": ("xdp_pass", 121, 123, "ip"),
    "net-ip-xdp-yy.log": ("xdp_pass", 121, 123, "ip"),
    "net-xdp-netlink.log": ("xdp_pass", 70, 72, "netload"),
    "net-xdp-netlink-yy-s7.2.log": ("xdp_pass", 70, 72, "netload"),
    "net-bpftool-xdp.log": ("xdp_pass", 134, 136, "bpftool"),
    "net-bpftool-xdp-yy-s6.13.log": ("xdp_pass", 134, 136, "bpftool"),
}


@pytest.mark.parametrize("name", sorted(ATTACHES))
def test_attach_is_live_from_the_kernels_ack(name: str) -> None:
    prog, request, ack, _ = ATTACHES[name]
    (att,) = real(lifecycle(name))
    assert att.via == "IFLA_XDP"
    assert att.prog.name == prog
    assert att.attach_point == "xdp:lo"
    assert (att.line, att.enabled_line) == (request, ack)
    assert att.attrs["mode"] == "generic" and att.attrs["interface"] == "lo"
    assert att.kept and att.ended_line is None and att.link is None


@pytest.mark.parametrize("name", sorted(ATTACHES))
def test_the_story_says_it_outlives_the_loader_and_how_to_remove_it(name: str) -> None:
    _, request, _, loader = ATTACHES[name]
    words = text(story(name))
    assert (f'program "xdp_pass" is still attached to xdp:lo after {loader} exited '
            f"(attached L{request}); remove it with `ip link set dev lo xdpgeneric off`"
            ) in words
    assert "released when the process exited" not in words
    assert "perf event" not in words.lower()


def test_json_contract() -> None:
    doc = json_doc("net-ip-xdp.log")
    (att,) = [a for a in doc["attachments"] if not a["probe"]]
    assert (att["via"], att["attach_point"], att["enabled"], att["outlives_loader"]) == (
        "IFLA_XDP", "xdp:lo", True, True)
    assert att["attrs"]["mode"] == "generic"
    assert att["released_line"] is None and att["end"] is None


def test_a_pinned_program_reopened_by_another_bpftool_is_named_as_that_program() -> None:
    lc = lifecycle("net-bpftool-xdp.log")
    (att,) = real(lc)
    assert att.prog.via == "BPF_OBJ_GET" and att.prog.name == "xdp_pass"
    loaded = att.prog.same_as
    assert loaded is not None and loaded.via == "BPF_PROG_LOAD" and loaded.pid != att.prog.pid
    words = text(story("net-bpftool-xdp.log"))
    assert "1 program attached to 1 event" in words
    assert "opened again from its pin by bpftool" in words
    assert "not attached to anything" not in words
    # One program node in the picture, reached from the pin.
    progs = [n for n in picture("net-bpftool-xdp.log").nodes if n.kind == "prog"]
    assert len(progs) == 1


@pytest.mark.parametrize("name", ["net-ip-xdp-off.log", "net-ip-xdp-off-yy-s7.2.log"])
def test_fd_minus_one_detaches_what_was_attached_before_the_log(name: str) -> None:
    lc = lifecycle(name)
    assert lc.attachments == []
    (detach,) = [a for a in lc.actions if a.kind == "detach"]
    assert detach.detail["confirmed"] is True
    words = text(story(name))
    assert "RTM_NEWLINK with IFLA_XDP fd -1: removed the XDP program from lo in generic mode " \
        "(attached before this log)" in words
