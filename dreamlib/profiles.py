"""Profiles: sizes and sources for three scales. A profile never changes a code path.

* ``smoke``   — seconds per run: CI and nbval (scikit-learn digits, Debian fortunes, tiny widths).
* ``default`` — a laptop CPU: Debian fashion-mnist and fortunes, the embedded encoders pre-trained
  here, subsets of the training split, a few epochs; ``make reproduce`` in well under an hour.
* ``paper``   — the paper's protocol: CIFAR-100 / AG News, hub encoders, 224 px, 30 epochs, GPU.

Each entry holds defaults for :class:`~dreamlib.config.ModelConfig` (``model`` key) and for
:class:`~dreamlib.runs.RunConfig` (the rest). Explicit command-line flags override them.
"""

from __future__ import annotations

import dataclasses

from .config import ModelConfig
from .errors import choice_error
from .runs import RunConfig

PROFILES: dict[str, dict[str, dict]] = {
    "smoke": {
        "vision": {"dataset": "digits", "epochs": 2, "batch_size": 64, "max_train": 256,
                   "max_test": 128, "pretrain_epochs": 1, "eval_every": 2,
                   "model": {"image_size": 16, "width": 8, "in_channels": 1}},
        "text": {"dataset": "fortunes", "epochs": 2, "batch_size": 64, "max_train": 128,
                 "max_test": 64, "pretrain_epochs": 1, "eval_every": 2,
                 "model": {"seq_len": 16, "width": 16}},
    },
    "default": {
        "vision": {"dataset": "fashion-mnist", "epochs": 3, "batch_size": 128, "max_train": 3000,
                   "max_test": 1000, "pretrain_epochs": 5, "eval_every": 3,
                   "model": {"image_size": 28, "width": 8, "in_channels": 1}},
        "text": {"dataset": "fortunes", "epochs": 4, "batch_size": 64, "max_train": 500,
                 "max_test": 300, "pretrain_epochs": 5, "eval_every": 4,
                 "model": {"seq_len": 24, "width": 32}},
    },
    "paper": {
        "vision": {"dataset": "cifar100", "epochs": 30, "batch_size": 128, "precision": "bf16",
                   "model": {"image_size": 224, "width": 64, "in_channels": 3,
                             "encoder": "facebook/vit-mae-base"}},
        "text": {"dataset": "ag_news", "epochs": 30, "batch_size": 64, "precision": "bf16",
                 "model": {"seq_len": 128, "width": 128, "encoder": "roberta-base"}},
    },
}


def profile_names() -> list[str]:
    return list(PROFILES)


def profile_defaults(profile: str, task: str) -> dict:
    """The defaults of ``profile`` for ``task`` (a copy, safe to modify)."""
    if profile not in PROFILES:
        raise choice_error("profile", profile, PROFILES)
    if task not in PROFILES[profile]:
        raise choice_error("task", task, PROFILES[profile])
    entry = PROFILES[profile][task]
    return {**entry, "model": dict(entry["model"])}


def make_run_config(profile: str, task: str, model: dict | None = None, **run) -> RunConfig:
    """A validated run config: the profile's defaults, overridden by ``model`` and ``run``.

    ``num_classes`` and ``in_channels`` follow the dataset unless given explicitly.
    """
    from .data import get_info

    defaults = profile_defaults(profile, task)
    model_fields = {**defaults.pop("model"), "task": task, **(model or {})}
    run_fields = {**defaults, **{k: v for k, v in run.items() if v is not None}}
    info = get_info(run_fields["dataset"])
    if info.task != task:
        raise choice_error(f"{task} dataset", run_fields["dataset"],
                           [n for n, i in _datasets().items() if i.task == task])
    model_fields.setdefault("num_classes", info.num_classes)
    if task == "vision" and "in_channels" not in (model or {}):
        model_fields["in_channels"] = info.channels or model_fields.get("in_channels", 3)
    cfg = RunConfig(model=ModelConfig(**model_fields), **run_fields)
    return cfg.validate()


def _datasets():
    from .data import DATASETS

    return DATASETS


def with_model(cfg: RunConfig, **changes) -> RunConfig:
    """A copy of ``cfg`` with model fields changed (handy in experiment grids)."""
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **changes)).validate()
