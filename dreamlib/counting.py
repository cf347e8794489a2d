"""Parameters and FLOPs of a configuration, as built (``python -m dreamlib count``).

FLOPs are measured, not estimated: one forward pass of a single example in eval mode under
``torch.utils.flop_counter.FlopCounterMode``, which counts a multiply-add as 2 FLOPs. The
paper's figures follow the multiply-add convention (ResNet18 at 224 px: 1.8 "FLOPs" = 1.8 G
multiply-adds), so ``macs`` = flops / 2 is reported beside them for comparison.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode

from . import paper
from .config import ModelConfig
from .models import build_model, encoder_parameters, text_vocab_size


def example_inputs(cfg: ModelConfig, batch: int = 1, generator: torch.Generator | None = None) -> tuple:
    """Random inputs of the right shape and type for ``cfg`` (images, or ids + mask)."""
    cfg = cfg.resolved()
    if cfg.task == "vision":
        return (torch.randn(batch, cfg.in_channels, cfg.image_size, cfg.image_size, generator=generator),)
    high = 256 if cfg.chain == "charcnn" else min(text_vocab_size(cfg), 1000)
    ids = torch.randint(1, high, (batch, cfg.seq_len), generator=generator)
    return ids, torch.ones(batch, cfg.seq_len, dtype=torch.long)


def count_parameters(model: nn.Module) -> dict:
    """Total, trainable and encoder parameters (shared tensors counted once)."""
    params = list(model.parameters())
    return {
        "params": sum(p.numel() for p in params),
        "trainable_params": sum(p.numel() for p in params if p.requires_grad),
        "encoder_params": sum(p.numel() for p in encoder_parameters(model)),
    }


def lstm_flops(module: nn.LSTM, batch: int, steps: int) -> int:
    """Matrix-multiply FLOPs of an LSTM forward: 4 gates, each (input + hidden) x hidden, per
    step, layer and direction. torch's counter cannot see inside the fused CPU kernel."""
    directions = 2 if module.bidirectional else 1
    total, width = 0, module.input_size
    for _ in range(module.num_layers):
        total += 2 * 4 * module.hidden_size * (width + module.hidden_size) * steps * batch * directions
        width = module.hidden_size * directions
    return total


def _cpu_attention_flops(query_shape, key_shape, value_shape, *_args, out_shape=None, **_kw):
    """FLOPs of the CPU kernel behind ``scaled_dot_product_attention`` (QK^T and AV): torch's
    counter has a formula for the GPU kernels only, so without this every transformer's
    attention counted 0 on a CPU (the default profile's, and `count` of the paper's)."""
    return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)


# FlopCounterMode formulas for ops it does not know
EXTRA_FORMULAS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention_flops}


def count_flops(model: nn.Module, inputs: tuple) -> int:
    """Forward FLOPs of ``model`` on ``inputs`` (per the batch given)."""
    was_training = model.training
    model.eval()
    extra = []

    def on_lstm(module, args, _output):
        data = args[0]
        batch, steps = (data.shape[0], data.shape[1]) if module.batch_first else (data.shape[1], data.shape[0])
        extra.append(lstm_flops(module, batch, steps))

    hooks = [m.register_forward_hook(on_lstm) for m in model.modules() if isinstance(m, nn.LSTM)]
    counter = FlopCounterMode(display=False, custom_mapping=EXTRA_FORMULAS)
    try:
        with torch.no_grad(), counter:
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return int(counter.get_total_flops()) + sum(extra)


_FLOPS_BY_CONFIG: dict[ModelConfig, int] = {}


def config_flops(cfg: ModelConfig, model: nn.Module) -> int:
    """:func:`count_flops` of ``model`` (built from ``cfg``) on one example, counted once per
    configuration in a process.

    Why: a worker of the batch trains the seeds of one configuration one after another, and
    the count depends only on the configuration's shapes, not on weights, seed or the
    example's values (MAE masks keep a fixed number of patches; an argmax always gives one id
    per position). The example is drawn from a generator of its own, so counting, or skipping
    the count, leaves torch's global random stream as it was."""
    key = cfg.resolved()
    if key not in _FLOPS_BY_CONFIG:
        example = example_inputs(key, generator=torch.Generator().manual_seed(0))
        _FLOPS_BY_CONFIG[key] = count_flops(model, example)
    return _FLOPS_BY_CONFIG[key]


def count(cfg: ModelConfig) -> dict:
    """Build ``cfg`` randomly initialised (offline) and count it: the ``count`` command."""
    torch.manual_seed(0)
    model = build_model(cfg, pretrained=False)
    flops = count_flops(model, example_inputs(cfg))
    return {**count_parameters(model), "flops": flops, "macs": flops // 2}


def paper_model_config(task: str, method: str, blocks: int, a_out: str = "linear") -> ModelConfig:
    """The paper's configuration of ``method`` (sleepnet, dreamnet, ...) with M = ``blocks``:
    its default encoder and input size, ResNet18 on CIFAR-100 or the LSTM chain on AG News.
    Both "as built vs as published" tables (params_as_built, the claims' counts) use it."""
    chain = {"vision": "resnet18", "text": "lstm"}[task]
    classes = paper.TABLE2_DATASETS[paper.MAIN_DATASETS[task]]["num_classes"]
    return ModelConfig(task=task, method=method, blocks=blocks, a_out=a_out, chain=chain,
                       num_classes=classes, encoder=paper.PAPER_ENCODERS[(task, method)],
                       **paper.INPUT_SIZES[task])
