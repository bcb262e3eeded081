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

import os
import re
from typing import TYPE_CHECKING

from bpfexplain.errors import InputError
from bpfexplain.origin import BTF_PATH, LocalKind, LogOrigin
from bpfexplain.plain import Frozen, Record, init_field
from bpfexplain.traced import TRACEFS_ROOTS as TRACEFS_ROOTS

if TYPE_CHECKING:
    from pathlib import Path  # at run time only where this machine's files are read

PMU_ROOT = "/sys/bus/event_source/devices"

_TP_ID_PATH = re.compile(r"/(?:debug/)?tracing/events/([^/]+)/([^/]+)/id$")
_PMU_TYPE_PATH = re.compile(r"/event_source/devices/([^/]+)/type$")

Source = str
"""Where a name came from: ``log``, ``file`` or ``local``."""

SIDECAR_LIMIT = 1 << 20
"""A sidecar names a few tracepoints and PMUs: a few kB.  A megabyte is generous."""

IDS_LIMIT = 16 << 20
"""``--tracepoint-ids``: a whole machine's list is about 100 kB."""

NAME_LIMIT = 256
"""Longest name taken from a sidecar or ids file (tracefs names are far shorter)."""

_ID = re.compile(r"[0-9]{1,10}")
_SIDECAR_NAME = re.compile(r"[!-~]{1,256}")
"""Tracepoint and PMU names: printable ASCII, no spaces."""


def _id_number(text: str) -> int | None:
    """A tracepoint id or PMU type: 1-10 ASCII digits (``isdigit`` also takes ``٣``)."""
    return int(text) if _ID.fullmatch(text) else None


def _shown(text: str) -> str:
    from bpfexplain.text import safe

    return safe(text if len(text) <= 40 else text[:40] + "…")


def sidecar_candidates(path: str) -> list[str]:
    """The sidecars a log may have: ``LOG.meta.json`` (what ``run --save`` writes) and,
    for ``NAME.log``, ``NAME.meta.json`` (the fixtures' naming).  Only the log's own:
    never a file named after its directory, which anyone who can write there (or in
    its parent, ``/tmp``) could plant."""
    if path in ("-", "<stdin>"):
        return []
    trimmed = path.rstrip("/")
    if not trimmed or os.path.basename(trimmed) in ("", ".", ".."):
        return []  # `parse .`: a directory given by a name with no name in it
    found = [trimmed + ".meta.json"]
    stem, suffix = os.path.splitext(trimmed)
    if suffix and os.path.basename(stem):
        found.append(stem + ".meta.json")
    return found


def _check_sidecar(data: object, path: Path) -> tuple[dict[int, str], dict[int, str]]:
    """The two tables a sidecar may carry, checked; InputError on anything malformed."""
    def bad(why: str) -> InputError:
        return InputError(f"{path}: bad sidecar: {why}")

    if not isinstance(data, dict):
        raise bad(f"a JSON object expected, not {type(data).__name__}")
    tracepoints: dict[int, str] = {}
    pmus: dict[int, str] = {}
    kernel = data.get("kernel")
    if kernel is not None and (not isinstance(kernel, str)
                               or not _SIDECAR_NAME.fullmatch(kernel)):
        raise bad("kernel must be a release such as \"6.1.0-18-amd64\"")
    table = data.get("tracepoint_ids") or {}
    if not isinstance(table, dict):
        raise bad("tracepoint_ids must be an object of \"ID\": \"CAT:NAME\"")
    for key, name in table.items():
        number = _id_number(key)
        if number is None:
            raise bad(f"tracepoint id {_shown(key)!s} is not 1-10 digits 0-9")
        if not isinstance(name, str) or not _SIDECAR_NAME.fullmatch(name):
            raise bad(f"tracepoint {number}: name must be printable ASCII text")
        tracepoints[number] = name
    table = data.get("pmu_types") or {}
    if not isinstance(table, dict):
        raise bad("pmu_types must be an object of \"NAME\": NUMBER")
    for name, number in table.items():
        if not _SIDECAR_NAME.fullmatch(name):
            raise bad(f"PMU name {_shown(name)} must be printable ASCII text")
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < 1 << 32:
            raise bad(f"PMU {name}: type must be a number 0..2^32-1")
        pmus[number] = name
    return tracepoints, pmus


