"""The grammar, one line shape per test, each line inline with its exact values.

Lines are what framing hands the grammar: prefix, timestamp and duration removed.
Most are copied from real strace 5.10-7.2 output (see fixtures/); the rest follow
strace's printers (src/bpf.c, src/perf.c, src/util.c, src/print_fields.c).
"""

from __future__ import annotations

from typing import Any

import pytest
from lark import Lark

from bpfexplain.grammar import (
    MAX_DEPTH,
    SyntaxProblem,
    grammar_text,
    parse_call_text,
    parse_value_text,
)
from bpfexplain.values import (
    Commented,
    Elided,
    Fd,
    Flags,
    Func,
    InOut,
    Sym,
    Truncated,
    flag_names,
)


def call(text: str) -> dict[str, Any]:
    return parse_call_text(text)


def test_grammar_has_no_conflicts_in_strict_mode() -> None:
    # strict=True turns shift/reduce conflicts and terminal collisions into errors.
    Lark(grammar_text(), parser="lalr", lexer="contextual", strict=True,
         start=["call", "info"])


def test_plain_call_and_result() -> None:
    c = call("bpf(BPF_BTF_GET_FD_BY_ID, {btf_id=1}, 12) = 3")
    assert c["name"] == "bpf"
    assert c["args"] == (Sym("BPF_BTF_GET_FD_BY_ID"), {"btf_id": 1}, 12)
    assert c["result"] == 3
    assert c["errno"] is None
    assert c["result_path"] is None
    assert c["arg_names"] == ()
    assert isinstance(c["args"][0], Sym)


def test_nested_structs() -> None:
    c = call("bpf(BPF_OBJ_GET_INFO_BY_FD, {info={bpf_fd=3, info_len=32, "
             "info=0x7ffe52edf930}}, 16) = 0")
    assert c["args"][1] == {"info": {"bpf_fd": 3, "info_len": 32, "info": 0x7FFE52EDF930}}


def test_struct_with_elision() -> None:
    c = call("perf_event_open({type=PERF_TYPE_SOFTWARE, size=0 /* PERF_ATTR_SIZE_??? */, "
             "config=PERF_COUNT_SW_BPF_OUTPUT, precise_ip=0 /* arbitrary skid */, ...}, "
             "-1, 0, -1, PERF_FLAG_FD_CLOEXEC) = 5")
    attr = c["args"][0]
    assert attr["size"] == Commented(0, "PERF_ATTR_SIZE_???")
    assert attr["precise_ip"] == Commented(0, "arbitrary skid")
    assert attr["..."] is Elided
    assert c["args"][1:] == (-1, 0, -1, Sym("PERF_FLAG_FD_CLOEXEC"))


def test_arrays_of_strings_and_structs() -> None:
    c = call('bpf(BPF_LINK_CREATE, {link_create={prog_fd=8, target_fd=0, '
             'attach_type=BPF_TRACE_KPROBE_MULTI, flags=0, kprobe_multi={flags=0, cnt=1, '
             'syms=["ksys_read"], addrs=NULL, cookies=NULL}}}, 48) = -1 EOPNOTSUPP '
             '(Operation not supported)')
    multi = c["args"][1]["link_create"]["kprobe_multi"]
    assert multi["syms"] == ["ksys_read"]
    assert multi["addrs"] == Sym("NULL")
    assert c["result"] == -1
    assert c["errno"] == "EOPNOTSUPP"


def test_empty_struct_and_array() -> None:
    assert call("x({}, []) = 0")["args"] == ({}, [])


def test_flag_set() -> None:
    c = call("bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_ARRAY, "
             "map_flags=BPF_F_RDONLY_PROG|BPF_F_MMAPABLE|0x10}, 72) = 4")
    flags = c["args"][1]["map_flags"]
    assert isinstance(flags, Flags)
    assert list(flags) == ["BPF_F_RDONLY_PROG", "BPF_F_MMAPABLE", 0x10]


def test_flag_set_outside_a_struct() -> None:
    c = call('openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3')
    assert c["args"] == (Sym("AT_FDCWD"), "/etc/ld.so.cache", Flags(["O_RDONLY", "O_CLOEXEC"]))


def test_shifts_inside_flag_sets() -> None:
    c = call("perf_event_open({type=PERF_TYPE_HW_CACHE, config=PERF_COUNT_HW_CACHE_L1D|"
             "PERF_COUNT_HW_CACHE_OP_READ<<8|PERF_COUNT_HW_CACHE_RESULT_ACCESS<<16}, "
             "-1, 0, -1, 0) = 5")
    assert c["args"][0]["config"] == Flags([
        "PERF_COUNT_HW_CACHE_L1D", "PERF_COUNT_HW_CACHE_OP_READ<<8",
        "PERF_COUNT_HW_CACHE_RESULT_ACCESS<<16"])


