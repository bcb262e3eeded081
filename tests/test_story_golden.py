"""Golden tests of the story (text, default and brief) and the JSON over all fixtures.

Names are resolved from the fixtures' sidecars only (never from this machine), so
the goldens are the same everywhere.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bpfexplain.framing import Stats, open_inputs
from bpfexplain.pipeline import explain_streams, make_resolver
from bpfexplain.render.json import story_json
from bpfexplain.render.text import make_console, print_story
from bpfexplain.story import Story
from tests.golden_files import check_golden

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _names() -> list[str]:
    names = sorted(p.name for p in FIXTURES.glob("*.log"))
    names += sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name != "src")
    return names


def _story(name: str, detail: str) -> Story:
    path = str(FIXTURES / name)
    streams = open_inputs([path])
    try:
        # Relative names keep the goldens free of this checkout's location.
        named = [(str(Path(n).relative_to(FIXTURES.parent)), s) for n, s in streams]
        return explain_streams(named, Stats(), make_resolver([path], local=False),
                               detail=detail)
    finally:
        for _, stream in streams:
            stream.close()


@pytest.mark.parametrize("name", _names())
def test_story_text_golden(name: str) -> None:
    out = io.StringIO()
    print_story(_story(name, "default"), make_console(out, width=100, color=False))
    check_golden(f"story/{name}.txt", out.getvalue())


@pytest.mark.parametrize("name", _names())
def test_story_brief_golden(name: str) -> None:
    out = io.StringIO()
    print_story(_story(name, "brief"), make_console(out, width=100, color=False))
    check_golden(f"story/{name}.brief.txt", out.getvalue())


@pytest.mark.parametrize("name", _names())
def test_story_json_golden(name: str) -> None:
    doc = story_json(_story(name, "default"))
    check_golden(f"json/{name}.json", json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
