"""Training-step time of SleepNet/DreamNet-1..4 at the paper's configuration, against its limit.

Run:  .venv/bin/python benchmarks/step_time.py [--steps 3] [--quick]
Writes benchmarks/results/step_time.{csv,md}. All times come from this one process, so the
ratios (to the limit, to a ResNet18 step) are what compare across machines, not the seconds.

limit(M) = the chain alone (its training step) + M x the frozen encoder alone (vision: forward
and backward to its input; text: forward without autograd) — the work a model with M sleep or
dream blocks cannot avoid.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from dreamlib.bench import bench, encoder_seconds  # noqa: E402
from dreamlib.config import ModelConfig  # noqa: E402
from dreamlib.experiments import PAPER_ENCODERS  # noqa: E402
from dreamlib.report import markdown  # noqa: E402
from dreamlib.runs import atomic_write_text  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"
VISION = {"task": "vision", "chain": "resnet18", "image_size": 224, "num_classes": 100}
TEXT = {"task": "text", "chain": "lstm", "seq_len": 128, "num_classes": 4}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="M = 1 and 3 only")
    args = parser.parse_args()
    blocks = (1, 3) if args.quick else (1, 2, 3, 4)
    run = lambda cfg: bench(cfg, args.batch_size, args.steps)["step_seconds"]  # noqa: E731

    resnet18 = run(ModelConfig(model="baseline", **VISION))
    chains = {"vision": resnet18, "text": run(ModelConfig(model="baseline", **TEXT))}
    encoders = {(task, kind): encoder_seconds(PAPER_ENCODERS[(task, kind)], kind == "dreamnet",
                                              args.batch_size, args.steps)
                for task in ("vision", "text") for kind in ("sleepnet", "dreamnet")}
    rows = []
    specs = [(VISION, kind, head) for kind in ("sleepnet", "dreamnet") for head in ("linear", "grid")]
    specs += [(TEXT, kind, "linear") for kind in ("sleepnet", "dreamnet")]
    for sizes, kind, head in specs:
        task = sizes["task"]
        for m in blocks:
            cfg = ModelConfig(model=kind, blocks=m, head=head, encoder=PAPER_ENCODERS[(task, kind)],
                              **sizes)
            seconds = run(cfg)
            limit = chains[task] + m * encoders[(task, kind)]
            rows.append({"model": cfg.label(), "task": task, "step_s": round(seconds, 3),
                         "limit_s": round(limit, 3), "ratio_to_limit": round(seconds / limit, 2),
                         "ratio_to_resnet18": round(seconds / resnet18, 2)})
            print(rows[-1], file=sys.stderr)
    table = pd.DataFrame(rows)
    OUT.mkdir(exist_ok=True)
    atomic_write_text(OUT / "step_time.csv", table.to_csv(index=False))
    head = (f"# Training-step time vs its limit (batch {args.batch_size}, fp32, CPU, median of "
            f"{args.steps} steps)\n\nResNet18 step: {resnet18:.3f} s; chain alone: "
            + ", ".join(f"{k} {v:.3f} s" for k, v in chains.items()) + "; encoder alone: "
            + ", ".join(f"{t}/{k} {v:.3f} s" for (t, k), v in encoders.items()) + "\n\n")
    atomic_write_text(OUT / "step_time.md", head + markdown(table))
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
