"""Golden tests of the story (text, default and brief) and the JSON over all fixtures.

Names are resolved from the fixtures' sidecars only (never from this machine), so
the goldens are the same everywhere.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bpfexplain.render.json import story_json
from bpfexplain.render.text import make_console, print_story
from tests.fixture_stories import fixture_names, fixture_story
from tests.golden_files import check_golden

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"






@pytest.mark.parametrize("name", fixture_names())
def test_story_text_golden(name: str) -> None:
    out = io.StringIO()
    print_story(fixture_story(name, "default"), make_console(out, width=100, color=False))
    check_golden(f"story/{name}.txt", out.getvalue())


@pytest.mark.parametrize("name", fixture_names())
def test_story_brief_golden(name: str) -> None:
    out = io.StringIO()
    print_story(fixture_story(name, "brief"), make_console(out, width=100, color=False))
    check_golden(f"story/{name}.brief.txt", out.getvalue())


@pytest.mark.parametrize("name", fixture_names())
def test_story_json_golden(name: str) -> None:
    doc = story_json(fixture_story(name, "default"))
    check_golden(f"json/{name}.json", json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
