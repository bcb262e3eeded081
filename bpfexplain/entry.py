"""The console entry point: start strace for ``run`` before the CLI library is imported.

``bpfexplain run -- CMD`` spends most of its own start-up importing typer (and,
later, rich, Lark and the tracker); strace and the loader need none of that.  So
this module, which imports nothing heavy itself, looks at ``sys.argv`` first: when
it is a ``run`` that typer is certain to accept as it is (only the flags listed in
:data:`FLAGS`, the command after ``--``) and every check ``run`` makes before
starting strace passes silently, strace is started here, and typer's ``run``
takes over that session instead of starting its own (:func:`live.open_session`).
Anything else, including a check that would print a warning or an error, goes the
ordinary way, so help, errors and exit codes are typer's and ``run``'s own.
"""

from __future__ import annotations

import sys

FLAGS = frozenset({"--quiet-live", "--brief", "--verbose", "-v", "--color", "--no-color"})
"""``run`` options without a value that do not change how strace is started."""

FORMATS = frozenset({"text", "json", "markdown"})
"""``--format`` values accepted here (``html`` keeps strace's log: not pre-started)."""


class Prestart:
    """A ``run`` argv the entry point takes on itself: the command and the options
    typer would hand to ``run`` for it (every other option at its default)."""

    __slots__ = ("color", "command", "detail", "fmt", "quiet_live")

    def __init__(self, command: list[str], fmt: str, quiet_live: bool, detail: str,
                 color: bool | None):
        self.command = command
        self.fmt = fmt
        self.quiet_live = quiet_live
        self.detail = detail
        self.color = color


def prestart_command(argv: list[str]) -> list[str] | None:
    """The command to pre-start for this argv (without the program name), or None."""
    found = prestart_options(argv)
    return found.command if found is not None else None


def prestart_options(argv: list[str]) -> Prestart | None:
    """What to pre-start for this argv (without the program name), or None.

    None unless typer will surely parse ``argv`` as ``run`` with this command and no
    option that changes strace's start (``-p``, ``--save``, ``--strace``, ``--deep``,
    ``--duration``, ``--output`` all go the ordinary way).
    """
    if len(argv) < 3 or argv[0] != "run" or "--" not in argv:
        return None
    split = argv.index("--")
    options, command = argv[1:split], argv[split + 1:]
    if not command:
        return None
    seen: set[str] = set()
    fmt = "text"
    index = 0
    while index < len(options):
        option = options[index]
        if option in FLAGS:
            name = "--verbose" if option == "-v" else option
        elif option == "--format" and index + 1 < len(options) \
                and options[index + 1] in FORMATS:
            name = option
            fmt = options[index + 1]
            index += 1
        elif option.startswith("--format=") and option[len("--format="):] in FORMATS:
            name = "--format"
            fmt = option[len("--format="):]
        else:
            return None
        if name in seen:
            return None  # repeated: typer would take the last, but keep it simple
        seen.add(name)
        index += 1
    if {"--brief", "--verbose"} <= seen or {"--color", "--no-color"} <= seen:
        return None  # run refuses the first pair; the second is odd enough to skip
    detail = "brief" if "--brief" in seen else "verbose" if "--verbose" in seen \
        else "default"
    color = True if "--color" in seen else False if "--no-color" in seen else None
    return Prestart(command, fmt, "--quiet-live" in seen, detail, color)


def _prestart(command: list[str]) -> bool:
    """Start strace for ``run`` now (True), or leave everything to the ordinary path."""
    from bpfexplain import launch  # the whole way to strace's exec, and nothing more

    return launch.prestart(command)


def run_prestarted(options: Prestart, *, deep: bool = False) -> int:
    """The rest of a pre-started ``run`` (``deep``: ``run --deep``), as typer's ``run``
    would carry it out for this argv (tests/test_entry.py and tests/test_deep_split.py
    hold the two to the same call), with the exit status and error reporting of
    typer's standalone mode and :func:`cli.main`."""
    import errno

    from bpfexplain.errors import BpfexplainError
    from bpfexplain.runner import echo_err

    try:
        try:
            if deep:
                from bpfexplain.runner import deep_and_explain

                return deep_and_explain(
                    list(options.command), duration=None, fmt=options.fmt, output=None,
                    color=options.color, quiet_live=options.quiet_live,
                    detail=options.detail)
            from bpfexplain import live
            from bpfexplain.runner import trace_and_explain

            return trace_and_explain(
                live.RunConfig(command=list(options.command)), live.find_strace(),
                fmt=options.fmt, output=None, color=options.color,
                quiet_live=options.quiet_live, detail=options.detail, save=None,
                scratch=None)
        # What typer's standalone mode makes of these (typer/core.py, _main).
        except EOFError:
            echo_err("")
            echo_err("Aborted!")
            return 1
        except KeyboardInterrupt:
            return 130
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            _silence_stdout()
            return 1
    # What bpfexplain.cli.main makes of what typer lets through.
    except BpfexplainError as exc:
        report_error(exc)
        return exc.exit_code
    except Exception as exc:
        report_error(exc)
        return 1


