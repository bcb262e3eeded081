"""A file offset in an ELF file to the symbol it belongs to (``malloc``, ``main+0x1c``).

A uprobe's ``perf_event_attr`` carries a path and a *file offset* (``config2``): the
loader already turned ``malloc`` into ``0x98930``.  To show the attach point the way
the user wrote it, this module maps the offset back through the program headers
(``PT_LOAD``: file offset -> virtual address) and looks the address up in ``.symtab``
and ``.dynsym``.

Only ELF64 is read (deep mode refuses 32-bit tracees anyway), with either byte order;
layouts are those of ``/usr/include/elf.h`` (Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr,
Elf64_Sym).  No pyelftools: four ``struct`` formats are enough.

USDT probes (``usdt:/usr/bin/python3.11:python:function__entry``) are uprobes too:
their addresses live in the ``.note.stapsdt`` notes (provider, name, the probe's
address, the link-time ``.stapsdt.base`` and the semaphore), which :meth:`ElfSymbols.
usdt_at` reads to name an offset as the USDT probe it is.
"""

from __future__ import annotations

import mmap
import os
import struct
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

_EHDR = "16sHHIQQQIHHHHHH"        # Elf64_Ehdr after e_ident's first 16 bytes
_PHDR = "IIQQQQQQ"                # Elf64_Phdr
_SHDR = "IIQQQQIIQQ"              # Elf64_Shdr
_SYM = "IBBHQQ"                   # Elf64_Sym

PT_LOAD = 1
SHT_SYMTAB, SHT_DYNSYM = 2, 11
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_GNU_IFUNC = 0, 1, 2, 10
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
SHN_UNDEF = 0


class ElfError(Exception):
    """Not an ELF64 file, or a truncated one."""


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str
    value: int
    size: int
    kind: int
    binding: int


@dataclass(frozen=True, slots=True)
class Segment:
    offset: int
    vaddr: int
    filesz: int


class ElfSymbols:
    """The symbols and loadable segments of one ELF64 file."""

    def __init__(self, data: bytes | mmap.mmap) -> None:
        if len(data) < 64 or data[:4] != b"\x7fELF":
            raise ElfError("not an ELF file")
        if data[4] != 2:
            raise ElfError("not a 64-bit ELF file")
        self.endian = "<" if data[5] == 1 else ">"
        e = self.endian
        (_, _, _, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum,
         shstrndx) = struct.unpack_from(e + _EHDR, data, 0)
        self.segments: list[Segment] = []
        for i in range(phnum):
            at = phoff + i * phentsize
            if at + 56 > len(data):
                raise ElfError("truncated program headers")
            p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = struct.unpack_from(
                e + _PHDR, data, at)
            if p_type == PT_LOAD:
                self.segments.append(Segment(p_offset, p_vaddr, p_filesz))
        sections = []
        for i in range(shnum):
            at = shoff + i * shentsize
            if at + 64 > len(data):
                raise ElfError("truncated section headers")
            sections.append(struct.unpack_from(e + _SHDR, data, at))
        symbols: list[Symbol] = []
        for _, sh_type, _, _, sh_offset, sh_size, sh_link, _, _, sh_entsize in sections:
            if sh_type not in (SHT_SYMTAB, SHT_DYNSYM) or not sh_entsize:
                continue
            if sh_link >= len(sections):
                continue
            str_off, str_size = sections[sh_link][4], sections[sh_link][5]
            strtab = bytes(data[str_off:str_off + str_size])
            end = min(sh_offset + sh_size, len(data))
            for at in range(sh_offset, end - sh_entsize + 1, sh_entsize):
                st_name, st_info, _, st_shndx, st_value, st_size = struct.unpack_from(
                    e + _SYM, data, at)
                kind, binding = st_info & 0x0F, st_info >> 4
                if st_shndx == SHN_UNDEF or not st_name or st_value == 0:
                    continue
                if kind not in (STT_FUNC, STT_GNU_IFUNC, STT_OBJECT, STT_NOTYPE):
                    continue
                nul = strtab.find(b"\0", st_name)
                name = strtab[st_name:nul if nul >= 0 else None].decode("utf-8", "replace")
                symbols.append(Symbol(name, st_value, st_size, kind, binding))
        symbols.sort(key=lambda s: (s.value, _preference(s)))
        self.symbols = symbols
        self._values = [s.value for s in symbols]
        self.usdt = _stapsdt(data, e, sections, shstrndx)

    def vaddr(self, offset: int) -> int:
        """The virtual address a file offset is loaded at (the offset when unmapped)."""
        for seg in self.segments:
            if seg.offset <= offset < seg.offset + seg.filesz:
                return offset - seg.offset + seg.vaddr
        return offset

    def at_offset(self, offset: int) -> str | None:
        """``malloc`` for an exact start, ``main+0x1c`` inside a symbol, else None."""
        address = self.vaddr(offset)
        i = bisect_right(self._values, address)
        # the first symbol of the run of equal values sorts best (see _preference)
        exact = [s for s in self.symbols[max(0, i - 64):i] if s.value == address]
        if exact:
            return min(exact, key=_preference).name
        inside = [s for s in self.symbols[max(0, i - 64):i]
                  if s.kind in (STT_FUNC, STT_GNU_IFUNC) and address < s.value + s.size]
        if not inside:
            return None
        best = min(inside, key=lambda s: (-s.value, _preference(s)))
        return f"{best.name}+{address - best.value:#x}"


    def offset(self, vaddr: int) -> int | None:
        """The file offset an address is loaded from (None when no segment holds it)."""
        for seg in self.segments:
            if seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
                return vaddr - seg.vaddr + seg.offset
        return None

    def usdt_at(self, offset: int) -> UsdtProbe | None:
        """The USDT probe whose address is loaded from file offset ``offset``."""
        address = self.vaddr(offset)
        for probe in self.usdt:
            if probe.address == address:
                return probe
        return None


