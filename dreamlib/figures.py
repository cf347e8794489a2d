"""Figures: every seed and every paired difference, drawn for the test it shows.

Like :mod:`dreamlib.report` (the tables), everything here reads run records and never trains.
A comparison shows each seed as a dot with the mean and its t-based 95 % CI beside it, on an
axis zoomed so that a one-point effect is visible, and each claim's per-seed paired
differences with both CIs (seeds; seeds and test examples), the paper's difference and the
verdict. One colour per method in every figure (:data:`COLOURS`); a hollow marker is the
weaker arm of an ablation. Every caption, inside the image, says what the dots and bars are,
n and the scale. :func:`dreamlib.report.save_figure` writes PNG and PDF.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import paper
from .report import frame, scale_text, summarize
from .stats import mean_ci

#: One colour per method in every figure; a hollow marker is the weaker arm of an ablation
#: (an untrained or unfrozen encoder), never another colour.
COLOURS = {"Chain only": "#7f7f7f", "Encoder features only": "#8172B3",
           "Fine-tuned encoder": "#55A868", "SleepNet": "#4C72B0", "DreamNet": "#DD8452"}
PAPER_MARKER = dict(marker="D", color="black", ms=5, lw=0)  # the paper's value, everywhere


def _pyplot():
    import matplotlib.pyplot as plt  # deferred: pyplot costs ~0.5 s; tables need none
    return plt


def _offsets(n: int, spread: float = 0.16) -> np.ndarray:
    """Fixed horizontal offsets for ``n`` seed dots (a deterministic jitter, so a redrawn
    figure is byte-identical)."""
    return np.linspace(-spread / 2, spread / 2, n) if n > 1 else np.zeros(n)


def _seed_points(ax, x: float, values, colour: str, hollow: bool = False) -> list[float]:
    """One arm at ``x``: every seed as a dot, and beside them the mean with its t-based 95 %
    CI (no bar for one seed). Returns the values the axis must show."""
    values = np.asarray(list(values), dtype=float)
    face = "white" if hollow else colour
    ax.scatter(x - 0.1 + _offsets(len(values)), values, s=13, facecolors=face,
               edgecolors=colour, linewidths=0.8, alpha=0.8, zorder=2)
    ci = mean_ci(values)
    half = 0.0 if math.isnan(ci.half_width) else ci.half_width
    ax.errorbar(x + 0.14, ci.mean, yerr=half, fmt="o", ms=5, color=colour, mfc=face,
                capsize=3, elinewidth=1.6, zorder=3)
    return [*values, ci.mean - half, ci.mean + half]


def _fit_axis(ax, values, axis: str = "y", bounds=(-math.inf, math.inf)) -> None:
    """Limits that hold every drawn value with a margin, within ``bounds`` (an accuracy axis
    stops at 0 and 100 even where a two-seed CI does not): the figures draw points, not bars
    from zero, so the axis can zoom to where a one-point effect is visible."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return
    low, high = min(values), max(values)
    pad = max(0.12 * (high - low), 0.5)
    low, high = max(low - pad, bounds[0]), min(high + pad, bounds[1])
    (ax.set_ylim if axis == "y" else ax.set_xlim)(low, high)


ACCURACY = (0.0, 100.0)  # the bounds of an accuracy axis


def _caption(fig, text: str) -> None:
    """The caption under the figure, inside the image: what the dots and bars are, n, scale."""
    fig.text(0.01, 0.0, text, ha="left", va="top", fontsize=7.5, wrap=True)


def _wrapped(text: str, width: int) -> str:
    import textwrap
    return "\n".join(textwrap.wrap(text, width))


def _arm_label(text: str, n: int, width: int = 14) -> str:
    return _wrapped(text, width) + f"\nn={n}"


def _draw_arms(ax, arms) -> None:
    """``arms``: (label, group, per-seed accuracies, hollow) in drawing order."""
    shown = []
    for x, (label, group, values, hollow) in enumerate(arms):
        shown += _seed_points(ax, x, values, COLOURS.get(group, "#333333"), hollow)
    ax.set_xticks(range(len(arms)), [_arm_label(label, len(v)) for label, _, v, _ in arms],
                  fontsize=7.5)
    ax.set_xlim(-0.6, len(arms) - 0.4)
    ax.set_ylabel("test accuracy (%)")
    ax.grid(axis="y", color="#e5e5e5", lw=0.5)
    _fit_axis(ax, shown, bounds=ACCURACY)