def test_x_verbose_instruction_code_has_a_comment_per_part() -> None:
    # strace -v -X verbose (bpf.c print_ebpf_insn via print_bpf_filter_code): each
    # part of an instruction's code is printed as a number with its own name.
    c = call("bpf(0x5 /* BPF_PROG_LOAD */, {prog_type=0x1 /* BPF_PROG_TYPE_SOCKET_FILTER */, "
             "insn_cnt=2, insns=[{code=0x7 /* BPF_ALU64 */|0 /* BPF_K */|0xb0 /* BPF_MOV */, "
             "dst_reg=0 /* BPF_REG_0 */, src_reg=0 /* BPF_REG_0 */, off=0, imm=0}, "
             "{code=0x5 /* BPF_JMP */|0 /* BPF_K */|0x90 /* BPF_EXIT */, dst_reg=0 /* BPF_REG_0 */, "
             "src_reg=0 /* BPF_REG_0 */, off=0, imm=0}]}, 0x94) = 3")
    insns = c["args"][1]["insns"]
    assert insns[1]["code"] == Flags([Commented(5, "BPF_JMP"), Commented(0, "BPF_K"),
                                      Commented(0x90, "BPF_EXIT")])
    assert flag_names(insns[0]["code"]) == ["BPF_ALU64", "BPF_K", "BPF_MOV"]
    assert insns[0]["dst_reg"] == Commented(0, "BPF_REG_0")


def test_x_verbose_flag_set_named_in_one_comment() -> None:
    c = call('openat(-100 /* AT_FDCWD */, "/etc/ld.so.cache", 0x80000 /* O_RDONLY|O_CLOEXEC */) = 3')
    assert c["args"][2] == Commented(0x80000, "O_RDONLY|O_CLOEXEC")
    assert flag_names(c["args"][2]) == ["O_RDONLY", "O_CLOEXEC"]
    # An unknown bit keeps the number: nothing is named that strace did not name.
    assert flag_names(call("x(0x80 /* O_??? */) = 0")["args"][0]) == [0x80]


@pytest.mark.parametrize(("config", "parts"), [
    # perf.c, PERF_TYPE_HW_CACHE: PMU type and extended bits as shifts, unknown
    # members as numbers with a comment, the shift after the comment.
    ("0xdeadf157<<32|PERF_COUNT_HW_CACHE_RESULT_MISS<<16|"
     "0x3 /* PERF_COUNT_HW_CACHE_OP_??? */<<8|PERF_COUNT_HW_CACHE_NODE",
     ["3735941463<<32", "PERF_COUNT_HW_CACHE_RESULT_MISS<<16", "3<<8",
      "PERF_COUNT_HW_CACHE_NODE"]),
    ("0x1<<24|0x2 /* PERF_COUNT_HW_CACHE_RESULT_??? */<<16|"
     "PERF_COUNT_HW_CACHE_OP_PREFETCH<<8|0x7 /* PERF_COUNT_HW_CACHE_??? */",
     ["1<<24", "2<<16", "PERF_COUNT_HW_CACHE_OP_PREFETCH<<8", 7]),
    ("PERF_COUNT_HW_CACHE_RESULT_ACCESS<<16|PERF_COUNT_HW_CACHE_OP_READ<<8|"
     "PERF_COUNT_HW_CACHE_L1D",
     ["PERF_COUNT_HW_CACHE_RESULT_ACCESS<<16", "PERF_COUNT_HW_CACHE_OP_READ<<8",
      "PERF_COUNT_HW_CACHE_L1D"]),
    # -X verbose: every part a number with its name; the names are what is kept.
    ("0xdeadf157<<32|0x1 /* PERF_COUNT_HW_CACHE_RESULT_MISS */<<16|"
     "0x3 /* PERF_COUNT_HW_CACHE_OP_??? */<<8|0x6 /* PERF_COUNT_HW_CACHE_NODE */",
     ["3735941463<<32", "PERF_COUNT_HW_CACHE_RESULT_MISS<<16", "3<<8",
      "PERF_COUNT_HW_CACHE_NODE"]),
])
def test_hardware_cache_configs(config: str, parts: list[str | int]) -> None:
    c = call(f"perf_event_open({{type=PERF_TYPE_HW_CACHE, size=0x88 /* PERF_ATTR_SIZE_??? */, "
             f"config={config}, sample_period=0}}, 0, -1, -1, 0) = -1 ENOENT "
             f"(No such file or directory)")
    assert flag_names(c["args"][0]["config"]) == parts
    assert c["args"][0]["sample_period"] == 0


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("42", 42), ("-1", -1), ("0x7ffe", 0x7FFE), ("0644", 0o644),
    ("18446744073709551615", 18446744073709551615),
])
def test_numbers(text: str, value: int) -> None:
    assert call(f"x({text}) = 0")["args"] == (value,)
    assert call(f"x({{a={text}}}) = 0")["args"] == ({"a": value},)


