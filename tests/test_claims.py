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
        "config": {"dataset": "fashion-mnist", "encoder_lr": 1e-4,
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


def test_paired_differences_and_trends_get_the_verdicts_their_data_support():
    judged = by_claim(claims.judge_all(claims.method_claims(table(), "vision")))
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
    assert "SleepNet-2 beats the chain alone (vision): +2.00 points" in text
    assert "**supported**" in text and "**inconclusive**" in text
    assert text.count("\n- ") + 1 >= len(judged) - 1


def test_each_comparison_says_how_many_seeds_would_reach_the_target_interval():
    """The planning column: a comparison whose paired spread is wide asks for more seeds than
    one whose differences agree, and trends (slopes) get none."""
    judged = by_claim(claims.judge_all(claims.method_claims(table(), "vision")))
    noisy = judged["DreamNet-2 beats SleepNet-2 (vision)"]  # differences of ±0.8 around 0
    assert noisy["seeds_for_target"] >= 2
    from dreamlib.stats import mean_ci, seeds_for_half_width

    dream_minus_sleep = [0.8 if s % 2 else -0.8 for s in range(len(NOISE))]
    assert noisy["seeds_for_target"] == seeds_for_half_width(mean_ci(dream_minus_sleep),
                                                             claims.TARGET_HALF_WIDTH)
    assert judged["SleepNet accuracy grows with M (vision)"]["seeds_for_target"] is None
    text = claims.claims_markdown(list(judged.values()), "smoke", [])
    assert f"Seeds for ±{claims.TARGET_HALF_WIDTH:g}" in text
