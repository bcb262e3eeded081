"""An eBPF disassembler that prints what ``bpftool prog dump xlated`` and the verifier print.

Loaders hand the kernel raw 8-byte instructions (``struct bpf_insn`` in
``/usr/include/linux/bpf.h``: u8 code, u8 dst_reg:4 / src_reg:4, s16 off, s32 imm; the
register nibbles are low = dst, high = src on little-endian machines).  The text follows
the kernel's own printer (kernel/bpf/disasm.c) so that what users see here matches
what they see in verifier logs and in bpftool::

       0: (bf) r6 = r1
       1: (18) r1 = map[fd:3]
       3: (85) call bpf_get_current_comm#16
       4: (79) r0 = *(u64 *)(r10 -8)
       5: (55) if r1 != 0x0 goto pc+3
       6: (95) exit

Before loading, a map reference in ``ld_imm64`` is the loader's fd (``map[fd:3]``), or
an index into ``fd_array`` (``map[idx:0]``); bpftool shows ``map[id:N]`` because it
reads programs back from the kernel after the fds were replaced by ids.
"""

from __future__ import annotations

import struct

from bpfexplain.plain import Frozen, init_field

# instruction classes and fields (linux/bpf_common.h, linux/bpf.h)
BPF_LD, BPF_LDX, BPF_ST, BPF_STX, BPF_ALU, BPF_JMP, BPF_JMP32, BPF_ALU64 = range(8)
_SIZE = {0x00: "u32", 0x08: "u16", 0x10: "u8", 0x18: "u64"}
_SIZE_SX = {0x00: "s32", 0x08: "s16", 0x10: "s8", 0x18: "s64"}
_MODE_IMM, _MODE_ABS, _MODE_IND, _MODE_MEM, _MODE_MEMSX, _MODE_ATOMIC = (
    0x00, 0x20, 0x40, 0x60, 0x80, 0xC0)
_SRC_X = 0x08

_ALU_OPS = ["+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=",
            "s>>=", "endian"]
_JMP_OPS = ["jmp", "==", ">", ">=", "&", "!=", "s>", "s>=", "call", "exit", "<", "<=",
            "s<", "s<=", "cond"]
_OP_NEG, _OP_DIV, _OP_MOD, _OP_MOV, _OP_END = 0x80, 0x30, 0x90, 0xB0, 0xD0
_JA, _CALL, _EXIT, _JCOND = 0x00, 0x80, 0x90, 0xE0

# atomic operations in imm (linux/bpf.h)
_FETCH = 0x01
_ATOMIC_NAMES = {0x00: ("add", "+="), 0x40: ("or", "|="), 0x50: ("and", "&="),
                 0xA0: ("xor", "^=")}
_XCHG, _CMPXCHG, _LOAD_ACQ, _STORE_REL = 0xE0 | _FETCH, 0xF0 | _FETCH, 0x100, 0x110

# src_reg of ld_imm64 and call (bpf.h BPF_PSEUDO_*)
PSEUDO_MAP_FD, PSEUDO_MAP_VALUE, PSEUDO_BTF_ID, PSEUDO_FUNC = 1, 2, 3, 4
PSEUDO_MAP_IDX, PSEUDO_MAP_IDX_VALUE = 5, 6
PSEUDO_CALL, PSEUDO_KFUNC_CALL = 1, 2

