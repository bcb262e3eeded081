"""Names for the numbers a loader read from tracefs and sysfs.

A tracepoint perf event carries only an id (``config=443``), a uprobe only a dynamic
PMU type (``type=0x8``).  The names live on the traced machine, so a resolver answers
from, in order of trust:

1. the log itself: the loader opening ``/sys/kernel/tracing/events/CAT/NAME/id`` (or
   ``/sys/bus/event_source/devices/PMU/type``) and reading the number;
2. files the user gave: ``--tracepoint-ids FILE`` (``ID CAT:NAME`` lines) or the
   ``NAME.meta.json`` sidecar that ``bpfexplain run --save`` and the fixture recorder
   write (``tracepoint_ids`` and ``pmu_types``);
3. this machine's tracefs/sysfs, vmlinux BTF and ELF files, labelled as resolved
   locally, and only when :class:`~bpfexplain.origin.LogOrigin` finds that the log was
   recorded on this kernel (otherwise :meth:`Resolver.refusal` says why not, and the
   story falls back to what the log shows).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from bpfexplain.errors import InputError
from bpfexplain.origin import BTF_PATH, LocalKind, LogOrigin

TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
PMU_ROOT = "/sys/bus/event_source/devices"

_TP_ID_PATH = re.compile(r"/(?:debug/)?tracing/events/([^/]+)/([^/]+)/id$")
_PMU_TYPE_PATH = re.compile(r"/event_source/devices/([^/]+)/type$")

Source = str
"""Where a name came from: ``log``, ``file`` or ``local``."""


@dataclass
class Resolver:
    tracepoints: dict[int, tuple[str, Source]] = field(default_factory=dict)
    pmus: dict[int, tuple[str, Source]] = field(default_factory=dict)
    local: bool = False
    """Fall back to this machine's tracefs/sysfs for numbers nobody else named."""
    origin: LogOrigin = field(default_factory=LogOrigin)
    """Which kernel recorded the log: local names only when it is this one."""
    _local_tp_cache: dict[int, str] | None = None
    _local_pmu_cache: dict[int, str] | None = None

    # -- sources --------------------------------------------------------------

    def learn_from_read(self, path: str, content: str) -> None:
        """The loader read ``content`` from ``path``: remember what it names."""
        if path.endswith(BTF_PATH) and content[:2] == "\x9f\xeb":
            # The first read of vmlinux BTF: its header identifies the kernel build.
            self.origin.note_btf_read(_bytes(content))
            return
        text = content.strip()
        if not text.lstrip("-").isdigit():
            return
        number = int(text)
        m = _TP_ID_PATH.search(path)
        if m is not None:
            self.tracepoints[number] = (f"{m.group(1)}:{m.group(2)}", "log")
            return
        m = _PMU_TYPE_PATH.search(path)
        if m is not None:
            self.pmus[number] = (m.group(1), "log")

    def load_tracepoint_ids(self, path: Path) -> None:
        """``ID CAT:NAME`` lines (also accepts ``CAT:NAME ID`` and a sysfs ``.../id`` path)."""
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            raise InputError(f"{path}: cannot read tracepoint ids ({exc.strerror})") from None
        for raw in lines:
            parts = raw.split()
            if len(parts) != 2:
                continue
            a, b = parts
            if a.isdigit():
                number, name = int(a), b
            elif b.isdigit():
                number, name = int(b), a
            else:
                continue
            m = re.search(r"events/([^/]+)/([^/]+)/id$", name)
            if m is not None:
                name = f"{m.group(1)}:{m.group(2)}"
            self.tracepoints.setdefault(number, (name, "file"))

    def load_sidecar(self, path: Path) -> bool:
        """Read a ``LOG.meta.json`` sidecar when there is one; True when it was used."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return False
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: unreadable sidecar ({exc})") from None
        if not isinstance(data, dict):
            return False
        for key, name in (data.get("tracepoint_ids") or {}).items():
            if str(key).isdigit() and isinstance(name, str):
                self.tracepoints.setdefault(int(key), (name, "file"))
        for name, key in (data.get("pmu_types") or {}).items():
            if isinstance(key, int) and isinstance(name, str):
                self.pmus.setdefault(key, (name, "file"))
        kernel = data.get("kernel")
        if isinstance(kernel, str):
            self.origin.note_release(kernel, "sidecar")
        return True

    def note_kernel_version(self, code: int) -> None:
        """A loader passed ``kern_version`` (``KERNEL_VERSION(x, y, z)``) to the kernel."""
        self.origin.note_kern_version(code)

    def note_uname(self, release: str) -> None:
        """The loader asked ``uname`` and got this release."""
        self.origin.note_release(release, "uname")

    # -- answers ---------------------------------------------------------------

    def refusal(self, kind: LocalKind) -> str | None:
        """Why a name of ``kind`` was not looked up on this machine although local
        lookups are on (None when they are off, or allowed)."""
        return self.origin.refusal(kind) if self.local else None

    def _may_look(self, kind: LocalKind) -> bool:
        return self.local and self.origin.refusal(kind) is None

    def tracepoint(self, number: int) -> tuple[str, Source] | None:
        found = self.tracepoints.get(number)
        if found is not None:
            return found
        if self._may_look("tracepoint"):
            name = self._local_tracepoints().get(number)
            if name is not None:
                return (name, "local")
        return None

    def pmu(self, number: int) -> tuple[str, Source] | None:
        found = self.pmus.get(number)
        if found is not None:
            return found
        if self._may_look("pmu"):
            name = self._local_pmus().get(number)
            if name is not None:
                return (name, "local")
        return None

    def btf_target(self, type_id: int, kind: str) -> tuple[str, Source] | None:
        """``block_rq_issue`` for a tp_btf program's ``attach_btf_id``, ``vfs_read`` for
        an fentry one: from this machine's vmlinux BTF, when the log came from it."""
        if type_id <= 0 or not self._may_look("btf"):
            return None
        from bpfexplain import btf

        blob = btf.vmlinux()
        found = blob.type(type_id) if blob is not None else None
        name = btf.attach_target(found, kind) if found is not None else None
        return (name, "local") if name else None

    def uprobe_target(self, path: str, offset: int, ref_ctr: int = 0) -> UprobeTarget | None:
        """What a uprobe at file offset ``offset`` of ``path`` probes, from that file on
        this machine, when the log came from it: a USDT probe or a symbol."""
        if not path or not self._may_look("symbol"):
            return None
        from bpfexplain.deep import elfsyms

        elf = elfsyms.symbols_of(path)
        if elf is None:
            return None
        usdt = elf.usdt_at(offset)
        if usdt is not None:
            return UprobeTarget("usdt", f"{usdt.provider}:{usdt.name}")
        if ref_ctr:
            # Only USDT probes carry a semaphore (reference counter) offset.
            return None
        symbol = elf.at_offset(offset)
        return UprobeTarget("symbol", symbol) if symbol else None

    def _local_tracepoints(self) -> dict[int, str]:
        if self._local_tp_cache is None:
            self._local_tp_cache = read_local_tracepoints()
        return self._local_tp_cache

    def _local_pmus(self) -> dict[int, str]:
        if self._local_pmu_cache is None:
            self._local_pmu_cache = read_local_pmus()
        return self._local_pmu_cache


