"""Dreams: what a trained DreamNet's autoencoder reconstructs inside its blocks (Fig 6, Table 1),
and what the pre-trained MAE alone reconstructs of a test image (notebook 01).

When a grid trains a DreamNet (:func:`dreamlib.schedule.run_entries`), the run keeps the dreams
of its first :data:`STORED_EXAMPLES` test examples in ``dreams.safetensors`` beside its
metrics: a few kilobytes, committed with the results, so the figures read them on any clone.
Checkpoints are not committed (megabytes per run).

Reading dreams never changes a run folder. Without a stored file (a run trained by the
``train`` command, or an older one) the dreams are computed from the checkpoint; without a
checkpoint the run is retrained in a temporary folder (training is deterministic, so that is
the same model) and the committed ``metrics.json`` stays as it is.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from .encoders import load_encoder, load_tokenizer
from .models import build_model
from .pretrain_data import encoder_images
from .errors import ConfigError
from .runs import (CHECKPOINT_FILE, CONFIG_FILE, RunConfig, atomic_write_bytes, damaged,
                   load_config)
from .train import load_weights, resolve_encoder_source, train_run
from .transforms import collate, load_data, model_inputs


def run_config(folder: str | os.PathLike) -> RunConfig:
    """The config of the run in ``folder``, for a reader: a missing folder, a folder that is
    not a run's, or a damaged config.json is one error naming the path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"run folder {folder} does not exist (or is not a folder); pass the "
                          "folder of a finished run, such as results/runs/<hash>")
    fix = (f"restore it (`git checkout {folder / CONFIG_FILE}` for a committed run), or delete "
           f"{folder} and train the run again")
    cfg = load_config(folder, fix)
    if cfg is None:
        raise ConfigError(f"{folder} holds no {CONFIG_FILE}, so it is not a run folder; pass "
                          "the folder of a finished run, such as results/runs/<hash>")
    return cfg.validate()


def load_trained(folder: str | os.PathLike) -> tuple[nn.Module, RunConfig]:
    """The trained model of a finished run folder (eval mode) and its config. Without a
    checkpoint the run is retrained in a temporary folder (deterministic: the same model)."""
    folder = Path(folder)
    cfg = run_config(folder)
    checkpoint = folder / CHECKPOINT_FILE
    fix = "delete it (the run is then retrained in a temporary folder: the same model)"
    with tempfile.TemporaryDirectory(prefix="dreamlib-retrain-") as scratch:
        if not checkpoint.exists():
            train_run(cfg, Path(scratch) / folder.name, progress=False)
            checkpoint = Path(scratch) / folder.name / CHECKPOINT_FILE
            fix = "train the run again"
        try:
            weights = torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]
        except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is the same problem
            raise damaged(checkpoint, f"not a checkpoint of dreamlib ({exc.__class__.__name__})",
                          fix) from None
    source = resolve_encoder_source(cfg)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, pretrained=True, encoder_source=source)
    try:
        load_weights(model, weights)
    except (KeyError, RuntimeError) as exc:  # keys, or a tensor of another shape
        reason = str(exc).strip("'\"").splitlines()[0][:200]
        raise damaged(checkpoint, f"its weights do not match the run's model ({reason})",
                      fix) from None
    return model.eval(), cfg


DREAMS_FILE = "dreams.safetensors"
STORED_EXAMPLES = 4  # test examples whose dreams a finished DreamNet run keeps


def compute_dreams(folder: str | os.PathLike, count: int = STORED_EXAMPLES) -> dict[str, torch.Tensor]:
    """The raw dreams of a trained DreamNet on its first ``count`` test examples:
    ``inputs`` (images, or token ids) and ``dream_1`` … ``dream_M`` (images, or dream ids)."""
    model, cfg = load_trained(folder)
    data = load_data(dataclasses.replace(cfg, augment=False))  # clean test examples
    batch = collate(data.test, torch.arange(min(count, len(data.test))))
    inputs, _ = model_inputs(batch, cfg.model.task, torch.device("cpu"))
    with torch.no_grad():
        _, dreams = model(*inputs, return_dreams=True)
    tensors = {"inputs": inputs[0]}
    tensors.update({f"dream_{m}": dream for m, dream in enumerate(dreams, start=1)})
    return {name: tensor.detach().contiguous() for name, tensor in tensors.items()}


def store_dreams(folder: str | os.PathLike) -> Path:
    """Keep a finished DreamNet run's dreams in its folder (written atomically), from its
    checkpoint; called right after training, while the checkpoint is there. Images are
    kept in float16 (a figure cannot show the difference; every DreamNet run keeps them)."""
    path = Path(folder) / DREAMS_FILE
    tensors = {name: tensor.half() if tensor.is_floating_point() else tensor
               for name, tensor in compute_dreams(folder).items()}  # images: half the bytes
    atomic_write_bytes(path, save_safetensors(tensors))
    return path


def _stored_dreams(folder: Path, count: int) -> dict[str, torch.Tensor] | None:
    """The dreams a run stored, if it stored at least ``count`` examples."""
    path = folder / DREAMS_FILE
    if not path.is_file():
        return None
    try:
        tensors = load_safetensors(path.read_bytes())
    except (SafetensorError, OSError) as exc:
        raise damaged(path, f"cannot be read ({exc})", "delete it; the dreams are then "
                      "recomputed from the run") from exc
    if len(tensors.get("inputs", ())) < count:
        return None
    return {name: tensor[:count].float() if tensor.is_floating_point() else tensor[:count]
            for name, tensor in tensors.items()}


