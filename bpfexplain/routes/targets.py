"""What a program is attached to, for the routes that name a target: cgroups and
interfaces (not a route itself).

A cgroup program is attached to a cgroup directory's fd; the directory was opened
as a file, and the attachment makes it an object of its own (kind ``cgroup``).  Its
hook is told in words: what the program sees of every process in that cgroup.
"""

from __future__ import annotations

from typing import Any

from bpfexplain import knowledge as kn
from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.records import Obj

_CGROUP_WORDS = {
    "BPF_CGROUP_INET_INGRESS": "every packet the processes in it receive",
    "BPF_CGROUP_INET_EGRESS": "every packet the processes in it send",
    "BPF_CGROUP_INET_SOCK_CREATE": "every socket the processes in it create",
    "BPF_CGROUP_INET_SOCK_RELEASE": "every socket the processes in it release",
    "BPF_CGROUP_SOCK_OPS": "TCP events (connects, retransmits...) of its sockets",
    "BPF_CGROUP_DEVICE": "every device the processes in it try to use",
    "BPF_CGROUP_SYSCTL": "every sysctl the processes in it read or write",
    "BPF_CGROUP_GETSOCKOPT": "every getsockopt() of the processes in it",
    "BPF_CGROUP_SETSOCKOPT": "every setsockopt() of the processes in it",
}


def is_cgroup_hook(attach_type: Any) -> bool:
    return isinstance(attach_type, str) and (
        attach_type.startswith("BPF_CGROUP_") or attach_type == "BPF_LSM_CGROUP")


def cgroup_words(attach_type: Any) -> str:
    """What a cgroup program sees: ``every packet the processes in it send``."""
    words = _CGROUP_WORDS.get(str(attach_type))
    if words is not None:
        return words
    entry = kn.ATTACH_TYPE.get(str(attach_type))
    return f"{entry.description}, for the processes in it" if entry else \
        "the processes in it"


def cgroup_target(t: TrackerBase, target: Obj | None, attach_type: Any) -> Obj | None:
    """The cgroup a cgroup program was attached to, as an object of its own."""
    if target is None or not is_cgroup_hook(attach_type):
        return target
    if target.kind in ("file", "unknown"):
        t.promote(target, "cgroup")
    return target


def as_prog(obj: Obj | None) -> Obj | None:
    """A pinned object used as a program is one (BPF_OBJ_GET does not say)."""
    if obj is not None and obj.kind in ("pinned", "unknown"):
        obj.kind = "prog"
    return obj
