"""Build any model of the paper from a :class:`~dreamlib.config.ModelConfig`.

``build_model`` is the one registry: SleepNet/DreamNet for vision and text, the chain-only
baselines (ResNet18/34/50, LSTM-k, WordCNN, CharCNN; Table 3's published ResNet101,
EfficientNet-B7/V2-L and CvT-21/W24, see :mod:`.zoo`), the encoder fine-tuning baselines
(any ViT/MAE/BERT/RoBERTa/DistilBERT/XLNet) and the "encoder features only" control (the
chain plus the frozen encoder's features of the input, added once before the head). Vision
models take ``images`` (B, C, H, W); text models take ``input_ids`` and ``attention_mask``
(B, T). Every model is a :class:`~dreamlib.models.base.Classifier`: ``forward`` returns
logits, or ``(logits, dreams)`` with ``return_dreams=True`` (the per-block reconstructions of
DreamNet: images, or token ids for text; empty for other models).
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import CHAR_VOCAB_SIZE, REFERENCE_BASELINES, ModelConfig
from ..encoders import TextEncoder, VisionEncoder, encoder_config, encoder_task, load_encoder
from ..errors import ConfigError
from .text import (TextChain, TextClassifier, TextDreamNet, TextFeaturesControl, TextFinetune,
                   TextSleepNet)
from .vision import (ResNetChain, ResNetClassifier, VisionDreamNet, VisionFeaturesControl,
                     VisionFinetune, VisionSleepNet)
from .zoo import build_reference

__all__ = ["build_model", "channels_last", "encoder_parameters", "text_vocab_size", "ModelConfig"]


def text_vocab_size(cfg: ModelConfig) -> int:
    """Input vocabulary of a text chain: bytes for CharCNN, else the encoder's tokenizer."""
    if cfg.chain == "charcnn":
        return CHAR_VOCAB_SIZE
    return int(encoder_config(cfg.encoder).vocab_size)


def channels_last(model: nn.Module) -> nn.Module:
    """``model`` with its 4-D weights stored channels-last (NHWC), the layout runs train vision
    models in (:func:`dreamlib.transforms.model_inputs` gives images the same layout).

    Why: the CPU chains have few channels (width 8: 8-64), and oneDNN's NCHW kernels for them
    are slow on one thread, the thread count the batch trains runs with on 2 cores: a
    default-profile ResNet18 training step took 0.21 s channels-last instead of 0.30-0.33 s, a
    vision SleepNet-2 step 0.34 s instead of 0.49-0.55 s; at two threads the layout made no
    difference. The per-model table (benchmarks/results/default_step_options.md) is noisier:
    channels-last faster for the chain and SleepNet-2, slower for the control and DreamNet-2.
    It is the layout cuDNN prefers too. The function is the same; float rounding differs. Text models (no 4-D weights) are
    returned unchanged."""
    return model.to(memory_format=torch.channels_last)


def build_model(cfg: ModelConfig, pretrained: bool = True, encoder_source: str | None = None) -> nn.Module:
    """Build ``cfg`` (validated first). ``pretrained=False`` builds every encoder randomly
    initialised and offline; ``encoder_source`` loads the encoder from another place (a
    folder of pre-trained embedded weights) while the config keeps its short name."""
    cfg = cfg.resolved()
    encoder = None
    if cfg.uses_encoder:
        _check_encoder_task(cfg)
        # whole-image features for the models that read the encoder once (no masking)
        mask_ratio = 0.0 if cfg.method in ("finetune", "features") else cfg.mask_ratio
        encoder = load_encoder(encoder_source or cfg.encoder, autoencoder=cfg.needs_decoder,
                               pretrained=pretrained, mask_ratio=mask_ratio)
        set_encoder_trainable(encoder, cfg.unfrozen or cfg.method == "finetune")
    model = _build_vision(cfg, encoder) if cfg.task == "vision" else _build_text(cfg, encoder)
    return model.train()  # applies the rule that a frozen encoder runs in eval mode (no dropout)


def set_encoder_trainable(encoder: nn.Module, trainable: bool) -> None:
    """Freeze the encoder, or unfreeze it except for tensors fixed by design (ViTMAE's sin-cos
    position embeddings are created with requires_grad=False and stay so)."""
    fixed = getattr(encoder, "_fixed_by_design", None)
    if fixed is None:
        fixed = encoder._fixed_by_design = {id(p) for p in encoder.parameters() if not p.requires_grad}
    for param in encoder.parameters():
        param.requires_grad_(trainable and id(param) not in fixed)


def _check_encoder_task(cfg: ModelConfig) -> None:
    task = encoder_task(cfg.encoder)
    if task != cfg.task:
        raise ConfigError(
            f"encoder {cfg.encoder!r} is a {task} encoder but the task is {cfg.task}; "
            f"pick a {cfg.task} encoder (e.g. {'mae-small' if cfg.task == 'vision' else 'mlm-small'})"
        )


def _build_vision(cfg: ModelConfig, encoder: VisionEncoder | None) -> nn.Module:
    if cfg.chain in REFERENCE_BASELINES:
        return build_reference(cfg.chain, cfg.in_channels, cfg.num_classes)
    if cfg.method == "finetune":
        return VisionFinetune(encoder, cfg.in_channels, cfg.num_classes)
    chain = ResNetChain(cfg.chain, cfg.in_channels, cfg.image_size, cfg.width)
    if cfg.method == "baseline":
        return ResNetClassifier(chain, cfg.num_classes)
    if cfg.method == "features":
        return VisionFeaturesControl(chain, encoder, cfg.in_channels, cfg.num_classes)
    if cfg.method == "sleepnet":
        return VisionSleepNet(chain, encoder, cfg.blocks, cfg.a_out, cfg.num_classes)
    return VisionDreamNet(chain, encoder, cfg.blocks, cfg.a_out, cfg.num_classes, cfg.width)


def _build_text(cfg: ModelConfig, encoder: TextEncoder | None) -> nn.Module:
    if encoder is not None and encoder.max_tokens is not None and cfg.seq_len > encoder.max_tokens:
        raise ConfigError(
            f"seq_len {cfg.seq_len} exceeds the {encoder.max_tokens} positions of encoder "
            f"{cfg.encoder!r}; use --seq-len {encoder.max_tokens} or less"
        )
    if cfg.method == "finetune":
        return TextFinetune(encoder, cfg.num_classes)
    pad_id = 0 if cfg.chain == "charcnn" else int(encoder_config(cfg.encoder).pad_token_id or 0)
    chain = TextChain(cfg.chain, text_vocab_size(cfg), cfg.width, pad_id)
    if cfg.method == "baseline":
        return TextClassifier(chain, cfg.num_classes)
    if cfg.method == "features":
        return TextFeaturesControl(chain, encoder, cfg.num_classes)
    if cfg.method == "sleepnet":
        return TextSleepNet(chain, encoder, cfg.blocks, cfg.num_classes, cfg.straight_through)
    return TextDreamNet(chain, encoder, cfg.blocks, cfg.num_classes, cfg.straight_through,
                        cfg.dream_readout)


def encoder_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The pre-trained encoder's parameters (its own optimizer group when unfrozen)."""
    encoder = getattr(model, "encoder", None)
    return [] if encoder is None else list(encoder.parameters())
