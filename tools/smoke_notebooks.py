"""Write copies of the notebooks that run the smoke profile and train, for nbval (`make test`).

The notebooks are saved with ``profile = "default"`` and ``train = False``: a reader who opens
one sees the committed results in seconds and nothing trains. nbval executes a notebook as it
is saved, so the gate runs these copies instead, each with papermill's parameters cell
injected (``profile="smoke"``, ``train=True``) exactly as ``python -m dreamlib reproduce``
injects its own. They train into the smoke store (``.cache/outputs/smoke``), never into the
committed results.

    python tools/smoke_notebooks.py DEST    # DEST/NN_name.ipynb, one per notebook
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SMOKE = {"profile": "smoke", "train": True}


def write_copies(dest: Path, parameters: dict = SMOKE) -> list[Path]:
    """One parameterized copy of every notebook in ``dest`` (emptied of old copies first)."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.ipynb"):
        old.unlink()
    written = []
    for source in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = parameterize_notebook(load_notebook_node(str(source)), parameters)
        target = dest / source.name
        nbformat.write(nb, str(target))
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tools/smoke_notebooks.py DEST", file=sys.stderr)
        return 2
    written = write_copies(Path(argv[0]))
    print(f"{len(written)} smoke copies of the notebooks in {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
