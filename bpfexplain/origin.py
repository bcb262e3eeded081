"""Which kernel a log was recorded on, and whether this machine may name its numbers.

Tracepoint ids, PMU types and ifindexes belong to the machine that recorded a log;
BTF type ids even differ between two builds of one kernel version; a uprobe's offset
belongs to the very file on that machine.  Looking any of them up here is right only
when the log was recorded here, on this kernel.  A wrong name is worse than none, so
a :class:`LogOrigin` collects what the log and its sidecar say about the recording
kernel and answers one question: may names be looked up locally, and if not, why not.

What tells the kernel, most specific first:

* a live run (``bpfexplain run``): recorded here, now;
* the sidecar's ``kernel`` (``uname -r`` at record time) and ``uname`` calls in the
  log: the release string, which names the build (``6.1.0-18-amd64``);
* ``kern_version=KERNEL_VERSION(5, 15, 122)`` in ``BPF_PROG_LOAD``: the version only,
  as loaders compute it (zero means the loader left it unset);
* the header of the vmlinux BTF the loader read from ``/sys/kernel/btf/vmlinux``:
  the sizes of its type and string sections, which tell one kernel build's BTF from
  another's.

The loader's BTF header decides when the log has one (equal: this build; different:
another).  Otherwise a release that differs from this machine's, or a version that
differs, refuses every local lookup.  A matching version with no release is enough
for tracepoint ids and PMU types (they change with the kernel's configuration, which
the version rarely hides) but not for BTF ids, which need the release or a matching
BTF header.
"""

from __future__ import annotations

import os
import re
import struct
from typing import Literal

from bpfexplain.plain import Frozen, Record, init_field

LocalKind = Literal["tracepoint", "pmu", "btf", "symbol", "ifindex"]
"""What a local lookup would name: tracefs ids, sysfs PMU types, vmlinux BTF ids,
ELF symbols of files on this machine, interface indexes."""

BTF_PATH = "/sys/kernel/btf/vmlinux"
BTF_MAGIC = 0xEB9F
_BTF_HEADER = "<HBBIIIII"
"""struct btf_header (include/uapi/linux/btf.h): magic, version, flags, hdr_len,
type_off, type_len, str_off, str_len; little-endian on the machines we read."""

_RELEASE_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


def version_code(major: int, minor: int, patch: int) -> int:
    """``KERNEL_VERSION(a, b, c)`` as the kernel computes it (the patch capped at 255)."""
    return (major << 16) + (minor << 8) + min(patch, 255)


def release_version(release: str) -> int | None:
    """``6.1.0-18-amd64`` → the version code of 6.1.0; None when it is not a release."""
    m = _RELEASE_VERSION.match(release)
    if m is None:
        return None
    return version_code(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def version_text(code: int) -> str:
    return f"{code >> 16}.{(code >> 8) & 0xFF}.{code & 0xFF}"


def btf_header(data: bytes) -> tuple[int, int] | None:
    """The (type_len, str_len) of a vmlinux BTF blob's header, or None if it is not one."""
    if len(data) < struct.calcsize(_BTF_HEADER):
        return None
    magic, _, _, hdr_len, _, type_len, _, str_len = struct.unpack_from(_BTF_HEADER, data)
    if magic != BTF_MAGIC or hdr_len < 24:
        return None
    return (type_len, str_len)


class ThisKernel(Frozen):
    """This machine's kernel, as far as naming needs it."""

    __slots__ = _fields = ("release", "version", "btf")

    release: str
    version: int | None
    btf: tuple[int, int] | None

    def __init__(self, release: str, version: int | None, btf: tuple[int, int] | None) -> None:
        init_field(self, "release", release)
        init_field(self, "version", version)
        init_field(self, "btf", btf)

    @staticmethod
    def read() -> ThisKernel:
        release = os.uname().release
        header: tuple[int, int] | None = None
        try:
            with open(BTF_PATH, "rb") as fh:
                header = btf_header(fh.read(24))
        except OSError:
            header = None
        return ThisKernel(release, release_version(release), header)


class LogOrigin(Record):
    """What the log (and its sidecar) says about the kernel that recorded it."""

    __slots__ = _fields = ("live", "release", "release_source", "version", "btf", "here")

    live: bool
    """A live run: the log is being recorded on this machine."""
    release: str | None
    release_source: str | None
    """``sidecar`` or ``uname``: where the release came from."""
    version: int | None
    """The first non-zero ``kern_version`` a loader passed."""
    btf: tuple[int, int] | None
    """The header of the vmlinux BTF the loader read, when the log shows it."""
    here: ThisKernel | None
    """This machine (read on first use; tests set it)."""

    def __init__(self, live: bool = False, release: str | None = None,
                 release_source: str | None = None, version: int | None = None,
                 btf: tuple[int, int] | None = None, here: ThisKernel | None = None) -> None:
        self.live = live
        self.release = release
        self.release_source = release_source
        self.version = version
        self.btf = btf
        self.here = here

    # -- what the log says -----------------------------------------------------------

    def note_release(self, release: str, source: str) -> None:
        if release and self.release is None:
            self.release, self.release_source = release, source

    def note_kern_version(self, code: int) -> None:
        if code > 0 and self.version is None:
            self.version = code

    def note_btf_read(self, data: bytes) -> None:
        if self.btf is None:
            self.btf = btf_header(data)

    # -- the answer --------------------------------------------------------------------

    def this(self) -> ThisKernel:
        if self.here is None:
            self.here = ThisKernel.read()
        return self.here

    def refusal(self, kind: LocalKind) -> str | None:
        """Why names of ``kind`` must not be looked up on this machine; None when they may.

        The reason is a phrase for the story: "the log was recorded on Linux 5.15.122,
        this machine runs 6.18.44".
        """
        if self.live:
            return None
        here = self.this()
        if self.btf is not None and here.btf is not None:
            # The loader's own read of vmlinux BTF is the most direct evidence: BTF is
            # generated from one kernel build, so equal section sizes mean this build
            # (and so these tracepoint ids too), different ones another kernel.
            if self.btf == here.btf:
                return None
            return ("the vmlinux BTF the loader read differs from this machine's "
                    "(another kernel build)")
        if self.release is not None:
            if self.release == here.release:
                return None
            where = "its sidecar says" if self.release_source == "sidecar" else "uname said"
            return (f"the log was recorded on Linux {self.release} ({where}), this "
                    f"machine runs {here.release}")
        if self.version is not None:
            if here.version is None or self.version != here.version:
                return (f"the log was recorded on Linux {version_text(self.version)} "
                        f"(kern_version in BPF_PROG_LOAD), this machine runs {here.release}")
            if kind == "btf":
                return (f"the log only says Linux {version_text(self.version)} "
                        "(kern_version); BTF ids differ between builds of one version")
            return None
        return "the log does not say which kernel recorded it"