def test_strings_with_escapes() -> None:
    c = call(r'bpf(BPF_BTF_LOAD, {btf="\237\353\1\0\30\x41\n\"q\\", btf_size=45}, 28) = 3')
    assert c["args"][1]["btf"] == '\x9f\xeb\x01\x00\x18A\n"q\\'


def test_string_with_utf8_bytes_reads_as_text() -> None:
    c = call(r'x("caf\303\251") = 0')
    assert c["args"] == ("café",)


def test_truncated_string() -> None:
    c = call(r'execve("/usr/bin/bpftrace", ["bpftrace", "-e", '
             r'"tracepoint:raw_syscalls:sys_ente"...], 0x7ffee6bc9620 /* 9 vars */) = 0')
    argv = c["args"][1]
    assert argv[2] == Truncated("tracepoint:raw_syscalls:sys_ente")
    assert c["args"][2] == Commented(0x7FFEE6BC9620, "9 vars")


def test_truncated_string_inside_a_struct() -> None:
    c = call('bpf(BPF_PROG_LOAD, {license="GP"..., prog_name="x"}, 148) = 5')
    assert c["args"][1] == {"license": Truncated("GP"), "prog_name": "x"}


def test_comment_naming_an_unknown_value() -> None:
    c = call("bpf(BPF_MAP_CREATE, {map_type=0x24 /* BPF_MAP_TYPE_??? */, key_size=4}, 72) = 3")
    assert c["args"][1]["map_type"] == Commented(0x24, "BPF_MAP_TYPE_???")


def test_x_verbose_numbers_with_names_in_comments() -> None:
    c = call("bpf(0x5 /* BPF_PROG_LOAD */, {prog_type=0x1 /* BPF_PROG_TYPE_SOCKET_FILTER */, "
             "kern_version=0 /* KERNEL_VERSION(0, 0, 0) */}, 0x74) = 3")
    assert c["args"][0] == Commented(5, "BPF_PROG_LOAD")
    assert c["args"][1]["prog_type"] == Commented(1, "BPF_PROG_TYPE_SOCKET_FILTER")
    assert c["args"][1]["kern_version"] == Commented(0, "KERNEL_VERSION(0, 0, 0)")
    assert c["args"][2] == 0x74


def test_x_raw_numbers_only() -> None:
    c = call("bpf(0x5, {prog_type=0x1, insn_cnt=0x2, license=0x7ffc, log_level=0}, 0x74) = 3")
    assert c["args"] == (5, {"prog_type": 1, "insn_cnt": 2, "license": 0x7FFC,
                             "log_level": 0}, 0x74)


def test_bytes_comment_before_extra_data() -> None:
    # util.c print_nonzero_bytes: the comment comes first, then the bytes.
    c = call(r'clone3({flags=CLONE_VM, exit_signal=0, /* bytes 88..95 */ "\x01\x00"}, 96) = 5')
    assert c["args"][0]["#0"] == Commented("\x01\x00", "bytes 88..95")


def test_bytes_comment_after_extra_data() -> None:
    # bpf.c decode_attr_extra_data: `extra_data="..." /* bytes 72..79 */`.
    c = call(r'bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_HASH, extra_data="\x01" '
             r'/* bytes 72..79 */}, 80) = 3')
    assert c["args"][1]["extra_data"] == Commented("\x01", "bytes 72..79")


def test_comment_alone_in_a_struct() -> None:
    c = call("x({a=1, /* bytes 16..47 */}) = 0")
    assert c["args"][0] == {"a": 1, "#0": Commented(Elided, "bytes 16..47")}


def test_kernel_version_function() -> None:
    c = call("bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_TRACEPOINT, "
             "kern_version=KERNEL_VERSION(6, 18, 44)}, 148) = 9")
    assert c["args"][1]["kern_version"] == Func("KERNEL_VERSION", (6, 18, 44))


def test_makedev_function() -> None:
    c = call('mknodat(AT_FDCWD, "/dev/x", S_IFCHR|0600, makedev(0x1, 0x3)) = 0')
    assert c["args"][3] == Func("makedev", (1, 3))
    assert c["args"][2] == Flags(["S_IFCHR", 0o600])


def test_ioc_function() -> None:
    c = call("ioctl(3, _IOC(_IOC_READ|_IOC_WRITE, 0x24, 0x7, 0x8), 0x7ffc) = 0")
    assert c["args"][1] == Func("_IOC", (Flags(["_IOC_READ", "_IOC_WRITE"]), 0x24, 7, 8))


def test_if_nametoindex_function() -> None:
    c = call('bpf(BPF_PROG_ATTACH, {target_ifindex=if_nametoindex("lo"), '
             'attach_bpf_fd=5}, 20) = 0')
    assert c["args"][1]["target_ifindex"] == Func("if_nametoindex", ("lo",))


def test_socket_address_functions() -> None:
    c = call('connect(3, {sa_family=AF_INET, sin_port=htons(80), '
             'sin_addr=inet_addr("127.0.0.1")}, 16) = 0')
    assert c["args"][1]["sin_port"] == Func("htons", (80,))
    assert c["args"][1]["sin_addr"] == Func("inet_addr", ("127.0.0.1",))


