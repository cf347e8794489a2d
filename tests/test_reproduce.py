"""The batch: ``reproduce --profile smoke`` writes every table, figure and the claims file.

The smoke run store is shared with nbval (``.cache/outputs/smoke/results/runs``, the
notebooks' default), so `make test` trains each smoke run once; outputs go to a temp folder.
"""

import json
import subprocess
import sys

import pytest

from dreamlib import experiments, report, schedule
from dreamlib.reproduce import NOTEBOOK_DIR, REPO, context, notebooks
from dreamlib.errors import ConfigError

TABLES = ["table1_dreams", "table3_vision", "table4_text", "table5_efficiency"]
FIGURES = ["fig6_dreams", "fig7_chain_blocks", "fig8_encoders", "fig9_freeze"]
SHARED_RUNS = REPO / ".cache" / "outputs" / "smoke" / "results" / "runs"


@pytest.fixture(scope="module")
def smoke_batch(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    proc = subprocess.run(
        [sys.executable, "-m", "dreamlib", "reproduce", "--profile", "smoke", "--output-dir",
         str(out), "--runs-dir", str(SHARED_RUNS)],
        capture_output=True, text=True, timeout=1500, cwd=REPO)
    return out, proc


@pytest.mark.slow
def test_smoke_batch_succeeds_with_a_summary(smoke_batch):
    out, proc = smoke_batch
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "11 ok, 0 failed" in proc.stdout


@pytest.mark.slow
def test_every_table_figure_and_claims_file_appears(smoke_batch):
    out, _ = smoke_batch
    for name in TABLES:
        for ext in ("csv", "md"):
            path = out / "results" / "tables" / f"{name}.{ext}"
            assert path.stat().st_size > 100, path
    for name in FIGURES:
        for ext, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
            path = out / "figures" / f"{name}.{ext}"
            assert path.read_bytes()[:4] == magic, path
    claims = (out / "results" / "claims.md").read_text()
    for claim in ("DreamNet beats SleepNet", "grows with the number of blocks",
                  "better chain", "better encoder", "frozen beats unfrozen", "ResNet18 per epoch",
                  "Inconsistencies inside the paper", "732,870,250"):
        assert claim in claims
    executed = sorted(p.name for p in (out / "results" / "notebooks").glob("*.ipynb"))
    assert executed == [p.name for p in notebooks()]


@pytest.mark.slow
def test_tables_put_the_paper_beside_measured_numbers(smoke_batch):
    out, _ = smoke_batch
    import pandas as pd

    table = pd.read_csv(out / "results" / "tables" / "table3_vision.csv")
    row = table[table["Model"] == "DreamNet-3"].iloc[0]
    assert row["Paper accuracy % (cifar100)"] == 92.3
    assert 0 <= float(str(row["Accuracy % (digits)"]).split()[0]) <= 100
    text = (out / "results" / "tables" / "table4_text.md").read_text()
    assert "Profile `smoke`" in text and "fortunes" in text
    t5 = pd.read_csv(out / "results" / "tables" / "table5_efficiency.csv")
    assert t5.loc[t5["Model"] == "ResNet18", "Ratio to ResNet18 (here)"].iloc[0] == 1.0
    assert round(t5.loc[t5["Model"] == "DreamNet", "Paper ratio (CIFAR-100)"].iloc[0], 1) == 4.0


@pytest.mark.slow
def test_every_number_traces_to_a_run_folder(smoke_batch):
    out, _ = smoke_batch
    import pandas as pd

    table = pd.read_csv(out / "results" / "tables" / "table3_vision.csv")
    for runs in table["Runs"]:
        for run in runs.split():
            metrics = json.loads((SHARED_RUNS / run / "metrics.json").read_text())
            assert metrics["run_hash"] == run and "code" in metrics["versions"]


@pytest.mark.slow
def test_failed_notebook_does_not_stop_the_batch_and_exits_nonzero(tmp_path):
    """A notebook that fails (bad data dir for its datasets) is reported; the others still run."""
    proc = subprocess.run(
        [sys.executable, "-m", "dreamlib", "reproduce", "--profile", "smoke", "--only", "08,10",
         "--output-dir", str(tmp_path), "--runs-dir", str(tmp_path / "runs"),
         "--data-dir", str(tmp_path / "no-such-data")],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 1
    assert "0 ok, 2 failed" in proc.stdout
    assert "08_efficiency.ipynb: FAILED" in proc.stdout


def test_only_selects_notebooks_and_rejects_unknown_numbers():
    assert [p.name[:2] for p in notebooks("2,05")] == ["02", "05"]
    with pytest.raises(ConfigError, match="99"):
        notebooks("99")


def test_notebooks_are_thin_and_parameterised():
    import nbformat

    for path in sorted(NOTEBOOK_DIR.glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and 'profile = "smoke"' in tagged[0].source, path.name
        assert book.metadata.kernelspec.name == "python3"
        code = "\n".join(c.source for c in book.cells if c.cell_type == "code")
        assert "nn.Module" not in code and "def " not in code, f"{path.name} holds library code"
        # only cells whose output nbval checks keep a stored output (the expected one)
        assert all(not c.get("outputs") for c in book.cells
                   if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" not in c.source), path.name


def test_context_keeps_smoke_outputs_out_of_the_committed_results():
    assert context("default").out == REPO
    assert context("smoke").out == REPO / ".cache" / "outputs" / "smoke"
    with pytest.raises(ConfigError, match="profile"):
        context("huge")


def test_grids_share_runs_and_use_several_seeds_in_default():
    entries = experiments.all_entries("default")
    unique = schedule.unique_runs(entries)
    assert len(unique) < len(entries)  # shared through the run store
    seeds = {e.cfg.seed for e in experiments.table3_vision("default")
             if e.method == "dreamnet" and e.blocks == 2}
    assert seeds == {0, 1, 2}
    paper = {e.cfg.model.encoder for e in experiments.table3_vision("paper") if e.method == "dreamnet"}
    assert paper == {"facebook/vit-mae-base"}


def test_markdown_escapes_pipes():
    import pandas as pd

    text = report.markdown(pd.DataFrame({"a": ["x|y"], "b": [1]}))
    assert text.splitlines()[2] == "| x\\|y | 1 |"
