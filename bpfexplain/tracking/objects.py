"""bpf(2) commands that make, open, pin, use and inspect objects (not attachments).

Attach commands (``BPF_LINK_CREATE``, ``BPF_PROG_ATTACH``...) belong to their routes
in :mod:`bpfexplain.routes`; :meth:`BpfObjects.on_bpf` hands them over.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bpfexplain import knowledge as kn
from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.fields import (
    enum,
    find,
    kernel_version,
    kind_from_annotation,
    plain,
    plain_attrs,
)
from bpfexplain.tracking.probes import (
    btf_feature,
    looks_like_probe_prog,
    task_fd_query_answer,
)
from bpfexplain.tracking.records import RUN_OP_CODE, RUN_OPS, Action, Obj, ObjKind, OpRun, Pin
from bpfexplain.values import Call, MapReads, as_int, as_text, flag_names, symbol, unwrap


def _written_log(value: Any) -> str | None:
    """The log buffer as strace printed it, when the verifier wrote text into it.

    strace prints the buffer when the call returns; a load refused before the
    verifier ran (EPERM) leaves whatever bytes the loader's buffer held (``\\210S\\2``),
    which is no log at all.  The verifier writes plain text lines.
    """
    text = as_text(value)
    if not text or not all(c.isprintable() or c in "\n\t" for c in text):
        return None
    return text


_METHODS: dict[str, str] = {}
"""``BPF_MAP_LOOKUP_ELEM`` -> ``bpf_map_lookup_elem``: the handler's name, per command."""


