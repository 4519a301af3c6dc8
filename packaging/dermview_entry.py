"""Entry script of the frozen application (PyInstaller needs a file, not a module path)."""

import multiprocessing
import sys

if __name__ == "__main__":
    # dermview uses threads only; this guard makes sure nothing could ever re-launch the frozen binary
    # as a worker process.
    multiprocessing.freeze_support()
    from dermview.launcher import main

    sys.exit(main())
