"""``count`` (params and FLOPs), configuration validation and the command line's errors."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dreamlib import counting
from dreamlib.cli import main
from dreamlib.config import METHODS, TEXT_CHAINS, VISION_CHAINS, ModelConfig
from dreamlib.counting import count, lstm_flops
from dreamlib.errors import ConfigError, DreamlibError
from dreamlib.models import build_model
from dreamlib.vocab import MLM_SMALL_VOCAB

pytestmark = pytest.mark.usefixtures("one_thread")

REPO = Path(__file__).resolve().parents[1]


def tiny(**fields) -> ModelConfig:
    base = dict(width=8, image_size=16, seq_len=12, num_classes=3)
    base.update(fields)
    return ModelConfig(**base)


def build(cfg: ModelConfig) -> nn.Module:
    torch.manual_seed(0)
    return build_model(cfg, pretrained=False)


# --------------------------------------------------------------------------- hand counts

def _hand_layer_macs(model: nn.Module, inputs: tuple) -> int:
    """Multiply-adds of every nn.Linear, nn.Conv1d/2d and nn.LSTM call in one forward pass,
    counted by hand from the shapes each layer saw (no FLOP counter involved):

    * Linear: one multiply-add per (input row, input feature, output feature);
    * Conv: one per (output element, input channel of its group, kernel tap);
    * LSTM: per time step, direction and gate (i, f, g, o): W_i· x_t and W_h· h_{t-1}.

    Functional matmuls outside such modules (tied A_in logits, attention scores) are not seen,
    so this is a lower bound in general and exact for a model made of such layers only."""
    total = 0

    def on_linear(m, args, _out):
        nonlocal total
        rows = args[0].numel() // m.in_features
        total += rows * m.in_features * m.out_features

    def on_conv(m, _args, out):
        nonlocal total
        taps = 1
        for k in m.kernel_size:
            taps *= k
        total += out.numel() * (m.in_channels // m.groups) * taps

    def on_lstm(m, args, _out):
        nonlocal total
        x = args[0]
        batch, steps = (x.shape[0], x.shape[1]) if m.batch_first else (x.shape[1], x.shape[0])
        directions = 2 if m.bidirectional else 1
        for layer in range(m.num_layers):
            fan_in = m.input_size if layer == 0 else directions * m.hidden_size
            for _step in range(steps):
                for _direction in range(directions):
                    for _gate in ("input", "forget", "cell", "output"):
                        total += batch * m.hidden_size * fan_in  # W_i* x_t
                        total += batch * m.hidden_size * m.hidden_size  # W_h* h_{t-1}

    hooks = []
    for module in model.modules():
        if isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(on_linear))
        elif isinstance(module, (nn.Conv1d, nn.Conv2d)):
            hooks.append(module.register_forward_hook(on_conv))
        elif isinstance(module, nn.LSTM):
            hooks.append(module.register_forward_hook(on_lstm))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return total


# --------------------------------------------------------------------------- parameters

COUNT_CASES = [
    tiny(method="sleepnet", blocks=2),
    tiny(method="dreamnet", blocks=3, a_out="grid"),
    tiny(method="dreamnet", blocks=1, unfrozen=True),
    tiny(method="baseline", chain="resnet50"),
    tiny(method="finetune", in_channels=1),
    tiny(task="text", method="sleepnet", chain="lstm-2", blocks=2),
    tiny(task="text", method="dreamnet", chain="charcnn", blocks=2),
    tiny(task="text", method="sleepnet", chain="charcnn", blocks=1, straight_through=True),
    tiny(task="text", method="baseline", chain="wordcnn"),
    tiny(task="text", method="finetune"),
]


def _label(cfg: ModelConfig) -> str:
    flags = "-unfrozen" * cfg.unfrozen + "-st" * cfg.straight_through
    return f"{cfg.task}-{cfg.method}-{cfg.chain or ''}-M{cfg.blocks}{flags}"


@pytest.mark.parametrize("cfg", COUNT_CASES, ids=_label)
def test_count_is_the_built_model(cfg):
    result = count(cfg)
    assert set(result) >= {"params", "trainable_params", "encoder_params", "flops", "macs"}
    assert all(type(v) is int for v in result.values())
    model = build(cfg)
    assert (result["encoder_params"] == 0) == (getattr(model, "encoder", None) is None)
    # FLOPs and multiply-adds against a hand count of the layers the forward pass ran
    by_hand = _hand_layer_macs(model, counting.example_inputs(cfg))
    assert result["flops"] > 0 and by_hand > 0
    assert by_hand <= result["macs"] and 2 * by_hand <= result["flops"]
    if cfg.method == "baseline":  # a chain alone: every multiply-add sits in such a layer
        assert (result["macs"], result["flops"]) == (by_hand, 2 * by_hand)
    trains_encoder = cfg.unfrozen or cfg.method == "finetune"
    if cfg.method == "baseline" or trains_encoder:
        # all of it trains, except position embeddings that ViTMAE keeps fixed by design
        fixed_pos = sum(p.numel() for n, p in model.named_parameters()
                        if n.endswith(("position_embeddings", "decoder_pos_embed"))
                        and not p.requires_grad)
        assert result["trainable_params"] == result["params"] - fixed_pos
    else:  # the frozen encoder is excluded (and the fixed random CharCNN A_in projection)
        fixed = 0
        if cfg.chain == "charcnn" and not cfg.straight_through:
            fixed = sum(c.adapter.proj.weight.numel() for c in model.connections)
            assert fixed == cfg.blocks * cfg.width * MLM_SMALL_VOCAB
        assert result["trainable_params"] == result["params"] - result["encoder_params"] - fixed
        assert 0 < result["trainable_params"] < result["params"]


def test_count_parameters_counts_shared_tensors_once_and_splits_frozen_ones():
    """Known sizes: Linear(3, 4) holds 16 parameters; a tied copy adds none; a frozen encoder
    is counted in params and encoder_params but not in trainable_params."""
    from torch import nn

    from dreamlib.counting import count_parameters

    class Toy(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(3, 4)
            self.tied = nn.Linear(3, 4)
            self.tied.weight = self.head.weight  # shared: 12 weights counted once
            self.encoder = nn.Linear(5, 2).requires_grad_(False)  # 12, frozen

    assert count_parameters(Toy()) == {"params": 16 + 4 + 12, "trainable_params": 20,
                                       "encoder_params": 12}


def test_paper_dreamnet_counts_the_whole_mae_base_as_its_encoder():
    """The encoder of the paper's DreamNet is ViTMAEForPreTraining base: 111,907,840 parameters
    (transformers' own count of a random-initialised base config, FACTS.md)."""
    from dreamlib.counting import paper_model_config

    assert count(paper_model_config("vision", "dreamnet", 1, "grid"))["encoder_params"] == \
        111_907_840


def test_count_is_reproducible_and_leaves_no_global_state():
    cfg = tiny(method="dreamnet", blocks=2)
    assert count(cfg) == count(cfg)
    assert torch.is_grad_enabled()


@pytest.mark.parametrize("task", ["vision", "text"])
def test_dreamnet_flops_and_params_grow_with_blocks(task):
    results = [count(tiny(task=task, method="dreamnet", blocks=m)) for m in range(1, 5)]
    flops = [r["flops"] for r in results]
    params = [r["params"] for r in results]
    assert all(a < b for a, b in zip(flops, flops[1:])), flops
    assert all(a < b for a, b in zip(params, params[1:])), params
    assert len({r["encoder_params"] for r in results}) == 1  # one shared encoder for all blocks


# --------------------------------------------------------------------------- FLOPs by hand

def test_count_flops_of_single_layers_match_hand_counts():
    """One layer at a time, the multiply-adds written out from the shapes; a FLOP is half a
    multiply-add's pair (FlopCounterMode's convention, which count_flops keeps)."""
    torch.manual_seed(0)
    cases = [
        # Linear(768, 10) on one row: 768 * 10 multiply-adds
        (nn.Linear(768, 10), torch.randn(1, 768), 7_680),
        # the same on 4 rows of 5 tokens: 20 rows * 768 * 10
        (nn.Linear(768, 10), torch.randn(4, 5, 768), 153_600),
        # Conv2d 3->16, 3x3, padding 1 on 8x8: 16*8*8 outputs, 3*3*3 taps each
        (nn.Conv2d(3, 16, 3, padding=1), torch.randn(1, 3, 8, 8), 27_648),
        # stride 2, no padding, 9x9 -> 4x4: 16*4*4 outputs, 27 taps each
        (nn.Conv2d(3, 16, 3, stride=2), torch.randn(1, 3, 9, 9), 6_912),
        # groups 2, 1x1, 8->8 channels on 5x5: 8*5*5 outputs, 4 input channels each
        (nn.Conv2d(8, 8, 1, groups=2), torch.randn(1, 8, 5, 5), 800),
        # Conv1d 4->6, kernel 3, padding 1, length 10: 6*10 outputs, 4*3 taps each
        (nn.Conv1d(4, 6, 3, padding=1), torch.randn(1, 4, 10), 720),
    ]
    for layer, x, macs in cases:
        assert counting.count_flops(layer, (x,)) == 2 * macs, layer
        assert _hand_layer_macs(layer, (x,)) == macs, layer  # the helper agrees with the list


@pytest.mark.parametrize("chain, layers, macs", [
    # per layer: 12 steps * 4 gates * (8*8 input + 8*8 recurrent) = 6,144; head: 8*3 = 24
    ("lstm", 4, 4 * 6_144 + 24),
    ("lstm-1", 1, 6_144 + 24),
    ("lstm-2", 2, 2 * 6_144 + 24),
])
def test_text_baseline_lstm_flops_match_a_hand_count(chain, layers, macs):
    """torch's counter sees nothing inside nn.LSTM on CPU; count adds each LSTM's own, which
    must equal a count per time step and per gate (and must not be added twice)."""
    cfg = tiny(task="text", method="baseline", chain=chain)
    width, steps, classes = cfg.width, cfg.seq_len, cfg.num_classes  # 8, 12, 3
    by_gate = 0
    for _layer in range(layers):
        for _step in range(steps):
            for _gate in ("input", "forget", "cell", "output"):
                by_gate += width * width + width * width  # W_i* x_t + W_h* h_{t-1}
    assert by_gate + width * classes == macs
    model = build(cfg)
    lstms = [m for m in model.modules() if isinstance(m, nn.LSTM)]
    assert len(lstms) == layers
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*counting.example_inputs(cfg))
    assert counter.get_total_flops() == 2 * width * classes  # torch alone: the head only
    result = count(cfg)
    assert (result["flops"], result["macs"]) == (2 * macs, macs)


