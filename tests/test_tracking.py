"""Tracking rules, one test each, on small hand-made traces.

The lines below are hand-made edge cases in strace's exact syntax (not recordings):
each isolates one rule the real fixtures exercise only incidentally.
"""

from __future__ import annotations

import io
import textwrap

from bpfexplain.framing import Stats
from bpfexplain.parser import parse_events
from bpfexplain.resolve import Resolver
from bpfexplain.tracking import Lifecycle, Obj, Tracker, looks_like_probe_prog

PROG = ('bpf(BPF_PROG_LOAD, {{prog_type=BPF_PROG_TYPE_TRACEPOINT, insn_cnt=27, '
        'insns=0x55abc0cf8600, license="GPL", log_level=0, log_size=0, log_buf=NULL, '
        'prog_name="{name}"}}, 148) = {fd}')
MAP = ('bpf(BPF_MAP_CREATE, {{map_type=BPF_MAP_TYPE_HASH, key_size=4, value_size=8, '
       'max_entries=16, map_flags=0, map_name="{name}"}}, 72) = {fd}')
TP = ('perf_event_open({{type=PERF_TYPE_TRACEPOINT, size=0 /* PERF_ATTR_SIZE_??? */, '
      'config={config}, sample_period=1, sample_type=0, ...}}, -1, 0, -1, '
      'PERF_FLAG_FD_CLOEXEC) = {fd}')


def track(text: str, resolver: Resolver | None = None) -> Lifecycle:
    data = textwrap.dedent(text).strip("\n").encode()
    stats = Stats()
    tracker = Tracker(resolver or Resolver())
    for event in parse_events([("t.log", io.BytesIO(data))], stats):
        tracker.feed(event)
    assert not stats.unparsable, stats.unparsable
    return tracker.lifecycle()


def by_name(lc: Lifecycle, name: str) -> Obj:
    found = [o for o in lc.objects if o.name == name]
    assert len(found) == 1, [o.name for o in lc.objects]
    return found[0]


def test_seed_chain_load_open_set_bpf_enable() -> None:
    lc = track(f"""
        {PROG.format(name="sys_enter", fd=9)}
        {TP.format(config=443, fd=8)}
        ioctl(8, PERF_EVENT_IOC_SET_BPF, 9) = 0
        ioctl(8, PERF_EVENT_IOC_ENABLE, 0) = 0
        ioctl(8, PERF_EVENT_IOC_DISABLE, 0) = 0
        close(8) = 0
    """, Resolver(tracepoints={443: ("raw_syscalls:sys_enter", "file")}))
    (att,) = lc.attachments
    assert att.prog is by_name(lc, "sys_enter")
    assert att.attach_point == "tracepoint:raw_syscalls:sys_enter"
    assert att.via == "PERF_EVENT_IOC_SET_BPF"
    assert (att.line, att.enabled_line, att.ended_line, att.end) == (3, 4, 5, "disabled")
    assert att.target is not None and att.target.closed_line == 6


def test_enable_before_set_bpf_still_counts_as_enabled() -> None:
    lc = track(f"""
        {PROG.format(name="p", fd=9)}
        {TP.format(config=1, fd=8)}
        ioctl(8, PERF_EVENT_IOC_ENABLE, 0) = 0
        ioctl(8, PERF_EVENT_IOC_SET_BPF, 9) = 0
    """)
    assert lc.attachments[0].enabled_line == 3


def test_failed_enable_does_not_enable() -> None:
    lc = track(f"""
        {PROG.format(name="p", fd=9)}
        {TP.format(config=1, fd=8)}
        ioctl(8, PERF_EVENT_IOC_SET_BPF, 9) = 0
        ioctl(8, PERF_EVENT_IOC_ENABLE, 0) = -1 EINVAL (Invalid argument)
    """)
    assert not lc.attachments[0].enabled
    assert [f.call for f in lc.failures] == ["PERF_EVENT_IOC_ENABLE"]


def test_fd_reuse_without_close_releases_old_object_and_never_merges() -> None:
    lc = track(f"""
        {MAP.format(name="first", fd=3)}
        {MAP.format(name="second", fd=3)}
    """)
    first, second = by_name(lc, "first"), by_name(lc, "second")
    assert first is not second
    assert (first.closed_line, first.end) == (2, "reused")
    assert second.closed_line is None