def test_in_out_value() -> None:
    c = call("bpf(BPF_PROG_GET_NEXT_ID, {start_id=0, next_id=0 => 197, open_flags=0}, 12) = 0")
    assert c["args"][1]["next_id"] == InOut(0, 197)


def test_in_out_struct() -> None:
    c = call("bpf(BPF_MAP_LOOKUP_BATCH, {batch={in_batch=NULL, count=64} => "
             "{batch={count=63}}}, 56) = 0")
    assert c["args"][1]["batch"] == InOut({"in_batch": Sym("NULL"), "count": 64},
                                          {"batch": {"count": 63}})


def test_info_len_in_out() -> None:
    c = call("bpf(BPF_OBJ_GET_INFO_BY_FD, {info={bpf_fd=3, info_len=168 => 104, "
             "info=0x7ffe}}, 16) = 0")
    assert c["args"][1]["info"]["info_len"] == InOut(168, 104)


def test_fd_annotations_on_arguments_and_result() -> None:
    c = call("bpf(BPF_OBJ_GET_INFO_BY_FD, {info={bpf_fd=3<anon_inode:btf>, info_len=32, "
             "info=0x7ffd33641aa0}}, 16) = 0")
    assert c["args"][1]["info"]["bpf_fd"] == Fd(3, "anon_inode:btf")
    c = call("bpf(BPF_BTF_GET_FD_BY_ID, {btf_id=1}, 12) = 3<anon_inode:btf>")
    assert (c["result"], c["result_path"]) == (3, "anon_inode:btf")


def test_perf_event_fd_annotation() -> None:
    c = call("ioctl(8<anon_inode:[perf_event]>, PERF_EVENT_IOC_SET_BPF, "
             "9<anon_inode:bpf-prog>) = 0")
    assert c["args"] == (Fd(8, "anon_inode:[perf_event]"), Sym("PERF_EVENT_IOC_SET_BPF"),
                         Fd(9, "anon_inode:bpf-prog"))


def test_yy_device_annotation_nested() -> None:
    c = call("bpf(BPF_BTF_GET_FD_BY_ID, {btf_id=1, open_flags=0, "
             "fd_by_id_token_fd=0</dev/null<char 1:3>>}, 12) = 3<anon_inode:btf>")
    assert c["args"][1]["fd_by_id_token_fd"] == Fd(0, "/dev/null<char 1:3>")


def test_at_fdcwd_with_cwd_annotation() -> None:
    c = call('openat(AT_FDCWD</tmp/bpfexplain-rec/flags-y>, "/etc/ld.so.cache", '
             'O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache>')
    assert c["args"][0] == Fd(-100, "/tmp/bpfexplain-rec/flags-y")
    assert c["result_path"] == "/etc/ld.so.cache"


def test_socket_annotation_with_arrow() -> None:
    c = call("close(5<TCP:[127.0.0.1:22->10.0.0.1:5000]>) = 0")
    assert c["args"] == (Fd(5, "TCP:[127.0.0.1:22->10.0.0.1:5000]"),)


def test_deleted_file_annotation() -> None:
    assert call("close(3</tmp/x>(deleted)) = 0")["args"] == (Fd(3, "/tmp/x (deleted)"),)


def test_shift_is_not_an_annotation() -> None:
    c = call("capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, "
             "{effective=1<<CAP_SYS_ADMIN}) = 0")
    assert c["args"][1]["effective"] == Sym("1<<CAP_SYS_ADMIN")


def test_named_arguments_strace_6_16() -> None:
    c = call("bpf(cmd=BPF_MAP_CREATE, attr={map_type=BPF_MAP_TYPE_HASH, key_size=4, "
             "value_size=8, max_entries=1}, size=72) = 3")
    assert c["arg_names"] == ("cmd", "attr", "size")
    assert c["args"][0] == Sym("BPF_MAP_CREATE")
    assert c["args"][1]["max_entries"] == 1
    assert c["args"][2] == 72


def test_error_result() -> None:
    c = call("bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_KPROBE}, 148) = "
             "-1 EPERM (Operation not permitted)")
    assert (c["result"], c["errno"], c["injected"]) == (-1, "EPERM", False)


def test_errno_without_a_name() -> None:
    c = call("bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_KPROBE}, 148) = -1 (errno 524)")
    assert (c["result"], c["errno"]) == (-1, "errno 524")


def test_injected_result() -> None:
    c = call("bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_HASH}, 72) = 42 (INJECTED)")
    assert (c["result"], c["errno"], c["injected"]) == (42, None, True)


def test_injected_error() -> None:
    c = call("bpf(BPF_MAP_CREATE, {map_type=BPF_MAP_TYPE_HASH}, 72) = "
             "-1 ENOSYS (Function not implemented) (INJECTED)")
    assert (c["result"], c["errno"], c["injected"]) == (-1, "ENOSYS", True)


