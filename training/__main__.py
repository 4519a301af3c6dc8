"""``python -m training <command> [options]``: one command per trained or fitted part (``--help`` on each)."""

from __future__ import annotations

import importlib
import sys

# command -> (module, what it makes)
COMMANDS = {
    "embedding": ("train_embedding", "the learned similarity's network (held-out runs, the shipped model, its card)"),
    "familiarity": ("fit_familiarity", "the image-kind classifier behind the 'unfamiliar image' warning"),
    "outline": ("train_outline", "the lesion-outline network, from the published masks"),
    "outline-references": ("outline_references", "the archive's lesion measures the window reads a lesion against"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        listing = "\n".join(f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items())
        print(f"usage: python -m training <command> [options]\n\ncommands:\n{listing}", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    module = importlib.import_module(f"training.{COMMANDS[argv[0]][0]}")
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
