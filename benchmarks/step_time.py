"""Training-step time and memory of SleepNet/DreamNet-1..4 at the paper's configuration.

Run:  .venv/bin/python benchmarks/step_time.py [--steps 3] [--quick]
Writes benchmarks/results/step_time.{csv,md}. Every model row is one `python -m dreamlib
bench` subprocess (so its peak memory is its own); the chain and encoder limits are timed in
this process. All of it runs in one invocation, so the ratios (to the limit, to a ResNet18
step, to the authors' reference step) are what compare across machines, not the seconds.

limit(M) = the chain alone (its training step) + M x the frozen encoder alone (vision: forward
and backward to its input; text: forward without autograd, through the LM's argmax for
DreamNet) — the work a model with M sleep or dream blocks cannot avoid. A `linear` head adds
its own Linear(D, C*H*W) per block (77-154M parameters each at 224 px): its forward, weight
gradient and Adam update are extra work the limit does not count; `head_s` times exactly
that (the M heads alone: forward, backward, fused Adam) so `ratio_to_limit_and_head` shows
what remains beyond both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from dreamlib.bench import bench, encoder_seconds, median_seconds  # noqa: E402
from dreamlib.blocks import LinearHead  # noqa: E402
from dreamlib.config import ModelConfig  # noqa: E402
from dreamlib.encoders import Tokens  # noqa: E402
from dreamlib.models.vision import ResNetChain  # noqa: E402
from dreamlib.paper import PAPER_ENCODERS  # noqa: E402
from dreamlib.report import markdown  # noqa: E402
from dreamlib.runs import atomic_write_text  # noqa: E402
from dreamlib.train import adam  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"
VISION = {"task": "vision", "chain": "resnet18", "image_size": 224, "num_classes": 100}
TEXT = {"task": "text", "chain": "lstm", "seq_len": 128, "num_classes": 4}
# The authors' published DreamNet-3 (one shared MAE-base connection, Linear(768, 128*56*56)
# head plus an unused second one, Adam), fp32, batch 2, 224 px, measured on the 2-core
# machine these benchmarks were first run on (issue 5): seconds per step, peak GB.
AUTHORS_DREAMNET3 = {"step_s": 10.7, "peak_gb": 10.3}


def bench_subprocess(fields: dict, batch_size: int, steps: int, *options: str) -> dict:
    """`python -m dreamlib bench` for one configuration, in its own process."""
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in fields.items()]
    command = [sys.executable, "-m", "dreamlib", "bench", *flags, f"--batch-size={batch_size}",
               f"--steps={steps}", *options]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def limits(batch_size: int, steps: int) -> tuple[float, dict, dict]:
    """ResNet18 step, chain-alone steps per task, encoder-alone seconds per (task, kind)."""
    run = lambda cfg: bench(cfg, batch_size, steps)["step_seconds"]  # noqa: E731
    chains = {"vision": run(ModelConfig(method="baseline", **VISION)),
              "text": run(ModelConfig(method="baseline", **TEXT))}
    encoders = {(task, kind): encoder_seconds(PAPER_ENCODERS[(task, kind)], kind == "dreamnet",
                                              batch_size, steps)
                for task in ("vision", "text") for kind in ("sleepnet", "dreamnet")}
    return chains["vision"], chains, encoders


def linear_head_seconds(blocks: int, batch_size: int, steps: int, token_dim: int = 768) -> float:
    """One training step of the M ``linear`` heads alone (Linear(768, C*H*W) per block, the
    authors' A_out): forward from pooled tokens, backward, fused Adam."""
    torch.manual_seed(0)
    shapes = ResNetChain(VISION["chain"], 3, VISION["image_size"]).stage_shapes[:blocks]
    heads = torch.nn.ModuleList(LinearHead(token_dim, shape) for shape in shapes)
    optimizer = adam(heads.parameters(), lr=1e-4)
    tokens = Tokens(torch.randn(batch_size, 1, token_dim), visible=None)  # every token seen

    def step():
        loss = sum(head(tokens).square().mean() for head in heads)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    seconds = median_seconds(step, max(steps, 5), warmup=2)  # short steps: more samples
    return seconds


def model_rows(blocks, batch_size: int, steps: int, resnet18: float, chains: dict,
               encoders: dict) -> list[dict]:
    specs = [(VISION, kind, head) for kind in ("sleepnet", "dreamnet") for head in ("linear", "grid")]
    specs += [(TEXT, kind, "linear") for kind in ("sleepnet", "dreamnet")]
    rows = []
    heads = {m: linear_head_seconds(m, batch_size, steps) for m in blocks}
    for sizes, kind, head in specs:
        task = sizes["task"]
        for m in blocks:
            fields = {**sizes, "method": kind, "blocks": m, "a_out": head,
                      "encoder": PAPER_ENCODERS[(task, kind)]}
            result = bench_subprocess(fields, batch_size, steps)
            seconds = result["step_seconds"]
            limit = chains[task] + m * encoders[(task, kind)]
            head_s = heads[m] if (task, head) == ("vision", "linear") else 0.0
            rows.append({"model": ModelConfig(**fields).label(), "task": task, "head": head,
                         "step_s": round(seconds, 3), "limit_s": round(limit, 3),
                         "ratio_to_limit": round(seconds / limit, 2),
                         "head_s": round(head_s, 3),
                         "ratio_to_limit_and_head": round(seconds / (limit + head_s), 2),
                         "ratio_to_resnet18": round(seconds / resnet18, 2),
                         "peak_rss_mb": result["peak_rss_mb"],
                         "trainable_params": result["trainable_params"]})
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def option_rows(batch_size: int, steps: int) -> list[dict]:
    """DreamNet-3 against the authors' reference step, and each speed option on it."""
    rows = []
    options = [("fp32", ()), ("channels_last", ("--channels-last",)),
               ("bf16 autocast", ("--precision=bf16",))]
    for head in ("grid", "linear"):
        fields = {**VISION, "method": "dreamnet", "blocks": 3, "a_out": head,
                  "encoder": PAPER_ENCODERS[("vision", "dreamnet")]}
        for name, flags in options:
            result = bench_subprocess(fields, batch_size, steps, *flags)
            rows.append({"model": ModelConfig(**fields).label(), "option": name,
                         "step_s": round(result["step_seconds"], 3),
                         "speedup_vs_authors": round(AUTHORS_DREAMNET3["step_s"]
                                                     / result["step_seconds"], 2),
                         "peak_rss_mb": result["peak_rss_mb"],
                         "memory_vs_authors": round(result["peak_rss_mb"] / 1024
                                                    / AUTHORS_DREAMNET3["peak_gb"], 2)})
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="M = 1 and 3 only, no option rows")
    args = parser.parse_args()
    blocks = (1, 3) if args.quick else (1, 2, 3, 4)

    resnet18, chains, encoders = limits(args.batch_size, args.steps)
    table = pd.DataFrame(model_rows(blocks, args.batch_size, args.steps, resnet18, chains,
                                    encoders))
    options = pd.DataFrame([] if args.quick else option_rows(args.batch_size, args.steps))
    OUT.mkdir(exist_ok=True)
    atomic_write_text(OUT / "step_time.csv", table.to_csv(index=False))
    if not options.empty:
        atomic_write_text(OUT / "step_options.csv", options.to_csv(index=False))
    head = (f"# Training-step time vs its limit (batch {args.batch_size}, fp32, CPU, "
            f"{os.cpu_count()} cores, median of {args.steps} steps)\n\n"
            f"Command: `.venv/bin/python benchmarks/step_time.py --steps {args.steps}"
            f"{' --quick' if args.quick else ''}`\n\n"
            f"ResNet18 step: {resnet18:.3f} s; chain alone: "
            + ", ".join(f"{k} {v:.3f} s" for k, v in chains.items()) + "; encoder alone: "
            + ", ".join(f"{t}/{k} {v:.3f} s" for (t, k), v in encoders.items()) + "\n\n")
    body = markdown(table)
    if not options.empty:
        body += ("\n\n## DreamNet-3 vs the authors' reference step "
                 f"({AUTHORS_DREAMNET3['step_s']} s, {AUTHORS_DREAMNET3['peak_gb']} GB peak), "
                 "and the speed options\n\n" + markdown(options))
    atomic_write_text(OUT / "step_time.md", head + body + "\n")
    print(head + body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