@contextlib.contextmanager
def _lstms_unrolled(model: nn.Module):
    """Every nn.LSTM of ``model`` runs as ``_unrolled_lstm`` (F.linear per step, which torch's
    FlopCounterMode sees), for the duration of the block."""
    lstms = [m for m in model.modules() if isinstance(m, nn.LSTM)]
    for lstm in lstms:
        lstm.forward = functools.partial(lambda mod, x, hx=None: (_unrolled_lstm(mod, x), None),
                                         lstm)
    try:
        yield
    finally:
        for lstm in lstms:
            del lstm.forward


def test_text_dreamnet_counts_its_dream_lstm():
    cfg = tiny(task="text", method="dreamnet", blocks=1)
    model = build(cfg)
    inputs = counting.example_inputs(cfg)
    flops = counting.count_flops(model, inputs)
    # block ③ by hand: LSTM(128 -> 8) over the 12 dream embeddings (mlm-small is 128 wide):
    # 12 steps * 4 gates * (128*8 input + 8*8 recurrent) = 52,224 multiply-adds
    width, steps, hidden = cfg.width, cfg.seq_len, 128
    dream_macs = steps * 4 * (hidden * width + width * width)
    assert dream_macs == 52_224
    assert lstm_flops(model.dream_lstm, 1, steps) == 2 * dream_macs
    # a second method: the whole model with every LSTM unrolled, counted by torch (with the
    # CPU attention formula torch lacks, checked on its own by the attention test below)
    model.eval()
    counter = FlopCounterMode(display=False, custom_mapping=counting.EXTRA_FORMULAS)
    with _lstms_unrolled(model), torch.no_grad(), counter:
        model(*inputs)
    assert flops == counter.get_total_flops()
    per_module = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    assert per_module["TextDreamNet.dream_lstm"] == 2 * dream_macs
    chain = [n for n in per_module if re.fullmatch(r"TextDreamNet\.chain\.layers\.\d\.lstm", n)]
    assert len(chain) == 4  # the default text chain has 4 LSTM layers, each counted
    # 8->8: 12 steps * 4 gates * (64 + 64) multiply-adds per layer
    assert all(per_module[n] == 2 * 12 * 4 * (64 + 64) for n in chain)


