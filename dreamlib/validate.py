"""One validation layer: arguments checked against the dataset and the model before anything
is written.

Each config checks its own fields (type and range, a name):
:meth:`RunConfig.validate <dreamlib.runs.RunConfig.validate>`,
:meth:`ModelConfig.resolved <dreamlib.config.ModelConfig.resolved>` and
:meth:`PretrainConfig.validate <dreamlib.pretrain.PretrainConfig.validate>`. What needs the
dataset, this machine's memory or a built model is checked here, once, by the commands and by
:func:`dreamlib.train.train_run` / :func:`dreamlib.pretrain.pretrain` before a run folder or a
weights folder is touched:

* the dataset: its task, its files where ``--data-dir`` says (located, not read), and
  ``num_classes`` equal to its classes (fewer make a target out of range, more make MixUp's
  soft targets the wrong width);
* the input pipeline: a tokenizer needs room for its special tokens plus one real token in
  ``seq_len``, and an encoder's positions must hold it;
* the model: it is built on the ``meta`` device (shapes only, no memory, milliseconds), so
  every build-time error surfaces here, and its size is compared with this machine's memory
  instead of ending in an allocator error;
* precision: fp16 autocast needs CUDA (on a CPU it would run fp32 and be recorded as fp16).

Every failure is one :class:`~dreamlib.errors.ConfigError` naming the culprit and the fix.
"""

from __future__ import annotations

import os

import torch

from .config import ModelConfig, check_int
from .data import dataset_names, get_info, locate
from .encoder_folders import check_folder_weights
from .encoders import HUB_ARCHITECTURES, encoder_config, is_local_folder, load_tokenizer
from .errors import ConfigError, DreamlibError, choice_error
from .models import build_model
from .runs import RunConfig

MAX_BENCH_BATCH = 4096  # a benchmark batch, not a training run: the paper's is 128
MAX_BENCH_STEPS = 100_000
# datasets whose classes are read from the files (class folders, wnids.txt), not fixed by the
# registry: their num_classes is checked once the data is loaded (dreamlib.train)
CLASSES_FROM_FILES = ("imagenet-1k", "tiny-imagenet")


def check_model(model: ModelConfig, training: bool) -> ModelConfig:
    """``model`` resolved (its own checks), then checked for what only the built model can
    tell: whether it builds, and whether it fits this machine's memory (``training``: with
    gradients and Adam's two moments). Built on the meta device; nothing is allocated or
    downloaded."""
    model = model.resolved()
    _check_size(model, training)
    return model


def _check_size(model: ModelConfig, training: bool, weights: bool = False) -> None:
    """Refuse a model whose parameters alone exceed this machine's memory; with ``weights``
    (a run that loads them), also an encoder folder whose weights do not fit its config.json
    (:func:`~dreamlib.encoder_folders.check_folder_weights`: the safetensors header only). A damaged
    encoder folder (config.json) is a DreamlibError from the build, raised here."""
    try:
        with torch.device("meta"):
            net = build_model(model, pretrained=False)
    except DreamlibError:
        raise
    except Exception:  # noqa: BLE001 - a layer without meta support: the real build decides
        return
    encoder = getattr(net, "encoder", None)
    if weights and encoder is not None and is_local_folder(str(model.encoder)):
        check_folder_weights(model.encoder, encoder.backbone, model.encoder)
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
    if encoder in HUB_ARCHITECTURES:  # not downloaded just to check: every text family here
        return 3  # (BERT, RoBERTa, DistilBERT, XLNet) adds 2 special tokens
    # mlm-small's tokenizer is MiniLM's trimmed (dreamlib.vocab): the same special tokens, and
    # MiniLM's is there even before mlm-small is pre-trained or where its weights are missing
    source = "minilm" if encoder == "mlm-small" else encoder
    try:
        specials = load_tokenizer(source).num_special_tokens_to_add(pair=False)
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
    """``cfg`` validated (its own checks, once), then against its dataset and its model (see
    the module docstring)."""
    cfg = cfg.validate()
    model = cfg.model
    _check_size(model, training=True, weights=cfg.pretrained)
    info = get_info(cfg.dataset)
    if info.task != model.task:
        raise choice_error(f"{model.task} dataset", cfg.dataset, dataset_names(model.task))
    for split in ("train", "test"):  # a missing or misplaced data folder (cheap: no reading)
        locate(info, split, cfg.data_dir)
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


def check_pretrain(cfg) -> None:
    """A :class:`~dreamlib.pretrain.PretrainConfig` (already validated on its own) against its
    dataset and its encoder, before any data is read: the dataset's task, and a ``seq_len``
    that the encoder's positions hold and its tokenizer leaves room in."""
    if get_info(cfg.dataset).task != cfg.task:
        raise ConfigError(f"dataset {cfg.dataset!r} is not a {cfg.task} dataset, which "
                          f"{cfg.encoder} pre-trains on; choose one of: "
                          + ", ".join(dataset_names(cfg.task)))
    if cfg.task == "text":  # mlm-small, or MiniLM's head
        base = "mlm-small" if cfg.encoder == "mlm-small" else "minilm"
        positions = int(encoder_config(base).max_position_embeddings)
        if cfg.seq_len > positions:
            raise ConfigError(f"seq_len {cfg.seq_len!r} exceeds the {positions} positions of "
                              f"{base}; pass --seq-len {positions} or less")
        _check_seq_len(cfg.seq_len, base)


def check_bench(batch_size, steps, warmup) -> None:
    """The numbers of ``bench`` (its model goes through :func:`check_model`)."""
    check_int("batch size", batch_size, 1, MAX_BENCH_BATCH, "--batch-size")
    check_int("steps", steps, 1, MAX_BENCH_STEPS, "--steps")
    check_int("warm-up steps", warmup, 0, MAX_BENCH_STEPS, "--warmup")
