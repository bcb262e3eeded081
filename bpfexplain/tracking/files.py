"""Files and fds: open/close/dup/fcntl/read/mmap.

Opened files are context (tracefs id files, binaries a uprobe targets), not graph
nodes; closing an eBPF fd releases the object once no other fd holds it.
"""

from __future__ import annotations

from typing import Any

from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.fields import unwrap_fd
from bpfexplain.tracking.records import CONTEXT_KINDS, Obj
from bpfexplain.values import Call, Fd, as_int, as_text, flag_names, symbol

TRIES_ANOTHER_WAY = "the loader tries another way"
"""How a fallback-able failure ends its reason (see probes.mark_failures_that_end_loaders)."""


_KERNEL_FILES = ("/sys/kernel/debug/", "/sys/kernel/tracing/", "/sys/bus/event_source/")
"""Where the kernel's tracing interface lives (debugfs, tracefs, the PMU list)."""

_KERNEL_FILE_WORDS = {
    "available_filter_functions": "the kernel's list of functions that can be traced",
    "blacklist": "the kernel's list of functions that may not be kprobed",
}
"""What the lists loaders consult before choosing their probes are."""


def looks_like_binary(path: str) -> bool:
    if path.startswith(("/sys/", "/proc/", "/dev/", "/etc/", "/run/", "/tmp/")):
        return False
    name = path.rsplit("/", 1)[-1]
    return ".so" in name or "/bin/" in path or "/sbin/" in path