def _unrolled_lstm(lstm: nn.LSTM, x: torch.Tensor) -> torch.Tensor:
    """nn.LSTM (batch_first) written out with F.linear, so the FLOP counter sees every matmul."""
    directions = 2 if lstm.bidirectional else 1
    out = x
    for layer in range(lstm.num_layers):
        results = []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            w_ih, w_hh = getattr(lstm, "weight_ih" + suffix), getattr(lstm, "weight_hh" + suffix)
            bias = getattr(lstm, "bias_ih" + suffix) + getattr(lstm, "bias_hh" + suffix)
            h = out.new_zeros(out.shape[0], lstm.hidden_size)
            c = torch.zeros_like(h)
            steps = range(out.shape[1])
            seq = [None] * out.shape[1]
            for t in (reversed(steps) if direction else steps):
                gates = F.linear(out[:, t], w_ih) + F.linear(h, w_hh) + bias
                i, f, g, o = gates.chunk(4, dim=-1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                seq[t] = h
            results.append(torch.stack(seq, dim=1))
        out = torch.cat(results, dim=-1)
    return out


@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, False), (2, True)])
def test_lstm_flops_equal_the_counted_flops_of_an_unrolled_lstm(layers, bidirectional):
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 5, num_layers=layers, bidirectional=bidirectional, batch_first=True)
    x = torch.randn(2, 4, 3)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        unrolled = _unrolled_lstm(lstm, x)
    with torch.no_grad():
        assert torch.allclose(unrolled, lstm(x)[0], atol=1e-5)  # it is the same computation
    assert lstm_flops(lstm, batch=2, steps=4) == counter.get_total_flops()
    # and a hand count: batch 2 * 4 steps * directions * 4 gates * (fan-in + 5) * 5 per layer,
    # fan-in 3 for layer 0 and 5 (or 10 when bidirectional) above it
    directions = 2 if bidirectional else 1
    fan_ins = [3] + [5 * directions] * (layers - 1)
    macs = sum(2 * 4 * directions * 4 * (fan_in + 5) * 5 for fan_in in fan_ins)
    assert lstm_flops(lstm, batch=2, steps=4) == 2 * macs
    assert _hand_layer_macs(lstm, (x,)) == macs


