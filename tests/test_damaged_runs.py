"""Damaged run folders, the Python API a notebook user calls, and output folders that hold a
user's files: each is one error naming the path and the fix, and nothing the tool did not
write changes."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import torch

from dreamlib import dreams
from dreamlib.cli import main
from dreamlib.config import ModelConfig
from dreamlib.errors import ConfigError, DreamlibError
from dreamlib.profiles import make_run_config
from dreamlib.runs import CHECKPOINT_FILE, CONFIG_FILE, LOG_FILE, METRICS_FILE
from dreamlib.shipped import WEIGHTS_ENV, read_manifest
from dreamlib.train import train_run

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {"epochs": 2, "max_train": 64, "max_test": 32}


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, dict]:
    """A finished smoke run (the chain alone), its folder and metrics."""
    folder = tmp_path_factory.mktemp("runs") / "run"
    cfg = make_run_config("smoke", "vision", model={"method": "baseline", "width": 8}, **SMALL)
    metrics = train_run(cfg, folder, log=lambda *_: None, progress=False)
    return folder, metrics


@pytest.fixture
def run_copy(finished, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished[0], copy)
    return copy


def rerun(folder: Path):
    cfg = make_run_config("smoke", "vision", model={"method": "baseline", "width": 8}, **SMALL)
    return train_run(cfg, folder, log=lambda *_: None, progress=False)


# --------------------------------------------------------------------------- log.csv values


def set_last_accuracy(folder: Path, value: str) -> None:
    lines = (folder / LOG_FILE).read_text().splitlines()
    header, last = lines[0].split(","), lines[-1].split(",")
    last[header.index("test_accuracy")] = value
    (folder / LOG_FILE).write_text("\n".join([*lines[:-1], ",".join(last)]) + "\n")


@pytest.mark.parametrize("value, reason", [("", "has no test_accuracy"),
                                           ("nan", "not a number in 0..1"),
                                           ("1.5", "not a number in 0..1"),
                                           ("abc", "not a number in 0..1")])
def test_a_finished_run_without_metrics_and_a_bad_log_is_one_error(run_copy, value, reason):
    (run_copy / METRICS_FILE).unlink()
    set_last_accuracy(run_copy, value)
    with pytest.raises(ConfigError) as info:
        rerun(run_copy)
    message = str(info.value)
    assert str(run_copy / LOG_FILE) in message and reason in message
    assert "restart the run from epoch 0" in message and "\n" not in message
    assert not (run_copy / METRICS_FILE).exists()  # no metrics.json holding NaN is written


def test_a_log_with_a_non_finite_loss_names_its_row(run_copy):
    (run_copy / METRICS_FILE).unlink()
    lines = (run_copy / LOG_FILE).read_text().splitlines()
    first = lines[1].split(",")
    first[1] = "inf"  # train_loss of epoch 1
    (run_copy / LOG_FILE).write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n")
    with pytest.raises(ConfigError, match=r"row 1 \(epoch 1\): train_loss is 'inf'"):
        rerun(run_copy)


def test_a_good_log_gives_back_the_same_metrics(finished, run_copy):
    """Recomputing a removed metrics.json from the checkpoint and log gives the same numbers."""
    (run_copy / METRICS_FILE).unlink()
    again = rerun(run_copy)
    for key in ("accuracy", "train_loss", "params", "flops", "run_hash"):
        assert again[key] == finished[1][key]


# --------------------------------------------------------------------------- the Python API


def test_load_trained_on_a_missing_folder_or_one_that_is_not_a_run(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        dreams.load_trained(tmp_path / "nowhere")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match=f"holds no {CONFIG_FILE}"):
        dreams.load_trained(tmp_path / "mine")


def test_load_trained_with_a_truncated_config_says_how_to_restore_it(run_copy):
    text = (run_copy / CONFIG_FILE).read_text()
    (run_copy / CONFIG_FILE).write_text(text[: len(text) // 2])
    with pytest.raises(ConfigError) as info:
        dreams.load_trained(run_copy)
    message = str(info.value)
    assert str(run_copy / CONFIG_FILE) in message and "git checkout" in message
    assert "recompute" not in message


def test_load_trained_with_a_truncated_checkpoint_names_it(run_copy):
    data = (run_copy / CHECKPOINT_FILE).read_bytes()
    (run_copy / CHECKPOINT_FILE).write_bytes(data[: len(data) // 2])
    before = snapshot(run_copy)
    with pytest.raises(ConfigError) as info:
        dreams.load_trained(run_copy)
    assert str(run_copy / CHECKPOINT_FILE) in str(info.value)
    assert snapshot(run_copy) == before


def test_load_trained_refuses_a_checkpoint_with_missing_weights(run_copy):
    """A partial checkpoint used to load silently (strict=False) into a model whose logits
    differ from the run's."""
    state = torch.load(run_copy / CHECKPOINT_FILE, weights_only=True)
    dropped = sorted(state["model"])[0]
    del state["model"][dropped]
    torch.save(state, run_copy / CHECKPOINT_FILE)
    with pytest.raises(ConfigError) as info:
        dreams.load_trained(run_copy)
    assert str(run_copy / CHECKPOINT_FILE) in str(info.value) and dropped in str(info.value)


