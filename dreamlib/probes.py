"""Linear probes: are an encoder's frozen features worth connecting to a chain?

The paper's premise is that the pre-trained autoencoder knows something the chain does not.
A linear probe measures what its frozen features hold: a logistic regression (scikit-learn,
standardised features) fitted on the features of labelled training examples and scored on
the one fixed test set every model uses, beside the same regression on the raw input
(pixels) or a strong bag-of-words reference (TF-IDF, :mod:`dreamlib.references`) fitted on
the *same* examples. Features that do not beat the raw input by a clear margin give a
SleepNet/DreamNet connection little to add.

Features, as the models read them: for an image encoder, the patch tokens of the whole image
(no masking), averaged over the patch grid (``"mean"``: what the encoder-features control
adds at the head) or over each quarter of it (``"grid"``: 2 × 2 cells, some of the spatial
layout a sleep connection's A_out keeps); for a text encoder, the mean of its last hidden
states over the real (non-padding) tokens.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .blocks import masked_mean
from .data import TEST_SUBSET_SEED, load_split
from .encoders import (EMBEDDED_ENCODERS, PACKAGED_ENCODERS, VisionEncoder, load_encoder,
                       load_tokenizer)
from .references import tfidf_accuracy
from .shipped import shipped_folder
from .transforms import normalize_batch, prepare_image, tokenize

PROBE_C = 0.1  # inverse L2 strength; one value for every feature set (none is tuned on test)
PROBE_ITERATIONS = 2000
BATCH = 256
POOLINGS = ("mean", "grid")
RAW, PROBE = "raw input", "frozen encoder, linear probe"
TUNED, CHAIN = "fine-tuned encoder", "chain"
#: The encoders notebook 01 probes: those the CPU profiles ship or package (a hub encoder at
#: 224 px on thousands of images is a GPU job; premise_table lists it as not probed).
PROBED_ENCODERS = (*EMBEDDED_ENCODERS, *PACKAGED_ENCODERS)
MAX_PROBE_TRAIN = 5000  # labelled examples a probe fits on at most (the default's quick scale)


def encoder_source(name: str) -> str:
    """Where ``name``'s pre-trained weights load from: an embedded encoder's shipped folder
    (hashes checked), else the name itself (a packaged or hub encoder, or a folder)."""
    return str(shipped_folder(name)) if name in EMBEDDED_ENCODERS else name


def probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                   test_y: np.ndarray, seed: int = 0) -> float:
    """Test accuracy (0–1) of standardised features + L2 logistic regression (L-BFGS)."""
    from sklearn.linear_model import LogisticRegression  # deferred: slow import
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(),
                          LogisticRegression(C=PROBE_C, max_iter=PROBE_ITERATIONS,
                                             random_state=seed))
    model.fit(train_x, train_y)
    return float(np.mean(model.predict(test_x) == test_y))


def _images(dataset: str, split: str, data_dir, max_items, size: int, channels: int, seed: int):
    loaded = load_split(dataset, split, data_dir, max_items, seed=seed).dataset
    pairs = [loaded[i] for i in range(len(loaded))]
    images = torch.stack([prepare_image(image, size, channels) for image, _ in pairs])
    return images, np.array([int(label) for _, label in pairs])


def image_features(encoder: VisionEncoder, images: torch.Tensor, pooling: str) -> np.ndarray:
    """Frozen patch features of uint8 images already at the encoder's size (see the module
    docstring for ``pooling``)."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    encoder.eval()
    size = 1 if pooling == "mean" else 2
    out = []
    with torch.no_grad():
        for rows in torch.arange(len(images)).split(BATCH):
            tokens = encoder.encode(normalize_batch(images[rows])).tokens  # (B, N, D)
            grid = tokens.transpose(1, 2).reshape(len(rows), -1, encoder.grid, encoder.grid)
            out.append(F.adaptive_avg_pool2d(grid, size).flatten(1))
    return torch.cat(out).numpy()


def vision_probes(encoder_name: str, dataset: str, max_train: int, max_test: int,
                  data_dir: str | os.PathLike | None = None, seed: int = 0) -> dict:
    """{"raw pixels": acc, "<encoder> (mean)": acc, "<encoder> (grid)": acc} on the same
    ``max_train`` labelled training examples (chosen by ``seed``) and the fixed test set."""
    encoder = load_encoder(encoder_source(encoder_name), mask_ratio=0.0)
    size, channels = encoder.image_size, 3
    train_images, train_y = _images(dataset, "train", data_dir, max_train, size, channels, seed)
    test_images, test_y = _images(dataset, "test", data_dir, max_test, size, channels,
                                  TEST_SUBSET_SEED)
    raw = [normalize_batch(x[:, :1]).flatten(1).numpy() for x in (train_images, test_images)]
    out = {"raw pixels": probe_accuracy(raw[0], train_y, raw[1], test_y, seed)}
    for pooling in POOLINGS:
        feats = [image_features(encoder, x, pooling) for x in (train_images, test_images)]
        out[f"{encoder_name} ({pooling})"] = probe_accuracy(feats[0], train_y, feats[1],
                                                            test_y, seed)
    return out


