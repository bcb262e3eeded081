"""Perf events: ``perf_event_open`` then ``ioctl(PERF_EVENT_IOC_SET_BPF / ENABLE / DISABLE)``.

The oldest route, and still how bpftrace and BCC attach tracepoints, kprobes,
uprobes, clocks and hardware counters.  The attachment is made by SET_BPF, goes live
when the event is enabled (at open unless ``disabled=1``, or by
``PERF_EVENT_IOC_ENABLE``), stops with ``PERF_EVENT_IOC_DISABLE`` and ends when the
perf event's last fd is closed: it never outlives the loader.
"""

from __future__ import annotations

from typing import Any

from bpfexplain import knowledge as kn
from bpfexplain.routes.base import Holder, Route
from bpfexplain.story_words import Spans, name_spans
from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.records import Attachment, Obj
from bpfexplain.values import Call, Func, as_int, flag_names, symbol, unwrap

_BPF_OUTPUT = "PERF_COUNT_SW_BPF_OUTPUT"


def on_perf_event_open(t: TrackerBase, call: Call) -> None:
    attr = unwrap(call.args[0]) if call.args else {}
    if not isinstance(attr, dict):
        attr = {}
    ptype_value = attr.get("type")
    ptype_name = symbol(ptype_value)
    ptype_num = as_int(ptype_value)
    if ptype_name is None and ptype_num is not None and ptype_num in kn.PERF_TYPE:
        ptype_name = kn.PERF_TYPE.name(ptype_num)
    config_value = attr.get("config")
    config: Any = symbol(config_value)
    if config is None:
        config = as_int(config_value)
        if ptype_name == "PERF_TYPE_SOFTWARE" and config is not None:
            config = kn.SW_CONFIG.name(config)
        elif ptype_name == "PERF_TYPE_HARDWARE" and config is not None:
            config = kn.HW_CONFIG.name(config)
    attrs: dict[str, Any] = {
        "type": ptype_name if ptype_name is not None else ptype_num,
        "config": config,
        "pid": as_int(call.args[1]) if len(call.args) > 1 else None,
        "cpu": as_int(call.args[2]) if len(call.args) > 2 else None,
    }
    for key in ("sample_period", "sample_freq", "freq", "disabled", "config1", "config2",
                "bp_type", "bp_addr"):
        if key in attr and as_int(attr[key]) is not None:
            attrs[key] = as_int(attr[key])
    flags = [str(f) for f in flag_names(call.args[4])] if len(call.args) > 4 else []
    if not call.ok or call.result is None:
        t.fail(call, "perf_event_open", attrs=attrs)
        return
    obj = t.new("perf_event", call, None, "perf_event_open", attrs=attrs)
    t.bind(call.pid, call.result, obj, call, cloexec="PERF_FLAG_FD_CLOEXEC" in flags)
    obj.fd = call.result
    if call.deep:
        obj.deep.update(call.deep)
    _name_perf_event(t, obj)
    if attrs.get("disabled") == 0:
        obj.enabled_lines.append(call.line)
    if config == _BPF_OUTPUT:
        t.pending_outputs.append(obj)
    t.act("perf_open", call, obj=obj)


def _name_perf_event(t: TrackerBase, obj: Obj) -> None:
    attrs = obj.attrs
    ptype = attrs.get("type")
    config = attrs.get("config")
    if ptype == "PERF_TYPE_TRACEPOINT" and isinstance(config, int):
        found = t.resolver.tracepoint(config)
        if found is not None:
            obj.attach_point = "tracepoint:" + found[0]
            obj.attach_source = found[1]
        return
    if ptype == "PERF_TYPE_SOFTWARE":
        number = kn.SW_CONFIG.number(config) if config is not None else None
        name = kn.SOFTWARE_PROBE_NAMES.get(number, str(config)) if number is not None \
            else str(config)
        if attrs.get("freq") and attrs.get("sample_freq"):
            obj.attach_point = f"profile:hz:{attrs['sample_freq']}"
        elif attrs.get("sample_period") and name != "bpf-output":
            obj.attach_point = f"software:{name}:{attrs['sample_period']}"
        else:
            obj.attach_point = f"software:{name}"
        obj.attach_source = "log"
        return
    if ptype == "PERF_TYPE_HARDWARE":
        number = kn.HW_CONFIG.number(config) if config is not None else None
        name = kn.HARDWARE_PROBE_NAMES.get(number, str(config)) if number is not None \
            else str(config)
        obj.attach_point = f"hardware:{name}"
        obj.attach_source = "log"
        return
    if isinstance(ptype, int):
        found = t.resolver.pmu(ptype)
        uprobe = obj.deep.get("uprobe") if obj.deep else None
        kprobe = obj.deep.get("kprobe") if obj.deep else None
        if kprobe and kprobe.get("function"):
            kind = "kretprobe" if kprobe.get("retprobe") else "kprobe"
            offset = f"+{kprobe['offset']}" if kprobe.get("offset") else ""
            obj.attach_point = f"{kind}:{kprobe['function']}{offset}"
            obj.attach_source = "log"
            return
        if found is not None:
            pmu = found[0]
            # The PMUs' format/retprobe file says "config:0" on every kernel that has
            # them: bit 0 of config marks a return probe.
            config_bits = attrs.get("config")
            retprobe = bool(uprobe.get("retprobe")) if uprobe else (
                isinstance(config_bits, int) and bool(config_bits & 1))
            kind = {"uprobe": "uretprobe" if retprobe else "uprobe",
                    "kprobe": "kretprobe" if retprobe else "kprobe"}.get(pmu, pmu)
            target = ""
            if uprobe:
                target = ":" + str(uprobe.get("path", "?"))
                if uprobe.get("symbol"):
                    target += ":" + str(uprobe["symbol"])
                elif uprobe.get("offset") is not None:
                    target += f":{uprobe['offset']:#x}"
            obj.attach_point = kind + target
            obj.attach_source = found[1]
            binary = t.last_binary.get(obj.pid)
            if not uprobe and pmu == "uprobe" and binary:
                # strace shows the target only as a pointer (config1); the file the
                # loader opened last to read symbols is a strong hint, not a fact.
                obj.attrs["likely_target"] = binary


