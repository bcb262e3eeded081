"""tc over netlink (routes/netlink_tc.py): tc's clsact qdisc, bpf filters on ingress and
egress (TCA_OPTIONS left as bytes by strace 6.1), and their deletion."""

from __future__ import annotations

import pytest

from tests.routes.helpers import json_doc, lifecycle, real, story, text


@pytest.mark.parametrize("name, hook", [
    ("net-tc-ingress.log", "ingress"), ("net-tc-ingress-yy-s6.13.log", "ingress"),
    ("net-tc-ingress-yy-s7.2.log", "ingress"), ("net-tc-egress.log", "egress"),
])
def test_bpf_filter_on_a_clsact_hook(name: str, hook: str) -> None:
    (att,) = real(lifecycle(name))
    assert att.via == "TCA_BPF"
    assert att.prog.name == "tc_pass"
    assert att.attach_point == f"tc:lo:{hook}"
    assert att.attrs["parent"] == ("ffff:fff2" if hook == "ingress" else "ffff:fff3")
    assert att.attrs["direct_action"] is True
    assert att.attrs["name"] == "tc_pass.o:[tc]"
    assert att.enabled_line is not None and att.enabled_line > att.line
    assert att.kept and att.ended_line is None


def test_story_tells_the_qdisc_the_filter_and_what_stays() -> None:
    words = text(story("net-tc-ingress.log"))
    assert "RTM_NEWQDISC: added a clsact qdisc to lo" in words
    assert "RTM_NEWTFILTER with kind bpf over netlink: program \"tc_pass\" attached to " \
        "tc:lo:ingress, where it sees every packet lo receives" in words
    assert "(direct action)" in words
    assert "remove it with `tc filter del dev lo ingress`" in words
    assert "perf event" not in words.lower()


def test_json_contract() -> None:
    doc = json_doc("net-tc-egress.log")
    (att,) = [a for a in doc["attachments"] if not a["probe"]]
    assert (att["via"], att["attach_point"], att["enabled"], att["outlives_loader"]) == (
        "TCA_BPF", "tc:lo:egress", True, True)


def test_deleting_filters_and_the_qdisc_is_told() -> None:
    lc = lifecycle("net-tc-del.log")
    kinds = [(a.kind, a.detail.get("op")) for a in lc.actions
             if a.kind in ("detach", "qdisc")]
    assert kinds == [("detach", "filter"), ("detach", "filter"), ("qdisc", "RTM_DELQDISC")]
    words = text(story("net-tc-del.log"))
    assert "RTM_DELTFILTER: removed the filters on lo's ingress hook" in words
    assert "RTM_DELTFILTER: removed the filters on lo's egress hook" in words
    assert "RTM_DELQDISC: removed lo's clsact qdisc" in words