_SHORT = {"the chain alone": "chain", "the encoder's features alone": "control",
          "an untrained one": "untrained", "a pre-trained encoder": "pre-trained",
          "the hard argmax": "hard argmax", "a differentiable A_in": "differentiable",
          "a differentiable A_in and the expected dream": "differentiable"}


def _difference_label(claim: str) -> tuple[str, str]:
    """"SleepNet-2 beats the chain alone (vision)" → ("SleepNet-2 − chain", "SleepNet"):
    the difference a claim tests, and the method whose colour draws it."""
    head, _, scope = claim.partition(" (")
    a, _, b = head.partition(" beats ")
    parts = [p.strip() for p in scope.rstrip(")").replace(";", ",").split(",")]
    method = next((m for m in ("SleepNet", "DreamNet") if a.startswith(m) or m in parts), "")
    text = f"{_SHORT.get(a, a)} − {_SHORT.get(b, b)}"
    if method and not text.startswith(method):
        text = f"{method}: {text}"
    return text, method


def _draw_differences(ax, judged: list[dict]) -> None:
    """Each claim's paired difference per seed (dots), its estimate with the t CI over seeds
    (thick), the CI that also resamples the test examples (thin, right), the paper's own
    difference (black diamond) and the verdict under its label."""
    shown, labels = [0.0], []
    for x, c in enumerate(judged):
        text, method = _difference_label(c["claim"])
        colour = COLOURS.get(method, "#333333")
        pairs = list((c.get("pairs") or {}).values())
        if pairs:
            ax.scatter(x - 0.1 + _offsets(len(pairs)), pairs, s=13, color=colour, alpha=0.8,
                       zorder=2)
            shown += pairs
        if not math.isnan(c.get("estimate", math.nan)):
            est, low, high = c["estimate"], c["low"], c["high"]
            ax.errorbar(x + 0.14, est, yerr=[[est - low], [high - est]], fmt="o", ms=5,
                        color=colour, capsize=3, elinewidth=1.6, zorder=3)
            shown += [low, high]
            if not math.isnan(c.get("test_low", math.nan)):
                ax.plot([x + 0.26] * 2, [c["test_low"], c["test_high"]], color=colour, lw=0.9)
                shown += [c["test_low"], c["test_high"]]
        if c.get("paper_effect") is not None:
            ax.plot(x + 0.14, c["paper_effect"], zorder=4, **PAPER_MARKER)
            shown.append(c["paper_effect"])
        verdict = c.get("verdict_shown", c["verdict"])  # with "premise not met" (claims)
        labels.append(_wrapped(text, 13) + "\n" + _wrapped(verdict, 13))
    ax.axhline(0, color="#333333", lw=0.8)
    ax.set_xticks(range(len(judged)), labels, fontsize=7)
    ax.set_xlim(-0.6, len(judged) - 0.4)
    ax.set_ylabel("paired difference (points)")
    ax.grid(axis="y", color="#e5e5e5", lw=0.5)
    _fit_axis(ax, shown)


def _seeds(df: pd.DataFrame) -> list[float]:
    return df.groupby("seed")["accuracy"].mean().tolist()


def _comparison_figure(panels, title: str, caption: str):
    """Rows of two panels: the arms' seed-level accuracies (left) and the paired differences
    the claims test (right). ``panels``: (row title, arms, judged claims)."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 2, figsize=(10.5, 3.5 * len(panels)),
                             gridspec_kw={"width_ratios": [3, 2]}, squeeze=False)
    for (row_title, arms, judged), (left, right) in zip(panels, axes):
        _draw_arms(left, arms)
        left.set_title(row_title, fontsize=9.5)
        _draw_differences(right, judged)
        right.set_title("paired differences", fontsize=9.5)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    _caption(fig, caption)
    return fig


_POINTS = ("Dots: one seed each. Marker and bar beside them: the mean and its t-based 95 % CI "
           "over the n seeds under each label.")
_DIFFERENCES = ("Right: each seed's paired difference on the same test examples; thick bar: "
                "t-based 95 % CI over seeds; thin bar: 95 % CI that also resamples the test "
                "examples (two-level bootstrap); black diamond: the paper's difference "
                "(CIFAR-100 / AG News at paper scale), where it prints one. Under each label: "
                "the verdict, Holm-adjusted across every claim whose runs are in the store.")


def main_figure(records: list[dict], judged: list[dict], title: str):
    """Tables 3/4's main rows: every seed of the chain, the control, SleepNet-2, DreamNet-2
    and the fine-tuned encoder, and the paired differences the main claims test."""
    df = frame(records)
    arms = [(label, part["group"].iloc[0], _seeds(part), False)
            for label, part in df.groupby("label", sort=False)]
    row = f"{df['task'].iloc[0]}: {scale_text(df)}"
    return _comparison_figure([(row, arms, judged)], title,
                              f"{_POINTS} {_DIFFERENCES} Scale: {scale_text(df)}.")


def _ablation_panels(records: list[dict], judged: list[dict], hollow) -> list:
    """One row per task: the chain alone (if run), then each method's variants in run order,
    ``hollow(variant)`` marking the weaker arm; the task's claims beside them."""
    df = frame(records)
    panels = []
    for task in ("vision", "text"):
        part = df[df["task"] == task]
        if part.empty:
            continue
        arms = [(f"{group}: {variant}" if group != "Chain only" else variant, group,
                 _seeds(rows), hollow(variant))
                for (group, variant), rows in part.groupby(["group", "variant"], sort=False)]
        mine = [c for c in judged if c["claim"].endswith(f"{task})") or f", {task}" in c["claim"]]
        panels.append((f"{task}: {scale_text(part)}", arms, mine))
    return panels