class Resolver(Record):
    __slots__ = _fields = ("tracepoints", "pmus", "interfaces", "local", "origin", "warnings",
                           "_local_tp_cache", "_local_pmu_cache", "_local_if_cache")

    tracepoints: dict[int, tuple[str, Source]]
    pmus: dict[int, tuple[str, Source]]
    interfaces: dict[int, tuple[str, Source]]
    """Network interface index → name, as the log showed it (``if_nametoindex("lo")``,
    SIOCGIFINDEX, an RTM_NEWLINK reply)."""
    local: bool
    """Fall back to this machine's tracefs/sysfs for numbers nobody else named."""
    origin: LogOrigin
    """Which kernel recorded the log: local names only when it is this one."""
    warnings: list[str]
    """Files found but not used (wrong owner, a symlink...), for the user to hear of."""
    _local_tp_cache: dict[int, str] | None
    _local_pmu_cache: dict[int, str] | None
    _local_if_cache: dict[int, str] | None

    def __init__(self, tracepoints: dict[int, tuple[str, Source]] | None = None,
                 pmus: dict[int, tuple[str, Source]] | None = None,
                 interfaces: dict[int, tuple[str, Source]] | None = None, local: bool = False,
                 origin: LogOrigin | None = None, warnings: list[str] | None = None,
                 _local_tp_cache: dict[int, str] | None = None,
                 _local_pmu_cache: dict[int, str] | None = None,
                 _local_if_cache: dict[int, str] | None = None) -> None:
        self.tracepoints = {} if tracepoints is None else tracepoints
        self.pmus = {} if pmus is None else pmus
        self.interfaces = {} if interfaces is None else interfaces
        self.local = local
        self.origin = LogOrigin() if origin is None else origin
        self.warnings = [] if warnings is None else warnings
        self._local_tp_cache = _local_tp_cache
        self._local_pmu_cache = _local_pmu_cache
        self._local_if_cache = _local_if_cache

    # -- sources --------------------------------------------------------------

    def learn_from_read(self, path: str, content: str) -> None:
        """The loader read ``content`` from ``path``: remember what it names."""
        if path.endswith(BTF_PATH) and content[:2] == "\x9f\xeb":
            # The first read of vmlinux BTF: its header identifies the kernel build.
            self.origin.note_btf_read(_bytes(content))
            return
        number = _id_number(content.strip())
        if number is None:
            return
        m = _TP_ID_PATH.search(path)
        if m is not None:
            self.tracepoints[number] = (f"{m.group(1)}:{m.group(2)}", "log")
            return
        m = _PMU_TYPE_PATH.search(path)
        if m is not None:
            self.pmus[number] = (m.group(1), "log")

    def learn_interface(self, index: int, name: str) -> None:
        """The log tied interface ``name`` to ``index`` (the latest word wins: an index
        can be given to another interface later)."""
        if index > 0 and name:
            self.interfaces[index] = (name, "log")

    def load_tracepoint_ids(self, path: Path) -> None:
        """``ID CAT:NAME`` lines (also accepts ``CAT:NAME ID`` and a sysfs ``.../id`` path).

        Lines of anything else are skipped; a line that *looks* like an id but is not
        a plain number of at most ten ASCII digits is an input error, said once."""
        from bpfexplain.safeio import read_named

        data = read_named(path, limit=IDS_LIMIT)
        lines = data.decode("utf-8", errors="replace").splitlines()
        for number_line, raw in enumerate(lines, 1):
            parts = raw.split()
            if len(parts) != 2:
                continue
            a, b = parts
            if a.isdigit():
                number_text, name = a, b
            elif b.isdigit():
                number_text, name = b, a
            else:
                continue
            number = _id_number(number_text)
            if number is None:
                raise InputError(f"{path}:{number_line}: {_shown(number_text)} is not a "
                                 "tracepoint id (at most 10 digits 0-9)")
            m = re.search(r"events/([^/]+)/([^/]+)/id$", name)
            if m is not None:
                name = f"{m.group(1)}:{m.group(2)}"
            self.tracepoints.setdefault(number, (name[:NAME_LIMIT], "file"))

    def load_sidecar(self, path: Path) -> bool:
        """Read a ``LOG.meta.json`` sidecar when there is one; True when it was used.

        Only a regular file owned by us or root, at most SIDECAR_LIMIT bytes, is read:
        anything else is skipped with a warning (a planted file must not name our
        numbers).  Bad content is an input error, one line, exit 3."""
        from bpfexplain.safeio import Untrusted, read_trusted

        try:
            raw = read_trusted(path, limit=SIDECAR_LIMIT)
        except Untrusted as exc:
            self.warnings.append(f"{path}: sidecar not used: {exc}")
            return False
        if raw is None:
            return False
        try:
            import json  # only a --save run's sidecar: a live story has none

            data = json.loads(raw.decode("utf-8"))
        except RecursionError:
            raise InputError(f"{path}: bad sidecar: nested too deeply") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: bad sidecar: {_shown(str(exc))}") from None
        tracepoints, pmus = _check_sidecar(data, path)
        for number, name in tracepoints.items():
            self.tracepoints.setdefault(number, (name, "file"))
        for number, name in pmus.items():
            self.pmus.setdefault(number, (name, "file"))
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

    def interface(self, index: int) -> tuple[str, Source] | None:
        """The name of interface ``index``: from the log, else from this machine
        (marked ``local``), only when the log came from this kernel: ifindexes belong
        to the recording machine and its network namespace."""
        found = self.interfaces.get(index)
        if found is not None:
            return found
        if self._may_look("ifindex"):
            if self._local_if_cache is None:
                self._local_if_cache = read_local_interfaces()
            name = self._local_if_cache.get(index)
            if name is not None:
                return (name, "local")
        return None

    def _local_tracepoints(self) -> dict[int, str]:
        if self._local_tp_cache is None:
            self._local_tp_cache = read_local_tracepoints()
        return self._local_tp_cache

    def _local_pmus(self) -> dict[int, str]:
        if self._local_pmu_cache is None:
            self._local_pmu_cache = read_local_pmus()
        return self._local_pmu_cache


