"""The model configuration: one frozen dataclass that names everything a model is built from.

A :class:`ModelConfig` is what ``python -m dreamlib count`` and ``train`` build from, what
the run store hashes, and what the experiment grids list. ``resolved()`` fills the per-task
defaults and checks every value, so a bad name fails here with one clear message instead of
deep inside a constructor.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass

from .errors import ConfigError, choice_error

TASKS = ("vision", "text")
METHODS = ("sleepnet", "dreamnet", "baseline", "finetune", "features")
HEADS = ("linear", "grid")  # the choices of A_out (blocks.SLEEP_HEADS, blocks.DREAM_HEADS)
VISION_CHAINS = ("resnet18", "resnet34", "resnet50")
# Table 3's other baselines (dreamlib.models.zoo): whole published networks, baseline only
REFERENCE_BASELINES = ("resnet101", "efficientnet-b7", "efficientnetv2-l", "cvt-21", "cvt-w24")
TEXT_CHAINS = ("lstm", "lstm-1", "lstm-2", "lstm-3", "lstm-4", "wordcnn", "charcnn")
MAX_BLOCKS = 4  # the paper studies M = 1..4; every chain here has 4 stages/layers at most
MIN_IMAGE_SIZE = 16  # the small-image ResNet stem divides by 8: 16 px leaves a 2x2 final map

# Upper bounds of the configs' numbers: far above any real run, so only a typo reaches them (and
# torch's int64 sizes and seeds cannot overflow). Each config checks its own fields against these.
MAX_EPOCHS = 100_000  # the paper trains 30
MAX_BATCH_SIZE = 1_000_000  # the paper uses 128; ImageNet's training split is 1.28M images
MAX_ITEMS = 10**9  # max_train / max_test / max_items: more than any split here
MAX_SEED = 2**32 - 1  # numpy's and torch's seeds; a negative or larger one is refused
MAX_THREADS = max(256, os.cpu_count() or 1)  # torch accepts a million and starts them
MAX_IMAGE_SIZE = 1024  # the paper's inputs are 224 px; beyond this a number is a typo
MAX_SEQ_LEN = 8192  # the paper's encoders hold 512 tokens
MAX_WIDTH = 4096  # the paper's ResNets have 64 base channels, its LSTMs 128 units
MAX_NUM_CLASSES = 1_000_000  # ImageNet-21k has 21,841
IMAGE_CHANNELS = (1, 3)  # grey or RGB: what the image pipeline converts between


def is_int(value) -> bool:
    """An integer, and not a bool (``True`` is an int to Python, never a size to a user)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_int(name: str, value, low: int, high: int, flag: str | None = None) -> None:
    """``value`` must be an integer in [low, high]; else one ConfigError naming ``name`` and,
    when given, the ``flag`` that sets it."""
    if not is_int(value) or not low <= value <= high:
        fix = f"; pass {flag} between {low} and {high}" if flag else ""
        raise ConfigError(f"{name} must be an integer >= {low} and <= {high}, got {value!r}{fix}")


def check_finite(name: str, value, low: float, high: float = math.inf,
                 low_open: bool = False, example: str | None = None) -> None:
    """``value`` must be a finite number in [low, high] (or (low, high] with ``low_open``);
    ``example`` (say ``--lr 0.001``) is offered as the fix."""
    if not is_number(value) or not math.isfinite(value) or \
            not (value > low if low_open else value >= low) or not value <= high:
        bound = f"> {low}" if low_open else f">= {low}"
        limit = "" if high == math.inf else f" and <= {high}"
        fix = f"; use e.g. {example}" if example else ""
        raise ConfigError(f"{name} must be a finite number {bound}{limit}, got {value!r}{fix}")


# Fields renamed since runs were first stored: {name in a stored config: name today}. Stored
# configs read either; the run hash is taken over the stored names (RunConfig.run_hash), so a
# rename leaves every run's folder where it was.
RENAMED_FIELDS = {"model": "method", "head": "a_out"}
# Model fields added since runs were first stored, with the value every earlier run had: the
# run hash leaves a field out while it holds that value (RunConfig.run_hash), so adding a
# field moves no stored run.
LATER_FIELDS = {"dream_readout": "argmax"}
DREAM_READOUTS = ("argmax", "expected")  # text DreamNet: how A_out reads the masked LM's dream