def fig8(records: list[dict], judged: list[dict]):
    """Fig 8: SleepNet-2 / DreamNet-2 with each encoder (hollow: untrained) beside the chain
    alone, and the paired gain of pre-training."""
    return _comparison_figure(
        _ablation_panels(records, judged, lambda v: "untrained" in v),
        "Fig 8 (reproduced): the encoder's quality",
        f"{_POINTS} Hollow: the same encoder untrained. {_DIFFERENCES}")


def fig9(records: list[dict], judged: list[dict]):
    """Fig 9: frozen (filled) vs unfrozen (hollow) encoder, method colours as everywhere."""
    return _comparison_figure(
        _ablation_panels(records, judged, lambda v: v == "unfrozen"),
        "Fig 9 (reproduced): frozen vs unfrozen encoder",
        f"{_POINTS} Hollow: the encoder unfrozen (trained at its own learning rate). "
        f"{_DIFFERENCES}")


def design_figure(records: list[dict], judged: list[dict]):
    """Our text design check: the paper-style build (filled) against the differentiable one
    (hollow), and the paired differences."""
    return _comparison_figure(
        _ablation_panels(records, judged, lambda v: v != "paper: hard argmax"),
        "Our check: text SleepNet-2 / DreamNet-2 with a differentiable A_in",
        f"{_POINTS} Hollow: straight-through A_in (and, for DreamNet, the expected "
        f"embedding under the masked LM's distribution). {_DIFFERENCES}")


def _label_rows(xs: list[float], span: float, gap: float = 0.09) -> list[int]:
    """A text row per x label: a label closer than ``gap`` × ``span`` to the one on its left
    goes one row above it (two chains of nearly equal accuracy), any other on the first."""
    rows, left = [0] * len(xs), None
    for i in sorted(range(len(xs)), key=xs.__getitem__):
        rows[i] = rows[left] + 1 if left is not None and xs[i] - xs[left] < gap * span else 0
        left = i
    return rows


