"""Probes told from failures and real programs, loaders that give up, attach points
named: each rule on several real recordings of its class (fixtures/, see README).

Names looked up on this machine depend on the machine: a test of such a name asserts
the name when this machine runs the recording's kernel build (the same vmlinux BTF as
the loader read, or the sidecar's release) and otherwise that nothing was named and
the story says why.  Either way the assertion can fail.
"""

from __future__ import annotations

import io
import json
import platform
import re
from pathlib import Path
from typing import Any

import pytest

from bpfexplain.framing import Stats, open_inputs
from bpfexplain.origin import BTF_PATH, btf_header
from bpfexplain.pipeline import explain_streams, make_resolver
from bpfexplain.render.text import make_console, print_story
from bpfexplain.story import Story, cite
from bpfexplain.tracking import Lifecycle
from bpfexplain.tracking.probes import task_fd_query_answer
from bpfexplain.values import as_int
from tests.fixture_stories import FIXTURES, fixture_story


def text_of(story: Story) -> str:
    """The story as printed, with line wrapping undone (blanks collapsed)."""
    out = io.StringIO()
    print_story(story, make_console(out, width=200, color=False))
    return re.sub(r"\s+", " ", out.getvalue())


def local_story(name: str) -> Story:
    """A fixture's story with local lookups on (the sidecar still says the kernel)."""
    path = str(FIXTURES / name)
    streams = open_inputs([path])
    try:
        return explain_streams(streams, Stats(), make_resolver([path], local=True))
    finally:
        for _, stream in streams:
            stream.close()


def meta(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / (name[:-4] + ".meta.json")).read_text())
    return data


def recorded_here(name: str) -> bool:
    """Whether this machine runs the kernel the recording was made on."""
    return bool(meta(name)["kernel"] == platform.release())


def headline(story: Story) -> str:
    return "".join(text for text, _ in story.headline)


def real_failures(lc: Lifecycle) -> list[str]:
    return [f"{f.call} {f.errno}" for f in lc.failures if not f.probe]


# --------------------------------------------------------------------------------
# feature probes versus failures versus real programs


def present(*names: str) -> list[str]:
    """The recordings among ``names`` that this checkout has (some join with other
    work: bpftrace tools that start threads need the thread-exit fix)."""
    return [n for n in names if (FIXTURES / n).exists()]


HELPER_PROBES = present("naming-bpftrace-str.log", "bt-str.log", "bt-gethostlatency.log",
                        "bt-bashreadline.log", "bt-usdt.log", "bt-opensnoop.log")
"""bpftrace runs whose helper checks (2-instruction KPROBE loads, log_level=1) fail."""


@pytest.mark.parametrize("name", HELPER_PROBES)
def test_bpftrace_helper_probes_are_folded(name: str) -> None:
    story = fixture_story(name)
    lc = story.lifecycle
    refused = [f for f in lc.failures if f.call == "BPF_PROG_LOAD" and f.errno == "EACCES"]
    assert refused, "the recording shows bpftrace's helper probes"
    for f in refused:
        assert f.attrs["insn_cnt"] == 2 and f.attrs["prog_type"] == "BPF_PROG_TYPE_KPROBE"
        assert f.attrs["log_level"] == 1 and not f.attrs["prog_name"]
        assert f.probe and not f.ends_loader
        assert f.feature is not None and "helper" in f.feature
    assert "BPF_PROG_LOAD EACCES" not in real_failures(lc)
    # No phantom: the helper checks that load are probes too, unnamed as they are.
    assert all(p.name for p in lc.real_programs()), [p.label() for p in lc.real_programs()]
    if meta(name)["exit_status"] in (0, 124) and not real_failures(lc):
        assert "failures: none that matter" in story.footer


