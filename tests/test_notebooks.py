"""The notebooks pass their parameters-cell knobs to the grids: a papermill override such as
``-p seeds "[0]"`` changes what runs. Checked without training: the notebook's cells run up to
its first ``schedule.run_entries`` call, which records the entries it was given and stops."""

from __future__ import annotations

import json

import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from dreamlib import schedule
from dreamlib.runtime import NOTEBOOK_DIR


class _Stop(Exception):
    pass


def entries_run_by(name: str, parameters: dict, monkeypatch, tmp_path) -> list:
    """The grid entries notebook ``name`` hands to run_entries under ``parameters``."""
    seen = []

    def record(entries, *args, **kwargs):
        seen.extend(entries)
        raise _Stop

    monkeypatch.setattr(schedule, "run_entries", record)
    nb = load_notebook_node(str(NOTEBOOK_DIR / f"{name}.ipynb"))
    nb = parameterize_notebook(nb, {"output_dir": str(tmp_path), **parameters})
    namespace: dict = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            exec(compile(cell.source, f"{name}.ipynb", "exec"), namespace)  # noqa: S102
        except _Stop:
            return seen
    pytest.fail(f"{name} never called schedule.run_entries")


def test_main_vision_runs_the_seeds_it_is_given_at_the_main_block_count(monkeypatch, tmp_path):
    default = entries_run_by("02_main_vision", {}, monkeypatch, tmp_path)
    assert {e.blocks for e in default if e.method in ("sleepnet", "dreamnet")} == {2}
    chosen = entries_run_by("02_main_vision", {"seeds": [3]}, monkeypatch, tmp_path)
    assert {e.cfg.seed for e in chosen if e.method != "finetune"} == {3}


def test_freeze_runs_only_the_tasks_and_seeds_it_is_given(monkeypatch, tmp_path):
    chosen = entries_run_by("07_freeze", {"tasks": ["text"], "seeds": [0, 7]}, monkeypatch,
                            tmp_path)
    assert {e.task for e in chosen} == {"text"}
    assert {e.cfg.seed for e in chosen} == {0, 7}
    assert {e.variant for e in chosen} == {"frozen", "unfrozen"}  # the first grid it runs


@pytest.mark.parametrize("name", ["00_overview", "02_main_vision", "03_main_text",
                                  "04_block_count", "05_chain_blocks", "06_encoders",
                                  "07_freeze", "09_dreams"])
def test_every_experiment_notebook_exposes_knobs_beyond_profile_and_folders(name):
    nb = json.loads((NOTEBOOK_DIR / f"{name}.ipynb").read_text())
    (cell,) = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    names = {line.split("=")[0].strip() for line in "".join(cell["source"]).splitlines()
             if "=" in line and not line.startswith("#")}
    assert names - {"profile", "output_dir", "runs_dir", "data_dir"}, name


def test_block_count_notebook_runs_the_blocks_it_is_given(monkeypatch, tmp_path):
    chosen = entries_run_by("04_block_count", {"blocks": [2], "seeds": [3]}, monkeypatch, tmp_path)
    assert {e.blocks for e in chosen if e.blocks} == {2}
    assert {e.cfg.seed for e in chosen if e.blocks} == {3}
    assert {e.task for e in chosen} == {"vision", "text"}
