"""One validation layer: arguments checked against the dataset and the model before anything
is written.

:meth:`RunConfig.validate <dreamlib.runs.RunConfig.validate>` and
:meth:`ModelConfig.resolved <dreamlib.config.ModelConfig.resolved>` check each number on its
own (a range, a name). What needs the dataset or the model is checked here, once, by the
commands and by :func:`dreamlib.train.train_run` / :func:`dreamlib.pretrain.pretrain` before a
run folder or the encoder cache is touched:

* the dataset: its task, its files where ``--data-dir`` says (located, not read), and
  ``num_classes`` equal to its classes (fewer make a target out of range, more make MixUp's
  soft targets the wrong width);
* the input pipeline: images have 1 or 3 channels; a tokenizer needs room for its special
  tokens plus one real token in ``seq_len``;
* the model: it is built on the ``meta`` device (shapes only, no memory, milliseconds), so
  every build-time error surfaces here, and its size is compared with this machine's memory
  instead of ending in an allocator error;
* precision: fp16 autocast needs CUDA (on a CPU it would run fp32 and be recorded as fp16).

Every failure is one :class:`~dreamlib.errors.ConfigError` naming the culprit and the fix.
"""

from __future__ import annotations

import os

import torch

from .config import ModelConfig
from .errors import ConfigError, DreamlibError, choice_error
from .runs import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_ITEMS, MAX_SEED, RunConfig

MAX_IMAGE_SIZE = 1024  # the paper's inputs are 224 px; beyond this a number is a typo
MAX_SEQ_LEN = 8192  # the paper's encoders hold 512 tokens
MAX_WIDTH = 4096  # the paper's ResNets have 64 base channels, its LSTMs 128 units
MAX_NUM_CLASSES = 1_000_000  # ImageNet-21k has 21,841
MAX_THREADS = max(256, os.cpu_count() or 1)  # torch accepts a million and starts them
MAX_PRETRAIN_RATE = 1.0  # AdamW's lr and weight decay (the recipes use 1e-3 and 0.05)
IMAGE_CHANNELS = (1, 3)  # grey or RGB: what the image pipeline converts between
MAX_BENCH_BATCH = 4096  # a benchmark batch, not a training run: the paper's is 128
MAX_BENCH_STEPS = 100_000
# datasets whose classes are read from the files (class folders, wnids.txt), not fixed by the
# registry: their num_classes is checked once the data is loaded (dreamlib.train)
CLASSES_FROM_FILES = ("imagenet-1k", "tiny-imagenet")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_model(model: ModelConfig, training: bool) -> ModelConfig:
    """``model`` resolved, after checking what only the model can tell: input sizes it can
    take, and whether it fits this machine's memory (``training``: with gradients and Adam's
    two moments). Builds it on the meta device; nothing is allocated or downloaded."""
    model = model.resolved()
    if model.task == "vision" and model.in_channels not in IMAGE_CHANNELS:
        raise ConfigError(f"in_channels must be 1 (grey) or 3 (RGB), got {model.in_channels!r}; "
                          "pass --in-channels 1 or 3, or leave it out (it follows the dataset)")
    limits = [("image_size", MAX_IMAGE_SIZE), ("in_channels", max(IMAGE_CHANNELS)),
              ("seq_len", MAX_SEQ_LEN), ("num_classes", MAX_NUM_CLASSES), ("width", MAX_WIDTH)]
    for name, high in limits:
        value = getattr(model, name)
        if not _is_int(value) or not 1 <= value <= high:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{name} must be an integer >= 1 and <= {high}, got {value!r}; "
                              f"pass {flag} between 1 and {high}")
    _check_size(model, training)
    return model


def _check_size(model: ModelConfig, training: bool) -> None:
    """Refuse a model whose parameters alone exceed this machine's memory."""
    from .models import build_model

    try:
        with torch.device("meta"):
            net = build_model(model, pretrained=False)
    except DreamlibError:
        raise
    except Exception:  # noqa: BLE001 - a layer without meta support: the real build decides
        return
    params = list(net.parameters())
    total = sum(p.numel() for p in params) + sum(b.numel() for b in net.buffers())
    trainable = sum(p.numel() for p in params if p.requires_grad)
    need = 4 * total + (12 * trainable if training else 0)  # fp32; + grad, Adam m and v
    have = memory_bytes(training)
    if have and need > have:
        name, largest = max(net.named_parameters(), key=lambda item: item[1].numel())
        what = "to train (weights, gradients, Adam state)" if training else "of weights"
        raise ConfigError(
            f"model {model.label()} would have {total:,} parameters, {need / 1e9:,.1f} GB "
            f"{what}, more than the {have / 1e9:.1f} GB of memory here (largest: {name} of "
            f"shape {tuple(largest.shape)}); lower --num-classes, --width or --image-size"
        )


