"""The run store (``dreamlib.runs``): config hashing, folder claiming, atomic writes.

Nothing here trains; the whole file runs in a second or two.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dreamlib import runs
from dreamlib.config import ModelConfig
from dreamlib.errors import ConfigError
from dreamlib.profiles import make_run_config
from dreamlib.runs import (CONFIG_FILE, METRICS_FILE, PREDICTIONS_FILE, RunConfig,
                           atomic_torch_save, atomic_write_json, atomic_write_text, claim_folder,
                           load_metrics, read_json, read_predictions, run_folder,
                           write_predictions)


def with_model(cfg: RunConfig, **changes) -> RunConfig:
    """A copy of ``cfg`` with model fields changed."""
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **changes)).validate()


def cfg(**run) -> RunConfig:
    return make_run_config("smoke", "vision", model={"blocks": 2, "width": 8}, **run)


def leftovers(folder) -> list[str]:
    """Temp files the atomic writers would leave behind (``.<name>.<random>.tmp``)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --------------------------------------------------------------------------- hash


def test_hash_is_stable_across_instances_round_trips_and_processes():
    first, second = cfg(), cfg()
    assert first is not second
    digest = first.run_hash()
    assert len(digest) == runs.HASH_LENGTH and int(digest, 16) >= 0
    assert second.run_hash() == digest
    through_json = RunConfig.from_dict(json.loads(json.dumps(first.to_dict())))
    assert through_json.run_hash() == digest
    # A fresh interpreter (other PYTHONHASHSEED, other dict/set layouts) finds the same folder.
    code = ("from dreamlib.profiles import make_run_config as m; "
            "print(m('smoke', 'vision', model={'blocks': 2, 'width': 8}).run_hash())")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, check=True).stdout.split()
    assert out[-1] == digest


RESULT_CHANGES = {
    "dataset": {"dataset": "fashion-mnist"},
    "epochs": {"epochs": 3},
    "batch_size": {"batch_size": 32},
    "lr": {"lr": 0.001},
    "encoder_lr": {"encoder_lr": 1e-3},
    "betas": {"betas": (0.8, 0.999)},
    "eps": {"eps": 1e-8},
    "warmup": {"warmup": 0.0},
    "max_train": {"max_train": 100},
    "max_test": {"max_test": 100},
    "augment": {"augment": False},
    "pretrained": {"pretrained": False},
    "precision": {"precision": "bf16"},
    "seed": {"seed": 1},
}


@pytest.mark.parametrize("field", sorted(RESULT_CHANGES))
def test_hash_changes_with_every_result_changing_run_field(field):
    base = cfg()
    changed = dataclasses.replace(base, **RESULT_CHANGES[field])
    assert changed != base
    assert changed.run_hash() != base.run_hash()


@pytest.mark.parametrize("change", [{"blocks": 3}, {"width": 16}, {"method": "dreamnet"},
                                    {"a_out": "grid"}, {"mask_ratio": 0.5}, {"unfrozen": True}])
def test_hash_changes_with_model_fields(change):
    base = cfg()
    assert with_model(base, **change).run_hash() != base.run_hash()


def test_data_dir_does_not_enter_the_hash_or_equality(tmp_path):
    base = cfg()
    moved = dataclasses.replace(base, data_dir=str(tmp_path))
    assert moved == base
    assert moved.run_hash() == base.run_hash()
    assert "data_dir" not in base.identity()
    assert run_folder(tmp_path, moved) == run_folder(tmp_path, base) == tmp_path / base.run_hash()


# --------------------------------------------------------------------------- to_dict / from_dict


def test_to_dict_from_dict_round_trip_keeps_every_field():
    original = dataclasses.replace(cfg(seed=7, max_train=100, augment=False, precision="bf16"),
                                   data_dir="/somewhere", betas=(0.8, 0.99))
    data = original.to_dict()
    assert data["betas"] == [0.8, 0.99] and isinstance(data["model"], dict)
    back = RunConfig.from_dict(json.loads(json.dumps(data)))
    assert back == original
    assert back.data_dir == "/somewhere"  # not compared by ==, so checked on its own
    assert back.betas == (0.8, 0.99) and isinstance(back.model, ModelConfig)
    assert back.to_dict() == data