def test_racing_close_does_not_release_the_new_object() -> None:
    # Thread 12 starts close(28); thread 13 gets 28 back before the close resumes.
    lc = track(f"""
        12 {MAP.format(name="old", fd=28)}
        12 clone(child_stack=NULL, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM) = 13
        12 close(28 <unfinished ...>
        13 {MAP.format(name="new", fd=28)}
        12 <... close resumed>) = 0
        13 bpf(BPF_MAP_LOOKUP_ELEM, {{map_fd=28, key=0x1, value=0x2, flags=BPF_ANY}}, 32) = 0
    """)
    old, new = by_name(lc, "old"), by_name(lc, "new")
    assert new.closed_line is None
    assert new.ops["LOOKUP_ELEM"] == 1
    assert old.end == "close" and old.closed_line == 5


def test_threads_share_one_fd_table() -> None:
    lc = track(f"""
        100 clone3({{flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD, exit_signal=0, stack=0x7f00, stack_size=0x7fff00}}, 88) = 101
        101 {PROG.format(name="p", fd=9)}
        100 {TP.format(config=1, fd=8)}
        100 ioctl(8, PERF_EVENT_IOC_SET_BPF, 9) = 0
    """)
    (att,) = lc.attachments
    assert att.prog is by_name(lc, "p")
    assert att.prog.known


def test_fork_copies_the_table_and_each_side_closes_its_own() -> None:
    lc = track(f"""
        100 {MAP.format(name="m", fd=3)}
        100 fork() = 200
        200 close(3) = 0
        100 bpf(BPF_MAP_LOOKUP_ELEM, {{map_fd=3, key=0x1, value=0x2, flags=BPF_ANY}}, 32) = 0
        100 close(3) = 0
    """)
    m = by_name(lc, "m")
    assert m.ops["LOOKUP_ELEM"] == 1
    assert m.closed_line == 5  # the child's close left the parent's reference


def test_execve_drops_close_on_exec_fds() -> None:
    lc = track(f"""
        100 {MAP.format(name="m", fd=3)}
        100 execve("/usr/bin/true", ["true"], 0x7ffd /* 3 vars */) = 0
    """)
    m = by_name(lc, "m")
    assert (m.closed_line, m.end) == (2, "exec")


def test_dup_keeps_object_alive_until_last_fd_closes() -> None:
    lc = track(f"""
        {MAP.format(name="m", fd=3)}
        dup(3) = 7
        close(3) = 0
        bpf(BPF_MAP_LOOKUP_ELEM, {{map_fd=7, key=0x1, value=0x2, flags=BPF_ANY}}, 32) = 0
        fcntl(7, F_DUPFD_CLOEXEC, 10) = 10
        close(7) = 0
        close(10) = 0
    """)
    m = by_name(lc, "m")
    assert m.ops["LOOKUP_ELEM"] == 1
    assert m.closed_line == 7


def test_log_starting_mid_run_makes_unknown_objects_not_errors() -> None:
    lc = track("""
        ioctl(8, PERF_EVENT_IOC_SET_BPF, 9) = 0
        ioctl(8, PERF_EVENT_IOC_ENABLE, 0) = 0
    """)
    (att,) = lc.attachments
    assert not att.prog.known and not att.target.known  # type: ignore[union-attr]
    assert att.enabled
    assert lc.failures == []


def test_ff_files_of_threads_share_the_table_by_file_pid() -> None:
    # strace -ff: the pid comes from each file's name, not from a prefix.
    main = (f"{PROG.format(name='p', fd=9)}\n"
            "clone(child_stack=NULL, flags=CLONE_VM|CLONE_FILES|CLONE_THREAD) = 301\n")
    thread = f"{TP.format(config=1, fd=8)}\nioctl(8, PERF_EVENT_IOC_SET_BPF, 9) = 0\n"
    stats = Stats()
    tracker = Tracker(Resolver())
    streams = [("trace.300", io.BytesIO(main.encode())),
               ("trace.301", io.BytesIO(thread.encode()))]
    for event in parse_events(streams, stats):  # type: ignore[arg-type]
        tracker.feed(event)
    lc = tracker.lifecycle()
    (att,) = lc.attachments
    assert att.prog.name == "p" and att.prog.known


def test_link_create_through_perf_event_and_link_release() -> None:
    lc = track(f"""
        {PROG.format(name="handle", fd=8)}
        {TP.format(config=862, fd=11)}
        bpf(BPF_LINK_CREATE, {{link_create={{prog_fd=8, target_fd=11, attach_type=BPF_PERF_EVENT, flags=0, perf_event={{bpf_cookie=0}}}}}}, 48) = 12
        close(11) = 0
        close(12) = 0
    """, Resolver(tracepoints={862: ("syscalls:sys_enter_execve", "log")}))
    (att,) = lc.attachments
    assert att.via == "BPF_LINK_CREATE" and att.link is not None
    assert att.enabled  # links need no enabling
    assert att.attach_point == "tracepoint:syscalls:sys_enter_execve"
    assert (att.ended_line, att.end) == (5, "released")  # the link, not the perf fd


