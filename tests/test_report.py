"""Tables from run records: CIs, single seeds said as such, rows without a paper row, and the
reference rows."""

from __future__ import annotations

from dreamlib import report
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
