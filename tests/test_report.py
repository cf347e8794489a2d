"""Tables from run records: CIs, single seeds said as such, rows without a paper row, and the
reference rows."""

from __future__ import annotations

import math

from dreamlib import figures, report
from test_claims import NOISE, record


def _records():
    rows = [record("baseline", s, 88 + n, paper="ResNet18") for s, n in enumerate(NOISE)]
    rows += [record("features", s, 89 + n) for s, n in enumerate(NOISE)]
    rows.append(record("sleepnet", 0, 60.7, blocks=1, paper="SleepNet-1"))
    for r in rows:
        r["label"] = {"baseline": "ResNet18", "features": "control", "sleepnet": "SleepNet-1"}[
            r["method"]]
    return rows


def test_method_table_gives_a_ci_says_one_seed_and_leaves_missing_paper_rows_blank():
    table = report.method_table(_records(), "vision", {"Majority class": 0.1})
    accuracy = [c for c in table.columns if c.startswith("Accuracy %")][0]
    rows = table.set_index("Model")
    assert rows.loc["ResNet18", accuracy].startswith("88.0 ± ") and "(n=5)" in rows.loc[
        "ResNet18", accuracy]
    half = float(rows.loc["ResNet18", accuracy].split("± ")[1].split(" ")[0])
    assert 0.2 < half < 0.6  # t(0.975, 4) * sd(NOISE) / sqrt(5) = 0.36
    assert rows.loc["SleepNet-1", accuracy] == "60.7 (1 seed)"
    assert rows.loc["control", "Paper model"] == "" and rows.loc["control", "Paper params (M)"] == ""
    assert rows.loc["ResNet18", "Paper accuracy % (cifar100)"] == "80.6"
    assert rows.loc["Majority class", accuracy] == "10.0"
    assert rows.loc["Majority class", "Group"].startswith("Reference")


def test_summaries_group_by_any_typed_fields():
    """Figures group by (task, variant, group): typed fields may be keys or columns."""
    records = _records()
    for r in records:
        r["variant"] = r["method"]
    summary = report.summarize(report.frame(records), keys=("task", "variant", "group"))
    assert list(summary.columns[:3]) == ["task", "variant", "group"]
    assert summary.set_index("variant").loc["baseline", "n"] == 5


def test_the_claims_overview_draws_every_testable_claim_and_lists_the_rest(tmp_path):
    """One panel per unit with something to draw; each testable claim a point with its CI(s)
    in its verdict's colour, the paper's effect a diamond, an untestable measurement a grey
    cross; a claim with nothing to draw gets no row (and no empty panel) but is named."""
    judged = [
        {"claim": "a beats b", "verdict": "supported", "estimate": 1.0, "low": 0.5, "high": 1.5,
         "test_low": 0.2, "test_high": 1.8, "unit": "points", "paper_effect": 2.5,
         "premise": None},
        {"claim": "c beats d", "verdict": "inconclusive", "estimate": 0.1, "low": -0.5,
         "high": 0.7, "test_low": math.nan, "test_high": math.nan, "unit": "points",
         "paper_effect": None, "premise": {"met": False}},
        {"claim": "more is better", "verdict": "not testable at this scale",
         "estimate": math.nan, "low": math.nan, "high": math.nan, "unit": "points per block",
         "paper_effect": 4.0},
        {"claim": "it costs 2x", "verdict": "not testable at this scale", "estimate": 3.5,
         "low": math.nan, "high": math.nan, "unit": "× the chain's time", "paper_effect": 2.0},
        {"claim": "better chain, better method", "verdict": "not testable at this scale",
         "estimate": math.nan, "low": math.nan, "high": math.nan,
         "unit": "points per point", "paper_effect": None},
    ]
    fig = figures.claims_overview(judged)
    axes = fig.axes
    assert len(axes) == 3  # no panel for "points per point": nothing in it to draw
    labels = [t.get_text() for t in axes[0].get_yticklabels()]
    assert labels == ["c beats d", "a beats b"]
    assert [t.get_text() for t in axes[1].get_yticklabels()] == [
        "more is better  (not testable)"]
    assert [t.get_text() for t in axes[2].get_yticklabels()] == [
        "it costs 2x  (not testable)"]
    supported = [line for line in axes[0].lines
                 if line.get_color() == figures.VERDICT_COLOURS["supported"]]
    xs = sorted(tuple(line.get_xdata()) for line in supported)
    assert (0.2, 1.8) in xs and (0.5, 1.5) in xs and (1.0,) in xs
    diamonds = [line for ax in axes for line in ax.lines if line.get_marker() == "D"]
    assert sorted(float(d.get_xdata()[0]) for d in diamonds) == [2.0, 2.5, 4.0]
    crosses = [line for ax in axes for line in ax.lines if line.get_marker() == "x"]
    assert [float(c.get_xdata()[0]) for c in crosses] == [3.5]
    hollow = [line for line in axes[0].lines if line.get_marker() == "o"
              and line.get_markerfacecolor() == "white"]
    assert len(hollow) == 1
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "better chain, better method" in texts and "more is better" not in texts
    report.save_figure(fig, "claims_overview", tmp_path)
    assert (tmp_path / "figures" / "claims_overview.png").stat().st_size > 1000


