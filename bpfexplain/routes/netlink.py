"""Netlink as strace decodes it: requests, their acks, and interface names.

Not a route itself: the transport the netlink routes (XDP, tc) share.  It reads the
messages a loader sends (``sendmsg``/``sendto``) and receives (``recvmsg``/
``recvfrom``), hands each request to the route that owns its message type, and
matches the kernel's answer to it: an ``NLMSG_ERROR`` with ``error=0`` is the
acknowledgement that the change was made; a negative error is a refusal.  A request
without an answer in the log was never confirmed.

strace prints a message as ``[{nlmsg_len=.., nlmsg_type=RTM_SETLINK, ...}, {ifi_...},
ATTRS]`` where ATTRS is one attribute ``[{nla_len=.., nla_type=IFLA_XDP}, VALUE]`` or a
list of them, and a nested attribute's VALUE is again one attribute or a list.  An
attribute strace does not decode is a byte string (``TCA_OPTIONS`` of a bpf filter in
strace 6.1): :func:`raw_attrs` reads those.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable, Iterator
from typing import Any

from bpfexplain import knowledge as kn
from bpfexplain.plain import Record
from bpfexplain.story_words import Spans
from bpfexplain.tracking.base import TrackerBase
from bpfexplain.tracking.records import Attachment
from bpfexplain.values import Call, Func, as_int, as_text, flag_names, symbol, unwrap

SYSCALLS = frozenset({"sendmsg", "sendto", "recvmsg", "recvfrom"})
"""What carries netlink messages; every netlink route needs them traced."""

_STATE = "netlink"


class Message(Record):
    """One netlink message: header fields, the fixed body, the attributes."""

    __slots__ = _fields = ("type", "flags", "seq", "body", "attrs", "error", "acked")

    type: str | int
    flags: list[str | int]
    seq: int | None
    body: dict[str, Any]
    attrs: list[tuple[str | int, Any]]
    """(attribute type, value) in order; nested values stay as strace printed them."""
    error: Any
    """For NLMSG_ERROR: the error field (0 is an ack)."""
    acked: Any
    """For NLMSG_ERROR: the header of the request it answers."""

    def __init__(self, type: str | int, flags: list[str | int], seq: int | None,
                 body: dict[str, Any], attrs: list[tuple[str | int, Any]], error: Any = None,
                 acked: Any = None) -> None:
        self.type = type
        self.flags = flags
        self.seq = seq
        self.body = body
        self.attrs = attrs
        self.error = error
        self.acked = acked


class Request(Record):
    """A request a route is waiting to see acknowledged."""

    __slots__ = _fields = ("call", "message", "on_answer")

    call: Call
    message: Message
    on_answer: Callable[[TrackerBase, Call | None, str | None], None]
    """Called with the answering call and None (error 0) or the errno name; with no
    call when the log shows no answer."""

    def __init__(self, call: Call, message: Message,
                 on_answer: Callable[[TrackerBase, Call | None, str | None], None]) -> None:
        self.call = call
        self.message = message
        self.on_answer = on_answer

    def __deepcopy__(self, memo: dict[int, Any]) -> Request:
        """A copy whose answer acts on the copied tracker: ``on_answer`` is a closure
        over the request's objects (its program, its attributes), and deepcopy would
        share a function, and so those, with the original (``run`` tells the story so
        far from a copy of the tracker while requests still wait for their answer)."""
        import copy
        import types

        answer = self.on_answer
        if isinstance(answer, types.FunctionType) and answer.__closure__:
            cells = []
            for cell in answer.__closure__:
                try:
                    contents = cell.cell_contents
                except ValueError:  # a name not bound yet
                    cells.append(types.CellType())
                else:
                    cells.append(types.CellType(copy.deepcopy(contents, memo)))
            answer = types.FunctionType(answer.__code__, answer.__globals__, answer.__name__,
                                        answer.__defaults__, tuple(cells))
        copied = Request(copy.deepcopy(self.call, memo), copy.deepcopy(self.message, memo),
                         answer)
        memo[id(self)] = copied
        return copied


NetlinkHandler = Callable[[TrackerBase, Call, Message], "Request | None"]
"""A route's handler for one netlink message type; returns what waits for an ack."""