@pytest.mark.parametrize(("name", "program", "cause"), [
    # A named program the verifier refuses, then exit(1): never a probe.
    ("verifier-reject.log", "bad_prog", "BPF_PROG_LOAD EACCES"),
    # Not even the feature probes may load: EPERM, and the tool gives up.
    ("nonroot-execsnoop.log", None, "BPF_PROG_LOAD EPERM"),
    ("nonroot-bpftrace.log", None, "BPF_BTF_GET_NEXT_ID EPERM"),
    ("nonroot-bpftool.log", None, "BPF_PROG_GET_NEXT_ID EPERM"),
    # The programs load; attaching fails and the loader exits non-zero.
    ("kprobe-fail.log", None, "openat ENOENT"),
    ("hw-fail.log", None, "perf_event_open ENOENT"),
    ("naming-filelife-fail.log", None, None),
    *[pytest.param(n, None, "openat ENOENT", id=n) for n in present(
        # cilium/ebpf: a missing tracepoint id file, kprobe_events missing twice;
        # BCC: kprobe_events missing.
        "go-tracepoint-enoent.log", "go-kprobe-fail.log", "bcc-execsnoop.log")],
])
def test_a_failure_that_ends_the_loader_is_its_cause(name: str, program: str | None,
                                                     cause: str | None) -> None:
    story = fixture_story(name)
    lc = story.lifecycle
    status = meta(name)["exit_status"]
    assert status != 0
    causes = [f for f in lc.failures if f.ends_loader]
    assert causes, "the last failure before the non-zero exit is the cause"
    last = max(causes, key=lambda f: f.line)
    if cause is not None:
        assert f"{last.call} {last.errno}" == cause
    assert all(not f.probe for f in causes)
    assert all("tries another way" not in f.why for f in causes)
    if program is not None:
        assert last.attrs.get("prog_name") == program
    head = headline(story)
    assert re.search(r"failed: exited with status \d+ after ", head), head
    assert f"{last.call} {last.errno}" in head
    assert "none that matter" not in " ".join(story.footer)


def test_only_the_last_failures_are_blamed() -> None:
    # bpftrace first looks for the kprobe PMU (missing: it has a fallback), then the
    # legacy kprobe_events file (missing too): only the second ends it.
    lc = fixture_story("kprobe-fail.log").lifecycle
    by_path = {f.attrs.get("path", "").rsplit("/", 1)[-1]: f for f in lc.failures
               if f.call == "openat"}
    assert by_path["kprobe_events"].ends_loader
    assert not by_path["type"].ends_loader and by_path["type"].probe


@pytest.mark.parametrize("name", ["seed.log", "execsnoop.log", "go-loader.log", "begin-end.log",
                                  "naming-interval-ms.log", "naming-biolatency.log"])
def test_loaders_that_finish_well_blame_nothing(name: str) -> None:
    story = fixture_story(name)
    assert not any(f.ends_loader for f in story.lifecycle.failures)
    assert "failed:" not in headline(story)


def test_a_named_tiny_program_that_is_kept_is_real() -> None:
    # 2-instruction socket filter and reuseport programs, named, kept until exit.
    lc = fixture_story("net-sockfilter.log").lifecycle
    names = {p.name for p in lc.real_programs()}
    assert {"sock_keep", "reuse_pass"} <= names
    for p in lc.real_programs():
        assert p.attrs["insn_cnt"] == 2


@pytest.mark.parametrize("name", ["seed.log", "interval.log", *HELPER_PROBES])
def test_bpftraces_named_probe_closed_at_once_stays_a_probe(name: str) -> None:
    # bpftrace names one of its kprobe probes after a kernel function (ksys_read).
    lc = fixture_story(name).lifecycle
    probes = [o for o in lc.objects if o.kind == "prog" and o.name == "ksys_read"]
    assert probes and all(p.probe for p in probes)


def test_task_fd_query_answers_are_not_failures() -> None:
    lc = fixture_story("naming-bpftool-perf-show.log").lifecycle
    told = {f.errno for f in lc.failures if f.call == "BPF_TASK_FD_QUERY"}
    assert not told & {"ENOENT", "ENOTSUPP"}
    log = (FIXTURES / "naming-bpftool-perf-show.log").read_text()
    assert re.search(r"BPF_TASK_FD_QUERY.*= -1 ENOENT", log)
    assert re.search(r"BPF_TASK_FD_QUERY.*= -1 ENOTSUPP", log)


@pytest.mark.parametrize("name", ["bpftool-map-show-pinned.log"])
def test_opening_a_pin_is_not_pinning(name: str) -> None:
    story = fixture_story(name)
    titles = [p.title for s in story.sections for p in s.phases]
    assert "Opening pinned objects" in titles
    assert "Pinning objects to the BPF filesystem" not in titles
    graph = [text for node in story.graph for text, _ in node.label]
    assert "opened pins" in graph and "pins" not in graph


