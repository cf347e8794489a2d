"""Several runs at once (``dreamlib.parallel``, ``reproduce --jobs/--threads``).

A run trained in the pool beside another one (2 processes x 1 thread) is bit-identical to the
same run trained alone in this process on one thread; a failing run is logged with its folder
and does not stop the others; the layout follows the machine unless the flags say otherwise;
and a batch that trains its runs in the pool writes the same table as one whose notebook
trains them itself (at the same thread count).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from dreamlib import experiments, schedule
from dreamlib.cli import main
from dreamlib.dreams import DREAMS_FILE
from dreamlib.errors import ConfigError
from dreamlib.narrative import read_timings
from dreamlib.parallel import parallel_layout, train_in_pool
from dreamlib.profiles import make_run_config
from dreamlib.runs import CHECKPOINT_FILE, LOG_FILE, METRICS_FILE
from dreamlib.schedule import _metrics_unless_held

TIMING_COLUMNS = ("train_seconds", "eval_seconds")
SIZES = {"epochs": 2, "max_train": 64, "max_test": 32, "batch_size": 16}


def text_sleepnet():
    return make_run_config("smoke", "text", model={"blocks": 2}, **SIZES)


def vision_dreamnet():
    return make_run_config("smoke", "vision", model={"method": "dreamnet", "blocks": 2,
                                                     "width": 8}, **SIZES)


def broken(tmp_path: Path):
    """A run that fails in its worker at once: its data folder does not exist."""
    return make_run_config("smoke", "vision", model={"blocks": 1, "width": 8}, seed=7,
                           data_dir=str(tmp_path / "no-such-data"), **SIZES)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The two runs trained in the pool (2 x 1, beside each other, after a failing run), and
    the same runs trained alone in this process on one thread."""
    root = tmp_path_factory.mktemp("parallel")
    runs = {"text": text_sleepnet(), "vision": vision_dreamnet()}
    failing = root / "pool" / "broken"
    lines: list[str] = []
    outcomes = train_in_pool([(broken(root), failing)]
                             + [(cfg, root / "pool" / name) for name, cfg in runs.items()],
                             jobs=2, threads=1, log=lines.append)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, cfg in runs.items():
            _metrics_unless_held(cfg, root / "alone" / name, log=lambda *_: None, progress=False)
    finally:
        torch.set_num_threads(before)
    return root, outcomes, lines, failing


def metrics_of(folder: Path) -> dict:
    return json.loads((folder / METRICS_FILE).read_text())


def log_rows(folder: Path) -> list[dict]:
    with open(folder / LOG_FILE, newline="") as handle:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS}
                for row in csv.DictReader(handle)]


def assert_same_tensors(left, right, where: str = "checkpoint") -> None:
    """Nested checkpoint contents equal, every tensor bit for bit."""
    assert type(left) is type(right), where
    if isinstance(left, torch.Tensor):
        assert left.dtype == right.dtype and torch.equal(left, right), where
    elif isinstance(left, dict):
        assert left.keys() == right.keys(), where
        for key in left:
            assert_same_tensors(left[key], right[key], f"{where}[{key!r}]")
    elif isinstance(left, (list, tuple)):
        assert len(left) == len(right), where
        for index, (a, b) in enumerate(zip(left, right)):
            assert_same_tensors(a, b, f"{where}[{index}]")
    else:
        assert left == right, where


@pytest.mark.slow
@pytest.mark.parametrize("name", ["text", "vision"])
def test_a_run_trained_in_the_pool_is_bit_identical_to_it_alone_on_one_thread(trained, name):
    root, outcomes, _, _ = trained
    pool, alone = root / "pool" / name, root / "alone" / name
    assert outcomes[pool] == "done"
    ours, theirs = metrics_of(pool), metrics_of(alone)
    assert ours["threads"] == theirs["threads"] == 1
    assert (ours["accuracy"], ours["train_loss"]) == (theirs["accuracy"], theirs["train_loss"])
    assert ours["run_hash"] == theirs["run_hash"]
    assert log_rows(pool) == log_rows(alone) and len(log_rows(pool)) == SIZES["epochs"]
    assert_same_tensors(torch.load(pool / CHECKPOINT_FILE, weights_only=True),
                        torch.load(alone / CHECKPOINT_FILE, weights_only=True))
    if name == "vision":  # a DreamNet keeps its dreams, trained in the pool too
        assert (pool / DREAMS_FILE).read_bytes() == (alone / DREAMS_FILE).read_bytes()


@pytest.mark.slow
def test_a_failing_run_is_logged_with_its_folder_and_the_others_finish(trained):
    root, outcomes, lines, failing = trained
    assert outcomes[failing].startswith("failed: DataError")
    assert [outcomes[root / "pool" / name] for name in ("text", "vision")] == ["done", "done"]
    (line,) = [line for line in lines if str(failing) in line]
    assert "no-such-data" in line and "DataError" in line and "\n" not in line
    assert not (failing / METRICS_FILE).exists()


