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

# No ``from __future__ import annotations`` here: typer reads every command's
# signature when the app runs (``inspect.signature(eval_str=True)`` and
# ``get_type_hints``), and string annotations would be evaluated twice per parameter,
# on every start.  Written as objects, they are built once, when the module loads.

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from bpfexplain import __version__
from bpfexplain.errors import BpfexplainError

if TYPE_CHECKING:
    from bpfexplain.framing import Stats

def keep_breaks(text: str) -> str:
    """Mark each indented block (examples) so that click prints it line for line.

    click rewraps help paragraphs into one flowing text, which turns three example
    commands into one run-on line; a paragraph whose first line is ``\\b`` is kept
    as written.
    """
    blocks = text.split("\n\n")
    return "\n\n".join("\b\n" + block if block.startswith("    ") else block
                       for block in blocks)


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
    help="Explain what an eBPF loader really does in the kernel.\n\n"
         + keep_breaks(EXAMPLES),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


class ParseFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    events = "events"
    dot = "dot"
    mermaid = "mermaid"
    html = "html"


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


def _detail(brief: bool, verbose: bool) -> str:
    if brief and verbose:
        raise typer.BadParameter("--brief and --verbose exclude each other")
    return "brief" if brief else "verbose" if verbose else "default"


@app.command(epilog=keep_breaks(EXAMPLES))
def parse(
    files: Annotated[list[str], typer.Argument(help="strace logs ('-' for stdin; a directory "
                                                    "of 'strace -ff' files).")],
    format: Annotated[ParseFormat, typer.Option(
        "--format", help="text: the story (default); json: the graph as one document; "
        "markdown: lesson notes; events: one JSON object per parsed call; "
        "dot, mermaid: the graph as a picture; html: one self-contained page with the "
        "story, graph, timeline and log linked.")] = ParseFormat.text,
    brief: Annotated[bool, typer.Option("--brief", help="Only the graph and a summary.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="Every call, probes unfolded.")] = False,
    tracepoint_ids: Annotated[Path | None, typer.Option(
        "--tracepoint-ids", help="File of 'ID CAT:NAME' lines to name tracepoint ids.",
        dir_okay=False)] = None,
    resolve_locally: Annotated[bool, typer.Option(
        "--resolve-locally/--no-resolve-locally",
        help="Name ids the log does not explain from this machine's tracefs/sysfs.")] = True,
    strict: Annotated[bool, typer.Option("--strict",
                                         help="Stop at the first unparsable call line.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="No reading summary on stderr.")] = False,
    color: Annotated[bool | None, typer.Option(
        "--color/--no-color", help="Force colours on or off (default: when a terminal).")
    ] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE",
        help="Write to FILE. graph.svg/.png (with --format dot or mermaid; .png always): "
             "the picture drawn by Graphviz; story.svg/.html (--format text): the "
             "coloured story for slides; with --format html, the page whatever the "
             "name; any other name: the format's text.")] = None,
) -> None:
    """Explain a saved strace log.

    Line numbers are 1-based within each input file; with several files (e.g. the
    files of 'strace -ff') the JSON names the file of each record.
    """
    from bpfexplain.framing import Stats, open_inputs
    from bpfexplain.render.summary import summary_lines

    detail = _detail(brief, verbose)
    output = _output_path(output)
    if output is not None:
        # Before reading a byte: a long log must not be parsed for nothing.
        from bpfexplain.safeio import check_output

        check_output(output)
    streams = open_inputs(files)
    stats = Stats()
    try:
        if format is ParseFormat.events:
            _print_events(streams, stats, strict)
        else:
            from bpfexplain.pipeline import explain_streams, make_resolver

            resolver = make_resolver(files, tracepoint_ids=tracepoint_ids,
                                     local=resolve_locally)
            _warn(resolver.warnings)
            log = None
            if format is ParseFormat.html:
                from bpfexplain.logtext import capture

                # The page shows the log itself: read it once, parse the same bytes.
                streams, log = capture(streams)
            story = explain_streams(streams, stats, resolver, detail=detail, strict=strict)
            if log is not None:
                from bpfexplain.runner import write_page

                write_page(story, log, output)
            elif output is not None:
                from bpfexplain.render.export import write_output

                write_output(story, format.value, output)
            else:
                from bpfexplain.render.export import write_story

                write_story(story, format.value, sys.stdout, color=color)
    except BrokenPipeError:
        # `bpfexplain parse x | head`: the reader left.  Handled here because
        # click would turn it into exit status 1 before main() sees it.
        _silence_stdout()
        raise typer.Exit(0) from None
    finally:
        if not quiet:
            for line in summary_lines(stats):
                typer.echo(line, err=True)


def _warn(warnings: list[str]) -> None:
    from bpfexplain.text import safe

    for warning in warnings:
        typer.echo(f"bpfexplain: warning: {safe(warning)}", err=True)


def _print_events(streams: list[tuple[str, BinaryIO]], stats: "Stats", strict: bool) -> None:
    from bpfexplain.parser import parse_events
    from bpfexplain.render.events import event_line

    names = [name for name, _ in streams]
    out = sys.stdout
    for event in parse_events(streams, stats, strict=strict):
        out.write(event_line(event, names))
        out.write("\n")


def _output_path(output: Path | None) -> Path | None:
    """``--output -`` is stdout, as for every other tool."""
    return None if output is None or str(output) == "-" else output


class RunFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


class Backend(str, Enum):
    strace = "strace"
    ptrace = "ptrace"


RUN_EPILOG = """\
Examples (as root):

    bpfexplain run -- bpftrace -e 'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }'
    bpfexplain run --duration 5 --save trace.log -- opensnoop
    bpfexplain run -p 1234

The command's own output appears as usual; bpfexplain's live steps and status go to
stderr, the final story to stdout (or --output).  The first Ctrl-C goes to the command
(so it can detach and print its results), a second one stops everything at once.
bpfexplain exits with the command's exit status (128+N if signal N killed it).
"""


@app.command(epilog=keep_breaks(RUN_EPILOG),
             context_settings={"allow_interspersed_args": False})
def run(
    command: Annotated[list[str] | None, typer.Argument(
        help="The loader to run and trace (put it after --).", show_default=False)] = None,
    pid: Annotated[int | None, typer.Option(
        "--pid", "-p", help="Attach to a loader that is already running.")] = None,
    duration: Annotated[float | None, typer.Option(
        "--duration", min=0, metavar="SECONDS",
        help="Send SIGINT to the command after SECONDS (like pressing Ctrl-C); again if "
             "it stays quiet and running, and SIGKILL if it outlives three.")] = None,
    save: Annotated[Path | None, typer.Option(
        "--save", metavar="FILE",
        help="Keep the raw strace log in FILE, and the names of this machine's "
             "tracepoint ids and PMU types in FILE.meta.json, for 'parse' elsewhere.")] = None,
    format: Annotated[RunFormat, typer.Option(
        "--format", help="Format of the final story.")] = RunFormat.text,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE",
        help="Write the final story to FILE (stdout also carries the command's output).")]
        = None,
    quiet_live: Annotated[bool, typer.Option(
        "--quiet-live", help="No live steps or status: only the final story.")] = False,
    brief: Annotated[bool, typer.Option("--brief", help="Only the graph and a summary.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="Every call, probes unfolded.")] = False,
    color: Annotated[bool | None, typer.Option(
        "--color/--no-color", help="Force colours on or off (default: when a terminal).")
    ] = None,
    strace: Annotated[str, typer.Option("--strace", metavar="PATH",
                                        help="The strace binary to use.")] = "strace",
    deep: Annotated[bool, typer.Option(
        "--deep", help="Also read what strace cannot show (instructions, verifier log, "
        "uprobe targets, program ids) from the loader's memory: the ptrace backend.")] = False,
    backend: Annotated[Backend | None, typer.Option(
        "--backend", help="strace (default) or ptrace (what --deep uses).")] = None,
) -> None:
    """Run a loader under strace and explain it as it happens (needs root)."""
    from bpfexplain import live

    if (pid is None) == (not command):
        raise typer.BadParameter("give a command to run (after --) or -p PID, not both")
    if brief and verbose:
        raise typer.BadParameter("--brief and --verbose exclude each other")
    if deep and backend is Backend.strace:
        raise typer.BadParameter("--deep reads memory with the ptrace backend, "
                                 "not with --backend strace")
    output = _output_path(output)
    if output is not None:
        from bpfexplain.safeio import check_output

        check_output(output)
    if deep or backend is Backend.ptrace:
        if pid is not None:
            raise typer.BadParameter("the ptrace backend starts the command itself; "
                                     "it cannot attach with -p (use the strace backend)")
        if save is not None:
            raise typer.BadParameter("--save keeps strace's log; the ptrace backend "
                                     "writes none (use --format json to keep the result)")
        _run_deep(list(command or []), duration=duration, quiet_live=quiet_live,
                  detail="brief" if brief else "verbose" if verbose else "default",
                  fmt=format.value, output=output, color=color)
    if save is not None:
        from bpfexplain.safeio import check_output

        check_output(save)
        check_output(live.meta_path(save))
    strace_bin = live.find_strace(strace)
    if command:
        live.resolve_command(command)
    else:
        assert pid is not None
        live.check_pid(pid)
    for warning in live.preflight_warnings():
        typer.echo(f"bpfexplain: warning: {warning}", err=True)
    import tempfile

    from bpfexplain.runner import trace_and_explain

    keep = save
    scratch: tempfile.TemporaryDirectory[str] | None = None
    if format is RunFormat.html and keep is None:
        # The page shows the log: keep strace's output in a private directory (named
        # apart from the live session's own; removed below, or at exit after an error).
        scratch = tempfile.TemporaryDirectory(prefix="bpfx-page-")
        keep = Path(scratch.name) / "trace.log"
    config = live.RunConfig(command=list(command or []), pid=pid, duration=duration,
                            save=keep, strace=strace)
    status = trace_and_explain(config, strace_bin, fmt=format.value, output=output,
                               color=color, quiet_live=quiet_live,
                               detail=_detail(brief, verbose), save=save, scratch=scratch)
    raise typer.Exit(status)


def _run_deep(command: list[str], *, duration: float | None, quiet_live: bool, detail: str,
              fmt: str, output: Path | None, color: bool | None) -> None:
    """``run --deep``: the ptrace backend feeds the same tracker and story."""
    from bpfexplain.runner import deep_and_explain

    raise typer.Exit(deep_and_explain(command, duration=duration, fmt=fmt, output=output,
                                      color=color, quiet_live=quiet_live, detail=detail))


DEMO_EPILOG = """\
Examples:

    bpfexplain demo                   # the lessons, with titles
    bpfexplain demo classic --step    # play one, pausing at each phase
    bpfexplain demo --list            # just the names, for scripts
    bpfexplain demo go --format markdown --output go.md   # a handout
    bpfexplain demo classic --format html -o classic.html  # one page, opens offline
    bpfexplain demo --site course/    # every lesson as a page, with an index
"""


@app.command(epilog=keep_breaks(DEMO_EPILOG))
def demo(
    name: Annotated[str | None, typer.Argument(
        help="The lesson to play (see the list).", show_default=False)] = None,
    list_: Annotated[bool, typer.Option("--list", help="Print lesson names, one per line.")]
        = False,
    step: Annotated[bool, typer.Option(
        "--step", help="Wait for Enter between phases (only when stdin is a terminal).")]
        = False,
    no_wait: Annotated[bool, typer.Option(
        "--no-wait", help="Never wait for Enter, even with --step on a terminal.")] = False,
    format: Annotated[ParseFormat, typer.Option(
        "--format", help="text: play the lesson (default); markdown: a handout; html: a "
        "page with story, graph, timeline and log; dot, mermaid, json: the recording in "
        "that format.")] = ParseFormat.text,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE",
        help="Write to FILE, as 'parse --output' does.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="Every call, probes unfolded.")] = False,
    color: Annotated[bool | None, typer.Option(
        "--color/--no-color", help="Force colours on or off (default: when a terminal).")
    ] = None,
    site: Annotated[Path | None, typer.Option(
        "--site", metavar="DIR", file_okay=False,
        help="Write every lesson as an HTML page, plus index.html, into DIR: a course "
             "for any static web server or to open from disk.")] = None,
) -> None:
    """Play a bundled lesson: a real recording explained, no root or strace needed."""
    from bpfexplain import demo as lessons

    if list_:
        for lesson_name in lessons.lesson_names():
            typer.echo(lesson_name)
        return
    if site is not None:
        if name is not None:
            raise typer.BadParameter("--site writes every lesson; give no lesson name")
        written = lessons.write_site(site, "verbose" if verbose else "default")
        typer.echo(f"wrote {len(written)} pages to {site} (open {site / 'index.html'})",
                   err=True)
        return
    from bpfexplain.render.console import make_console

    console = make_console(color=color)
    if name is None:
        lessons.lesson_table(console)
        return
    lesson = lessons.find_lesson(name)
    detail = "verbose" if verbose else "default"
    if format is ParseFormat.events:
        raise typer.BadParameter("lessons are told as stories; use 'parse --format events' "
                                 "on a recording")
    output = _output_path(output)
    if output is not None:
        from bpfexplain.safeio import check_output

        check_output(output)
    if format is ParseFormat.html:
        from bpfexplain.render.export import write_text

        pages = lessons.lesson_pages(lesson, detail)
        for index, page in enumerate(pages):
            if output is None:
                sys.stdout.write(page)
            else:
                write_text(output if index == 0 else output.with_name(
                    f"{output.stem}-{index + 1}{output.suffix}"), page)
        return
    if format is not ParseFormat.text or output is not None:
        from bpfexplain.render.export import format_story, write_output

        # A lesson of several recordings becomes one document per recording, in order.
        for index, recording in enumerate(lesson.recordings):
            story = lessons.lesson_story(recording, detail)
            if output is not None:
                target = output if index == 0 else output.with_name(
                    f"{output.stem}-{index + 1}{output.suffix}")
                write_output(story, format.value, target)
            else:
                sys.stdout.write(format_story(story, format.value))
        return
    interactive = step and not no_wait and sys.stdin.isatty()
    lessons.play(lesson, console, step=step, detail=detail,
                 wait=_wait_for_enter if interactive else None)


def _wait_for_enter(prompt: str) -> bool:
    try:
        answer = input(prompt)
    except EOFError:
        return True
    return answer.strip().lower() not in ("q", "quit")


EXPLAIN_EPILOG = """\
Examples:

    bpfexplain explain BPF_PROG_LOAD
    bpfexplain explain verifier
    bpfexplain explain set_bpf
"""


@app.command(epilog=keep_breaks(EXPLAIN_EPILOG))
def explain(
    term: Annotated[list[str], typer.Argument(help="The word to explain (any case; "
                                                   "BPF_ prefixes optional).")],
    color: Annotated[bool | None, typer.Option(
        "--color/--no-color", help="Force colours on or off (default: when a terminal).")
    ] = None,
) -> None:
    """Explain an eBPF term: what it is, where it shows up, since which Linux."""
    from bpfexplain import glossary
    from bpfexplain.render.console import make_console
    from bpfexplain.render.handout import print_entry

    words = " ".join(term)
    entry = glossary.lookup(words)
    if entry is None:
        close = glossary.suggest(words)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise UnknownTerm(f"no glossary entry for {words!r}{hint}")
    print_entry(entry, make_console(color=color))


class UnknownTerm(BpfexplainError):
    """``explain``: the term is not in the glossary."""

    exit_code = 2


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
        from bpfexplain.entry import report_error

        report_error(exc)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # `bpfexplain parse x | head`: the reader left; that is not an error.
        _silence_stdout()
        sys.exit(0)
    except Exception as exc:
        if _state["traceback"]:
            raise
        from bpfexplain.entry import report_error

        report_error(exc)
        sys.exit(1)


def _silence_stdout() -> None:
    from bpfexplain.entry import _silence_stdout as silence

    silence()
