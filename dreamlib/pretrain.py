"""Self-supervised "sleep" pre-training of the embedded autoencoders, cached.

The paper's P = θ(φ(x)) is pre-trained without labels before any SleepNet/DreamNet sees it.
At paper scale that is a hub checkpoint (MAE, RoBERTa). At CPU scale dreamlib pre-trains
its own small autoencoders on the training split of the task's dataset, labels unused:

* ``mae-small``: masked image modelling (ViTMAE, 75% of patches masked, pixel loss);
* ``mlm-small``: masked token modelling (BERT, 15% of tokens: 80% [MASK], 10% random, 10% kept).

The result is a ``save_pretrained`` folder keyed by everything that shapes it (architecture,
data fingerprint, epochs, seed, ...), written atomically and verified by a SHA-256 of its
weights before every use. Every run that names the encoder reuses it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .encoders import EMBEDDED_ARCHITECTURES, EMBEDDED_ENCODERS, load_backbone, load_tokenizer
from .errors import ConfigError, DreamlibError, choice_error
from .runs import atomic_write_json, config_hash, current_umask, safe_name

PRETRAIN_FILE = "pretrain.json"
WEIGHTS_FILE = "model.safetensors"
MLM_PROBABILITY = 0.15  # BERT's masking rate


@dataclass(frozen=True)
class PretrainConfig:
    """What a cached pre-trained encoder depends on (all of it enters the cache key)."""

    encoder: str  # "mae-small" | "mlm-small"
    dataset: str
    epochs: int = 5
    max_items: int | None = None  # subset of the training split (None: all of it)
    seq_len: int = 64  # text only
    batch_size: int = 128
    lr: float = 1e-3  # AdamW; high for a quick CPU pre-training of a tiny model
    weight_decay: float = 0.05  # MAE's recipe
    seed: int = 0

    def validate(self) -> PretrainConfig:
        """Check what a typo can break, before any data is read or anything is written."""
        from .data import dataset_names, get_info

        if self.encoder not in EMBEDDED_ENCODERS:
            raise choice_error("encoder to pre-train", self.encoder, EMBEDDED_ENCODERS)
        task = "vision" if self.encoder == "mae-small" else "text"
        if get_info(self.dataset).task != task:
            raise ConfigError(f"dataset {self.dataset!r} is not a {task} dataset, which "
                              f"{self.encoder} pre-trains on; choose one of: "
                              + ", ".join(dataset_names(task)))
        checks = [("pretrain epochs", self.epochs, 1), ("batch_size", self.batch_size, 1),
                  ("seq_len", self.seq_len, 1)]
        if self.max_items is not None:
            checks.append(("max_items", self.max_items, 1))
        for name, value, low in checks:
            if not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr!r}")
        return self

    def key(self, data_fingerprint: str) -> str:
        arch = EMBEDDED_ARCHITECTURES[self.encoder]
        return config_hash({**asdict(self), "architecture": arch, "data": data_fingerprint,
                            "format": 1})


def cache_root() -> Path:
    """Where pre-trained encoders are kept: $DREAMLIB_CACHE (the Makefile sets the project's
    .cache/dreamlib), else ~/.cache/dreamlib."""
    return Path(os.environ.get("DREAMLIB_CACHE") or Path.home() / ".cache" / "dreamlib")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_cached(folder: Path) -> dict:
    """The folder's record, after checking its weights still hash to what was written."""
    record_path = folder / PRETRAIN_FILE
    try:
        record = json.loads(record_path.read_text())
        expected = record["sha256"]
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise DreamlibError(
            f"cached encoder {folder} has no valid {PRETRAIN_FILE}; delete the folder to "
            "pre-train it again"
        ) from exc
    weights = folder / WEIGHTS_FILE
    if not weights.exists() or file_sha256(weights) != expected:
        raise DreamlibError(
            f"cached encoder {folder} is corrupted (weights do not match their SHA-256); "
            "delete the folder to pre-train it again"
        )
    return record


def encoder_images(dataset: str, split: str, data_dir, max_items: int | None, image_size: int,
                   seed: int = 0) -> torch.Tensor:
    """Images of a split as the MAE sees them: image_size, 3 channels, float in [-1, 1], through
    the same pipeline as training (:mod:`dreamlib.transforms`), without augmentation."""
    from .data import load_split
    from .transforms import normalize_batch, prepare_image

    images = load_split(dataset, split, data_dir, max_items, seed=seed).dataset
    return normalize_batch(torch.stack([prepare_image(images[i][0], image_size, 3)
                                        for i in range(len(images))]))


def _images(cfg: PretrainConfig, data_dir, image_size: int) -> torch.Tensor:
    """The training images the MAE pre-trains on."""
    return encoder_images(cfg.dataset, "train", data_dir, cfg.max_items, image_size, cfg.seed)


