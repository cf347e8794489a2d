"""The pre-trained weights shipped in ``dreamlib/weights``: they match their manifest, runs
use them (verified, never re-trained), a damaged copy is one clear error, and MiniLM with its
shipped masked-LM head is an autoencoder text DreamNet can use.

Damage is done to a copy (``DREAMLIB_WEIGHTS`` points the loader at it); the shipped files
are only read.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from dreamlib import pretrain as pt
from dreamlib import pretrain_data
from dreamlib import shipped as sh
from dreamlib.cli import main
from dreamlib.encoders import load_encoder
from dreamlib.pretrain import RECIPES
from dreamlib.shipped import MANIFEST_FILE, WeightsError, shipped_folder
from dreamlib.shipped import SHIPPED_ROOT as SHIPPED

NAMES = ("mae-small", "mlm-small", "minilm-head")
MAX_FILE_BYTES = 5_000_000  # every shipped file; the repository stays light to clone
MAX_TOTAL_BYTES = 12_000_000


@pytest.fixture(autouse=True)
def shipped_weights(one_thread, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(sh.WEIGHTS_ENV, raising=False)


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """A copy of the shipped weights that the loader reads instead."""
    root = tmp_path / "weights"
    shutil.copytree(SHIPPED, root)
    monkeypatch.setenv(sh.WEIGHTS_ENV, str(root))
    return root


def manifest() -> dict:
    return json.loads((SHIPPED / MANIFEST_FILE).read_text())


# --------------------------------------------------------------------------- the manifest


def test_every_shipped_file_matches_its_manifest_hash():
    entries = manifest()["encoders"]
    assert set(entries) == set(NAMES)
    total = 0
    for name in NAMES:
        folder = shipped_folder(name)  # raises on any mismatch
        files = entries[name]["files"]
        assert sorted(p.name for p in folder.iterdir()) == sorted(files)  # nothing unrecorded
        for file, info in files.items():
            assert (folder / file).stat().st_size == info["bytes"] <= MAX_FILE_BYTES
            assert sh.file_sha256(folder / file) == info["sha256"]
            total += info["bytes"]
    assert total < MAX_TOTAL_BYTES
    assert sorted(p.name for p in SHIPPED.iterdir() if not p.name.startswith("__")) == \
        sorted([MANIFEST_FILE, "README.md", *NAMES])


@pytest.mark.parametrize("name", NAMES)
def test_the_manifest_says_how_each_encoder_was_made(name):
    from dreamlib.data import data_fingerprint, get_info

    entry = manifest()["encoders"][name]
    recipe = RECIPES[name]
    assert entry["recipe"] == dataclasses.asdict(recipe)  # made by today's recipe
    assert entry["command"] == f"python -m dreamlib pretrain --encoder {name} --threads {entry['threads']}"
    assert entry["torch"] and entry["threads"] >= 1
    assert entry["data"]["dataset"] == recipe.dataset and entry["data"]["split"] == "train"
    assert entry["data"]["examples"] == get_info(recipe.dataset).train_size
    try:
        fingerprint = data_fingerprint(recipe.dataset, "train", None, None, 0)
    except Exception:  # noqa: BLE001 - the dataset is not installed here
        fingerprint = None
    if fingerprint is not None:
        assert entry["data"]["fingerprint"] == fingerprint
    held = entry["heldout"]
    assert held["size"] == recipe.heldout
    assert held["train_examples"] + held["size"] == entry["data"]["examples"]
    _, indices = pretrain_data.split_heldout(entry["data"]["examples"], held["size"])
    assert held["indices_sha256"] == pretrain_data.index_digest(indices)
    curve = entry["curve"]
    assert len(curve) == entry["epochs_run"] <= recipe.epochs
    best = min(curve, key=lambda row: row["heldout_loss"])
    assert entry["best_epoch"] == best["epoch"]
    assert entry["best_heldout_loss"] == best["heldout_loss"]
    if name != "mae-small":
        assert entry["heldout_accuracy"] == best["heldout_accuracy"]


def test_the_text_models_are_scored_on_the_same_heldout_texts():
    entries = manifest()["encoders"]
    mlm, head = entries["mlm-small"], entries["minilm-head"]
    assert mlm["heldout"] == head["heldout"]
    assert mlm["heldout_accuracy"] > 0.1 and head["heldout_accuracy"] > 0.1


def test_mlm_small_ships_its_trimmed_vocabulary_and_half_precision_weights():
    from safetensors import safe_open

    from dreamlib.encoders import load_tokenizer
    from dreamlib.vocab import MIN_COUNT, MLM_SMALL_VOCAB

    entry = manifest()["encoders"]["mlm-small"]
    folder = shipped_folder("mlm-small")
    tokenizer = load_tokenizer("mlm-small")
    config = json.loads((folder / "config.json").read_text())
    assert len(tokenizer) == config["vocab_size"] == entry["vocabulary"]["tokens"] == MLM_SMALL_VOCAB
    assert f"at least {MIN_COUNT} times" in entry["vocabulary"]["rule"]
    assert tokenizer.pad_token_id == 0 and tokenizer.mask_token is not None
    with safe_open(folder / "model.safetensors", "pt") as file:
        assert {file.get_slice(k).get_dtype() for k in file.keys()} == {"F16"}
    encoder = load_encoder(str(folder), autoencoder=True)  # how runs read it
    assert {p.dtype for p in encoder.parameters()} == {torch.float32}  # trains in float32
    # the manifest scores the weights as shipped: rounding them cost (almost) nothing
    shipped = entry["as_shipped"]
    assert shipped["dtype"] == "float16"
    assert abs(shipped["heldout_loss"] - entry["best_heldout_loss"]) < 0.005 * entry["best_heldout_loss"]


def test_the_mae_learned_to_reconstruct():
    """Held-out pixel MSE far below the blind guesses (measured on fashion-mnist, [-1, 1]
    scale: each image's mean 0.40, every pixel's mean over the training set 0.31)."""
    entry = manifest()["encoders"]["mae-small"]
    assert entry["best_heldout_loss"] < 0.1
    assert entry["best_heldout_loss"] < 0.6 * entry["curve"][0]["heldout_loss"]


# --------------------------------------------------------------------------- runs use them


def run_config(**run):
    from dreamlib.profiles import make_run_config

    return make_run_config("smoke", "vision", model={"method": "sleepnet", "blocks": 1}, **run)


def test_runs_load_the_shipped_mae_and_the_ablation_does_not():
    from safetensors.torch import load_file

    from dreamlib.models import build_model
    from dreamlib.train import resolve_encoder_source

    cfg = run_config()
    with pytest.MonkeyPatch.context() as patch:  # loading the shipped weights never trains
        patch.setattr(pt, "pretrain", lambda *a, **k: pytest.fail("pre-trained"))
        patch.setattr(pt, "_fit", lambda *a, **k: pytest.fail("trained"))
        source = resolve_encoder_source(cfg)
    assert Path(source) == SHIPPED / "mae-small"
    saved = load_file(str(SHIPPED / "mae-small" / sh.WEIGHTS_FILE))
    key = "vit.embeddings.patch_embeddings.projection.weight"
    built = build_model(cfg.model, pretrained=True, encoder_source=source)
    assert torch.equal(built.encoder.backbone.embeddings.patch_embeddings.projection.weight,
                       saved[key])
    untrained = run_config(pretrained=False)
    assert resolve_encoder_source(untrained) is None
    random = build_model(untrained.model, pretrained=True, encoder_source=None)
    assert not torch.equal(random.encoder.backbone.embeddings.patch_embeddings.projection.weight,
                           saved[key])
    assert untrained.run_hash() != cfg.run_hash()


def test_untrained_applies_only_to_the_embedded_encoders():
    from dreamlib.errors import ConfigError
    from dreamlib.profiles import make_run_config
    from dreamlib.train import resolve_encoder_source

    cfg = make_run_config("smoke", "text", model={"method": "sleepnet", "encoder": "minilm"},
                          pretrained=False)
    with pytest.raises(ConfigError, match="untrained"):
        resolve_encoder_source(cfg)


def test_the_profile_encoders_are_the_shipped_ones():
    from dreamlib.experiments import pretrained_encoders

    with pytest.MonkeyPatch.context() as patch:  # reading them never trains
        patch.setattr(pt, "_fit", lambda *a, **k: pytest.fail("trained"))
        encoders = pretrained_encoders("smoke")
    assert set(encoders) == {"mae-small", "mlm-small"}
    for name, (folder, losses) in encoders.items():
        assert folder == SHIPPED / name
        entry = manifest()["encoders"][name]
        # one loss per epoch run, the best of them where the recorded best epoch says
        assert len(losses) == entry["epochs_run"]
        assert min(losses) == entry["best_heldout_loss"]
        assert losses.index(min(losses)) + 1 == entry["best_epoch"]


# --------------------------------------------------------------------------- damage


def corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name, file", [("mae-small", "model.safetensors"),
                                        ("mlm-small", "config.json"),
                                        ("minilm-head", "head.safetensors")])
@pytest.mark.parametrize("damage", ["corrupted", "missing"])
def test_a_damaged_weights_file_is_one_clear_error(copy, name, file, damage):
    path = copy / name / file
    corrupt(path) if damage == "corrupted" else path.unlink()
    with pytest.raises(WeightsError) as info:
        if name == "minilm-head":
            load_encoder("minilm", autoencoder=True)
        else:
            shipped_folder(name)
    message = str(info.value)
    assert str(path) in message and damage in message and "\n" not in message
    # the copy is the user's folder, chosen by the variable: git cannot restore it
    assert "git checkout" not in message and sh.WEIGHTS_ENV in message
    assert f"python -m dreamlib pretrain --encoder {name} --out {copy}" in message


def test_damage_in_the_shipped_folder_is_restored_from_git():
    fix = sh.restore_fix("mae-small", SHIPPED)
    assert "git checkout dreamlib/weights" in fix and "--out" not in fix


def test_a_missing_manifest_is_one_clear_error(copy):
    (copy / MANIFEST_FILE).unlink()
    with pytest.raises(WeightsError, match="manifest .* is missing"):
        shipped_folder("mae-small")


def test_training_with_a_corrupted_encoder_prints_one_line(copy, tmp_path, capsys):
    corrupt(copy / "mae-small" / sh.WEIGHTS_FILE)
    rc = main(["train", "--profile", "smoke", "--model", "sleepnet", "--blocks", "1",
               "--width", "8", "--epochs", "1", "--max-train", "32", "--max-test", "16",
               "--quiet", "--out", str(tmp_path / "run")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: ")
    assert str(copy / "mae-small" / sh.WEIGHTS_FILE) in err[0] and "corrupted" in err[0]


# --------------------------------------------------------------------------- MiniLM + head


@pytest.fixture(scope="module")
def minilm_lm(one_thread):
    return load_encoder("minilm", autoencoder=True).eval()


def test_minilm_loads_with_its_shipped_head(minilm_lm):
    from safetensors.torch import load_file

    assert minilm_lm.is_autoencoder
    head = minilm_lm.backbone.cls.predictions
    saved = load_file(str(SHIPPED / "minilm-head" / sh.HEAD_FILE))
    assert torch.equal(head.transform.dense.weight, saved["cls.predictions.transform.dense.weight"])
    assert torch.equal(head.bias, saved["cls.predictions.bias"])
    assert head.decoder.weight is minilm_lm.backbone.bert.embeddings.word_embeddings.weight
    encoder = load_encoder("minilm")  # the SleepNet encoder is the same MiniLM
    assert torch.equal(encoder.backbone.embeddings.word_embeddings.weight,
                       head.decoder.weight)


def test_minilm_with_its_head_reconstructs_text(minilm_lm):
    from dreamlib.encoders import load_tokenizer

    tokenizer = load_tokenizer("minilm")
    texts = ["a domestic animal that [MASK] and is kept as a pet",
             "a small [MASK] that swims in rivers and lakes",
             "a large body of salt water"]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        logits = minilm_lm.reconstruct(input_ids=ids, attention_mask=mask)
        fast = minilm_lm.reconstruct_ids(input_ids=ids, attention_mask=mask)
    assert logits.shape == (*ids.shape, minilm_lm.vocab_size)
    assert torch.equal(fast, logits.argmax(dim=-1))
    real = (mask == 1) & (ids != tokenizer.mask_token_id)
    real &= ~torch.isin(ids, torch.tensor(tokenizer.all_special_ids))
    copied = (fast[real] == ids[real]).float().mean().item()
    assert copied > 0.7, copied  # visible words mostly come back as themselves
    guess = tokenizer.convert_ids_to_tokens(fast[1][ids[1] == tokenizer.mask_token_id].tolist())
    assert guess == ["fish"]  # what swims in rivers and lakes


def test_text_dreamnet_runs_on_minilm():
    from dreamlib.config import ModelConfig
    from dreamlib.models import build_model

    cfg = ModelConfig(task="text", method="dreamnet", encoder="minilm", blocks=1, seq_len=12,
                      width=16, num_classes=3)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    assert model.encoder.is_autoencoder
    ids = torch.randint(1000, 2000, (2, 12))
    with torch.no_grad():
        logits, dreams = model(ids, torch.ones_like(ids), return_dreams=True)
    assert logits.shape == (2, 3) and len(dreams) == 1 and dreams[0].shape == (2, 12)