def test_the_layout_follows_the_machine():
    assert parallel_layout(cores=2, cuda=False) == (2, 1)
    assert parallel_layout(cores=1, cuda=False) == (1, 1)
    assert parallel_layout(cores=4, cuda=False) == (4, 1)
    assert parallel_layout(cores=16, cuda=False) == (4, 4)  # at most MAX_JOBS processes
    assert parallel_layout(cores=16, cuda=True)[0] == 1  # runs would share one GPU


def test_flags_override_the_layout_and_bad_values_are_refused():
    assert parallel_layout(cores=2, cuda=False, jobs=1) == (1, 2)
    assert parallel_layout(cores=4, cuda=False, threads=2) == (2, 2)
    assert parallel_layout(cores=8, cuda=True, jobs=2) == (2, 4)
    assert parallel_layout(cores=2, cuda=False, jobs=3, threads=2) == (3, 2)
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ConfigError, match="--jobs must be a positive whole number"):
            parallel_layout(cores=2, cuda=False, jobs=bad)
    with pytest.raises(ConfigError, match="--threads"):
        parallel_layout(cores=2, cuda=False, threads=0)


@pytest.mark.parametrize("argv, culprit", [
    (["--jobs", "0"], "--jobs"), (["--jobs", "two"], "--jobs"), (["--threads", "-1"], "--threads"),
    (["--jobs", "2", "--dry-run"], "--dry-run"),
])
def test_the_command_line_refuses_bad_jobs_and_threads_in_one_line(argv, culprit, capsys):
    assert main(["reproduce", "--profile", "smoke", *argv]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and culprit in err[0], err


def test_the_command_line_passes_jobs_and_threads_to_the_batch(monkeypatch):
    import dreamlib.reproduce

    seen = {}
    monkeypatch.setattr(dreamlib.reproduce, "reproduce",
                        lambda *args, **kwargs: seen.update(kwargs) or 0)
    assert main(["reproduce", "--profile", "smoke", "--jobs", "3", "--threads", "2"]) == 0
    assert (seen["jobs"], seen["threads"]) == (3, 2)
    assert main(["reproduce", "--profile", "smoke"]) == 0
    assert (seen["jobs"], seen["threads"]) == (None, None)  # chosen from the machine


def read_table(out: Path) -> tuple[str, str]:
    tables = out / "results" / "tables"
    return (tables / "table1_dreams.csv").read_text(), (tables / "table1_dreams.md").read_text()


@pytest.mark.slow
def test_a_batch_trains_its_runs_in_the_pool_and_writes_the_same_table(tmp_path, monkeypatch):
    """Notebook 09 (two DreamNets): with 2 x 1 the pool trains both runs before the notebook,
    which only reads them; with one job the notebook trains them itself (on one thread here,
    OMP_NUM_THREADS=1 in its kernel) and writes the same table."""
    from dreamlib.reproduce import reproduce

    runs = schedule.unique_runs(experiments.dreams("smoke"))
    pooled, lines = tmp_path / "pooled", []
    assert reproduce("smoke", "09", str(pooled), log=lines.append, progress=False,
                     jobs=2, threads=1) == 0
    assert any("training 2 runs in 2 processes x 1 thread" in line for line in lines), lines
    assert set(read_timings(pooled)) == {("09", "read")}  # the notebook trained nothing

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the kernel's torch threads
    inline, lines = tmp_path / "inline", []
    assert reproduce("smoke", "09", str(inline), log=lines.append, progress=False, jobs=1) == 0
    assert not any("training" in line for line in lines), lines
    assert set(read_timings(inline)) == {("09", "train")}

    assert read_table(pooled) == read_table(inline)
    for cfg in runs:
        ours = metrics_of(pooled / "results" / "runs" / cfg.run_hash())
        theirs = metrics_of(inline / "results" / "runs" / cfg.run_hash())
        assert ours["threads"] == theirs["threads"] == 1
        assert ours["accuracy"] == theirs["accuracy"]


def test_the_pool_starts_the_longest_runs_first(monkeypatch):
    """Ordering by training work (FLOPs of one example x examples x epochs), largest first;
    a configuration that cannot be counted goes last instead of stopping the batch."""
    from dreamlib import parallel

    small = make_run_config("smoke", "text", model={"method": "baseline"}, **SIZES)
    longer = make_run_config("smoke", "text", model={"method": "baseline"},
                             **{**SIZES, "epochs": 4})
    bigger = make_run_config("smoke", "text", model={"blocks": 2}, **SIZES)
    broken_cfg = make_run_config("smoke", "vision", model={"blocks": 1, "width": 8}, **SIZES)
    real = parallel._config_flops

    def flops(model_cfg):
        if model_cfg == broken_cfg.model.resolved():
            raise RuntimeError("cannot build here")
        return real(model_cfg)

    monkeypatch.setattr(parallel, "_config_flops", flops)
    runs = [(cfg, Path(name)) for cfg, name in
            ((broken_cfg, "x"), (small, "a"), (bigger, "c"), (longer, "b"))]
    ordered = [folder.name for _, folder in parallel.longest_first(runs)]
    assert parallel.training_work(longer) == 2 * parallel.training_work(small)
    assert parallel.training_work(bigger) > parallel.training_work(longer)
    assert ordered == ["c", "b", "a", "x"]
