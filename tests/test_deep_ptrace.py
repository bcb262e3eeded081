"""Deep mode's ptrace requests go through python-ptrace, and its import runs no ldconfig.

python-ptrace is one of the libraries bpfexplain is built on: these tests fail if the
backend makes its ptrace requests some other way (its own ctypes calls into libc, as
it once did to save python-ptrace's import), if the import shortcut of
:func:`bpfexplain.deep.backend._libc_known` stops working or leaks out of its scope,
or if a signal's sender is decoded through python-ptrace's 16-bit ``uid`` field.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ptrace.binding import func
from ptrace.binding.linux_struct import siginfo
from ptrace.error import PtraceError

from bpfexplain.deep import backend, seccomp
from bpfexplain.values import Event, Signal

# Records every program ctypes.util would start (ldconfig -p, gcc, ld) while the
# snippet after it runs, then prints what python-ptrace loaded as the C library.
RECORD_SUBPROCESSES = textwrap.dedent("""
    import json, subprocess, sys
    started = []
    class Recording(subprocess.Popen):
        def __init__(self, args, *rest, **kw):
            started.append([str(a) for a in args])
            super().__init__(args, *rest, **kw)
    subprocess.Popen = Recording
    import ctypes.util
    original = ctypes.util.find_library
    from bpfexplain.deep import backend
""")
REPORT = textwrap.dedent("""
    import ptrace.ctypes_libc
    print(json.dumps({"started": started, "libc": ptrace.ctypes_libc.LIBC_FILENAME,
                      "mapped": backend._mapped_libc(),
                      "restored": ctypes.util.find_library is original}))
""")


def run_python(code: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_requests_are_python_ptraces_own() -> None:
    requests = backend._Requests()
    assert requests.traceme is func.ptrace_traceme
    assert requests.setoptions is func.ptrace_setoptions
    assert requests.cont is func.ptrace_cont
    assert requests.syscall is func.ptrace_syscall
    assert requests.geteventmsg is func.ptrace_geteventmsg
    assert requests.getsiginfo is func.ptrace_getsiginfo
    assert requests.request is func.ptrace
    assert requests.error is PtraceError
    tracer = backend.Tracer(seccomp.MACHINE_ARCH[os.uname().machine], None)
    assert isinstance(tracer._ptrace, backend._Requests)


def test_python_ptrace_is_imported_without_ldconfig() -> None:
    result = run_python(RECORD_SUBPROCESSES + "backend._Requests()\n" + REPORT)
    assert result["started"] == []
    assert result["restored"] is True
    mapped = result["mapped"]
    # Debian's glibc here: the shortcut must have had something to give
    assert isinstance(mapped, str) and os.path.basename(mapped).startswith("libc")
    assert result["libc"] == mapped
    # The control: the same recording sees ldconfig when python-ptrace is imported
    # the plain way, so the first result is not the recorder failing.
    plain = run_python(RECORD_SUBPROCESSES + "import ptrace.binding\n" + REPORT)
    started = plain["started"]
    assert isinstance(started, list) and any("ldconfig" in " ".join(a) for a in started)


def test_the_libc_answer_is_scoped() -> None:
    real = ctypes.util.find_library
    mapped = backend._mapped_libc()
    assert mapped is not None and os.path.exists(mapped)
    # the very library this process uses: its ptrace is the one ctypes finds in it
    assert ctypes.CDLL(mapped).ptrace is not None
    with backend._libc_known():
        assert ctypes.util.find_library("c") == mapped
        assert ctypes.util.find_library("no-such-library-bpfexplain") is None
    assert ctypes.util.find_library is real
    with pytest.raises(RuntimeError), backend._libc_known():
        raise RuntimeError("an import that fails")
    assert ctypes.util.find_library is real


class _Siginfo:
    """python-ptrace's request stand-in: fills its own siginfo type with given bytes."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.error = PtraceError

    def getsiginfo(self, tid: int) -> siginfo:
        info = siginfo()
        ctypes.memmove(ctypes.addressof(info), self.raw, len(self.raw))
        return info


def signal_events(sig: int, raw: bytes) -> list[Event]:
    tracer = backend.Tracer.__new__(backend.Tracer)
    tracer._ptrace = _Siginfo(raw)  # type: ignore[assignment]
    tracer.state = backend._State()
    tracer.on_event = None
    resumed: list[int] = []
    tracer._resume = lambda thread, sig=0: resumed.append(sig)  # type: ignore[method-assign]
    thread = backend._Thread(77, None, 77)  # type: ignore[arg-type]
    tracer._signal_stop(thread, sig)
    assert resumed == [sig]
    return tracer.state.events


