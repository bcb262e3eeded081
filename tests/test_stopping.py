"""``--duration``'s schedule (:mod:`bpfexplain.stopping`) on a made-up clock.

The live tests in test_live.py and test_run_deep_live.py run it on real commands;
here each rule is pinned to its boundary."""

from __future__ import annotations

from bpfexplain.stopping import (
    AGAIN_AFTER,
    AGAIN_QUIET,
    AGAINS,
    KILL_AFTER,
    KILL_CAP,
    SETTLE_CAP,
    SETTLED,
    DurationStop,
)

D = 2.0
EPS = 1e-6


def test_nothing_before_the_duration_even_when_quiet() -> None:
    stop = DurationStop(D, 0.0)
    assert stop.due(D - EPS, 0.0) is None


def test_first_sigint_waits_for_a_settled_log() -> None:
    stop = DurationStop(D, 0.0)
    # the log grew just now: a loader still starting up could lose the SIGINT
    assert stop.due(D, D - SETTLED / 2) is None
    assert stop.due(D + SETTLED + EPS, D) == "interrupt"
    assert stop.sigints == 1


def test_first_sigint_does_not_wait_past_the_cap_for_a_busy_log() -> None:
    stop = DurationStop(D, 0.0)
    busy = D + SETTLE_CAP - EPS
    assert stop.due(busy, busy) is None
    assert stop.due(D + SETTLE_CAP, D + SETTLE_CAP) == "interrupt"


def test_no_output_yet_counts_quiet_from_the_start() -> None:
    stop = DurationStop(D, 100.0)
    assert stop.due(100.0 + D, 0.0) == "interrupt"


def interrupted(at: float = D + 1) -> DurationStop:
    stop = DurationStop(D, 0.0)
    assert stop.due(at, 0.0) == "interrupt"
    return stop


def test_sigint_again_only_after_a_while_and_a_quiet_log() -> None:
    stop = interrupted(10.0)
    assert stop.due(10.0 + AGAIN_AFTER - EPS, 0.0) is None   # too soon
    # acting on it (the log moves): it is not sent again
    assert stop.due(10.0 + AGAIN_AFTER, 10.0 + AGAIN_AFTER - AGAIN_QUIET / 2) is None
    assert stop.due(10.0 + AGAIN_AFTER + 0.5, 10.0 + 0.5) == "interrupt-again"
    assert stop.sigints == 2
    assert stop.last_sigint == 10.0 + AGAIN_AFTER + 0.5


def test_a_loader_busy_on_its_way_out_is_left_to_finish_until_the_cap() -> None:
    stop = interrupted(10.0)
    t = 10.0
    while t < 10.0 + KILL_CAP - 0.1:
        t += 0.1
        assert stop.due(t, t) is None, t
    assert stop.due(10.0 + KILL_CAP, 10.0 + KILL_CAP) == "kill"
    assert stop.sigints == 1


def test_after_the_last_sigint_a_quiet_command_is_killed() -> None:
    stop = interrupted(10.0)
    t = 10.0
    for _ in range(AGAINS):
        t += AGAIN_AFTER
        assert stop.due(t, 10.0) == "interrupt-again"
    assert stop.sigints == 1 + AGAINS
    assert stop.due(t + KILL_AFTER - EPS, 10.0) is None
    # still sending output: another KILL_AFTER is not enough, the cap is
    assert stop.due(t + KILL_AFTER, t + KILL_AFTER) is None
    assert stop.due(t + KILL_AFTER + AGAIN_QUIET, t + KILL_AFTER) == "kill"
    assert stop.killed
    assert stop.due(t + 100, 0.0) is None


def test_the_cap_kills_a_command_that_keeps_talking_after_its_sigints() -> None:
    stop = interrupted(10.0)
    t = 10.0
    for _ in range(AGAINS):
        t += AGAIN_AFTER
        assert stop.due(t, 10.0) == "interrupt-again"
    assert stop.due(10.0 + KILL_CAP - EPS, 10.0 + KILL_CAP - EPS) is None
    assert stop.due(10.0 + KILL_CAP, 10.0 + KILL_CAP) == "kill"


def test_each_step_is_told_with_whom_it_reached() -> None:
    stop = interrupted()
    assert stop.say("interrupt", "the command (pid 7)") == \
        f"--duration {D:g}s elapsed: sent SIGINT to the command (pid 7)"
    assert stop.say("interrupt-again", "2 traced process(es)").endswith(
        "sent SIGINT again to 2 traced process(es)")
    stop.sigints = 1 + AGAINS
    assert stop.say("kill") == \
        f"still running after {1 + AGAINS} SIGINTs: stopping everything now (SIGKILL)"
