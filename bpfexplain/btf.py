"""A small reader of BTF type names: ``attach_btf_id`` 28881 → ``btf_trace_block_rq_issue``.

tp_btf, fentry, fexit, fmod_ret and lsm programs name what they attach to only by a
BTF type id (``attach_btf_id`` in ``BPF_PROG_LOAD``).  The id indexes the kernel's
vmlinux BTF (``/sys/kernel/btf/vmlinux``): a header, a type section and a string
section (include/uapi/linux/btf.h).  Names need only a walk over the type records,
each a 12-byte ``struct btf_type`` followed by kind-specific data whose size depends
on the kind and ``vlen``; no compiler and no libbpf.

The target's name follows a convention: a tp_btf program attaches to the typedef
``btf_trace_<tracepoint>``, a tracing or LSM program to the function itself.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

from bpfexplain.origin import BTF_MAGIC, BTF_PATH

_TYPE = struct.Struct("<III")
"""struct btf_type: name_off, info (vlen | kind << 24 | kind_flag << 31), size/type."""

KIND_NAMES = {
    1: "int", 2: "ptr", 3: "array", 4: "struct", 5: "union", 6: "enum", 7: "fwd",
    8: "typedef", 9: "volatile", 10: "const", 11: "restrict", 12: "func",
    13: "func_proto", 14: "var", 15: "datasec", 16: "float", 17: "decl_tag",
    18: "type_tag", 19: "enum64",
}


def _extra(kind: int, vlen: int) -> int:
    """Bytes after the 12-byte record for one kind (btf.h's layouts)."""
    if kind in (1, 14, 17):  # INT: u32 encoding; VAR: linkage; DECL_TAG: component_idx
        return 4
    if kind == 3:  # ARRAY: struct btf_array
        return 12
    if kind in (4, 5, 15, 19):  # STRUCT/UNION members, DATASEC vars, ENUM64 values
        return 12 * vlen
    if kind in (6, 13):  # ENUM values, FUNC_PROTO params
        return 8 * vlen
    if kind in (2, 7, 8, 9, 10, 11, 12, 16, 18):
        return 0
    raise BtfError(f"unknown BTF kind {kind}")


class BtfError(Exception):
    """Not BTF, or BTF this reader does not understand."""


@dataclass(frozen=True, slots=True)
class BtfType:
    id: int
    kind: str
    name: str


class Btf:
    """The type names of one BTF blob (ids from 1, as the kernel numbers them)."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 24:
            raise BtfError("too short for a BTF header")
        magic, version, _, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
            "<HBBIIIII", data)
        if magic != BTF_MAGIC:
            raise BtfError("no BTF magic (big-endian BTF is not read)")
        if version != 1:
            raise BtfError(f"BTF version {version}")
        types_at, strings_at = hdr_len + type_off, hdr_len + str_off
        if types_at + type_len > len(data) or strings_at + str_len > len(data):
            raise BtfError("truncated BTF")
        self._data = data
        self._strings = (strings_at, str_len)
        self.header = (type_len, str_len)
        # offsets[i] is where type id i+1 starts: found by one walk, names read lazily.
        offsets: list[int] = []
        at, end = types_at, types_at + type_len
        unpack = _TYPE.unpack_from
        while at < end:
            if at + 12 > end:
                raise BtfError("truncated type record")
            offsets.append(at)
            _, info, _ = unpack(data, at)
            at += 12 + _extra((info >> 24) & 0x1F, info & 0xFFFF)
        self._offsets = offsets

    def __len__(self) -> int:
        return len(self._offsets)

    def type(self, type_id: int) -> BtfType | None:
        """The type with this id; None for 0 (void) and ids beyond this blob."""
        if not 1 <= type_id <= len(self._offsets):
            return None
        name_off, info, _ = _TYPE.unpack_from(self._data, self._offsets[type_id - 1])
        return BtfType(type_id, KIND_NAMES.get((info >> 24) & 0x1F, "?"),
                       self._string(name_off))

    def _string(self, offset: int) -> str:
        start, size = self._strings
        if offset >= size:
            return ""
        at = start + offset
        nul = self._data.find(b"\0", at, start + size)
        raw = self._data[at:nul if nul >= 0 else start + size]
        return raw.decode("utf-8", "replace")


TP_BTF_PREFIX = "btf_trace_"


def attach_target(btf_type: BtfType, kind: str) -> str | None:
    """The name an attach point shows for a program of ``kind`` (``tp_btf``, ``fentry``,
    ``fexit``, ``fmod_ret``, ``lsm``, ``iter``) whose attach_btf_id is ``btf_type``; None
    when the type does not fit the convention (then the id is shown instead)."""
    if kind == "tp_btf":
        if btf_type.kind == "typedef" and btf_type.name.startswith(TP_BTF_PREFIX):
            return btf_type.name[len(TP_BTF_PREFIX):]
        return None
    if btf_type.kind != "func" or not btf_type.name:
        return None
    if kind == "lsm" and btf_type.name.startswith("bpf_lsm_"):
        return btf_type.name[len("bpf_lsm_"):]
    if kind == "iter" and btf_type.name.startswith("bpf_iter_"):
        return btf_type.name[len("bpf_iter_"):]
    return btf_type.name


@lru_cache(maxsize=1)
def vmlinux() -> Btf | None:
    """This machine's vmlinux BTF, read once; None when absent or unreadable."""
    try:
        with open(BTF_PATH, "rb") as fh:
            return Btf(fh.read())
    except (OSError, BtfError, struct.error):
        return None
