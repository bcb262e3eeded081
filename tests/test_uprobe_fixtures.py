"""uprobe, uretprobe and USDT attach points of real loaders, judged against bpftool.

Each recording below was made with ``run``'s strace flags (``abbrev=!perf_event_open``,
so each uprobe's file offset, ``config2``, is in the log) and has a ``bpftool perf
show`` snapshot of the traced processes, taken while the loader ran (its meta file).
Three loader kinds: bpftrace (which resolves the symbol itself), libbpf-tools that
find the symbol in the ELF themselves (bashreadline, gethostlatency, funclatency), and
bpftrace's USDT probes (an offset from ``.note.stapsdt`` with a semaphore).

What the log says (file, offset, uprobe or uretprobe) must match the snapshot on any
machine.  The symbol is read from the file on this machine, so it is asserted when
this machine runs the recording's kernel; otherwise nothing may be named and the
story must say why.  The expected symbols come from each command line (what the tool
is documented to probe), not from bpfexplain's output.
"""

from __future__ import annotations

import re

import pytest

from bpfexplain.story import Story
from bpfexplain.tracking.records import Obj
from tests.fixture_stories import fixture_story
from tests.test_naming_rules import headline, local_story, meta, recorded_here, text_of

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
USR_LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
HOSTS = ("getaddrinfo", "gethostbyname", "gethostbyname2")

# fixture: the probes its command asks for, as (kind, file, what) with `what` the
# symbol (or USDT provider:name) the tool probes.
EXPECTED: dict[str, set[tuple[str, str, str]]] = {
    "bt-bashreadline.log": {("uretprobe", "/bin/bash", "readline")},
    "lt-bashreadline.log": {("uretprobe", "/bin/bash", "readline")},
    "bt-gethostlatency.log": {(k, LIBC, f) for k in ("uprobe", "uretprobe") for f in HOSTS},
    # libbpf-tools' gethostlatency finds libc through ld.so's cache: the /usr path.
    "lt-gethostlatency.log": {(k, USR_LIBC, f) for k in ("uprobe", "uretprobe") for f in HOSTS},
    "lt-funclatency-uprobe.log": {("uprobe", LIBC, "malloc"), ("uretprobe", LIBC, "malloc")},
    "bt-usdt.log": {("usdt", "/usr/bin/python3.11", "python:function__entry")},
}

_PERF_LINE = re.compile(
    r"^pid \d+\s+fd \d+: prog_id \d+\s+(uprobe|uretprobe)\s+filename (\S+)\s+offset (\d+)$",
    re.M)


def snapshot_probes(name: str) -> set[tuple[str, str, int]]:
    """(uprobe|uretprobe, file, offset) of every perf entry bpftool showed."""
    text = meta(name)["snapshot"]["text"]
    section = text.split("## perf show", 1)[1].split("\n## ", 1)[0]
    return {(k, f, int(o)) for k, f, o in _PERF_LINE.findall(section)}


def uprobe_events(story: Story) -> list[tuple[str, Obj]]:
    """(attach point, perf event) of every real attachment to a uprobe perf event."""
    out = []
    for att in story.lifecycle.attachments:
        perf = att.target
        if att.probe or perf is None or perf.kind != "perf_event":
            continue
        if isinstance(perf.attrs.get("type"), int):  # a dynamic PMU: uprobe here
            out.append((att.attach_point or "", perf))
    return out


def _kind(point: str, perf: Obj) -> str:
    """uprobe or uretprobe as bpftool shows it (a USDT probe is a uprobe)."""
    return "uretprobe" if point.startswith("uretprobe") else "uprobe"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_log_facts_match_the_snapshot(name: str) -> None:
    # File, offset and direction come from the log alone: no lookups on this machine.
    story = fixture_story(name)
    events = uprobe_events(story)
    assert events, "no uprobe attachment found"
    seen = {(_kind(p, perf), perf.attrs.get("file"), perf.attrs.get("offset"))
            for p, perf in events}
    assert seen == snapshot_probes(name)
    # Distinct probes are distinct events, however many programs serve them.
    n = len(seen)
    assert re.search(rf"attached to {n} events?\b", headline(story)), headline(story)
    # Nothing is named from this machine when lookups are off.
    for point, _ in events:
        assert point in ("uprobe", "uretprobe", "usdt"), point
    text = text_of(story)
    for _, perf in events:
        assert f"at offset {perf.attrs['offset']:#x} of {perf.attrs['file']}" in text
    assert "read from that file on this machine" not in text


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_targets_named_from_the_binary_on_this_machine(name: str) -> None:
    story = local_story(name)
    events = uprobe_events(story)
    text = text_of(story)
    if recorded_here(name):
        named = set()
        for point, perf in events:
            kind, file, what = point.split(":", 2)
            assert file == perf.attrs["file"]
            assert perf.attach_source == "local"
            named.add((kind, file, what))
        assert named == EXPECTED[name]
        assert "(read from that file on this machine)" in text
        # The symbol came from the ELF file, not from the kernel's BTF.
        assert "name read from this machine's vmlinux BTF" not in text
    else:
        assert {p for p, _ in events} <= {"uprobe", "uretprobe", "usdt"}
        assert "not looked up on this machine" in text