def test_unknown_result() -> None:
    c = call("exit_group(0) = ?")
    assert (c["result"], c["errno"]) == (None, None)


def test_interrupted_result() -> None:
    c = call("read(3, 0x7ffc, 4096) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)")
    assert (c["result"], c["errno"]) == (None, "ERESTARTSYS")


def test_restart_block_errno_with_underscore() -> None:
    c = call("nanosleep({tv_sec=1, tv_nsec=0}, 0x7ffc) = ? ERESTART_RESTARTBLOCK "
             "(Interrupted by signal)")
    assert c["errno"] == "ERESTART_RESTARTBLOCK"


def test_result_with_explanation_string() -> None:
    c = call("fcntl(3, F_GETFD) = 0x1 (flags FD_CLOEXEC)")
    assert (c["result"], c["errno"]) == (1, None)


def test_result_with_pid_namespace_comment() -> None:
    assert call("getpid() = 1234 /* 5 in strace's PID NS */")["result"] == 1234


def test_hex_result() -> None:
    c = call("mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_SHARED, 7, 0) = 0x7f77cb642000")
    assert c["result"] == 0x7F77CB642000


def test_unknown_syscall_name() -> None:
    c = call("syscall_0x14f(0x1, 0x2, 0, 0, 0, 0) = -1 ENOSYS (Function not implemented)")
    assert c["name"] == "syscall_0x14f"
    assert c["args"] == (1, 2, 0, 0, 0, 0)


def test_no_arguments() -> None:
    assert call("getpid() = 42")["args"] == ()


def test_ioctl_alternative_names() -> None:
    c = call("ioctl(1, TCGETS or SNDCTL_TMR_TIMEBASE, 0x7ffc) = -1 ENOTTY "
             "(Inappropriate ioctl for device)")
    assert c["args"][1] == Commented(Sym("TCGETS"), "or SNDCTL_TMR_TIMEBASE")


def test_signal_sets() -> None:
    c = call("rt_sigprocmask(SIG_BLOCK, ~[RTMIN RT_1], [INT TERM], 8) = 0")
    assert c["args"][1] == Func("~", (["RTMIN", "RT_1"],))
    assert c["args"][2] == ["INT", "TERM"]


def test_indexed_array() -> None:
    assert call("x([[0]=1, [BPF_REG_1]=2]) = 0")["args"] == ({"0": 1, "BPF_REG_1": 2},)


def test_unavailable_memory() -> None:
    assert call("bpf(BPF_PROG_LOAD, ???, 148) = 3")["args"][1] is Elided


def test_wait_status() -> None:
    c = call("wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 1234")
    assert c["args"][1] == [{"#0": Sym("WIFEXITED(s) && WEXITSTATUS(s) == 0")}]


def test_instruction_array_from_v() -> None:
    c = call("bpf(BPF_PROG_LOAD, {prog_type=BPF_PROG_TYPE_SOCKET_FILTER, insn_cnt=2, "
             "insns=[{code=BPF_ALU64|BPF_K|BPF_MOV, dst_reg=BPF_REG_0, src_reg=BPF_REG_0, "
             "off=0, imm=0}, {code=BPF_JMP|BPF_K|BPF_EXIT, dst_reg=BPF_REG_0, "
             "src_reg=BPF_REG_0, off=0, imm=0}], license=\"GPL\"}, 116) = 3")
    insns = c["args"][1]["insns"]
    assert insns[0] == {"code": Flags(["BPF_ALU64", "BPF_K", "BPF_MOV"]),
                        "dst_reg": Sym("BPF_REG_0"), "src_reg": Sym("BPF_REG_0"),
                        "off": 0, "imm": 0}
    assert insns[1]["code"] == Flags(["BPF_JMP", "BPF_K", "BPF_EXIT"])


def test_elided_array_tail() -> None:
    c = call('execve("/bin/sh", ["sh", "-c", ...], 0x7ffd /* 10 vars */) = 0')
    assert c["args"][1] == ["sh", "-c", Elided]


def test_signal_info_value() -> None:
    info = parse_value_text("{si_signo=SIGINT, si_code=SI_USER, si_pid=7660, si_uid=0}")
    assert info == {"si_signo": Sym("SIGINT"), "si_code": Sym("SI_USER"),
                    "si_pid": 7660, "si_uid": 0}


def test_duplicate_field_names_are_all_kept() -> None:
    assert call("x({a=1, a=2}) = 0")["args"] == ({"a": 1, "a#1": 2},)


@pytest.mark.parametrize("text", [
    "bpf(BPF_PROG_LOAD, {prog_type=",          # cut off
    "bpf(BPF_PROG_LOAD) = ",                    # no result
    "not a call at all",
    "bpf(BPF_PROG_LOAD, {a=1}}, 1) = 0",        # unbalanced
    "bpf(\x00) = 0",
])
def test_malformed_lines_raise_syntax_problem(text: str) -> None:
    with pytest.raises(SyntaxProblem):
        call(text)