def report_error(exc: Exception) -> None:
    """The one line an error becomes (bpfexplain's own, or an internal one: a bug)."""
    from bpfexplain.errors import BpfexplainError
    from bpfexplain.runner import echo_err
    from bpfexplain.text import safe

    if isinstance(exc, BpfexplainError):
        # One line, whatever file names or log text the message quotes.
        echo_err(f"bpfexplain: error: {safe(str(exc))}")
    else:
        echo_err(f"bpfexplain: internal error: {type(exc).__name__}: {safe(str(exc))} "
                 "(run with --traceback and report it)")


def _silence_stdout() -> None:
    import os

    # Python would complain again when flushing stdout at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def prestart_deep_command(argv: list[str]) -> list[str] | None:
    """The command to pre-start under ``run --deep``, or None."""
    found = prestart_deep_options(argv)
    return found.command if found is not None else None


def prestart_deep_options(argv: list[str]) -> Prestart | None:
    """What to pre-start under ``run --deep`` (one ``--deep`` among the options
    :func:`prestart_options` accepts), or None."""
    if "--" not in argv:
        return None
    options = argv[:argv.index("--")]
    if options.count("--deep") != 1 or options.index("--deep") == 0:
        return None
    at = options.index("--deep")
    return prestart_options(argv[:at] + argv[at + 1:])


def exit_now(status: int) -> None:
    """``sys.exit(status)``, without the interpreter's teardown when nothing needs it.

    Tearing down the few hundred modules a run has loaded (the tracker, the story,
    rich) costs more CPU than a short run's whole story, and the user waits for it
    (~38 ms after a bpftrace run).  The exit handlers run here, as the ordinary exit
    would run them (Lark imports logging, whose handler flushes its streams); then,
    when no thread is left that the ordinary exit would wait for, the output is
    flushed and the process ends at once.  Otherwise (or when flushing fails) the
    ordinary exit does the rest: the handlers have run and are not run again."""
    import atexit
    import os
    import threading

    atexit._run_exitfuncs()  # runs each handler once and forgets it
    if all(thread.daemon for thread in threading.enumerate()
           if thread is not threading.main_thread()):
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # the ordinary exit reports it as it always does
        else:
            os._exit(status)
    sys.exit(status)


def exit_status(exc: SystemExit) -> int:
    """The status ``sys.exit(exc.code)`` leaves with (a message is printed, as there)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _cli() -> int:
    """typer's CLI, which ends in SystemExit (standalone mode): its exit status."""
    from bpfexplain.cli import main as cli_main

    try:
        cli_main()
    except SystemExit as exc:
        return exit_status(exc)
    return 0


def explain_words(argv: list[str]) -> list[str] | None:
    """The words of ``explain WORDS`` when typer surely parses ``argv`` (without the
    program name) as ``explain`` with just those words, every option at its default;
    else None.  Anything that looks like an option (``--color``, ``-h``, ``--``) goes
    the ordinary way."""
    if len(argv) < 2 or argv[0] != "explain":
        return None
    words = argv[1:]
    if any(not word or word.startswith("-") for word in words):
        return None
    return words


def explain_now(words: list[str]) -> int | None:
    """``explain WORDS`` without typer (~50 ms of imports for a few lines of text), as
    :func:`bpfexplain.cli.explain` and :func:`bpfexplain.cli.main` would carry it out
    (tests/test_entry.py holds the two to the same output); None, having printed
    nothing, for a term not in the glossary: the CLI then says so, with suggestions."""
    from bpfexplain import glossary

    try:
        found = glossary.lookup(" ".join(words))
        if found is None:
            return None
        from bpfexplain.render.console import make_console
        from bpfexplain.render.handout import print_entry

        print_entry(found, make_console(color=None))
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()  # `bpfexplain explain map | head -1`: the reader left
    except Exception as exc:
        report_error(exc)
        return 1
    return 0


def main() -> None:
    words = explain_words(sys.argv[1:])
    if words is not None:
        status = explain_now(words)
        if status is not None:
            exit_now(status)
    deep = prestart_deep_options(sys.argv[1:])
    if deep is not None:
        from bpfexplain.deep import split

        if split.prestart(deep.command):  # the tracer never returns, the explainer goes on
            # typer is proven to parse this argv as exactly this run --deep, as above.
            split.explain(lambda: run_prestarted(deep, deep=True))
    options = prestart_options(sys.argv[1:])
    if options is not None and _prestart(options.command):
        # typer is proven to parse this argv as exactly this run: it has nothing to
        # add, and importing it would cost the run tens of milliseconds.
        try:
            from bpfexplain import live

            live.adopt_prestarted()  # strace's reader and the signal watcher, at once
            status = run_prestarted(options)
        finally:
            from bpfexplain import live

            live.abandon_prestarted()
        exit_now(status)
    try:
        status = _cli()
    finally:
        if options is not None:
            from bpfexplain import live

            live.abandon_prestarted()
    exit_now(status)