def test_count_includes_the_encoders_attention():
    """mae-small (4 layers, 128 wide) sees 64 patches + CLS = 65 tokens of a 32 px image with
    the fine-tuning baseline (no masking): QK^T and AV are 2 * 65 * 65 * 128 multiply-adds per
    layer, on top of the layers' own Linear/Conv multiply-adds."""
    cfg = tiny(method="finetune")
    attention = 4 * 2 * 65 * 65 * 128
    layers = _hand_layer_macs(build(cfg), counting.example_inputs(cfg))
    assert count(cfg)["macs"] == layers + attention


def test_resnet18_baseline_at_224_px_is_torchvisions():
    torchvision = pytest.importorskip("torchvision")
    cfg = ModelConfig(task="vision", method="baseline", chain="resnet18", image_size=224,
                      num_classes=1000)
    result = count(cfg)
    assert result["params"] == 11_689_512
    # multiply-adds of ResNet18 at 224 px, layer by layer (out channels * out pixels * taps):
    stem = 64 * 112 * 112 * (7 * 7 * 3)  # 7x7/2 conv; the max-pool then halves 112 to 56
    layer1 = 4 * (64 * 56 * 56 * (3 * 3 * 64))  # two BasicBlocks of two 3x3 convs
    layer2 = (128 * 28 * 28 * (3 * 3 * 64)  # first conv, stride 2
              + 3 * (128 * 28 * 28 * (3 * 3 * 128))  # the other three 3x3 convs
              + 128 * 28 * 28 * 64)  # 1x1 stride-2 shortcut
    layer3 = (256 * 14 * 14 * (3 * 3 * 128) + 3 * (256 * 14 * 14 * (3 * 3 * 256))
              + 256 * 14 * 14 * 128)
    layer4 = (512 * 7 * 7 * (3 * 3 * 256) + 3 * (512 * 7 * 7 * (3 * 3 * 512))
              + 512 * 7 * 7 * 256)
    fc = 512 * 1000
    macs = stem + layer1 + layer2 + layer3 + layer4 + fc
    assert macs == 1_814_073_344
    assert (result["macs"], result["flops"]) == (macs, 2 * macs)
    # Table 3 prints "ResNet18 2242 11M 1.8B": the paper's FLOPs are multiply-adds
    assert round(result["macs"] / 1e9, 1) == 1.8
    ours = sorted(tuple(p.shape) for p in build(cfg).parameters())
    theirs = sorted(tuple(p.shape) for p in torchvision.models.resnet18().parameters())
    assert ours == theirs


# --------------------------------------------------------------------------- configuration errors