class _Pending(Record):
    __slots__ = _fields = ("requests",)

    requests: dict[tuple[int | None, int | None, int | None], Request]

    def __init__(self, requests: dict[tuple[int | None, int | None, int | None], Request]
                 | None = None) -> None:
        self.requests = {} if requests is None else requests


# -- reading messages ---------------------------------------------------------------


def _is_header(value: Any) -> bool:
    return isinstance(value, dict) and "nlmsg_type" in value


def _is_attr(value: Any) -> bool:
    return (isinstance(value, list) and len(value) >= 1 and isinstance(value[0], dict)
            and "nla_type" in value[0])


def type_name(value: Any) -> str | int:
    """``IFLA_XDP``, ``NLA_F_NESTED|IFLA_XDP`` → ``IFLA_XDP``; a number when unnamed."""
    name = symbol(value)
    if name is not None:
        return name
    names = [f for f in flag_names(value) if not (isinstance(f, str) and f.startswith("NLA_F_"))]
    if names:
        return names[0]
    number = as_int(value)
    return number if number is not None else str(value)


def attr_list(value: Any) -> list[tuple[str | int, Any]]:
    """The attributes in a value: one attribute, or a list of them."""
    value = unwrap(value)
    if _is_attr(value):
        return [(type_name(value[0]["nla_type"]), value[1] if len(value) > 1 else None)]
    out: list[tuple[str | int, Any]] = []
    if isinstance(value, list):
        for item in value:
            if _is_attr(item):
                out.append((type_name(item[0]["nla_type"]), item[1] if len(item) > 1 else None))
    return out


def attr(attrs: list[tuple[str | int, Any]], name: str) -> Any:
    """The value of the first attribute called ``name``, or None."""
    for key, value in attrs:
        if key == name:
            return value
    return None


def _buffer_bytes(value: Any, length: str, smallest: int) -> bytes | None:
    """The bytes of a buffer strace printed escaped, read as netlink records whose
    length field is ``length`` (struct format) and at least ``smallest`` bytes long.

    The parser keeps escaped bytes that are valid UTF-8 (and not ASCII) as the text they
    spell, and other bytes as one code point per byte (:func:`bpfexplain.literals.unquote`),
    so one text can stand for two byte strings (``"\\303\\251"`` and ``"\\351"`` both
    read ``é``).  A binary buffer is valid UTF-8 by chance now and then (an ack whose
    sequence number, taken from the clock, holds a two-byte UTF-8 character), so both
    readings are tried, one code point per byte first, and the one whose records exactly
    fill the buffer is taken; when neither does (a truncated buffer), the first."""
    text = as_text(value)
    if text is None:
        return None
    readings: list[bytes] = []
    with contextlib.suppress(UnicodeEncodeError):     # above U+00FF: decoded UTF-8 only
        readings.append(text.encode("latin-1"))
    utf8 = text.encode("utf-8")
    if utf8 not in readings:
        readings.append(utf8)
    for data in readings:
        if _records_fill(data, length, smallest):
            return data
    return readings[0]


def _records_fill(data: bytes, length: str, smallest: int) -> bool:
    """Whether records of at least ``smallest`` bytes, each starting with its length and
    padded to 4 bytes, follow one another to the end of ``data``."""
    offset = 0
    while offset < len(data):
        if offset + smallest > len(data):
            return False
        size = struct.unpack_from(length, data, offset)[0]
        if size < smallest or offset + size > len(data):
            return False
        offset += (size + 3) & ~3
    return bool(data)


def raw_attrs(value: Any) -> list[tuple[int, bytes]]:
    """Attributes strace left as bytes (``"\\x08\\x00\\x06\\x00..."``): (type, payload).

    struct nlattr is a 16-bit length (header included) and a 16-bit type, payloads
    padded to 4 bytes; a truncated string yields the attributes it fully holds.
    """
    data = _buffer_bytes(value, "<H", 4)
    if data is None:
        return []
    out: list[tuple[int, bytes]] = []
    offset = 0
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("<HH", data, offset)
        if length < 4 or offset + length > len(data):
            break
        out.append((kind & 0x3FFF, data[offset + 4:offset + length]))
        offset += (length + 3) & ~3
    return out


