"""Step options on the default profile's own models: layout, bf16 autocast, torch.compile.

Run:  .venv/bin/python benchmarks/default_step_options.py [--steps 5] [--threads 1] [--seeds 3]
Writes benchmarks/results/default_step_options.{csv,md}.

Also the maximum over the vocabulary (``argmax`` against ``max(dim=-1).indices``).

Speed: a `bench` training step (random weights, the run's batch size, one thread: the layout
the batch trains in) of each model of the throughput sample (chain, control, SleepNet-2,
DreamNet-2 per task) as runs train it (fp32; vision channels-last), with vision's images and
weights NCHW instead, under bf16 autocast, and compiled (``torch.compile``; its warm-up steps
include the compilation, whose seconds are reported). Accuracy: for each model whose bf16 step is at
least ``--adopt-speedup`` faster, whole default-profile runs of ``--seeds`` seeds in fp32 and
bf16, paired by seed; bf16 would be adopted only if the mean difference lies within the fp32
seeds' spread (one standard deviation).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from dreamlib.bench import bench  # noqa: E402
from dreamlib.profiles import make_run_config  # noqa: E402
from dreamlib.report import markdown  # noqa: E402
from dreamlib.runs import atomic_write_text  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"
SAMPLE = [(task, method) for task in ("vision", "text")
          for method in ("baseline", "features", "sleepnet", "dreamnet")]


def config(task: str, method: str, **run):
    model = {"method": method, **({"blocks": 2} if method in ("sleepnet", "dreamnet") else {})}
    return make_run_config("default", task, model=model, **run)


def step_times(steps: int, warmup: int) -> pd.DataFrame:
    rows = []
    for task, method in SAMPLE:
        cfg = config(task, method)
        layout = {"channels_last": task == "vision"}  # as runs train (models.channels_last)
        options = {"fp32": layout, "bf16": {**layout, "precision": "bf16"},
                   "compile": {**layout, "compile": True}}
        if task == "vision":
            options["nchw"] = {}
        times = {}
        for option, kwargs in options.items():
            start = time.perf_counter()
            result = bench(cfg.model, batch_size=cfg.batch_size, steps=steps,
                           warmup=warmup + 2 * (option == "compile"), **kwargs)
            times[option] = result["step_seconds"]
            if option == "compile":  # the compilation: what the warm-up took beyond its steps
                wall = time.perf_counter() - start
                compile_s = wall - (steps + warmup + 2) * result["step_seconds"]
        rows.append({"task": task, "model": method, "fp32_s": round(times["fp32"], 4),
                     "nchw_speedup": (round(times["fp32"] / times["nchw"], 2)
                                      if "nchw" in times else None),
                     "bf16_speedup": round(times["fp32"] / times["bf16"], 2),
                     "compile_speedup": round(times["fp32"] / times["compile"], 2),
                     "compile_s": round(compile_s, 1)})
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def argmax_reduction(repeats: int = 15) -> pd.DataFrame:
    """``linear_argmax`` (one text connection's vocabulary projection + maximum, the default
    profile's 64 x 16 tokens over mlm-small's vocabulary) reducing with ``argmax`` against
    ``max(dim=-1).indices`` (what it uses), alternated in one process; the ids are equal."""
    import torch.nn.functional as F

    from dreamlib.encoders import encoder_config, linear_argmax

    vocab = encoder_config("mlm-small").vocab_size

    def with_argmax(x, weight, bias):
        flat = x.reshape(-1, x.shape[-1])
        return torch.cat([F.linear(c, weight, bias).argmax(dim=-1) for c in flat.split(256)])

    rows = []
    generator = torch.Generator().manual_seed(0)
    for what, width, has_bias in (("A_in (chain width 32, tied table)", 32, False),
                                  ("masked-LM decoder (hidden 128, bias)", 128, True)):
        x = torch.randn(64, 16, width, generator=generator)
        weight = torch.randn(vocab, width, generator=generator)
        bias = torch.randn(vocab, generator=generator) if has_bias else None
        assert torch.equal(with_argmax(x, weight, bias).reshape(64, 16),
                           linear_argmax(x, weight, bias))
        times = {"argmax": [], "max": []}
        for _ in range(repeats):
            for name, fn in (("argmax", with_argmax), ("max", linear_argmax)):
                start = time.perf_counter()
                fn(x, weight, bias)
                times[name].append(time.perf_counter() - start)
        old, new = statistics.median(times["argmax"]), statistics.median(times["max"])
        rows.append({"projection": what, "tokens x vocabulary": f"1024 x {vocab}",
                     "argmax_ms": round(old * 1e3, 1), "max_indices_ms": round(new * 1e3, 1),
                     "speedup": round(old / new, 2)})
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def accuracies(task: str, method: str, seeds: int, threads: int) -> dict:
    """Paired fp32 / bf16 accuracies of whole default-profile runs, each in its own process
    (Accelerate fixes a process's mixed precision at its first run)."""
    result = {"fp32": [], "bf16": []}
    blocks = ["--blocks", "2"] if method in ("sleepnet", "dreamnet") else []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            for precision in result:
                out = Path(tmp) / f"{precision}-{seed}"
                subprocess.run([sys.executable, "-m", "dreamlib", "train", "--profile", "default",
                                "--task", task, "--model", method, *blocks, "--seed", str(seed),
                                "--precision", precision, "--out", str(out), "--quiet"],
                               check=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
                metrics = json.loads((out / "metrics.json").read_text())
                result[precision].append(metrics["accuracy"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--adopt-speedup", type=float, default=1.1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    argmax = argmax_reduction()
    table = step_times(args.steps, args.warmup)
    OUT.mkdir(exist_ok=True)
    table.to_csv(OUT / "default_step_options.csv", index=False)
    checks = []
    for row in table.itertuples():
        if row.bf16_speedup < args.adopt_speedup or args.seeds < 2:  # --seeds 0: speed only
            continue
        acc = accuracies(row.task, row.model, args.seeds, args.threads)
        diffs = [b - f for f, b in zip(acc["fp32"], acc["bf16"])]
        spread = statistics.stdev(acc["fp32"])
        checks.append({"task": row.task, "model": row.model, "seeds": args.seeds,
                       "fp32_mean": round(statistics.mean(acc["fp32"]), 4),
                       "bf16_mean": round(statistics.mean(acc["bf16"]), 4),
                       "mean_difference": round(statistics.mean(diffs), 4),
                       "fp32_seed_sd": round(spread, 4),
                       "within_spread": abs(statistics.mean(diffs)) <= spread})
        print(checks[-1], flush=True)
    text = (f"# Step options on the default profile's models\n\n"
            f"`benchmarks/default_step_options.py --steps {args.steps} --threads {args.threads} --seeds "
            f"{args.seeds}`: median `bench` training step, {args.threads} thread(s), "
            f"{args.warmup} warm-up steps (compile: {args.warmup + 2}, compilation included "
            f"there, `compile_s` its seconds); speed-up = the runs' own step (`fp32_s`: fp32, "
            f"vision channels-last) / the option's step, so a value below 1 means the option "
            f"is slower (`nchw`: vision without channels-last).\n\n" + markdown(table) + "\n")
    text += ("\n## The vocabulary's maximum: `argmax` against `max(dim=-1).indices`\n\n"
             "One connection's projection and maximum (`encoders.linear_argmax`), median of 15 "
             "alternated calls; the ids are equal (asserted).\n\n" + markdown(argmax) + "\n")
    if checks:
        text += ("\n## Accuracy of whole runs where bf16 is faster\n\n"
                 + markdown(pd.DataFrame(checks)) + "\n")
    atomic_write_text(OUT / "default_step_options.md", text)
    print(text)


if __name__ == "__main__":
    main()