def test_raw_tracepoint_open() -> None:
    lc = track(f"""
        {PROG.format(name="rt", fd=5)}
        bpf(BPF_RAW_TRACEPOINT_OPEN, {{raw_tracepoint={{name="sys_enter", prog_fd=5}}}}, 16) = 6
    """)
    (att,) = lc.attachments
    assert att.attach_point == "raw_tracepoint:sys_enter"
    assert att.enabled and att.link is not None and att.link.kind == "raw_tracepoint"


def test_tracepoint_id_learned_from_the_log() -> None:
    lc = track(f"""
        openat(AT_FDCWD, "/sys/kernel/tracing/events/sched/sched_switch/id", O_RDONLY) = 5
        read(5, "316\\n", 4096) = 4
        close(5) = 0
        {TP.format(config=316, fd=6)}
    """)
    perf = next(o for o in lc.objects if o.kind == "perf_event")
    assert perf.attach_point == "tracepoint:sched:sched_switch"
    assert perf.attach_source == "log"


def test_tracepoint_id_learned_from_yy_annotation_without_openat() -> None:
    lc = track(f"""
        read(5</sys/kernel/tracing/events/sched/sched_switch/id>, "316\\n", 4096) = 4
        {TP.format(config=316, fd=6)}
    """)
    perf = next(o for o in lc.objects if o.kind == "perf_event")
    assert perf.attach_point == "tracepoint:sched:sched_switch"


def test_unresolved_tracepoint_has_no_attach_point() -> None:
    lc = track(TP.format(config=999999, fd=6))
    perf = lc.objects[0]
    assert perf.attach_point is None


def test_dynamic_pmu_named_from_the_log() -> None:
    lc = track("""
        openat(AT_FDCWD, "/sys/bus/event_source/devices/uprobe/type", O_RDONLY) = 8
        read(8, "8\\n", 4096) = 2
        close(8) = 0
        perf_event_open({type=0x8 /* PERF_TYPE_??? */, size=PERF_ATTR_SIZE_VER7, config=0, sample_period=1, sample_type=0, ...}, -1, 0, -1, PERF_FLAG_FD_CLOEXEC) = 8
    """)
    perf = next(o for o in lc.objects if o.kind == "perf_event")
    assert perf.attrs["type"] == 8
    assert perf.attach_point == "uprobe"


def test_raw_numbers_are_normalised_to_names() -> None:
    # strace -X raw prints every constant as a number.
    lc = track("""
        bpf(0x5, {prog_type=0x5, insn_cnt=27, insns=0x55abc0cf8600, license="GPL", prog_name="raw"}, 148) = 9
        perf_event_open({type=0x2, size=0, config=0x1bb, sample_period=0x1}, -1, 0, -1, 0x8) = 8
        ioctl(8, 0x40042408, 9) = 0
        ioctl(8, 0x2400, 0) = 0
    """)
    prog = by_name(lc, "raw")
    assert prog.attrs["prog_type"] == "BPF_PROG_TYPE_TRACEPOINT"
    perf = next(o for o in lc.objects if o.kind == "perf_event")
    assert perf.attrs["type"] == "PERF_TYPE_TRACEPOINT" and perf.attrs["config"] == 443
    (att,) = lc.attachments
    assert att.enabled


def test_feature_probes_are_marked_and_their_failures_expected() -> None:
    lc = track("""
        bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_SOCKET_FILTER, insn_cnt=2, insns=0x7ffc, license="GPL", prog_name="libbpf_nametest"}, 64) = 3
        close(3) = 0
        bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_KPROBE, insn_cnt=2, insns=0x7ffc, license="GPL", prog_name="ksys_read", expected_attach_type=BPF_TRACE_KPROBE_MULTI}, 128) = 8
        bpf(BPF_LINK_CREATE, {link_create={prog_fd=8, target_fd=0, attach_type=BPF_TRACE_KPROBE_MULTI, flags=0, kprobe_multi={flags=0, cnt=1, syms=["ksys_read"], addrs=NULL, cookies=NULL}}}, 48) = -1 EOPNOTSUPP (Operation not supported)
        bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_ARRAY, key_size=4, value_size=32, max_entries=1, map_flags=0, map_name="libbpf_global"}, 72) = 4
    """)
    assert all(o.probe for o in lc.objects)
    (failure,) = lc.failures
    assert failure.probe and failure.errno == "EOPNOTSUPP"
    nametest = by_name(lc, "libbpf_nametest")
    assert nametest.feature is not None and "name" in nametest.feature