def memory_bytes(training: bool = False) -> int | None:
    """Memory a model lives in: the GPU's when training on one, else this machine's RAM."""
    if training and torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(0).total_memory)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def min_seq_len(encoder: str) -> int:
    """The shortest ``seq_len`` a tokenizer fills with at least one real token."""
    from .encoders import HUB_ARCHITECTURES, load_tokenizer

    if encoder in HUB_ARCHITECTURES:  # not downloaded just to check: every text family here
        return 3  # (BERT, RoBERTa, DistilBERT, XLNet) adds 2 special tokens
    try:
        specials = load_tokenizer(encoder).num_special_tokens_to_add(pair=False)
    except Exception:  # noqa: BLE001 - no tokenizer here: loading the data reports that
        return 1
    return specials + 1


def _check_seq_len(seq_len: int, encoder: str, flag: str = "--seq-len") -> None:
    low = min_seq_len(encoder)
    if seq_len < low:
        raise ConfigError(
            f"seq_len {seq_len} leaves no room for text: the tokenizer of {encoder} adds "
            f"{low - 1} special tokens; pass {flag} {low} or more"
        )


def check_run(cfg: RunConfig) -> RunConfig:
    """``cfg`` validated against its dataset and its model (see the module docstring)."""
    from .data import _locate, dataset_names, get_info

    cfg = cfg.validate()
    model = check_model(cfg.model, training=True)
    info = get_info(cfg.dataset)
    if info.task != model.task:
        raise choice_error(f"{model.task} dataset", cfg.dataset, dataset_names(model.task))
    for split in ("train", "test"):  # a missing or misplaced data folder (cheap: no reading)
        _locate(info, split, cfg.data_dir)
    if info.name not in CLASSES_FROM_FILES and model.num_classes != info.num_classes:
        raise ConfigError(
            f"num_classes {model.num_classes} does not match the {info.num_classes} classes of "
            f"dataset {info.name!r}; leave --num-classes out (it follows the dataset)"
        )
    if cfg.precision == "fp16" and not torch.cuda.is_available():
        raise ConfigError(
            "precision fp16 needs a CUDA GPU: on a CPU its autocast does nothing, so the run "
            "would be fp32 recorded as fp16; use --precision bf16 or fp32 here"
        )
    if model.task == "text" and model.chain != "charcnn":
        _check_seq_len(model.seq_len, model.encoder)
    return cfg


def check_loaded_classes(cfg: RunConfig, found: int) -> None:
    """After loading: the model's outputs must match the classes the data holds."""
    if cfg.model.num_classes != found:
        raise ConfigError(
            f"num_classes {cfg.model.num_classes} does not match the {found} classes found in "
            f"dataset {cfg.dataset!r}; pass --num-classes {found}"
        )


def check_pretrain(cfg, threads: int | None = None) -> None:
    """A :class:`~dreamlib.pretrain.PretrainConfig`'s numbers (and the thread count) against
    their ranges and its encoder (what ``PretrainConfig.validate`` does not cover), before any
    data is read."""
    from .encoders import encoder_config

    checks = [("epochs", cfg.epochs, 1, MAX_EPOCHS), ("patience", cfg.patience, 1, MAX_EPOCHS),
              ("heldout", cfg.heldout, 1, MAX_ITEMS),
              ("batch_size", cfg.batch_size, 1, MAX_BATCH_SIZE), ("seed", cfg.seed, 0, MAX_SEED)]
    if cfg.max_items is not None:
        checks.append(("max_items", cfg.max_items, 1, MAX_ITEMS))
    if threads is not None:
        checks.append(("threads", threads, 1, MAX_THREADS))
    for name, value, low, high in checks:
        if not _is_int(value) or not low <= value <= high:
            raise ConfigError(f"{name} must be an integer >= {low} and <= {high}, got {value!r}")
    for name, value in (("lr", cfg.lr), ("weight_decay", cfg.weight_decay)):
        if not value <= MAX_PRETRAIN_RATE:  # a NaN fails this too
            raise ConfigError(f"{name} {value!r} is above {MAX_PRETRAIN_RATE}: AdamW diverges "
                              f"(or overflows) there; pass --{name.replace('_', '-')} 0.001")
    if cfg.encoder != "mae-small":  # a text encoder: mlm-small, or MiniLM's head
        base = "mlm-small" if cfg.encoder == "mlm-small" else "minilm"
        positions = int(encoder_config(base).max_position_embeddings)
        if not _is_int(cfg.seq_len) or cfg.seq_len > positions:
            raise ConfigError(f"seq_len {cfg.seq_len!r} exceeds the {positions} positions of "
                              f"{base}; pass --seq-len {positions} or less")
        _check_seq_len(cfg.seq_len, base)



def check_bench(batch_size, steps, warmup) -> None:
    """The numbers of ``bench`` (its model goes through :func:`check_model`)."""
    checks = [("batch size", "--batch-size", batch_size, 1, MAX_BENCH_BATCH),
              ("steps", "--steps", steps, 1, MAX_BENCH_STEPS),
              ("warm-up steps", "--warmup", warmup, 0, MAX_BENCH_STEPS)]
    for name, flag, value, low, high in checks:
        if not _is_int(value) or not low <= value <= high:
            raise ConfigError(f"{name} must be >= {low} and <= {high}, got {value!r}; pass "
                              f"{flag} between {low} and {high}")
