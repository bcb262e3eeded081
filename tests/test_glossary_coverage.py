"""Every term a story uses can be looked up with ``bpfexplain explain``.

Walks every fixture at every detail level: the glossary terms the story says it
used (``story.terms``) and every technical name it prints (``BPF_*``, ``PERF_*``
constants) must have a glossary entry, so a learner never meets a word that
``explain`` cannot explain.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bpfexplain import glossary
from bpfexplain.story import DETAILS, Node, Story
from tests.fixture_stories import fixture_names, fixture_story

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TOKEN = re.compile(r"\b(?:BPF|PERF)_[A-Z0-9_]*[A-Z0-9]\b")






def _texts(story: Story) -> list[str]:
    out = ["".join(chunk for chunk, _ in story.headline), *story.footer]
    for section in story.sections:
        for phase in section.phases:
            out.append(phase.title)
            out += phase.intro
            out += ["".join(chunk for chunk, _ in step.text) for step in phase.steps]
    for problem in story.problems:
        out += ["".join(chunk for chunk, _ in problem.text), problem.why]

    def walk(node: Node) -> None:
        out.append("".join(chunk for chunk, _ in node.label))
        for child in node.children:
            walk(child)

    for node in story.graph:
        walk(node)
    return out


@pytest.mark.parametrize("name", fixture_names())
def test_every_term_a_story_uses_has_an_entry(name: str) -> None:
    missing: set[str] = set()
    for detail in DETAILS:
        story = fixture_story(name, detail)
        missing |= {t for t in story.terms if glossary.lookup(t) is None}
        for text in _texts(story):
            missing |= {t for t in TOKEN.findall(text) if glossary.lookup(t) is None}
    assert not missing, f"{name}: no glossary entry for {sorted(missing)}"


def test_the_token_pattern_finds_what_it_should() -> None:
    text = "ioctl(8, PERF_EVENT_IOC_SET_BPF, 9) after BPF_PROG_LOAD; not BPF_ or xBPF_MAP"
    assert TOKEN.findall(text) == ["PERF_EVENT_IOC_SET_BPF", "BPF_PROG_LOAD"]
