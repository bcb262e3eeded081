"""Regenerate every golden file of every suite, in one command:

    .venv/bin/python -m tests.regen_goldens [PYTEST ARGS...]

It runs the whole test suite (or the tests named) with BPFEXPLAIN_REGEN_GOLDENS=1,
which makes :func:`tests.golden_files.check_golden` write what it would have
compared.  A golden suite takes part by calling ``check_golden``; nothing to
register.  Review the result with ``git diff tests/golden`` before committing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, BPFEXPLAIN_REGEN_GOLDENS="1")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               *(argv or ["tests"])]
    status = subprocess.call(command, cwd=root, env=env)
    print("goldens regenerated; review them with: git diff --stat tests/golden", file=sys.stderr)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