def text_features(encoder, ids: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """Mean of the frozen last hidden states over each text's real tokens."""
    encoder.eval()
    out = []
    with torch.no_grad():
        for rows in torch.arange(len(ids)).split(BATCH):
            hidden = encoder.encode(input_ids=ids[rows], attention_mask=mask[rows])
            out.append(masked_mean(hidden, mask[rows]))
    return torch.cat(out).numpy()


def text_probes(encoder_names: list[str], dataset: str, max_train: int, max_test: int,
                seq_len: int, data_dir: str | os.PathLike | None = None, seed: int = 0) -> dict:
    """{"TF-IDF + logistic regression": acc, "<encoder> (mean)": acc, ...} on the same
    ``max_train`` labelled training texts and the fixed test set (texts cut to ``seq_len``
    tokens, as the models read them)."""
    train = load_split(dataset, "train", data_dir, max_train, seed=seed)
    test = load_split(dataset, "test", data_dir, max_test, seed=TEST_SUBSET_SEED)
    train_y, test_y = np.asarray(train.labels), np.asarray(test.labels)
    out = {"TF-IDF + logistic regression": tfidf_accuracy(dataset, data_dir, max_train,
                                                          max_test, seed)}
    for name in encoder_names:
        encoder, tokenizer = load_encoder(encoder_source(name)), load_tokenizer(name)
        feats = [text_features(encoder, *tokenize(split.texts, tokenizer, seq_len))
                 for split in (train, test)]
        out[f"{name} (mean)"] = probe_accuracy(feats[0], train_y, feats[1], test_y, seed)
    return out


def premise_table(ctx) -> pd.DataFrame:
    """Notebook 01's check of the paper's premise, per task: the raw input's and each frozen
    encoder's linear probe on the profile's labelled training examples, then the fine-tuned
    encoder and the chain as the main table's runs in the store scored them (read only:
    "" where the store does not hold them yet)."""
    from . import experiments  # deferred: experiments imports the training stack
    from .claims import seed_values
    from .config import DEFAULT_CHAIN
    from .report import frame
    from .stats import mean_ci

    rows = []
    for task, grid in (("vision", experiments.table3_vision), ("text", experiments.table4_text)):
        cfg, encoders = experiments.probe_setup(ctx.profile, task)
        train = min(cfg.max_train or MAX_PROBE_TRAIN, MAX_PROBE_TRAIN)
        split = (cfg.dataset, train, cfg.max_test)
        skipped = [name for name in encoders if name not in PROBED_ENCODERS]
        encoders = [name for name in encoders if name in PROBED_ENCODERS]
        if skipped:
            rows.append({"Task": task, "Model": ", ".join(skipped), "Kind": PROBE,
                         "Accuracy %": math.nan, "95 % CI ±": math.nan, "Seeds": "",
                         "Scale": "not probed here: hub encoders at the paper's size need a "
                                  "GPU run of their own"})
        if not encoders:
            probed = {}
        elif task == "vision":
            probed = {}
            for name in encoders:
                probed.update(vision_probes(name, *split, data_dir=ctx.data_dir))
        else:
            probed = text_probes(encoders, *split, seq_len=cfg.model.seq_len,
                                 data_dir=ctx.data_dir)
        note = (f"{cfg.dataset}: {train:,} labelled training examples, "
                f"{'all' if cfg.max_test is None else f'{cfg.max_test:,}'} test")
        for name, accuracy in probed.items():
            kind = RAW if name in ("raw pixels", "TF-IDF + logistic regression") else PROBE
            rows.append({"Task": task, "Model": name, "Kind": kind,
                         "Accuracy %": round(100 * accuracy, 1), "95 % CI ±": math.nan,
                         "Seeds": "", "Scale": note})
        df = frame(ctx.finished(grid(ctx.profile)))
        for label, fields, kind in (("fine-tuned encoder", {"method": "finetune"}, TUNED),
                                    (f"{DEFAULT_CHAIN[task]} (chain)",
                                     {"method": "baseline", "chain": DEFAULT_CHAIN[task]}, CHAIN)):
            values = seed_values(df, **fields)
            ci = mean_ci(values.to_numpy()) if len(values) else None
            rows.append({"Task": task, "Model": label, "Kind": kind,
                         "Accuracy %": math.nan if ci is None else round(ci.mean, 1),
                         "95 % CI ±": math.nan if ci is None else round(ci.half_width, 1),
                         "Seeds": len(values),
                         "Scale": (f"{df['dataset'].iloc[0]}, the main table's runs" if len(df)
                                   else "not in the run store yet")})
    return pd.DataFrame(rows)


def premise_summary(table: pd.DataFrame) -> str:
    """What notebook 01 sees in :func:`premise_table`, written from its numbers (Markdown)."""
    lines = []
    for task, part in table.groupby("Task", sort=False):
        raws = part[part["Kind"] == RAW]
        for _, p in part[(part["Kind"] == PROBE) & part["Accuracy %"].isna()].iterrows():
            lines.append(f"- {task}: {p['Model']} not probed ({p['Scale']}).")
        for _, p in part[(part["Kind"] == PROBE) & part["Accuracy %"].notna()].iterrows():
            raw = raws.iloc[0]
            gap = p["Accuracy %"] - raw["Accuracy %"]
            lines.append(f"- {task}: the frozen `{p['Model']}` features score "
                         f"{p['Accuracy %']:.1f} % in a "
                         f"linear probe, {gap:+.1f} points against {raw['Model']} "
                         f"({raw['Accuracy %']:.1f} %) on the same examples.")
        tuned = part[part["Kind"] == TUNED].iloc[0]
        chain = part[part["Kind"] == CHAIN].iloc[0]
        if math.isnan(tuned["Accuracy %"]) or math.isnan(chain["Accuracy %"]):
            lines.append(f"- {task}: the fine-tuned encoder and the chain are not in the run "
                         "store yet (notebooks 02/03 train them).")
            continue
        held = "above" if tuned["Accuracy %"] > chain["Accuracy %"] else "below"
        lines.append(f"- {task}: fine-tuned, the encoder reaches {tuned['Accuracy %']:.1f} %, "
                     f"{held} the chain's {chain['Accuracy %']:.1f} %"
                     + ("." if held == "above" else
                        ": the premise is not met, and the claims that rest on this encoder "
                        "say so."))
    return "\n".join(lines)