BAD_CONFIGS = [  # (fields, substrings the one-line message must contain)
    (dict(task="audio"), ["'audio'", "vision, text"]),
    (dict(method="sleep"), ["'sleep'", ", ".join(METHODS)]),
    (dict(chain="resnet152"), ["'resnet152'", ", ".join(VISION_CHAINS)]),
    (dict(chain="resnet101"), ["resnet101", "--model baseline", ", ".join(VISION_CHAINS)]),
    (dict(chain="lstm"), ["'lstm'", ", ".join(VISION_CHAINS)]),
    (dict(task="text", chain="gru"), ["'gru'", ", ".join(TEXT_CHAINS)]),
    (dict(task="text", chain="lstm-5"), ["'lstm-5'", ", ".join(TEXT_CHAINS)]),
    (dict(a_out="conv"), ["'conv'", "linear, grid"]),
    (dict(blocks=0), ["got 0", "between 1 and 4"]),
    (dict(blocks=5), ["got 5", "between 1 and 4"]),
    (dict(method="dreamnet", blocks=-1), ["got -1", "between 1 and 4"]),
    (dict(task="text", chain="lstm-2", blocks=3), ["M=3", "lstm-2", "M <= 2"]),
    (dict(task="text", chain="lstm-1", blocks=2), ["M=2", "lstm-1", "M <= 1"]),
    (dict(blocks=True), ["blocks must be an integer", "True"]),
    (dict(blocks=2.0), ["blocks must be an integer", "2.0"]),
    (dict(image_size=8), ["image_size 8", "at least 16"]),
    (dict(image_size=15, method="baseline"), ["image_size 15", "at least 16"]),
    (dict(task="text", seq_len=0), ["seq_len", "got 0"]),
    (dict(task="text", seq_len=-3), ["seq_len", "got -3"]),
    (dict(num_classes=1), ["num_classes", "got 1"]),
    (dict(mask_ratio=1.0), ["mask_ratio", "1.0"]),
    (dict(mask_ratio=-0.1), ["mask_ratio", "-0.1"]),
    (dict(width=3), ["width", "got 3"]),
    (dict(in_channels=0), ["in_channels", "got 0"]),
]


def _ids(case) -> str:
    return "-".join(f"{k}={v}" for k, v in case[0].items())


@pytest.mark.parametrize("fields, expected", BAD_CONFIGS, ids=[_ids(c) for c in BAD_CONFIGS])
def test_bad_config_raises_one_clear_config_error(fields, expected):
    cfg = ModelConfig(**fields)
    with pytest.raises(ConfigError) as info:
        cfg.resolved()
    message = str(info.value)
    assert "\n" not in message
    assert all(part in message for part in expected), message
    with pytest.raises(ConfigError) as again:
        build_model(cfg, pretrained=False)  # build_model validates first, with the same error
    assert str(again.value) == message


@pytest.mark.parametrize("fields, expected", [
    (dict(encoder="mae-tiny"), ["'mae-tiny'", "mae-small", "mlm-small", "facebook/vit-mae-base"]),
    (dict(task="vision", encoder="mlm-small"), ["'mlm-small'", "text encoder", "task is vision",
                                                "mae-small"]),
    (dict(task="text", encoder="mae-small"), ["'mae-small'", "vision encoder", "task is text",
                                              "mlm-small"]),
    (dict(task="text", method="dreamnet", encoder="google/vit-base-patch16-224"),
     ["vision encoder", "task is text"]),
    (dict(task="text", encoder="mlm-small", seq_len=513), ["seq_len 513", "512"]),
])
def test_bad_encoder_raises_config_error_when_building(fields, expected):
    cfg = tiny(**fields)
    cfg.resolved()  # the name is only checked against the encoder's own config when building
    with pytest.raises(ConfigError) as info:
        build_model(cfg, pretrained=False)
    message = str(info.value)
    assert "\n" not in message and all(part in message for part in expected), message


def test_config_errors_are_value_errors_and_dreamlib_errors():
    assert issubclass(ConfigError, ValueError) and issubclass(ConfigError, DreamlibError)


def test_resolved_fills_the_task_defaults():
    vision = ModelConfig().resolved()
    assert (vision.chain, vision.encoder, vision.width) == ("resnet18", "mae-small", 64)
    text = ModelConfig(task="text").resolved()
    assert (text.chain, text.encoder, text.width) == ("lstm", "mlm-small", 128)
    assert ModelConfig(task="text", method="baseline", blocks=0).resolved().blocks == 0  # unused
    assert ModelConfig.from_dict(vision.to_dict()) == vision
    with pytest.raises(ConfigError, match="unknown model config keys \\['depth'\\]"):
        ModelConfig.from_dict({**vision.to_dict(), "depth": 3})


