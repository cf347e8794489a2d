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
    nb = parameterize_notebook(nb, {"output_dir": str(tmp_path), "train": True, **parameters})
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
    assert names - {"profile", "train", "output_dir", "runs_dir", "data_dir"}, name


def test_block_count_notebook_runs_the_blocks_it_is_given(monkeypatch, tmp_path):
    chosen = entries_run_by("04_block_count", {"blocks": [2], "seeds": [3]}, monkeypatch, tmp_path)
    assert {e.blocks for e in chosen if e.blocks} == {2}
    assert {e.cfg.seed for e in chosen if e.blocks} == {3}
    assert {e.task for e in chosen} == {"vision", "text"}


def test_a_notebook_that_only_reads_names_the_missing_runs_and_trains_nothing(monkeypatch,
                                                                              tmp_path):
    from dreamlib import experiments
    from dreamlib.errors import ConfigError
    from dreamlib.runtime import context

    entries = [e for e in experiments.table3_vision("smoke", seeds=[0]) if e.method == "baseline"]
    assert entries
    store = tmp_path / "runs"
    trained = context("smoke", str(tmp_path / "out"), str(store)).run(entries, progress=False)

    def no_training(*args, **kwargs):
        raise AssertionError("a reading context trained")

    monkeypatch.setattr(schedule, "run_entries", no_training)
    reader = context("smoke", str(tmp_path / "out"), str(store), train=False)
    assert reader.run(entries) == trained  # the finished run, read back as it was trained
    more = experiments.table3_vision("smoke", seeds=[0])
    missing = {e.cfg.run_hash() for e in more} - {r["run"] for r in trained}
    with pytest.raises(ConfigError) as error:
        reader.run(more)
    message = str(error.value)
    assert f"{len(missing)} of the runs" in message and "train = True" in message
    assert "python -m dreamlib reproduce --profile smoke" in message
    assert len(missing) == 4 and any(run in message for run in missing)
    assert sorted(p.name for p in store.iterdir()) == [r["run"] for r in trained]


def test_the_gate_runs_smoke_copies_that_train(tmp_path):
    import subprocess
    import sys

    from dreamlib.runtime import REPO

    result = subprocess.run([sys.executable, str(REPO / "tools" / "smoke_notebooks.py"),
                             str(tmp_path)], capture_output=True, text=True, check=True)
    copies = sorted(tmp_path.glob("*.ipynb"))
    assert [c.name for c in copies] == sorted(p.name for p in NOTEBOOK_DIR.glob("[0-9]*.ipynb"))
    assert f"{len(copies)} smoke copies" in result.stdout
    for copy in copies:
        nb = json.loads(copy.read_text())
        injected = [c for c in nb["cells"]
                    if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(injected) == 1, copy.name
        source = "".join(injected[0]["source"])
        assert 'profile = "smoke"' in source and "train = True" in source, copy.name


@pytest.mark.slow
def test_a_notebook_as_saved_shows_the_committed_results_without_training(tmp_path):
    """Notebook 02 run as a reader runs it (profile default, train False) reads the committed
    store, writes nothing into it, and draws the committed Table 3."""
    import papermill

    from dreamlib.runtime import REPO

    store = REPO / "results" / "runs"
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*")}
    papermill.execute_notebook(str(NOTEBOOK_DIR / "02_main_vision.ipynb"),
                               str(tmp_path / "02.ipynb"), cwd=str(NOTEBOOK_DIR), progress_bar=False,
                               parameters={"output_dir": str(tmp_path), "runs_dir": str(store)})
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*")} == before
    table = "results/tables/table3_vision.csv"
    assert (tmp_path / table).read_text() == (REPO / table).read_text()


@pytest.mark.parametrize("path", sorted(NOTEBOOK_DIR.glob("[0-9]*.ipynb")), ids=lambda p: p.stem)
def test_papermill_reads_every_parameter_of_every_notebook(path, caplog):
    """A parameters line papermill cannot parse still runs, but the batch then warns "unknown
    parameter" for it and `papermill --help-notebook` drops it."""
    from papermill.inspection import inspect_notebook

    parameters = inspect_notebook(str(path))
    assert {"profile", "train", "output_dir", "runs_dir", "data_dir"} <= set(parameters)
    assert "Unable to parse" not in caplog.text
