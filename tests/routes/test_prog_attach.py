"""BPF_PROG_ATTACH (routes/prog_attach.py) to a cgroup: a libbpf loader, and bpftool
cgroup attach of a program pinned earlier in the log or before it."""

from __future__ import annotations

import pytest

from tests.routes.helpers import json_doc, lifecycle, picture, real, story, text

CGROUP = "/sys/fs/cgroup/unified/bpfx-rec-23950"


@pytest.mark.parametrize("name", ["net-cg-attach.log", "net-cg-attach-yy-s7.2.log",
                                  "net-bpftool-cgroup.log", "net-bpftool-cgroup-pinned.log"])
def test_cgroup_attachment_is_kept_by_the_cgroup(name: str) -> None:
    (att,) = real(lifecycle(name))
    assert att.via == "BPF_PROG_ATTACH"
    assert att.attach_point == f"cgroup_inet_egress:{CGROUP}"
    assert att.attach_type == "BPF_CGROUP_INET_EGRESS"
    assert att.target is not None and att.target.kind == "cgroup" and att.target.path == CGROUP
    assert att.kept and att.ended_line is None
    # Closing the cgroup's fd does not end it.
    assert att.target.closed_line is not None or name.startswith("net-cg-attach")


def test_story_tells_the_hook_in_words_and_how_to_detach() -> None:
    words = text(story("net-cg-attach.log"))
    assert f"attached to the cgroup {CGROUP} (CGROUP_INET_EGRESS): it runs on every packet " \
        "the processes in it send" in words
    assert f"remove it with `bpftool cgroup detach {CGROUP} egress name cg_egress_pass`" in words


def test_a_program_pinned_earlier_is_named_and_detached_by_its_pin() -> None:
    (att,) = real(lifecycle("net-bpftool-cgroup.log"))
    assert att.prog.name == "cg_egress_pass" and att.prog.same_as is not None
    words = text(story("net-bpftool-cgroup.log"))
    assert "pinned object fd" not in words
    assert f"`bpftool cgroup detach {CGROUP} egress pinned /sys/fs/bpf/bpfx_rec_cg`" in words


def test_a_pin_made_before_the_trace_names_the_program_by_its_path() -> None:
    (att,) = real(lifecycle("net-bpftool-cgroup-pinned.log"))
    assert att.prog.kind == "prog" and att.prog.same_as is None
    words = text(story("net-bpftool-cgroup-pinned.log"))
    assert "BPF_PROG_ATTACH: program pinned at /sys/fs/bpf/bpfx_rec_cg attached to the " \
        f"cgroup {CGROUP}" in words


def test_json_target_is_the_cgroup_object() -> None:
    doc = json_doc("net-cg-attach.log")
    (att,) = [a for a in doc["attachments"] if not a["probe"]]
    cgroups = [o for o in doc["objects"] if o["kind"] == "cgroup"]
    assert [o["path"] for o in cgroups] == [CGROUP]
    assert att["target"] == cgroups[0]["id"]
    assert (att["enabled"], att["outlives_loader"], att["released_line"]) == (True, True, None)


def test_picture_points_the_program_at_the_cgroup_hook() -> None:
    pic = picture("net-cg-attach.log")
    assert not [n for n in pic.nodes if n.kind in ("link", "perf")]
    (point,) = [n for n in pic.nodes if n.kind == "point"]
    assert point.title == f"cgroup_inet_egress:{CGROUP}"
    assert any(e.dst == point.id and e.kind == "attach" for e in pic.edges)
