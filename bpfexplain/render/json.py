"""``--format json``: one document, schema ``bpfexplain/1`` (docs/schema.json).

Fields may be added in later versions; none listed in the schema are removed or
change meaning.  ``line`` is the 1-based line of the input where the call completed;
with several input files, lines count within each file and ``file`` names it.
"""

from __future__ import annotations

from typing import Any

from bpfexplain.story import Story, cite, outlives
from bpfexplain.tracking import Attachment, Failure, Lifecycle, Obj

SCHEMA = "bpfexplain/1"


def _plain(text: tuple[tuple[str, str | None], ...]) -> str:
    return "".join(chunk for chunk, _ in text)


def _object(obj: Obj, many_files: bool, files: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": obj.id,
        "kind": obj.kind,
        "pid": obj.pid,
        "fd": obj.fd,
        "line": obj.line,
        "closed_line": obj.closed_line,
        "probe": obj.probe,
        "attrs": _attrs(obj),
        "name": obj.name or None,
        "via": obj.via,
        "end": obj.end,
        "known": obj.known,
    }
    if obj.feature:
        record["feature"] = obj.feature
    if obj.attach_point:
        record["attach_point"] = obj.attach_point
        record["attach_point_source"] = obj.attach_source
    if obj.btf is not None:
        record["btf"] = obj.btf.id
    if obj.maps:
        record["maps"] = [m.id for m in obj.maps]
    if obj.ops:
        record["ops"] = dict(sorted(obj.ops.items()))
    if obj.outputs:
        record["outputs"] = [p.id for p in obj.outputs]
    if obj.output_map is not None:
        record["output_map"] = obj.output_map.id
    if obj.enabled_lines:
        record["enabled_lines"] = obj.enabled_lines
    if obj.disabled_lines:
        record["disabled_lines"] = obj.disabled_lines
    if obj.test_runs:
        record["test_runs"] = obj.test_runs
    if obj.path:
        record["path"] = obj.path
    if many_files:
        record["file"] = files[obj.file]
    return record


def _attrs(obj: Obj) -> dict[str, Any]:
    attrs = dict(obj.attrs)
    for key in ("insns", "disasm", "verifier_log", "uprobe", "map_fds", "prog_id"):
        if key in obj.deep and key not in attrs:
            attrs[key] = obj.deep[key]
    return attrs


def _attachment(att: Attachment, lc: Lifecycle, many_files: bool,
                files: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "prog": att.prog.id,
        "target": att.target.id if att.target is not None else None,
        "via": att.via,
        "link": att.link.id if att.link is not None else None,
        "attach_point": att.attach_point,
        "enabled": att.enabled,
        "line": att.line,
        "enabled_line": att.enabled_line,
        "ended_line": att.ended_line,
        "end": att.end,
        "released_line": _released_line(att),
        "attach_type": att.attach_type,
        "probe": att.probe,
        "outlives_loader": outlives(att, lc),
    }
    if att.attrs:
        record["attrs"] = att.attrs
    if many_files:
        record["file"] = files[att.file]
    return record


def _released_line(att: Attachment) -> int | None:
    if att.kept:
        return None  # the kernel keeps it: no fd's release ends it
    holder = att.link or att.target
    return holder.closed_line if holder is not None else None


def _failure(f: Failure, many_files: bool, files: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "line": f.line, "call": f.call, "errno": f.errno, "probe": f.probe, "why": f.why,
        "pid": f.pid,
    }
    if f.detail:
        record["detail"] = f.detail
    if f.subject is not None:
        record["object"] = f.subject.id
    if f.attrs:
        record["attrs"] = f.attrs
    if many_files:
        record["file"] = files[f.file]
    return record


def story_json(story: Story) -> dict[str, Any]:
    lc = story.lifecycle
    files = lc.files
    many = len(files) > 1
    steps = []
    for section in story.sections:
        for phase in section.phases:
            for step in phase.steps:
                record: dict[str, Any] = {
                    "line": step.lines[0] if step.lines else None,
                    "lines": list(step.lines),
                    "phase": phase.key,
                    "text": _plain(step.text),
                    "pid": section.pid,
                    "probe": step.probe,
                }
                if many and step.lines:
                    # strace -ff: line numbers count within each file, so each is named.
                    record["files"] = [files[f] for f, _ in step.refs]
                if step.extra:
                    record["detail"] = "\n".join(step.extra)
                steps.append(record)
    processes = [
        {"pid": p.pid, "command": p.command, "argv": p.argv, "parent": p.parent,
         "exit_code": p.exit_code, "exit_signal": p.exit_signal, "exit_line": p.exit_line,
         "signals": [{"signal": s, "line": line} for s, line, _ in p.signals]}
        for p in lc.processes.values() if p.pid is not None or p.command
    ]
    return {
        "schema": SCHEMA,
        "files": files,
        "summary": _plain(story.headline),
        "objects": [_object(o, many, files) for o in lc.objects],
        "attachments": [_attachment(a, lc, many, files) for a in lc.attachments],
        "pins": [{"object": p.obj.id if p.obj is not None else None, "path": p.path,
                  "line": p.line, "via": p.via} for p in lc.pins],
        "failures": [_failure(f, many, files) for f in lc.failures],
        "processes": processes,
        "steps": steps,
        "cite": {"format": "L<line>", "example": cite([1, 2, 3])},
    }
