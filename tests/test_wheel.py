"""The wheel is complete: built, installed into a fresh virtualenv, and run from
another working directory, it parses a fixture with the grammar it carries.

This is the test that catches a grammar left out of the package data (the parser
would otherwise find grammar/strace.lark in the checkout and hide the mistake).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 600


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                          timeout=TIMEOUT, env=env, check=False)
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # Build from a copy so no build artefact lands in the checkout.
    source = tmp_path_factory.mktemp("src") / "bpfexplain"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache",
        ".pytest_cache", "dist", "build"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out),
          str(source)], cwd=out)
    [built] = out.glob("bpfexplain-*.whl")
    return built


def test_grammar_is_inside_the_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "bpfexplain/grammar/strace.lark" in names
        packaged = archive.read("bpfexplain/grammar/strace.lark").decode()
    assert packaged == (ROOT / "grammar" / "strace.lark").read_text()


def test_installed_wheel_parses_a_fixture_from_elsewhere(
        wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True, clear=True)
    python = env_dir / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    fixture = elsewhere / "seed.log"
    shutil.copy(ROOT / "fixtures" / "seed.log", fixture)
    proc = _run([str(env_dir / "bin" / "bpfexplain"), "parse", "--format", "events",
                 str(fixture)], cwd=elsewhere)
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert any(r["event"] == "call" and r["name"] == "bpf" for r in records)
    assert "0 unparsable" in proc.stderr
    # The installed package answers, not this checkout: its grammar is the wheel's.
    where = _run([str(python), "-c", "import bpfexplain.grammar as g; print(g.__file__)"],
                 cwd=elsewhere)
    assert str(env_dir) in where.stdout
    version = _run([str(python), "-m", "bpfexplain", "--version"], cwd=elsewhere)
    assert version.stdout.startswith("bpfexplain ")