def _message(parts: list[Any]) -> Message:
    header = parts[0]
    body = parts[1] if len(parts) > 1 and isinstance(unwrap(parts[1]), dict) else {}
    body = unwrap(body)
    attrs: list[tuple[str | int, Any]] = []
    for part in parts[2:] if body else parts[1:]:
        attrs += attr_list(part)
    msg = Message(type_name(header.get("nlmsg_type")), flag_names(header.get("nlmsg_flags")),
                  as_int(header.get("nlmsg_seq")), body, attrs)
    if msg.type == "NLMSG_ERROR" and isinstance(body, dict):
        msg.error = body.get("error")
        acked = unwrap(body.get("msg"))
        if isinstance(acked, list) and acked:
            acked = acked[0]
        msg.acked = acked if _is_header(acked) else None
    return msg


def messages(value: Any) -> Iterator[Message]:
    """Every netlink message in a buffer strace decoded (one, or a list of them)."""
    value = unwrap(value)
    if not isinstance(value, list) or not value:
        return
    if _is_header(value[0]):
        yield _message(value)
        return
    for item in value:
        item = unwrap(item)
        if isinstance(item, list) and item and _is_header(item[0]):
            yield _message(item)


_NLMSG_ERROR = 2   # linux/netlink.h


def raw_messages(value: Any) -> Iterator[Message]:
    """Netlink messages strace printed as bytes (it decodes a received buffer only
    when it knows the socket is netlink: ``msg_name=NULL`` hides that).  Only the
    answers matter here: NLMSG_ERROR with its error and the header it answers."""
    data = _buffer_bytes(value, "<I", 16)
    if data is None:
        return
    offset = 0
    while offset + 16 <= len(data):
        length, kind, flags, seq, _pid = struct.unpack_from("<IHHII", data, offset)
        if length < 16 or offset + length > len(data):
            return
        msg = Message(kind, [flags], seq, {}, [])
        if kind == _NLMSG_ERROR and length >= 20:
            msg.type = "NLMSG_ERROR"
            msg.error = struct.unpack_from("<i", data, offset + 16)[0]
            if length >= 36:
                _, acked_type, _, acked_seq, _ = struct.unpack_from("<IHHII", data, offset + 20)
                msg.acked = {"nlmsg_type": acked_type, "nlmsg_seq": acked_seq}
        yield msg
        offset += (length + 3) & ~3


def _buffers(call: Call) -> Iterator[Any]:
    """The message buffers of a send/recv call: sendto/recvfrom's buffer argument,
    sendmsg/recvmsg's iovecs."""
    if len(call.args) < 2:
        return
    arg = unwrap(call.args[1])
    if call.name in ("sendto", "recvfrom"):
        yield arg
        return
    if isinstance(arg, dict):
        iov = unwrap(arg.get("msg_iov"))
        if isinstance(iov, list):
            for vec in iov:
                vec = unwrap(vec)
                if isinstance(vec, dict):
                    yield vec.get("iov_base")


def errno_name(value: Any) -> str | None:
    """An NLMSG_ERROR's error as an errno name: None for 0 (an ack)."""
    name = symbol(value)
    if name is not None:
        return name.lstrip("-")
    number = as_int(value)
    if number is None or number == 0:
        return None
    entry = kn.ERRNO.get(-number if number < 0 else number)
    return entry.name if entry is not None else f"errno {abs(number)}"


# -- interface names ----------------------------------------------------------------


