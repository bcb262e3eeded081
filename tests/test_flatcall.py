"""The flat-call reader answers exactly as the grammar does, or not at all.

For every call line of every recorded fixture (as framing hands it to the parser),
and for hand-made lines at the edges of the flat form, :func:`parse_flat` must give
the grammar's values, types and key order included, or None.  Lines it must leave
to the grammar are pinned too, so that a reader grown too eager fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bpfexplain.flatcall import call_fields, parse_flat
from bpfexplain.grammar import SyntaxProblem, parse_call_text
from bpfexplain.shapes import same
from tests.test_shapes import call_texts, fixture_inputs

ROOT = Path(__file__).resolve().parent.parent


def grammar_or_error(text: str) -> dict[str, object] | str:
    try:
        return parse_call_text(text)
    except SyntaxProblem as exc:
        return f"error: {exc}"


@pytest.mark.parametrize("path", fixture_inputs(), ids=lambda p: Path(p).name)
def test_every_fixture_line_reads_as_the_grammar_reads_it(path: str) -> None:
    for text in call_texts(path):
        flat = parse_flat(text)
        if flat is not None:
            assert same(flat, grammar_or_error(text)), text


def test_the_fixtures_exercise_the_reader() -> None:
    """Most non-bpf lines are flat: the reader must really take them (and leave the
    structs to the grammar), or the test above proves nothing."""
    taken = left = 0
    names: set[str] = set()
    for path in fixture_inputs():
        for text in call_texts(path):
            if parse_flat(text) is None:
                left += 1
            else:
                taken += 1
                names.add(text.split("(", 1)[0])
    assert taken > 1000 and left > 1000, (taken, left)
    assert {"openat", "close", "read", "execve", "ioctl", "exit_group"} <= names


FLAT = [
    'openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3',
    'execve("/bin/true", ["/bin/true"], 0x7ffd410020c0 /* 39 vars */) = 0',
    'execve("/x", ["a", "b\\n\\"c"], 0x1 /* 1 var */) = -1 ENOENT (No such file or directory)',
    "close(3)        = 0",
    "exit_group(0)   = ?",
    "getpid() = 5",
    "f() = ? ERESTARTSYS (To be restarted if SA_RESTART is set)",
    'read(3, "\\177ELF\\2\\1"..., 832) = 832',
    'write(1, "", 0) = 0',
    "f([]) = 0",
    "f([...]) = 0",
    'f(["a", ...]) = 0',
    "f(...) = 0",
    "f(0644, 0, -1, -0x10, 0xABCdef) = 0x7f2886ea1000",
    "f(A|B|0x8) = 0",
    "f(1|-1) = 0",
    "f(or) = 0",
    "f(x, or) = 0",
    "f(NULL /* a */, 3) = 0",
    "f([X /* a */]) = 0",
    "f(1) = 0x1 (flags FD_CLOEXEC)",
    "f(1) = 42 (INJECTED)",
    "f(1) = -1 (errno 524)",
    "f(1) = -1 EPERM (a (nested) note)",
    'f("\\xff\\xfe") = 0',
    "f(" + "9" * 43 + ") = 0",
]


@pytest.mark.parametrize("text", FLAT)
def test_flat_lines(text: str) -> None:
    flat = parse_flat(text)
    assert flat is not None, "expected the reader to take this line"
    assert same(flat, grammar_or_error(text))


NOT_FLAT = [
    "bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_HASH, key_size=4}, 72) = 3",
    "f(1.5) = 0",
    "f(1e5) = 0",
    "f(1) = 1.5",
    "f(08) = 0",
    "f(" + "9" * 44 + ") = 0",
    "f(00:11:22:33:44:55) = 0",
    "f(-ENODEV) = 0",
    "f(???) = 0",
    "f(x=1) = 0",
    "f(cmd=BPF_X) = 0",
    "f(3<anon_inode:bpf-map>) = 0",
    "f(AT_FDCWD</tmp>) = 0",
    "f(1<<CAP_X) = 0",
    "f(SIGRTMIN+1) = 0",
    "f(~[INT]) = 0",
    "f([INT TERM]) = 0",
    "f([[0]=1]) = 0",
    "f(TCGETS or SNDCTL_TMR_TIMEBASE) = 0",
    "f(A => B) = 0",
    "f(g(1)) = 0",
    "f(/* a */ 1) = 0",
    "f(1 /* a */ /* b */) = 0",
    "f(A|B /* c */) = 0",
    'f("a" /* c */) = 0',
    'f("a" ...) = 0',
    "f(1,  2) = 0",
    "f(1,2) = 0",
    "f( 1) = 0",
    "f(1)\t= 0",
    "f(1) = 3</dev/null>",
    "f(1) = 12 /* 5 in strace's PID NS */",
    "f(1) =  0",
    "f(1) = 0 ",
    "f(1) = ",
    "f(1)",
    "f(1 = 0",
    "f(1)) = 0",
    'f("unterminated) = 0',
    "f(1) = 0 EPERMx",
    "f(1) = 0 (a)b",
]


@pytest.mark.parametrize("text", NOT_FLAT)
def test_left_to_the_grammar(text: str) -> None:
    assert parse_flat(text) is None
    # ... and call_fields gives the grammar's answer, error included.
    try:
        got: object = call_fields(text)
    except SyntaxProblem as exc:
        got = f"error: {exc}"
    assert same(got, grammar_or_error(text))


TRUE_LOG = """\
15689 1796322308.501926 execve("/bin/true", ["/bin/true"], 0x7ffd410020c0 /* 39 vars */) = 0
15689 1796322308.502494 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3
15689 1796322308.502556 close(3)        = 0
15689 1796322308.502586 openat(AT_FDCWD, "/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY|O_CLOEXEC) = 3
15689 1796322308.502614 read(3, "\\177ELF\\2\\1\\1\\3\\0\\0\\0\\0"..., 832) = 832
15689 1796322308.502798 close(3)        = 0
15689 1796322308.503010 exit_group(0)   = ?
15689 1796322308.503134 +++ exited with 0 +++
"""
"""The calls strace 6.1 showed of ``/bin/true`` with run's flags (its mmap lines and
most of the ELF header left out)."""


def test_a_flat_run_never_imports_lark() -> None:
    """The point of the reader: flat lines alone (a run of /bin/true) load no Lark."""
    probe = (
        "import io, sys\n"
        "from bpfexplain.framing import Stats\n"
        "from bpfexplain.parser import parse_events\n"
        "log = io.BytesIO(sys.stdin.buffer.read())\n"
        "events = list(parse_events([('x', log)], Stats()))\n"
        "assert len(events) == 7, events\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'lark'"
        " or m == 'bpfexplain.grammar'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, input=TRUE_LOG,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