class BpfObjects(TrackerBase):
    """The bpf(2) syscall and its object commands."""

    SYSCALLS = frozenset({"bpf"})

    def on_bpf(self, call: Call) -> None:
        if not call.args:
            return
        cmd = symbol(call.args[0])
        if cmd is None:
            number = as_int(call.args[0])
            cmd = kn.BPF_CMD.name(number) if number is not None else "BPF_???"
        attr = unwrap(call.args[1]) if len(call.args) > 1 else {}
        if not isinstance(attr, dict):
            attr = {}  # strace printed only a pointer (unknown command, -e raw)
        route = self.bpf_routes.get(cmd)
        if route is not None:
            route(self, call, cmd, attr)
            return
        method = _METHODS.get(cmd)
        if method is None:
            # Named once per command: a map walk sends the same few commands endlessly.
            method = _METHODS[cmd] = "bpf_" + cmd[4:].lower() if cmd.startswith("BPF_") else ""
        handler = getattr(self, method, None) if method else None
        if handler is not None:
            handler(call, cmd, attr)
            return
        info = kn.command_info(cmd)
        if not call.ok:
            self.fail(call, cmd, attrs=plain_attrs(attr))
            return
        subject = None
        for key in info.fd_fields:
            subject = self.lookup(call.pid, find(attr, key), call, "unknown")
            if subject is not None:
                break
        if info.creates is not None and call.result is not None and call.result >= 0:
            kind: ObjKind = "perf_event" if info.creates == "perf" else info.creates
            obj = self.new(kind, call, call.result, cmd, attrs=plain_attrs(attr))
            self.act("create", call, obj=obj, detail={"cmd": cmd})
            return
        self.act("bpf", call, obj=subject, detail={"cmd": cmd, "kind": info.kind})

    def bpf_prog_load(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        attrs = {
            "prog_type": enum(kn.PROG_TYPE, attr.get("prog_type")),
            "prog_name": as_text(attr.get("prog_name")) or "",
            "insn_cnt": as_int(attr.get("insn_cnt")),
            "license": as_text(attr.get("license")),
        }
        eat = attr.get("expected_attach_type")
        if eat is not None:
            attrs["expected_attach_type"] = enum(kn.ATTACH_TYPE, eat)
        for key in ("attach_btf_id", "kern_version", "prog_flags", "log_level",
                    "func_info_cnt"):
            if key in attr:
                attrs[key] = plain(attr[key])
        # Set only for a target outside vmlinux (another program's or a module's BTF:
        # strace names the shared field attach_prog_fd or attach_btf_obj_fd).
        target_fd = as_int(attr.get("attach_prog_fd", attr.get("attach_btf_obj_fd")))
        if target_fd:
            attrs["attach_prog_fd"] = target_fd
        code = kernel_version(attr.get("kern_version"))
        if code:
            # The recording kernel's version, as the loader computed it: whether this
            # machine may name the log's numbers (see bpfexplain.origin).
            self.resolver.note_kernel_version(code)
        if call.deep:
            attrs.update({k: v for k, v in call.deep.items() if k != "verifier_log"})
        log = (call.deep or {}).get("verifier_log") or _written_log(attr.get("log_buf"))
        if not call.ok or call.result is None:
            probe = looks_like_probe_prog(attrs)
            failure = self.fail(call, cmd, attrs=attrs, detail=log or None, probe=probe)
            if not log and call.errno in ("EACCES", "EINVAL") and call.deep is None:
                failure.why += (
                    "; strace prints the log buffer as the loader passed it in, before "
                    "the verifier wrote its reasons: 'bpfexplain run --deep' reads them"
                    if as_int(attrs.get("log_level")) else
                    "; the loader asked for no verifier log (log_level=0)")
            return
        obj = self.new("prog", call, call.result, cmd, attrs=attrs, name=attrs["prog_name"])
        btf = self.lookup(call.pid, attr.get("prog_btf_fd"), call, "btf")
        if btf is not None:
            obj.btf = btf
        if call.deep:
            obj.deep.update(call.deep)
            for fd in call.deep.get("map_fds", []):
                m = self.table(call.pid).fds.get(fd)
                if m is not None and m.kind == "map" and m not in obj.maps:
                    obj.maps.append(m)
        if log:
            obj.deep["verifier_log"] = log
        self.act("prog_load", call, obj=obj)

    def bpf_task_fd_query(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        """A question about another process's fd (bpftool perf show): the fd is not
        this process's, so it is never looked up in this process's table."""
        pid = as_int(find(attr, "pid"))
        fd = as_int(find(attr, "fd"))
        if not call.ok or call.result is None:
            answer = task_fd_query_answer(call.errno, pid, self.tgid(call.pid))
            self.fail(call, cmd, attrs={"pid": pid, "fd": fd}, why=answer,
                      expected=answer is not None)
            return
        self.act("bpf", call, detail={
            "cmd": cmd, "kind": "query", "pid": pid, "fd": fd,
            "prog_id": as_int(find(attr, "prog_id")),
            "fd_type": symbol(find(attr, "fd_type")), "name": as_text(find(attr, "buf"))})

    def bpf_map_create(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        attrs = {
            "map_type": enum(kn.MAP_TYPE, attr.get("map_type")),
            "map_name": as_text(attr.get("map_name")) or "",
            "key_size": as_int(attr.get("key_size")),
            "value_size": as_int(attr.get("value_size")),
            "max_entries": as_int(attr.get("max_entries")),
        }
        flags = attr.get("map_flags")
        if flags is not None:
            attrs["map_flags"] = [str(f) for f in flag_names(flags)] if not isinstance(
                unwrap(flags), int) else unwrap(flags)
        if not call.ok or call.result is None:
            self.fail(call, cmd, attrs=attrs,
                       probe=attrs["map_name"].startswith("libbpf_"))
            return
        obj = self.new("map", call, call.result, cmd, attrs=attrs, name=attrs["map_name"])
        btf = self.lookup(call.pid, attr.get("btf_fd"), call, "btf")
        if btf is not None:
            obj.btf = btf
        inner = self.lookup(call.pid, attr.get("inner_map_fd"), call, "map")
        if inner is not None:
            obj.attrs["inner_map"] = inner.id
        self.act("map_create", call, obj=obj)

    def bpf_btf_load(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        size = as_int(attr.get("btf_size"))
        attrs: dict[str, Any] = {"btf_size": size}
        blob = as_text(attr.get("btf"))
        log = as_text(attr.get("btf_log_buf"))
        if not call.ok or call.result is None:
            self.fail(call, cmd, attrs=attrs, detail=log or None,
                       probe=size is not None and size < 256)
            return
        obj = self.new("btf", call, call.result, cmd, attrs=attrs)
        if blob is not None and size is not None and size < 256:
            obj.feature = btf_feature(blob)
        self.act("btf_load", call, obj=obj)

    def _reopen(self, call: Call, cmd: str, attr: dict[str, Any], kind: ObjKind,
                id_key: str) -> None:
        attrs = {id_key: as_int(attr.get(id_key))}
        if not call.ok or call.result is None:
            self.fail(call, cmd, attrs=attrs)
            return
        obj = self.new(kind, call, call.result, cmd, attrs=attrs)
        self.act("reopen", call, obj=obj, detail={"cmd": cmd})

    def bpf_btf_get_fd_by_id(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        self._reopen(call, cmd, attr, "btf", "btf_id")

    def bpf_map_get_fd_by_id(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        self._reopen(call, cmd, attr, "map", "map_id")

    def bpf_prog_get_fd_by_id(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        self._reopen(call, cmd, attr, "prog", "prog_id")

    def bpf_link_get_fd_by_id(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        self._reopen(call, cmd, attr, "link", "link_id")

    def bpf_obj_get(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        path = as_text(attr.get("pathname")) or "?"
        if not call.ok or call.result is None:
            self.fail(call, cmd, attrs={"pathname": path})
            return
        kind: ObjKind = "pinned"
        if call.result_path:
            kind = kind_from_annotation(call.result_path) or kind
        # A path pinned earlier in the log names the object: it is the same one.
        pinned = next((p.obj for p in reversed(self.pins) if p.path == path
                       and p.via == "BPF_OBJ_PIN" and p.obj is not None), None)
        if pinned is not None and kind == "pinned" and pinned.kind not in ("unknown", "pinned"):
            kind = pinned.kind
        obj = self.new(kind, call, call.result, cmd, attrs={"pathname": path},
                       name=pinned.name if pinned is not None else "")
        obj.path = path
        obj.same_as = pinned
        self.pins.append(Pin(obj, path, call.line, call.origin.file, via=cmd))
        self.act("obj_get", call, obj=obj, detail={"path": path})

    def bpf_obj_pin(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        path = as_text(attr.get("pathname")) or "?"
        obj = self.lookup(call.pid, attr.get("bpf_fd"), call, "unknown")
        if not call.ok:
            self.fail(call, cmd, subject=obj, attrs={"pathname": path})
            return
        self.pins.append(Pin(obj, path, call.line, call.origin.file))
        self.act("pin", call, obj=obj, detail={"path": path})

    def _map_op(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        m = self.lookup(call.pid, attr.get("map_fd"), call, "map")
        op = cmd[len("BPF_MAP_"):] if cmd.startswith("BPF_MAP_") else cmd
        if not call.ok:
            failure = self.fail(call, cmd, subject=m)
            if m is not None and failure.expected:
                m.ops[op + ":" + (call.errno or "")] += 1
            return
        if m is None:
            return
        m.ops[op] += 1
        code = RUN_OP_CODE.get(op)
        if code is not None and call.origin.first_line == call.line and \
                self._extend_run(m, call.pid, call.origin.file, call.line, bytes((code,))):
            return
        detail: dict[str, Any] = {"op": op}
        if cmd == "BPF_MAP_UPDATE_ELEM" and m.attrs.get("map_type") == \
                "BPF_MAP_TYPE_PERF_EVENT_ARRAY":
            slot = (call.deep or {}).get("perf_array_slot")
            perf: Obj | None = None
            if slot is not None:
                perf = self.table(call.pid).fds.get(slot.get("perf_fd"))
            elif self.pending_outputs:
                # strace shows only pointers; loaders store each per-CPU output event
                # right after opening it, so the oldest unstored one is the value.
                perf = self.pending_outputs[0]
            if perf is not None:
                if perf in self.pending_outputs:
                    self.pending_outputs.remove(perf)
                perf.output_map = m
                m.outputs.append(perf)
                detail["perf"] = perf
                detail["inferred"] = slot is None
        self.act("map_op", call, obj=m, detail=detail)

    def _extend_run(self, m: Obj, pid: int | None, file: int, line: int,
                    codes: bytes) -> bool:
        """Count map reads (on ``line`` and after, one per code) as more calls of the
        last action, when that action is a read of the same map by the same process
        (nothing else happened between):
        the story tells such calls together in any case, and one action per call
        would cost a map walk's every line (see :class:`OpRun`)."""
        actions = self.actions
        if not actions:
            return False
        last = actions[-1]
        if last.kind != "map_op" or last.obj is not m or last.pid != pid or last.file != file:
            return False
        run = last.run
        if run is None:
            first = RUN_OP_CODE.get(last.detail.get("op", ""))
            if first is None or len(last.detail) != 1 or last.first_line != last.line:
                return False  # a write, a perf event stored, a joined call: told apart
            run = last.run = OpRun([last.line, last.line + 1], bytearray((first,)))
        run.add(line, codes)
        return True

    def on_map_reads(self, reads: MapReads) -> None:
        """Successive successful map reads framed in bulk: what :meth:`_map_op` does
        for each of them, in one step."""
        codes = reads.codes
        first = reads.line
        m = self.lookup_at(reads.pid, reads.map_fd, first, reads.file, "map")
        if m is None:
            return
        for code, count in Counter(codes).items():
            m.ops[RUN_OPS[code]] += count
        if self._extend_run(m, reads.pid, reads.file, first, codes):
            return
        action = Action("map_op", first, first, reads.file, reads.pid, obj=m,
                        detail={"op": RUN_OPS[codes[0]]})
        self.actions.append(action)
        if len(codes) > 1:
            action.run = OpRun([first, first + len(codes)], bytearray(codes))

    bpf_map_lookup_elem = _map_op
    bpf_map_update_elem = _map_op
    bpf_map_delete_elem = _map_op
    bpf_map_get_next_key = _map_op
    bpf_map_lookup_and_delete_elem = _map_op
    bpf_map_lookup_batch = _map_op
    bpf_map_lookup_and_delete_batch = _map_op
    bpf_map_update_batch = _map_op
    bpf_map_delete_batch = _map_op
    bpf_map_freeze = _map_op

    def bpf_prog_test_run(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        test = unwrap(attr.get("test", attr))
        prog = self.lookup(call.pid, find(test, "prog_fd"), call, "prog")
        if not call.ok:
            self.fail(call, cmd, subject=prog)
            return
        if prog is not None:
            prog.test_runs.append(call.line)
        retval = find(test, "retval")
        self.act("test_run", call, obj=prog, detail={"retval": as_int(retval)})

    def bpf_prog_bind_map(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        bind = unwrap(attr.get("prog_bind_map", attr))
        prog = self.lookup(call.pid, find(bind, "prog_fd"), call, "prog")
        m = self.lookup(call.pid, find(bind, "map_fd"), call, "map")
        if not call.ok:
            self.fail(call, cmd, subject=prog)
            return
        if prog is not None and m is not None and m not in prog.maps:
            prog.maps.append(m)
        self.act("bind_map", call, obj=prog, other=m)

    def bpf_obj_get_info_by_fd(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        info = unwrap(attr.get("info", attr))
        obj = self.lookup(call.pid, find(info, "bpf_fd"), call, "unknown")
        if not call.ok:
            self.fail(call, cmd, subject=obj)
            return
        if obj is not None and call.deep and "prog_id" in call.deep:
            obj.attrs["id"] = call.deep["prog_id"]
        self.act("info", call, obj=obj)

    def _next_id(self, call: Call, cmd: str, attr: dict[str, Any]) -> None:
        if not call.ok:
            self.fail(call, cmd)
            return
        self.act("next_id", call, detail={"cmd": cmd, "next_id": as_int(attr.get("next_id"))})

    bpf_prog_get_next_id = _next_id
    bpf_map_get_next_id = _next_id
    bpf_btf_get_next_id = _next_id
    bpf_link_get_next_id = _next_id
