"""Tables and figures: reproduced numbers next to the paper's.

Everything here reads run records (:func:`dreamlib.schedule.run_entries`) and never trains, so
a table or figure can be restyled without recomputing anything. Every table is written as CSV
and Markdown with the notes its caller gives above it (:func:`scale_note`: the profile,
datasets and device); every figure as PNG and PDF. A record made by other code than the
current (see :func:`dreamlib.provenance.stale_reason`) is marked stale (column ``Stale``)
instead of being mixed in silently. The claims are judged in :mod:`dreamlib.claims`;
:func:`write_claims` writes their file.
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
        rows.append({
            "Model": s.label, "Group": s.group,
            "Params (M)": _millions(s.params), "Trainable (M)": _millions(s.trainable_params),
            "MACs (G, fwd/example)": f"{s.flops / 2e9:.3f}",  # the paper's FLOPs are multiply-adds
            f"Accuracy % ({s.dataset}, 95 % CI)": accuracy_text(s.accuracy, s.ci, s.n),
            "Paper model": s.paper if isinstance(s.paper, str) else "",
            "Paper params (M)": _blank(_paper_value(table, s.paper, "params_m")),
            "Paper FLOPs (B)": _blank(_paper_value(table, s.paper, "flops_b")),
            f"Paper accuracy % ({column})": _blank(_paper_value(table, s.paper, "accuracy", column)),
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
            "Model": s.label, "Seconds/epoch (here)": f"{s.seconds_per_epoch:.2f}",
            "Ratio to ResNet18 (here)": f"{s.seconds_per_epoch / base_seconds:.2f}",
            "Paper hours/epoch (CIFAR-100)": _blank(hours.get("cifar100")),
            "Paper ratio (CIFAR-100)": _round(paper_ratio.get("cifar100")),
            "Paper hours/epoch (Tiny-ImageNet)": _blank(hours.get("tiny-imagenet")),
            "Paper ratio (Tiny-ImageNet)": _round(paper_ratio.get("tiny-imagenet")),
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


def save_table(df: pd.DataFrame, name: str, out_dir: str | os.PathLike, title: str,
               notes: list[str]) -> list[Path]:
    """Write ``results/tables/<name>.csv`` and ``.md`` (title and notes above the table)."""
    folder = Path(out_dir) / TABLE_DIR
    name = safe_name(name, "table name")
    csv_path, md_path = folder / f"{name}.csv", folder / f"{name}.md"
    atomic_write_text(csv_path, df.to_csv(index=False))
    text = f"# {title}\n\n" + "".join(f"- {n}\n" for n in notes) + "\n" + markdown(df)
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


def scale_note(df: pd.DataFrame, profile: str) -> str:
    datasets = ", ".join(sorted(set(df["dataset"])))
    devices = ", ".join(sorted(set(df["device"])))
    return (f"Profile `{profile}` on {datasets}; device: {devices}. Paper columns are the "
            "published values at paper scale (CIFAR-100 / AG News, hub encoders, 30 epochs), "
            "shown for reference, not as a like-for-like comparison.")


# ------------------------------------------------------------------------------------------
# Figures
# ------------------------------------------------------------------------------------------

COLOURS = {"Chain only": "#999999", "Fine-tuned encoder": "#55A868", "SleepNet": "#4C72B0",
           "DreamNet": "#DD8452", "frozen": "#1f77b4", "unfrozen": "#ff7f0e"}


def _bars(ax, summary: pd.DataFrame, x: str, hue: str, order_x, order_hue, title: str):
    """Grouped bars with 95 % CI error bars (n > 1) and value labels above the error bars;
    a bar of one seed says so (it has no interval)."""
    width = 0.8 / max(len(order_hue), 1)
    for j, h in enumerate(order_hue):
        for i, xv in enumerate(order_x):
            row = summary[(summary[x] == xv) & (summary[hue] == h)]
            if row.empty:
                continue
            mean, ci = float(row["accuracy"].iloc[0]), float(row["ci"].iloc[0])
            one_seed = int(row["n"].iloc[0]) == 1
            pos = i + (j - (len(order_hue) - 1) / 2) * width
            ax.bar(pos, mean, width, color=COLOURS.get(h), label=h if i == 0 else None,
                   yerr=ci if ci > 0 else None, capsize=3)
            top = mean + (ci if ci > 0 else 0.0)
            ax.text(pos, top + 0.5, f"{mean:.1f}" + ("\n(1 seed)" if one_seed else ""),
                    ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(order_x)), order_x, rotation=15, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("test accuracy (%)")
    _zoom(ax, summary["accuracy"] + summary["ci"].fillna(0.0))


def _zoom(ax, values) -> None:
    """Bars start at zero (a cut axis makes small differences look large); room above for
    the value labels."""
    ax.set_ylim(0.0, min(100.0, float(values.max()) + 8.0))


def _task_panels(records: list[dict], keys: tuple, draw, title: str, width: float):
    """One panel per task present (vision, text), each drawn by ``draw(ax, summary_of_task)``."""
    import matplotlib.pyplot as plt  # deferred: pyplot costs ~0.5 s; tables need none

    summary = summarize(frame(records), keys=keys)
    tasks = [task for task in ("vision", "text") if (summary["task"] == task).any()]
    fig, axes = plt.subplots(1, len(tasks), figsize=(width * len(tasks) / 2, 3.6), squeeze=False)
    axes = axes[0]
    for ax, task in zip(axes, tasks):
        part = summary[summary["task"] == task]
        draw(ax, part, f"{task}: {part['dataset'].iloc[0]}")
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def fig7(records: list[dict]):
    """Fig 7: accuracy of each chain alone, as SleepNet-2 and as DreamNet-2."""
    def draw(ax, part, title):
        _bars(ax, part, "variant", "group", list(dict.fromkeys(part["variant"])),
              ["Chain only", "SleepNet", "DreamNet"], title)

    return _task_panels(records, ("task", "variant", "group"), draw,
                        "Fig 7 (reproduced): chain-like blocks", 10)


def fig8(records: list[dict]):
    """Fig 8: SleepNet-2 / DreamNet-2 accuracy for encoders of increasing quality; the dashed
    line is the chain alone."""
    def draw(ax, part, title):
        chain = part[part["group"] == "Chain only"]
        methods = part[part["group"] != "Chain only"]
        _bars(ax, methods, "variant", "group", list(dict.fromkeys(methods["variant"])),
              ["SleepNet", "DreamNet"], title)
        if len(chain):
            ax.axhline(float(chain["accuracy"].iloc[0]), color="#555555", ls="--", lw=1,
                       label="chain only")
        _zoom(ax, part["accuracy"] + part["ci"].fillna(0.0))

    return _task_panels(records, ("task", "variant", "group"), draw,
                        "Fig 8 (reproduced): pre-trained encoders / autoencoders", 10)


def fig9(records: list[dict]):
    """Fig 9: frozen (blue) vs unfrozen (orange) encoder, as in the paper's colours."""
    def draw(ax, part, title):
        _bars(ax, part, "group", "variant", ["SleepNet", "DreamNet"], ["frozen", "unfrozen"],
              title)

    return _task_panels(records, ("task", "group", "variant"), draw,
                        "Fig 9 (reproduced): frozen vs unfrozen encoder", 8)


