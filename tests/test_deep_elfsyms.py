"""File offsets to symbols, on a hand-built ELF64 and on the system's libc."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from bpfexplain.deep import elfsyms


def tiny_elf() -> bytes:
    """An ELF64 with one PT_LOAD (file 0x1000 -> vaddr 0x401000) and a .symtab."""
    strtab = b"\0main\0__libc_start\0start\0helper\0"
    syms = b"".join([
        struct.pack("<IBBHQQ", 0, 0, 0, 0, 0, 0),
        # main: FUNC GLOBAL at 0x401000 size 0x40
        struct.pack("<IBBHQQ", 1, (1 << 4) | 2, 0, 1, 0x401000, 0x40),
        # __libc_start: an alias of main, FUNC GLOBAL
        struct.pack("<IBBHQQ", 6, (1 << 4) | 2, 0, 1, 0x401000, 0x40),
        # start: WEAK alias of main
        struct.pack("<IBBHQQ", 19, (2 << 4) | 2, 0, 1, 0x401000, 0x40),
        # helper: LOCAL FUNC at 0x401040 size 0x20
        struct.pack("<IBBHQQ", 25, 2, 0, 1, 0x401040, 0x20),
    ])
    shstr = b"\0.symtab\0.strtab\0"
    text = b"\xc3" * 0x60
    text_off = 0x1000
    sym_off = text_off + len(text)
    str_off = sym_off + len(syms)
    shstr_off = str_off + len(strtab)
    sh_off = (shstr_off + len(shstr) + 7) & ~7
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + b"\0" * 9, 2, 62, 1,
                       0x401000, 64, sh_off, 0, 64, 56, 1, 64, 4, 3)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, text_off, 0x401000, 0x401000, len(text), len(text),
                       0x1000)
    shdrs = b"".join([
        struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        struct.pack("<IIQQQQIIQQ", 1, 2, 0, 0, sym_off, len(syms), 2, 1, 8, 24),
        struct.pack("<IIQQQQIIQQ", 9, 3, 0, 0, str_off, len(strtab), 0, 0, 1, 0),
        struct.pack("<IIQQQQIIQQ", 0, 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0),
    ])
    image = bytearray(sh_off + len(shdrs))
    image[0:64] = ehdr
    image[64:120] = phdr
    image[text_off:text_off + len(text)] = text
    image[sym_off:sym_off + len(syms)] = syms
    image[str_off:str_off + len(strtab)] = strtab
    image[shstr_off:shstr_off + len(shstr)] = shstr
    image[sh_off:] = shdrs
    return bytes(image)


def test_offsets_map_through_the_load_segment() -> None:
    elf = elfsyms.ElfSymbols(tiny_elf())
    assert elf.vaddr(0x1000) == 0x401000
    # three names at one address: the global one without underscores wins
    assert elf.at_offset(0x1000) == "main"
    assert elf.at_offset(0x1010) == "main+0x10"
    assert elf.at_offset(0x1040) == "helper"
    assert elf.at_offset(0x1070) is None


def test_not_elf64() -> None:
    with pytest.raises(elfsyms.ElfError):
        elfsyms.ElfSymbols(b"#!/bin/sh\n" + b"\0" * 64)
    with pytest.raises(elfsyms.ElfError):
        elfsyms.ElfSymbols(b"\x7fELF\x01\x01\x01" + b"\0" * 64)


def test_file_cache(tmp_path: Path) -> None:
    path = tmp_path / "a.out"
    path.write_bytes(tiny_elf())
    assert elfsyms.symbol_at(str(path), 0x1040) == "helper"
    assert elfsyms.symbol_at(str(tmp_path / "missing"), 0) is None


def test_libc_malloc_round_trip() -> None:
    libc = Path("/lib/x86_64-linux-gnu/libc.so.6")
    if not libc.exists():
        pytest.skip("no x86_64 glibc here")
    elf = elfsyms.symbols_of(str(libc))
    assert elf is not None
    malloc = min((s for s in elf.symbols if s.name == "malloc"), key=lambda s: s.value)
    # the file offset bpftrace computes for uprobe:...:malloc
    offset = next(malloc.value - seg.vaddr + seg.offset for seg in elf.segments
                  if seg.vaddr <= malloc.value < seg.vaddr + seg.filesz)
    assert elf.at_offset(offset) == "malloc"
