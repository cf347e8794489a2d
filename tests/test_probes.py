"""Linear probes of frozen encoders (``dreamlib.probes``): the regression, the features the
models read, and the premise summary written from a table's numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from dreamlib import probes
from dreamlib.encoders import load_encoder


def test_a_probe_scores_separable_features_perfectly_and_noise_near_chance():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    separable = np.eye(4)[labels] * 5 + rng.normal(size=(200, 4)) * 0.1
    assert probes.probe_accuracy(separable, labels, separable, labels) == 1.0
    noise = rng.normal(size=(200, 8))
    test_labels = rng.integers(0, 4, size=200)
    assert probes.probe_accuracy(noise, labels, rng.normal(size=(200, 8)), test_labels) < 0.45


@pytest.mark.parametrize("pooling, width", [("mean", 1), ("grid", 4)])
def test_image_features_pool_the_whole_patch_grid(pooling, width):
    """No masking: every patch is seen; mean pools the grid to one token, grid to 2 x 2."""
    encoder = load_encoder("mae-small", pretrained=False, mask_ratio=0.0)
    images = torch.randint(0, 256, (3, 3, encoder.image_size, encoder.image_size),
                           dtype=torch.uint8)
    features = probes.image_features(encoder, images, pooling)
    assert features.shape == (3, width * encoder.hidden_size)
    again = probes.image_features(encoder, images, pooling)
    assert np.array_equal(features, again)  # deterministic: no random mask
    if pooling == "mean":
        tokens = encoder.encode(probes.normalize_batch(images)).tokens
        assert np.allclose(features, tokens.mean(dim=1).detach().numpy(), atol=1e-6)


def test_a_bad_pooling_is_refused():
    encoder = load_encoder("mae-small", pretrained=False, mask_ratio=0.0)
    with pytest.raises(ValueError, match="pooling must be one of"):
        probes.image_features(encoder, torch.zeros(1, 3, 32, 32, dtype=torch.uint8), "max")


def test_text_features_average_the_real_tokens_only():
    encoder = load_encoder("mlm-small", pretrained=False)
    ids = torch.tensor([[5, 6, 7, 0], [5, 6, 0, 0]])
    mask = (ids != 0).long()
    features = probes.text_features(encoder, ids, mask)
    hidden = encoder.encode(input_ids=ids[1:], attention_mask=mask[1:])
    assert np.allclose(features[1], hidden[0, :2].mean(dim=0).detach().numpy(), atol=1e-5)


def row(task, model, kind, accuracy, ci=math.nan):
    return {"Task": task, "Model": model, "Kind": kind, "Accuracy %": accuracy,
            "95 % CI ±": ci, "Seeds": "", "Scale": ""}


def test_the_premise_summary_is_written_from_the_tables_numbers():
    table = pd.DataFrame([
        row("vision", "raw pixels", probes.RAW, 81.7),
        row("vision", "mae-small (grid)", probes.PROBE, 84.6),
        row("vision", "fine-tuned encoder", probes.TUNED, 70.0),
        row("vision", "resnet18 (chain)", probes.CHAIN, 88.1, 0.4),
        row("text", "TF-IDF + logistic regression", probes.RAW, 74.8),
        row("text", "minilm (mean)", probes.PROBE, 81.0),
        {**row("text", "roberta-base", probes.PROBE, math.nan), "Scale": "not probed here"},
        row("text", "fine-tuned encoder", probes.TUNED, math.nan),
        row("text", "lstm (chain)", probes.CHAIN, math.nan),
    ])
    text = probes.premise_summary(table)
    assert "`mae-small (grid)` features score 84.6 % in a linear probe, +2.9 points against " \
           "raw pixels (81.7 %)" in text
    assert "reaches 70.0 %, below the chain's 88.1 %: the premise is not met" in text
    assert "text: the fine-tuned encoder and the chain are not in the run store yet" in text
    assert "+6.2 points against TF-IDF" in text
    assert "- text: roberta-base not probed (not probed here)." in text


def test_only_the_encoders_a_cpu_profile_ships_or_packages_are_probed():
    assert set(probes.PROBED_ENCODERS) == {"mae-small", "mlm-small", "minilm"}
    from dreamlib.experiments import probe_setup

    _, hub = probe_setup("paper", "vision")
    assert hub and not set(hub) & set(probes.PROBED_ENCODERS)  # listed, not probed
    _, default = probe_setup("default", "text")
    assert default == ["mlm-small", "minilm"]
