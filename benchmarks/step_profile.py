"""Where a default-profile training step spends its time: torch.profiler's top operators.

Run:  .venv/bin/python benchmarks/step_profile.py [--steps 3] [--threads 1] [--tag after]
          [--code FOLDER] [--channels-last]
Writes benchmarks/results/step_profile_<tag>.md. ``--code`` profiles another checkout's
dreamlib (e.g. a worktree of the commit before a change, with ``--tag before``);
``--channels-last`` stores vision models and images NHWC, the layout runs train in since
issue 22 (``dreamlib.models.channels_last``).

For text and vision SleepNet-2 and DreamNet-2 at the default profile's sizes (random
weights, the run's batch size), ``warmup`` untimed `bench` steps, then ``steps`` steps under
``torch.profiler``; the table lists the operators with the most self CPU time, as a share
of the profiled steps' total. One thread by default: the layout the batch trains runs in
(2 runs x 1 thread on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
OUT = Path(__file__).resolve().parent / "results"


def train_step(model, inputs, labels, optimizer) -> None:
    """Forward, cross-entropy, backward, Adam step (written here: older checkouts lack
    ``dreamlib.bench.train_step``)."""
    loss = F.cross_entropy(model(*inputs), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
MODELS = [(task, method) for task in ("text", "vision") for method in ("sleepnet", "dreamnet")]



def top_ops(task: str, method: str, steps: int, warmup: int, rows: int,
            channels_last: bool = False) -> tuple[float, list]:
    """(seconds per step, [(operator, share of self CPU time, ms per step)]) of one model."""
    from dreamlib.bench import prepared
    from dreamlib.profiles import make_run_config
    from dreamlib.train import adam

    cfg = make_run_config("default", task, model={"method": method, "blocks": 2})
    model, module, inputs, labels, _ = prepared(cfg.model, batch_size=cfg.batch_size,
                                                channels_last=channels_last and task == "vision")
    optimizer = adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    for _ in range(warmup):
        train_step(module, inputs, labels, optimizer)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            train_step(module, inputs, labels, optimizer)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    ranked = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:rows]
    return total / steps / 1e6, [(e.key, e.self_cpu_time_total / total,
                                  e.self_cpu_time_total / steps / 1e3) for e in ranked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--tag", default="after")
    parser.add_argument("--code", help="the checkout whose dreamlib is profiled (default: this)")
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    if args.code:
        sys.path.insert(0, str(Path(args.code).resolve()))
    from dreamlib.runs import atomic_write_text

    torch.set_num_threads(args.threads)
    flags = " --channels-last" * args.channels_last + (f" --code {args.code}" if args.code else "")
    parts = [f"# Top operators of a default-profile training step ({args.tag})\n\n"
             f"`benchmarks/step_profile.py --steps {args.steps} --threads {args.threads} "
             f"--tag {args.tag}{flags}`: torch.profiler, self CPU time, {args.threads} "
             f"thread(s), random weights, after {args.warmup} warm-up steps.\n"]
    for task, method in MODELS:
        seconds, ops = top_ops(task, method, args.steps, args.warmup, args.rows,
                               args.channels_last)
        lines = [f"\n## {task} {method}-2: {seconds:.3f} s of operator time per step\n",
                 "| operator | share | ms per step |", "|---|---|---|"]
        lines += [f"| `{name}` | {share:.1%} | {ms:.1f} |" for name, share, ms in ops]
        parts.append("\n".join(lines) + "\n")
        print(parts[-1], flush=True)
    OUT.mkdir(exist_ok=True)
    atomic_write_text(OUT / f"step_profile_{args.tag}.md", "".join(parts))


if __name__ == "__main__":
    main()
