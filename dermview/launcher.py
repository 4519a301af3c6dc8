"""Entry point of the ``dermview`` command: a sub-command runs the Qt-free CLI, anything else the window."""

from __future__ import annotations

import os
import sys
from typing import Sequence

CLI_COMMANDS = ("info", "index", "evaluate", "predict")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # A windowed executable on Windows starts without standard streams; printing must not fail.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))
    if argv and (argv[0] in CLI_COMMANDS or argv[0] in ("--version",)):
        from .cli import main as cli_main
        return cli_main(argv)
    from .ui.app import main as gui_main
    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(main())
