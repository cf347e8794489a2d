"""The paper profile on a CUDA device: step time, memory, and how far off the plan is.

Run on a machine with a GPU:  .venv/bin/python benchmarks/paper_gpu.py [--steps 20] [--dry-run]

For the Table 5 models at the paper's configuration (ResNet18, the fine-tuned MAE-base,
SleepNet-3 with ViT-base and DreamNet-3 with MAE-base; 224 px, batch 128, bf16 autocast) it
times training steps with ``dreamlib.bench`` on ``cuda`` (random weights: the step costs the
same), records peak GPU memory, and compares the measured hours per CIFAR-100 epoch with the
plan's estimate (``dreamlib.dryrun``, calibrated on the paper's own Table 5 hardware, a
Quadro RTX 5000): ``measured / planned`` is the speed of this GPU relative to the paper's,
and its spread across models is the plan's error in relative cost. ``--dry-run`` first runs
``reproduce --profile paper --dry-run`` on the GPU. Writes benchmarks/results/paper_gpu.{json,md}.
Without a GPU it says so and exits 2, writing nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from dreamlib import dryrun  # noqa: E402
from dreamlib.bench import bench  # noqa: E402
from dreamlib.experiments import table5_efficiency  # noqa: E402
from dreamlib.runs import atomic_write_text  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--dry-run", action="store_true", help="run the paper dry run first")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing measured (run this on a GPU machine)", file=sys.stderr)
        return 2

    result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
              "batch_size": args.batch_size, "steps": args.steps, "rows": []}
    if args.dry_run:
        start = time.time()
        with tempfile.TemporaryDirectory(prefix="dreamlib-gpu-dry-run-") as folder:
            done = subprocess.run([sys.executable, "-m", "dreamlib", "reproduce", "--profile",
                                   "paper", "--dry-run", "--output-dir", folder])
        result["dry_run"] = {"exit": done.returncode, "seconds": round(time.time() - start)}

    rates = dryrun.calibration("paper")
    for entry in table5_efficiency("paper"):
        model = entry.cfg.model
        measured = bench(model, batch_size=args.batch_size, steps=args.steps, warmup=3,
                         precision="bf16", device="cuda")
        train, _ = dryrun.split_sizes(entry.cfg)
        measured_hours = measured["step_seconds"] * train / args.batch_size / 3600
        run = dryrun.PlannedRun("08", entry.label, entry.task, entry.method,
                                dryrun.forward_flops(model), train, 0, 1)
        planned_hours = dryrun.gpu_hours(run, rates)
        result["rows"].append({"model": entry.paper, "step_seconds": measured["step_seconds"],
                               "peak_gpu_mb": measured.get("peak_gpu_mb"),
                               "hours_per_epoch": measured_hours,
                               "planned_hours_per_epoch": planned_hours,
                               "measured_over_planned": measured_hours / planned_hours})
    OUT.mkdir(exist_ok=True)
    atomic_write_text(OUT / "paper_gpu.json", json.dumps(result, indent=2) + "\n")
    lines = [f"# Paper configuration on {result['device']}", "",
             "| model | step (s) | peak GPU (MB) | h/epoch measured | h/epoch planned | ratio |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['step_seconds']:.3f} | {r['peak_gpu_mb']} | "
              f"{r['hours_per_epoch']:.3f} | {r['planned_hours_per_epoch']:.3f} | "
              f"{r['measured_over_planned']:.2f} |" for r in result["rows"]]
    atomic_write_text(OUT / "paper_gpu.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