def interface_name(t: TrackerBase, value: Any) -> tuple[str | None, str | None, int | None]:
    """(name, where it came from, ifindex) of an ifindex field.

    strace prints ``if_nametoindex("lo")`` when it could name the index; a bare number
    is named from the log (SIOCGIFINDEX, an RTM_NEWLINK reply) or, marked ``local``,
    from this machine.
    """
    value = unwrap(value)
    if isinstance(value, Func) and value.name == "if_nametoindex" and value.args:
        name = as_text(value.args[0])
        # strace named it; the number itself shows only where the log said it.
        index = next((i for i, (n, src) in t.resolver.interfaces.items()
                      if n == name and src == "log"), None)
        return name, "log", index
    index = as_int(value)
    if index is None or index <= 0:
        return None, None, index
    found = t.resolver.interface(index)
    if found is None:
        return None, None, index
    return found[0], found[1], index


def _learn_names(t: TrackerBase, msg: Message) -> None:
    """An RTM_NEWLINK from the kernel (a reply to RTM_GETLINK) names its interface."""
    if msg.type != "RTM_NEWLINK":
        return
    index = as_int(msg.body.get("ifi_index"))
    name = as_text(attr(msg.attrs, "IFLA_IFNAME"))
    if index is not None and name:
        t.resolver.learn_interface(index, name)


# -- the syscall handlers -----------------------------------------------------------


def _pending(t: TrackerBase) -> _Pending:
    state = t.route_state.get(_STATE)
    if not isinstance(state, _Pending):
        state = _Pending()
        t.route_state[_STATE] = state
    return state


def handlers(routes: dict[str, NetlinkHandler]) -> dict[str, Callable[[TrackerBase, Call],
                                                                        None]]:
    """The send/recv handlers for the message types the routes own."""

    def on_send(t: TrackerBase, call: Call) -> None:
        if not call.ok:
            return
        fd = as_int(call.args[0]) if call.args else None
        for buffer in _buffers(call):
            for msg in messages(buffer):
                handler = routes.get(str(msg.type))
                if handler is None:
                    continue
                request = handler(t, call, msg)
                if request is None:
                    continue
                if "NLM_F_ACK" in msg.flags:
                    _pending(t).requests[(t.tgid(call.pid), fd, msg.seq)] = request
                else:
                    # No answer will come: the change is made, unconfirmed.
                    request.on_answer(t, None, None)

    def on_recv(t: TrackerBase, call: Call) -> None:
        if not call.ok or len(call.args) < 2:
            return
        fd = as_int(call.args[0])
        flags_arg = call.args[2] if call.name == "recvmsg" else (
            call.args[3] if len(call.args) > 3 else None)
        if "MSG_PEEK" in flag_names(flags_arg):
            return  # a look at the size of what comes next; the real read follows
        requests = _pending(t).requests
        tgid = t.tgid(call.pid)
        for buffer in _buffers(call):
            found = list(messages(buffer))
            if not found and any(key[:2] == (tgid, fd) for key in requests):
                found = list(raw_messages(buffer))
            for msg in found:
                _learn_names(t, msg)
                if msg.type != "NLMSG_ERROR" or not requests:
                    continue
                seq = as_int(msg.acked.get("nlmsg_seq")) if msg.acked else msg.seq
                request = requests.pop((tgid, fd, seq), None)
                if request is not None:
                    request.on_answer(t, call, errno_name(msg.error))

    return {"sendmsg": on_send, "sendto": on_send, "recvmsg": on_recv, "recvfrom": on_recv}


def finish(t: TrackerBase) -> None:
    """The log ended: requests still waiting for the kernel's answer never got one."""
    pending = _pending(t).requests
    waiting = list(pending.values())
    pending.clear()
    for request in waiting:
        request.on_answer(t, None, None)


def answer_spans(att: Attachment) -> Spans:
    """How an attachment made by a netlink request ends its sentence: where its
    interface name came from and whether the kernel's ack was seen (XDP and tc alike)."""
    spans: list[tuple[str, str | None]] = []
    if att.attrs.get("interface_source") == "local":
        spans.append((" (interface named on this machine)", "dim"))
    if att.enabled_line is not None:
        spans.append((f"; the kernel acknowledged it (L{att.enabled_line})", None))
    else:
        spans.append(("; the log shows no answer from the kernel, so whether it took is "
                      "unknown", "dim"))
    return tuple(spans)
