"""The claim checks on made-up records with known answers: paired by seed, Holm-adjusted,
honest about what cannot be tested."""

from __future__ import annotations

import math

import pytest
from scipy import stats as st

from dreamlib import claims

NOISE = [0.3, -0.2, 0.1, -0.4, 0.2]  # per-seed noise shared by every method (paired design)


def record(method: str, seed: int, accuracy: float, task: str = "vision", blocks=None,
           variant: str = "", chain: str | None = None, paper=None, seconds: float = 1.0) -> dict:
    chain = chain or {"vision": "resnet18", "text": "lstm"}[task]
    return {
        "label": f"{method}-{blocks}", "group": method, "task": task, "method": method,
        "blocks": blocks, "variant": variant, "paper": paper, "run": f"{method}{blocks}{seed}",
        "seed": seed, "accuracy": accuracy / 100, "train_loss": 0.1, "params": 1,
        "trainable_params": 1, "flops": 1, "seconds_per_epoch": seconds, "device": "cpu",
        "config": {"dataset": "fashion-mnist", "encoder_lr": 1e-4, "epochs": 3,
                   "max_train": 5000,
                   "model": {"task": task, "chain": chain, "a_out": "linear",
                             "encoder": "mae-small", "method": method, "image_size": 28}},
        "versions": {},
    }


def table(base=88.0, sleep=90.0, dream=90.0, control=89.0, block_step=0.5):
    rows = []
    for seed, noise in enumerate(NOISE):
        rows.append(record("baseline", seed, base + noise))
        rows.append(record("features", seed, control + noise))
        for m in (1, 2, 3, 4):
            rows.append(record("sleepnet", seed, sleep + block_step * (m - 2) + noise, blocks=m))
            # DreamNet: the same mean as SleepNet, with noise of its own (no real difference)
            rows.append(record("dreamnet", seed, dream + block_step * (m - 2) + noise
                               + (0.8 if seed % 2 else -0.8), blocks=m))
    return rows


def by_claim(judged):
    return {c["claim"]: c for c in judged}


def main_and_blocks(rows, task="vision"):
    return claims.method_claims(rows, task) + claims.block_claims(rows, task)


def test_paired_differences_and_trends_get_the_verdicts_their_data_support():
    judged = by_claim(claims.judge_all(main_and_blocks(table())))
    assert judged["SleepNet-2 beats the chain alone (vision)"]["verdict"] == "supported"
    assert judged["SleepNet-2 beats the chain alone (vision)"]["estimate"] == pytest.approx(2.0)
    assert judged["DreamNet-2 beats SleepNet-2 (vision)"]["verdict"] == "inconclusive"
    assert judged["SleepNet-2 beats the encoder's features alone (vision; our control)"][
        "verdict"] == "supported"
    assert judged["SleepNet accuracy grows with M (vision)"]["verdict"] == "supported"
    assert judged["SleepNet accuracy grows with M (vision)"]["estimate"] == pytest.approx(0.5)


def test_a_method_worse_than_the_chain_is_not_supported():
    judged = by_claim(claims.judge_all(claims.method_claims(table(sleep=85.0), "vision")))
    row = judged["SleepNet-2 beats the chain alone (vision)"]
    assert row["verdict"] == "not supported" and row["high"] < 0


def test_the_paired_interval_is_scipys_and_holm_never_lowers_a_p_value():
    judged = claims.judge_all(claims.method_claims(table(), "vision"))
    row = by_claim(judged)["DreamNet-2 beats SleepNet-2 (vision)"]
    dream = [90.0 + n + (0.8 if s % 2 else -0.8) for s, n in enumerate(NOISE)]
    sleep = [90.0 + n for n in NOISE]
    expected = st.ttest_rel(dream, sleep)
    interval = expected.confidence_interval(0.95)
    assert row["p_value"] == pytest.approx(expected.pvalue)
    assert (row["low"], row["high"]) == pytest.approx((interval.low, interval.high))
    for c in judged:
        if not math.isnan(c["p_value"]):
            assert c["p_value"] <= c["p_holm"] <= 1.0


