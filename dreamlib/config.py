"""The model configuration: one frozen dataclass that names everything a model is built from.

A :class:`ModelConfig` is what ``python -m dreamlib count`` and ``train`` build from, what
the run store hashes, and what the experiment grids list. ``resolved()`` fills the per-task
defaults and checks every value, so a bad name fails here with one clear message instead of
deep inside a constructor.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from .errors import ConfigError, choice_error

TASKS = ("vision", "text")
MODELS = ("sleepnet", "dreamnet", "baseline", "finetune", "features")
HEADS = ("linear", "grid")
VISION_CHAINS = ("resnet18", "resnet34", "resnet50")
# Table 3's other baselines (dreamlib.models.zoo): whole published networks, baseline only
REFERENCE_BASELINES = ("resnet101", "efficientnet-b7", "efficientnetv2-l", "cvt-21", "cvt-w24")
TEXT_CHAINS = ("lstm", "lstm-1", "lstm-2", "lstm-3", "lstm-4", "wordcnn", "charcnn")
MAX_BLOCKS = 4  # the paper studies M = 1..4; every chain here has 4 stages/layers at most
MIN_IMAGE_SIZE = 16  # the small-image ResNet stem divides by 8: 16 px leaves a 2x2 final map

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
    model: str = "sleepnet"  # "sleepnet" | "dreamnet" | "baseline" (chain only) | "finetune"
    # (encoder only) | "features" (control: chain + the encoder's features of the input at the head)
    chain: str | None = None  # resnet18/34/50 (vision), lstm[-k]/wordcnn/charcnn (text); a
    # baseline may also be one of Table 3's published networks (REFERENCE_BASELINES)
    blocks: int = 2  # M, number of sleep/dream blocks (1..4)
    encoder: str | None = None  # hub name, local folder, "mae-small", "mlm-small", "minilm"
    head: str = "linear"  # connection output: "linear" (authors' code) | "grid" (light, patch grid + conv)
    image_size: int = 32  # input side in pixels (vision)
    in_channels: int = 3  # image channels (1 for fashion-mnist/digits)
    seq_len: int = 64  # tokens (text)
    num_classes: int = 10
    width: int | None = None  # chain width: ResNet base channels (64) / text hidden size (128)
    unfrozen: bool = False  # train the encoder too (own, smaller learning rate)
    mask_ratio: float = 0.75  # MAE masking inside connections (authors' code: the default 0.75)
    straight_through: bool = False  # text: pass gradients through argmax with a straight-through estimator

    def resolved(self) -> ModelConfig:
        """Return a copy with per-task defaults filled in, after validating every field."""
        if self.task not in TASKS:
            raise choice_error("task", self.task, TASKS)
        if self.model not in MODELS:
            raise choice_error("model", self.model, MODELS)
        chain = self.chain or DEFAULT_CHAIN[self.task]
        chains = VISION_CHAINS if self.task == "vision" else TEXT_CHAINS
        if self.task == "vision" and chain in REFERENCE_BASELINES:
            if self.model != "baseline":
                raise ConfigError(
                    f"{chain} is one of Table 3's reference baselines, a whole network with no "
                    f"stages for sleep blocks or a head for encoder features; use --model "
                    f"baseline, or a chain of {', '.join(VISION_CHAINS)}")
        elif chain not in chains:
            raise choice_error(f"{self.task} chain", chain, chains)
        if self.head not in HEADS:
            raise choice_error("head", self.head, HEADS)
        if self.model == "features" and chain == "charcnn":
            raise ConfigError("the encoder-features control reads the chain's token ids with the "
                              "encoder, but charcnn reads bytes; use --chain lstm or wordcnn")
        if self.model in ("sleepnet", "dreamnet"):
            _check_blocks(self.blocks, chain)
        if self.num_classes < 2:
            raise ConfigError(f"num_classes must be >= 2, got {self.num_classes}")
        if self.task == "vision" and self.image_size < MIN_IMAGE_SIZE:
            raise ConfigError(
                f"image_size {self.image_size} is too small for chain {chain}: it needs at least "
                f"{MIN_IMAGE_SIZE} px; upsample the input (e.g. --image-size 32)"
            )
        if self.in_channels < 1:
            raise ConfigError(f"in_channels must be >= 1, got {self.in_channels}")
        if self.task == "text" and self.seq_len <= 0:
            raise ConfigError(f"seq_len must be a positive number of tokens, got {self.seq_len}")
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ConfigError(f"mask_ratio must be in [0, 1), got {self.mask_ratio}")
        width = DEFAULT_WIDTH[self.task] if self.width is None else self.width
        if width < 4:
            raise ConfigError(f"width must be >= 4, got {width}")
        encoder = self.encoder or DEFAULT_ENCODER[self.task]
        return dataclasses.replace(self, chain=chain, encoder=encoder, width=width)

    @property
    def uses_encoder(self) -> bool:
        """Baselines are the chain alone; every other model runs a pre-trained encoder."""
        return self.model != "baseline"

    @property
    def needs_decoder(self) -> bool:
        """DreamNet reconstructs hidden states, so its encoder must be a full autoencoder."""
        return self.model == "dreamnet"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model config keys {unknown}; allowed: {sorted(known)}")
        return cls(**data)

    def label(self) -> str:
        """Short human name in the paper's style, e.g. ``DreamNet-3 (mae-small, grid)``."""
        if self.model == "baseline":
            return self.chain or DEFAULT_CHAIN[self.task]
        if self.model == "finetune":
            return f"{self.encoder} (fine-tuned)"
        if self.model == "features":
            return f"{self.chain} + {self.encoder} features"
        name = {"sleepnet": "SleepNet", "dreamnet": "DreamNet"}[self.model]
        return f"{name}-{self.blocks} ({self.encoder}, {self.head})"


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