def collect_dreams(folder: str | os.PathLike, count: int = STORED_EXAMPLES) -> dict:
    """Inputs and per-block dreams of a trained DreamNet on its first ``count`` test examples:
    the stored ones when the run kept them, else computed (nothing is written).

    Vision: ``inputs`` and ``dreams[m]`` are float images in [-1, 1]-ish pixel space.
    Text: ``inputs`` are the test texts and ``dreams[m]`` the decoded dream token sequences.
    """
    folder = Path(folder)
    cfg = run_config(folder)
    if cfg.model.method != "dreamnet":
        raise ConfigError(f"{folder} holds a {cfg.model.label()} run; only DreamNet runs dream "
                          "(pass the folder of a run with method dreamnet)")
    tensors = _stored_dreams(folder, count) or compute_dreams(folder, count)
    inputs = tensors["inputs"]
    dreams = [tensors[f"dream_{m}"] for m in range(1, len(tensors))]
    if cfg.model.task == "vision":
        return {"task": "vision", "inputs": inputs, "dreams": dreams, "config": cfg}
    tokenizer = load_tokenizer(cfg.model.encoder)
    decode = lambda ids: tokenizer.batch_decode(ids, skip_special_tokens=True)  # noqa: E731
    return {"task": "text", "inputs": decode(inputs), "dreams": [decode(d) for d in dreams],
            "config": cfg}


def mae_reconstructions(folder: str | os.PathLike, dataset: str, data_dir=None, count: int = 2,
                        masked: bool = False):
    """(images, reconstructions) of a pre-trained MAE on ``count`` test images of ``dataset``
    (a class-stratified pick, seed 0), with the MAE's fixed evaluation mask (block 0); with
    ``masked=True``, (images, masked inputs, reconstructions), the masked patches of the input
    shown as 0 (mid grey). All C×H×W in [-1, 1], at the MAE's image size."""
    encoder = load_encoder(str(folder), autoencoder=True).eval()
    images = encoder_images(dataset, "test", data_dir, count, encoder.image_size,
                            every_class=False)  # a few images to look at
    with torch.no_grad():
        recon = encoder.reconstruct(images).image
    if not masked:
        return images, recon
    noise = encoder.mask_noise(len(images), images.device, 0)
    visible = encoder.visible_mask(noise, len(images), images.device)
    patches = encoder.backbone.patchify(images) * visible.unsqueeze(-1)
    size = (encoder.image_size, encoder.image_size)
    return images, encoder.backbone.unpatchify(patches, size), recon


def _grey(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """N×C×H×W images as N flattened grey images at ``size`` (to compare a dream with the
    input it came from, whatever the encoder's image size)."""
    grey = images.float().mean(dim=1, keepdim=True)
    grey = nn.functional.interpolate(grey, size=size, mode="bilinear", align_corners=False)
    return grey.flatten(1)


def _correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of every row of ``a`` with every row of ``b``."""
    a = (a - a.mean(1, keepdim=True)) / (a.std(1, keepdim=True) + 1e-8)
    b = (b - b.mean(1, keepdim=True)) / (b.std(1, keepdim=True) + 1e-8)
    return a @ b.T / (a.shape[1] - 1)


def dream_dependence(vision_dreams: dict) -> list[dict]:
    """How much each block's dream depends on its input (Fig 6): per block, the mean Pearson
    correlation of a dream with its own input image (``to_input``) and with the dreams of the
    other inputs (``across_inputs``). A dream that is the same texture whatever the input
    correlates with the others near 1 and with its input near 0; the figure's per-image
    scaling cannot show this, so the page states it."""
    inputs = torch.stack(list(vision_dreams["inputs"]))
    rows = []
    for m, dreams in enumerate(vision_dreams["dreams"], start=1):
        dreams = torch.stack(list(dreams))
        size = tuple(dreams.shape[-2:])
        own = _correlation(_grey(dreams, size), _grey(inputs, size)).diagonal()
        among = _correlation(_grey(dreams, size), _grey(dreams, size))
        n = among.shape[0]
        others = among[~torch.eye(n, dtype=torch.bool)] if n > 1 else torch.tensor([float("nan")])
        rows.append({"block": m, "to_input": float(own.mean()),
                     "across_inputs": float(others.mean())})
    return rows


def dependence_text(rows: list[dict]) -> str:
    """The sentence notebook 09 prints under Fig 6, from :func:`dream_dependence`."""
    parts = [f"block {r['block']}: r = {r['to_input']:.2f} with its own input, "
             f"{r['across_inputs']:.2f} with the other inputs' dreams" for r in rows]
    same = all(r["across_inputs"] > 0.8 and r["across_inputs"] > r["to_input"] + 0.3
               for r in rows)
    verdict = ("The dreams are nearly the same image whatever the input: they follow the "
               "decoder, not the test image." if same else
               "The dreams keep some of their input.")
    return ("Each image above is min-max scaled on its own, so contrast does not compare "
            "across panels. Mean correlation of each dream (in grey, at the dream's size) — "
            + "; ".join(parts) + ". " + verdict)