@dataclass(frozen=True)
class UprobeTarget:
    """What a uprobe's file offset is, read from the file on this machine."""

    kind: str
    """``usdt`` (a ``.note.stapsdt`` probe, ``provider:name``) or ``symbol``."""
    name: str


def _bytes(content: str) -> bytes:
    """A read buffer's text back as the bytes the loader read (strace escapes every
    byte; the grammar maps them 1:1 to code points unless they were UTF-8)."""
    try:
        return content.encode("latin-1")
    except UnicodeEncodeError:
        return content.encode("utf-8", "replace")


def tracefs_root() -> Path | None:
    import os

    for root in TRACEFS_ROOTS:
        # os.path.isdir answers False where tracefs is root-only; Path.is_dir raises.
        if os.path.isdir(os.path.join(root, "events")):
            return Path(root)
    return None


def read_local_tracepoints() -> dict[int, str]:
    """Every tracepoint id of this machine (empty when tracefs is not mounted)."""
    root = tracefs_root()
    out: dict[int, str] = {}
    if root is None:
        return out
    try:
        id_files = list(root.glob("events/*/*/id"))
    except OSError:
        return out
    for id_file in id_files:
        try:
            number = int(id_file.read_text().strip())
        except (OSError, ValueError):
            continue
        out[number] = f"{id_file.parent.parent.name}:{id_file.parent.name}"
    return out


def read_local_pmus() -> dict[int, str]:
    out: dict[int, str] = {}
    for type_file in Path(PMU_ROOT).glob("*/type"):
        try:
            out[int(type_file.read_text().strip())] = type_file.parent.name
        except (OSError, ValueError):
            continue
    return out
