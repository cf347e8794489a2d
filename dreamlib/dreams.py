"""Dreams: what a trained DreamNet's autoencoder reconstructs inside its blocks (Fig 6, Table 1).

Reading dreams never changes a run folder. A finished run whose checkpoint was not kept
(committed results carry no checkpoints) is retrained in a temporary folder: training is
deterministic, so that is the same model, and the committed ``metrics.json`` stays as it is.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from .encoders import load_tokenizer
from .models import build_model
from .runs import CHECKPOINT_FILE, CONFIG_FILE, RunConfig, read_json
from .train import resolve_encoder_source, train_run
from .transforms import collate, load_data, model_inputs


def load_trained(folder: str | os.PathLike) -> tuple[nn.Module, RunConfig]:
    """The trained model of a finished run folder (eval mode) and its config."""
    folder = Path(folder)
    cfg = RunConfig.from_dict(read_json(folder / CONFIG_FILE)).validate()
    checkpoint = folder / CHECKPOINT_FILE
    with tempfile.TemporaryDirectory(prefix="dreamlib-retrain-") as scratch:
        if not checkpoint.exists():
            train_run(cfg, Path(scratch) / folder.name, progress=False)
            checkpoint = Path(scratch) / folder.name / CHECKPOINT_FILE
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    source = resolve_encoder_source(cfg)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, pretrained=True, encoder_source=source)
    model.load_state_dict(state["model"], strict=False)
    return model.eval(), cfg


def collect_dreams(folder: str | os.PathLike, count: int = 4) -> dict:
    """Inputs and per-block dreams of a trained DreamNet on its first ``count`` test examples.

    Vision: ``inputs`` and ``dreams[m]`` are float images in [-1, 1]-ish pixel space.
    Text: ``inputs`` are the test texts and ``dreams[m]`` the decoded dream token sequences.
    """
    model, cfg = load_trained(folder)
    data = load_data(dataclasses.replace(cfg, augment=False))  # clean test examples
    batch = collate(data.test, torch.arange(min(count, len(data.test))))
    inputs, _ = model_inputs(batch, cfg.model.task, torch.device("cpu"))
    with torch.no_grad():
        _, dreams = model(*inputs, return_dreams=True)
    if cfg.model.task == "vision":
        return {"task": "vision", "inputs": inputs[0], "dreams": dreams, "config": cfg}
    tokenizer = load_tokenizer(cfg.model.encoder)
    decode = lambda ids: tokenizer.batch_decode(ids, skip_special_tokens=True)  # noqa: E731
    return {"task": "text", "inputs": decode(inputs[0]), "dreams": [decode(d) for d in dreams],
            "config": cfg}
