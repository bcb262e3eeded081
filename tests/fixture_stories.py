"""The bundled recordings as stories, the same way for every test that needs them.

Names are resolved from each recording's sidecar only (never from this machine) and
input names are made relative to the repository, so output does not depend on where
the checkout lives.
"""

from __future__ import annotations

from pathlib import Path

from bpfexplain.framing import Stats, open_inputs
from bpfexplain.pipeline import explain_streams, make_resolver
from bpfexplain.story import Story

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def fixture_names() -> list[str]:
    """Every recording: ``NAME.log`` files, then ``strace -ff`` directories."""
    names = sorted(p.name for p in FIXTURES.glob("*.log"))
    names += sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name != "src")
    return names


def fixture_story(name: str, detail: str = "default") -> Story:
    path = str(FIXTURES / name)
    streams = open_inputs([path])
    try:
        named = [(str(Path(n).relative_to(ROOT)), s) for n, s in streams]
        return explain_streams(named, Stats(), make_resolver([path], local=False),
                               detail=detail)
    finally:
        for _, stream in streams:
            stream.close()