# --------------------------------------------------------------------------- the command line

def test_cli_count_prints_one_json_line():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    args = ["--task", "text", "--model", "dreamnet", "--chain", "lstm-2", "--blocks", "2",
            "--width", "8", "--seq-len", "12", "--num-classes", "3"]
    proc = subprocess.run([sys.executable, "-m", "dreamlib", "count", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) >= {"params", "trainable_params", "encoder_params", "flops"}
    cfg = tiny(task="text", method="dreamnet", chain="lstm-2", blocks=2)
    assert result == count(cfg)


def test_cli_count_in_process_uses_the_flags(capsys):
    assert main(["count", "--model", "baseline", "--chain", "resnet34", "--image-size", "16",
                 "--width", "4", "--num-classes", "7", "--in-channels", "1"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    cfg = ModelConfig(method="baseline", chain="resnet34", image_size=16, width=4, num_classes=7,
                      in_channels=1)
    assert result == count(cfg) and err == ""


def _run_cli(argv):
    try:
        return main(["count", *argv])
    except SystemExit as exc:  # argparse exits instead of returning
        return exc.code


CLI_ERRORS = [
    (["--chain", "resnet99"], "resnet99"),
    (["--encoder", "nope"], "nope"),
    (["--blocks", "0"], "got 0"),
    (["--blocks", "5"], "got 5"),
    (["--task", "text", "--chain", "lstm-2", "--blocks", "3"], "lstm-2"),
    (["--image-size", "8"], "image_size 8"),
    (["--task", "text", "--seq-len", "0"], "got 0"),
    (["--encoder", "mlm-small"], "mlm-small"),
    (["--task", "text", "--encoder", "mae-small"], "mae-small"),
]


def _assert_one_error_line(code, capsys, culprit):
    out, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert culprit in lines[0]
    assert out == ""


@pytest.mark.parametrize("argv, culprit", CLI_ERRORS, ids=[" ".join(a) for a, _ in CLI_ERRORS])
def test_cli_bad_input_prints_one_error_line_and_exits_2(argv, culprit, capsys):
    _assert_one_error_line(_run_cli(["--width", "8", "--image-size", "16", *argv]), capsys, culprit)


@pytest.mark.parametrize("argv, culprit", [
    (["--task", "audio"], "audio"), (["--model", "sleep"], "sleep"), (["--head", "conv"], "conv"),
])
def test_cli_bad_choice_prints_one_error_line_and_exits_2(argv, culprit, capsys):
    _assert_one_error_line(_run_cli(argv), capsys, culprit)


def test_cli_debug_shows_the_exception():
    with pytest.raises(ConfigError, match="resnet99"):
        main(["count", "--chain", "resnet99", "--debug"])


def test_cli_flags_map_to_config_fields():
    from dreamlib.cli import MODEL_FLAG_FIELDS

    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    assert set(MODEL_FLAG_FIELDS.values()) == fields


@pytest.mark.parametrize("task", ["vision", "text"])
def test_a_run_counts_its_configuration_once_without_touching_the_random_stream(task,
                                                                               monkeypatch):
    """``config_flops`` (what a run records): the count of the configuration, made once per
    process (another seed's model reads it back) and drawing nothing from torch's global RNG,
    so whether a run counts or reuses the count cannot change its numbers."""
    cfg = ModelConfig(task=task, method="dreamnet", blocks=1, width=8, num_classes=3,
                      **({"image_size": 16, "in_channels": 1} if task == "vision"
                         else {"seq_len": 8}))
    monkeypatch.setattr(counting, "_FLOPS_BY_CONFIG", {})
    torch.manual_seed(0)
    model = build_model(cfg, pretrained=False)
    state = torch.get_rng_state()
    flops = counting.config_flops(cfg, model)
    assert torch.equal(torch.get_rng_state(), state)
    assert flops == counting.count_flops(model, counting.example_inputs(cfg)) > 0

    def again(*_):
        raise AssertionError("counted the same configuration twice")

    monkeypatch.setattr(counting, "count_flops", again)
    torch.manual_seed(1)  # another seed: other weights, same shapes
    assert counting.config_flops(cfg, build_model(cfg, pretrained=False)) == flops
    wider = dataclasses.replace(cfg, width=16)
    with pytest.raises(AssertionError, match="twice"):  # another configuration is counted
        counting.config_flops(wider, build_model(wider, pretrained=False))
