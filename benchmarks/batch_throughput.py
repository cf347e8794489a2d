"""Runs per hour of the batch: a fixed sample of default-profile runs, before and after.

Run:  .venv/bin/python benchmarks/batch_throughput.py [--repeats 2] [--epochs 1]
Writes benchmarks/results/batch_throughput.{csv,md}; the last line printed is one JSON object
(``runs_per_hour_before``, ``runs_per_hour_after``, ``ratio``: medians over the repeats).

The sample is what the main comparison trains: per task the chain, the encoder-features
control, SleepNet-2 and DreamNet-2 (seed 0), at the training sizes of the converged main
rows (``--vision-train``, ``--text-train``). Each *setting* trains the whole sample into a
fresh run store, the way a batch would:

* ``before``: the code of ``--before`` (a git revision, checked out into a temporary
  worktree): runs one after another in one process, torch's default thread count, as the
  notebooks trained them;
* ``sequential``: this code the same way: what the trimmed text vocabulary and the exact
  savings buy on their own;
* ``parallel``: this code as ``reproduce`` trains a plan: independent runs in
  :func:`dreamlib.parallel.train_in_pool`'s processes, in the layout of
  :func:`dreamlib.parallel.parallel_layout` (2 x 1 thread on 2 cores);
* ``parallel-bf16``: the same under bf16 autocast (``--precision bf16``), measured, not adopted
  unless its accuracies stay within the seed spread.

Settings alternate inside each repeat, so machine noise falls on all of them alike. Each
setting runs in its own Python process (the ``before`` one with the old code on its path);
runs per hour = sample size / the setting's wall time, start-up included.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "results"
BEFORE = "c71e40f"  # the last commit before the throughput work (issue 22)
SAMPLE = [(task, method) for task in ("vision", "text")
          for method in ("baseline", "features", "sleepnet", "dreamnet")]
SETTINGS = {"before": {"code": "before", "parallel": False, "precision": "fp32"},
            "sequential": {"code": "this", "parallel": False, "precision": "fp32"},
            "parallel": {"code": "this", "parallel": True, "precision": "fp32"},
            "parallel-bf16": {"code": "this", "parallel": True, "precision": "bf16"}}


def drive(spec_file: str) -> None:
    """Train one setting's sample (in a child process whose dreamlib is the setting's code)
    and print one JSON line per run and one for the whole."""
    spec = json.loads(Path(spec_file).read_text())
    sys.path.insert(0, spec["code"])
    import torch

    from dreamlib.profiles import make_run_config
    from dreamlib.runs import run_folder

    start = time.perf_counter()
    configs = []
    for task, method in SAMPLE:
        model = {"method": method, **({"blocks": 2} if method in ("sleepnet", "dreamnet") else {})}
        configs.append(make_run_config(
            "default", task, model=model, seed=0, epochs=spec["epochs"],
            max_train=spec["train"][task], precision=spec["precision"]))
    folders = [run_folder(spec["store"], cfg) for cfg in configs]
    if spec["parallel"]:
        from dreamlib.parallel import parallel_layout, train_in_pool
        jobs, threads = parallel_layout()
        outcomes = train_in_pool(list(zip(configs, folders)), jobs=jobs, threads=threads,
                                 log=lambda *_: None)
        failed = {str(k): v for k, v in outcomes.items() if v != "done"}
        if failed:
            raise SystemExit(f"runs failed: {failed}")
    else:
        from dreamlib.train import train_run
        jobs, threads = 1, torch.get_num_threads()
        for cfg, folder in zip(configs, folders):
            train_run(cfg, folder, log=lambda *_: None, progress=False)
    wall = time.perf_counter() - start
    for (task, method), folder in zip(SAMPLE, folders):
        metrics = json.loads((folder / "metrics.json").read_text())
        rows = (folder / "log.csv").read_text().splitlines()[1:]
        train = sum(float(r.split(",")[3]) for r in rows)
        print(json.dumps({"task": task, "method": method, "accuracy": metrics["accuracy"],
                          "train_seconds": round(train, 1)}))
    print(json.dumps({"wall_seconds": round(wall, 1), "jobs": jobs, "threads": threads}))


def run_setting(name: str, code: Path, store: Path, args) -> dict:
    setting = SETTINGS[name]
    spec = {"code": str(code), "store": str(store), "epochs": args.epochs,
            "parallel": setting["parallel"], "precision": setting["precision"],
            "train": {"vision": args.vision_train, "text": args.text_train}}
    spec_file = store.with_suffix(".json")
    spec_file.write_text(json.dumps(spec))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--drive", str(spec_file)], env=env,
                          cwd=code, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"setting {name} failed:\n{done.stderr[-3000:]}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {"setting": name, "seconds": round(seconds, 1), "runs": lines[:-1], **lines[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--vision-train", type=int, default=20000)
    parser.add_argument("--text-train", type=int, default=16000)
    parser.add_argument("--before", default=BEFORE, help="git revision of 'today's settings'")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    args = parser.parse_args()
    if args.drive:
        return drive(args.drive)
    names = args.settings.split(",")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), args.before],
                       cwd=ROOT, check=True, capture_output=True)
        # this code as it is now (edits made while the benchmark runs do not leak into it)
        this = Path(tmp) / "this"
        shutil.copytree(ROOT / "dreamlib", this / "dreamlib",
                        ignore=shutil.ignore_patterns("__pycache__"))
        try:
            for repeat in range(args.repeats):
                for name in names:
                    code = old if SETTINGS[name]["code"] == "before" else this
                    result = run_setting(name, code, Path(tmp) / f"{name}-{repeat}", args)
                    result["repeat"] = repeat
                    results.append(result)
                    print(f"repeat {repeat} {name}: {result['seconds']:.0f}s "
                          f"({result['jobs']} x {result['threads']} threads)", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT,
                           capture_output=True)
    write_tables(results, args)


def write_tables(results: list[dict], args) -> None:
    import pandas as pd

    sys.path.insert(0, str(ROOT))
    from dreamlib.report import markdown
    from dreamlib.runs import atomic_write_text

    sample = len(SAMPLE)
    rows = []
    for r in results:
        rows.append({"repeat": r["repeat"], "setting": r["setting"],
                     "layout": f"{r['jobs']} x {r['threads']}", "wall_s": r["seconds"],
                     "runs_per_hour": round(sample * 3600 / r["seconds"], 1),
                     **{f"{x['task']} {x['method']} train_s": x["train_seconds"] for x in r["runs"]},
                     **{f"{x['task']} {x['method']} acc": x["accuracy"] for x in r["runs"]}})
    table = pd.DataFrame(rows)
    per_hour = table.groupby("setting", sort=False).runs_per_hour.median()
    summary = pd.DataFrame({"runs_per_hour (median)": per_hour,
                            "ratio to before": (per_hour / per_hour.get("before", float("nan"))).round(2)})
    OUT.mkdir(exist_ok=True)
    table.to_csv(OUT / "batch_throughput.csv", index=False)
    command = (f"benchmarks/batch_throughput.py --repeats {args.repeats} --epochs {args.epochs} "
               f"--vision-train {args.vision_train} --text-train {args.text_train} "
               f"--before {args.before}")
    atomic_write_text(OUT / "batch_throughput.md", (
        f"# Runs per hour of the batch\n\n`{command}` on {os.cpu_count()} CPU cores: the "
        f"{sample} runs of the sample (vision and text: chain, control, SleepNet-2, DreamNet-2; "
        f"seed 0; {args.epochs} epoch(s) of {args.vision_train} images / {args.text_train} "
        f"texts) per setting and repeat.\n\n"
        + markdown(summary.reset_index()) + "\n\n## Every setting and repeat\n\n"
        + markdown(table) + "\n"))
    print(markdown(summary.reset_index()))
    by_repeat = table.pivot(index="repeat", columns="setting", values="runs_per_hour")
    ratios = (by_repeat["parallel"] / by_repeat["before"]).tolist() \
        if {"before", "parallel"} <= set(by_repeat) else []
    print(json.dumps({"runs_per_hour_before": per_hour.get("before"),
                      "runs_per_hour_after": per_hour.get("parallel"),
                      "ratio": round(statistics.median(ratios), 2) if ratios else None,
                      "ratios": [round(r, 2) for r in ratios],
                      "settings": {k: float(v) for k, v in per_hour.items()}}))


if __name__ == "__main__":
    main()
