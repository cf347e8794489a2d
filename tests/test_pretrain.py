"""Cached self-supervised pre-training of the embedded encoders (``dreamlib.pretrain``).

Every test passes its own cache ``root`` (a temp folder), so what is trained, reused or
corrupted here is never another test's encoder. Sizes are tiny: 256 digits for MAE,
64 fortunes of 16 tokens for the masked LM.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil

import pytest
import torch

from dreamlib.errors import ConfigError, DreamlibError
from dreamlib.pretrain import (PRETRAIN_FILE, WEIGHTS_FILE, PretrainConfig, cache_root,
                               pretrain, pretrain_losses)

MAE = PretrainConfig("mae-small", "digits", epochs=3, max_items=256)
MLM = PretrainConfig("mlm-small", "fortunes", epochs=3, max_items=64, seq_len=16, batch_size=16)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Toy models run fastest on one intra-op thread and do not stall when the other core is
    busy (two OpenMP threads then made training tens of times slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def offline_cache(tmp_path_factory, monkeypatch):
    """No test may fall back on ./.cache/dreamlib of the checkout."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("DREAMLIB_CACHE", str(tmp_path_factory.getbasetemp() / "dreamlib-cache"))


def trained(cfg: PretrainConfig, root):
    lines = []
    folder = pretrain(cfg, root=root, log=lines.append)
    return folder, lines


@pytest.fixture(scope="module")
def mae(tmp_path_factory, one_thread):
    root = tmp_path_factory.mktemp("mae-cache")
    folder, lines = trained(MAE, root)
    return root, folder, lines


@pytest.fixture(scope="module")
def mlm(tmp_path_factory, one_thread):
    root = tmp_path_factory.mktemp("mlm-cache")
    folder, lines = trained(MLM, root)
    return root, folder, lines


@pytest.mark.parametrize("name", ["mae", "mlm"])
def test_pretraining_records_falling_reconstruction_losses(name, request):
    cfg = MAE if name == "mae" else MLM
    root, folder, lines = request.getfixturevalue(name)
    assert len(lines) == cfg.epochs  # one log line per epoch: it trained now
    assert all("reconstruction loss" in line for line in lines)
    losses = pretrain_losses(folder)
    assert len(losses) == cfg.epochs and all(math.isfinite(x) and x > 0 for x in losses)
    assert losses[-1] < losses[0], losses
    record = json.loads((folder / PRETRAIN_FILE).read_text())
    assert record["config"] == dataclasses.asdict(cfg)
    assert folder.parent == root / "encoders" and folder.name.startswith(cfg.encoder + "-")
    # written atomically: the finished folder only, no temp folder beside it
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]
    assert (folder / WEIGHTS_FILE).stat().st_size > 0


def test_pretrained_folder_loads_as_the_encoder_of_a_model(mae):
    from safetensors.torch import load_file

    from dreamlib.config import ModelConfig
    from dreamlib.models import build_model

    _, folder, _ = mae
    suffix = "patch_embeddings.projection.weight"
    saved = [v for k, v in load_file(str(folder / WEIGHTS_FILE)).items() if k.endswith(suffix)]
    assert len(saved) == 1
    cfg = ModelConfig(image_size=16, width=8, in_channels=1, encoder="mae-small")

    def patch_weight(**source):
        torch.manual_seed(0)
        model = build_model(cfg, **source)
        found = [v for k, v in model.encoder.state_dict().items() if k.endswith(suffix)]
        assert len(found) == 1
        return found[0]

    assert torch.equal(patch_weight(pretrained=True, encoder_source=str(folder)), saved[0])
    assert not torch.equal(patch_weight(pretrained=False), saved[0])


def test_second_call_reuses_the_cache_without_training(mae):
    root, folder, _ = mae
    weights = folder / WEIGHTS_FILE
    stamp = weights.stat().st_mtime_ns

    def must_not_log(line):
        raise AssertionError(f"pre-trained again: {line}")

    assert pretrain(MAE, root=root, log=must_not_log) == folder
    assert weights.stat().st_mtime_ns == stamp
    assert [p.name for p in (root / "encoders").iterdir()] == [folder.name]


def test_cache_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMLIB_CACHE", str(tmp_path))
    assert cache_root() == tmp_path


def test_cache_key_covers_what_shapes_the_encoder():
    fingerprint = "f" * 16
    key = MAE.key(fingerprint)
    assert MAE.key(fingerprint) == key
    assert MAE.key("0" * 16) != key  # other data
    for change in ({"epochs": 4}, {"max_items": 128}, {"seed": 1}, {"lr": 1e-4},
                   {"batch_size": 64}, {"encoder": "mlm-small"}):
        assert dataclasses.replace(MAE, **change).key(fingerprint) != key, change


def test_pretraining_is_reproducible(mlm, tmp_path):
    """Same config, fresh cache: bit-identical weights (the cache key assumes it)."""
    _, folder, _ = mlm
    again, _ = trained(MLM, tmp_path)
    assert again.name == folder.name
    first = json.loads((folder / PRETRAIN_FILE).read_text())
    second = json.loads((again / PRETRAIN_FILE).read_text())
    assert second["sha256"] == first["sha256"]
    assert second["losses"] == first["losses"]


def test_corrupted_cached_weights_are_detected(mae, tmp_path):
    _, folder, _ = mae
    copy = tmp_path / "encoders" / folder.name
    shutil.copytree(folder, copy)
    weights = copy / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 8] = bytes(b ^ 0xFF for b in data[middle:middle + 8])
    weights.write_bytes(bytes(data))

    with pytest.raises(DreamlibError) as info:
        pretrain(MAE, root=tmp_path, log=lambda line: pytest.fail(f"trained: {line}"))
    message = str(info.value)
    assert "corrupted" in message and str(copy) in message
    with pytest.raises(DreamlibError, match="corrupted"):
        pretrain_losses(copy)
    assert weights.read_bytes() == bytes(data)  # never silently overwritten


def test_a_cached_folder_without_its_record_is_an_error(mae, tmp_path):
    _, folder, _ = mae
    copy = tmp_path / "encoders" / folder.name
    shutil.copytree(folder, copy)
    (copy / PRETRAIN_FILE).unlink()
    with pytest.raises(DreamlibError, match=PRETRAIN_FILE) as info:
        pretrain(MAE, root=tmp_path)
    assert str(copy) in str(info.value)


@pytest.mark.parametrize("cfg, culprit", [
    (PretrainConfig("minilm", "fortunes"), "minilm"),
    (PretrainConfig("mae-small", "digits", epochs=0), "epochs"),
])
def test_bad_pretrain_configs_are_config_errors(cfg, culprit, tmp_path):
    with pytest.raises(ConfigError, match=culprit):
        pretrain(cfg, root=tmp_path)
    assert not (tmp_path / "encoders").exists()