# --------------------------------------------------------------------------------
# attach points


@pytest.mark.parametrize(("name", "count", "unit"), [
    ("interval.log", 1, "s"), ("naming-interval-ms.log", 100, "ms")])
def test_intervals_are_named_as_bpftrace_would(name: str, count: int, unit: str) -> None:
    lc = fixture_story(name).lifecycle
    (att,) = [a for a in lc.attachments if not a.probe]
    assert att.attach_point == f"interval:{unit}:{count}"
    perf = att.target
    assert perf is not None
    period = perf.attrs["sample_period"]
    assert period == count * {"s": 10**9, "ms": 10**6}[unit]
    assert perf.attrs["perf_point"] == f"software:cpu-clock:{period}"
    assert att.prog.name == str(count)  # bpftrace names the program after the count


def test_profile_on_every_cpu_is_not_an_interval() -> None:
    lc = fixture_story("profile.log").lifecycle
    points = {a.attach_point for a in lc.attachments if not a.probe}
    assert points == {"profile:hz:99"}


def test_begin_end_run_once_and_are_not_counted_as_attached() -> None:
    story = fixture_story("begin-end.log")
    lc = story.lifecycle
    begin_end = [p for p in lc.real_programs() if p.name in ("BEGIN", "END")]
    assert len(begin_end) == 2
    for p in begin_end:
        assert p.test_runs and not p.attachments
    assert "attached" not in headline(story)


def _tp_btf_points(lc: Lifecycle) -> list[tuple[str, str | None]]:
    return [(a.prog.name, a.attach_point) for a in lc.attachments if not a.probe]


@pytest.mark.parametrize("name", ["naming-biolatency.log", "naming-runqlat.log"])
def test_tp_btf_named_from_vmlinux_btf_only_for_this_kernel(name: str) -> None:
    story = local_story(name)
    lc = story.lifecycle
    points = _tp_btf_points(lc)
    assert points and all(p and p.startswith("tp_btf:") for _, p in points)
    # The loader's own read of /sys/kernel/btf/vmlinux says which build it ran on.
    log = (FIXTURES / name).read_text(errors="replace")
    assert "/sys/kernel/btf/vmlinux" in log
    here = Path(BTF_PATH).read_bytes()[:24] if Path(BTF_PATH).exists() else b""
    same = recorded_here(name) and btf_header(here) is not None
    text = text_of(story)
    for prog, point in points:
        assert point is not None
        if same:
            # libbpf names a program after its C function, cut to 15 characters: the
            # tracepoint's name must begin with it.
            tp = point.split(":", 1)[1]
            assert not tp.startswith("btf_id"), point
            assert tp.startswith(prog.rstrip("_")) or prog.startswith("handle_"), (prog, tp)
        else:
            assert re.fullmatch(r"tp_btf:btf_id \d+", point), point
    if same:
        assert "name read from this machine's vmlinux BTF" in text
    else:
        assert "not looked up on this machine" in text
    # Without local lookups nothing is named, and nothing is claimed.
    plain = fixture_story(name)
    assert all(re.fullmatch(r"tp_btf:btf_id \d+", p or "") for _, p in _tp_btf_points(
        plain.lifecycle))


def test_uprobes_offsets_files_and_distinct_events() -> None:
    name = "naming-uprobes-v.log"
    story = local_story(name)
    lc = story.lifecycle
    perfs = [o for o in lc.objects if o.kind == "perf_event" and isinstance(
        o.attrs.get("type"), int)]
    assert len(perfs) == 6
    libc = "/lib/x86_64-linux-gnu/libc.so.6"
    for p in perfs:
        assert p.attrs["file"] == libc and isinstance(p.attrs["offset"], int)
    # The snapshot bpftool took while it ran names the same file and offsets.
    snap = meta(name).get("snapshot", {}).get("text", "")
    shown = json.loads(snap.split("\n", 1)[1]) if snap else {"perf": []}
    snap_offsets = {e["offset"] for e in shown["perf"] if "offset" in e}
    if snap_offsets:
        assert snap_offsets == {p.attrs["offset"] for p in perfs}
    assert "6 programs attached to 6 events" in headline(story)
    points = sorted(a.attach_point or "" for a in lc.attachments if not a.probe)
    if recorded_here(name):
        assert points == sorted(
            [f"uprobe:{libc}:{f}" for f in ("malloc", "free", "calloc")]
            + [f"uretprobe:{libc}:{f}" for f in ("malloc", "realloc", "strlen")])
        assert "(read from that file on this machine)" in text_of(story)
    else:
        assert set(points) == {"uprobe", "uretprobe"}
        assert "not looked up on this machine" in text_of(story)