def test_eperm_is_never_a_harmless_probe() -> None:
    lc = track("""
        bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_SOCKET_FILTER, insn_cnt=2, insns=0x7ffc, license="GPL", prog_name=""}, 64) = -1 EPERM (Operation not permitted)
    """)
    (failure,) = lc.failures
    assert not failure.probe
    assert "CAP_BPF" in failure.why


FENTRY_CHECK = ('bpf(BPF_PROG_LOAD, {{prog_type=BPF_PROG_TYPE_TRACING, insn_cnt=2, '
                'insns=0x7ffc, license="GPL", log_level={level}, prog_name="test", '
                'expected_attach_type=BPF_TRACE_FENTRY, attach_btf_id=119671}}, 128) '
                '= -1 EPERM (Operation not permitted)')
SKELETON = ('bpf(BPF_PROG_LOAD, {{prog_type=BPF_PROG_TYPE_{ptype}, insn_cnt=6, insns=0x55ec, '
            'license="GPL", log_level=0, prog_name="{name}", prog_btf_fd=3, '
            'func_info_rec_size=8, func_info=0x55ec, func_info_cnt=1}}, 128) = {result}')


def test_a_refused_fentry_check_the_loader_went_past_is_a_probe() -> None:
    lc = track(f"""
        100 {FENTRY_CHECK.format(level=0)}
        100 {FENTRY_CHECK.format(level=1)}
        100 {SKELETON.format(ptype="KPROBE", name="kprobe_vfs_read", result=5)}
        100 close(5) = 0
        100 +++ exited with 0 +++
    """)
    assert [f.probe for f in lc.failures] == [True, True]
    assert all(f.feature is not None and "fentry" in f.feature for f in lc.failures)
    # A 6-instruction program with BTF function info is the loader's own.
    assert [p.name for p in lc.real_programs()] == ["kprobe_vfs_read"]


def test_a_refused_fentry_check_nothing_followed_is_the_failure() -> None:
    lc = track(f"""
        100 {FENTRY_CHECK.format(level=0)}
        100 +++ exited with 1 +++
    """)
    (failure,) = lc.failures
    assert not failure.probe and failure.ends_loader


def test_a_refused_small_skeleton_program_is_no_feature_test() -> None:
    lc = track(f"""
        100 {SKELETON.format(ptype="TRACING", name="add_to_page_cac",
                             result="-1 EPERM (Operation not permitted)")}
        100 +++ exited with 1 +++
    """)
    (failure,) = lc.failures
    assert not failure.probe and failure.ends_loader
    assert not looks_like_probe_prog(failure.attrs)
    # Nothing loaded before it: no word on which programs bpf() allows.
    assert "bpf() itself is allowed" not in failure.why


BLACKLIST = ('openat(AT_FDCWD, "/sys/kernel/debug/kprobes/blacklist", O_RDONLY|O_CLOEXEC) '
             '= -1 ENOENT (No such file or directory)')
FILTERS = ('openat(AT_FDCWD, "/sys/kernel/debug/tracing/available_filter_functions", '
           'O_RDONLY) = -1 EPERM (Operation not permitted)')


def test_a_probe_failure_followed_by_teardown_is_the_cause() -> None:
    lc = track(f"""
        100 {MAP.format(name="start", fd=5)}
        100 {BLACKLIST}
        100 close(5) = 0
        100 +++ exited with 1 +++
    """)
    (failure,) = lc.failures
    assert failure.ends_loader and not failure.probe


def test_a_probe_failure_the_loader_went_past_is_never_the_cause() -> None:
    lc = track(f"""
        100 {FILTERS}
        100 bpf(BPF_BTF_GET_NEXT_ID, {{start_id=0, next_id=0 => 1, open_flags=0}}, 12) = 0
        100 +++ exited with 1 +++
    """)
    (failure,) = lc.failures
    assert failure.probe and not failure.ends_loader


