#!/usr/bin/env python3
"""``python -m bpfexplain``, and the installed ``bpfexplain`` command itself.

The wheel installs this file as the command (pyproject.toml, ``shared-scripts``)
instead of an entry-point wrapper: the wrapper that pip writes for
``[project.scripts]`` imports ``re`` before it calls ``main``, about 6 ms that every
``run`` spent before it could fork strace, and that the loader waited for (issue 11).
So this file imports :mod:`bpfexplain.entry` and nothing else; ``main`` ends the
process itself (``entry.exit_now``).
"""

from bpfexplain.entry import main

if __name__ == "__main__":
    main()
