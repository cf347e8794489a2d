"""What a notebook says before its experiment: the paper's claim with its own numbers, what
this profile runs, and how long the notebook took per profile.

Everything is generated, so it cannot go stale: the paper's numbers come from
:mod:`dreamlib.paper`, the plan from the grid entries the notebook is about to run, and the
times from ``results/timings.csv``, which ``python -m dreamlib reproduce`` writes beside each
profile's results: per notebook, the wall seconds of its last successful execution that
trained runs (``mode`` "train", with how many it trained) and of its last one that only read
them from the run store (``mode`` "read").
"""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path

from . import paper
from .profiles import profile_names
from .runs import atomic_write_text
from .runtime import default_output_dir
from .schedule import unique_runs

TIMINGS_FILE = "timings.csv"  # under <output dir>/results/
TIMING_FIELDS = ("notebook", "mode", "profile", "seconds", "runs", "trained", "finished")


def _acc(table: str, model: str, dataset: str) -> str:
    value = paper.paper_accuracy(table, model, dataset)
    return "–" if value is None else f"{value:.1f} %"


def _method_line(table: str, dataset: str, chain: str, blocks=(1, 2, 3, 4)) -> str:
    """The paper's chain and its SleepNet-M / DreamNet-M accuracies on ``dataset``."""
    names = [f"{kind}-{m}" for kind in ("SleepNet", "DreamNet") for m in blocks]
    found = []
    for name in names:
        try:
            found.append(f"{name} {_acc(table, name, dataset)}")
        except KeyError:  # e.g. Table 3 has no SleepNet-1
            continue
    return f"{chain} {_acc(table, chain, dataset)}; " + ", ".join(found)


def _fig8() -> str:
    rows = paper.FIG8_VALUES["rows"]
    return "; ".join(f"{name} ({row['task']}): chain {row['original']:.2f}, SleepNet "
                     f"{row['sleepnet']:.2f}, DreamNet {row['dreamnet']:.2f}"
                     for name, row in rows.items())


def _fig9() -> str:
    parts = []
    for dataset in ("cifar100", "ag_news"):
        row = paper.FIG9_VALUES[dataset]
        parts.append(f"{row['model']} on {dataset}: frozen {row['frozen']:.0f} %, unfrozen "
                     f"{row['unfrozen']:.0f} % ({row['assignment']})")
    return "; ".join(parts)


def _table5() -> str:
    hours = paper.TABLE5_HOURS_PER_EPOCH
    return ", ".join(f"{name} {hours[name]['cifar100']} h" for name in
                     ("ResNet18", "MAE-base", "SleepNet", "DreamNet")) + " per CIFAR-100 epoch"


#: Per notebook: the paper's claim in our words, and a function giving its published numbers.
PAPER_POINTS: dict[str, tuple[str, callable]] = {
    "02": ("SleepNet and DreamNet beat their chain (ResNet18) and the pre-trained encoders "
           "fine-tuned alone, on CIFAR-100 (Table 3).",
           lambda: _method_line("table3", "cifar100", "ResNet18") + "; MAE-base "
           + _acc("table3", "MAE-base", "cifar100")),
    "03": ("SleepNet and DreamNet beat the LSTM chain and the fine-tuned transformers on "
           "AG News (Table 4).",
           lambda: _method_line("table4", "ag_news", "LSTM-4") + "; RoBERTa-base "
           + _acc("table4", "RoBERTa-base", "ag_news")),
    "04": ("Accuracy rises with the number of sleep/dream blocks M (Tables 3 and 4).",
           lambda: "CIFAR-100: " + _method_line("table3", "cifar100", "ResNet18")
           + ". AG News: " + _method_line("table4", "ag_news", "LSTM-4")),
    "05": (f"Fig 7: {paper.FIG7_TEXT['claim']}.",
           lambda: "no accuracy is quoted; the paper's chains: "
           + ", ".join(paper.FIG7_TEXT["vision"]["chains"] + paper.FIG7_TEXT["text"]["chains"])),
    "06": (f"Fig 8: {paper.FIG8_VALUES['claim']}.", _fig8),
    "07": (f"Fig 9: {paper.FIG9_VALUES['claim']}.", _fig9),
    "08": ("Table 5: SleepNet costs about 1.8× and DreamNet 4× the training time of ResNet18.",
           _table5),
    "09": ("Fig 6 and Table 1: DreamNet's dreams keep the input's content (qualitative; no "
           "numbers).", lambda: "examples chosen by the authors, at paper scale"),
}


def timings_path(out: str | os.PathLike) -> Path:
    return Path(out) / "results" / TIMINGS_FILE


def read_timings(out: str | os.PathLike) -> dict[tuple[str, str], dict]:
    """{(notebook, mode): row} of ``<out>/results/timings.csv``; empty when there is none."""
    path = timings_path(out)
    if not path.is_file():
        return {}
    with path.open(newline="") as handle:
        return {(row["notebook"], row["mode"]): row for row in csv.DictReader(handle)}


def record_timing(out: str | os.PathLike, notebook: str, profile: str, seconds: float,
                  runs: int, trained: int) -> Path:
    """Set ``notebook``'s row of the timings file for this kind of execution (it trained
    runs, or only read them); written atomically, other rows kept."""
    rows = read_timings(out)
    mode = "train" if trained else "read"
    rows[(notebook, mode)] = {"notebook": notebook, "mode": mode, "profile": profile,
                              "seconds": f"{seconds:.0f}", "runs": runs, "trained": trained,
                              "finished": time.strftime("%Y-%m-%d", time.gmtime())}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, TIMING_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows[key] for key in sorted(rows))
    path = timings_path(out)
    atomic_write_text(path, buffer.getvalue())
    return path


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def time_lines(number: str) -> list[str]:
    """How long the notebook took in the last batches of each profile that has run here."""
    lines = []
    for profile in profile_names():
        rows = read_timings(default_output_dir(profile))
        parts = []
        if (train := rows.get((number, "train"))):
            parts.append(f"{_duration(float(train['seconds']))} training {train['trained']} of "
                         f"its {train['runs']} runs ({train['finished']})")
        if (read := rows.get((number, "read"))):
            parts.append(f"{_duration(float(read['seconds']))} with all {read['runs']} in the "
                         f"run store ({read['finished']})")
        if parts:
            lines.append(f"`{profile}`: " + "; ".join(parts))
    return lines


def intro(number: str, profile: str, entries) -> str:
    """Markdown: the paper's claim and numbers, this profile's plan, and measured times."""
    claim, numbers = PAPER_POINTS[number]
    runs = unique_runs(entries)
    scales = dict.fromkeys((cfg.model.task, cfg.dataset, cfg.max_train, cfg.max_test, cfg.epochs)
                           for cfg in sorted(runs, key=lambda c: c.model.task != "vision"))
    sizes = "; ".join(
        f"{task}: {dataset}, {train or 'all'} training / {test or 'all'} test examples, "
        f"{epochs} epochs" for task, dataset, train, test, epochs in scales)
    seeds = sorted({cfg.seed for cfg in runs})
    lines = [f"**The paper.** {claim} Published: {numbers()}.",
             f"**Here (profile `{profile}`).** {len(entries)} rows from {len(runs)} distinct "
             f"runs (seeds {', '.join(map(str, seeds))}); {sizes}."]
    times = time_lines(number)
    lines.append("**Time of this notebook in the last batch:** "
                 + ("; ".join(times) if times else "not measured yet on this machine") + ".")
    return "\n\n".join(lines)
