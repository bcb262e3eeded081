"""Python one-liners with a known way of taking SIGINT, for the ``--duration`` and
Ctrl-C tests of both backends (tests/test_live.py, tests/test_run_deep_live.py)."""

from __future__ import annotations

LOSES_FIRST_SIGINT = """
import signal, time
seen = []
def on_sigint(*_):
    seen.append(1)
    if len(seen) == 2:
        raise SystemExit(0)
signal.signal(signal.SIGINT, on_sigint)
while True:
    time.sleep(10)
"""
"""Does nothing with its first SIGINT, as bpftrace 0.17 with one that lands while it
attaches (see bpfexplain.stopping), and exits 0 at the second."""

IGNORES_SIGINT = ("import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                  "time.sleep(60)")
"""Never acts on SIGINT."""

SLOW_TO_FINISH = ("import signal, sys, time\n"
                  "signal.signal(signal.SIGINT, lambda *_: (time.sleep(3), sys.exit(0)))\n"
                  "print('ready', file=sys.stderr, flush=True)\n"
                  "time.sleep(30)\n")
"""Says ``ready`` on stderr, then takes 3 quiet seconds to finish after a SIGINT (the
kind of quiet --duration sends SIGINT again to)."""
