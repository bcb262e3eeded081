"""BPF_LINK_CREATE (routes/link_create.py): XDP and tcx links named by interface, a
cgroup link, and the perf-event and tracing links of the older fixtures."""

from __future__ import annotations

import pytest

from tests.routes.helpers import json_doc, lifecycle, real, story, text

CGROUP = "/sys/fs/cgroup/unified/bpfx-rec-23950"


@pytest.mark.parametrize("name, point, attach_type", [
    ("net-xdp-link.log", "xdp:lo", "BPF_XDP"),
    ("net-xdp-link-yy-s7.2.log", "xdp:lo", "BPF_XDP"),
    # strace 6.1 prints attach type 46 as 0x2e /* BPF_??? */: the table names it.
    ("net-tcx-link.log", "tc:lo:ingress", "BPF_TCX_INGRESS"),
    ("net-tcx-link-yy-s7.2.log", "tc:lo:ingress", "BPF_TCX_INGRESS"),
])
def test_interface_links_are_named_from_the_logs_siocgifindex(
        name: str, point: str, attach_type: str) -> None:
    (att,) = real(lifecycle(name))
    assert (att.via, att.attach_point, att.attach_type) == ("BPF_LINK_CREATE", point,
                                                            attach_type)
    assert att.attrs == {"interface": "lo", "ifindex": 1}
    assert att.target is None and att.link is not None
    # The link's fd ends it: closed right after, the loader keeps nothing attached.
    assert att.end == "released" and not att.kept
    assert att.link.attrs["target_ifindex"] == 1


def test_cgroup_link_targets_the_cgroup_and_ends_with_its_fd() -> None:
    (att,) = real(lifecycle("net-cg-link.log"))
    assert att.attach_point == f"cgroup_inet_egress:{CGROUP}"
    assert att.target is not None and att.target.kind == "cgroup"
    assert att.end == "released" and not att.kept
    words = text(story("net-cg-link.log"))
    assert "still attached" not in words


def test_json_contract() -> None:
    doc = json_doc("net-xdp-link.log")
    (att,) = [a for a in doc["attachments"] if not a["probe"]]
    assert (att["via"], att["attach_point"], att["enabled"], att["outlives_loader"]) == (
        "BPF_LINK_CREATE", "xdp:lo", True, False)


def test_perf_event_links_keep_their_tracepoint_names() -> None:
    atts = real(lifecycle("execsnoop.log"))
    assert atts and all(a.via == "BPF_LINK_CREATE" for a in atts)
    assert all(a.attach_point and a.attach_point.startswith("tracepoint:") for a in atts)