def fig6(vision_dreams: dict):
    """Fig 6: test images and DreamNet-3's reconstruction ("dream") at each block."""
    import matplotlib.pyplot as plt  # deferred: pyplot costs ~0.5 s; tables need none

    inputs, dreams = vision_dreams["inputs"], vision_dreams["dreams"]
    rows, cols = len(inputs), 1 + len(dreams)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows), squeeze=False)
    titles = ["original"] + [f"dream {m}" for m in range(1, cols)]
    for i in range(rows):
        for j, image in enumerate([inputs[i]] + [d[i] for d in dreams]):
            ax = axes[i][j]
            ax.imshow(_displayable(image), cmap="gray" if image.shape[0] == 1 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=9)
    fig.suptitle("Fig 6 (reproduced): DreamNet-3's dreams", fontsize=10)
    fig.tight_layout()
    return fig


def block_figure(images, records: list[dict], count: int = 3):
    """What each block of a vision model sees and makes, for ``count`` input images: the
    image, then per block A_in's output (the encoder's input) and, for DreamNet, the dream.
    ``records`` come from :func:`dreamlib.anatomy.walk_blocks`."""
    import matplotlib.pyplot as plt  # deferred: pyplot costs ~0.5 s; tables need none

    columns = [("input", None)]
    for r in records:
        columns.append((f"block {r['block']}: A_in", "encoder_input"))
        if r["dream"] is not None:
            columns.append((f"block {r['block']}: dream", "dream"))
    rows = min(count, len(images))
    fig, axes = plt.subplots(rows, len(columns), figsize=(1.7 * len(columns), 1.8 * rows),
                             squeeze=False)
    for i in range(rows):
        block = 0
        for j, (title, key) in enumerate(columns):
            if key is None:
                image = images[i]
            else:
                block = int(title.split()[1].rstrip(":")) - 1
                image = records[block][key][i]
            ax = axes[i][j]
            ax.imshow(_displayable(image), cmap="gray" if image.shape[0] == 1 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def _displayable(image):
    """C×H×W tensor in model space → H×W(×3) array in [0, 1], per-image min-max scaled."""
    x = image.detach().float()
    x = (x - x.min()) / (x.max() - x.min() + 1e-8)
    return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy()


def blocks_figure(vision: list[dict], text: list[dict]):
    """Accuracy against the number of sleep/dream blocks M (from Tables 3 and 4's runs)."""
    import matplotlib.pyplot as plt  # deferred: pyplot costs ~0.5 s; tables need none

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, (task, records) in zip(axes, (("vision", vision), ("text", text))):
        summary = summarize(frame(records))
        for group in ("SleepNet", "DreamNet"):
            part = summary[summary["group"] == group]
            ax.errorbar(part["blocks"].astype(int), part["accuracy"], yerr=part["ci"].fillna(0), marker="o", capsize=3,
                        color=COLOURS[group], label=group)
        base = summary[summary["method"] == "baseline"].iloc[0]
        ax.axhline(base["accuracy"], color="#555555", ls="--", lw=1, label=base["label"])
        ax.set_xticks([1, 2, 3, 4])
        ax.set_xlabel("blocks M")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{task}: {summary['dataset'].iloc[0]}", fontsize=10)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


VERDICT_COLOURS = {"supported": "#2a9d4b", "not supported": "#c0392b",
                   "inconclusive": "#7f7f7f"}


def claims_overview(judged: list[dict]):
    """Every claim at a glance: its effect with the seed-paired t CI (thick) and, where the
    runs kept their predictions, the CI that also resamples the test set (thin), coloured by
    verdict (hollow where the premise is not met); the paper's own effect as a black diamond
    where it gives one; claims without the runs to test them listed, not drawn. One panel
    per unit (accuracy points, points per block, ...)."""
    import matplotlib.pyplot as plt  # deferred: pyplot costs ~0.5 s; tables need none
    from matplotlib.lines import Line2D

    units = list(dict.fromkeys(c.get("unit", "") for c in judged))
    sizes = [sum(c.get("unit", "") == u for c in judged) for u in units]
    fig, axes = plt.subplots(len(units), 1, figsize=(9, 0.34 * sum(sizes) + 1.1 * len(units)),
                             gridspec_kw={"height_ratios": [s + 1.5 for s in sizes]},
                             squeeze=False)
    for ax, unit in zip(axes[:, 0], units):
        rows = [c for c in judged if c.get("unit", "") == unit][::-1]
        for y, c in enumerate(rows):
            colour = VERDICT_COLOURS.get(c["verdict"])
            if colour is not None and not math.isnan(c["estimate"]):
                test_low, test_high = c.get("test_low", math.nan), c.get("test_high", math.nan)
                if not math.isnan(test_low):
                    ax.plot([test_low, test_high], [y, y], color=colour, lw=1)
                ax.plot([c["low"], c["high"]], [y, y], color=colour, lw=4, alpha=0.6,
                        solid_capstyle="butt")
                hollow = c.get("premise") is not None and not c["premise"]["met"]
                ax.plot(c["estimate"], y, "o", color=colour, ms=6,
                        markerfacecolor="white" if hollow else colour)
            if c.get("paper_effect") is not None:
                ax.plot(c["paper_effect"], y, "D", color="black", ms=5)
        labels = [c["claim"] + ("" if c["verdict"] in VERDICT_COLOURS else "  (not testable)")
                  for c in rows]
        ax.set_yticks(range(len(rows)), labels, fontsize=7.5)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.axvline(0 if "×" not in unit else 1, color="#333333", lw=0.8)
        ax.set_xlabel(f"effect ({unit})", fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", color="#dddddd", lw=0.5)
    handles = [Line2D([], [], color=c, marker="o", lw=4, alpha=0.8, label=v)
               for v, c in VERDICT_COLOURS.items()]
    handles += [Line2D([], [], color="#7f7f7f", marker="o", markerfacecolor="white", lw=0,
                       label="premise not met"),
                Line2D([], [], color="black", marker="D", lw=0, label="the paper's effect"),
                Line2D([], [], color="#7f7f7f", lw=1, label="95 % CI with the test set")]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=7.5, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plateau_figure(records: list[dict], main_epochs: int):
    """The chain's test accuracy against its epochs at the main scale: every seed as a dot,
    the mean with its t-based 95 % CI, the main comparison's epochs marked."""
    import matplotlib.pyplot as plt  # deferred: pyplot costs ~0.5 s; tables need none

    df = frame(records)
    df = df[df["method"] == "baseline"]
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    ax.scatter(df["epochs"], df["accuracy"], s=14, color="#999999", label="one seed", zorder=2)
    means = df.groupby("epochs")["accuracy"]
    epochs = sorted(means.groups)
    cis = [mean_ci(means.get_group(e).to_numpy()) for e in epochs]
    ax.errorbar(epochs, [c.mean for c in cis], yerr=[0 if math.isnan(c.half_width) else
                                                     c.half_width for c in cis],
                color="#333333", marker="o", capsize=3,
                label="mean, 95 % CI", zorder=3)
    ax.axvline(main_epochs, color="#555555", ls=":", lw=1)
    ax.text(main_epochs, 1.01, "main comparison", transform=ax.get_xaxis_transform(),
            ha="center", va="bottom", fontsize=8, color="#555555")
    ax.set_xscale("log", base=2)
    ax.set_xticks(epochs, [str(e) for e in epochs])
    ax.set_xlabel("epochs")
    ax.set_ylabel("test accuracy (%)")
    chain, dataset = df["chain"].iloc[0], df["dataset"].iloc[0]
    ax.set_title(f"{chain} on {df['max_train'].iloc[0]:,} {dataset} examples "
                 f"(n = {cis[0].n} per point)", fontsize=9, pad=14)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def pretraining_figure(encoders: dict, reconstructions: tuple | None = None):
    """Reconstruction loss per epoch of each embedded autoencoder, and (images,
    reconstructions) of the MAE as :func:`dreamlib.dreams.mae_reconstructions` gives them."""
    import matplotlib.pyplot as plt  # deferred: pyplot costs ~0.5 s; tables need none

    fig, axes = plt.subplots(1, 1 + 4, figsize=(12, 2.6),
                             gridspec_kw={"width_ratios": [2.4, 1, 1, 1, 1]})
    for name, (_, losses) in encoders.items():
        axes[0].plot(range(1, len(losses) + 1), [x / losses[0] for x in losses], marker="o",
                     label=name)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("loss / first epoch")
    axes[0].legend(fontsize=8)
    if reconstructions is not None:
        images, recon = reconstructions
        panels = [(images[0], "image"), (recon[0], "MAE output"),
                  (images[1], "image"), (recon[1], "MAE output")]
        for k, (image, title) in enumerate(panels):
            axes[1 + k].imshow(_displayable(image))
            axes[1 + k].set_title(title, fontsize=8)
            axes[1 + k].axis("off")
    fig.tight_layout()
    return fig


def reconstruction_figure(images, masked, reconstructions, title: str | None = None):
    """Rows original / masked input / reconstruction / decoder output, one column per
    held-out image, from ``dreamlib.dreams.mae_reconstructions(..., masked=True)``.

    "reconstruction" is the MAE's prediction of the masked patches with the visible ones taken
    from the input (as in the MAE paper's figures; hidden pixels are those that are exactly 0
    in ``masked``, which no normalised uint8 pixel is); "decoder output" is the decoder's raw
    output everywhere, what DreamNet adds (the loss never trains its visible patches). Pixels
    are shown on the model's fixed scale ([-1, 1] → black..white, clipped), not stretched per
    image, so a faint reconstruction looks faint."""
    import matplotlib.pyplot as plt  # deferred: pyplot costs ~0.5 s; tables need none

    hidden = (masked == 0).all(dim=1, keepdim=True)
    pasted = reconstructions.where(hidden, images)
    rows = [(images, "original"), (masked, "masked input (75%)"), (pasted, "reconstruction"),
            (reconstructions, "decoder output")]
    count = len(images)
    fig, axes = plt.subplots(len(rows), count, figsize=(1.3 * count + 0.9, 5.4), squeeze=False)
    for r, (batch, label) in enumerate(rows):
        for c in range(count):
            x = ((batch[c].detach().float().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()
            ax = axes[r][c]
            ax.imshow(x.mean(axis=-1), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


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
