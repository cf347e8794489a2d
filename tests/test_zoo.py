"""Table 3's other baselines (dreamlib.models.zoo): built, counted against the paper's
columns, refused where they cannot serve, and trained through the ordinary run path."""

import pytest
import torch

from dreamlib import paper
from dreamlib.config import REFERENCE_BASELINES, ModelConfig
from dreamlib.counting import count_flops, count_parameters
from dreamlib.errors import ConfigError
from dreamlib.models import build_model
from dreamlib.models.zoo import REFERENCES, build_reference
from dreamlib.profiles import make_run_config
from dreamlib.train import train_run

PAPER_ROWS = {row["model"]: row for row in paper.TABLE3_VISION}


def test_the_config_names_exactly_the_zoos_networks():
    assert set(REFERENCE_BASELINES) == set(REFERENCES)
    assert all(spec.paper_name in PAPER_ROWS for spec in REFERENCES.values())


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_counts_match_table_3_at_the_published_input_size(name):
    """Parameters within 3 % and multiply-adds within 7 % of Table 3's columns, for the
    ImageNet head (1,000 classes) at the input side Table 3 prints. Built on the meta device:
    shapes only, so even CvT-W24 (277M parameters, 194 GMACs) counts in a second."""
    spec = REFERENCES[name]
    row = PAPER_ROWS[spec.paper_name]
    assert row["input_size"] == spec.native_size
    with torch.device("meta"):
        model = build_reference(name, in_channels=3, num_classes=1000)
        image = torch.empty(1, 3, spec.native_size, spec.native_size)
    params = count_parameters(model)["params"] / 1e6
    macs = count_flops(model, (image,)) / 2e9
    assert params == pytest.approx(row["params_m"], rel=0.03), (name, params)
    assert macs == pytest.approx(row["flops_b"], rel=0.07), (name, macs)


def test_greyscale_images_reach_the_network_as_three_channels():
    model = build_model(ModelConfig(task="vision", method="baseline", chain="resnet101",
                                    in_channels=1, image_size=32, num_classes=7))
    logits, dreams = model(torch.randn(2, 1, 32, 32), return_dreams=True)
    assert logits.shape == (2, 7) and dreams == []


@pytest.mark.parametrize("method", ["sleepnet", "dreamnet", "features", "finetune"])
def test_a_reference_network_is_a_baseline_only(method):
    with pytest.raises(ConfigError, match="--model baseline"):
        ModelConfig(task="vision", method=method, chain="efficientnet-b7").resolved()


def test_an_unknown_reference_names_the_choices():
    with pytest.raises(ConfigError, match="cvt-21"):
        build_reference("coatnet-2", 3, 10)


@pytest.mark.parametrize("name", ["efficientnet-b7", "cvt-21"])
def test_a_reference_baseline_trains_through_the_run_store(name, tmp_path):
    """One convolutional and one transformer network, a few steps on the smoke data (16 px):
    the ordinary run path trains and scores them and records their size."""
    cfg = make_run_config("smoke", "vision", model={"method": "baseline", "chain": name},
                          epochs=1, max_train=16, max_test=16, batch_size=8, eval_every=1)
    metrics = train_run(cfg, tmp_path / name, log=lambda *_: None, progress=False)
    assert 0.0 <= metrics["accuracy"] <= 1.0
    built = count_parameters(build_reference(name, 1, cfg.model.num_classes))["params"]
    assert metrics["params"] == built
