"""Notebook introductions are generated from paper.py, the grids and measured times
(dreamlib.narrative), so they cannot go stale."""

from __future__ import annotations

import pytest

from dreamlib import experiments, narrative, paper
from dreamlib.schedule import unique_runs


def test_intro_quotes_the_papers_numbers_and_this_profiles_plan(monkeypatch, tmp_path):
    monkeypatch.setattr("dreamlib.reproduce.default_output_dir", lambda profile: tmp_path / profile)
    entries = experiments.table3_vision("smoke")
    text = narrative.intro("02", "smoke", entries)
    resnet = paper.paper_accuracy("table3", "ResNet18", "cifar100")
    dream3 = paper.paper_accuracy("table3", "DreamNet-3", "cifar100")
    assert f"ResNet18 {resnet:.1f} %" in text and f"DreamNet-3 {dream3:.1f} %" in text
    assert f"{len(unique_runs(entries))} distinct runs" in text and "digits" in text
    assert "not measured yet" in text


@pytest.mark.parametrize("number", sorted(narrative.PAPER_POINTS))
def test_every_experiment_notebook_has_an_intro(number):
    claim, numbers = narrative.PAPER_POINTS[number]
    assert claim and numbers()


def test_timings_are_kept_per_notebook_and_mode_and_quoted_per_profile(monkeypatch, tmp_path):
    narrative.record_timing(tmp_path / "smoke", "02", "smoke", 61.4, runs=9, trained=9)
    narrative.record_timing(tmp_path / "smoke", "03", "smoke", 30.0, runs=9, trained=2)
    narrative.record_timing(tmp_path / "smoke", "02", "smoke", 12.0, runs=9, trained=0)
    narrative.record_timing(tmp_path / "smoke", "02", "smoke", 50.0, runs=9, trained=4)  # replaces 61
    rows = narrative.read_timings(tmp_path / "smoke")
    assert sorted(rows) == [("02", "read"), ("02", "train"), ("03", "train")]
    assert rows[("02", "train")]["seconds"] == "50" and rows[("02", "read")]["seconds"] == "12"
    narrative.record_timing(tmp_path / "default", "02", "default", 1500, runs=40, trained=40)
    monkeypatch.setattr("dreamlib.reproduce.default_output_dir", lambda profile: tmp_path / profile)
    lines = narrative.time_lines("02")
    assert lines[0].startswith("`smoke`: 50 s training 4 of its 9 runs (")
    assert "; 12 s with all 9 in the run store (" in lines[0]
    assert lines[1].startswith("`default`: 25 min training 40 of its 40 runs")
    assert narrative.time_lines("05") == []
