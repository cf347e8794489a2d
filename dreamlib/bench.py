"""Training-step speed and memory of any configuration: ``python -m dreamlib bench``.

Builds the configuration randomly initialised (offline), runs ``warmup`` training steps
(forward, backward, Adam step) that are not timed, then ``steps`` timed ones, and reports the
median step time, examples per second and peak memory. Benchmarks compare ratios measured in
one process (see ``benchmarks/``), never absolute times across machines.
"""

from __future__ import annotations

import resource
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .config import ModelConfig
from .counting import example_inputs
from .encoders import load_encoder
from .errors import ConfigError
from .models import build_model, encoder_parameters
from .train import adam


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    Linux's ``VmHWM`` first: ``getrusage``'s ``ru_maxrss`` survives ``exec``, so a bench
    started by a bigger process would report its parent's peak (benchmarks/step_time.py
    starts one per model). ``ru_maxrss`` where /proc is missing.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepared(cfg: ModelConfig, batch_size: int = 2, precision: str = "fp32",
             compile: bool = False, channels_last: bool = False, device: str = "cpu"):
    """The model of ``cfg`` (random weights, seed 0), the module to call with the speed options
    applied, a batch of inputs and labels, and the autocast context.

    Speed options change how the step is computed, never what: ``channels_last`` stores
    images and conv weights NHWC (oneDNN / cuDNN's preferred layout), ``bf16`` runs matmuls
    and convs under autocast, ``compile`` hands the model to ``torch.compile``. The tests
    check each against the plain fp32 model.
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    if precision not in ("fp32", "bf16"):
        raise ConfigError(f"unknown precision {precision!r}; choose one of: fp32, bf16")
    if device not in ("cpu", "cuda") or (device == "cuda" and not torch.cuda.is_available()):
        raise ConfigError(f"device {device!r} is not available here; choose cpu"
                          + (" or cuda" if torch.cuda.is_available() else ""))
    torch.manual_seed(0)
    model = build_model(cfg, pretrained=False).to(device)
    generator = torch.Generator().manual_seed(0)
    inputs = tuple(x.to(device) for x in example_inputs(cfg, batch_size, generator))
    labels = torch.randint(0, cfg.num_classes, (batch_size,), generator=generator).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        inputs = tuple(x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
                       for x in inputs)
    step_model = compiled(model) if compile else model
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16")
    return model, step_model, inputs, labels, autocast


def compiled(model: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile`` that draws random numbers as eager mode does: the MAE masks are
    random, and inductor's own generator would draw different ones (a different step)."""
    import torch._inductor.config as inductor  # deferred: the compiler stack takes ~2 s to import

    inductor.fallback_random = True
    return torch.compile(model)


def train_step(model, inputs, labels, optimizer, autocast) -> None:
    """One training step as ``train`` takes it: forward (under ``autocast``), cross-entropy,
    backward, optimizer step."""
    with autocast:
        loss = F.cross_entropy(model(*inputs), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def bench(cfg: ModelConfig, batch_size: int = 2, steps: int = 5, warmup: int = 1,
          precision: str = "fp32", compile: bool = False, device: str = "cpu",
          channels_last: bool = False) -> dict:
    """Median seconds per training step of ``cfg`` at ``batch_size``."""
    if steps < 1 or warmup < 0:
        raise ConfigError(f"steps must be >= 1 (got {steps}) and warm-up >= 0 (got {warmup})")
    model, step_model, inputs, labels, autocast = prepared(cfg, batch_size, precision, compile,
                                                           channels_last, device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = adam(params, lr=1e-4)
    times = []
    for i in range(warmup + steps):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        train_step(step_model, inputs, labels, optimizer, autocast)
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    out = {"step_seconds": median, "examples_per_second": batch_size / median,
           "peak_rss_mb": round(peak_rss_mb(), 1), "steps": steps, "batch_size": batch_size,
           "precision": precision, "compile": compile, "channels_last": channels_last,
           "threads": torch.get_num_threads(),
           "trainable_params": sum(p.numel() for p in params),
           "encoder_params": sum(p.numel() for p in encoder_parameters(model))}
    if device == "cuda":
        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def median_seconds(step, steps: int, warmup: int) -> float:
    """Median wall time of `steps` calls of `step` after `warmup` untimed ones."""
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def encoder_seconds(name: str, autoencoder: bool, batch_size: int = 2, steps: int = 3,
                    warmup: int = 1, seq_len: int = 128, mask_ratio: float = 0.75) -> float:
    """The work a sleep/dream block cannot avoid: the frozen encoder (or autoencoder) alone.

    Vision: forward and backward to its input (gradients must reach the chain). Text: forward
    only, without autograd (nothing can flow back through the argmax).
    """
    torch.manual_seed(0)
    encoder = load_encoder(name, autoencoder=autoencoder, pretrained=False, mask_ratio=mask_ratio)
    encoder.requires_grad_(False)
    encoder.train()  # frozen: backbone in eval, masking drawn at random as in training
    if encoder.task == "vision":
        size = encoder.image_size
        images = torch.randn(batch_size, 3, size, size, requires_grad=True)

        def step():
            if autoencoder:
                encoder.reconstruct(images).image.sum().backward()
            else:
                encoder.encode(images).tokens.sum().backward()
    else:
        ids = torch.randint(5, 1000, (batch_size, seq_len))
        mask = torch.ones_like(ids)

        def step():
            # a dream block reads the masked LM only through its argmax: the ids are its output
            with torch.no_grad():
                (encoder.reconstruct_ids if autoencoder else encoder.encode)(input_ids=ids,
                                                                            attention_mask=mask)
    return median_seconds(step, steps, warmup)
