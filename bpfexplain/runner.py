"""``run``'s stages wired together: the session, the live view, the story, the output.

Plain functions without the CLI library, so that both ways into ``run`` share them:
typer's ``run`` command (:mod:`bpfexplain.cli`, after it has checked the options)
and the console entry point's fast path (:mod:`bpfexplain.entry`), which starts
strace before anything else and, for an argv that typer is proven to parse as the
same ``run``, carries on here without importing typer at all.  Everything heavy
(framing, grammar, tracker, story, rich) is imported inside, once strace runs.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tempfile
    from pathlib import Path

    from bpfexplain.live import LiveView, RunConfig, Strace
    from bpfexplain.logtext import LogText
    from bpfexplain.render.text import Prerendered
    from bpfexplain.story import Story


def echo_err(message: str) -> None:
    """One line on stderr, as ``typer.echo(message, err=True)`` writes it."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def trace_and_explain(config: RunConfig, strace: Strace, *, fmt: str, output: Path | None,
                      color: bool | None, quiet_live: bool, detail: str,
                      save: Path | None = None,
                      scratch: tempfile.TemporaryDirectory[str] | None = None) -> int:
    """Trace ``config``'s command (the pre-started session when there is one for it),
    show its steps live, then write the story; bpfexplain's exit status.

    ``save`` is the user's ``--save`` (it names the log in the story); ``scratch`` a
    private directory holding ``config.save`` for an HTML page, removed at the end.
    """
    from bpfexplain import live

    # Already started by bpfexplain.entry when the argv allowed it (same config).
    with live.open_session(config, strace) as session:
        # Everything heavy is imported from here on, while the command starts.
        from bpfexplain.framing import Stats
        from bpfexplain.render.text import make_console

        view = live.LiveView(make_console(sys.stderr, color=color), quiet=quiet_live,
                             files=[str(save) if save else "<strace>"])
        view.attach(session)
        prerendered = _prerender(view, fmt, output, color, detail)
        stats = Stats()
        for event in session.events(stats):
            view.feed(event)
        outcome = session.outcome(stats)
    session.write_meta(outcome)
    if stats.unparsable or stats.warnings:
        from bpfexplain.render.summary import summary_lines

        for line in summary_lines(stats):
            echo_err(line)
    story = view.story(detail)
    log = None
    if fmt == "html" and config.save is not None:
        from bpfexplain.logtext import LogText, read_log

        log = read_log([str(config.save)])
        if scratch is not None:
            log = LogText(("<strace>",), log.lines)
    emit_story(story, fmt, output, color, log, prerendered)
    if scratch is not None:
        scratch.cleanup()
    return outcome.status


def deep_and_explain(command: list[str], *, duration: float | None, fmt: str,
                     output: Path | None, color: bool | None, quiet_live: bool,
                     detail: str) -> int:
    """``run --deep``: the ptrace backend (the pre-started trace when there is one for
    ``command``) feeds the same tracker and story; the command's exit status."""
    from bpfexplain import live
    from bpfexplain.render import export  # noqa: F401  (see below)
    from bpfexplain.render.text import make_console

    # The story writer is imported above, before the trace: when run --deep was
    # pre-started (bpfexplain.deep.split) the command is running already, and the
    # wait after it ends is then only building and writing the story (~25 ms less).
    view = live.LiveView(make_console(sys.stderr, color=color), quiet=quiet_live,
                         files=["<ptrace>"])
    prerendered = _prerender(view, fmt, output, color, detail)
    status = live.run_deep(command, view, duration=duration)
    emit_story(view.story(detail), fmt, output, color, prerendered=prerendered)
    return status


def _prerender(view: LiveView, fmt: str, output: Path | None, color: bool | None,
               detail: str) -> Prerendered | None:
    """For the terminal story on stdout: a cache the view fills while the command is
    quiet (:meth:`~bpfexplain.live.LiveView.prepare_story`)."""
    if fmt != "text" or output is not None:
        return None
    from bpfexplain.render.text import Prerendered, make_console

    prerendered = Prerendered(make_console(sys.stdout, color=color))
    view.prepare_story(detail, prerendered)
    return prerendered


def write_page(story: Story, log: LogText | None, output: Path | None) -> None:
    """``--format html``: the page to ``--output FILE`` (whatever its name) or stdout."""
    from bpfexplain.render.export import write_text
    from bpfexplain.render.html import story_html

    page = story_html(story, log)
    if output is None:
        sys.stdout.write(page)
        sys.stdout.flush()
    else:
        write_text(output, page)


def emit_story(story: Story, fmt: str, output: Path | None, color: bool | None,
               log: LogText | None = None, prerendered: Prerendered | None = None) -> None:
    """``run``'s final story: to ``--output FILE`` or stdout (which the command shares);
    the text story on stdout takes the parts rendered ahead from ``prerendered``."""
    if prerendered is not None:
        from bpfexplain.render.text import print_story

        # As write_story prints it, on the console the parts were rendered with.
        print_story(story, prerendered.console, prerendered)
        sys.stdout.flush()
        return
    if fmt == "html":
        write_page(story, log, output)
        return
    from bpfexplain.render.export import write_story

    if output is None:
        write_story(story, fmt, sys.stdout, color=color)
        return
    import io

    from bpfexplain.safeio import REPORT_MODE, write_file

    text = io.StringIO()
    write_story(story, fmt, text, color=color)
    write_file(output, text.getvalue(), mode=REPORT_MODE)
