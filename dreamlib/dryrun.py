"""Paper scale before the first GPU hour: a dry run of every notebook at the paper's
configuration, and the plan of what a real run will cost.

``python -m dreamlib reproduce --profile paper --dry-run`` executes every notebook of the
``paper`` profile end to end on CPU, with the paper's models as they are (224 px images,
128 tokens, ViT/MAE/RoBERTa base and large, bf16 autocast, the linear heads), but

* the datasets are tiny generated copies in their standard on-disk layouts
  (:func:`write_datasets`: CIFAR-100 python pickles, ``ag_news_csv``), read by the real readers;
* the hub encoders are the real architectures with random weights, saved into a private
  Hugging Face cache (:func:`write_hub_cache`), so ``from_pretrained("roberta-base")`` runs
  exactly the code a GPU user runs, offline;
* every run trains for one epoch of a few examples (:data:`DRY_RUN_OVERRIDES`), so a bug in
  notebook 07 shows up in minutes instead of after many GPU-hours;
* a run whose weights, gradients, Adam state and checkpoint would not fit
  :data:`~dreamlib.runtime.DRY_RUN_MEMORY` trains with a narrower chain
  (:func:`~dreamlib.runtime.within_memory`: the same code path, fewer channels), and each
  finished run's checkpoint is deleted, so the whole dry run fits a 24 GiB, 40 GB-disk
  machine. The authors' linear heads map the encoder's tokens onto a whole feature map: with
  a ResNet50 chain at 224 px SleepNet-2 holds 1.0 billion parameters, about 36 GiB to train
  on CPU with its checkpoint.

The notebooks' context (:mod:`dreamlib.runtime`) applies the overrides and the memory fit
to every run: this module prepares the data and hub cache (:func:`prepare`) and runs the
batch (:mod:`dreamlib.reproduce`) with the overrides in the environment.

Before it runs, the dry run prints the plan (:func:`plan_text`): per notebook, the runs it
trains and their training FLOPs at the paper's full sizes, and the GPU-hours they need on the
paper's own hardware, calibrated on the paper's Table 5.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import transformers
from tokenizers import ByteLevelBPETokenizer

from . import paper
from .encoders import encoder_config, has_decoder, load_backbone
from .experiments import notebook_entries
from .report import markdown
from .reproduce import notebooks as notebook_paths
from .reproduce import reproduce
from .runtime import DRY_RUN_ENV, DRY_RUN_MEMORY, dry_run_config, training_bytes
from .schedule import unique_runs
from .plan import (CALIBRATION, PlannedRun, calibration, costed_runs,  # noqa: F401
                   forward_flops, gpu_hours, plan_table, split_sizes)
from .shipped import minilm_path

#: What a dry run changes in each run: one epoch over a handful of examples, batch 2.
DRY_RUN_OVERRIDES = {"epochs": 1, "batch_size": 2, "max_train": 4, "max_test": 4,
                     "eval_every": 1}
FIXTURE_EXAMPLES = {"cifar100": (200, 100), "ag_news": (16, 8)}  # (train, test) per dataset
_WORDS = ("market shares rose as the company reported profit while the team won the final game "
          "and scientists found a new planet after the election the minister said talks would "
          "resume on monday").split()


# ------------------------------------------------------------------------------------------
# Data in the standard layouts
# ------------------------------------------------------------------------------------------


def write_cifar100(root: Path, train: int, test: int, seed: int = 0) -> Path:
    """``root/cifar-100-python/{train,test,meta}`` as the official release pickles them:
    uint8 rows of 3072 (channel-major 32×32), fine and coarse labels; every class present."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", train), ("test", test)):
        fine = [i % 100 for i in range(n)]
        batch = {b"filenames": [f"{split}_{i}.png".encode() for i in range(n)],
                 b"batch_label": f"{split} batch".encode(), b"fine_labels": fine,
                 b"coarse_labels": [label // 5 for label in fine],
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        (folder / split).write_bytes(pickle.dumps(batch))
    meta = {b"fine_label_names": [f"class_{i}".encode() for i in range(100)],
            b"coarse_label_names": [f"super_{i}".encode() for i in range(20)]}
    (folder / "meta").write_bytes(pickle.dumps(meta))
    return folder


def write_ag_news(root: Path, train: int, test: int, seed: int = 0) -> Path:
    """``root/ag_news_csv/{train,test}.csv`` (no header; class 1-4, title, description, all
    quoted) and ``classes.txt``, as the original release; every class present."""
    folder = root / "ag_news_csv"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", train), ("test", test)):
        with open(folder / f"{split}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
            for i in range(n):
                words = rng.choice(_WORDS, size=40)
                writer.writerow([str(i % 4 + 1), " ".join(words[:6]).title(), " ".join(words[6:])])
    (folder / "classes.txt").write_text("World\nSports\nBusiness\nSci/Tech\n")
    return folder


def write_datasets(root: str | os.PathLike) -> Path:
    """Tiny copies of the paper profile's datasets in their standard layouts under ``root``
    (pass it as ``--data-dir``)."""
    root = Path(root)
    writers = {"cifar100": write_cifar100, "ag_news": write_ag_news}
    for name in paper.MAIN_DATASETS.values():
        writers[name](root, *FIXTURE_EXAMPLES[name])
    return root


# ------------------------------------------------------------------------------------------
# The hub encoders: real architectures, random weights, in a private Hugging Face cache
# ------------------------------------------------------------------------------------------

_SNAPSHOT = "0" * 40  # the commit hash of every snapshot in the private cache


def _cache_folder(cache: Path, name: str) -> Path:
    """The snapshot folder ``from_pretrained(name)`` reads offline from hub cache ``cache``."""
    repo = cache / ("models--" + name.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(_SNAPSHOT)
    folder = repo / "snapshots" / _SNAPSHOT
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _random_backbone(name: str):
    """``name``'s architecture with random weights, as the class its checkpoint on the hub
    holds (an MAE or masked LM with its decoder, a ViT without)."""
    torch.manual_seed(0)
    model = load_backbone(name, autoencoder=has_decoder(encoder_config(name)), pretrained=False)
    model.config.architectures = [model.__class__.__name__]
    return model


def _tokenizer_for(name: str, texts: list[str]):
    """A tokenizer of the family ``name`` uses, trained on ``texts`` (the real vocabularies
    cannot be downloaded here): WordPiece for BERT-likes (the packaged MiniLM's), byte-level
    BPE for RoBERTa, with the model's special-token ids."""
    model_type = encoder_config(name).model_type
    if model_type in ("bert", "distilbert"):
        return transformers.AutoTokenizer.from_pretrained(minilm_path())
    if model_type != "roberta":
        return None  # vision encoders have none; XLNet's sentencepiece is not generated here
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=600, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    return transformers.RobertaTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>",
                                             eos_token="</s>", sep_token="</s>",
                                             cls_token="<s>", unk_token="<unk>",
                                             pad_token="<pad>", mask_token="<mask>")


def write_hub_cache(cache: str | os.PathLike, names, log=print) -> Path:
    """Save each hub encoder in ``names`` with random weights (and its tokenizer) into the
    Hugging Face hub cache ``cache`` (pass it as ``HF_HUB_CACHE``)."""
    cache = Path(cache)
    texts = [" ".join(_WORDS[i:] + _WORDS[:i]) for i in range(len(_WORDS))]
    for name in sorted(names):
        folder = _cache_folder(cache, name)
        done = folder / ".dry-run-complete"  # written last: a killed save is redone
        if done.is_file():
            continue
        log(f"dry run: random {name} -> {folder}")
        _random_backbone(name).save_pretrained(str(folder))
        tokenizer = _tokenizer_for(name, texts)
        if tokenizer is not None:
            tokenizer.save_pretrained(str(folder))
        done.touch()
    return cache


def hub_encoders(profile: str, notebooks=None) -> set[str]:
    """The paper's hub encoders (:data:`dreamlib.paper.HUB_ENCODERS`) that the grids of
    ``profile`` use (of the ``notebooks`` given, e.g. ["02", "08"]; default all)."""
    return {entry.cfg.model.encoder for entry in notebook_entries(profile, notebooks)
            if entry.cfg.model.encoder in paper.HUB_ENCODERS}


def prepare(root: str | os.PathLike, profile: str = "paper", notebooks=None, log=print) -> dict:
    """Data and hub cache of a dry run of ``notebooks`` (default all) under ``root``; returns
    the environment its notebooks need (offline hub cache, run overrides) and the data folder."""
    root = Path(root)
    data = write_datasets(root / "data")
    cache = write_hub_cache(root / "hub", hub_encoders(profile, notebooks), log=log)
    env = {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           DRY_RUN_ENV: json.dumps(DRY_RUN_OVERRIDES)}
    return {"data_dir": str(data), "env": env}


def plan_text(profile: str = "paper", notebooks=None) -> str:
    """The plan of ``notebooks`` (default all) as Markdown, with the calibration it rests on."""
    rates = calibration(profile)
    table = plan_table(costed_runs(profile, notebooks), rates)
    gpu = paper.HARDWARE["gpu"]
    lines = [f"Plan of `reproduce --profile {profile}` (full sizes, {gpu} as in the paper):", "",
             markdown(table), "",
             "GPU-hours: each run's training FLOPs (forward FLOPs per example from `count`, × 3 "
             "for the backward pass, × training examples × epochs, plus one forward per test "
             "example) at the FLOP rate Table 5 implies for its kind of model: "
             + ", ".join(f"{name} {rate / 1e12:.2f} TFLOP/s" for name, rate in rates.items())
             + "."]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# The dry run itself
# ------------------------------------------------------------------------------------------


def narrowed_runs(profile: str, notebooks) -> list[str]:
    """One line per run of ``notebooks`` that the dry run trains narrower
    (:func:`dreamlib.runtime.within_memory`)."""
    lines = []
    for cfg in unique_runs(notebook_entries(profile, notebooks)):
        fitted = dry_run_config(cfg, DRY_RUN_OVERRIDES)
        full = cfg.model.resolved()
        if fitted.model.width != full.width:
            lines.append(f"dry run: {full.label()} on {full.chain} needs about "
                         f"{training_bytes(full) / 2**30:.0f} GiB to train here, more than the "
                         f"dry run's {DRY_RUN_MEMORY / 2**30:.0f} GiB: its chain trains at width "
                         f"{fitted.model.width} instead of {full.width}")
    return lines


def dry_run(profile: str = "paper", only: str | None = None, output_dir: str | None = None,
            log=print, progress: bool = True) -> int:
    """Print the plan, then execute the notebooks of ``profile`` on generated data and random
    hub encoders, a few steps per run, under ``output_dir`` (default: a new temporary
    folder, kept so the executed notebooks can be read). Returns the number that failed."""
    selected = [path.name[:2] for path in notebook_paths(only)]
    root = Path(output_dir or tempfile.mkdtemp(prefix=f"dreamlib-dry-run-{profile}-")).resolve()
    log(plan_text(profile, selected))
    log(f"\ndry run of profile {profile!r} in {root}")
    for line in narrowed_runs(profile, selected):
        log(line)
    prepared = prepare(root / "inputs", profile, selected, log=log)

    @contextmanager
    def environment(values: dict):
        saved = {key: os.environ.get(key) for key in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    with environment(prepared["env"]):
        return reproduce(profile, ",".join(selected), str(root / "out"), None,
                         prepared["data_dir"], log=log, progress=progress)