def test_pairing_uses_only_the_seeds_both_ran_and_one_seed_is_not_testable():
    rows = [r for r in table() if not (r["method"] == "baseline" and r["seed"] > 0)]
    judged = by_claim(claims.judge_all(claims.method_claims(rows, "vision")))
    row = judged["SleepNet-2 beats the chain alone (vision)"]
    assert row["verdict"] == claims.NOT_TESTABLE and row["n"] == 0


def test_freeze_and_encoder_claims_pair_their_variants():
    rows = []
    for seed, noise in enumerate(NOISE):
        for method in ("sleepnet", "dreamnet"):
            rows.append(record(method, seed, 80 + noise, blocks=2, variant="frozen"))
            rows.append(record(method, seed, 70 + noise, blocks=2, variant="unfrozen"))
    judged = by_claim(claims.judge_all(claims.freeze_claims(rows)))
    assert judged["frozen beats unfrozen (SleepNet, vision)"]["verdict"] == "supported"
    assert judged["frozen beats unfrozen (DreamNet, text)"]["verdict"] == claims.NOT_TESTABLE


def test_cost_ratios_are_judged_only_at_the_papers_scale():
    rows = [record("baseline", 0, 80, paper="ResNet18", seconds=1.0),
            record("sleepnet", 0, 80, blocks=3, paper="SleepNet", seconds=1.8),
            record("dreamnet", 0, 80, blocks=3, paper="DreamNet", seconds=4.0)]
    judged = by_claim(claims.efficiency_claims(rows))
    assert {c["verdict"] for c in judged.values()} == {claims.NOT_TESTABLE}
    for r in rows:
        r["config"].update(dataset="cifar100")
        r["config"]["model"].update(image_size=224, encoder="facebook/vit-mae-base")
    judged = by_claim(claims.efficiency_claims(rows))
    assert {c["verdict"] for c in judged.values()} == {"supported"}


def test_too_few_runs_are_not_testable_rather_than_certain():
    """Two seeds with the same difference, or three points on two chain levels, fit exactly:
    zero spread must not read as proof."""
    rows = [r for r in table() if r["seed"] < 2]  # two seeds, constant differences
    judged = by_claim(claims.judge_all(claims.method_claims(rows, "vision")))
    assert judged["SleepNet-2 beats the chain alone (vision)"]["verdict"] == claims.NOT_TESTABLE
    chains = []
    for chain, base in (("lstm-2", 30.0), ("wordcnn", 30.0), ("charcnn", 40.0)):
        chains.append(record("baseline", 0, base, task="text", chain=chain, variant=chain))
        chains.append(record("dreamnet", 0, base * 0.6, task="text", chain=chain, blocks=2,
                             variant=chain))
    judged = by_claim(claims.judge_all(claims.chain_claims(chains)))
    assert judged["better chain → better DreamNet (text)"]["verdict"] == claims.NOT_TESTABLE


def test_what_we_see_is_written_from_the_judged_claims():
    judged = claims.judge_all(claims.method_claims(table(), "vision"))
    text = claims.what_we_see(judged)
    assert ("SleepNet-2 beats the chain alone (vision) (fashion-mnist, 5,000 × 3 ep): "
            "+2.00 points") in text
    assert "**supported**" in text and "**inconclusive**" in text
    assert text.count("\n- ") + 1 >= len(judged) - 1


def test_each_comparison_says_how_many_seeds_would_reach_the_target_interval():
    """The planning column: a comparison whose paired spread is wide asks for more seeds than
    one whose differences agree, and trends (slopes) get none."""
    judged = by_claim(claims.judge_all(main_and_blocks(table())))
    noisy = judged["DreamNet-2 beats SleepNet-2 (vision)"]  # differences of ±0.8 around 0
    assert noisy["seeds_for_target"] >= 2
    from dreamlib.stats import mean_ci, seeds_for_half_width

    dream_minus_sleep = [0.8 if s % 2 else -0.8 for s in range(len(NOISE))]
    assert noisy["seeds_for_target"] == seeds_for_half_width(mean_ci(dream_minus_sleep),
                                                             claims.TARGET_HALF_WIDTH)
    assert judged["SleepNet accuracy grows with M (vision)"]["seeds_for_target"] is None
    text = claims.claims_markdown(list(judged.values()), "smoke", [])
    assert f"Seeds for ±{claims.TARGET_HALF_WIDTH:g}" in text