class UprobeTarget(Frozen):
    """What a uprobe's file offset is, read from the file on this machine."""

    __slots__ = _fields = ("kind", "name")

    kind: str
    """``usdt`` (a ``.note.stapsdt`` probe, ``provider:name``) or ``symbol``."""
    name: str

    def __init__(self, kind: str, name: str) -> None:
        init_field(self, "kind", kind)
        init_field(self, "name", name)


def _bytes(content: str) -> bytes:
    """A read buffer's text back as the bytes the loader read (strace escapes every
    byte; the grammar maps them 1:1 to code points unless they were UTF-8)."""
    try:
        return content.encode("latin-1")
    except UnicodeEncodeError:
        return content.encode("utf-8", "replace")


def tracefs_root() -> Path | None:
    import os
    from pathlib import Path

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
    from pathlib import Path

    for type_file in Path(PMU_ROOT).glob("*/type"):
        try:
            out[int(type_file.read_text().strip())] = type_file.parent.name
        except (OSError, ValueError):
            continue
    return out


def read_local_interfaces() -> dict[int, str]:
    """This machine's (this network namespace's) interfaces: ifindex → name."""
    out: dict[int, str] = {}
    try:
        from pathlib import Path

        entries = list(Path("/sys/class/net").glob("*/ifindex"))
    except OSError:
        return out
    for index_file in entries:
        try:
            out[int(index_file.read_text().strip())] = index_file.parent.name
        except (OSError, ValueError):
            continue
    return out
