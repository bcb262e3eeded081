"""Issue 12: root, other people's files, hard kills and hostile logs.

The attacks are played for real: root runs bpfexplain in a sticky shared directory
where an unprivileged user (nobody, 65534, through ``setpriv``) planted symlinks,
FIFOs, sidecars and grammar caches.  Each test names the attack it pins.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpfexplain import private, safeio
from bpfexplain.errors import InputError
from bpfexplain.text import json_text, safe

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEED = FIXTURES / "seed.log"
TIMEOUT = 60
NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]

needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                                reason="needs root and setpriv to play the other user")


def bpfexplain(*args: str, user: int | None = None, cwd: Path | str | None = None,
               env: dict[str, str] | None = None, stdin: bytes | None = None,
               timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bpfexplain", *args]
    if user is not None:
        command = [*AS_NOBODY, *command]
    proc = subprocess.run(command, capture_output=True, timeout=timeout, cwd=cwd,
                          env=env, input=stdin, check=False)
    result = subprocess.CompletedProcess(proc.args, proc.returncode,
                                         proc.stdout.decode("utf-8", "replace"),
                                         proc.stderr.decode("utf-8", "replace"))
    assert "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr
    return result


def as_nobody(*command: str) -> None:
    subprocess.run([*AS_NOBODY, *command], check=True, timeout=TIMEOUT)


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("bpfexplain: error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


@pytest.fixture
def shared() -> Iterator[Path]:
    """A sticky, world-writable directory like /tmp, reachable by nobody (pytest's
    tmp_path sits in a 0700 directory)."""
    directory = Path(tempfile.mkdtemp(prefix="bpfx-harden-", dir="/tmp"))
    directory.chmod(0o1777)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _private_tmp(shared: Path) -> Path:
    """A TMPDIR for one bpfexplain run: what it leaves there is its own (a glob of
    /tmp would also see other processes' scratch directories)."""
    scratch = shared / "tmpdir"
    scratch.mkdir(mode=0o700)
    return scratch


# --------------------------------------------------------------------------------
# 2. every file bpfexplain writes: symlinks, FIFOs, devices, modes


@needs_root
@pytest.mark.parametrize("name", ["out.txt", "graph.svg", "story.html", "graph.png",
                                  "story.json"])
def test_output_symlink_planted_by_another_user_is_not_followed(shared: Path,
                                                                 name: str) -> None:
    victim = shared / "victim"
    victim.write_text("precious\n")
    as_nobody("ln", "-s", str(victim), str(shared / name))
    fmt = "dot" if name.startswith("graph") else "json" if name.endswith("json") else "text"
    proc = bpfexplain("parse", "-q", "--format", fmt, "-o", str(shared / name), str(SEED))
    assert proc.returncode == 3
    assert f"symlink owned by uid {NOBODY}" in error_line(proc)
    assert victim.read_text() == "precious\n"
    assert (shared / name).is_symlink()


@needs_root
def test_run_save_and_sidecar_symlinks_refused_before_tracing(shared: Path) -> None:
    victim = shared / "victim"
    victim.write_text("precious\n")
    as_nobody("ln", "-s", str(victim), str(shared / "x.log.meta.json"))
    scratch = _private_tmp(shared)
    proc = bpfexplain("run", "--save", str(shared / "x.log"), "--", "true",
                      env={**os.environ, "TMPDIR": str(scratch)})
    assert proc.returncode == 3
    assert "x.log.meta.json" in error_line(proc) and "symlink" in error_line(proc)
    assert victim.read_text() == "precious\n"
    assert not (shared / "x.log").exists()  # refused before strace started
    assert not list(scratch.iterdir())  # nor a scratch directory for strace's log


@needs_root
@pytest.mark.parametrize("command", ["parse", "run"])
@pytest.mark.parametrize("option", ["--output", "--save"])
def test_fifo_at_an_output_is_refused_at_once(shared: Path, command: str, option: str) -> None:
    if command == "parse" and option == "--save":
        pytest.skip("parse has no --save")
    fifo = shared / "planted"
    as_nobody("mkfifo", "-m", "0666", str(fifo))
    scratch = _private_tmp(shared)
    env = {**os.environ, "TMPDIR": str(scratch)}
    args = [option, str(fifo)]
    started = time.monotonic()
    if command == "parse":
        proc = bpfexplain("parse", "-q", *args, str(SEED), timeout=20, env=env)
    else:
        proc = bpfexplain("run", *args, "--", "true", timeout=20, env=env)
    assert time.monotonic() - started < 15
    assert proc.returncode == 3
    assert "is a fifo, not a regular file" in error_line(proc)
    assert not list(scratch.iterdir())


def test_devices_and_directories_are_not_outputs(tmp_path: Path) -> None:
    for target, why in (("/dev/null", "is a device"), (str(tmp_path), "is a directory")):
        proc = bpfexplain("parse", "-q", "-o", target, str(SEED))
        assert proc.returncode == 3 and why in error_line(proc)
    # '-' is stdout, the one way to name a stream
    proc = bpfexplain("parse", "-q", "--format", "json", "-o", "-", str(SEED))
    assert proc.returncode == 0 and json.loads(proc.stdout)["objects"]


def test_own_symlink_is_followed_and_modes_are_exact(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    old = os.umask(0o077)  # the modes are bpfexplain's, not the umask's
    try:
        safeio.write_file(tmp_path / "link" / "story.txt", "story\n")
        with safeio.create_stream(tmp_path / "trace.log") as log:
            log.write(b"line\n")
    finally:
        os.umask(old)
    assert (real / "story.txt").read_text() == "story\n"
    assert stat.S_IMODE((real / "story.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "trace.log").stat().st_mode) == 0o600
    assert (tmp_path / "trace.log").read_bytes() == b"line\n"
    assert not [p for p in real.iterdir() if ".bpfexplain-" in p.name]  # no temp left


def test_existing_file_is_replaced_not_written_through(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    hard = tmp_path / "hardlink"
    os.link(target, hard)
    safeio.write_file(target, "new\n")
    assert target.read_text() == "new\n"
    assert hard.read_text() == "old\n"  # the old inode was never opened for writing


@needs_root
def test_symlinked_directory_of_another_user_is_not_followed(shared: Path) -> None:
    target = shared / "rootdir"
    target.mkdir(mode=0o755)
    as_nobody("ln", "-s", str(target), str(shared / "sub"))
    with pytest.raises(safeio.UnsafePath, match="symlink owned by uid 65534"):
        safeio.write_file(shared / "sub" / "x.txt", "x")
    assert not (target / "x.txt").exists()


@needs_root
def test_unwritable_output_as_a_normal_user_is_one_line(shared: Path) -> None:
    log = shared / "seed.log"
    shutil.copy(SEED, log)
    log.chmod(0o644)
    for command in (["parse", "-q", "-o", "/root/sub/x.txt", str(log)],
                    ["run", "--output", "/root/sub/x.txt", "--", "true"]):
        proc = bpfexplain(*command, user=NOBODY, cwd="/")
        assert proc.returncode == 3, proc.stderr  # the same mistake, the same code
        assert "permission denied" in error_line(proc)


def test_parse_checks_output_before_reading_input() -> None:
    # stdin never ends: only a check made before reading can answer
    proc = subprocess.Popen([sys.executable, "-m", "bpfexplain", "parse", "-q", "-o",
                             "/nonexistent-dir/x.txt", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3
    assert "no such directory" in err


# --------------------------------------------------------------------------------
# 1. the grammar cache


MALICIOUS_MARK = "/tmp/bpfx-harden-pwned"


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {MALICIOUS_MARK}",))


def test_grammar_cache_unpickler_refuses_every_global() -> None:
    from bpfexplain.grammar import _PlainUnpickler

    with pytest.raises(pickle.UnpicklingError, match="refused"):
        _PlainUnpickler(io.BytesIO(pickle.dumps({"data": _Evil()}))).load()
    assert not os.path.exists(MALICIOUS_MARK)


@needs_root
def test_root_never_uses_a_cache_in_a_users_home(shared: Path) -> None:
    home = shared / "home"
    as_nobody("mkdir", "-m", "0755", str(home))
    cache = home / ".cache" / "bpfexplain"
    as_nobody("mkdir", "-p", str(cache))
    import hashlib

    import lark

    from bpfexplain.grammar import grammar_text

    digest = hashlib.sha256((lark.__version__ + grammar_text()).encode()).hexdigest()[:16]
    planted = cache / f"grammar-{digest}.pickle"
    planted.write_bytes(pickle.dumps({"data": _Evil(), "memo": {}}))
    os.chown(planted, NOBODY, NOBODY)
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    proc = bpfexplain("parse", "-q", "--format", "json", str(SEED), env=env)
    assert proc.returncode == 0
    assert not os.path.exists(MALICIOUS_MARK)
    # and nothing of root's was left in the user's home
    assert all(p.stat().st_uid == NOBODY for p in home.rglob("*"))


@needs_root
def test_private_dir_refuses_other_owners_and_symlinks(shared: Path) -> None:
    mine = shared / "mine"
    mine.mkdir(mode=0o700)
    fd = private.open_private_dir(str(mine))
    assert fd is not None
    os.close(fd)
    theirs = shared / "theirs"
    as_nobody("mkdir", "-m", "0700", str(theirs))
    assert private.open_private_dir(str(theirs)) is None
    as_nobody("ln", "-s", str(mine), str(shared / "swapped"))
    assert private.open_private_dir(str(shared / "swapped")) is None
    (mine / "loose").mkdir(mode=0o777)
    (mine / "loose").chmod(0o777)
    assert private.open_private_dir(str(mine / "loose")) is None
    # a file of another owner in a private directory is not read
    fd = private.open_private_dir(str(mine))
    assert fd is not None
    try:
        (mine / "f").write_bytes(b"data")
        assert private.read_private(fd, "f", limit=100) == b"data"
        os.chown(mine / "f", NOBODY, NOBODY)
        assert private.read_private(fd, "f", limit=100) is None
    finally:
        os.close(fd)


def test_cache_is_written_and_reused(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root's cache lives in root's home, not in XDG_CACHE_HOME")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    assert bpfexplain("parse", "-q", str(SEED), env=env).returncode == 0
    assert list((tmp_path / "bpfexplain").glob("grammar-*.pickle"))


# --------------------------------------------------------------------------------
# 4. sidecars and id files


@needs_root
def test_planted_sidecars_of_the_directory_are_not_read(shared: Path) -> None:
    logdir = shared / "X"
    logdir.mkdir(mode=0o1777)
    logdir.chmod(0o1777)
    log = logdir / "trace.log"
    shutil.copy(SEED, log)
    planted = json.dumps({"tracepoint_ids": {"443": "planted:by_nobody"}})
    for name in (shared / "X.meta.json", logdir / "X.meta.json", logdir / "trace.log.meta.json"):
        as_nobody("sh", "-c", f"printf '%s' '{planted}' > {name}")
    proc = bpfexplain("parse", "--no-resolve-locally", str(log))
    assert proc.returncode == 0
    assert "planted" not in proc.stdout
    # the log's own sidecar, owned by another user, is skipped and the user is told
    assert "trace.log.meta.json: sidecar not used: owned by uid 65534" in proc.stderr


@pytest.mark.parametrize(("content", "why"), [
    ('{"tracepoint_ids": {"\u0663": "a:b"}}', "not 1-10 digits"),
    ('{"tracepoint_ids": {"1": "a:b"}, "pmu_types": {"x": ' + "9" * 4300 + "}}",
     "bad sidecar"),
    ("[" * 100_000 + "]" * 100_000, "bad sidecar"),
    ('{"tracepoint_ids": ["a:b"]}', "tracepoint_ids must be an object"),
    ('{"pmu_types": {"uprobe": "8"}}', "type must be a number"),
    ('{"pmu_types": {"uprobe": true}}', "type must be a number"),
    ('{"tracepoint_ids": {"443": "a\\u202eb"}}', "printable ASCII"),
    ("[1, 2]", "a JSON object expected"),
    ("\xff\xfe", "bad sidecar"),
])
def test_malformed_sidecar_is_exit_3_in_one_line(tmp_path: Path, content: str,
                                                  why: str) -> None:
    log = tmp_path / "trace.log"
    shutil.copy(SEED, log)
    (tmp_path / "trace.log.meta.json").write_bytes(content.encode("utf-8", "surrogateescape")
                                                   if content != "\xff\xfe" else b"\xff\xfe")
    proc = bpfexplain("parse", "-q", str(log))
    assert proc.returncode == 3
    assert why in error_line(proc)


def test_huge_sidecar_is_refused_without_reading_it(tmp_path: Path) -> None:
    log = tmp_path / "trace.log"
    shutil.copy(SEED, log)
    with (tmp_path / "trace.log.meta.json").open("wb") as f:
        f.truncate(200 << 20)  # 200 MB, sparse
    started = time.monotonic()
    proc = bpfexplain("parse", "-q", str(log))
    assert time.monotonic() - started < 10
    assert proc.returncode == 3
    assert "more than the 1,048,576 allowed" in error_line(proc)


@pytest.mark.parametrize("ids", ["\u0663 raw_syscalls:sys_enter\n", "9" * 5000 + " a:b\n"])
def test_bad_tracepoint_ids_are_one_line(tmp_path: Path, ids: str) -> None:
    (tmp_path / "ids").write_text(ids)
    proc = bpfexplain("parse", "-q", "--tracepoint-ids", str(tmp_path / "ids"), str(SEED))
    assert proc.returncode == 3
    assert "is not a tracepoint id" in error_line(proc)


# --------------------------------------------------------------------------------
# 5. one clear line for what used to be internal errors


@pytest.mark.parametrize(("content", "code"), [
    (SEED.read_bytes(), 0),
    (b"", 3),
    (bytes(range(256)) * 20, 3),
    (gzip.compress(SEED.read_bytes()), 3),
])
def test_bare_relative_names(tmp_path: Path, content: bytes, code: int) -> None:
    (tmp_path / "trace.log").write_bytes(content)
    proc = bpfexplain("parse", "-q", "trace.log", cwd=tmp_path)
    assert proc.returncode == code, proc.stderr
    for name in (".", "..", "./"):
        assert "internal" not in bpfexplain("parse", "-q", name, cwd=tmp_path).stderr


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "events", "dot", "mermaid"])
def test_a_4000_digit_number_is_an_unparsable_line(tmp_path: Path, fmt: str) -> None:
    lines = SEED.read_bytes().splitlines(keepends=True)
    huge = b"11445 bpf(BPF_MAP_CREATE, {map_type=0x" + b"f" * 4000 + b"}, 72) = 9\n"
    decimal = b"11445 close(" + b"7" * 5000 + b") = 0\n"
    (tmp_path / "t.log").write_bytes(b"".join(lines[:20]) + huge + decimal
                                     + b"".join(lines[20:]))
    proc = bpfexplain("parse", "--format", fmt, str(tmp_path / "t.log"))
    assert proc.returncode == 0
    assert "2 unparsable" in proc.stderr
    assert "more than 40 digits" in proc.stderr


def test_huge_numbers_are_refused_by_the_shape_cache_too() -> None:
    from bpfexplain.grammar import SyntaxProblem
    from bpfexplain.shapes import ShapeCache

    cache = ShapeCache()
    line = "bpf(BPF_MAP_LOOKUP_ELEM, {map_fd=3, key=0x{}, value=0x7ffd}, 32) = 0"
    for value in ("1", "2", "3"):  # the shape repeats: a template is learnt
        cache.parse(line.replace("{}", value))
    assert cache.hits
    with pytest.raises(SyntaxProblem, match="more than 40 digits"):
        cache.parse(line.replace("{}", "f" * 4000))


# --------------------------------------------------------------------------------
# 6. escapes per output context

HIDDEN = ["\x9b", "\u202e", "\u200b", "\u200f", "\u061c", "\ufeff", "\x1b"]


def _strace_quoted(text: str) -> str:
    """How strace prints a name's bytes: non-printable ones as octal escapes."""
    return "".join(c if " " <= c < "\x7f" and c not in '"\\' else
                   "".join(f"\\{b:03o}" for b in c.encode()) for c in text)


def _hostile_log(tmp_path: Path) -> Path:
    name = "m" + "".join(HIDDEN) + "x"
    lines = SEED.read_text().splitlines(keepends=True)
    out = [line.replace('map_name="printf"', f'map_name="{_strace_quoted(name)}"')
           for line in lines]
    assert out != lines
    path = tmp_path / "hostile.log"
    path.write_text("".join(out))
    return path


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "events", "dot", "mermaid"])
def test_hidden_characters_never_reach_an_output_raw(tmp_path: Path, fmt: str) -> None:
    log = _hostile_log(tmp_path)
    proc = bpfexplain("parse", "-q", "--color", "--format", fmt, str(log))
    assert proc.returncode == 0
    for char in HIDDEN:
        if fmt == "text" and char == "\x1b":
            continue  # rich's own colour codes; the log's ESC is shown as \x1b
        assert char not in proc.stdout, (fmt, hex(ord(char)))
    if fmt in ("text", "json", "events"):  # (the pictures name the map by its role)
        assert "m\\x9b" in proc.stdout or "m\\u009b" in proc.stdout
    if fmt == "json":
        names = [o["name"] for o in json.loads(proc.stdout)["objects"]]
        assert "m" + "".join(HIDDEN) + "x" in names  # escaped, not lost


@pytest.mark.parametrize("suffix", [".html", ".svg"])
def test_hidden_characters_in_exports(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"story{suffix}"
    assert bpfexplain("parse", "-q", "-o", str(out), str(_hostile_log(tmp_path))).returncode == 0
    text = out.read_text()
    for char in HIDDEN:
        assert char not in text


def test_markdown_fence_cannot_be_closed_by_the_log(tmp_path: Path) -> None:
    line = (FIXTURES / "verifier-reject.log").read_text().splitlines()[14]
    assert 'log_buf=""' in line
    hostile = line.replace('log_buf=""', 'log_buf="```\\n<img src=x onerror=alert(1)>\\n"')
    (tmp_path / "v.log").write_text(hostile + "\n")
    proc = bpfexplain("parse", "-q", "--format", "markdown", str(tmp_path / "v.log"))
    body = proc.stdout[proc.stdout.index("## What went wrong"):]
    fence = re.search(r"^ *(`{3,})$", body, re.M)
    assert fence is not None and len(fence.group(1)) > 3
    # everything up to the closing fence of the same length is inside the block
    inside = body[fence.end():body.index(fence.group(1), fence.end())]
    assert "<img src=x onerror=alert(1)>" in inside


def test_ff_file_names_are_escaped_in_the_summary(tmp_path: Path) -> None:
    directory = tmp_path / "ff"
    directory.mkdir()
    good = b"bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_HASH, key_size=4}, 72) = 3\n"
    (directory / "trace\x1b]0;pwned\x07\x1b[2J.100").write_bytes(good + b"bpf(BPF_X, {=} = 3\n")
    (directory / "trace.101").write_bytes(good)
    proc = bpfexplain("parse", "--format", "events", str(directory))
    assert "unparsable" in proc.stderr
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    assert "\\x1b]0;pwned\\x07" in proc.stderr


def test_json_text_escapes_losslessly() -> None:
    data = {"n\u202e": "a\x9b\ufeff\U000e0041é—"}
    text = json_text(data)
    assert not any(c in text for c in "\u202e\x9b\ufeff\U000e0041")
    assert "é—" in text
    assert json.loads(text) == data
    assert safe("a\u200bb\U000e0041") == "a\\u200bb\\U000e0041"


# --------------------------------------------------------------------------------
# 8. smaller points


def test_ff_directory_beyond_the_open_files_limit(tmp_path: Path) -> None:
    directory = tmp_path / "many"
    directory.mkdir()
    line = b"1.000000 bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_HASH, key_size=4}, 72) = 3\n"
    for pid in range(1000, 2500):
        (directory / f"trace.{pid}").write_bytes(line)
    import resource

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    proc = subprocess.run([sys.executable, "-m", "bpfexplain", "parse", "--format", "events",
                           str(directory)], capture_output=True, text=True, timeout=120,
                          preexec_fn=low_limit, check=False)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert len(proc.stdout.splitlines()) == 1500


def test_reading_trusted_files_does_not_block_on_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "f")
    with pytest.raises(safeio.Untrusted, match="fifo"):
        safeio.read_trusted(tmp_path / "f", limit=10)
    (tmp_path / "l").symlink_to(tmp_path / "f")
    with pytest.raises(safeio.Untrusted, match="symlink"):
        safeio.read_trusted(tmp_path / "l", limit=10)
    assert safeio.read_trusted(tmp_path / "missing", limit=10) is None
    assert isinstance(safeio.UnsafePath("x"), InputError)


# --------------------------------------------------------------------------------
# 3. kill -9 of bpfexplain during a live run (and the --save log and sidecar)

NANOSLEEP = "tracepoint:syscalls:sys_enter_nanosleep { @n = count(); }"


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            if re.search(rf"^PPid:\s*{pid}$", status, re.M):
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2] != "Z"


def _held_programs(pid: int) -> set[int]:
    held: set[int] = set()
    for fdinfo in Path(f"/proc/{pid}/fdinfo").glob("*"):
        try:
            m = re.search(r"^prog_id:\s*(\d+)", fdinfo.read_text(), re.M)
        except OSError:
            continue
        if m is not None:
            held.add(int(m.group(1)))
    return held


def _loaded_programs() -> set[int]:
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    return {p["id"] for p in json.loads(out or "[]")}


@pytest.mark.live("bpftrace", "bpftool")
def test_kill_9_of_bpfexplain_leaves_no_program_loaded(shared: Path) -> None:
    save = shared / "k.log"
    proc = subprocess.Popen([sys.executable, "-m", "bpfexplain", "run", "--save", str(save),
                             "--", "bpftrace", "-e", NANOSLEEP],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    loader: list[int] = []
    ours: set[int] = set()
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # until the loader's program runs
            if "bpftrace running" in line:
                break
        tracers = _children(proc.pid)
        loader = [c for t in tracers for c in _children(t)
                  if Path(f"/proc/{c}/comm").read_text().strip() == "bpftrace"]
        assert len(loader) == 1, (tracers, loader)
        deadline = time.monotonic() + 10
        while not (ours := _held_programs(loader[0])) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ours, "the loader holds no program"
        assert ours <= _loaded_programs()
        proc.kill()  # SIGKILL: no cleanup of ours runs
        proc.wait(10)
        deadline = time.monotonic() + 10
        while (_alive(loader[0]) or ours & _loaded_programs()
               or any(_alive(t) for t in tracers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(loader[0]), "the loader outlived bpfexplain"
        assert not ours & _loaded_programs(), "its programs are still loaded"
        assert not [t for t in tracers if _alive(t)], "strace or the watchdog lives on"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in loader:
            if _alive(pid):
                os.kill(pid, 9)
    text = save.read_text()
    assert text.endswith("+++ killed by SIGKILL +++\n"), text[-300:]  # the tail was saved
    assert stat.S_IMODE(save.stat().st_mode) == 0o600
    meta = json.loads((shared / "k.log.meta.json").read_text())  # written at the start
    assert meta["command"][0] == "bpftrace"
    assert stat.S_IMODE((shared / "k.log.meta.json").stat().st_mode) == 0o644


@pytest.mark.live()
def test_save_is_private_and_story_output_is_shared(tmp_path: Path) -> None:
    save, out = tmp_path / "t.log", tmp_path / "story.txt"
    proc = bpfexplain("run", "--save", str(save), "-o", str(out), "--", "true")
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(save.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    meta = json.loads((tmp_path / "t.log.meta.json").read_text())
    assert meta["exit_status"] == 0  # rewritten at the end


@pytest.mark.live("bpftrace", "bpftool", "timeout")
def test_one_ctrl_c_under_timeout_is_one_ctrl_c(tmp_path: Path) -> None:
    """``timeout 60 bpfexplain run ...`` and one ^C on the terminal: timeout relays it
    to bpfexplain and to its whole group, milliseconds apart.  bpfexplain must take
    that for one Ctrl-C: the loader prints its maps, nothing is SIGKILLed."""
    import fcntl
    import termios

    out = tmp_path / "story.json"
    master, slave = os.openpty()

    def controlling_tty() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    seed = "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"
    proc = subprocess.Popen(["timeout", "60", sys.executable, "-m", "bpfexplain", "run",
                             "--format", "json", "-o", str(out), "--", "bpftrace", "-e", seed],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            preexec_fn=controlling_tty,
                            env={**os.environ, "COLUMNS": "250"})
    os.close(slave)
    seen = bytearray()
    try:
        deadline = time.monotonic() + 30
        while b"running \xe2\x80\x94 Ctrl-C to stop" not in seen:
            assert time.monotonic() < deadline, seen.decode("utf-8", "replace")
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
        os.write(master, b"\x03")
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        code = proc.wait(TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        os.close(master)
    text = seen.decode("utf-8", "replace")
    assert code == 0, text
    assert "stopping everything now" not in text
    assert re.search(r"^@\[[^\]]+\]: \d+\r?$", text, re.M), text  # its maps were printed
    doc = json.loads(out.read_text())
    bpftrace = next(p for p in doc["processes"] if p["command"] == "bpftrace")
    assert bpftrace["exit_signal"] is None


@needs_root
def test_demo_site_directory_is_not_made_through_another_users_symlink(shared: Path) -> None:
    target = shared / "rootdir"
    target.mkdir(mode=0o755)
    as_nobody("ln", "-s", str(target), str(shared / "sub"))
    proc = bpfexplain("demo", "--site", str(shared / "sub" / "course"))
    assert proc.returncode == 3
    assert f"symlink owned by uid {NOBODY}" in error_line(proc)
    assert not (target / "course").exists()
    # without the planted link the same command makes every missing level
    made = bpfexplain("demo", "--site", str(shared / "a" / "b" / "course"))
    assert made.returncode == 0, made.stderr
    assert (shared / "a" / "b" / "course" / "index.html").is_file()


def test_make_dirs_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(safeio.UnsafePath, match="not a directory"):
        safeio.make_dirs(tmp_path / "file" / "course")
    with pytest.raises(safeio.UnsafePath, match="not a directory"):
        safeio.make_dirs(tmp_path / "file")
    safeio.make_dirs(f"{tmp_path}/x/y/")
    assert (tmp_path / "x" / "y").is_dir()
