"""Processes: clone/fork/exec/exit, threads and signals.

Threads (``CLONE_THREAD``) join their creator's thread group; ``CLONE_FILES`` shares
the fd table, a plain fork copies it; ``execve`` drops close-on-exec fds (bpf fds are
close-on-exec); a process's exit releases every fd it held.
"""

from __future__ import annotations

from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.fds import FdTable
from bpfexplain.tracking.records import Action, ObjEnd, Process
from bpfexplain.values import Call, Elided, Exit, Signal, as_int, as_text, flag_names, unwrap


class ProcessEvents(TrackerBase):
    """Handlers for process lifecycle events."""

    SYSCALLS = frozenset({"clone", "clone3", "fork", "vfork", "execve", "execveat",
                          "exit_group", "exit"})
    """The syscalls these handlers follow (``exit`` ends only a thread: traced so that
    thread exits are not mistaken for the process's)."""

    def on_signal(self, event: Signal) -> None:
        proc = self.process(event.pid)
        proc.signals.append((event.name, event.origin.line, event.info.get("si_pid")))
        action = Action("signal", event.origin.line, event.origin.line, event.origin.file,
                        event.pid, detail={"signal": event.name, "info": event.info})
        self.actions.append(action)

    def on_exited(self, event: Exit) -> None:
        """strace's ``+++ exited with N +++`` / ``+++ killed by SIG +++`` line: the end
        of a process when ``pid`` leads its thread group.  A thread's own line (strace
        prints one per traced thread, after its ``exit(0) = ?``) releases nothing: the
        fd table belongs to the thread group.  The ``exit`` syscall itself needs no
        handler; this one is not named ``on_exit`` so that it is never taken for the
        syscall's."""
        pid = event.pid
        tgid = self.tgids.get(pid, pid)
        proc = self.process(pid)
        if pid == tgid or pid is None:
            proc.exit_code = event.code
            proc.exit_signal = event.signal
            proc.exit_line = event.origin.line
            self._drop_table(pid, event.origin.line, "exit", event.origin.file)
            self.actions.append(Action("exit", event.origin.line, event.origin.line,
                                       event.origin.file, pid,
                                       detail={"code": event.code, "signal": event.signal}))

    def _drop_table(self, pid: int | None, line: int, how: ObjEnd, file: int) -> None:
        table = self.tables.get(pid)
        if table is None:
            return
        for fd, obj in list(table.fds.items()):
            table.remove(fd)
            self.unref(obj, line, how, file)
        # threads sharing this table lose it too
        for other, t in list(self.tables.items()):
            if t is table:
                self.tables[other] = FdTable(other)

    def _clone(self, call: Call, flags: list[str | int]) -> None:
        child = call.result
        if child is None or child <= 0:
            return
        parent_table = self.table(call.pid)
        names = {str(f) for f in flags}
        parent_tgid = self.tgids.get(call.pid, call.pid)
        # The child's own calls may come first: strace prints them as they happen,
        # and the creator's call is complete (and joined) only at its return, which
        # for CLONE_VFORK is after the child's execve.  What was recorded for the
        # child before now is kept, not overwritten.
        early_table = self.tables.get(child)
        early = self.processes.get(child)
        if "CLONE_THREAD" in names:
            self.tgids[child] = parent_tgid
            if early is not None and child != parent_tgid:
                self._fold_early_thread(child, parent_tgid, early)
        else:
            self.tgids[child] = child
            proc = early or Process(child, child)
            proc.parent = parent_tgid
            if proc.command is None:
                proc.command = self.process(call.pid).command
            self.processes[child] = proc
        if "CLONE_FILES" in names:
            if early_table is not None and early_table is not parent_table:
                for fd, obj in early_table.fds.items():
                    obj.pid = parent_tgid
                    parent_table.fds.setdefault(fd, obj)
                    if fd in early_table.cloexec:
                        parent_table.cloexec.add(fd)
            self.tables[child] = parent_table
        elif early_table is None:
            self.tables[child] = parent_table.copy(child)
        else:
            # the parent's fds underneath the ones the child has made since; a child
            # that has already run execve kept none of the close-on-exec ones
            table = parent_table.copy(child, without_cloexec=bool(early and early.argv))
            table.fds.update(early_table.fds)
            table.cloexec |= early_table.cloexec
            self.tables[child] = table
        if "CLONE_THREAD" not in names:
            self.act("fork", call, detail={"child": child})

    def _fold_early_thread(self, child: int, tgid: int | None, early: Process) -> None:
        """A thread whose calls came before its creation was taken for a process of
        its own (even ended, when its exit came first too): it was one of ``tgid``'s
        threads all along."""
        del self.processes[child]
        self.process(tgid).signals.extend(early.signals)
        self.actions[:] = [a for a in self.actions if not (a.kind == "exit" and a.pid == child)]

    def on_clone(self, call: Call) -> None:
        flags: list[str | int] = []
        # names come only with strace 6.16+; older logs are positional
        for name, value in zip(call.arg_names, call.args, strict=False):
            if name == "flags":
                flags = flag_names(value)
        if not flags:
            for value in call.args:
                names = [f for f in flag_names(value) if isinstance(f, str)]
                if any(n.startswith("CLONE_") for n in names):
                    flags = list(names)
                    break
        self._clone(call, flags)

    def on_clone3(self, call: Call) -> None:
        attrs = call.args[0] if call.args else {}
        attrs = unwrap(attrs)
        flags = flag_names(attrs.get("flags")) if isinstance(attrs, dict) else []
        self._clone(call, flags)

    def on_fork(self, call: Call) -> None:
        self._clone(call, [])

    on_vfork = on_fork

    def on_execve(self, call: Call) -> None:
        if call.result != 0:
            return
        proc = self.process(call.pid)
        argv = call.args[1] if len(call.args) > 1 else None
        if isinstance(argv, list):
            proc.argv = [as_text(a) or "…" for a in argv if a is not Elided]
        path = as_text(call.args[0]) if call.args else None
        proc.command = (path or (proc.argv[0] if proc.argv else "?")).rsplit("/", 1)[-1]
        table = self.table(call.pid)
        for fd in list(table.cloexec):
            obj = table.remove(fd)
            if obj is not None:
                self.unref(obj, call.line, "exec", call.origin.file)
        table.cloexec.clear()
        self.act("exec", call, detail={"command": proc.command, "argv": proc.argv})

    on_execveat = on_execve

    def on_exit_group(self, call: Call) -> None:
        proc = self.process(call.pid)
        code = as_int(call.args[0]) if call.args else None
        if proc.exit_code is None:
            proc.exit_code = code

