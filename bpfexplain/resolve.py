"""Names for the numbers a loader read from tracefs and sysfs.

A tracepoint perf event carries only an id (``config=443``), a uprobe only a dynamic
PMU type (``type=0x8``).  The names live on the traced machine, so a resolver answers
from, in order of trust:

1. the log itself: the loader opening ``/sys/kernel/tracing/events/CAT/NAME/id`` (or
   ``/sys/bus/event_source/devices/PMU/type``) and reading the number;
2. files the user gave: ``--tracepoint-ids FILE`` (``ID CAT:NAME`` lines) or the
   ``NAME.meta.json`` sidecar that ``bpfexplain run --save`` and the fixture recorder
   write (``tracepoint_ids`` and ``pmu_types``);
3. this machine's tracefs/sysfs, labelled as resolved locally (right only when the
   log was recorded here, or on the same kernel).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from bpfexplain.errors import InputError

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
    _local_tp_cache: dict[int, str] | None = None
    _local_pmu_cache: dict[int, str] | None = None

    # -- sources --------------------------------------------------------------

    def learn_from_read(self, path: str, content: str) -> None:
        """The loader read ``content`` from ``path``: remember what it names."""
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
        return True

    # -- answers ---------------------------------------------------------------

    def tracepoint(self, number: int) -> tuple[str, Source] | None:
        found = self.tracepoints.get(number)
        if found is not None:
            return found
        if self.local:
            name = self._local_tracepoints().get(number)
            if name is not None:
                return (name, "local")
        return None

    def pmu(self, number: int) -> tuple[str, Source] | None:
        found = self.pmus.get(number)
        if found is not None:
            return found
        if self.local:
            name = self._local_pmus().get(number)
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