# enum bpf_func_id in declaration order: __BPF_FUNC_MAPPER of /usr/include/linux/bpf.h
# (6.1), then the helpers added after it.  Helpers are frozen; new ids are unlikely.
_HELPER_NAMES = """
    unspec map_lookup_elem map_update_elem map_delete_elem probe_read ktime_get_ns
    trace_printk get_prandom_u32 get_smp_processor_id skb_store_bytes l3_csum_replace
    l4_csum_replace tail_call clone_redirect get_current_pid_tgid get_current_uid_gid
    get_current_comm get_cgroup_classid skb_vlan_push skb_vlan_pop skb_get_tunnel_key
    skb_set_tunnel_key perf_event_read redirect get_route_realm perf_event_output
    skb_load_bytes get_stackid csum_diff skb_get_tunnel_opt skb_set_tunnel_opt
    skb_change_proto skb_change_type skb_under_cgroup get_hash_recalc get_current_task
    probe_write_user current_task_under_cgroup skb_change_tail skb_pull_data csum_update
    set_hash_invalid get_numa_node_id skb_change_head xdp_adjust_head probe_read_str
    get_socket_cookie get_socket_uid set_hash setsockopt skb_adjust_room redirect_map
    sk_redirect_map sock_map_update xdp_adjust_meta perf_event_read_value
    perf_prog_read_value getsockopt override_return sock_ops_cb_flags_set msg_redirect_map
    msg_apply_bytes msg_cork_bytes msg_pull_data bind xdp_adjust_tail skb_get_xfrm_state
    get_stack skb_load_bytes_relative fib_lookup sock_hash_update msg_redirect_hash
    sk_redirect_hash lwt_push_encap lwt_seg6_store_bytes lwt_seg6_adjust_srh lwt_seg6_action
    rc_repeat rc_keydown skb_cgroup_id get_current_cgroup_id get_local_storage
    sk_select_reuseport skb_ancestor_cgroup_id sk_lookup_tcp sk_lookup_udp sk_release
    map_push_elem map_pop_elem map_peek_elem msg_push_data msg_pop_data rc_pointer_rel
    spin_lock spin_unlock sk_fullsock tcp_sock skb_ecn_set_ce get_listener_sock
    skc_lookup_tcp tcp_check_syncookie sysctl_get_name sysctl_get_current_value
    sysctl_get_new_value sysctl_set_new_value strtol strtoul sk_storage_get
    sk_storage_delete send_signal tcp_gen_syncookie skb_output probe_read_user
    probe_read_kernel probe_read_user_str probe_read_kernel_str tcp_send_ack
    send_signal_thread jiffies64 read_branch_records get_ns_current_pid_tgid xdp_output
    get_netns_cookie get_current_ancestor_cgroup_id sk_assign ktime_get_boot_ns seq_printf
    seq_write sk_cgroup_id sk_ancestor_cgroup_id ringbuf_output ringbuf_reserve
    ringbuf_submit ringbuf_discard ringbuf_query csum_level skc_to_tcp6_sock skc_to_tcp_sock
    skc_to_tcp_timewait_sock skc_to_tcp_request_sock skc_to_udp6_sock get_task_stack
    load_hdr_opt store_hdr_opt reserve_hdr_opt inode_storage_get inode_storage_delete d_path
    copy_from_user snprintf_btf seq_printf_btf skb_cgroup_classid redirect_neigh per_cpu_ptr
    this_cpu_ptr redirect_peer task_storage_get task_storage_delete get_current_task_btf
    bprm_opts_set ktime_get_coarse_ns ima_inode_hash sock_from_file check_mtu
    for_each_map_elem snprintf sys_bpf btf_find_by_name_kind sys_close timer_init
    timer_set_callback timer_start timer_cancel get_func_ip get_attach_cookie task_pt_regs
    get_branch_snapshot trace_vprintk skc_to_unix_sock kallsyms_lookup_name find_vma loop
    strncmp get_func_arg get_func_ret get_func_arg_cnt get_retval set_retval
    xdp_get_buff_len xdp_load_bytes xdp_store_bytes copy_from_user_task skb_set_tstamp
    ima_file_hash kptr_xchg map_lookup_percpu_elem skc_to_mptcp_sock dynptr_from_mem
    ringbuf_reserve_dynptr ringbuf_submit_dynptr ringbuf_discard_dynptr dynptr_read
    dynptr_write dynptr_data tcp_raw_gen_syncookie_ipv4 tcp_raw_gen_syncookie_ipv6
    tcp_raw_check_syncookie_ipv4 tcp_raw_check_syncookie_ipv6 ktime_get_tai_ns
    user_ringbuf_drain
    cgrp_storage_get cgrp_storage_delete
"""
HELPERS: tuple[str, ...] = tuple(_HELPER_NAMES.split())


class Insn(Frozen):
    """One ``struct bpf_insn``."""

    __slots__ = _fields = ("code", "dst", "src", "off", "imm")

    code: int
    dst: int
    src: int
    off: int
    imm: int

    def __init__(self, code: int, dst: int, src: int, off: int, imm: int) -> None:
        init_field(self, "code", code)
        init_field(self, "dst", dst)
        init_field(self, "src", src)
        init_field(self, "off", off)
        init_field(self, "imm", imm)

    @property
    def cls(self) -> int:
        return self.code & 0x07

    def is_ld_imm64(self) -> bool:
        return self.code == (BPF_LD | _MODE_IMM | 0x18)

    def pack(self) -> bytes:
        return struct.pack("<BBhi", self.code, (self.src << 4) | self.dst, self.off, self.imm)


