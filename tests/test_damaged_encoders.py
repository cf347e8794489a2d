"""Damaged local encoder folders (``--encoder DIR``, saved with ``save_pretrained``).

Every damage (a config.json cut short, empty, a JSON list or naming an unknown model_type;
weights that do not fit the config, missing, cut short or garbage) reaches the user as one
:class:`~dreamlib.errors.DreamlibError` / one ``error:`` line (exit 2) naming the folder, the
file, what is wrong and the fix, never as transformers' or safetensors' traceback
(:func:`dreamlib.encoder_folders.reading_folder`). The folder is never touched, and ``train`` leaves
no run folder: every damage but a pytorch_model.bin is found before the run folder is claimed
(:func:`dreamlib.validate.check_run`: config.json by the meta-device build, model.safetensors
by its header); a pytorch_model.bin fails the real load, and the run gives its folder back.

What transformers 5.23 raised before (no tensor is named for misfitting weights: its load
report is a logged warning, silenced here):

=========================  ===============================================================
config.json cut short      OSError "It looks like the config file at ... is not a valid JSON
/ empty                    file."
config.json a JSON list    ValueError "Unrecognized model in DIR. Should have a
                           `model_type` key in its config.json."
unknown model_type         ValueError "The checkpoint you are trying to load has model type
                           `x` but Transformers does not recognize this architecture. ..."
weights do not fit         RuntimeError "You set `ignore_mismatched_sizes` to `False`, thus
                           raising an error. For details look at the above report!"
model.safetensors cut      SafetensorError "Error while deserializing header: incomplete
short / garbage / empty    metadata, file not fully covered" / "header too large" / "... small"
pytorch_model.bin garbage  RuntimeError "PytorchStreamReader failed reading zip archive: ..."
=========================  ===============================================================
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import transformers

from dreamlib import train as train_module
from dreamlib.cli import main
from dreamlib.config import ModelConfig
from dreamlib.encoders import load_encoder, load_tokenizer, minilm_path
from dreamlib.errors import DreamlibError
from dreamlib.models import build_model
from test_encoders import hub  # noqa: F401 - the tiny saved checkpoints (a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")

SAVE_AGAIN = "save the model there again with save_pretrained, or pass another folder as --encoder"
MODEL_FLAGS = ["--task", "vision", "--blocks", "1", "--width", "8", "--image-size", "16"]
TRAIN_FLAGS = ["--profile", "smoke", "--model", "sleepnet", *MODEL_FLAGS, "--epochs", "1",
               "--max-train", "32", "--max-test", "16", "--quiet"]


# --------------------------------------------------------------------------- damages


def _edit_config(folder: Path, **fields) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **fields}, indent=2))


def _cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _garbage_bin(folder: Path) -> None:
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"PK\x03\x04 not a torch checkpoint" * 8)


# name -> (damage, file named, what is wrong in plain words (regex)); the saved model is a
# ViTMAE (hidden size 16) or a BERT masked LM (hidden size 16)
DAMAGES = {
    "config-cut-short": (lambda f: _cut_in_half(f / "config.json"), "config.json",
                         r"is not valid JSON \(cut short or edited: .* at line \d+, column \d+\)"),
    "config-empty": (lambda f: (f / "config.json").write_text(""), "config.json", "is empty"),
    "config-a-list": (lambda f: (f / "config.json").write_text("[1, 2]"), "config.json",
                      "holds a JSON list, not an object with a model_type"),
    "config-unknown-model-type": (lambda f: _edit_config(f, model_type="sleepnet_mae"),
                                  "config.json", "names model_type 'sleepnet_mae' that "
                                  r"transformers \S+ does not know"),
    # the weights of hidden size 16 beside a config.json saying 32
    "weights-do-not-fit": (lambda f: _edit_config(f, hidden_size=32), "model.safetensors",
                           r"do not fit config.json: tensor \S+ is \([\d, ]+\) in the file but "
                           r"config.json makes it \([\d, ]+\) \(saved from another model\?\)"),
    "weights-missing": (lambda f: (f / "model.safetensors").unlink(), "model.safetensors",
                        r"has a config.json but no weights \(model.safetensors or "
                        r"pytorch_model.bin\)"),
    "weights-cut-short": (lambda f: _cut_in_half(f / "model.safetensors"), "model.safetensors",
                          r"is not a readable safetensors file \(cut short or damaged: .*\)"),
    "weights-garbage": (lambda f: (f / "model.safetensors").write_bytes(os.urandom(4096)),
                        "model.safetensors",
                        r"is not a readable safetensors file \(cut short or damaged: .*\)"),
    "weights-empty": (lambda f: (f / "model.safetensors").write_bytes(b""), "model.safetensors",
                      r"is not a readable safetensors file \(cut short or damaged: .*\)"),
    "bin-garbage": (_garbage_bin, "pytorch_model.bin",
                    r"cannot be loaded \(cut short or damaged: PytorchStreamReader failed"),
}
CONFIG_DAMAGES = sorted(name for name in DAMAGES if name.startswith("config-"))
WEIGHT_DAMAGES = sorted(set(DAMAGES) - set(CONFIG_DAMAGES))
FOUND_BY_READING_THE_HEADER = sorted(set(WEIGHT_DAMAGES) - {"bin-garbage"})


@pytest.fixture
def damaged(hub, tmp_path):  # noqa: F811 - the fixture imported above
    """damaged(kind, source) -> a copy of ``hub``'s saved ``source`` with damage ``kind``."""
    folders, _ = hub

    def make(kind: str, source: str = "mae") -> Path:
        folder = tmp_path / f"{source}-{kind}"
        shutil.copytree(folders[source], folder)
        DAMAGES[kind][0](folder)
        return folder

    return make


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (a new file, a lock or cache, shows too)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_names_the_damage(message: str, folder: Path, kind: str) -> None:
    _, file, wrong = DAMAGES[kind]
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith(f"could not load encoder {folder}: ") and file in message, message
    assert re.search(wrong, message), message
    assert message.endswith(SAVE_AGAIN), message


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: "), err
    return lines[0][len("error: "):]