def test_stored_runs_keep_their_folders_under_the_renamed_fields():
    """Stores written before the rename say ``model``/``head`` where the config now says
    ``method``/``a_out``: every committed config reads, and its hash is still its folder name."""
    store = Path(__file__).resolve().parent.parent / "results" / "runs"
    folders = sorted(p for p in store.iterdir() if (p / CONFIG_FILE).is_file())
    assert folders, "the committed run store is empty"
    for folder in folders:
        stored = json.loads((folder / CONFIG_FILE).read_text())
        cfg = RunConfig.from_dict(stored)
        assert cfg.run_hash() == folder.name
        legacy = stored["model"]
        if "model" in legacy:  # written before the rename
            assert (cfg.model.method, cfg.model.a_out) == (legacy["model"], legacy["head"])


def test_a_config_written_today_names_its_fields_as_the_code_does(tmp_path):
    cfg = make_run_config("smoke", "vision", model={"method": "dreamnet", "a_out": "grid"})
    claim_folder(tmp_path / "run", cfg)
    stored = json.loads((tmp_path / "run" / CONFIG_FILE).read_text())["model"]
    assert (stored["method"], stored["a_out"]) == ("dreamnet", "grid")
    assert "model" not in stored and "head" not in stored
    assert RunConfig.from_dict(json.loads((tmp_path / "run" / CONFIG_FILE).read_text())) == cfg


def test_from_dict_rejects_unknown_keys():
    data = cfg().to_dict()
    data["learning_rate"] = 0.1
    with pytest.raises(ConfigError, match="learning_rate"):
        RunConfig.from_dict(data)
    data = cfg().to_dict()
    data["model"]["depth"] = 3
    with pytest.raises(ConfigError, match="depth"):
        RunConfig.from_dict(data)


@pytest.mark.parametrize("change, culprit", [
    ({"epochs": 0}, "epochs"), ({"batch_size": -1}, "batch_size"), ({"lr": 0.0}, "lr"),
    ({"encoder_lr": -1e-4}, "encoder_lr"), ({"max_train": 0}, "max_train"),
    ({"warmup": 1.0}, "warmup"), ({"precision": "fp8"}, "precision"),
    ({"pretrained": "yes"}, "pretrained"),
])
def test_validate_names_the_bad_field(change, culprit):
    with pytest.raises(ConfigError, match=culprit):
        dataclasses.replace(cfg(), **change).validate()


# --------------------------------------------------------------------------- claim_folder


def test_claim_folder_writes_config_then_accepts_the_same_run(tmp_path):
    folder = tmp_path / "run"
    base = cfg()
    assert claim_folder(folder, base) == folder
    assert RunConfig.from_dict(read_json(folder / CONFIG_FILE)) == base
    before = (folder / CONFIG_FILE).read_bytes()
    claim_folder(folder, base)
    claim_folder(folder, dataclasses.replace(base, data_dir=str(tmp_path)))  # data moved: same run
    assert (folder / CONFIG_FILE).read_bytes() == before
    assert leftovers(folder) == []


def test_claim_folder_refuses_a_different_run_and_names_the_fields(tmp_path):
    folder = tmp_path / "run"
    claim_folder(folder, cfg())
    before = (folder / CONFIG_FILE).read_bytes()
    other = with_model(cfg(epochs=5, lr=0.01), blocks=3)
    with pytest.raises(ConfigError) as info:
        claim_folder(folder, other)
    message = str(info.value)
    assert str(folder) in message
    fields = message.split("fields differ: ")[1].split(")")[0].split(", ")
    assert fields == ["epochs", "lr", "model"]
    assert (folder / CONFIG_FILE).read_bytes() == before


