"""Training dermview's networks and fitted parts, run as ``python -m training <command>`` from the project root.

Never needed to run dermview: the results ship in ``dermview/resources/models/``. Each command is a module
here with its own ``main(argv)``; every figure it reports is computed through ``dermview.model`` (the same
code the program runs), with splits grouped by lesion.
"""
