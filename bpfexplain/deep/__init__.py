"""Deep mode: a ptrace backend that reads what strace only shows as pointers.

strace prints ``insns=0x7ffd...``, an empty verifier log (it reads the buffer before
the kernel fills it), ``value=0x...`` for the perf event stored into a perf event
array and ``config1=0x55d7...`` for a uprobe's path.  This package traces the command
itself with ptrace(2), its requests made through python-ptrace's binding, stops only
on the syscalls the explainer needs (a seccomp filter decides, so the rest of the
program runs at full speed), and reads those pointers from the tracee's memory
(``/proc/TID/mem``).

It produces the very same :class:`~bpfexplain.values.Call` values the strace parser
builds (``Sym`` for bare names, dicts keyed by strace's field names, ints...), so the
tracker, the story and the JSON stay one code path; what only memory could tell goes
into ``Call.deep``.

Modules:

* :mod:`.backend`  the tracer: fork, seccomp, the ``waitpid(-1, __WALL)`` loop, events;
* :mod:`.seccomp`  syscall numbers per architecture and the classic BPF filter;
* :mod:`.syscalls` raw syscall arguments to strace-shaped values;
* :mod:`.structs`  ``union bpf_attr`` and ``struct perf_event_attr`` decoders;
* :mod:`.disasm`   an eBPF disassembler printing what bpftool and the verifier print;
* :mod:`.elfsyms`  a file offset in an ELF file to the symbol it belongs to;
* :mod:`.split`    ``run --deep`` started before the CLI: tracer and explainer apart.

Only :mod:`.backend` makes ptrace requests, and only it imports python-ptrace (when a
trace starts, not at start-up); the decoders work on plain bytes and are tested
without a tracee.
"""