def mae_reconstructions(folder: str | Path, dataset: str, data_dir=None,
                        count: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, reconstructions) of a pre-trained MAE on the first ``count`` test images of
    ``dataset``: what the reconstruction figure shows."""
    from .encoders import load_encoder

    encoder = load_encoder(str(folder), autoencoder=True).eval()
    images = encoder_images(dataset, "test", data_dir, count, encoder.image_size)
    with torch.no_grad():
        return images, encoder.reconstruct(images).image


def _tokens(cfg: PretrainConfig, data_dir) -> tuple[torch.Tensor, torch.Tensor]:
    from .data import load_split
    from .transforms import tokenize

    split = load_split(cfg.dataset, "train", data_dir, cfg.max_items, seed=cfg.seed)
    return tokenize(split.texts, load_tokenizer(cfg.encoder), cfg.seq_len)


def mask_tokens(ids: torch.Tensor, mask: torch.Tensor, tokenizer, generator: torch.Generator):
    """BERT masking: inputs with 15% of real tokens corrupted, and labels (-100 elsewhere)."""
    special = torch.tensor(tokenizer.all_special_ids)
    candidates = (mask == 1) & ~torch.isin(ids, special)
    chosen = (torch.rand(ids.shape, generator=generator) < MLM_PROBABILITY) & candidates
    labels = ids.masked_fill(~chosen, -100)
    roll = torch.rand(ids.shape, generator=generator)
    inputs = ids.masked_fill(chosen & (roll < 0.8), tokenizer.mask_token_id)
    random_ids = torch.randint(len(tokenizer), ids.shape, generator=generator)
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs = torch.where(swap, random_ids, inputs)
    return inputs, labels


def _train(model, batches, cfg: PretrainConfig, log) -> list[float]:
    """Shared loop: AdamW with a cosine schedule; returns the mean loss of every epoch."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = max(1, cfg.epochs * len(batches(0)))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    losses = []
    model.train()
    for epoch in range(cfg.epochs):
        start, total, count = time.time(), 0.0, 0
        for loss_fn in batches(epoch):
            loss = loss_fn()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total, count = total + loss.item(), count + 1
        losses.append(total / max(count, 1))
        log(f"pretrain {cfg.encoder} on {cfg.dataset}: epoch {epoch + 1}/{cfg.epochs} "
            f"reconstruction loss {losses[-1]:.4f} ({time.time() - start:.1f}s)")
    return losses


def _pretrain_mae(model, cfg: PretrainConfig, data_dir, log) -> list[float]:
    images = _images(cfg, data_dir, int(model.config.image_size))

    def batches(epoch: int):
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(cfg.seed + epoch))
        return [lambda idx=idx: model(pixel_values=images[idx]).loss
                for idx in order.split(cfg.batch_size)]

    return _train(model, batches, cfg, log)


def _pretrain_mlm(model, cfg: PretrainConfig, data_dir, log) -> list[float]:
    ids, mask = _tokens(cfg, data_dir)
    tokenizer = load_tokenizer(cfg.encoder)
    generator = torch.Generator().manual_seed(cfg.seed)

    def loss_of(idx):
        inputs, labels = mask_tokens(ids[idx], mask[idx], tokenizer, generator)
        hidden = model.base_model(input_ids=inputs, attention_mask=mask[idx]).last_hidden_state
        chosen = labels != -100
        # the vocabulary projection dominates the cost: apply the LM head to masked tokens only
        logits = model.cls(hidden[chosen])
        return F.cross_entropy(logits, labels[chosen])

    def batches(epoch: int):
        order = torch.randperm(len(ids), generator=torch.Generator().manual_seed(cfg.seed + epoch))
        return [lambda idx=idx: loss_of(idx) for idx in order.split(cfg.batch_size)]

    return _train(model, batches, cfg, log)


def pretrain(cfg: PretrainConfig, data_dir: str | None = None, root: Path | None = None,
             log=print) -> Path:
    """The folder of ``cfg``'s pre-trained encoder: reused when cached, else trained now."""
    from .data import data_fingerprint

    cfg.validate()
    fingerprint = data_fingerprint(cfg.dataset, "train", data_dir, cfg.max_items, cfg.seed)
    name = safe_name(f"{cfg.encoder}-{cfg.key(fingerprint)}", "cached encoder name")
    folder = (root or cache_root()) / "encoders" / name
    if folder.exists():
        verify_cached(folder)
        return folder
    torch.manual_seed(cfg.seed)
    model = load_backbone(cfg.encoder, autoencoder=True, pretrained=False)
    trainer = _pretrain_mae if cfg.encoder == "mae-small" else _pretrain_mlm
    losses = trainer(model, cfg, data_dir, log)
    _save_atomically(model, folder, {"config": asdict(cfg), "data": fingerprint, "losses": losses})
    return folder


def _save_atomically(model, folder: Path, record: dict) -> None:
    """Write into a temp folder beside ``folder`` and rename it: all of it appears, or none."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes it private; a shared cache must be readable
        model.save_pretrained(str(tmp))
        record["sha256"] = file_sha256(tmp / WEIGHTS_FILE)
        atomic_write_json(tmp / PRETRAIN_FILE, record)
        os.replace(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.exists():  # another process may have finished the same encoder first
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def pretrain_losses(folder: Path) -> list[float]:
    """Per-epoch reconstruction losses recorded when ``folder`` was pre-trained."""
    return verify_cached(folder)["losses"]