def test_deep_nesting_is_refused_quickly() -> None:
    deep = "{a=" * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1)
    with pytest.raises(SyntaxProblem, match="nested more than"):
        call(f"bpf(BPF_PROG_LOAD, {deep}, 148) = 3")
    shallow = "{a=" * 50 + "1" + "}" * 50
    assert call(f"bpf(BPF_PROG_LOAD, {shallow}, 148) = 3")["result"] == 3


def test_braces_inside_strings_do_not_count_as_nesting() -> None:
    text = '"' + "{" * (MAX_DEPTH * 2) + '"'
    assert call(f"write(1, {text}, 200) = 200")["result"] == 200


def test_huge_number_is_a_syntax_problem_not_a_crash() -> None:
    with pytest.raises(SyntaxProblem):
        call("bpf(" + "9" * 5000 + ") = 1")


@pytest.mark.parametrize(("line", "check"), [
    # Shapes from strace's own test suite (tests/perf_event_open.c, bpf.c,
    # ioctl_perf.c of 7.2, printed by strace 6.1 on this machine).
    ("perf_event_open({type=PERF_TYPE_BREAKPOINT, size=0x90 /* PERF_ATTR_SIZE_??? */ => "
     "0x88 /* PERF_ATTR_SIZE_??? */, config=0, __reserved_1=0x3130f0b /* Bits 63..38 */, "
     "...}, 0, 0, 0, 0) = -1 E2BIG (Argument list too long)",
     lambda c: c["args"][0]["size"] == InOut(Commented(0x90, "PERF_ATTR_SIZE_???"),
                                             Commented(0x88, "PERF_ATTR_SIZE_???"))),
    ('bpf(BPF_LINK_CREATE, {link_create={prog_fd=0, target_fd=0, attach_type=0x2f /* BPF_??? */, '
     'flags=0, kprobe_multi={flags=0, cnt=4, syms=["foo", NULL, "OH", '
     '"abcdefghijklmnopqrstuvwxyz012345"..., ... /* 0x7fab50195000 */]}}}, 48) = '
     '-1 EINVAL (Invalid argument)',
     lambda c: c["args"][1]["link_create"]["kprobe_multi"]["syms"][-1]
     == Commented(Elided, "0x7fab50195000")),
    ("ioctl(-1, _IOC(_IOC_READ|_IOC_WRITE, 0x24, 0xed, 0x3eed), 0xdeadbeefbadc0ded) = "
     "-1 EBADF (Bad file descriptor)",
     lambda c: c["args"][1] == Func("_IOC", (Flags(["_IOC_READ", "_IOC_WRITE"]), 0x24, 0xED,
                                             0x3EED))),
    ("ioctl(-1, PERF_EVENT_IOC_ENABLE, 0x2 /* PERF_IOC_FLAG_??? */) = -1 EBADF "
     "(Bad file descriptor)",
     lambda c: c["args"][2] == Commented(2, "PERF_IOC_FLAG_???")),
])
def test_strace_test_suite_shapes(line: str, check: Any) -> None:
    assert check(call(line))
# -- sockets and netlink (attach routes outside bpf()), from fixtures/net-*.log --------------

def test_socket_call() -> None:
    c = call("socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 3")
    assert c["args"] == (Sym("AF_NETLINK"), Flags([Sym("SOCK_RAW"), Sym("SOCK_CLOEXEC")]),
                         Sym("NETLINK_ROUTE"))
    assert c["result"] == 3
    c = call("socket(AF_ALG, SOCK_SEQPACKET, 0) = -1 EAFNOSUPPORT "
             "(Address family not supported by protocol)")
    assert c["args"] == (Sym("AF_ALG"), Sym("SOCK_SEQPACKET"), 0)
    assert c["errno"] == "EAFNOSUPPORT"


def test_setsockopt_attach_bpf_with_fd_value() -> None:
    c = call("setsockopt(5, SOL_SOCKET, SO_ATTACH_BPF, [4], 4) = 0")
    assert c["args"] == (5, Sym("SOL_SOCKET"), Sym("SO_ATTACH_BPF"), [4], 4)
    c = call("setsockopt(5<UDP:[108494]>, SOL_SOCKET, SO_DETACH_FILTER, [0], 4) = 0")
    assert c["args"][0] == Fd(5, "UDP:[108494]")
    assert c["args"][2] == Sym("SO_DETACH_FILTER")


def test_ioctl_siocgifindex_names_the_interface() -> None:
    c = call('ioctl(5, SIOCGIFINDEX, {ifr_name="lo", ifr_ifindex=1}) = 0')
    assert c["args"] == (5, Sym("SIOCGIFINDEX"), {"ifr_name": "lo", "ifr_ifindex": 1})