def test_a_senders_uid_above_65535_is_kept() -> None:
    # python-ptrace's siginfo declares uid_t as 16 bits: 70000 would read as 4464
    raw = backend._SIGINFO_HEAD.pack(signal.SIGUSR1, 0, 0, 4242, 70000, 0)
    (event,) = signal_events(signal.SIGUSR1, raw)
    assert isinstance(event, Signal)
    assert event.info == {"si_signo": "SIGUSR1", "si_code": "SI_USER", "si_pid": 4242,
                          "si_uid": 70000}
    raw = backend._SIGINFO_HEAD.pack(signal.SIGCHLD, 0, 1, 4343, 65536 + 5, 3)
    (event,) = signal_events(signal.SIGCHLD, raw)
    assert isinstance(event, Signal)
    assert event.info == {"si_signo": "SIGCHLD", "si_code": "CLD_EXITED", "si_pid": 4343,
                          "si_uid": 65541, "si_status": 3}


# linux/ptrace.h: every request the backend makes
REQUESTS = {backend.PTRACE_TRACEME: "TRACEME", backend.PTRACE_SETOPTIONS: "SETOPTIONS",
            backend.PTRACE_CONT: "CONT", backend.PTRACE_SYSCALL: "SYSCALL",
            backend.PTRACE_GETEVENTMSG: "GETEVENTMSG",
            backend.PTRACE_GETSIGINFO: "GETSIGINFO",
            backend.PTRACE_GET_SYSCALL_INFO: "GET_SYSCALL_INFO"}


@pytest.mark.live()
def test_a_live_trace_makes_every_request_through_python_ptrace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every python-ptrace wrapper calls the module's ptrace() by name, so a counter put
    # there sees them all, in the tracer and in the child before its exec (hence a file,
    # not a list: the child is another process).
    log = tmp_path / "requests"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    real = func.ptrace

    def counting(command: int, pid: int = 0, arg1: int = 0, arg2: int = 0,
                 check_errno: bool = False) -> int:
        os.write(fd, b"%d\n" % command)
        result: int = real(command, pid, arg1, arg2, check_errno)
        return result

    monkeypatch.setattr(func, "ptrace", counting)
    try:
        # a fork (GETEVENTMSG), an exec (GETEVENTMSG), the child's SIGCHLD (GETSIGINFO),
        # execve and clone stopped by the filter (GET_SYSCALL_INFO, SYSCALL to their exit)
        events, status = backend.trace_command(["sh", "-c", "/bin/true & wait"])
    finally:
        os.close(fd)
    assert status == 0
    seen = {int(line) for line in log.read_text().split()}
    assert {REQUESTS.get(n, hex(n)) for n in seen} == set(REQUESTS.values())
    sigchld = [e for e in events if isinstance(e, Signal) and e.name == "SIGCHLD"]
    children = {e.pid for e in events if e.pid != events[0].pid}
    assert sigchld and sigchld[0].info["si_pid"] in children


STAND_IN = textwrap.dedent("""
    import json, sys
    from bpfexplain.deep import backend
    before = "ctypes.util" in sys.modules
    backend._Requests()
    import ptrace.ctypes_libc
    after = sorted(name for name in ("ctypes.util", "subprocess", "shutil")
                   if name in sys.modules)
    import ctypes.util   # the real module, as if the stand-in had never been
    print(json.dumps({"before": before, "after": after,
                      "libc": ptrace.ctypes_libc.LIBC_FILENAME,
                      "mapped": backend._mapped_libc(),
                      "real": ctypes.util.__file__ is not None
                              and callable(ctypes.util.find_library)
                              and not isinstance(ctypes.util, backend._LibcStandIn)}))
""")


def test_python_ptrace_is_imported_without_ctypes_util_when_nothing_had() -> None:
    # The tracer of a pre-started run --deep: ctypes.util (and with it subprocess and
    # shutil) is not imported at all, yet python-ptrace gets the mapped C library.
    result = run_python(STAND_IN)
    assert result["before"] is False
    assert result["after"] == []
    assert result["libc"] == result["mapped"] is not None
    assert result["real"] is True


def test_the_stand_in_answers_every_other_question_from_the_real_module() -> None:
    code = textwrap.dedent("""
        import json, sys
        from bpfexplain.deep import backend
        stand_in = backend._LibcStandIn("/the/mapped/libc.so.6")
        sys.modules["ctypes.util"] = stand_in
        answers = [stand_in.find_library("c"),
                   stand_in.find_library("no-such-library-bpfexplain")]
        real = sys.modules["ctypes.util"]
        print(json.dumps({"answers": answers, "replaced": real is not stand_in,
                          "attribute": callable(stand_in.find_library)
                                       and stand_in.__getattr__("find_library")
                                       is real.find_library}))
    """)
    result = run_python(code)
    assert result["answers"] == ["/the/mapped/libc.so.6", None]
    assert result["replaced"] is True
    assert result["attribute"] is True