def test_usdt_probe_named_from_the_stapsdt_note() -> None:
    name = "naming-usdt-python.log"
    story = local_story(name)
    lc = story.lifecycle
    (att,) = [a for a in lc.attachments if not a.probe]
    perf = att.target
    assert perf is not None
    assert perf.attrs["file"] == "/usr/bin/python3.11"
    # A USDT probe with a semaphore: its offset rides in config's upper half.
    assert perf.attrs["config"] >> 32 > 0
    if recorded_here(name):
        assert att.attach_point == "usdt:/usr/bin/python3.11:python:function__entry"
        assert perf.attach_source == "local"
    else:
        assert att.attach_point == "usdt"
    # Even without this machine, the semaphore's offset in config says "USDT".
    plain = fixture_story(name).lifecycle
    (att2,) = [a for a in plain.attachments if not a.probe]
    assert att2.attach_point == "usdt"
    assert att2.target is not None
    assert att2.target.attrs["semaphore_offset"] == perf.attrs["config"] >> 32


def test_seed_notes_kernel_is_never_named_from_here(tmp_path: Path) -> None:
    # The excerpt in the seed notes, recorded on Linux 5.15.122 (copied from
    # shared/seed-notes.md: a user's log, the one hand-made input of this file).
    log = tmp_path / "seed-notes.log"
    log.write_text(
        'bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_TRACEPOINT, insn_cnt=29, '
        'insns=0x55abc0cf8600, license="GPL", log_level=0, log_size=0, log_buf=NULL, '
        'kern_version=KERNEL_VERSION(5, 15, 122), prog_flags=0, prog_name="sys_enter", '
        'prog_ifindex=0, expected_attach_type=BPF_CGROUP_INET_INGRESS, prog_btf_fd=8, '
        'func_info_rec_size=0, func_info=NULL, func_info_cnt=0, line_info_rec_size=0, '
        'line_info=NULL, line_info_cnt=0, attach_btf_id=0, attach_prog_fd=0, '
        'fd_array=NULL}, 128) = 9\n'
        'perf_event_open({type=PERF_TYPE_TRACEPOINT, size=0 /* PERF_ATTR_SIZE_??? */, '
        'config=348, sample_period=1, sample_type=0, read_format=0, precise_ip=0 '
        '/* arbitrary skid */, ...}, -1, 0, -1, PERF_FLAG_FD_CLOEXEC) = 7\n'
        'ioctl(7, PERF_EVENT_IOC_SET_BPF, 9)     = 0\n'
        'ioctl(7, PERF_EVENT_IOC_ENABLE, 0)      = 0\n')
    streams = open_inputs([str(log)])
    story = explain_streams(streams, Stats(), make_resolver([str(log)], local=True))
    (att,) = story.lifecycle.attachments
    assert att.attach_point is None
    text = text_of(story)
    if platform.release().startswith("5.15.122"):
        pytest.skip("this machine runs the seed notes' kernel")
    assert "not looked up on this machine: the log was recorded on Linux 5.15.122" in text
    assert 'a hint: the program attached to it is named "sys_enter"' in text


# --------------------------------------------------------------------------------
# the parser's gaps


