"""Dreams are kept by the run that made them and read without side effects (dreamlib.dreams)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from dreamlib import dreams, experiments, schedule
from dreamlib.errors import ConfigError
from dreamlib.runs import CHECKPOINT_FILE


def _snapshot(folder: Path) -> dict:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def dream_runs(tmp_path_factory) -> dict:
    """The smoke DreamNet-3 runs of notebook 09 (vision and text), trained by the scheduler."""
    runs = tmp_path_factory.mktemp("runs")
    records = schedule.run_entries(experiments.dreams("smoke"), runs, log=lambda *_: None)
    return {record["task"]: Path(record["folder"]) for record in records}


@pytest.mark.parametrize("task", ["vision", "text"])
def test_a_scheduled_dreamnet_keeps_its_dreams(dream_runs, task):
    folder = dream_runs[task]
    stored = dreams._stored_dreams(folder, dreams.STORED_EXAMPLES)
    assert stored is not None and sorted(stored) == ["dream_1", "dream_2", "dream_3", "inputs"]
    computed = dreams.compute_dreams(folder)  # from the checkpoint, same examples
    for name, tensor in computed.items():
        assert stored[name].shape == tensor.shape
        if tensor.is_floating_point():  # images are kept in float16
            torch.testing.assert_close(stored[name], tensor, atol=2e-3, rtol=2e-3)
        else:
            assert torch.equal(stored[name], tensor)


def test_reading_stored_dreams_needs_no_model_and_writes_nothing(dream_runs, monkeypatch, tmp_path):
    folder = tmp_path / dream_runs["vision"].name
    folder.mkdir()
    for path in dream_runs["vision"].iterdir():
        if path.name != CHECKPOINT_FILE:  # as in a clone: checkpoints are not committed
            (folder / path.name).write_bytes(path.read_bytes())
    before = _snapshot(folder)

    def no_model(*_args, **_kwargs):
        raise AssertionError("the stored dreams should have been read")

    monkeypatch.setattr(dreams, "load_trained", no_model)
    found = dreams.collect_dreams(folder, count=2)
    assert found["task"] == "vision" and found["inputs"].shape[0] == 2
    assert len(found["dreams"]) == 3 and found["dreams"][0].dtype == torch.float32
    assert _snapshot(folder) == before


def test_without_stored_dreams_reading_retrains_elsewhere_and_leaves_the_folder(dream_runs, tmp_path):
    folder = tmp_path / dream_runs["text"].name
    folder.mkdir()
    for path in dream_runs["text"].iterdir():
        if path.name not in (CHECKPOINT_FILE, dreams.DREAMS_FILE):
            (folder / path.name).write_bytes(path.read_bytes())
    before = _snapshot(folder)
    found = dreams.collect_dreams(folder, count=2)
    assert found["task"] == "text" and len(found["inputs"]) == 2 and len(found["dreams"]) == 3
    # the retrained model is the same model: its dreams equal the ones the run stored
    stored = dreams.collect_dreams(dream_runs["text"], count=2)
    assert found["dreams"] == stored["dreams"]
    assert _snapshot(folder) == before


def test_a_damaged_dreams_file_names_itself_and_the_fix(dream_runs, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    for path in dream_runs["vision"].iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / dreams.DREAMS_FILE).write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigError, match=r"dreams\.safetensors is damaged.*delete it"):
        dreams.collect_dreams(folder)


def test_dream_dependence_tells_a_fixed_texture_from_a_dream_of_the_input():
    """A dream that copies its input correlates with it (r = 1); one texture shared by every
    input correlates with the other dreams (r = 1), not with its input, and the page says so."""
    from dreamlib.dreams import dependence_text, dream_dependence

    gen = torch.Generator().manual_seed(0)
    inputs = torch.rand(4, 1, 8, 8, generator=gen)
    texture = torch.rand(1, 3, 16, 16, generator=gen).expand(4, 3, 16, 16)
    copies = inputs.repeat(1, 3, 1, 1)
    copied, fixed = dream_dependence({"inputs": inputs, "dreams": [copies, texture]})
    assert copied["to_input"] == pytest.approx(1.0, abs=1e-4)
    assert copied["across_inputs"] < 0.5
    assert fixed["across_inputs"] == pytest.approx(1.0, abs=1e-4)
    assert abs(fixed["to_input"]) < 0.5
    assert "nearly the same image" in dependence_text([fixed])
    assert "keep some of their input" in dependence_text([copied, fixed])