def fig7(records: list[dict]):
    """Fig 7 as the claim reads: SleepNet-2 / DreamNet-2 accuracy against the accuracy of
    the chain alone, one x position per chain; above the dashed line a method beats its
    chain."""
    plt = _pyplot()
    df = frame(records)
    tasks = [t for t in ("vision", "text") if (df["task"] == t).any()]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        part = df[df["task"] == task]
        chains = part[part["method"] == "baseline"].groupby("chain", sort=False)["accuracy"]
        level = chains.mean()
        shown = list(level)
        for group, shift in (("SleepNet", -0.18), ("DreamNet", 0.18)):
            means = []
            for chain, x in level.items():
                rows = part[(part["chain"] == chain) & (part["group"] == group)]
                values = _seeds(rows)
                if not values:
                    continue
                ci = mean_ci(np.asarray(values))
                half = 0.0 if math.isnan(ci.half_width) else ci.half_width
                ax.scatter([x + shift] * len(values), values, s=12, color=COLOURS[group],
                           alpha=0.6, zorder=2)
                ax.errorbar(x + shift, ci.mean, yerr=half, fmt="o", ms=5, capsize=3,
                            color=COLOURS[group], zorder=3)
                means.append((x + shift, ci.mean))
                shown += [*values, ci.mean - half, ci.mean + half]
            if means:
                ax.plot(*zip(*sorted(means)), color=COLOURS[group], lw=1, label=f"{group}-2")
        _fit_axis(ax, shown, "y", ACCURACY)
        _fit_axis(ax, shown, "x", ACCURACY)
        low, high = ax.get_xlim()
        ax.plot([low, high], [low, high], ls="--", color="#555555", lw=0.9,
                label="the chain alone (y = x)")
        for (chain, x), row in zip(level.items(), _label_rows(list(level), high - low)):
            ax.annotate(f"{chain}\n(n={chains.size()[chain]})", (x, 0),
                        xycoords=("data", "axes fraction"), xytext=(0, 4 + 20 * row),
                        textcoords="offset points", ha="center", fontsize=7)
            ax.axvline(x, color="#bbbbbb", lw=0.6, ls=":", zorder=1)
        ax.set_xlabel("the chain alone: mean test accuracy (%)")
        ax.set_ylabel("method test accuracy (%)")
        ax.set_title(f"{task}: {scale_text(part)}", fontsize=9.5)
        ax.grid(color="#e5e5e5", lw=0.5)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle("Fig 7 (reproduced): does a better chain give a better method?", fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    _caption(fig, "Each x position is one chain (its mean over the seeds); small dots: one seed "
             "each of SleepNet-2 (left) and DreamNet-2 (right) on that chain; marker and bar: "
             "their mean and t-based 95 % CI. The claim is the slope (results/claims.md).")
    return fig


def fig6(vision_dreams: dict):
    """Fig 6: test images and DreamNet-3's reconstruction ("dream") at each block."""
    plt = _pyplot()

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
    plt = _pyplot()

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
    """Accuracy against the number of sleep/dream blocks M: every seed, the mean with its t
    CI per M, and the chain alone as a labelled band (its mean and 95 % CI)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, records in zip(axes, (vision, text)):
        df = frame(records)
        shown = []
        chain = df[df["method"] == "baseline"]
        if len(chain):
            ci = mean_ci(np.asarray(_seeds(chain)))
            half = 0.0 if math.isnan(ci.half_width) else ci.half_width
            ax.axhspan(ci.mean - half, ci.mean + half, color=COLOURS["Chain only"], alpha=0.2,
                       lw=0)
            ax.axhline(ci.mean, color=COLOURS["Chain only"], lw=1,
                       label=f"{chain['label'].iloc[0]} alone (mean, 95 % CI; n={ci.n})")
            shown += [ci.mean - half, ci.mean + half]
        for group, shift in (("SleepNet", -0.17), ("DreamNet", 0.17)):
            part = df[df["group"] == group]
            means = []
            for m, rows in part.groupby("blocks"):
                shown += _seed_points(ax, int(m) + shift, _seeds(rows), COLOURS[group])
                means.append((int(m) + shift + 0.14, float(np.mean(_seeds(rows)))))
            if means:
                ax.plot(*zip(*means), color=COLOURS[group], lw=1, label=group)
        blocks = sorted(df.loc[df["method"] != "baseline", "blocks"].dropna().astype(int).unique())
        ax.set_xticks(blocks)
        ax.set_xlabel("blocks M")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{df['task'].iloc[0]}: {scale_text(df)}", fontsize=9.5)
        ax.grid(axis="y", color="#e5e5e5", lw=0.5)
        _fit_axis(ax, shown, bounds=ACCURACY)
    handles, labels = axes[0].get_legend_handles_labels()
    more = axes[1].get_legend_handles_labels()
    handles, labels = handles + more[0][:1], labels + more[1][:1]
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    _caption(fig, f"{_POINTS} The same seeds at every M (the trend claims use only those).")
    return fig


def efficiency_figure(records: list[dict]):
    """Table 5 as ratios: each model's time per training epoch over ResNet18's, measured here
    (one run each, the mean of its epochs) beside the paper's on CIFAR-100."""
    plt = _pyplot()
    summary = summarize(frame(records))
    base = summary.loc[summary["paper"] == "ResNet18", "seconds_per_epoch"]
    if base.empty:
        raise ValueError("Table 5's figure needs the ResNet18 run: its time is the unit")
    ratios = paper.table5_ratios()
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(summary) + 1.4))
    names = []
    for y, s in enumerate(summary.itertuples()):
        ax.plot(s.seconds_per_epoch / float(base.iloc[0]), y, "o", ms=7,
                color=COLOURS.get(s.group, "#333333"))
        theirs = ratios.get(s.paper, {}).get("cifar100")
        if theirs is not None:
            ax.plot(theirs, y, **PAPER_MARKER)
        names.append(f"{s.label} (n={s.n})")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xscale("log", base=2)
    ticks = [2.0 ** k for k in range(0, 1 + math.ceil(math.log2(max(ax.get_xlim()[1], 2))))]
    ax.set_xticks(ticks, [f"{t:g}×" for t in ticks])
    ax.axvline(1, color="#333333", lw=0.8)
    ax.set_xlabel("time per training epoch, × ResNet18's")
    ax.grid(axis="x", color="#e5e5e5", lw=0.5)
    ax.set_title("Table 5 (reproduced): cost per epoch", fontsize=10)
    fig.tight_layout()
    _caption(fig, "Dots: here (one run each, this machine, the profile's scale); black "
             "diamonds: the paper (CIFAR-100, 224 px, its GPU). Ratios, since absolute times "
             "depend on the hardware.")
    return fig