def test_a_corrupt_config_json_is_a_config_error(tmp_path):
    (tmp_path / CONFIG_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        claim_folder(tmp_path, cfg())
    assert (tmp_path / CONFIG_FILE).read_text() == "{not json"


def test_load_metrics_is_none_until_the_run_finished(tmp_path):
    assert load_metrics(tmp_path) is None
    atomic_write_json(tmp_path / runs.METRICS_FILE, {"accuracy": 0.5})
    assert load_metrics(tmp_path) == {"accuracy": 0.5}


# --------------------------------------------------------------------------- atomic writes


def test_atomic_writes_replace_the_file_and_leave_no_temp_files(tmp_path):
    target = tmp_path / "sub" / "data.json"  # the parent is created
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2, "b": [1, 2]})
    assert json.loads(target.read_text()) == {"a": 2, "b": [1, 2]}
    atomic_write_text(tmp_path / "sub" / "log.csv", "x\n")
    assert sorted(p.name for p in target.parent.iterdir()) == ["data.json", "log.csv"]
    mode = target.stat().st_mode & 0o777
    assert mode == 0o666 & ~runs.current_umask()  # not mkstemp's private 0600


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_a_writer_failing_midway_keeps_the_old_file(tmp_path, monkeypatch, failing):
    target = tmp_path / "metrics.json"
    atomic_write_json(target, {"old": True})
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(f"simulated failure in os.{failing}")

    monkeypatch.setattr(runs.os, failing, boom)
    with pytest.raises(OSError, match="simulated"):
        atomic_write_json(target, {"new": True, "big": "x" * 100_000})
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert leftovers(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_atomic_torch_save_keeps_the_old_checkpoint_when_interrupted(tmp_path, monkeypatch):
    import torch

    target = tmp_path / "checkpoint.pt"
    atomic_torch_save({"epoch": 1, "w": torch.ones(3)}, target)
    monkeypatch.setattr(runs.os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):  # a BaseException (Ctrl-C) cleans up too
        atomic_torch_save({"epoch": 2, "w": torch.zeros(3)}, target)
    monkeypatch.undo()
    state = torch.load(target, weights_only=True)
    assert state["epoch"] == 1 and torch.equal(state["w"], torch.ones(3))
    assert leftovers(tmp_path) == []


# ---- predictions.csv ---------------------------------------------------------------------------


def test_predictions_round_trip(tmp_path):
    path = write_predictions(tmp_path, [0, 1, 2, 1], [0, 2, 2, 1], accuracy=0.75)
    assert path == tmp_path / PREDICTIONS_FILE
    assert path.read_text() == "label,prediction\n0,0\n1,2\n2,2\n1,1\n"
    assert read_predictions(tmp_path) == ([0, 1, 2, 1], [0, 2, 2, 1])


def test_a_run_without_predictions_reads_as_none(tmp_path):
    assert read_predictions(tmp_path) is None


@pytest.mark.parametrize("labels, predictions, accuracy, match", [
    ([0, 1], [0], 0.5, "one prediction per test example"),
    ([], [], 0.0, "one prediction per test example"),
    ([0, 1], [0, 0], 1.0, "score 0.5, not the accuracy 1.0"),
])
def test_predictions_that_disagree_with_the_run_are_refused(tmp_path, labels, predictions,
                                                            accuracy, match):
    with pytest.raises(ValueError, match=match):
        write_predictions(tmp_path, labels, predictions, accuracy)
    assert not (tmp_path / PREDICTIONS_FILE).exists()


@pytest.mark.parametrize("text, problem", [
    ("", "its header is not label,prediction"),
    ("label,guess\n0,1\n", "its header is not label,prediction"),
    ("label,prediction\n", "it holds no examples"),
    ("label,prediction\n0,1\n2\n", "line 3 ('2') is not two class ids"),
    ("label,prediction\n0,-1\n", "line 2 ('0,-1') is not two class ids"),
    (b"label,prediction\n\xff,1\n", "byte 17 is not UTF-8 text"),
])
def test_damaged_predictions_are_one_error_naming_the_file_and_the_fix(tmp_path, text, problem):
    path = tmp_path / PREDICTIONS_FILE
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as caught:
        read_predictions(tmp_path)
    message = str(caught.value)
    assert str(path) in message and problem in message
    assert f"delete it and {tmp_path / METRICS_FILE}, then rerun" in message
