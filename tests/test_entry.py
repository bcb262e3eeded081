"""The entry point's pre-start of ``run``: only for argv that typer parses the same way.

``bpfexplain.entry`` starts strace before typer is imported when it can prove, from
the argv alone, that typer will run ``run`` with exactly that command and nothing
that changes how strace starts.  These tests hold it to that against typer's own
parsing, over many argv shapes, and check that the pre-start really comes first.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bpfexplain import entry, live
from bpfexplain.cli import app

ROOT = Path(__file__).resolve().parent.parent

SHAPES: list[list[str]] = [
    ["run", "--", "/bin/true"],
    ["run", "--", "bpftrace", "-e", "BEGIN { exit(); }"],
    ["run", "--quiet-live", "--", "true", "--quiet-live"],
    ["run", "--brief", "--", "true"],
    ["run", "-v", "--", "true", "-v"],
    ["run", "--verbose", "--color", "--", "true"],
    ["run", "--no-color", "--format", "json", "--", "true"],
    ["run", "--format=markdown", "--quiet-live", "--", "true"],
    ["run", "--format", "text", "--", "true", "--", "x"],
    ["run", "--", "--", "true"],
    ["run", "--", "-p", "1"],
    # not pre-started: values, conflicts, repeats, other commands, help
    ["run", "--format", "html", "--", "true"],
    ["run", "--format", "xml", "--", "true"],
    ["run", "--format", "--", "true"],
    ["run", "--brief", "--verbose", "--", "true"],
    ["run", "--brief", "--brief", "--", "true"],
    ["run", "--color", "--no-color", "--", "true"],
    ["run", "--quiet", "--", "true"],
    ["run", "--help", "--", "true"],
    ["run", "--deep", "--", "true"],
    ["run", "-p", "1"],
    ["run", "-o", "out.txt", "--", "true"],
    ["run", "--save", "t.log", "--", "true"],
    ["run", "--duration", "1", "--", "true"],
    ["run", "--strace", "/usr/bin/strace", "--", "true"],
    ["run", "true"],
    ["run", "--"],
    ["run"],
    ["--traceback", "run", "--", "true"],
    ["parse", "--", "run"],
    ["Run", "--", "true"],
    ["ru", "--", "true"],
]


class _Reached(Exception):
    """typer's run got as far as starting the session."""

    def __init__(self, config: live.RunConfig):
        super().__init__("reached")
        self.config = config


def _typer_run_config(argv: list[str], monkeypatch: pytest.MonkeyPatch
                      ) -> live.RunConfig | None:
    """The RunConfig typer's ``run`` starts a session with, or None if it never does."""
    fake = live.Strace("/usr/bin/strace", (6, 1), "strace -- version 6.1")

    def session(config: live.RunConfig, strace: live.Strace) -> Any:
        raise _Reached(config)

    monkeypatch.setattr(live, "find_strace", lambda program="strace": fake)
    monkeypatch.setattr(live, "resolve_command", lambda command: "/bin/true")
    monkeypatch.setattr(live, "preflight_warnings", lambda: [])
    monkeypatch.setattr(live, "open_session", session)
    result = CliRunner().invoke(app, argv)
    if isinstance(result.exception, _Reached):
        return result.exception.config
    return None


@pytest.mark.parametrize("argv", SHAPES, ids=" ".join)
def test_prestart_only_where_typer_agrees(argv: list[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    command = entry.prestart_command(argv)
    if command is None:
        return
    config = _typer_run_config(argv, monkeypatch)
    assert config is not None, "pre-started, but typer's run would not start"
    assert config == live.RunConfig(command=command)


def test_the_shapes_exercise_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = [argv for argv in SHAPES if entry.prestart_command(argv) is not None]
    assert len(taken) == 11
    # Shapes typer accepts as a run but the pre-start leaves alone (they start their
    # own strace, or none): the check is not simply "everything".
    declined = [argv for argv in SHAPES if entry.prestart_command(argv) is None
                and _typer_run_config(argv, monkeypatch) is not None]
    assert ["run", "--format", "html", "--", "true"] in declined
    assert ["run", "true"] in declined


def test_a_session_for_another_config_is_not_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    class Fake:
        def __init__(self, config: live.RunConfig, strace: live.Strace):
            self.config = config
            self.trace = type("T", (), {"strace": strace})()
            self.exited = False

        def __exit__(self, *exc: object) -> None:
            self.exited = True

    strace = live.Strace("/usr/bin/strace", (6, 1), "x")
    other = Fake(live.RunConfig(command=["a"]), strace)
    monkeypatch.setattr(live, "_prestarted", other)
    got = live.open_session(live.RunConfig(command=["b"]), strace)
    assert isinstance(got, live.LiveSession) and other.exited
    same = Fake(live.RunConfig(command=["b"]), strace)
    monkeypatch.setattr(live, "_prestarted", same)
    with live.open_session(live.RunConfig(command=["b"]), strace) as session:
        assert session is same  # type: ignore[comparison-overlap]
    assert same.exited and live._prestarted is None


PROBE = r"""
import json, sys
from bpfexplain import live
def spy(self, *args, **kwargs):
    print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("typer", "rich", "lark"))))
    sys.stdout.flush()
    import os
    os._exit(0)
live.LiveTrace.start = spy
sys.argv = ["bpfexplain", "run", "--", "/bin/true"]
from bpfexplain.entry import main
main()
"""


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_run_starts_strace_before_typer() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.stdout.strip(), proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