def test_x_verbose_instructions_parse_with_their_names() -> None:
    from bpfexplain.parser import parse_events
    from bpfexplain.values import Call, flag_names, unwrap

    stats = Stats()
    path = FIXTURES / "naming-xverbose-v.log"
    with path.open("rb") as stream:
        loads = [e for e in parse_events([(path.name, stream)], stats)
                 if isinstance(e, Call) and e.name == "bpf" and e.args
                 and "insns" in (unwrap(e.args[1]) or {})]
    assert stats.unparsable == []
    assert loads, "the recording prints instructions (-v)"
    for call in loads:
        insns = unwrap(call.args[1])["insns"]
        assert isinstance(insns, list) and insns
        # Every program ends with exit: BPF_JMP|BPF_K|BPF_EXIT, named part by part.
        assert flag_names(insns[-1]["code"]) == ["BPF_JMP", "BPF_K", "BPF_EXIT"]


# --------------------------------------------------------------------------------
# issue 10, the remaining classes: each rule on two recordings of its class


def text_story(name: str) -> str:
    return text_of(fixture_story(name))


@pytest.mark.parametrize(("name", "program"), [
    ("lt-cachestat.log", "add_to_page_cac"), ("lt-biostacks.log", "blk_account_io_"),
    ("libbpf-fentry.log", "on_vfs_read")])
def test_a_skeleton_program_refused_is_the_real_failure(name: str, program: str) -> None:
    # libbpf loads the skeleton's programs by name, with their BTF function info;
    # the kernel refuses one (EPERM, then again with a verifier log) and the tool
    # exits: the loader's own program failed, not a feature test.
    story = fixture_story(name)
    lc = story.lifecycle
    refused = [f for f in lc.failures if f.attrs.get("prog_name") == program]
    assert len(refused) == 2
    assert all(f.ends_loader and not f.probe for f in refused)
    assert all(f.attrs["func_info_cnt"] == 1 for f in refused)
    # Its feature probes loaded before: EPERM here is about this kind of program.
    assert all("so bpf() itself is allowed" in f.why for f in refused)
    text = text_of(story)
    assert "only a feature-test program" not in text
    assert f"after BPF_PROG_LOAD EPERM ({cite(f.line for f in refused)})" in headline(story)


@pytest.mark.parametrize("name", ["lt-vfsstat.log", "lt-tcprtt.log", "lt-biostacks.log"])
def test_fentry_check_is_a_probe_even_when_refused(name: str) -> None:
    # libbpf-tools' fentry check: a 2-instruction TRACING program "test" aimed at
    # the traced function, first without a verifier log, then (libbpf's retry) with
    # one; the kernel refuses it (EPERM) and the tool goes on to load its programs.
    lc = fixture_story(name).lifecycle
    checks = [f for f in lc.failures if f.attrs.get("prog_name") == "test"]
    assert [f.errno for f in checks] == ["EPERM", "EPERM"]
    assert [as_int(f.attrs["log_level"]) for f in checks] == [0, 1]
    for f in checks:
        assert f.probe and not f.ends_loader
        assert f.feature is not None and "fentry" in f.feature
        # The refused load's log buffer holds no text the verifier wrote.
        assert f.detail is None
    assert "BPF_PROG_LOAD EPERM" not in real_failures(lc) or name == "lt-biostacks.log"


@pytest.mark.parametrize(("name", "count"), [("lt-vfsstat.log", 5), ("lt-tcprtt.log", 1),
                                             ("lt-syscount.log", 2), ("net-sockfilter.log", 2)])
def test_small_programs_with_btf_function_info_are_real(name: str, count: int) -> None:
    # vfsstat's kprobes have 6 instructions, syscount's raw tracepoints 2: compiled
    # programs with BTF function info are the loader's, whatever their size.
    lc = fixture_story(name).lifecycle
    compiled = [o for o in lc.objects if o.kind == "prog" and o.attrs.get("func_info_cnt")]
    assert len(compiled) == count
    assert all(not o.probe for o in compiled)
    if name == "lt-vfsstat.log":
        assert all(o.attrs["insn_cnt"] == 6 for o in compiled)
        assert {o.name for o in lc.real_programs()} == {
            "kprobe_vfs_read", "kprobe_vfs_writ", "kprobe_vfs_fsyn", "kprobe_vfs_open",
            "kprobe_vfs_crea"}


