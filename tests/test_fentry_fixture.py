"""A real fentry loader on a kernel that refuses it (fixtures/libbpf-fentry.log).

The loader (fixtures/src/fentry/) asks for ``SEC("fentry/vfs_read")``: libbpf finds
vfs_read's BTF id in the kernel's vmlinux BTF and loads the program with it as
``attach_btf_id``; this kernel refuses the load with EPERM and the loader exits with
status 1.  The story must say what the program was for (``fentry:vfs_read``, read in
this machine's vmlinux BTF, so only when the log came from this kernel build) and
blame the refusal.  The expected name comes from the program's source, not from
bpfexplain.  For "another kernel", copies of the log with its kernel identity changed
(the vmlinux BTF header the loader read, kern_version, the sidecar's release) are
made in a temporary directory: the one hand-made change of this file, said so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bpfexplain.framing import Stats, open_inputs
from bpfexplain.pipeline import explain_streams, make_resolver
from bpfexplain.story import Story
from tests.fixture_stories import FIXTURES, fixture_story
from tests.test_naming_rules import headline, local_story, recorded_here, text_of

NAME = "libbpf-fentry.log"


def _refused(story: Story) -> list[dict[str, object]]:
    return [f.attrs for f in story.lifecycle.failures
            if f.call == "BPF_PROG_LOAD" and f.attrs.get("prog_name") == "on_vfs_read"]


def test_the_refusal_is_the_cause() -> None:
    story = fixture_story(NAME)
    head = headline(story)
    assert "failed" in head and "BPF_PROG_LOAD EPERM" in head, head
    refused = _refused(story)
    assert refused and all(not f.probe for f in story.lifecycle.failures
                           if f.attrs.get("prog_name") == "on_vfs_read")
    assert all(a["expected_attach_type"] == "BPF_TRACE_FENTRY" for a in refused)
    # Without lookups on this machine the id stays a number, and nothing is claimed.
    for attrs in refused:
        assert re.fullmatch(r"fentry:btf_id \d+", str(attrs["attach_target"]))
    assert "name read from this machine's vmlinux BTF" not in text_of(story)


def test_fentry_target_named_from_this_machines_btf() -> None:
    story = local_story(NAME)
    text = text_of(story)
    refused = _refused(story)
    assert refused
    if recorded_here(NAME):
        for attrs in refused:
            assert attrs["attach_target"] == "fentry:vfs_read"
            assert attrs["attach_target_source"] == "local"
        assert ('for program "on_vfs_read" (to attach to fentry:vfs_read; name read from '
                "this machine's vmlinux BTF)") in text
    else:
        assert all(str(a["attach_target"]).startswith("fentry:btf_id ") for a in refused)
        assert "not looked up on this machine" in text


def _copy_with(tmp: Path, *, btf_header: bool, version: bool, release: bool) -> Path:
    """The fixture and its sidecar copied into ``tmp`` with parts of the recording
    kernel's identity changed (hand-made, for this test only)."""
    log = (FIXTURES / NAME).read_text(errors="surrogateescape")
    if btf_header:
        # vmlinux BTF header: str_len's low byte, as strace escapes it (\246 = 0xa6).
        assert log.count("\\0\\246l#\\0") >= 1
        log = log.replace("\\0\\246l#\\0", "\\0\\245l#\\0", 1)
    if version:
        assert "KERNEL_VERSION(6, 18, 44)" in log
        log = log.replace("KERNEL_VERSION(6, 18, 44)", "KERNEL_VERSION(5, 15, 122)")
    out = tmp / NAME
    out.write_text(log, errors="surrogateescape")
    meta = json.loads((FIXTURES / (NAME[:-4] + ".meta.json")).read_text())
    if release:
        meta["kernel"] = "5.15.122-other"
    (tmp / (NAME[:-4] + ".meta.json")).write_text(json.dumps(meta))
    return out


@pytest.mark.parametrize(("btf_header", "version", "release"), [
    (True, False, False),   # another build of the same release: BTF ids differ
    (True, True, True),     # another kernel altogether
])
def test_nothing_named_for_another_kernel(tmp_path: Path, btf_header: bool, version: bool,
                                          release: bool) -> None:
    path = _copy_with(tmp_path, btf_header=btf_header, version=version, release=release)
    streams = open_inputs([str(path)])
    try:
        story = explain_streams(streams, Stats(), make_resolver([str(path)], local=True))
    finally:
        for _, stream in streams:
            stream.close()
    refused = _refused(story)
    assert refused
    for attrs in refused:
        assert re.fullmatch(r"fentry:btf_id \d+", str(attrs["attach_target"])), attrs
        assert "attach_target_source" not in attrs
    text = text_of(story)
    assert "fentry:vfs_read" not in text
    assert "not looked up on this machine" in text