VERDICT_COLOURS = {"supported": "#2a9d4b", "not supported": "#c0392b",
                   "inconclusive": "#7f7f7f"}
UNTESTED_COLOUR = "#555555"  # a measurement without a test (one number, no CI)


def _overview_row(ax, y: int, claim: dict) -> None:
    """One claim of :func:`claims_overview` on row ``y``: a tested effect with its CI(s) in its
    verdict's colour, an untested measurement as a grey cross, the paper's effect a diamond."""
    colour = VERDICT_COLOURS.get(claim["verdict"])
    if colour is not None and not math.isnan(claim["estimate"]):
        test_low, test_high = claim.get("test_low", math.nan), claim.get("test_high", math.nan)
        if not math.isnan(test_low):
            ax.plot([test_low, test_high], [y, y], color=colour, lw=1)
        ax.plot([claim["low"], claim["high"]], [y, y], color=colour, lw=4, alpha=0.6,
                solid_capstyle="butt")
        hollow = claim.get("premise") is not None and not claim["premise"]["met"]
        ax.plot(claim["estimate"], y, "o", color=colour, ms=6,
                markerfacecolor="white" if hollow else colour)
    elif not math.isnan(claim["estimate"]):
        ax.plot(claim["estimate"], y, "x", color=UNTESTED_COLOUR, ms=7, mew=2)
    if claim.get("paper_effect") is not None:
        ax.plot(claim["paper_effect"], y, "D", color="black", ms=5)


def claims_overview(judged: list[dict]):
    """Every claim at a glance: its effect with the seed-paired t CI (thick) and, where the
    runs kept their predictions, the CI that also resamples the test set (thin), coloured by
    verdict (hollow where the premise is not met); an untestable measurement (a time ratio)
    as a grey cross; the paper's effect as a black diamond. One panel per unit (points,
    points per block, ...); claims with nothing to draw are named under the legend."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    drawn = [c for c in judged  # our estimate or the paper's: something to draw
             if not math.isnan(c["estimate"]) or c.get("paper_effect") is not None]
    units = list(dict.fromkeys(c.get("unit", "") for c in drawn))
    sizes = [sum(c.get("unit", "") == u for c in drawn) for u in units]
    fig, axes = plt.subplots(len(units), 1, figsize=(9, 0.34 * sum(sizes) + 1.1 * len(units)),
                             gridspec_kw={"height_ratios": [s + 1.5 for s in sizes]},
                             squeeze=False)
    for ax, unit in zip(axes[:, 0], units):
        rows = [c for c in drawn if c.get("unit", "") == unit][::-1]
        for y, c in enumerate(rows):
            _overview_row(ax, y, c)
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
    if any(c["verdict"] not in VERDICT_COLOURS and not math.isnan(c["estimate"])
           for c in drawn):
        handles.append(Line2D([], [], color=UNTESTED_COLOUR, marker="x", mew=2, lw=0,
                              label="ours, not testable (no CI)"))
    missing = [c["claim"] for c in judged if c not in drawn]
    bottom = 0.06 + (0.03 if missing else 0.0)
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=7.5, frameon=False,
               bbox_to_anchor=(0.5, bottom - 0.06))
    if missing:
        fig.text(0.01, 0.005, _wrapped("Not testable at this scale, nothing to draw: "
                                       + "; ".join(missing), 150), fontsize=7.5, va="bottom")
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig


def plateau_figure(records: list[dict], main_epochs: int):
    """The chain's test accuracy against its epochs at the main scale: every seed as a dot,
    the mean with its t-based 95 % CI, the main comparison's epochs marked."""
    plt = _pyplot()

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
    plt = _pyplot()

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
    plt = _pyplot()

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


