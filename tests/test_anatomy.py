"""dreamlib.anatomy: the tour's view inside a model."""

from __future__ import annotations

import pytest
import torch

from dreamlib import anatomy
from dreamlib.config import ModelConfig
from dreamlib.counting import count_parameters, example_inputs
from dreamlib.models import build_model


def _model(**fields):
    cfg = ModelConfig(width=8, image_size=16, seq_len=12, num_classes=3, **fields)
    torch.manual_seed(0)
    return cfg, build_model(cfg, pretrained=False)


def test_parameter_split_adds_up_and_shows_the_frozen_encoder(one_thread):
    _, model = _model(method="sleepnet", blocks=2)
    split = anatomy.parameter_split(model).set_index("part")
    counts = count_parameters(model)
    assert split["params"].sum() == counts["params"]
    assert split["trained"].sum() == counts["trainable_params"]
    assert split.loc["encoder", "trained"] == 0 and split.loc["encoder", "frozen"] > 0


@pytest.mark.parametrize("task, kind", [("vision", "sleepnet"), ("vision", "dreamnet"),
                                        ("text", "dreamnet")])
def test_walk_blocks_records_what_each_block_sees_and_makes(task, kind, one_thread):
    cfg, model = _model(task=task, method=kind, blocks=2)
    inputs = example_inputs(cfg, batch=2)
    records = anatomy.walk_blocks(model.train(), *inputs)
    assert [r["block"] for r in records] == [1, 2] and model.training  # mode restored
    for r in records:
        assert r["hidden"].shape[0] == 2 and r["added"].shape[0] == 2
        assert (r["dream"] is None) == (kind == "sleepnet")
    if task == "vision":
        size = model.encoder.image_size
        assert records[0]["encoder_input"].shape == (2, 3, size, size)
        assert records[0]["added"].shape[1:] == records[1]["hidden"].shape[1:]  # stage output
    else:
        assert records[0]["encoder_input"].dtype == torch.long  # token ids from the argmax
    table = anatomy.shapes_table(records)
    assert len(table) == 2 and table["dream"].astype(bool).all() == (kind == "dreamnet")


def test_walk_blocks_refuses_a_model_without_blocks():
    _, model = _model(method="baseline")
    with pytest.raises(ValueError, match="no sleep/dream blocks"):
        anatomy.walk_blocks(model, torch.zeros(1, 3, 16, 16))