# ---- trends over levels with the same seeds -----------------------------------------------------


def test_a_chain_trend_is_fitted_over_chain_levels_with_the_seeds_every_chain_ran():
    """x is each chain's mean accuracy over the common seeds, not each seed's own chain
    accuracy; a seed that ran only one chain is left out."""
    rows, levels = [], {"lstm-2": 60.0, "wordcnn": 65.0, "lstm": 70.0}
    for chain, level in levels.items():
        for seed, noise in enumerate([0.5, -0.5, 0.0]):
            rows.append(record("baseline", seed, level + noise, task="text", chain=chain))
            rows.append(record("sleepnet", seed, level + 5 + 2 * noise, task="text",
                               chain=chain, blocks=2))
    rows.append(record("baseline", 7, 99.0, task="text", chain="lstm"))  # one chain only
    rows.append(record("sleepnet", 7, 10.0, task="text", chain="lstm", blocks=2))
    result = claims.chain_trend(report_frame(rows), "text", "sleepnet")
    x = [levels[c] for c in levels for _ in range(3)]
    y = [levels[c] + 5 + 2 * n for c in levels for n in (0.5, -0.5, 0.0)]
    expected = st.linregress(x, y)
    assert result.n == 9
    assert result.estimate == pytest.approx(expected.slope)
    assert result.p_value == pytest.approx(expected.pvalue)


def test_a_block_trend_uses_only_the_seeds_that_ran_every_block_count():
    rows = [r for r in table() if r["method"] == "sleepnet"]
    rows += [record("sleepnet", seed, 50.0, blocks=2) for seed in (10, 11, 12)]  # M=2 only
    result = claims.block_trend(report_frame(rows), "sleepnet")
    assert result.n == 4 * len(NOISE)
    assert result.estimate == pytest.approx(0.5)


def report_frame(rows):
    from dreamlib.report import frame

    return frame(rows)


# ---- the test set's noise -----------------------------------------------------------------------


def with_predictions(rows, tmp_path, hits_of):
    """Give each record a run folder whose predictions.csv has the hits ``hits_of(record)``
    (a list of 0/1 per test example; label 0, a wrong prediction is class 1)."""
    from dreamlib.runs import write_predictions

    for r in rows:
        folder = tmp_path / r["run"]
        folder.mkdir(parents=True)
        hits = hits_of(r)
        write_predictions(folder, [0] * len(hits), [0 if h else 1 for h in hits],
                          accuracy=sum(hits) / len(hits))
        r["folder"], r["accuracy"] = str(folder), sum(hits) / len(hits)
    return rows


