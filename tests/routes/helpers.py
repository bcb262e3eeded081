"""Real recordings as lifecycles, stories and JSON, for the per-route tests."""

from __future__ import annotations

from typing import Any

from bpfexplain.render.json import story_json
from bpfexplain.render.picture import Picture, build_picture
from bpfexplain.story import Story
from bpfexplain.tracking import Attachment, Lifecycle
from tests.fixture_stories import fixture_story


def story(name: str, detail: str = "default") -> Story:
    return fixture_story(name, detail)


def lifecycle(name: str) -> Lifecycle:
    return story(name).lifecycle


def real(lc: Lifecycle) -> list[Attachment]:
    """The attachments that are not a loader's feature probes."""
    return [a for a in lc.attachments if not a.probe]


def json_doc(name: str) -> dict[str, Any]:
    return story_json(story(name))


def text(s: Story) -> str:
    """Every sentence of a story (steps, graph, problems) as plain text."""
    out = ["".join(t for t, _ in s.headline)]
    for section in s.sections:
        for phase in section.phases:
            out += list(phase.intro)
            out += ["".join(t for t, _ in step.text) for step in phase.steps]
    for problem in s.problems:
        out += ["".join(t for t, _ in problem.text), problem.why]

    def walk(nodes: Any) -> None:
        for node in nodes:
            out.append("".join(t for t, _ in node.label))
            walk(node.children)

    walk(s.graph)
    return "\n".join(out)


def picture(name: str) -> Picture:
    return build_picture(story(name))
