"""Tables: reproduced numbers next to the paper's.

Everything here reads run records (:func:`dreamlib.schedule.run_entries`) and never trains, so
a table can be restyled without recomputing anything. Every table is written as CSV and
Markdown with the notes its caller gives above it (:func:`scale_note`: the profile, datasets
and device); every figure (drawn by :mod:`dreamlib.figures`) as PNG and PDF by
:func:`save_figure`. A record made by other code than the current (see
:func:`dreamlib.provenance.stale_reason`) is marked stale (column ``Stale``) instead of being
mixed in silently. The claims are judged in :mod:`dreamlib.claims`; :func:`write_claims`
writes their file.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import pandas as pd

from . import counting, paper
from .config import ModelConfig
from .provenance import code_fingerprint, stale_reason
from .runs import atomic_write_bytes, atomic_write_text, safe_name
from .stats import mean_ci

TABLE_DIR, FIGURE_DIR = Path("results") / "tables", Path("figures")


# ------------------------------------------------------------------------------------------
# Records → summaries
# ------------------------------------------------------------------------------------------


FRAME_COLUMNS = ("label", "group", "paper", "task", "method", "blocks", "variant", "run",
                 "folder", "seed", "accuracy", "train_loss", "params", "trainable_params",
                 "flops", "seconds_per_epoch", "dataset", "chain", "a_out", "encoder_lr",
                 "encoder", "device", "epochs", "max_train", "stale")


def frame(records: list[dict]) -> pd.DataFrame:
    """One row per entry and seed, with the fields tables need."""
    code = code_fingerprint()
    rows = []
    for r in records:
        cfg = r["config"]
        model = ModelConfig.from_dict(cfg["model"])  # reads the field names of older stores too
        rows.append({
            "label": r["label"], "group": r["group"], "paper": r.get("paper"),
            "task": r["task"], "method": r["method"], "blocks": r["blocks"],
            "variant": r["variant"], "run": r["run"], "folder": r.get("folder"),
            "seed": r["seed"],
            "accuracy": 100 * r["accuracy"], "train_loss": r["train_loss"],
            "params": r["params"], "trainable_params": r["trainable_params"],
            "flops": r["flops"], "seconds_per_epoch": r["seconds_per_epoch"],
            "dataset": cfg["dataset"], "chain": model.chain, "a_out": model.a_out,
            "encoder_lr": cfg["encoder_lr"], "encoder": model.encoder, "device": r["device"],
            "epochs": cfg.get("epochs"), "max_train": cfg.get("max_train"),
            "stale": bool(stale_reason(r, code)),
        })
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def summarize(df: pd.DataFrame, keys=("label", "group")) -> pd.DataFrame:
    """Mean over seeds per entry with its t-based 95 % CI half-width (``ci``; nan for one
    seed), in first-seen order."""
    keys = list(keys)
    columns = dict(
        accuracy=("accuracy", "mean"), ci=("accuracy", lambda v: mean_ci(v).half_width),
        n=("accuracy", "size"),
        params=("params", "first"), trainable_params=("trainable_params", "first"),
        flops=("flops", "first"), seconds_per_epoch=("seconds_per_epoch", "mean"),
        paper=("paper", "first"), dataset=("dataset", "first"), a_out=("a_out", "first"),
        method=("method", "first"), blocks=("blocks", "first"), task=("task", "first"),
        variant=("variant", "first"), group=("group", "first"), encoder_lr=("encoder_lr", "first"),
        encoder=("encoder", "first"), stale=("stale", "any"),
        runs=("run", lambda runs: " ".join(dict.fromkeys(runs))),
    )
    grouped = df.groupby(keys, sort=False, dropna=False)
    return grouped.agg(**{k: v for k, v in columns.items() if k not in keys}).reset_index()


def accuracy_text(mean: float, ci: float, n: int) -> str:
    """"88.1 ± 0.6 (n=5)" with the 95 % CI half-width, or "60.7 (1 seed)": one seed has no
    interval, and saying so keeps a single run from reading like a measured mean."""
    return f"{mean:.1f} (1 seed)" if n == 1 else f"{mean:.1f} ± {ci:.1f} (n={n})"


def _millions(value) -> str:
    return f"{value / 1e6:.2f}"


def _paper_value(table: str, name: str | None, field: str, dataset: str | None = None):
    if not isinstance(name, str) or not name:  # rows without a paper counterpart (NaN in a frame)
        return None
    try:
        row = paper.paper_row(table, name)
    except KeyError:
        return None
    return row["accuracy"].get(dataset) if field == "accuracy" else row.get(field)


def method_table(records: list[dict], task: str, references: dict | None = None) -> pd.DataFrame:
    """Table 3 (vision) or Table 4 (text): ours beside the paper's row of the same model, then
    the non-neural ``references`` ({label: accuracy 0-1}, e.g. the majority class) if given."""
    table = "table3" if task == "vision" else "table4"
    column = paper.MAIN_DATASETS[task]
    summary = summarize(frame(records))
    rows = []
    for s in summary.itertuples():
        rows.append({  # each of our numbers beside the paper's
            "Model": s.label, "Group": s.group,
            f"Accuracy % ({s.dataset}, 95 % CI)": accuracy_text(s.accuracy, s.ci, s.n),
            f"Paper accuracy % ({column})": _blank(_paper_value(table, s.paper, "accuracy", column)),
            "Params (M)": _millions(s.params),
            "Paper params (M)": _blank(_paper_value(table, s.paper, "params_m")),
            "MACs (G, fwd/example)": f"{s.flops / 2e9:.3f}",  # the paper's FLOPs are multiply-adds
            "Paper FLOPs (B)": _blank(_paper_value(table, s.paper, "flops_b")),
            "Paper model": s.paper if isinstance(s.paper, str) else "",
            "Trainable (M)": _millions(s.trainable_params),
            "Encoder": _encoder_text(s),
            "Head": s.a_out if s.method in ("sleepnet", "dreamnet") else "",
            "Runs": s.runs, "Stale": "yes" if s.stale else "",
        })
    table = pd.DataFrame(rows)
    accuracy_column = [c for c in table.columns if c.startswith("Accuracy %")]
    for label, accuracy in (references or {}).items():
        row = {column: "" for column in table.columns}
        row.update({"Model": label, "Group": "Reference (no training of ours)"})
        for column in accuracy_column:
            row[column] = f"{100 * accuracy:.1f}"
        table.loc[len(table)] = row
    return table


def _encoder_text(s) -> str:
    """The encoder a row uses; a fine-tuned one with its learning rate (the table says how)."""
    if s.method == "baseline":
        return ""
    if s.method == "finetune":
        return f"{s.encoder} (all layers, lr {s.encoder_lr:g} with warm-up)"
    return s.encoder


def _blank(value) -> str:
    return "" if value is None else str(value)


def efficiency_table(records: list[dict]) -> pd.DataFrame:
    """Table 5: seconds per training epoch here and the ratio to ResNet18, beside the paper's."""
    summary = summarize(frame(records))
    base = summary.loc[summary["paper"] == "ResNet18", "seconds_per_epoch"]
    base_seconds = float(base.iloc[0]) if len(base) else math.nan
    ratios = paper.table5_ratios()
    rows = []
    for s in summary.itertuples():
        hours = paper.TABLE5_HOURS_PER_EPOCH.get(s.paper, {})
        paper_ratio = ratios.get(s.paper, {})
        rows.append({
            "Model": s.label,
            "Ratio to ResNet18 (here)": f"{s.seconds_per_epoch / base_seconds:.2f}",
            "Paper ratio (CIFAR-100)": _round(paper_ratio.get("cifar100")),
            "Paper ratio (Tiny-ImageNet)": _round(paper_ratio.get("tiny-imagenet")),
            "Seconds/epoch (here)": f"{s.seconds_per_epoch:.2f}",
            "Paper hours/epoch (CIFAR-100)": _blank(hours.get("cifar100")),
            "Paper hours/epoch (Tiny-ImageNet)": _blank(hours.get("tiny-imagenet")),
            "Params (M)": _millions(s.params), "Dataset (here)": s.dataset, "Runs": s.runs,
            "Stale": "yes" if s.stale else "",
        })
    return pd.DataFrame(rows)