_XDP_SENDMSG = (
    'sendmsg(3, {msg_name={sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, '
    'msg_namelen=12, msg_iov=[{iov_base=[{nlmsg_len=52, nlmsg_type=RTM_NEWLINK, '
    'nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK, nlmsg_seq=1796311945, nlmsg_pid=0}, '
    '{ifi_family=AF_UNSPEC, ifi_type=ARPHRD_NETROM, ifi_index=if_nametoindex("lo"), '
    'ifi_flags=0, ifi_change=0}, [{nla_len=20, nla_type=IFLA_XDP}, '
    '[[{nla_len=8, nla_type=IFLA_XDP_FD}, 7], [{nla_len=8, nla_type=IFLA_XDP_FLAGS}, '
    'XDP_FLAGS_UPDATE_IF_NOEXIST|XDP_FLAGS_SKB_MODE]]]], iov_len=52}], msg_iovlen=1, '
    'msg_controllen=0, msg_flags=0}, 0) = 52')


def test_sendmsg_rtm_newlink_with_nested_ifla_xdp() -> None:
    c = call(_XDP_SENDMSG)
    fd, msg, flags = c["args"]
    assert (fd, flags, c["result"]) == (3, 0, 52)
    assert msg["msg_name"] == {"sa_family": Sym("AF_NETLINK"), "nl_pid": 0, "nl_groups": 0}
    (iov,) = msg["msg_iov"]
    header, ifinfo, attr = iov["iov_base"]
    assert header["nlmsg_type"] == Sym("RTM_NEWLINK")
    assert header["nlmsg_flags"] == Flags([Sym("NLM_F_REQUEST"), Sym("NLM_F_ACK")])
    assert ifinfo["ifi_index"] == Func("if_nametoindex", ("lo",))
    assert attr[0] == {"nla_len": 20, "nla_type": Sym("IFLA_XDP")}
    assert attr[1] == [
        [{"nla_len": 8, "nla_type": Sym("IFLA_XDP_FD")}, 7],
        [{"nla_len": 8, "nla_type": Sym("IFLA_XDP_FLAGS")},
         Flags([Sym("XDP_FLAGS_UPDATE_IF_NOEXIST"), Sym("XDP_FLAGS_SKB_MODE")])]]


def test_sendto_with_nested_flag_and_yy_fd_in_an_attribute() -> None:
    # libbpf (bpftool) sends with sendto and sets NLA_F_NESTED; under -yy the fd in
    # IFLA_XDP_FD carries its annotation like any other fd.
    c = call('sendto(4<NETLINK:[ROUTE:16122]>, [{nlmsg_len=52, nlmsg_type=RTM_SETLINK, '
             'nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK, nlmsg_seq=1796311961, nlmsg_pid=0}, '
             '{ifi_family=AF_UNSPEC, ifi_type=ARPHRD_NETROM, ifi_index=if_nametoindex("lo"), '
             'ifi_flags=0, ifi_change=0}, [{nla_len=20, nla_type=NLA_F_NESTED|IFLA_XDP}, '
             '[[{nla_len=8, nla_type=IFLA_XDP_FD}, 3<anon_inode:bpf-prog>], '
             '[{nla_len=8, nla_type=IFLA_XDP_FLAGS}, '
             'XDP_FLAGS_UPDATE_IF_NOEXIST|XDP_FLAGS_SKB_MODE]]]], 52, 0, NULL, 0) = 52')
    fd, message, length, flags, dest, destlen = c["args"]
    assert fd == Fd(4, "NETLINK:[ROUTE:16122]")
    assert (length, flags, dest, destlen) == (52, 0, Sym("NULL"), 0)
    attr = message[2]
    assert attr[0]["nla_type"] == Flags([Sym("NLA_F_NESTED"), Sym("IFLA_XDP")])
    assert attr[1][0][1] == Fd(3, "anon_inode:bpf-prog")


def test_recvmsg_nlmsg_error_ack_capped_and_full() -> None:
    c = call('recvmsg(3, {msg_name={sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, '
             'msg_namelen=12, msg_iov=[{iov_base=[{nlmsg_len=36, nlmsg_type=NLMSG_ERROR, '
             'nlmsg_flags=NLM_F_CAPPED, nlmsg_seq=1796311945, nlmsg_pid=10848}, {error=0, '
             'msg={nlmsg_len=52, nlmsg_type=RTM_NEWLINK, nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK, '
             'nlmsg_seq=1796311945, nlmsg_pid=0}}], iov_len=32768}], msg_iovlen=1, '
             'msg_controllen=0, msg_flags=0}, 0) = 36')
    header, ack = c["args"][1]["msg_iov"][0]["iov_base"]
    assert header["nlmsg_type"] == Sym("NLMSG_ERROR")
    assert ack["error"] == 0
    assert ack["msg"]["nlmsg_type"] == Sym("RTM_NEWLINK")
    # an error ack echoes the whole request, and names the errno negated
    c = call('recvmsg(3, {msg_name={sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, '
             'msg_namelen=12, msg_iov=[{iov_base=[{nlmsg_len=52, nlmsg_type=NLMSG_ERROR, '
             'nlmsg_flags=0, nlmsg_seq=0, nlmsg_pid=10848}, {error=-ENODEV, '
             'msg=[{nlmsg_len=32, nlmsg_type=RTM_NEWLINK, '
             'nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK, nlmsg_seq=0, nlmsg_pid=0}, '
             '{ifi_family=AF_UNSPEC, ifi_type=ARPHRD_NETROM, ifi_index=0, ifi_flags=0, '
             'ifi_change=0}]}], iov_len=16384}], msg_iovlen=1, msg_controllen=0, '
             'msg_flags=0}, 0) = 52')
    _, ack = c["args"][1]["msg_iov"][0]["iov_base"]
    assert ack["error"] == Sym("-ENODEV")
    assert ack["msg"][0]["nlmsg_type"] == Sym("RTM_NEWLINK")