# --------------------------------------------------------------------------- the Python API


@pytest.mark.parametrize("kind", sorted(DAMAGES))
@pytest.mark.parametrize("source, autoencoder", [("mae", False), ("mae", True),
                                                 ("bert-mlm", True)])
def test_load_encoder_raises_one_error_naming_folder_file_and_fix(damaged, kind, source,
                                                                  autoencoder):
    folder = damaged(kind, source)
    before = snapshot(folder)
    with pytest.raises(DreamlibError) as info:
        load_encoder(str(folder), autoencoder=autoencoder)
    assert_names_the_damage(str(info.value), folder, kind)
    assert snapshot(folder) == before


@pytest.mark.parametrize("kind", sorted(DAMAGES))
@pytest.mark.parametrize("method", ["sleepnet", "dreamnet"])
def test_build_model_raises_one_error_naming_folder_file_and_fix(damaged, kind, method):
    folder = damaged(kind)
    before = snapshot(folder)
    cfg = ModelConfig(task="vision", method=method, encoder=str(folder), width=8, image_size=16,
                      num_classes=3)
    with pytest.raises(DreamlibError) as info:
        build_model(cfg)
    assert_names_the_damage(str(info.value), folder, kind)
    if kind in WEIGHT_DAMAGES:  # the architecture alone still builds (count, bench)
        hidden = json.loads((folder / "config.json").read_text())["hidden_size"]
        assert build_model(cfg, pretrained=False).encoder.hidden_size == hidden
    assert snapshot(folder) == before


