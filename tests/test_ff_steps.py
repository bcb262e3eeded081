"""Steps of ``strace -ff`` logs cite the right file.

``strace -ff`` writes one file per process (and per thread); line numbers count within
each file, so a step's line numbers mean nothing without the file.  A step that groups
several calls (closes, map reads, feature probes, BPF_OBJ_GET_INFO_BY_FD) must cite the
file its calls are in, not the first input.  Checked on every ``-ff`` fixture: every
(file, line) a step or problem cites is a call of that step's own process, and the JSON
and the HTML page name the same files.
"""

from __future__ import annotations

import json
import re

import pytest

from bpfexplain.render.html import story_html
from bpfexplain.render.json import story_json
from bpfexplain.story import Story, _placed
from bpfexplain.tracking.records import Action
from tests.fixture_stories import FIXTURES, fixture_names, fixture_story

FF = [n for n in fixture_names() if (FIXTURES / n).is_dir()]


def calls_of(story: Story) -> dict[int | None, set[tuple[int, int]]]:
    """(file, line) of every call of each process (threads under their process)."""
    lc = story.lifecycle
    out: dict[int | None, set[tuple[int, int]]] = {}
    for a in lc.actions:
        refs = out.setdefault(lc.threads.get(a.pid, a.pid), set())
        # a run of map reads stands for several calls, each on its own line
        refs.update({(a.file, n) for n in a.lines} | {(a.file, a.first_line)})
        request = a.detail.get("request_line")
        if isinstance(request, int):
            refs.add((a.file, request))
        if a.attachment is not None:
            refs.add((a.attachment.file, a.attachment.line))
    return out


def test_there_are_ff_fixtures() -> None:
    assert FF, "no strace -ff recording among the fixtures"


@pytest.mark.parametrize("name", FF)
def test_every_cited_line_is_a_call_of_its_own_process(name: str) -> None:
    story = fixture_story(name)
    calls = calls_of(story)
    grouped_elsewhere = 0
    for section in story.sections:
        mine = calls.get(section.pid, set())
        for phase in section.phases:
            for step in phase.steps:
                for ref in step.refs:
                    assert ref in mine, (section.pid, phase.key, step.kind, ref)
                if len(step.lines) > 1 and any(f != 0 for f, _ in step.refs):
                    grouped_elsewhere += 1
    # The case this is about: grouped steps of a process whose file is not the first.
    assert grouped_elsewhere > 0
    every = set().union(*calls.values())
    for problem in story.problems:
        assert set(problem.refs) <= every, problem.refs


@pytest.mark.parametrize("name", FF)
def test_json_and_page_name_the_files_the_steps_cite(name: str) -> None:
    story = fixture_story(name)
    files = story.lifecycle.files
    doc = story_json(story)
    steps = [s for sec in story.sections for ph in sec.phases for s in ph.steps]
    assert len(doc["steps"]) == len(steps)
    for record, step in zip(doc["steps"], steps, strict=True):
        if step.lines:
            assert record["files"] == [files[f] for f, _ in step.refs]
    page = story_html(story, None)
    m = re.search(r'<script type="application/json" id="bpfx-data">(.*?)</script>', page, re.S)
    assert m is not None
    cited = {tuple(ref) for s in json.loads(m.group(1))["steps"].values() for ref in s["lines"]}
    assert {ref for s in steps for ref in s.refs} <= cited


def _action(file: int, line: int) -> Action:
    return Action("close", line, line, file, 1)


def test_a_group_over_several_files_keeps_each_lines_file() -> None:
    # Threads of one process under -ff write to files of their own (a hand-made case).
    assert _placed([_action(2, 10), _action(2, 11)]) == {"file": 2, "files": ()}
    assert _placed([_action(2, 10), _action(3, 4)]) == {"file": 2, "files": (2, 3)}
    assert _placed([]) == {"file": 0, "files": ()}