def test_a_comparison_reports_the_test_set_interval_and_needs_it_to_exclude_zero(tmp_path):
    """SleepNet gets the same two extra test examples right on every seed: the seeds agree
    (t interval far from zero, supported by the seeds alone), but on 40 examples those two
    could be luck of the test set: the two-level interval covers zero and the verdict is
    inconclusive. With 400 examples and 40 extra hits it is supported."""
    def hits(extra, size):
        def of(r):  # the first `extra` examples: right for SleepNet only; the rest shared
            rest = size - extra
            shared = [1] * (rest // 2 + r["seed"]) + [0] * (rest - rest // 2 - r["seed"])
            return [int(r["method"] == "sleepnet")] * extra + shared
        return of

    base = [record("baseline", s, 0) for s in range(5)]
    sleep = [record("sleepnet", s, 0, blocks=2) for s in range(5)]
    small = with_predictions(base + sleep, tmp_path / "small", hits(2, 40))
    row = by_claim(claims.judge_all(claims.method_claims(small, "vision")))[
        "SleepNet-2 beats the chain alone (vision)"]
    assert (row["estimate"], row["low"], row["high"]) == pytest.approx((5.0, 5.0, 5.0))
    assert row["p_holm"] < 0.05 and row["test_low"] <= 0 < row["test_high"]
    assert row["verdict"] == "inconclusive"
    assert "with the test set [" in row["evidence"] and "(40 examples)" in row["evidence"]

    base = [record("baseline", s, 0) for s in range(5)]
    sleep = [record("sleepnet", s, 0, blocks=2) for s in range(5)]
    large = with_predictions(base + sleep, tmp_path / "large", hits(40, 400))
    row = by_claim(claims.judge_all(claims.method_claims(large, "vision")))[
        "SleepNet-2 beats the chain alone (vision)"]
    assert row["test_low"] > 0 and row["verdict"] == "supported"


def test_runs_without_predictions_are_judged_on_the_seeds_alone():
    row = by_claim(claims.judge_all(claims.method_claims(table(), "vision")))[
        "SleepNet-2 beats the chain alone (vision)"]
    assert row["verdict"] == "supported" and math.isnan(row["test_low"])
    assert "with the test set" not in row["evidence"]


# ---- one verdict per claim, on every page -----------------------------------------------------


class FakeContext:
    profile = "smoke"

    def finished(self, entries):  # never called: claims.family is replaced below
        raise AssertionError


def test_a_page_shows_the_familys_verdict_not_its_own(monkeypatch):
    """The page's two block-count claims alone would be Holm-adjusted over 2; inside the
    family (here two more testable claims, with larger p-values) it is over 4, and the page
    must show that, as results/claims.md does."""
    page = claims.block_claims(table(block_step=0.2), "vision")
    # weak effects (p far above the page's): Holm puts them last, so the page's claims get
    # the family's larger multipliers
    rows = [record(method, seed, 80 + noise + (variant == "frozen") * (0.4 + (-1) ** seed),
                   blocks=2, variant=variant)
            for seed, noise in enumerate(NOISE) for method in ("sleepnet", "dreamnet")
            for variant in ("frozen", "unfrozen")]
    others = claims.freeze_claims(rows)
    monkeypatch.setattr(claims, "family", lambda records_of: others + page)
    shown = by_claim(claims.on_this_page(FakeContext(), page))
    family = by_claim(claims.judge_all(others + page))
    alone = by_claim(claims.judge_all(page))
    name = "SleepNet accuracy grows with M (vision)"
    assert shown[name]["p_holm"] == family[name]["p_holm"] != alone[name]["p_holm"]
    assert shown[name]["verdict"] == family[name]["verdict"]
    assert shown[name]["scope"] == "family"
    testable = sum(not math.isnan(c["p_holm"]) for c in family.values())
    assert f"all {testable} claims of the paper" in claims.what_we_see(list(shown.values()))


def test_a_page_with_other_runs_than_the_batch_says_so(monkeypatch):
    page = claims.block_claims(table(block_step=0.2), "vision")
    batch = claims.block_claims(table(block_step=0.4), "vision")
    monkeypatch.setattr(claims, "family", lambda records_of: batch)
    shown = claims.on_this_page(FakeContext(), page)
    assert {c["scope"] for c in shown} == {"page"}
    assert shown == [{**c, "scope": "page", "holm_over": 2}
                     for c in claims.judge_all(page)]
    assert "differ from the batch's" in claims.what_we_see(shown)


# ---- the premise: an encoder worth connecting ----------------------------------------------------


def test_claims_on_an_encoder_weaker_than_the_chain_say_premise_not_met(monkeypatch):
    vision = table() + [record("finetune", 0, 70.0)]  # chain ~88: the premise fails
    text = [dict(r, task="text", config={**r["config"], "model": {**r["config"]["model"],
                                                                 "task": "text", "chain": "lstm"}})
            for r in table(base=60.0)] + [record("finetune", 0, 75.0, task="text")]
    held = {"vision": claims.premise(vision, "vision"), "text": claims.premise(text, "text")}
    assert held["vision"]["met"] is False and held["text"]["met"] is True
    assert held["vision"]["chain"] == pytest.approx(88.0)

    grids = {"table3_vision": vision, "table4_text": text}
    judged = by_claim(claims.judge_all(claims.family(lambda grid: grids.get(grid.__name__, []))))
    row = judged["SleepNet-2 beats the chain alone (vision)"]
    assert claims.verdict_text(row) == f"supported ({claims.PREMISE_NOT_MET})"
    assert claims.verdict_text(judged["SleepNet-2 beats the chain alone (text)"]) == "supported"
    assert "premise" not in claims.verdict_text(
        judged["SleepNet costs about 1.8× ResNet18 per epoch"])
    page = claims.what_we_see([row])
    assert f"**supported ({claims.PREMISE_NOT_MET})**" in page
    assert "below the chain's 88.0 %" in page
    markdown = claims.claims_markdown(list(judged.values()), "smoke", [])
    assert "## Premises" in markdown and "above the chain's 60.0 %" in markdown


def test_without_a_fine_tuned_encoder_row_there_is_no_premise_to_check():
    assert claims.premise(table(), "vision") is None
    assert claims.premise([], "vision") is None


def test_a_claim_without_the_runs_to_test_it_carries_no_premise_note():
    held = {"task": "vision", "encoder": "mae-small", "finetuned": 70.0, "chain": 88.0,
            "met": False}
    row = {"verdict": claims.NOT_TESTABLE, "premise": held}
    assert claims.verdict_text(row) == claims.NOT_TESTABLE


def test_the_text_design_check_pairs_the_differentiable_build_with_the_papers():
    rows = []
    for seed, noise in enumerate(NOISE):
        for method in ("sleepnet", "dreamnet"):
            rows.append(record(method, seed, 70 + noise, task="text", blocks=2,
                               variant="paper: hard argmax"))
            rows.append(record(method, seed, 72 + noise + (method == "dreamnet") * 3,
                               task="text", blocks=2, variant="differentiable"))
    judged = by_claim(claims.judge_all(claims.design_claims(rows)))
    sleep = judged["a differentiable A_in beats the hard argmax (SleepNet, text; our check)"]
    dream = judged["a differentiable A_in and the expected dream beats the hard argmax "
                   "(DreamNet, text; our check)"]
    assert sleep["estimate"] == pytest.approx(2.0) and dream["estimate"] == pytest.approx(5.0)
    assert sleep["verdict"] == dream["verdict"] == "supported"


# ---- the chain's plateau ---------------------------------------------------------------------------


def plateau_records(values: dict[int, list[float]]):
    rows = []
    for epochs, accuracies in values.items():
        for seed, accuracy in enumerate(accuracies):
            r = record("baseline", seed, accuracy)
            r["config"] = {**r["config"], "epochs": epochs}
            rows.append(r)
    return rows


def test_a_chain_whose_doubled_epochs_stay_inside_its_ci_is_on_its_plateau():
    rows = plateau_records({1: [80.0, 81.0, 79.0], 3: [88.0, 89.0, 90.0],
                            6: [89.5, 89.0, 89.6]})
    check = claims.plateau(rows, "vision", 3)
    half = st.t.ppf(0.975, 2) * st.sem([88.0, 89.0, 90.0])
    assert check["half_width"] == pytest.approx(half)
    assert check["shift"] == pytest.approx(89.3667 - 89.0, abs=1e-3)
    assert check["on_plateau"] is True
    assert "twice as many move its mean by +0.4 points, less than" in claims.plateau_text(check)


def test_a_chain_still_climbing_is_not_on_its_plateau_and_too_few_runs_say_so():
    rows = plateau_records({3: [70.0, 70.5, 71.0], 6: [75.0, 75.2, 75.4]})
    check = claims.plateau(rows, "vision", 3)
    assert check["on_plateau"] is False
    assert "not on its plateau" in claims.plateau_text(check)
    assert claims.plateau(plateau_records({3: [70.0, 71.0]}), "vision", 3) is None
    assert "not in the run store yet" in claims.plateau_text(None)


def test_every_claim_states_the_scale_of_its_runs():
    rows = table()
    for r in rows:
        if r["method"] == "dreamnet":
            r["config"] = {**r["config"], "max_train": 20000}
    judged = by_claim(claims.judge_all(claims.method_claims(rows, "vision")))
    assert judged["SleepNet-2 beats the chain alone (vision)"]["scale"] == \
        "fashion-mnist, 5,000 × 3 ep"
    assert judged["DreamNet-2 beats SleepNet-2 (vision)"]["scale"] == \
        "fashion-mnist, 20,000 × 3 ep; fashion-mnist, 5,000 × 3 ep"
    markdown = claims.claims_markdown(list(judged.values()), "smoke", [])
    assert "| Scale |" in markdown and "| fashion-mnist, 5,000 × 3 ep |" in markdown
