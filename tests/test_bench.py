"""`bench` measures a training step of any configuration; it never asserts a time."""

import json

import pytest
import torch
import torch.nn.functional as F

from dreamlib.bench import bench, encoder_seconds, prepared
from dreamlib.cli import main
from dreamlib.config import ModelConfig
from dreamlib.counting import count
from dreamlib.errors import ConfigError
from dreamlib.train import adam

TINY = ModelConfig(method="dreamnet", blocks=2, image_size=16, width=8)


def test_bench_reports_step_time_throughput_and_memory(one_thread):
    result = bench(TINY, batch_size=2, steps=2, warmup=1)
    assert result["step_seconds"] > 0
    assert result["peak_rss_mb"] > 0 and result["steps"] == 2 and result["batch_size"] == 2
    counted = count(TINY)  # bench trains exactly the parameters count() calls trainable
    assert result["trainable_params"] == counted["trainable_params"]
    assert result["encoder_params"] == counted["encoder_params"] > 0


def test_bench_bf16_runs_and_bad_options_are_one_error(one_thread):
    assert bench(TINY, batch_size=2, steps=1, warmup=0, precision="bf16")["step_seconds"] > 0
    for kwargs, culprit in (({"precision": "fp8"}, "fp8"), ({"batch_size": 0}, "0"),
                            ({"device": "tpu"}, "tpu")):
        with pytest.raises(ConfigError, match=culprit):
            bench(TINY, **kwargs)


@pytest.mark.parametrize("name, autoencoder", [("mae-small", False), ("mae-small", True),
                                               ("mlm-small", True)])
def test_encoder_alone_is_timed(name, autoencoder, one_thread):
    assert encoder_seconds(name, autoencoder, batch_size=2, steps=1, warmup=0, seq_len=8) > 0


def test_bench_cli_prints_one_json_line(capsys, one_thread):
    code = main(["bench", "--width", "8", "--image-size", "16", "--steps", "1", "--warmup", "0"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip())
    assert {"step_seconds", "examples_per_second", "peak_rss_mb"} <= set(result)


# --- speed options change how a step is computed, not what ---------------------------------

SPEED_MODELS = {
    "dreamnet-linear": TINY,
    "dreamnet-grid": ModelConfig(method="dreamnet", blocks=2, image_size=16, width=8, a_out="grid"),
    "sleepnet-grid": ModelConfig(method="sleepnet", blocks=3, image_size=16, width=8, a_out="grid"),
    "text-dreamnet": ModelConfig(task="text", method="dreamnet", chain="lstm", blocks=2,
                                 seq_len=8, width=8),
}


def one_step(cfg: ModelConfig, **options) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of one training step's forward and the gradient of every trainable parameter.

    Gradients, not the updated weights: Adam's first step divides each gradient by its own
    magnitude, which turns float rounding in a near-zero gradient into a full lr-sized move.
    """
    model, step_model, inputs, labels, autocast = prepared(cfg, batch_size=2, **options)
    params = [p for p in model.parameters() if p.requires_grad]
    with autocast:
        logits = step_model(*inputs)
        loss = F.cross_entropy(logits, labels)
    loss.backward()
    return logits.detach().float(), torch.cat([p.grad.float().flatten() for p in params])


def relative_error(found: torch.Tensor, expected: torch.Tensor) -> float:
    """||found - expected|| / ||expected||: one number for a whole tensor, insensitive to the
    few near-zero entries where any reordering of a sum shows up as a large relative change."""
    return float((found - expected).norm() / expected.norm())


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(F.cosine_similarity(a, b, dim=0))


FP32_TOLERANCE = 1e-4  # relative L2 error of logits and gradients: float summation order only


@pytest.mark.parametrize("name", ["dreamnet-linear", "dreamnet-grid", "sleepnet-grid"])
def test_channels_last_computes_the_same_step(name, one_thread):
    """fp32 NHWC vs NCHW: the same sums in another order, so equal to float rounding."""
    logits, grads = one_step(SPEED_MODELS[name])
    nhwc_logits, nhwc_grads = one_step(SPEED_MODELS[name], channels_last=True)
    assert relative_error(nhwc_logits, logits) < FP32_TOLERANCE
    assert relative_error(nhwc_grads, grads) < FP32_TOLERANCE


@pytest.mark.parametrize("name", sorted(SPEED_MODELS))
def test_bf16_autocast_stays_within_its_stated_tolerance(name, one_thread):
    """bf16 keeps 8 bits of mantissa. Stated tolerance: logits within 5% (relative L2) of
    fp32, gradient direction within cosine 0.9. Gradients of early layers at batch 2 are sums
    of many cancelling terms, so their per-element error is large; the direction is what an
    optimiser step uses."""
    logits, grads = one_step(SPEED_MODELS[name])
    bf16_logits, bf16_grads = one_step(SPEED_MODELS[name], precision="bf16")
    assert relative_error(bf16_logits, logits) < 0.05
    assert cosine(bf16_grads, grads) > 0.9


@pytest.mark.slow
def test_compile_computes_the_same_step(one_thread):
    """torch.compile (inductor, CPU) fuses kernels; the result agrees to float rounding
    (with eager-mode random numbers, so the MAE draws the same masks)."""
    cfg = SPEED_MODELS["sleepnet-grid"]
    logits, grads = one_step(cfg)
    compiled_logits, compiled_grads = one_step(cfg, compile=True)
    assert relative_error(compiled_logits, logits) < FP32_TOLERANCE
    assert relative_error(compiled_grads, grads) < FP32_TOLERANCE


def test_adam_uses_the_fused_kernel_and_matches_the_foreach_update(one_thread):
    torch.manual_seed(0)
    start = [torch.randn(50, 40), torch.randn(40)]
    grads = [torch.randn_like(p) for p in start]
    results = []
    for make in (lambda ps: adam(ps, lr=1e-2),
                 lambda ps: torch.optim.Adam(ps, lr=1e-2, foreach=True)):
        params = [torch.nn.Parameter(p.clone()) for p in start]
        optimizer = make(params)
        for _ in range(3):
            for p, g in zip(params, grads):
                p.grad = g.clone()
            optimizer.step()
        results.append(torch.cat([p.detach().flatten() for p in params]))
    assert adam([torch.nn.Parameter(torch.zeros(2))], lr=1e-3).defaults["fused"] is True
    torch.testing.assert_close(results[0], results[1], rtol=1e-6, atol=1e-7)