def test_tc_filter_message_with_raw_options_and_numeric_parent() -> None:
    # strace 6.1 and 7.2 print a bpf filter's TCA_OPTIONS as bytes and the parent as a
    # number (0xfffffff2: TC_H_CLSACT's ingress minor).
    c = call('sendmsg(3, {msg_name={sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, '
             'msg_namelen=12, msg_iov=[{iov_base=[{nlmsg_len=84, nlmsg_type=RTM_NEWTFILTER, '
             'nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK|NLM_F_EXCL|NLM_F_CREATE, '
             'nlmsg_seq=1796311954, nlmsg_pid=0}, {tcm_family=AF_UNSPEC, '
             'tcm_ifindex=if_nametoindex("lo"), tcm_handle=0, tcm_parent=4294967282, '
             'tcm_info=768}, [[{nla_len=8, nla_type=TCA_KIND}, "bpf"], [{nla_len=40, '
             'nla_type=TCA_OPTIONS}, "\\x08\\x00\\x06\\x00\\x07\\x00\\x00\\x00\\x13\\x00'
             '\\x07\\x00\\x74\\x63\\x5f\\x70\\x61\\x73\\x73\\x2e\\x6f\\x3a\\x5b\\x74\\x63'
             '\\x5d\\x00\\x00\\x08\\x00\\x08\\x00\\x01\\x00\\x00\\x00"]]], iov_len=84}], '
             'msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 84')
    _, tcmsg, attrs = c["args"][1]["msg_iov"][0]["iov_base"]
    assert tcmsg["tcm_parent"] == 0xFFFFFFF2
    assert attrs[0] == [{"nla_len": 8, "nla_type": Sym("TCA_KIND")}, "bpf"]
    options = attrs[1][1]
    assert options.encode("latin-1")[:8] == b"\x08\x00\x06\x00\x07\x00\x00\x00"
    assert "tc_pass.o:[tc]" in options


def test_tc_handle_macro_form() -> None:
    # strace's print_tc_handle style: a function-like macro of two names.
    c = call("sendmsg(3, {msg_iov=[{iov_base=[{nlmsg_len=36, nlmsg_type=RTM_DELTFILTER}, "
             "{tcm_parent=TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)}], iov_len=36}]}, 0) = 36")
    _, tcmsg = c["args"][1]["msg_iov"][0]["iov_base"]
    assert tcmsg["tcm_parent"] == Func("TC_H_MAKE", (Sym("TC_H_CLSACT"), Sym("TC_H_MIN_INGRESS")))


def test_link_reply_shapes_mac_addresses_and_indexed_names_with_minus() -> None:
    c = call("recvmsg(5, {msg_iov=[{iov_base=[{nlmsg_len=100, nlmsg_type=RTM_NEWLINK}, "
             "{ifi_index=if_nametoindex(\"lo\")}, [[{nla_len=10, nla_type=IFLA_ADDRESS}, "
             "00:00:00:00:00:00], [{nla_len=5, nla_type=0x43 /* IFLA_??? */}, \"\\x01\"], "
             "[{nla_len=136, nla_type=IFLA_INET_CONF}, [[IPV4_DEVCONF_FORWARDING-1]=0, "
             "[IPV4_DEVCONF_MC_FORWARDING-1]=1]]]], iov_len=32768}]}, 0) = 100")
    _, _, attrs = c["args"][1]["msg_iov"][0]["iov_base"]
    assert attrs[0][1] == Sym("00:00:00:00:00:00")
    assert attrs[1][0]["nla_type"] == Commented(0x43, "IFLA_???")
    assert attrs[2][1] == {"IPV4_DEVCONF_FORWARDING-1": 0, "IPV4_DEVCONF_MC_FORWARDING-1": 1}


def test_minus_after_a_name_is_an_operator_but_a_value_may_still_be_negative() -> None:
    c = call("f([[IPV4_DEVCONF_FORWARDING-1]=0], -1, [1 -2]) = 0")
    assert c["args"][0] == {"IPV4_DEVCONF_FORWARDING-1": 0}
    assert c["args"][1] == -1
    assert c["args"][2] == [1, -2]