def test_markdown_tables_leave_run_hashes_to_the_csv_and_state_the_scale(tmp_path):
    records = _records()
    table = report.method_table(records, "vision")
    note = report.scale_note(report.frame(records), "default")
    assert "fashion-mnist, 5,000 × 3 ep" in note and "Paper columns" in note
    assert "Paper columns" not in report.scale_note(report.frame(records), "default",
                                                    paper_columns=False)
    csv, md = report.save_table(table, "t", tmp_path, "T", [note])
    assert "Runs" in csv.read_text().splitlines()[0]
    header = [line for line in md.read_text().splitlines() if line.startswith("| Model")][0]
    assert "Runs" not in header
    columns = list(table.columns)  # ours, then the paper's, side by side
    accuracy = [c for c in columns if c.startswith("Accuracy %")][0]
    assert columns.index("Paper accuracy % (cifar100)") == columns.index(accuracy) + 1
    assert columns.index("Paper params (M)") == columns.index("Params (M)") + 1


def test_a_claims_difference_reads_as_a_minus_b_in_its_methods_colour():
    assert figures._difference_label("SleepNet-2 beats the chain alone (vision)") == (
        "SleepNet-2 − chain", "SleepNet")
    assert figures._difference_label(
        "a pre-trained encoder beats an untrained one (DreamNet, text)") == (
        "DreamNet: pre-trained − untrained", "DreamNet")
    assert figures._difference_label(
        "SleepNet-2 beats the encoder's features alone (vision; our control)")[0] == (
        "SleepNet-2 − control")


def _dots(ax) -> list[int]:
    """The number of points of each scatter of ``ax`` (error bars are line collections)."""
    from matplotlib.collections import PathCollection
    return [len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection)]


def test_the_main_figure_draws_every_seed_and_each_claims_paired_differences():
    """Left: one dot per seed of every row (n under its label) on an axis zoomed to the data;
    right: each claim's per-seed differences, its CI, the test-set CI and the paper's
    difference as a black diamond."""
    records = _records()[:10]  # ResNet18 and the control, 5 seeds each
    judged = [{"claim": "SleepNet-2 beats the chain alone (vision)", "verdict": "supported",
               "estimate": 1.0, "low": 0.4, "high": 1.6, "test_low": 0.1, "test_high": 1.9,
               "paper_effect": 2.5, "premise": None,
               "pairs": {0: 0.8, 1: 1.2, 2: 0.9, 3: 1.1, 4: 1.0}}]
    fig = figures.main_figure(records, judged, "Table 3")
    left, right = fig.axes
    assert [t.get_text() for t in left.get_xticklabels()] == ["ResNet18\nn=5", "control\nn=5"]
    assert _dots(left) == [5, 5]
    low, high = left.get_ylim()
    assert 80 < low and high < 95  # zoomed: a one-point difference is visible
    assert _dots(right) == [5]
    assert any(line.get_marker() == "D" and float(line.get_ydata()[0]) == 2.5
               for line in right.lines)
    assert any(tuple(line.get_ydata()) == (0.1, 1.9) for line in right.lines)
    assert "supported" in right.get_xticklabels()[0].get_text()
    caption = fig.texts[-1].get_text()
    assert "n seeds" in caption and "fashion-mnist, 5,000 × 3 ep" in caption


def test_the_efficiency_figure_puts_our_ratio_beside_the_papers():
    records = [record("baseline", 0, 88, paper="ResNet18", seconds=2.0),
               record("sleepnet", 0, 88, blocks=3, paper="SleepNet", seconds=5.0)]
    fig = figures.efficiency_figure(records)
    ax = fig.axes[0]
    ours = sorted(float(line.get_xdata()[0]) for line in ax.lines if line.get_marker() == "o")
    theirs = [float(line.get_xdata()[0]) for line in ax.lines if line.get_marker() == "D"]
    assert ours == [1.0, 2.5]
    assert len(theirs) == 2 and theirs[0] == 1.0


def test_chain_labels_of_nearly_equal_accuracy_stack_instead_of_overlapping():
    """Fig 7 names each chain under its x position; two chains within 9 % of the axis of each
    other (ResNet34 at 80.5 %, ResNet50 at 81.1 % on an 8-point axis) get different rows, a
    chain far from the others stays on the first."""
    assert figures._label_rows([83.0, 80.5, 81.1], span=8.0) == [0, 0, 1]
    assert figures._label_rows([50.0, 60.0, 70.0], span=25.0) == [0, 0, 0]
    assert figures._label_rows([52.0, 52.1, 52.2], span=25.0) == [0, 1, 2]
