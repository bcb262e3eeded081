"""Per-process fd tables: number → object, with close-on-exec and reuse history.

Threads share one table, ``fork`` copies it (each object gains a reference),
``execve`` drops the close-on-exec fds.
"""

from __future__ import annotations

from bpfexplain.tracking.records import CONTEXT_KINDS, Obj


class FdTable:
    """The fds of one process (all its threads): number → object."""

    def __init__(self, owner: int | None):
        self.owner = owner
        self.fds: dict[int, Obj] = {}
        self.cloexec: set[int] = set()
        # fd number → the object a reuse displaced, so a late close can be credited.
        self.displaced: dict[int, tuple[Obj, int]] = {}
        # fd number → the last object that had it, so the story can point out reuse.
        self.history: dict[int, Obj] = {}

    def remove(self, fd: int) -> Obj | None:
        obj = self.fds.pop(fd, None)
        self.cloexec.discard(fd)
        if obj is not None and obj.kind not in CONTEXT_KINDS:
            self.history[fd] = obj
        return obj

    def copy(self, owner: int | None, *, without_cloexec: bool = False) -> FdTable:
        """The table a fork child starts with (each fd one more reference); without
        the close-on-exec fds for a child that has already run execve."""
        table = FdTable(owner)
        for fd, obj in self.fds.items():
            if without_cloexec and fd in self.cloexec:
                continue
            table.fds[fd] = obj
            obj.refs += 1
            if fd in self.cloexec:
                table.cloexec.add(fd)
        return table
