"""The command line: parse options, open inputs, wire the stages, report errors.

Kept thin on purpose: everything it calls is usable without it.  Exit codes:

    0  explained (warnings, if any, are counted on stderr)
    1  an unexpected internal error (a bug: ``--traceback`` shows it)
    2  usage error (unknown option, missing argument)
    3  input error: missing, unreadable, empty, or not strace output
    4  ``--strict`` and a call line could not be parsed
    5  this machine cannot do it (no strace, ptrace not permitted, ...)
  130  interrupted
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import typer

from bpfexplain import __version__
from bpfexplain.errors import BpfexplainError

EXAMPLES = """\
Record a log yourself, then explain it:

    strace -f -tt -o trace.log -e trace=bpf,perf_event_open,ioctl,close,openat,read \\
        bpftrace -e 'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }'
    bpfexplain parse trace.log

or let bpfexplain run strace for you (as root):

    bpfexplain run -- bpftrace -e 'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }'
"""

app = typer.Typer(
    name="bpfexplain",
    help="Explain what an eBPF loader really does in the kernel.\n\n" + EXAMPLES,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


class ParseFormat(str, Enum):
    events = "events"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bpfexplain {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    traceback: Annotated[bool, typer.Option("--traceback",
                                            help="Show the full traceback on errors.")] = False,
) -> None:
    _state["traceback"] = traceback


_state: dict[str, bool] = {"traceback": False}


@app.command(epilog=EXAMPLES)
def parse(
    files: Annotated[list[str], typer.Argument(help="strace logs ('-' for stdin; a directory "
                                                    "of 'strace -ff' files).")],
    format: Annotated[ParseFormat, typer.Option("--format", "-f",
                                                help="Output format.")] = ParseFormat.events,
    strict: Annotated[bool, typer.Option("--strict",
                                         help="Stop at the first unparsable call line.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="No summary on stderr.")] = False,
) -> None:
    """Explain a saved strace log."""
    from bpfexplain.framing import Stats, open_inputs
    from bpfexplain.parser import parse_events
    from bpfexplain.render.events import event_line
    from bpfexplain.render.summary import summary_lines

    streams = open_inputs(files)
    stats = Stats()
    names = [name for name, _ in streams]
    out = sys.stdout
    try:
        for event in parse_events(streams, stats, strict=strict):
            out.write(event_line(event, names))
            out.write("\n")
    finally:
        if not quiet:
            for line in summary_lines(stats):
                typer.echo(line, err=True)


def main() -> None:
    """Console entry point: map the project's errors to one line and an exit code.

    typer runs in standalone mode, so usage errors get click's own message and exit
    code 2; what reaches us here is the project's errors and genuine bugs.
    """
    try:
        app()
    except BpfexplainError as exc:
        if _state["traceback"]:
            raise
        typer.echo(f"bpfexplain: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # `bpfexplain parse x | head`: the reader left; that is not an error.
        _silence_stdout()
        sys.exit(0)
    except Exception as exc:
        if _state["traceback"]:
            raise
        typer.echo(f"bpfexplain: internal error: {type(exc).__name__}: {exc} "
                   "(run with --traceback and report it)", err=True)
        sys.exit(1)


def _silence_stdout() -> None:
    import os

    # Python would complain again when flushing stdout at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