@pytest.mark.parametrize("name", ["bcc-biolatency.log", "bcc-biosnoop.log"])
def test_bcc_dies_on_the_kprobe_blacklist(name: str) -> None:
    story = fixture_story(name)
    lc = story.lifecycle
    (cause,) = [f for f in lc.failures if f.ends_loader]
    assert cause.attrs["path"] == "/sys/kernel/debug/kprobes/blacklist"
    assert cause.errno == "ENOENT" and not cause.probe
    assert f"after openat ENOENT (L{cause.line})" in headline(story)
    footer = " ".join(story.footer)
    assert "none in the log" not in footer and "none that matter" not in footer


@pytest.mark.parametrize("name", ["bt-runqlat.log", "bt-runqlen.log", "lt-readahead.log"])
def test_a_cause_not_in_the_log_is_said_so(name: str) -> None:
    # bpftrace's scripts do not compile (the error goes to stderr); readahead fails
    # inside libbpf.  bpftrace's available_filter_functions EPERM is a probe it went
    # on past: never the cause.
    story = fixture_story(name)
    lc = story.lifecycle
    assert meta(name)["exit_status"] == 1
    assert not [f for f in lc.failures if f.ends_loader]
    assert all(f.probe for f in lc.failures)
    head = headline(story)
    assert "failed: exited with status 1; the log shows no failing call that explains it" \
        in head
    assert " after " not in head
    if name.startswith("bt-"):
        (probe,) = lc.failures
        assert probe.attrs["path"].endswith("available_filter_functions")


NON_ZERO = ["go-tracepoint-enoent.log", "bt-tcpconnect.log", "lt-readahead.log",
            "bcc-execsnoop.log", "go-kprobe-fail.log", "lt-tcpconnect.log", "lt-vfsstat.log",
            "lt-tcprtt.log", "bcc-biolatency.log", "bcc-biosnoop.log", "lt-cachestat.log",
            "lt-biostacks.log", "bt-runqlat.log", "bt-runqlen.log", "kprobe-fail.log"]


@pytest.mark.parametrize("name", NON_ZERO)
def test_a_loader_that_fails_has_a_cause_or_says_it_is_not_in_the_log(name: str) -> None:
    story = fixture_story(name)
    lc = story.lifecycle
    assert meta(name)["exit_status"] not in (0, 124)
    causes = [f for f in lc.failures if f.ends_loader]
    head = headline(story)
    footer = " ".join(story.footer)
    assert "none that matter" not in footer
    if causes:
        assert all(not f.probe for f in causes)
        last = max(causes, key=lambda f: f.line)
        assert f"{last.call} {last.errno}" in head
        assert "none in the log" not in footer
    else:
        assert "the log shows no failing call that explains it" in head
    # The cause is the last failure the loader did not go past.
    later = [f for f in lc.failures if causes and f.line > max(f.line for f in causes)]
    assert all(f.probe for f in later)


@pytest.mark.parametrize("name", ["bpftool-perf-show.log", "naming-bpftool-perf-show.log"])
def test_task_fd_query_answers_are_grouped_not_failures(name: str) -> None:
    story = fixture_story(name)
    lc = story.lifecycle
    assert not [f for f in lc.failures if f.call == "BPF_TASK_FD_QUERY"]
    log = (FIXTURES / name).read_text()
    asked = len(re.findall(r"BPF_TASK_FD_QUERY.*= -1 ", log))
    refused = len(re.findall(r"BPF_TASK_FD_QUERY.*pid=1, .*= -1 EPERM", log))
    assert refused == 306
    answers = [s for sec in story.sections for ph in sec.phases for s in ph.steps
               if s.kind == "answers"]
    (step,) = answers
    assert len(step.lines) == asked
    text = "".join(t for t, _ in step.text)
    assert f"asked about {asked:,} fds" in text
    assert "306 EPERM (pid 1): not allowed to look" in text
    assert "failed: " not in headline(story) and "failure" not in headline(story)
    assert "failures: none that matter" in story.footer


def test_task_fd_query_rule() -> None:
    assert task_fd_query_answer("EPERM", 1, 30464) is not None
    assert task_fd_query_answer("EBADF", 7, 30464) is not None
    assert task_fd_query_answer("ENOTSUPP", 30464, 30464) is not None
    # About its own fd, EPERM means it may not use the command at all.
    assert task_fd_query_answer("EPERM", 30464, 30464) is None
    assert task_fd_query_answer("EINVAL", 1, 30464) is None
