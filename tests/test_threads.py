"""Threads are not processes: a thread's ``exit`` ends nothing but the thread.

The lines below are hand-made edge cases in strace 6.1's exact syntax (shapes copied
from fixtures/bt-execsnoop.log, where bpftrace starts clang threads with clone3 and
each ends with ``exit(0) = ?`` and its own ``+++ exited with 0 +++``).
"""

from __future__ import annotations

import io
import textwrap

from bpfexplain.framing import Stats
from bpfexplain.parser import parse_events
from bpfexplain.resolve import Resolver
from bpfexplain.tracking import Lifecycle, Tracker

MAP = ('bpf(BPF_MAP_CREATE, {{map_type=BPF_MAP_TYPE_HASH, key_size=4, value_size=8, '
       'max_entries=16, map_flags=0, map_name="{name}"}}, 72) = {fd}')
THREAD_FLAGS = ("CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|"
                "CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID")
CLONE3_START = (f"clone3({{flags={THREAD_FLAGS}, child_tid=0x7fbc6b4f4990, "
                "parent_tid=0x7fbc6b4f4990, exit_signal=0, stack=0x7fbc6a4f3000, "
                "stack_size=0x7fffc0, tls=0x7fbc6b4f46c0}")


def track(text: str) -> Lifecycle:
    data = textwrap.dedent(text).strip("\n").encode()
    stats = Stats()
    tracker = Tracker(Resolver(local=False))
    for event in parse_events([("t.log", io.BytesIO(data))], stats):
        tracker.feed(event)
    assert not stats.unparsable, stats.unparsable
    return tracker.lifecycle()


def test_clone3_thread_with_parent_tid_after_the_arrow_is_a_thread() -> None:
    # `=> {parent_tid=[N]}` lists only the field the kernel wrote: the flags at entry
    # must still say CLONE_THREAD.
    lc = track(f"""
        100 {CLONE3_START}, 88 <unfinished ...>
        101 exit(0)                 = ?
        100 <... clone3 resumed> => {{parent_tid=[102]}}, 88) = 102
    """)
    assert lc.threads[102] == 100
    assert 102 not in lc.processes


def test_a_threads_exit_releases_nothing_of_its_process() -> None:
    lc = track(f"""
        100 {MAP.format(name="kept", fd=3)}
        100 {CLONE3_START} => {{parent_tid=[102]}}, 88) = 102
        102 {MAP.format(name="made_by_thread", fd=4)}
        102 exit(0)                 = ?
        102 +++ exited with 0 +++
        100 close(4)                = 0
        100 exit_group(0)           = ?
        100 +++ exited with 0 +++
    """)
    kept, made = lc.objects
    # the thread's end is not the process's: its fds stay with the thread group
    assert (kept.name, kept.end, kept.closed_line) == ("kept", "exit", 8)
    assert (made.name, made.end, made.closed_line) == ("made_by_thread", "close", 6)
    assert lc.processes[100].exit_code == 0 and lc.processes[100].exit_line == 8
    assert 102 not in lc.processes


def test_old_style_clone_thread_exit_is_not_a_process_exit() -> None:
    lc = track(f"""
        200 {MAP.format(name="m", fd=3)}
        200 clone(child_stack=0x7f0000000000, flags={THREAD_FLAGS}, parent_tid=[201], tls=0x7f0000000700, child_tidptr=0x7f00000009d0) = 201
        201 exit(0)                 = ?
        201 +++ exited with 0 +++
        200 close(3)                = 0
    """)
    (m,) = lc.objects
    assert (m.end, m.closed_line) == ("close", 5)
    assert lc.threads[201] == 200


def test_a_process_exit_after_its_threads_releases_everything() -> None:
    lc = track(f"""
        300 {CLONE3_START} => {{parent_tid=[301]}}, 88) = 301
        301 {MAP.format(name="m", fd=5)}
        301 exit(0)                 = ?
        301 +++ exited with 0 +++
        300 exit_group(1)           = ?
        300 +++ exited with 1 +++
    """)
    (m,) = lc.objects
    assert (m.end, m.closed_line) == ("exit", 6)
    assert lc.processes[300].exit_code == 1


def test_a_thread_exit_whose_clone_was_not_traced_does_not_crash() -> None:
    # strace attached mid-run (-p): the thread's creation is not in the log.
    lc = track(f"""
        400 {MAP.format(name="m", fd=3)}
        401 exit(0)                 = ?
        401 +++ exited with 0 +++
        400 close(3)                = 0
    """)
    (m,) = lc.objects
    assert (m.end, m.closed_line) == ("close", 4)


def test_a_thread_seen_before_its_clone3_returned_is_still_a_thread() -> None:
    # Under load strace prints a new thread's calls, even its end, before the
    # creator's `<... clone3 resumed>`: the thread is not a process of its own.
    lc = track(f"""
        100 {MAP.format(name="kept", fd=3)}
        100 {CLONE3_START}, 88 <unfinished ...>
        102 {MAP.format(name="early", fd=4)}
        100 <... clone3 resumed> => {{parent_tid=[102]}}, 88) = 102
        102 exit(0)                 = ?
        102 +++ exited with 0 +++
        100 close(4)                = 0
        100 exit_group(0)           = ?
        100 +++ exited with 0 +++
    """)
    assert lc.threads[102] == 100
    assert list(lc.processes) == [100]
    kept, early = lc.objects
    assert (kept.end, kept.closed_line) == ("exit", 9)
    # the thread's map lives in the thread group's table, closed by the creator
    assert early.pid == 100 and (early.end, early.closed_line) == ("close", 7)


def test_a_thread_that_ended_before_its_clone3_returned_is_no_process() -> None:
    lc = track(f"""
        100 {CLONE3_START}, 88 <unfinished ...>
        102 exit(0)                 = ?
        102 +++ exited with 0 +++
        100 <... clone3 resumed> => {{parent_tid=[102]}}, 88) = 102
        100 exit_group(0)           = ?
        100 +++ exited with 0 +++
    """)
    assert lc.threads[102] == 100
    assert list(lc.processes) == [100]
    assert [a.pid for a in lc.actions if a.kind == "exit"] == [100]


def test_a_vfork_child_that_ran_before_the_call_returned_keeps_its_command() -> None:
    # With CLONE_VFORK the creator resumes only after the child's execve, so the
    # child's calls come first; what it became must survive the creator's return.
    lc = track(f"""
        100 {MAP.format(name="m", fd=3)}
        100 clone3({{flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, stack=0x7fbc7870d000, stack_size=0x9000}}, 88 <unfinished ...>
        101 dup2(4, 1)              = 1
        101 execve("/bin/sh", ["sh", "-c", "true"], 0x7ffde8263e10 /* 12 vars */) = 0
        100 <... clone3 resumed>) = 101
        101 exit_group(0)           = ?
        101 +++ exited with 0 +++
        100 close(3)                = 0
    """)
    child = lc.processes[101]
    assert (child.command, child.argv, child.parent) == ("sh", ["sh", "-c", "true"], 100)
    assert lc.threads.get(101) == 101
    (m,) = lc.objects
    assert (m.end, m.closed_line) == ("close", 8)
