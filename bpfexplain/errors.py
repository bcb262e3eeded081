"""The project's one root exception and its kinds.

Everything that can go wrong because of input, environment or usage is raised as a
subclass of :class:`BpfexplainError`; the CLI maps it to a one-line message and an
exit code.  Anything else escaping is a bug and shows a traceback only with
``--traceback``.
"""

from __future__ import annotations


class BpfexplainError(Exception):
    """Root of every error bpfexplain reports to a user."""

    exit_code = 1


class InputError(BpfexplainError):
    """An input file is missing, unreadable or holds no strace output at all."""

    exit_code = 3


class ParseError(BpfexplainError):
    """A call line could not be parsed (raised only in ``--strict`` mode)."""

    exit_code = 4

    def __init__(self, message: str, *, line: int | None = None, source: str | None = None):
        super().__init__(message)
        self.line = line
        self.source = source


class EnvironmentProblem(BpfexplainError):
    """The machine cannot do what was asked (no strace, no ptrace, no tracefs...)."""

    exit_code = 5


class CommandNotFound(BpfexplainError):
    """``run``: the command to trace does not exist (127) or cannot be run (126), as in a shell."""

    exit_code = 127

    def __init__(self, message: str, *, exit_code: int = 127):
        super().__init__(message)
        self.exit_code = exit_code