def test_load_trained_reads_a_good_run(finished):
    model, cfg = dreams.load_trained(finished[0])
    assert cfg.model.method == "baseline" and not model.training


def test_collect_dreams_on_a_chain_only_run_says_only_dreamnet_dreams(finished):
    with pytest.raises(ConfigError, match="only DreamNet runs dream"):
        dreams.collect_dreams(finished[0])


# --------------------------------------------------------------------------- ModelConfig types


@pytest.mark.parametrize("fields, culprit", [
    ({"width": 8.5}, "width"), ({"num_classes": "10"}, "num_classes"),
    ({"image_size": 32.0}, "image_size"), ({"blocks": "2"}, "blocks"),
    ({"method": "baseline", "blocks": 2.5}, "blocks"), ({"mask_ratio": "0.5"}, "mask_ratio"),
    ({"unfrozen": "yes"}, "unfrozen"), ({"encoder": 3}, "encoder"),
    ({"task": "text", "seq_len": 16.0}, "seq_len"),
])
def test_model_config_checks_types_as_well_as_ranges(fields, culprit):
    with pytest.raises(ConfigError, match=culprit) as info:
        ModelConfig(**fields).resolved()
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- output folders


def test_reproduce_refuses_an_output_folder_holding_a_users_pages(tmp_path, capsys):
    out = tmp_path / "mine"
    (out / "results" / "html").mkdir(parents=True)
    (out / "results" / "html" / "index.html").write_text("<p>my page</p>")
    (out / "results" / "html" / "style.css").write_text("p { color: red }")
    before = snapshot(out)
    rc = main(["reproduce", "--profile", "smoke", "--only", "04", "--output-dir", str(out)])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: ")
    assert str(out) in err[0] and "results" in err[0] and "new or empty folder" in err[0]
    assert snapshot(out) == before


def test_reproduce_marks_a_new_output_folder_as_its_own(tmp_path):
    from dreamlib.reproduce import OUTPUT_MARKER, claim_output_dir
    from dreamlib.runtime import context

    ctx = context("smoke", str(tmp_path / "new"))
    claim_output_dir(ctx)
    assert (tmp_path / "new" / OUTPUT_MARKER).is_file()
    (tmp_path / "new" / "results").mkdir()
    claim_output_dir(ctx)  # a later batch into the same folder is accepted


# --------------------------------------------------------------------------- the environment


def test_a_weights_variable_pointing_under_a_file_names_the_variable(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "a-file" / "weights"))
    with pytest.raises(DreamlibError) as info:
        read_manifest()
    message = str(info.value)
    assert f"${WEIGHTS_ENV}" in message and str(tmp_path / "a-file" / "weights") in message
    assert "git checkout" not in message
