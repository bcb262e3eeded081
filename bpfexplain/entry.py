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


def prestart_command(argv: list[str]) -> list[str] | None:
    """The command to pre-start for this argv (without the program name), or None.

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
    index = 0
    while index < len(options):
        option = options[index]
        if option in FLAGS:
            name = "--verbose" if option == "-v" else option
        elif option == "--format" and index + 1 < len(options) \
                and options[index + 1] in FORMATS:
            name = option
            index += 1
        elif option.startswith("--format=") and option[len("--format="):] in FORMATS:
            name = "--format"
        else:
            return None
        if name in seen:
            return None  # repeated: typer would take the last, but keep it simple
        seen.add(name)
        index += 1
    if {"--brief", "--verbose"} <= seen or {"--color", "--no-color"} <= seen:
        return None  # run refuses the first pair; the second is odd enough to skip
    return command


def _prestart(command: list[str]) -> None:
    """Start strace for ``run`` now, or leave everything to the ordinary path."""
    from bpfexplain import live
    from bpfexplain.errors import BpfexplainError

    try:
        strace = live.find_strace()
        live.resolve_command(command)
        if live.preflight_warnings():
            return  # run prints them before strace starts: let it
        live.prestart(live.RunConfig(command=list(command)), strace)
    except BpfexplainError:
        return  # run reports it, exactly as it always does


def prestart_deep_command(argv: list[str]) -> list[str] | None:
    """The command to pre-start under ``run --deep`` (one ``--deep`` among the options
    :func:`prestart_command` accepts), or None."""
    if "--" not in argv:
        return None
    options = argv[:argv.index("--")]
    if options.count("--deep") != 1 or options.index("--deep") == 0:
        return None
    at = options.index("--deep")
    return prestart_command(argv[:at] + argv[at + 1:])


def main() -> None:
    deep = prestart_deep_command(sys.argv[1:])
    if deep is not None:
        from bpfexplain.deep import split

        if split.prestart(deep):  # the tracer never returns, the explainer goes on
            from bpfexplain.cli import main as cli_main

            split.explain(cli_main)
    command = prestart_command(sys.argv[1:])
    if command is not None:
        _prestart(command)
    try:
        from bpfexplain.cli import main as cli_main

        cli_main()
    finally:
        if command is not None:
            from bpfexplain import live

            live.abandon_prestarted()