CHAR_VOCAB_SIZE = 257  # CharCNN reads UTF-8 bytes shifted by one; 0 is padding
DEFAULT_CHAIN = {"vision": "resnet18", "text": "lstm"}
DEFAULT_ENCODER = {"vision": "mae-small", "text": "mlm-small"}
DEFAULT_WIDTH = {"vision": 64, "text": 128}  # ResNet base width (paper: 64); LSTM/CNN width


def chain_depth(chain: str) -> int:
    """Number of stages (vision) or layers (text) of a chain: the most sleep blocks it holds."""
    match = re.fullmatch(r"lstm-(\d)", chain)
    return int(match.group(1)) if match else 4


@dataclass(frozen=True)
class ModelConfig:
    """Everything that defines a model. Field comments give the usual value.

    The chain is always complete (ResNet18 keeps its 4 stages, ``lstm`` its 4 layers); the
    first ``blocks`` stages become sleep/dream blocks (paper: SleepNet-M / DreamNet-M).
    """

    task: str = "vision"  # "vision" | "text"
    method: str = "sleepnet"  # "sleepnet" | "dreamnet" | "baseline" (chain only) | "finetune"
    # (encoder only) | "features" (control: chain + the encoder's features of the input at the head)
    chain: str | None = None  # resnet18/34/50 (vision), lstm[-k]/wordcnn/charcnn (text); a
    # baseline may also be one of Table 3's published networks (REFERENCE_BASELINES)
    blocks: int = 2  # M, number of sleep/dream blocks (1..4)
    encoder: str | None = None  # hub name, local folder, "mae-small", "mlm-small", "minilm"
    a_out: str = "linear"  # A_out, the connection's output map: "linear" (authors' code) | "grid"
    # (light: patch grid + conv)
    image_size: int = 32  # input side in pixels (vision)
    in_channels: int = 3  # image channels (1 for fashion-mnist/digits)
    seq_len: int = 64  # tokens (text)
    num_classes: int = 10
    width: int | None = None  # chain width: ResNet base channels (64) / text hidden size (128)
    unfrozen: bool = False  # train the encoder too (own, smaller learning rate)
    mask_ratio: float = 0.75  # MAE masking inside connections (authors' code: the default 0.75)
    straight_through: bool = False  # text: pass gradients through argmax with a straight-through estimator
    dream_readout: str = "argmax"  # text DreamNet: the dream's embedding is that of the argmax
    # token (paper) | "expected": the mean embedding under the masked LM's distribution

    def resolved(self) -> ModelConfig:
        """Return a copy with per-task defaults filled in, after checking every field's type
        and range (what needs a built model, such as memory, is :mod:`dreamlib.validate`'s)."""
        if self.task not in TASKS:
            raise choice_error("task", self.task, TASKS)
        if self.method not in METHODS:
            raise choice_error("method (--model)", self.method, METHODS)
        for name in ("chain", "encoder"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(f"{name} must be a name (a non-empty string), got {value!r}")
        chain = self.chain or DEFAULT_CHAIN[self.task]
        chains = VISION_CHAINS if self.task == "vision" else TEXT_CHAINS
        if self.task == "vision" and chain in REFERENCE_BASELINES:
            if self.method != "baseline":
                raise ConfigError(
                    f"{chain} is one of Table 3's reference baselines, a whole network with no "
                    f"stages for sleep blocks or a head for encoder features; use --model "
                    f"baseline, or a chain of {', '.join(VISION_CHAINS)}")
        elif chain not in chains:
            raise choice_error(f"{self.task} chain", chain, chains)
        if self.a_out not in HEADS:
            raise choice_error("a_out head (--head)", self.a_out, HEADS)
        for name in ("unfrozen", "straight_through"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.dream_readout not in DREAM_READOUTS:
            raise choice_error("dream_readout (--dream-readout)", self.dream_readout,
                               DREAM_READOUTS)
        if self.dream_readout != "argmax" and (self.task, self.method) != ("text", "dreamnet"):
            raise ConfigError(f"dream_readout {self.dream_readout!r} applies to text DreamNet "
                              f"only (a {self.task} {self.method} reads no text dream); drop "
                              "--dream-readout or use --task text --model dreamnet")
        if self.method == "features" and chain == "charcnn":
            raise ConfigError("the encoder-features control reads the chain's token ids with the "
                              "encoder, but charcnn reads bytes; use --chain lstm or wordcnn")
        if self.method in ("sleepnet", "dreamnet"):
            _check_blocks(self.blocks, chain)
        elif not is_int(self.blocks):  # unused without connections, but part of the run's hash
            raise ConfigError(f"blocks must be an integer, got {self.blocks!r}")
        check_int("num_classes", self.num_classes, 2, MAX_NUM_CLASSES, "--num-classes")
        if self.task == "vision":
            if is_int(self.image_size) and self.image_size < MIN_IMAGE_SIZE:
                raise ConfigError(
                    f"image_size {self.image_size} is too small for chain {chain}: it needs at "
                    f"least {MIN_IMAGE_SIZE} px; upsample the input (e.g. --image-size 32)")
            check_int("image_size", self.image_size, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE, "--image-size")
            if self.in_channels not in IMAGE_CHANNELS or not is_int(self.in_channels):
                raise ConfigError(f"in_channels must be 1 (grey) or 3 (RGB), got "
                                  f"{self.in_channels!r}; pass --in-channels 1 or 3, or leave it "
                                  "out (it follows the dataset)")
        else:
            check_int("seq_len", self.seq_len, 1, MAX_SEQ_LEN, "--seq-len")
        if not is_number(self.mask_ratio) or not 0.0 <= self.mask_ratio < 1.0:
            raise ConfigError(f"mask_ratio must be in [0, 1), got {self.mask_ratio!r}")
        width = DEFAULT_WIDTH[self.task] if self.width is None else self.width
        check_int("width", width, 4, MAX_WIDTH, "--width")
        encoder = self.encoder or DEFAULT_ENCODER[self.task]
        return dataclasses.replace(self, chain=chain, encoder=encoder, width=width)

    @property
    def uses_encoder(self) -> bool:
        """Baselines are the chain alone; every other model runs a pre-trained encoder."""
        return self.method != "baseline"

    @property
    def needs_decoder(self) -> bool:
        """DreamNet reconstructs hidden states, so its encoder must be a full autoencoder."""
        return self.method == "dreamnet"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """The config stored as ``data``; the field names of older stores (``model``, ``head``:
        :data:`RENAMED_FIELDS`) are read as today's."""
        data = {RENAMED_FIELDS.get(key, key): value for key, value in data.items()}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model config keys {unknown}; allowed: {sorted(known)}")
        return cls(**data)

    def label(self) -> str:
        """Short human name in the paper's style, e.g. ``DreamNet-3 (mae-small, grid)``."""
        if self.method == "baseline":
            return self.chain or DEFAULT_CHAIN[self.task]
        if self.method == "finetune":
            return f"{self.encoder} (fine-tuned)"
        if self.method == "features":
            return f"{self.chain} + {self.encoder} features"
        name = {"sleepnet": "SleepNet", "dreamnet": "DreamNet"}[self.method]
        return f"{name}-{self.blocks} ({self.encoder}, {self.a_out})"


def _check_blocks(blocks: int, chain: str) -> None:
    if not isinstance(blocks, int) or isinstance(blocks, bool):
        raise ConfigError(f"blocks must be an integer, got {blocks!r}")
    depth = chain_depth(chain)
    if not 1 <= blocks <= MAX_BLOCKS:
        raise ConfigError(
            f"blocks (M) must be between 1 and {MAX_BLOCKS} as in the paper, got {blocks}; "
            "use --model baseline for the chain without sleep blocks"
        )
    if blocks > depth:
        raise ConfigError(
            f"blocks M={blocks} exceeds the {depth} layers of chain {chain}; "
            f"use M <= {depth} or a deeper chain (e.g. lstm-{blocks})"
        )