@dataclass(frozen=True, slots=True)
class UsdtProbe:
    """One ``.note.stapsdt`` entry, its addresses adjusted for prelinking."""

    provider: str
    name: str
    address: int
    semaphore: int
    """The semaphore's address (0: none); a loader passes its file offset to the
    kernel as the uprobe's reference counter (``config`` bits 32-63)."""


SHT_NOTE = 7
_NOTE_STAPSDT = 3


def _stapsdt(data: bytes | mmap.mmap, e: str, sections: list[tuple[int, ...]],
             shstrndx: int) -> list[UsdtProbe]:
    """Every USDT probe of the file (empty when it has none)."""
    if not sections or shstrndx >= len(sections):
        return []
    names_at, names_size = sections[shstrndx][4], sections[shstrndx][5]
    names = bytes(data[names_at:names_at + names_size])

    def name_of(section: tuple[int, ...]) -> bytes:
        start = section[0]
        end = names.find(b"\0", start)
        return names[start:end if end >= 0 else None]

    base_addr: int | None = None
    notes: list[tuple[int, int]] = []
    for section in sections:
        name = name_of(section)
        if name == b".stapsdt.base":
            base_addr = section[3]  # sh_addr
        elif section[1] == SHT_NOTE and name == b".note.stapsdt":
            notes.append((section[4], section[5]))
    probes: list[UsdtProbe] = []
    for at, size in notes:
        end = min(at + size, len(data))
        while at + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from(e + "III", data, at)
            owner_at = at + 12
            desc_at = owner_at + ((namesz + 3) & ~3)
            nxt = desc_at + ((descsz + 3) & ~3)
            if nxt > end:
                break
            owner = bytes(data[owner_at:owner_at + namesz]).rstrip(b"\0")
            if ntype == _NOTE_STAPSDT and owner == b"stapsdt" and descsz >= 24:
                pc, base, semaphore = struct.unpack_from(e + "QQQ", data, desc_at)
                text = bytes(data[desc_at + 24:desc_at + descsz]).split(b"\0")
                if len(text) >= 2:
                    # Prelinking moves .stapsdt.base; the note keeps the link-time base.
                    shift = base_addr - base if base_addr is not None and base else 0
                    probes.append(UsdtProbe(
                        text[0].decode("utf-8", "replace"), text[1].decode("utf-8", "replace"),
                        pc + shift, semaphore + shift if semaphore else 0))
            at = nxt
    return probes


def _preference(s: Symbol) -> tuple[int, int, int, int]:
    """Which of several names for one address a user most likely wrote: a function,
    without leading underscores, a global one (``malloc`` over ``__libc_malloc``, and
    libc's weak ``calloc`` over its global ``__libc_calloc``)."""
    func = 0 if s.kind in (STT_FUNC, STT_GNU_IFUNC) else 1
    binding = {STB_GLOBAL: 0, STB_WEAK: 1}.get(s.binding, 2)
    underscores = len(s.name) - len(s.name.lstrip("_"))
    return (func, underscores, binding, len(s.name))


@lru_cache(maxsize=32)
def _load(path: str, mtime_ns: int, size: int) -> ElfSymbols | None:
    try:
        with open(path, "rb") as fh:
            if size == 0:
                return None
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return ElfSymbols(data)
    except (OSError, ElfError, struct.error, ValueError):
        return None


def symbols_of(path: str) -> ElfSymbols | None:
    """The parsed symbols of ``path``, cached while the file does not change."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _load(path, st.st_mtime_ns, st.st_size)


def usdt_at(path: str, offset: int) -> UsdtProbe | None:
    """The USDT probe at a uprobe file offset, or None."""
    elf = symbols_of(path)
    return elf.usdt_at(offset) if elf is not None else None


def symbol_at(path: str, offset: int) -> str | None:
    """The symbol at a uprobe file offset, or None when the file has no symbol there."""
    elf = symbols_of(path)
    return elf.at_offset(offset) if elf is not None else None
