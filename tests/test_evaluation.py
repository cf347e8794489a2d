"""Evaluation is a fair measurement: one test set for every seed (paired comparisons),
BatchNorm statistics of the final weights (the cause of the default profile's SleepNet seed
that scored 35 % with the lowest training loss), and a fixed MAE mask per block."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from dreamlib.config import ModelConfig
from dreamlib.models import build_model
from dreamlib.profiles import make_run_config
from dreamlib.runs import CHECKPOINT_FILE
from dreamlib.train import train_run
from dreamlib.transforms import collate, load_data, model_inputs


@pytest.fixture(autouse=True)
def offline(tmp_path_factory, monkeypatch, one_thread):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("DREAMLIB_CACHE", str(tmp_path_factory.getbasetemp() / "eval-cache"))


def test_every_seed_is_scored_on_the_same_test_examples():
    runs = [make_run_config("smoke", "vision", model={"method": "baseline"}, seed=seed,
                            max_train=64, max_test=40) for seed in (0, 1)]
    first, second = (load_data(cfg) for cfg in runs)
    test = [torch.stack([first.test[i][0] for i in range(40)]),
            torch.stack([second.test[i][0] for i in range(40)])]
    assert torch.equal(*test)
    train = [torch.stack([d.train[i][0] for i in range(64)]) for d in (first, second)]
    assert not torch.equal(*train)  # the training subset still follows the seed


def test_batch_norm_statistics_are_those_of_the_final_weights(tmp_path):
    """The stem's BatchNorm must hold the mean of its input over the (un-augmented) training
    set under the trained weights. Running averages that trail the weights (momentum 0.1 over
    a few steps at a high learning rate) fail this: they are what collapsed a seed."""
    cfg = make_run_config("smoke", "vision", model={"method": "sleepnet", "blocks": 1},
                          epochs=1, max_train=128, max_test=32, batch_size=32, lr=0.05)
    folder = tmp_path / "run"
    train_run(cfg, folder, log=lambda *_: None, progress=False)
    model = build_model(cfg.model, pretrained=True,
                        encoder_source=_encoder(cfg))
    state = torch.load(folder / CHECKPOINT_FILE, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"], strict=False)
    model.eval()
    norm = model.chain.stem[1]
    assert isinstance(norm, torch.nn.BatchNorm2d)
    inputs = []
    hook = norm.register_forward_hook(lambda module, args, out: inputs.append(args[0]))
    data = load_data(dataclasses.replace(cfg, augment=False))
    with torch.no_grad():
        for chunk in torch.arange(len(data.train)).split(32):
            (images,), _ = model_inputs(collate(data.train, chunk), "vision", "cpu")
            model(images)
    hook.remove()
    expected = torch.cat(inputs).mean(dim=(0, 2, 3))
    assert torch.allclose(norm.running_mean, expected, atol=1e-4, rtol=1e-4)


def _encoder(cfg):
    from dreamlib.train import resolve_encoder_source

    return resolve_encoder_source(cfg)


def test_each_block_has_its_own_fixed_mask_at_evaluation(monkeypatch):
    cfg = ModelConfig(method="dreamnet", blocks=3, image_size=16, width=8, in_channels=1,
                      encoder="mae-small")
    torch.manual_seed(0)
    model = build_model(cfg, pretrained=False).eval()
    seen = []
    original = type(model.encoder).mask_noise

    def record(self, batch, device, block=0):
        noise = original(self, batch, device, block)
        seen.append((block, noise))
        return noise

    monkeypatch.setattr(type(model.encoder), "mask_noise", record)
    images = torch.randn(4, 1, 16, 16)
    with torch.no_grad():
        model(images)
        model(images)
    first, second = seen[:3], seen[3:]
    assert [b for b, _ in first] == [0, 1, 2]
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(first, second))  # deterministic
    masks = [torch.argsort(noise, dim=1)[:, :4] for _, noise in first]
    assert not torch.equal(masks[0], masks[1]) and not torch.equal(masks[1], masks[2])