def _round(value) -> str:
    return "" if value is None else f"{value:.2f}"


def dreams_table(text_dreams: dict) -> pd.DataFrame:
    """Table 1: test texts and what DreamNet-3's masked LM makes of them, block by block."""
    rows = []
    for i, original in enumerate(text_dreams["inputs"]):
        rows.append({"Example": i + 1, "Stage": "original", "Text": original})
        for m, dreams in enumerate(text_dreams["dreams"], start=1):
            rows.append({"Example": i + 1, "Stage": f"dream {m}", "Text": dreams[i]})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------


def markdown(df: pd.DataFrame) -> str:
    """A GitHub Markdown table (no extra dependency)."""
    def cell(value) -> str:
        if isinstance(value, float) and math.isnan(value):
            return ""  # not measured (yet): a blank cell, not "nan"
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


CSV_ONLY = ("Runs",)  # run hashes: provenance for scripts, noise for a reader of the Markdown


def save_table(df: pd.DataFrame, name: str, out_dir: str | os.PathLike, title: str,
               notes: list[str]) -> list[Path]:
    """Write ``results/tables/<name>.csv`` and ``.md`` (title and notes above the table; the
    Markdown leaves out the :data:`CSV_ONLY` columns)."""
    folder = Path(out_dir) / TABLE_DIR
    name = safe_name(name, "table name")
    csv_path, md_path = folder / f"{name}.csv", folder / f"{name}.md"
    atomic_write_text(csv_path, df.to_csv(index=False))
    shown = df.drop(columns=[c for c in CSV_ONLY if c in df.columns])
    text = f"# {title}\n\n" + "".join(f"- {n}\n" for n in notes) + "\n" + markdown(shown)
    atomic_write_text(md_path, text)
    return [csv_path, md_path]