@pytest.mark.parametrize("kind", CONFIG_DAMAGES)
def test_the_tokenizer_of_a_damaged_folder_names_its_config(damaged, kind):
    folder = damaged(kind, "bert-mlm")
    with pytest.raises(DreamlibError) as info:
        load_tokenizer(str(folder))
    assert_names_the_damage(str(info.value), folder, kind)


@pytest.mark.parametrize("file", ["tokenizer.json", "tokenizer_config.json"])
def test_a_damaged_tokenizer_file_is_named(hub, tmp_path, file):  # noqa: F811
    folder = tmp_path / "bert-mlm"
    shutil.copytree(hub[0]["bert-mlm"], folder)
    transformers.AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(str(folder))
    assert len(load_tokenizer(str(folder))) > 1000  # whole, it loads
    _cut_in_half(folder / file)
    with pytest.raises(DreamlibError) as info:
        load_tokenizer(str(folder))
    message = str(info.value)
    assert message == (f"could not load encoder {folder}: {file} is not valid JSON (cut short "
                       "or edited); save its tokenizer there again with "
                       "tokenizer.save_pretrained, or pass another folder as --encoder")


def test_a_sound_folder_passes_the_weights_check(hub):  # noqa: F811
    """No false alarm: every saved checkpoint loads as encoder and, with a decoder, whole."""
    folders, _ = hub
    for name, folder in folders.items():
        load_encoder(folder)
        if name not in ("vit", "bert-bare"):
            load_encoder(folder, autoencoder=True)


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("kind", sorted(DAMAGES))
@pytest.mark.parametrize("command", ["count", "bench"])
def test_count_and_bench_fail_on_a_damaged_config_and_ignore_the_weights(damaged, kind,
                                                                         command, capsys):
    """count and bench build the architecture randomly initialised: config.json must be
    sound, the weights are never read (so their damage does not matter there)."""
    folder = damaged(kind)
    before = snapshot(folder)
    argv = [command, "--model", "dreamnet", *MODEL_FLAGS, "--encoder", str(folder)]
    if command == "bench":
        argv += ["--batch-size", "2", "--steps", "1", "--warmup", "0"]
    rc = main(argv)
    if kind in CONFIG_DAMAGES:
        assert rc == 2
        assert_names_the_damage(error_line(capsys), folder, kind)
    else:
        assert rc == 0, capsys.readouterr().err
        assert json.loads(capsys.readouterr().out)
    assert snapshot(folder) == before


@pytest.mark.parametrize("kind", sorted(DAMAGES))
def test_train_fails_in_one_line_and_leaves_no_run_folder(damaged, kind, tmp_path, capsys,
                                                          monkeypatch):
    folder = damaged(kind)
    before = snapshot(folder)
    if kind != "bin-garbage":  # found by check_run: before the run folder is claimed
        def claimed(*args, **kwargs):
            raise AssertionError("the run folder was claimed before the encoder was checked")

        monkeypatch.setattr(train_module, "claim_folder", claimed)
    run = tmp_path / "runs" / "new"

    rc = main(["train", *TRAIN_FLAGS, "--encoder", str(folder), "--out", str(run)])

    assert rc == 2
    assert_names_the_damage(error_line(capsys), folder, kind)
    assert not run.exists()
    assert kind == "bin-garbage" or not run.parent.exists()  # nothing was even created
    assert snapshot(folder) == before


@pytest.mark.parametrize("kind", ["bin-garbage", "weights-do-not-fit", "config-cut-short"])
def test_train_gives_an_empty_run_folder_back_empty(damaged, kind, tmp_path, capsys):
    """A pytorch_model.bin fails only the real load, after the run folder was claimed: the
    failed start gives it back as it found it, so the corrected command is not refused."""
    folder = damaged(kind)
    run = tmp_path / "empty-run"
    run.mkdir()
    assert main(["train", *TRAIN_FLAGS, "--encoder", str(folder), "--out", str(run)]) == 2
    assert_names_the_damage(error_line(capsys), folder, kind)
    assert list(run.iterdir()) == []
