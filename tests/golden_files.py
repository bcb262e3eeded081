"""Golden files: compare rendered output with a reviewed copy in tests/golden/.

Regenerate every golden with one command (then review ``git diff tests/golden``):

    BPFEXPLAIN_REGEN_GOLDENS=1 .venv/bin/pytest -q
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN = os.environ.get("BPFEXPLAIN_REGEN_GOLDENS") == "1"


def check_golden(relative: str, actual: str) -> None:
    path = GOLDEN / relative
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        raise AssertionError(
            f"no golden {relative}; create it with BPFEXPLAIN_REGEN_GOLDENS=1 and review it"
        )
    expected = path.read_text(encoding="utf-8")
    if expected != actual:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True),
            f"golden/{relative}", "actual", n=2))
        raise AssertionError(f"{relative} differs from its golden:\n{diff[:6000]}")
