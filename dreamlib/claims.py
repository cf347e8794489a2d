"""Each claim of the paper, judged on paired seeds with 95 % CIs and Holm's correction.

Every model of a claim runs several seeds on one fixed test set, so a comparison "a beats b"
is the paired difference over the seeds both ran (:func:`dreamlib.stats.paired_difference`)
and a trend ("more blocks help", "a better chain helps") is the least-squares slope over the
seed-level points (:func:`dreamlib.stats.slope`). The p-values of all testable claims form one
family, adjusted with Holm's method; a verdict is ``supported`` or ``not supported`` only when
the adjusted p-value is below ``ALPHA``, else ``inconclusive``. A claim without the runs to
test it (fewer than two paired seeds, a cost ratio measured at another scale) is ``not
testable at this scale``. The evidence column gives the numbers each verdict used.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import experiments, paper
from .config import DEFAULT_CHAIN, ModelConfig
from .counting import count, paper_model_config
from .experiments import MAIN_BLOCKS
from .report import frame, scale_text
from .runs import read_predictions
from .stats import (PairedDifference, judge, mean_ci, paired_difference, seeds_for_half_width,
                    slope, two_level_bootstrap)

ALPHA = 0.05  # family-wise error rate across the claims (Holm)
TARGET_HALF_WIDTH = 1.0  # accuracy points: the protocol's aim for a comparison's 95 % CI
NOT_TESTABLE = "not testable at this scale"
MIN_PAIRS = 3  # paired seeds a comparison needs (two seeds give one degree of freedom)
MIN_POINTS = 4  # seed-level points a slope needs (n - 2 >= 2 degrees of freedom) ...
MIN_LEVELS = 3  # ... at this many distinct x values (two levels cannot show a trend's shape)


def _select(df: pd.DataFrame, **fields) -> pd.DataFrame:
    """The rows of ``df`` whose typed fields (task, method, blocks, variant, chain) match."""
    for name, value in fields.items():
        df = df[df[name] == value]
    return df


def seed_values(df: pd.DataFrame, **fields) -> pd.Series:
    """Accuracy (points) per seed of the rows selected by ``fields``."""
    rows = _select(df, **fields)
    return rows.groupby("seed")["accuracy"].mean()


def paired(df: pd.DataFrame, a: dict, b: dict):
    """Paired difference a − b over the seeds both selections ran; None below ``MIN_PAIRS``
    (with fewer, a constant difference between two seeds would read as certainty)."""
    left, right = seed_values(df, **a), seed_values(df, **b)
    seeds = sorted(set(left.index) & set(right.index))
    if len(seeds) < MIN_PAIRS:
        return None
    return paired_difference(left[seeds].to_numpy(), right[seeds].to_numpy())


def _scores(df: pd.DataFrame, seeds: list[int], **fields) -> np.ndarray | None:
    """(seeds × test examples) per-example scores in points (100 correct, 0 wrong) of the
    selected runs, one run per seed; None when a run kept no predictions (made before runs
    kept them) or the runs were scored on different test sets."""
    rows = _select(df, **fields).drop_duplicates("seed").set_index("seed")
    scored = []
    for seed in seeds:
        folder = rows.at[seed, "folder"] if "folder" in rows else None
        kept = read_predictions(folder) if folder else None
        if kept is None:
            return None
        scored.append(kept)
    if any(labels != scored[0][0] for labels, _ in scored):
        return None
    return np.array([[100.0 * (y == p) for y, p in zip(*kept)] for kept in scored])


def paired_bootstrap(df: pd.DataFrame, a: dict, b: dict):
    """The two-level bootstrap interval of a − b (seeds and test examples resampled,
    :func:`dreamlib.stats.two_level_bootstrap`) over the seeds both ran; None when
    :func:`paired` has no result or a run kept no predictions."""
    left, right = seed_values(df, **a), seed_values(df, **b)
    seeds = sorted(set(left.index) & set(right.index))
    if len(seeds) < MIN_PAIRS:
        return None
    first, second = _scores(df, seeds, **a), _scores(df, seeds, **b)
    if first is None or second is None or first.shape != second.shape:
        return None
    return two_level_bootstrap(first, second)


def _comparison(name: str, df: pd.DataFrame, a: dict, b: dict, task: str) -> dict:
    """A claim "a beats b": the seed-paired t result and, beside it, the interval that also
    resamples the test examples."""
    rows = pd.concat([_select(df, **a), _select(df, **b)])
    left, right = seed_values(df, **a), seed_values(df, **b)
    pairs = (left - right).dropna()  # per seed: the dots a figure draws beside the CI
    return {**_claim(name, paired(df, a, b), task=task, df=rows),
            "bootstrap": paired_bootstrap(df, a, b),
            "pairs": {int(seed): float(d) for seed, d in pairs.items()}}


def _common_seeds(df: pd.DataFrame, level: str) -> pd.DataFrame:
    """The rows of the seeds that ran at every value of ``level``: a trend compares levels,
    so each level gets the same seeds (a level with more seeds would weigh more, and a
    seed's luck would move the slope)."""
    seeds = set.intersection(*(set(group["seed"]) for _, group in df.groupby(level))) \
        if len(df) else set()
    return df[df["seed"].isin(seeds)]


def _points_slope(x: list[float], y: list[float]):
    """Slope of y on x over seed-level points; None below ``MIN_POINTS`` points or
    ``MIN_LEVELS`` distinct x values (three points on two levels fit a line exactly)."""
    if len(x) < MIN_POINTS or len(set(x)) < MIN_LEVELS:
        return None
    return slope(x, y)


def block_trend(df: pd.DataFrame, method: str):
    """Slope of accuracy on the block count M over the (M, seed) runs of ``method``, with
    the seeds that ran at every M."""
    rows = _common_seeds(_select(df, method=method).drop_duplicates(["blocks", "seed"]), "blocks")
    return _points_slope(rows["blocks"].astype(float).tolist(), rows["accuracy"].tolist())


def chain_trend(df: pd.DataFrame, task: str, method: str):
    """Slope of ``method``'s accuracy on its chain's accuracy (Fig 7): does a better chain
    alone give a better SleepNet/DreamNet? x is each chain's level (its mean accuracy over
    the seeds), y each seed's accuracy with that chain; the seeds are those that ran every
    chain alone and with ``method``."""
    part = _select(df, task=task)
    part = part[part["method"].isin(["baseline", method])].drop_duplicates(
        ["chain", "method", "seed"])
    complete = part.groupby(["chain", "seed"]).filter(lambda g: len(g) == 2)
    complete = _common_seeds(complete, "chain")
    if complete.empty:
        return None
    level = complete[complete["method"] == "baseline"].groupby("chain")["accuracy"].mean()
    ours = complete[complete["method"] == method]
    return _points_slope([level[c] for c in ours["chain"]], ours["accuracy"].tolist())


def _describe(result, unit: str, bootstrap=None) -> str:
    if result is None:
        return (f"too few runs: a comparison needs {MIN_PAIRS} paired seeds, a trend "
                f"{MIN_POINTS} runs over {MIN_LEVELS} levels with the same seeds at each")
    text = (f"{result.estimate:+.2f} {unit} [{result.low:+.2f}, {result.high:+.2f}], "
            f"n={result.n}")
    if bootstrap is not None:
        text += (f"; with the test set [{bootstrap.low:+.2f}, {bootstrap.high:+.2f}] "
                 f"({bootstrap.examples:,} examples)")
    return text


def method_claims(records: list[dict], task: str) -> list[dict]:
    """Tables 3/4 (main scale): SleepNet and DreamNet beat the chain, DreamNet beats
    SleepNet; and the control the paper lacks: SleepNet beats the encoder's features alone."""
    df = frame(records)
    m = MAIN_BLOCKS
    base = {"method": "baseline", "chain": DEFAULT_CHAIN[task]}
    sleep, dream = {"method": "sleepnet", "blocks": m}, {"method": "dreamnet", "blocks": m}
    control = {"method": "features"}
    specs = [
        (f"SleepNet-{m} beats the chain alone ({task})", sleep, base),
        (f"DreamNet-{m} beats the chain alone ({task})", dream, base),
        (f"DreamNet-{m} beats SleepNet-{m} ({task})", dream, sleep),
        (f"SleepNet-{m} beats the encoder's features alone ({task}; our control)", sleep,
         control),
    ]
    df = _select(df, task=task)
    return [_comparison(name, df, a, b, task) for name, a, b in specs]


def block_claims(records: list[dict], task: str) -> list[dict]:
    """Section 4.6.2: accuracy grows with the number of blocks M (slope over M and seeds)."""
    df = _select(frame(records), task=task)
    return [_claim(f"{name} accuracy grows with M ({task})", block_trend(df, method),
                   unit="points per block", task=task, df=_select(df, method=method))
            for name, method in (("SleepNet", "sleepnet"), ("DreamNet", "dreamnet"))]


def chain_claims(records: list[dict]) -> list[dict]:
    """Fig 7: a better chain alone gives a better SleepNet / DreamNet (slope over chains)."""
    df = frame(records)
    return [_claim(f"better chain → better {name} ({task})", chain_trend(df, task, method),
                   unit="points per point", task=task,
                   df=_select(df, task=task)[_select(df, task=task)["method"].isin(
                       ["baseline", method])])
            for task in ("vision", "text") for method, name in (("sleepnet", "SleepNet"),
                                                                ("dreamnet", "DreamNet"))]


def encoder_claims(records: list[dict]) -> list[dict]:
    """Fig 8: a pre-trained encoder beats the same encoder untrained, paired by seed."""
    df = frame(records)
    out = []
    for task in ("vision", "text"):
        for method, name in (("sleepnet", "SleepNet"), ("dreamnet", "DreamNet")):
            rows = _select(df, task=task, method=method)
            variants = list(dict.fromkeys(rows["variant"]))
            untrained = [v for v in variants if "untrained" in v]
            trained = [v for v in variants if v not in untrained]
            claim = f"a pre-trained encoder beats an untrained one ({name}, {task})"
            if untrained and trained:
                out.append(_comparison(claim, rows, {"variant": trained[0]},
                                       {"variant": untrained[0]}, task))
            else:
                out.append(_claim(claim, None, task=task))
    return out


def freeze_claims(records: list[dict]) -> list[dict]:
    """Fig 9: a frozen encoder beats an unfrozen one, paired by seed."""
    df = frame(records)
    return [_comparison(f"frozen beats unfrozen ({name}, {task})",
                        _select(df, task=task, method=method),
                        {"variant": "frozen"}, {"variant": "unfrozen"}, task)
            for task in ("vision", "text") for method, name in (("sleepnet", "SleepNet"),
                                                                ("dreamnet", "DreamNet"))]


def design_claims(records: list[dict]) -> list[dict]:
    """Our check of two text design choices (:func:`dreamlib.experiments.text_design_choices`):
    does the differentiable variant beat the paper-style build, paired by seed?"""
    df = _select(frame(records), task="text")
    return [_comparison(f"a differentiable A_in{extra} beats the hard argmax ({name}, text; "
                        "our check)", _select(df, method=method),
                        {"variant": experiments.DIFFERENTIABLE_TEXT},
                        {"variant": experiments.PAPER_TEXT}, "text")
            for method, name, extra in (("sleepnet", "SleepNet", ""),
                                        ("dreamnet", "DreamNet", " and the expected dream"))]


def at_paper_scale(records: list[dict]) -> bool:
    """Whether vision runs use the paper's dataset, input size and encoders (Table 5's scale)."""
    configs = [(r["config"]["dataset"], ModelConfig.from_dict(r["config"]["model"]))
               for r in records]
    encoders = set(paper.PAPER_ENCODERS.values())
    return bool(configs) and all(
        dataset == paper.MAIN_DATASETS["vision"]
        and model.image_size == paper.INPUT_SIZES["vision"]["image_size"]
        and (model.method == "baseline" or model.encoder in encoders)
        for dataset, model in configs)


def efficiency_claims(records: list[dict]) -> list[dict]:
    """Table 5: SleepNet ≈1.8× and DreamNet ≈4.0× ResNet18's time per epoch (CIFAR-100).

    A cost ratio depends on the scale (image size, encoder size, hardware): it is judged only
    when the runs use the paper's configuration (:func:`at_paper_scale`), else reported.
    """
    profile_matches_paper = at_paper_scale(records)
    df = frame(records)
    seconds = df.groupby("paper")["seconds_per_epoch"].mean()
    ratios = paper.table5_ratios()
    out = []
    for name in ("SleepNet", "DreamNet"):
        theirs = ratios[name]["cifar100"]
        ours = seconds.get(name, math.nan) / seconds.get("ResNet18", math.nan)
        row = {"claim": f"{name} costs about {theirs:.1f}× ResNet18 per epoch",
               "verdict": NOT_TESTABLE, "estimate": ours, "low": math.nan, "high": math.nan,
               "p_value": math.nan, "p_holm": math.nan, "n": 1, "unit": "× ResNet18's time",
               "paper_effect": theirs, "evidence": f"here {ours:.2f}× at this profile's scale (the paper: {theirs:.2f}× "
                           "on CIFAR-100 at 224 px with ViT-B/MAE-B)"}
        if profile_matches_paper:
            row["verdict"] = "supported" if abs(ours / theirs - 1) <= 0.5 else "not supported"
            row["evidence"] += "; rule: within ±50 % of the paper's ratio"
        out.append(row)
    return out


def _claim(name: str, result, unit: str = "points", task: str | None = None,
           df: pd.DataFrame | None = None) -> dict:
    """A claim row before the family's adjustment (see :func:`judge_all`); ``task``: the
    task whose encoder the claim rests on (None: it rests on none); ``df``: the runs it
    reads, whose scale it states."""
    return {"claim": name, "result": result, "unit": unit, "task": task,
            "scale": scale_text(df)}


def judge_all(claims: list[dict], alpha: float = ALPHA) -> list[dict]:
    """Verdicts for every claim row, Holm-adjusted across the testable ones.

    A comparison whose runs kept their test predictions must also clear the test set's own
    noise: a verdict the seeds give (Holm-adjusted p below ``alpha``) stays only when the
    two-level bootstrap interval (seeds and test examples) excludes zero too; else it is
    inconclusive."""
    testable = {c["claim"]: c["result"] for c in claims if c.get("result") is not None}
    verdicts = judge(testable, alpha)
    effects = paper_effects()
    out = []
    for c in claims:
        if "result" not in c:  # already judged (efficiency)
            out.append(c)
            continue
        result, v = c["result"], verdicts.get(c["claim"])
        if v is None:
            out.append({"claim": c["claim"], "premise": c.get("premise"),
                        "verdict": NOT_TESTABLE, "estimate": math.nan,
                        "low": math.nan, "high": math.nan, "p_value": math.nan,
                        "p_holm": math.nan, "n": 0, "evidence": _describe(None, c["unit"]),
                        "unit": c["unit"], "paper_effect": effects.get(c["claim"]),
                        "scale": c.get("scale", ""), "pairs": c.get("pairs"),
                        "seeds_for_target": None})
            continue
        boot = c.get("bootstrap")
        verdict = v.verdict
        if verdict != "inconclusive" and boot is not None and not boot.excludes_zero():
            verdict = "inconclusive"  # the seeds agree, but another test set might not
        out.append({"claim": c["claim"], "premise": c.get("premise"),
                    "verdict": verdict, "estimate": v.estimate,
                    "low": v.low, "high": v.high, "p_value": v.p_value, "p_holm": v.adjusted_p,
                    "n": result.n, "evidence": _describe(result, c["unit"], boot),
                    "unit": c["unit"], "paper_effect": effects.get(c["claim"]),
                    "scale": c.get("scale", ""),
                    "test_low": math.nan if boot is None else boot.low,
                    "test_high": math.nan if boot is None else boot.high,
                    "pairs": c.get("pairs"),
                    "seeds_for_target": _seeds_for_target(result)})
    return [{**c, "verdict_shown": verdict_text(c)} for c in out]  # as pages print it


PREMISE_NOT_MET = "premise not met"


def plateau(records: list[dict], task: str, main_epochs: int) -> dict | None:
    """Is the chain on its plateau at ``main_epochs``? From the chain's plateau curve
    (:func:`dreamlib.experiments.chain_plateau`): each epoch count's mean accuracy and t-based
    95 % CI over the seeds every point ran; on the plateau when doubling the epochs moves
    the mean by less than the half-width of the CI at ``main_epochs``. None without the
    runs (fewer than two seeds at both points)."""
    df = _select(frame(records), task=task, method="baseline")
    df = _common_seeds(df.drop_duplicates(["epochs", "seed"]), "epochs")
    points = {int(e): mean_ci(g["accuracy"].to_numpy()) for e, g in df.groupby("epochs")}
    here, doubled = points.get(main_epochs), points.get(2 * main_epochs)
    if here is None or doubled is None or here.n < 2:
        return None
    shift = doubled.mean - here.mean
    return {"task": task, "epochs": main_epochs, "points": points, "shift": shift,
            "half_width": here.half_width, "on_plateau": bool(abs(shift) < here.half_width)}


def plateau_text(check: dict | None) -> str:
    """One Markdown sentence on :func:`plateau`'s check."""
    if check is None:
        return "The chain's plateau curve is not in the run store yet."
    here = check["points"][check["epochs"]]
    verdict = ("on its plateau" if check["on_plateau"] else
               "not on its plateau: the main comparison is not at convergence")
    return (f"The chain reaches {here.mean:.1f} % ± {here.half_width:.1f} after "
            f"{check['epochs']} epochs (n = {here.n}); twice as many move its mean by "
            f"{check['shift']:+.1f} points, {'less' if check['on_plateau'] else 'more'} than "
            f"that half-width: {verdict}.")


def premise(records: list[dict], task: str) -> dict | None:
    """The paper's premise for ``task``, from a main table's runs: the pre-trained encoder
    the methods connect to is a better classifier, fine-tuned, than the chain it is meant to
    help (MAE-B above ResNet18 in the paper's Table 3). A claim that rests on an encoder
    which is not cannot speak for the paper: a null may only say that the encoder was weak.
    None without the runs (a fine-tuned encoder row and chain rows)."""
    df = _select(frame(records), task=task) if records else pd.DataFrame()
    if df.empty:
        return None
    chain = seed_values(df, method="baseline", chain=DEFAULT_CHAIN[task])
    tuned = seed_values(df, method="finetune")
    if chain.empty or tuned.empty:
        return None
    return {"task": task, "encoder": _select(df, method="finetune")["encoder"].iloc[0],
            "finetuned": float(tuned.mean()), "chain": float(chain.mean()),
            "met": bool(tuned.mean() > chain.mean())}


def family(records_of) -> list[dict]:
    """Every claim of the paper (and our control), before judging, from the records of the
    experiments that test them; ``records_of(grid)`` returns the records of
    ``grid(profile)``: a context's ``run`` (trains what is missing) or ``finished`` (reads).
    Each claim that rests on a task's encoder carries that task's :func:`premise`."""
    vision, text = records_of(experiments.table3_vision), records_of(experiments.table4_text)
    premises = {"vision": premise(vision, "vision"), "text": premise(text, "text")}
    curves = records_of(experiments.block_curves)
    claims = (method_claims(vision, "vision") + method_claims(text, "text")
              + block_claims(curves, "vision") + block_claims(curves, "text")
              + chain_claims(records_of(experiments.fig7_chains))
              + encoder_claims(records_of(experiments.fig8_encoders))
              + freeze_claims(records_of(experiments.fig9_freeze))
              + design_claims(records_of(experiments.text_design_choices))
              + efficiency_claims(records_of(experiments.table5_efficiency)))
    return [{**c, "premise": premises.get(c.get("task"))} for c in claims]


def judged_family(ctx, train: bool = False) -> list[dict]:
    """The verdict of every claim, Holm-adjusted across the whole family: the one verdict
    results/claims.md and every notebook show. ``train``: train the runs the store lacks
    (notebook 10); else read only the finished ones (the other pages)."""
    runs = ctx.run if train else ctx.finished
    judged = judge_all(family(lambda grid: runs(grid(ctx.profile))))
    testable = sum(not math.isnan(c["p_holm"]) for c in judged)
    return [{**c, "holm_over": testable} for c in judged]


def on_this_page(ctx, page_claims: list[dict]) -> list[dict]:
    """A notebook's claims with the family's verdicts (:func:`judged_family`), so that a
    claim reads the same on every page and in results/claims.md. A claim whose runs here
    differ from the family's (the notebook's parameters were changed) is judged on this
    page's runs, Holm-adjusted over this page's claims, and says so (``scope``)."""
    shared = {c["claim"]: c for c in judged_family(ctx)}
    page = judge_all(page_claims)
    testable = sum(not math.isnan(c["p_holm"]) for c in page)
    out = []
    for own in page:
        same = shared.get(own["claim"])
        if same is not None and same["evidence"] == own["evidence"]:
            out.append({**same, "scope": "family"})
        else:
            out.append({**own, "scope": "page", "holm_over": testable})
    return out


def verdict_text(judged: dict) -> str:
    """A judged claim's verdict as pages print it: with "premise not met" beside it when the
    encoder it rests on does not beat the chain (:func:`premise`)."""
    held = judged.get("premise")
    if held is not None and not held["met"] and judged["verdict"] != NOT_TESTABLE:
        return f"{judged['verdict']} ({PREMISE_NOT_MET})"
    return judged["verdict"]


def paper_effects() -> dict[str, float]:
    """The paper's own effect for each claim it gives numbers for, in the claim's units, on
    its main datasets (CIFAR-100, AG News): Tables 3/4's differences, the slope of Tables
    3/4's accuracies over the block counts they print, and Fig 9's frozen minus unfrozen as
    printed (see :data:`dreamlib.paper.INCONSISTENCIES` on its labels)."""
    out = {}
    m = MAIN_BLOCKS
    for task, table, chain in (("vision", "table3", "ResNet18"), ("text", "table4", "LSTM-4")):
        column = paper.MAIN_DATASETS[task]

        def acc(name, table=table, column=column):
            return paper.paper_accuracy(table, name, column)

        out[f"SleepNet-{m} beats the chain alone ({task})"] = acc(f"SleepNet-{m}") - acc(chain)
        out[f"DreamNet-{m} beats the chain alone ({task})"] = acc(f"DreamNet-{m}") - acc(chain)
        out[f"DreamNet-{m} beats SleepNet-{m} ({task})"] = acc(f"DreamNet-{m}") - acc(f"SleepNet-{m}")
        for name in ("SleepNet", "DreamNet"):
            levels = [(b, acc(f"{name}-{b}")) for b in range(1, 5)
                      if _printed(table, f"{name}-{b}")]
            if len(levels) >= 3:
                fit = np.polyfit([b for b, _ in levels], [a for _, a in levels], 1)
                out[f"{name} accuracy grows with M ({task})"] = float(fit[0])
    for dataset, task in (("cifar100", "vision"), ("ag_news", "text")):
        row = paper.FIG9_VALUES[dataset]
        name = row["model"].split("-")[0]
        out[f"frozen beats unfrozen ({name}, {task})"] = row["frozen"] - row["unfrozen"]
    return out


def _printed(table: str, model: str) -> bool:
    try:
        paper.paper_row(table, model)
    except KeyError:
        return False
    return True


def _seeds_for_target(result) -> int | None:
    """Paired seeds that would narrow a comparison's CI to ±TARGET_HALF_WIDTH at the spread
    measured (None for trends, whose width also depends on the design's x values)."""
    if not isinstance(result, PairedDifference):
        return None
    return seeds_for_half_width(result, TARGET_HALF_WIDTH)


def _seeds_text(seeds: int | None) -> str:
    return "" if seeds is None else str(seeds)


def premise_lines(judged: list[dict]) -> list[str]:
    """One Markdown line per task premise the claims rest on (:func:`premise`)."""
    held = {c["premise"]["task"]: c["premise"] for c in judged if c.get("premise")}
    lines = []
    for task, p in held.items():
        if p["met"]:
            lines.append(f"- Premise ({task}): `{p['encoder']}` fine-tuned reaches "
                         f"{p['finetuned']:.1f} %, above the chain's {p['chain']:.1f} %.")
        else:
            lines.append(f"- Premise ({task}): `{p['encoder']}` fine-tuned reaches "
                         f"{p['finetuned']:.1f} %, below the chain's {p['chain']:.1f} %: the "
                         f"claims that rest on it say \"{PREMISE_NOT_MET}\" (a null there may "
                         "only say that this encoder is weak, not that the paper's claim fails).")
    return lines


def what_we_see(judged: list[dict]) -> str:
    """A notebook's closing "what we see", written from its judged claims (Markdown), so that
    it never goes stale: one line per claim with its effect, CI and verdict, then which
    family Holm's adjustment covered (:func:`on_this_page`)."""
    lines = []
    for c in judged:
        if c["verdict"] == NOT_TESTABLE:
            lines.append(f"- {c['claim']}: not testable here ({c['evidence']}).")
            continue
        scale = f" ({c['scale']})" if c.get("scale") else ""
        lines.append(f"- {c['claim']}{scale}: {c['evidence']} → **{verdict_text(c)}**"
                     + ("" if math.isnan(c["p_holm"]) else f" (Holm-adjusted p = {c['p_holm']:.3g})")
                     + ".")
    lines += premise_lines(judged)
    scopes = {c.get("scope") for c in judged}
    over = max((c.get("holm_over", 0) for c in judged), default=0)
    if scopes == {"family"}:
        note = (f"These are the verdicts of results/claims.md: Holm's adjustment covers all "
                f"{over} claims of the paper testable in the run store.")
    elif "page" in scopes:
        note = ("This page's runs differ from the batch's (its parameters were changed), so "
                "Holm's adjustment here covers only this page's claims; results/claims.md "
                "holds the verdicts of the batch's runs.")
    else:
        note = "Holm's adjustment covers the claims listed here."
    return "\n".join(lines + ["", note])


def claims_table(judged: list[dict]) -> pd.DataFrame:
    """The verdict table (one row per claim) as shown in notebook 10 and claims.md."""
    return pd.DataFrame([{
        "Claim": c["claim"], "Verdict": verdict_text(c),
        "Effect [95 % CI]": c["evidence"], "Scale": c.get("scale", ""),
        "p (Holm)": "" if math.isnan(c["p_holm"]) else f"{c['p_holm']:.3g}",
        f"Seeds for ±{TARGET_HALF_WIDTH:g}": _seeds_text(c.get("seeds_for_target")),
    } for c in judged])


def claims_markdown(judged: list[dict], profile: str, counts: list[dict]) -> str:
    """``results/claims.md``: verdicts, parameter counts, then the paper's own inconsistencies."""
    lines = [f"# The paper's claims, reproduced (profile `{profile}`)", "",
             "Rule: every model runs several seeds on one fixed test set; a comparison is the "
             "paired difference over seeds (mean and t-based 95 % CI, in accuracy points), a "
             "trend is the least-squares slope over the seed-level points. The p-values of all "
             f"testable claims are adjusted together with Holm's method; a verdict is "
             f"*supported* or *not supported* only when the adjusted p-value is below {ALPHA} "
             "and, for a comparison whose runs kept their test predictions, the interval that "
             "also resamples the test examples (a paired two-level bootstrap over seeds and "
             "examples, shown as \"with the test set\") excludes zero too; else "
             "*inconclusive*. The last column plans the next protocol: the paired seeds "
             f"that would narrow a comparison's CI to ±{TARGET_HALF_WIDTH:g} point at the spread "
             "measured here (a spread estimated from few seeds is itself uncertain).", "",
             f"| Claim | Verdict | Effect [95 % CI] | Scale | p | p (Holm) | Seeds for ±{TARGET_HALF_WIDTH:g} |",
             "|---|---|---|---|---|---|---|"]
    for c in judged:
        p = "" if math.isnan(c["p_value"]) else f"{c['p_value']:.3g}"
        p_holm = "" if math.isnan(c["p_holm"]) else f"{c['p_holm']:.3g}"
        seeds = _seeds_text(c.get("seeds_for_target"))
        lines.append(f"| {c['claim']} | **{verdict_text(c)}** | {c['evidence']} "
                     f"| {c.get('scale', '')} | {p} | {p_holm} "
                     f"| {seeds} |")
    premises = premise_lines(judged)
    if premises:
        lines += ["", "## Premises: is each encoder worth connecting?", ""] + premises
    lines += ["", "## Parameter counts: paper, authors' code, and this implementation", "",
              "| Model | Paper | Authors' code | Built here (params) | Built here (encoder) |",
              "|---|---|---|---|---|"]
    lines += [f"| {c['model']} | {c['paper']} | {c['authors']} | {c['params']:,} | {c['encoder_params']:,} |"
              for c in counts]
    facts = paper.AUTHOR_CODE_FACTS
    lines += ["", f"The authors' DreamNet file holds {facts['dreamnet_params']:,} parameters "
              f"(paper: 733M), of which {facts['dreamnet_unused_linear_params']:,} sit in a "
              "Linear(768, 128·56·56) that is defined but never called and "
              f"{facts['mae_params']:,} are the frozen MAE-base; their SleepNet file holds "
              f"{facts['sleepnet_params']:,} against the paper's 272M, without the MAE, which "
              "it keeps as a module-level global (not a registered submodule) so that neither "
              "the optimiser nor the parameter count sees it.", "",
              "## Inconsistencies inside the paper", ""]
    lines += [f"- **{i['id']}** ({i['where']}): {i['what']}" for i in paper.INCONSISTENCIES]
    return "\n".join(lines) + "\n"


def parameter_counts(profile: str) -> list[dict]:
    """The paper's, the authors' code's and this implementation's sizes of SleepNet-3 and
    DreamNet-3 (vision, ResNet18 chain, 224 px, CIFAR-100, paper-faithful linear head)."""
    facts = paper.AUTHOR_CODE_FACTS
    rows = []
    for kind, name, authors in (("sleepnet", "SleepNet-3", facts["sleepnet_params"]),
                                ("dreamnet", "DreamNet-3", facts["dreamnet_params"])):
        cfg = paper_model_config("vision", kind, blocks=3, a_out="linear")
        built = count(cfg)
        rows.append({"model": f"{name} ({cfg.encoder})",
                     "paper": f"{paper.paper_row('table3', name)['params_m']}M",
                     "authors": f"{authors:,}", **built})
    return rows