def unpack(raw: bytes) -> list[Insn]:
    """Instructions from raw bytes (a trailing partial instruction is dropped)."""
    out: list[Insn] = []
    for code, regs, off, imm in struct.iter_unpack("<BBhi", raw[:len(raw) // 8 * 8]):
        out.append(Insn(code, regs & 0x0F, regs >> 4, off, imm))
    return out


def helper_name(func_id: int) -> str | None:
    if 0 < func_id < len(HELPERS):
        return "bpf_" + HELPERS[func_id]
    return None


def _imm64(insns: list[Insn], i: int) -> int:
    low = insns[i].imm & 0xFFFFFFFF
    high = (insns[i + 1].imm & 0xFFFFFFFF) if i + 1 < len(insns) else 0
    return (high << 32) | low


def _ld_imm64_text(insns: list[Insn], i: int, fd_array: list[int] | None) -> str:
    insn = insns[i]
    nxt = insns[i + 1].imm if i + 1 < len(insns) else 0
    src = insn.src
    if src == PSEUDO_MAP_FD:
        return f"map[fd:{insn.imm}]"
    if src == PSEUDO_MAP_VALUE:
        return f"map[fd:{insn.imm}][0]+{nxt}"
    if src in (PSEUDO_MAP_IDX, PSEUDO_MAP_IDX_VALUE):
        where = f"map[idx:{insn.imm}]"
        if fd_array is not None and 0 <= insn.imm < len(fd_array):
            where = f"map[fd:{fd_array[insn.imm]}]"
        return where + (f"[0]+{nxt}" if src == PSEUDO_MAP_IDX_VALUE else "")
    if src == PSEUDO_BTF_ID:
        return f"btf_id[{insn.imm}]"
    if src == PSEUDO_FUNC:
        return f"subprog[{insn.imm:+d}]"
    return f"{_imm64(insns, i):#x}"


def _alu(insn: Insn) -> str:
    op = insn.code & 0xF0
    wide = insn.cls == BPF_ALU64
    r = "r" if wide else "w"
    dst = f"{r}{insn.dst}"
    if op == _OP_END:
        if wide:
            return f"r{insn.dst} = bswap{insn.imm} r{insn.dst}"
        order = "be" if insn.code & _SRC_X else "le"
        return f"r{insn.dst} = {order}{insn.imm} r{insn.dst}"
    if op == _OP_NEG:
        return f"{dst} = -{dst}"
    if op >> 4 >= len(_ALU_OPS):
        return f"invalid alu op {insn.code:#04x}"
    sym = _ALU_OPS[op >> 4]
    if op in (_OP_DIV, _OP_MOD) and insn.off == 1:
        sym = "s" + sym                      # sdiv/smod (cpu v4)
    if insn.code & _SRC_X:
        if op == _OP_MOV and insn.off in (8, 16, 32):
            return f"{dst} = (s{insn.off}){r}{insn.src}"     # movsx (cpu v4)
        if op == _OP_MOV and insn.off == 1 and wide:
            return (f"r{insn.dst} = addr_space_cast(r{insn.src}, "
                    f"{(insn.imm >> 16) & 0xFFFF}, {insn.imm & 0xFFFF})")
        return f"{dst} {sym} {r}{insn.src}"
    return f"{dst} {sym} {insn.imm}"


def _mem(size: str, reg: int, off: int) -> str:
    return f"*({size} *)(r{reg} {off:+d})"


def _atomic(insn: Insn) -> str:
    size = _SIZE[insn.code & 0x18]
    where = f"({size} *)(r{insn.dst} {insn.off:+d})"
    suffix = "64" if insn.code & 0x18 == 0x18 else ""
    op = insn.imm
    base = op & ~_FETCH
    if op in (_LOAD_ACQ,):
        return f"r{insn.dst} = load_acquire(({size} *)(r{insn.src} {insn.off:+d}))"
    if op in (_STORE_REL,):
        return f"store_release({where}, r{insn.src})"
    if op == _XCHG:
        return f"r{insn.src} = atomic{suffix}_xchg({where}, r{insn.src})"
    if op == _CMPXCHG:
        return f"r0 = atomic{suffix}_cmpxchg({where}, r0, r{insn.src})"
    if base in _ATOMIC_NAMES:
        name, sym = _ATOMIC_NAMES[base]
        if op & _FETCH:
            return f"r{insn.src} = atomic{suffix}_fetch_{name}({where}, r{insn.src})"
        return f"lock *{where} {sym} r{insn.src}"
    return f"BUG_atomic_{op:#04x}"


def _jmp(insn: Insn) -> str:
    op = insn.code & 0xF0
    if op == _CALL and insn.cls == BPF_JMP:
        if insn.src == PSEUDO_CALL:
            return f"call pc{insn.imm:+d}"
        if insn.src == PSEUDO_KFUNC_CALL:
            return f"call kernel-function#{insn.imm}"
        name = helper_name(insn.imm)
        return f"call {name}#{insn.imm}" if name else f"call unknown#{insn.imm}"
    if op == _EXIT and insn.cls == BPF_JMP:
        return "exit"
    if op == _JA:
        if insn.cls == BPF_JMP32:
            return f"gotol pc{insn.imm:+d}"
        return f"goto pc{insn.off:+d}"
    if op == _JCOND and insn.cls == BPF_JMP:
        return f"may_goto pc{insn.off:+d}"
    if op >> 4 >= len(_JMP_OPS) or op in (_CALL, _EXIT, _JCOND):
        return f"invalid jump op {insn.code:#04x}"
    r = "w" if insn.cls == BPF_JMP32 else "r"
    sym = _JMP_OPS[op >> 4]
    if insn.code & _SRC_X:
        return f"if {r}{insn.dst} {sym} {r}{insn.src} goto pc{insn.off:+d}"
    return f"if {r}{insn.dst} {sym} {insn.imm & 0xFFFFFFFF:#x} goto pc{insn.off:+d}"


def insn_text(insns: list[Insn], i: int, fd_array: list[int] | None = None) -> str:
    """The text of instruction ``i`` (without index and opcode)."""
    insn = insns[i]
    cls = insn.cls
    mode = insn.code & 0xE0
    if cls in (BPF_ALU, BPF_ALU64):
        return _alu(insn)
    if cls in (BPF_JMP, BPF_JMP32):
        return _jmp(insn)
    if cls == BPF_LDX:
        if mode == _MODE_MEM:
            return f"r{insn.dst} = {_mem(_SIZE[insn.code & 0x18], insn.src, insn.off)}"
        if mode == _MODE_MEMSX:
            return f"r{insn.dst} = {_mem(_SIZE_SX[insn.code & 0x18], insn.src, insn.off)}"
        return f"BUG_ldx_{insn.code:02x}"
    if cls == BPF_STX:
        if mode == _MODE_MEM:
            return f"{_mem(_SIZE[insn.code & 0x18], insn.dst, insn.off)} = r{insn.src}"
        if mode == _MODE_ATOMIC:
            return _atomic(insn)
        return f"BUG_stx_{insn.code:02x}"
    if cls == BPF_ST:
        if mode == _MODE_MEM:
            return f"{_mem(_SIZE[insn.code & 0x18], insn.dst, insn.off)} = {insn.imm}"
        return f"BUG_st_{insn.code:02x}"
    # BPF_LD
    size = _SIZE[insn.code & 0x18]
    if mode == _MODE_ABS:
        return f"r0 = *({size} *)skb[{insn.imm}]"
    if mode == _MODE_IND:
        return f"r0 = *({size} *)skb[r{insn.src} + {insn.imm}]"
    if insn.is_ld_imm64():
        return f"r{insn.dst} = {_ld_imm64_text(insns, i, fd_array)}"
    return f"BUG_ld_{insn.code:02x}"


def disassemble(insns: list[Insn], *, fd_array: list[int] | None = None) -> list[str]:
    """bpftool-style lines, ``   4: (18) r1 = map[fd:3]``; ld_imm64 takes two slots."""
    lines: list[str] = []
    i = 0
    while i < len(insns):
        insn = insns[i]
        lines.append(f"{i:4d}: ({insn.code:02x}) {insn_text(insns, i, fd_array)}")
        i += 2 if insn.is_ld_imm64() else 1
    return lines


def _ld_imm64s(insns: list[Insn]) -> list[Insn]:
    found: list[Insn] = []
    i = 0
    while i < len(insns):
        if insns[i].is_ld_imm64():
            found.append(insns[i])
            i += 2
        else:
            i += 1
    return found


def fd_array_indexes(insns: list[Insn]) -> list[int]:
    """Indexes into ``fd_array`` that map references use."""
    return sorted({i.imm for i in _ld_imm64s(insns)
                   if i.src in (PSEUDO_MAP_IDX, PSEUDO_MAP_IDX_VALUE) and i.imm >= 0})


def map_fds(insns: list[Insn], fd_array: list[int] | None = None) -> list[int]:
    """The map fds a program references, in first-use order."""
    fds: list[int] = []
    for insn in _ld_imm64s(insns):
        fd: int | None = None
        if insn.src in (PSEUDO_MAP_FD, PSEUDO_MAP_VALUE):
            fd = insn.imm
        elif insn.src in (PSEUDO_MAP_IDX, PSEUDO_MAP_IDX_VALUE) and fd_array is not None \
                and 0 <= insn.imm < len(fd_array):
            fd = fd_array[insn.imm]
        if fd is not None and fd not in fds:
            fds.append(fd)
    return fds


def helpers_used(insns: list[Insn]) -> list[str]:
    """Helper functions called, in first-call order (``bpf_map_lookup_elem``...)."""
    names: list[str] = []
    for insn in insns:
        if insn.code == (BPF_JMP | _CALL) and insn.src == 0:
            name = helper_name(insn.imm) or f"unknown#{insn.imm}"
            if name not in names:
                names.append(name)
    return names
