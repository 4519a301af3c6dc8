"""Entry point of the ``dermview`` command: a sub-command runs the Qt-free CLI, anything else the window."""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Sequence

CLI_COMMANDS = ("info", "index", "evaluate", "predict", "outline", "compare", "report", "library")
EXIT_USAGE = 2


def unknown_command(word: str) -> str | None:
    """Why ``word`` (the first argument) is neither a command nor a file to open, or None if it is fine.

    ``dermview IMAGE`` opens an image in the window (the file manager's "Open with" does this), so a
    first word that is an existing path is accepted; anything else is a mistyped command, which must
    not start the window.
    """
    if word.startswith("-") or word in CLI_COMMANDS or os.path.exists(word):
        return None
    close = difflib.get_close_matches(word, CLI_COMMANDS, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return (f"'{word}' is not a dermview command nor an existing file; {hint}"
            f"the commands are {', '.join(CLI_COMMANDS)}, and 'dermview --help' shows the window's options.")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # A windowed executable on Windows starts without standard streams; printing must not fail.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115  (open for the life of the process)
    if argv and (argv[0] in CLI_COMMANDS or argv[0] in ("--version",)):
        from .cli import main as cli_main
        return cli_main(argv)
    problem = unknown_command(argv[0]) if argv else None
    if problem:
        print(f"dermview: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from .ui.app import main as gui_main
    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(main())
