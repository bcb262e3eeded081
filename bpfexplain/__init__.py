"""bpfexplain: see what an eBPF loader really does in the kernel."""

__version__ = "0.1.0"
