"""fixtures/record.sh records the loader classes with ``run``'s own strace flags.

A recording made with other flags shows other things (without
``abbrev=!perf_event_open`` no uprobe offset): the fixtures would then test a log
``run`` never sees.  The script's ``LIVE`` array is compared with
:func:`bpfexplain.live.strace_flags` for the system strace (6.1 here: no
``--kill-on-exit``, which strace only knows from 6.2, so it is left out of both).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from bpfexplain.live import Strace, strace_flags

RECORD = Path(__file__).resolve().parent.parent / "fixtures" / "record.sh"


def test_record_sh_uses_runs_strace_flags() -> None:
    m = re.search(r"^LIVE=\((.*)\)$", RECORD.read_text(), re.M)
    assert m is not None, "record.sh has no LIVE=(...) line"
    live = shlex.split(m.group(1))
    # record.sh reads the trace set from `python -m bpfexplain.traced --strace`.
    run = ["$FULLSET" if f.startswith("trace=") else f
           for f in strace_flags(Strace("strace", (6, 1), "strace -- version 6.1"))]
    assert live == run
