"""Notebook introductions are generated from paper.py, the grids and measured times
(dreamlib.narrative), so they cannot go stale.

The published numbers expected here are typed by hand from the paper's text
(../shared/seeds/paper-dreaming-is-all-you-need.txt: Tables 3-5, sections 4.6.3-4.6.5), not
read from dreamlib.paper, so a slip in either shows up; the plan's numbers are counted by hand
from the smoke profile's settings (dreamlib.profiles)."""

from __future__ import annotations

import csv
import re

import pytest

from dreamlib import experiments, narrative

# Table 3, CIFAR-100 column (Table 3 has no SleepNet-1 / DreamNet-1 row).
TABLE3_CIFAR100 = ("ResNet18 80.6 %; SleepNet-2 83.1 %, SleepNet-3 92.2 %, SleepNet-4 91.1 %, "
                   "DreamNet-2 85.1 %, DreamNet-3 92.3 %, DreamNet-4 85.1 %")
# Table 4, AG News column.
TABLE4_AG_NEWS = ("LSTM-4 84.5 %; SleepNet-1 83.4 %, SleepNet-2 88.3 %, SleepNet-3 92.3 %, "
                  "SleepNet-4 93.3 %, DreamNet-1 88.0 %, DreamNet-2 92.5 %, DreamNet-3 93.3 %, "
                  "DreamNet-4 94.4 %")

#: Per notebook, the published numbers its introduction quotes, as the paper prints them.
PUBLISHED = {
    "02": TABLE3_CIFAR100 + "; MAE-base 91.1 %",
    "03": TABLE4_AG_NEWS + "; RoBERTa-base 89.1 %",
    "04": f"CIFAR-100: {TABLE3_CIFAR100}. AG News: {TABLE4_AG_NEWS}",
    # Section 4.6.3 names the chains but quotes no accuracy.
    "05": "no accuracy is quoted; the paper's chains: ResNet18, ResNet34, ResNet50, LSTM-2, "
          "CharCNN, WordCNN",
    # Section 4.6.4: "RoBERTa-Small ... from 0.86 to 0.90, and with DreamNet, it reached 0.92.
    # Similarly, ViT-Small improved from 0.70 to 0.78 with SleepNet and to 0.91 with DreamNet."
    "06": "RoBERTa-small (text): chain 0.86, SleepNet 0.90, DreamNet 0.92; ViT-small (vision): "
          "chain 0.70, SleepNet 0.78, DreamNet 0.91",
    # Section 4.6.5: DreamNet/MAE on CIFAR-100 "unfrozen ... 93%, compared to 86% with frozen";
    # SleepNet-3/BERT on AG News 88 % against 68 % (both printed "unfrozen"; 88 read as frozen).
    "07": "DreamNet on cifar100: frozen 86 %, unfrozen 93 % (as printed); SleepNet-3 on ag_news: "
          "frozen 88 %, unfrozen 68 % (inferred)",
    # Table 5, CIFAR-100 row: "0.45 0.65 0.55 1.04 0.73 1.14 1.23 0.8 1.8" (ResNet18 first,
    # MAE-base fifth, SleepNet and DreamNet last).
    "08": "ResNet18 0.45 h, MAE-base 0.73 h, SleepNet 0.8 h, DreamNet 1.8 h per CIFAR-100 epoch",
    "09": "examples chosen by the authors, at paper scale",
}


def test_every_experiment_notebook_has_an_intro():
    assert sorted(narrative.PAPER_POINTS) == [f"{n:02d}" for n in range(2, 10)]


@pytest.mark.parametrize("number", sorted(PUBLISHED))
def test_each_intro_quotes_the_numbers_the_paper_prints(number):
    _, numbers = narrative.PAPER_POINTS[number]
    assert numbers() == PUBLISHED[number]


def test_the_cost_claim_is_table5s_ratio_to_resnet18():
    """0.8 / 0.45 = 1.78 h and 1.8 / 0.45 = 4.0 h per CIFAR-100 epoch (Table 5)."""
    claim, _ = narrative.PAPER_POINTS["08"]
    assert f"SleepNet costs about {0.8 / 0.45:.1f}×" in claim
    assert f"DreamNet {1.8 / 0.45:.0f}×" in claim


def test_intro_quotes_the_papers_numbers_and_this_profiles_plan(monkeypatch, tmp_path):
    monkeypatch.setattr(narrative, "default_output_dir", lambda profile: tmp_path / profile)
    entries = experiments.table3_vision("smoke")
    paragraphs = narrative.intro("02", "smoke", entries).split("\n\n")
    assert paragraphs[0] == ("**The paper.** SleepNet and DreamNet beat their chain (ResNet18) "
                             "and the pre-trained encoders fine-tuned alone, on CIFAR-100 "
                             f"(Table 3). Published: {PUBLISHED['02']}.")
    # smoke: main seeds (0, 1) for ResNet18, the control, SleepNet-2 and DreamNet-2; one
    # fine-tuned MAE. 2 + 2 + 1 + 2 × 2 = 9 rows, no two alike.
    assert paragraphs[1] == ("**Here (profile `smoke`).** 9 rows from 9 distinct runs "
                             "(seeds 0, 1); vision: digits, 256 training / 128 test examples, "
                             "2 epochs.")
    assert paragraphs[2] == ("**Time of this notebook in the last batch:** not measured yet on "
                             "this machine.")


def test_intro_names_every_scale_a_notebook_runs(monkeypatch, tmp_path):
    """The default main comparison and its plateau curve run at 20,000 images for 1, 3 and 6
    epochs: each scale is named, so no reader mixes them."""
    monkeypatch.setattr(narrative, "default_output_dir", lambda profile: tmp_path / profile)
    entries = experiments.table3_vision("default") + experiments.vision_plateau("default")
    here = narrative.intro("02", "default", entries).split("\n\n")[1]
    for epochs in (1, 3, 6):
        assert f"fashion-mnist, 20000 training / 2000 test examples, {epochs} epochs" in here


def test_timings_are_kept_per_notebook_and_mode_and_quoted_per_profile(monkeypatch, tmp_path):
    narrative.record_timing(tmp_path / "smoke", "02", "smoke", 61.4, runs=9, trained=9)
    narrative.record_timing(tmp_path / "smoke", "03", "smoke", 30.0, runs=9, trained=2)
    narrative.record_timing(tmp_path / "smoke", "02", "smoke", 12.0, runs=9, trained=0)
    narrative.record_timing(tmp_path / "smoke", "02", "smoke", 50.0, runs=9, trained=4)  # not 61
    with (tmp_path / "smoke" / "results" / "timings.csv").open(newline="") as handle:
        written = list(csv.reader(handle))
    assert written[0] == list(narrative.TIMING_FIELDS)
    day = written[1][-1]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", day)
    assert written[1:] == [["02", "read", "smoke", "12", "9", "0", day],
                           ["02", "train", "smoke", "50", "9", "4", day],
                           ["03", "train", "smoke", "30", "9", "2", day]]
    narrative.record_timing(tmp_path / "default", "02", "default", 1500, runs=40, trained=40)
    monkeypatch.setattr(narrative, "default_output_dir", lambda profile: tmp_path / profile)
    assert narrative.time_lines("02") == [  # profile order: smoke, default, paper
        f"`smoke`: 50 s training 4 of its 9 runs ({day}); 12 s with all 9 in the run store ({day})",
        f"`default`: 25 min training 40 of its 40 runs ({day})"]  # 1500 s / 60
    assert narrative.time_lines("03") == [f"`smoke`: 30 s training 2 of its 9 runs ({day})"]
    assert narrative.time_lines("05") == []