def save_figure(fig, name: str, out_dir: str | os.PathLike) -> list[Path]:
    """Write ``figures/<name>.png`` and ``.pdf`` atomically."""
    folder = Path(out_dir) / FIGURE_DIR
    name = safe_name(name, "figure name")
    paths = []
    for ext in ("png", "pdf"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=ext, dpi=150, bbox_inches="tight",
                    metadata={"CreationDate": None} if ext == "pdf" else None)
        atomic_write_bytes(folder / f"{name}.{ext}", buffer.getvalue())
        paths.append(folder / f"{name}.{ext}")
    return paths


def scale_note(df: pd.DataFrame, profile: str, paper_columns: bool = True) -> str:
    """A table's header line: the profile, the scale of its runs (dataset, training examples,
    epochs) and the device; with ``paper_columns``, what the paper's columns beside ours are."""
    devices = ", ".join(sorted(set(df["device"])))
    text = f"Profile `{profile}`; scale: {scale_text(df)}; device: {devices}."
    if paper_columns:
        text += (" Paper columns are the published values at paper scale (CIFAR-100 / AG News, "
                 "hub encoders, 30 epochs), shown for reference, not as a like-for-like "
                 "comparison.")
    return text


def scale_text(df: pd.DataFrame | None) -> str:
    """The scale of the runs in ``df``: dataset, training examples and epochs (each
    distinct one, so a claim or figure never hides a mix)."""
    if df is None or df.empty:
        return ""
    scales = dict.fromkeys(zip(df["dataset"], df["max_train"], df["epochs"]))
    return "; ".join(f"{dataset}, {'all' if pd.isna(n) else f'{int(n):,}'} × {epochs} ep"
                     for dataset, n, epochs in scales)


def params_as_built(blocks=(1, 2, 3, 4), heads=("linear", "grid")) -> pd.DataFrame:
    """Params and FLOPs of the paper's SleepNet/DreamNet configurations as this code builds
    them (randomly initialised, offline), beside the paper's Table 3/4 sizes."""
    rows = []
    specs = [("vision", kind, head) for kind in ("sleepnet", "dreamnet") for head in heads]
    specs += [("text", kind, "linear") for kind in ("sleepnet", "dreamnet")]
    for task, kind, head in specs:
        for m in blocks:
            cfg = counting.paper_model_config(task, kind, m, a_out=head)
            counted = counting.count(cfg)
            name = f"{'SleepNet' if kind == 'sleepnet' else 'DreamNet'}-{m}"
            table = "table3" if task == "vision" else "table4"
            rows.append({
                "Model": name, "Task": task, "Encoder": cfg.encoder,
                "Head": head if task == "vision" else "per-token linear",
                "Params (M)": _millions(counted["params"]),
                "Encoder params (M)": _millions(counted["encoder_params"]),
                "MACs (G, fwd/example)": f"{counted['macs'] / 1e9:.1f}",
                "Paper params (M)": _blank(_paper_value(table, name, "params_m")),
                "Paper FLOPs (B)": _blank(_paper_value(table, name, "flops_b")),
            })
    return pd.DataFrame(rows)


def write_claims(text: str, out_dir: str | os.PathLike) -> Path:
    path = Path(out_dir) / "results" / "claims.md"
    atomic_write_text(path, text)
    return path