def on_ioctl(t: TrackerBase, call: Call) -> None:
    if len(call.args) < 2:
        return
    request = symbol(call.args[1])
    if request is None:
        number = as_int(call.args[1])
        if number is None and isinstance(call.args[1], Func):
            return
        request = kn.PERF_IOCTL.name(number) if number is not None else None
    if request is None or not request.startswith("PERF_EVENT_IOC_"):
        return
    perf = t.lookup(call.pid, call.args[0], call, "perf_event")
    if perf is None:
        return
    if request == "PERF_EVENT_IOC_SET_BPF":
        prog = t.lookup(call.pid, call.args[2] if len(call.args) > 2 else None, call,
                            "prog")
        if not call.ok:
            t.fail(call, request, subject=prog)
            return
        if prog is None:
            return
        att = Attachment(prog, perf, "PERF_EVENT_IOC_SET_BPF", call.line, call.origin.file,
                         attach_point=perf.attach_point)
        if perf.enabled_lines:
            att.enabled_line = perf.enabled_lines[0]
        t.attach(att, call)
        return
    if not call.ok:
        t.fail(call, request, subject=perf)
        return
    if request == "PERF_EVENT_IOC_ENABLE":
        perf.enabled_lines.append(call.line)
        for att in perf.attachments:  # its own, not every attachment (issue 12)
            if att.target is perf and att.enabled_line is None:
                att.enabled_line = call.line
        t.act("enable", call, obj=perf)
    elif request == "PERF_EVENT_IOC_DISABLE":
        perf.disabled_lines.append(call.line)
        for att in perf.attachments:
            if att.target is perf and att.ended_line is None and att.via != "BPF_LINK_CREATE":
                att.ended_line = call.line
                att.end = "disabled"
        t.act("disable", call, obj=perf)
    else:
        t.act("perf_ioctl", call, obj=perf, detail={"request": request})


def sentence(att: Attachment) -> Spans:
    prog = att.prog
    target = att.target
    point: Spans = ((att.attach_point, "bpf.point"),) if att.attach_point else \
        (("an event bpfexplain cannot name", "dim"),)
    return ((f"ioctl({target.fd if target else '?'}, PERF_EVENT_IOC_SET_BPF, "
             f"{prog.fd}): ", None), *name_spans(prog),
            (" will run each time ", None), *point, (" fires", None))


ROUTE = Route(
    name="perf_event",
    vias=("PERF_EVENT_IOC_SET_BPF",),
    sentence=sentence,
    holder=Holder("perf", "perf event", "perf events", "③ enable (IOC_ENABLE, {lines})"),
    syscalls={"perf_event_open": on_perf_event_open, "ioctl": on_ioctl},
    attach_calls=frozenset({"perf_event_open", "PERF_EVENT_IOC_SET_BPF",
                            "PERF_EVENT_IOC_ENABLE"}),
    terms=("perf event", "PERF_EVENT_IOC_SET_BPF"),
    short_via=lambda via: via.replace("PERF_EVENT_IOC_", ""),
    enabled_word="enabled",
    ends="when the perf event's last fd is closed (PERF_EVENT_IOC_DISABLE stops it first)",
)