def test_task_fd_query_about_other_processes_fds_answers() -> None:
    query = ('bpf(BPF_TASK_FD_QUERY, {{task_fd_query={{pid={pid}, fd=0, flags=0, buf_len=4096, '
             'buf="", prog_id=0, fd_type=BPF_FD_TYPE_RAW_TRACEPOINT, probe_offset=0, '
             'probe_addr=0}}}}, 48) = -1 {err}')
    lc = track(f"""
        100 {query.format(pid=1, err="EPERM (Operation not permitted)")}
        100 {query.format(pid=7, err="EBADF (Bad file descriptor)")}
        100 {query.format(pid=100, err="ENOTSUPP (Unknown error 524)")}
        100 {query.format(pid=100, err="EPERM (Operation not permitted)")}
    """)
    # Only its own fd refused with EPERM is a failure: it may not use the command.
    assert [(f.attrs["pid"], f.errno) for f in lc.failures] == [(100, "EPERM")]
    answers = [a.failure for a in lc.actions if a.failure is not None and a.failure.expected]
    assert [f.errno for f in answers if f is not None] == ["EPERM", "EBADF", "ENOTSUPP"]


def test_map_iteration_enoent_is_not_a_failure() -> None:
    lc = track(f"""
        {MAP.format(name="m", fd=3)}
        bpf(BPF_MAP_GET_NEXT_KEY, {{map_fd=3, key=NULL, next_key=0x5}}, 24) = -1 ENOENT (No such file or directory)
    """)
    assert lc.failures == []
    assert by_name(lc, "m").ops["GET_NEXT_KEY:ENOENT"] == 1


def test_perf_event_array_slots_inferred_in_order() -> None:
    out = ('perf_event_open({{type=PERF_TYPE_SOFTWARE, size=0, config=PERF_COUNT_SW_BPF_OUTPUT, '
           'sample_period=1, sample_type=PERF_SAMPLE_RAW, ...}}, -1, {cpu}, -1, '
           'PERF_FLAG_FD_CLOEXEC) = {fd}')
    update = 'bpf(BPF_MAP_UPDATE_ELEM, {map_fd=4, key=0x1, value=0x2, flags=BPF_ANY}, 32) = 0'
    lc = track(f"""
        bpf(BPF_MAP_CREATE, {{map_type=BPF_MAP_TYPE_PERF_EVENT_ARRAY, key_size=4, value_size=4, max_entries=2, map_name="printf"}}, 72) = 4
        {out.format(cpu=0, fd=6)}
        {update}
        {out.format(cpu=1, fd=7)}
        {update}
    """)
    m = by_name(lc, "printf")
    assert [p.fd for p in m.outputs] == [6, 7]
    assert all(p.output_map is m for p in m.outputs)


def test_verifier_rejection_keeps_the_log_when_strace_showed_it() -> None:
    lc = track("""
        bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_SOCKET_FILTER, insn_cnt=2, insns=0x7ffc, license="GPL", log_level=1, log_size=4096, log_buf="0: R1=ctx() R10=fp0\\n0: (61) r0 = *(u32 *)(r2 +0)\\nR2 !read_ok\\n", prog_name="bad"}, 144) = -1 EACCES (Permission denied)
    """)
    (failure,) = lc.failures
    assert failure.errno == "EACCES" and not failure.probe
    assert failure.detail is not None and "R2 !read_ok" in failure.detail
    assert "verifier" in failure.why


def test_pin_and_obj_get() -> None:
    lc = track(f"""
        {MAP.format(name="demo", fd=3)}
        bpf(BPF_OBJ_PIN, {{pathname="/sys/fs/bpf/demo", bpf_fd=3, file_flags=0}}, 16) = 0
        bpf(BPF_OBJ_GET, {{pathname="/sys/fs/bpf/demo", bpf_fd=0, file_flags=0}}, 16) = 4
    """)
    assert [(p.path, p.via) for p in lc.pins] == [("/sys/fs/bpf/demo", "BPF_OBJ_PIN"),
                                                  ("/sys/fs/bpf/demo", "BPF_OBJ_GET")]
    pinned, opened = lc.pins[0].obj, lc.pins[1].obj
    assert pinned is not None and opened is not None and pinned is not opened
    assert (pinned.via, pinned.fd, pinned.name) == ("BPF_MAP_CREATE", 3, "demo")
    # The path was pinned earlier in the log: what BPF_OBJ_GET opens is that map.
    assert (opened.kind, opened.name, opened.fd, opened.same_as) == ("map", "demo", 4, pinned)


def test_exit_releases_everything_of_the_process() -> None:
    lc = track(f"""
        100 {MAP.format(name="m", fd=3)}
        100 +++ exited with 0 +++
    """)
    m = by_name(lc, "m")
    assert (m.closed_line, m.end) == (2, "exit")
    assert lc.processes[100].exit_code == 0