class FileEvents(TrackerBase):
    """Handlers for the fd and file syscalls."""

    SYSCALLS = frozenset({"close", "close_range", "dup", "dup2", "dup3", "fcntl", "fcntl64",
                          "open", "openat", "openat2", "read", "mmap", "mmap2"})
    """The syscalls these handlers follow (``openat2``, ``fcntl64`` and ``mmap2`` where
    the architecture has them)."""

    def on_close(self, call: Call) -> None:
        fd = as_int(call.args[0]) if call.args else None
        if fd is None:
            return
        table = self.table(call.pid)
        obj = table.fds.get(fd)
        if obj is not None and obj.file == call.origin.file and (
            obj.line > call.origin.first_line
        ):
            # Created while this close was in flight (another thread got the number
            # back first): the close was for the object it displaced.
            displaced = table.displaced.pop(fd, None)
            if displaced is not None and displaced[0].end == "reused":
                displaced[0].end = "close"
                displaced[0].closed_line = call.line
            return
        if obj is None:
            return
        table.remove(fd)
        if obj.kind in CONTEXT_KINDS and not obj.attachments:
            obj.refs -= 1
            return
        self.unref(obj, call.line, "close", call.origin.file)
        if obj.kind != "unknown" or obj.known:
            self.act("close", call, obj=obj)

    def on_close_range(self, call: Call) -> None:
        first = as_int(call.args[0]) if call.args else None
        last = as_int(call.args[1]) if len(call.args) > 1 else None
        flags = flag_names(call.args[2]) if len(call.args) > 2 else []
        if first is None or last is None or call.result != 0:
            return
        if "CLOSE_RANGE_CLOEXEC" in flags:
            table = self.table(call.pid)
            table.cloexec.update(fd for fd in table.fds if first <= fd <= last)
            return
        table = self.table(call.pid)
        for fd in [fd for fd in table.fds if first <= fd <= last]:
            obj = table.remove(fd)
            if obj is None:
                continue
            self.unref(obj, call.line, "close", call.origin.file)
            if obj.kind not in CONTEXT_KINDS or obj.attachments:
                self.act("close", call, obj=obj)

    def _dup(self, call: Call, old_value: Any, cloexec: bool) -> None:
        if not call.ok or call.result is None:
            return
        old = as_int(old_value)
        if old is None:
            return
        obj = self.table(call.pid).fds.get(old)
        if obj is None:
            return
        self.bind(call.pid, call.result, obj, call, cloexec=cloexec)
        if obj.kind not in CONTEXT_KINDS or obj.attachments:
            self.act("dup", call, obj=obj, detail={"old": old, "new": call.result})

    def on_dup(self, call: Call) -> None:
        self._dup(call, call.args[0] if call.args else None, False)

    def on_dup2(self, call: Call) -> None:
        self._dup(call, call.args[0] if call.args else None, False)

    def on_dup3(self, call: Call) -> None:
        flags = flag_names(call.args[2]) if len(call.args) > 2 else []
        self._dup(call, call.args[0] if call.args else None, "O_CLOEXEC" in flags)

    def on_fcntl(self, call: Call) -> None:
        if len(call.args) < 2:
            return
        cmd = symbol(call.args[1]) or {0: "F_DUPFD", 1030: "F_DUPFD_CLOEXEC"}.get(
            as_int(call.args[1]) or -1, "")
        if cmd in ("F_DUPFD", "F_DUPFD_CLOEXEC"):
            self._dup(call, call.args[0], cmd == "F_DUPFD_CLOEXEC")

    on_fcntl64 = on_fcntl

    def on_openat(self, call: Call) -> None:
        if len(call.args) >= 2:
            self._opened(call, call.args[1], call.args[2] if len(call.args) > 2 else None)

    def on_open(self, call: Call) -> None:
        if call.args:
            self._opened(call, call.args[0], call.args[1] if len(call.args) > 1 else None)

    def _opened(self, call: Call, path_value: Any, flags_value: Any) -> None:
        """A file the loader opened: context (tracefs ids, binaries), not a graph node."""
        path = as_text(path_value) or ""
        if not call.ok or call.result is None:
            self._open_failed(call, path)
            return
        if looks_like_binary(path):
            self.last_binary[self.tgids.get(call.pid, call.pid)] = path
        obj = Obj(id="file", kind="file", pid=self.tgids.get(call.pid, call.pid),
                  fd=call.result, line=call.line, file=call.origin.file, via=call.name,
                  path=path)
        self.bind(call.pid, call.result, obj, call,
                   cloexec="O_CLOEXEC" in flag_names(flags_value))

    def _open_failed(self, call: Call, path: str) -> None:
        """Loaders open tracefs/debugfs/sysfs files to create probes; failing to is telling.

        A missing PMU ``type`` file has a fallback (the legacy ``*probe_events``
        files); when those fail too, the probe cannot be created at all.  Whether any
        other such failure mattered is decided by what the loader did next
        (probes.mark_failures_that_end_loaders): recorded as one it can go past.
        """
        if not path.startswith(_KERNEL_FILES) and "/tracing/" not in path \
                and "/event_source/" not in path:
            return
        name = path.rsplit("/", 1)[-1]
        if name in ("kprobe_events", "uprobe_events"):
            kind = name.split("_")[0]
            self.fail(call, "openat", attrs={"path": path}, why=(
                f"cannot create a {kind}: {path} is missing ({call.errno}); this kernel "
                f"has no {kind} support (or tracefs is not mounted), so a {kind} "
                "cannot be attached here"))
            return
        what = _KERNEL_FILE_WORDS.get(name)
        self.fail(call, "openat", attrs={"path": path}, probe=True, why=(
            f"{path} could not be opened ({call.errno})" + (f": {what}" if what else "")
            + f"; {TRIES_ANOTHER_WAY}"))

    def on_read(self, call: Call) -> None:
        if not call.ok or len(call.args) < 2:
            return
        fd_value = call.args[0]
        content = as_text(call.args[1])
        if content is None:
            return
        path: str | None = None
        raw = unwrap_fd(fd_value)
        if isinstance(raw, Fd):
            path = raw.path
        else:
            fd = as_int(fd_value)
            obj = self.table(call.pid).fds.get(fd) if fd is not None else None
            if obj is not None and obj.kind == "file":
                path = obj.path
        if path:
            self.resolver.learn_from_read(path, content)

    def on_mmap(self, call: Call) -> None:
        if len(call.args) < 5 or not call.ok:
            return
        flags = [str(f) for f in flag_names(call.args[3])]
        fd = as_int(call.args[4])
        if fd is None or fd < 0:
            return
        obj = self.table(call.pid).fds.get(fd)
        if obj is None or obj.kind not in ("perf_event", "map"):
            return
        size = as_int(call.args[1]) or 0
        obj.mmaps.append((call.line, size))
        self.act("mmap", call, obj=obj, detail={"size": size, "shared": "MAP_SHARED" in flags})

    on_mmap2 = on_mmap
