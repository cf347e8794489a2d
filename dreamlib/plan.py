"""What a run costs at full size: its training FLOPs (measured by :mod:`dreamlib.counting`)
and its hours on the paper's GPU, at the FLOP rate Table 5 implies for its kind of model.

The dry run prints this plan (:mod:`dreamlib.dryrun`) and the cluster launcher asks for time
from it (:mod:`dreamlib.launch`); it lives apart from both so that neither imports the other's
batch machinery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from . import paper
from .counting import count
from .data import get_info
from .experiments import GRIDS, NOTEBOOK_GRIDS, table5_efficiency


#: The Table 5 row whose FLOP rate each kind of run is costed at: chains at ResNet18's, the
#: fine-tuned encoder at MAE-base's, and models that run a frozen encoder beside the chain
#: (the features control once, SleepNet per block) at SleepNet's.
CALIBRATION = {"baseline": "ResNet18", "finetune": "MAE-base", "features": "SleepNet",
               "sleepnet": "SleepNet", "dreamnet": "DreamNet"}
TRAIN_FLOPS_PER_FORWARD = 3  # forward + backward ≈ 3 forwards (backward ≈ 2×)


@dataclass(frozen=True)
class PlannedRun:
    notebook: str
    label: str
    task: str
    method: str
    forward_flops: int  # one example, measured by dreamlib.counting
    train_examples: int
    test_examples: int
    epochs: int

    @property
    def flops(self) -> float:
        """Training + evaluation FLOPs of the whole run."""
        per_epoch = (TRAIN_FLOPS_PER_FORWARD * self.train_examples + self.test_examples)
        return float(self.forward_flops) * per_epoch * self.epochs


def split_sizes(cfg) -> tuple[int, int]:
    """Training and test examples of a run at full size (its subsets, else the splits)."""
    info = get_info(cfg.dataset)
    train = min(cfg.max_train or info.train_size, info.train_size)
    test = min(cfg.max_test or info.test_size, info.test_size)
    return train, test


_FLOPS: dict[str, int] = {}  # forward FLOPs per model config: counting builds the model


def forward_flops(model_cfg) -> int:
    """Forward FLOPs of one example (``dreamlib.counting``), counted once per model config."""
    key = json.dumps(model_cfg.__dict__, sort_keys=True, default=str)
    if key not in _FLOPS:
        _FLOPS[key] = count(model_cfg)["flops"]
    return _FLOPS[key]


def costed_runs(profile: str = "paper", notebooks=None) -> list[PlannedRun]:
    """Every run the notebooks of ``profile`` train, each once, under the first notebook
    that trains it (the run store shares the rest), with what it costs at full size."""
    seen, runs = set(), []
    for number, grids in NOTEBOOK_GRIDS.items():
        if notebooks and number not in notebooks:
            continue
        for grid in grids:
            for entry in GRIDS[grid](profile):
                key = entry.cfg.run_hash()
                if key in seen:
                    continue
                seen.add(key)
                train, test = split_sizes(entry.cfg)
                runs.append(PlannedRun(number, entry.label, entry.task, entry.method,
                                       forward_flops(entry.cfg.model), train, test,
                                       entry.cfg.epochs))
    return runs


def calibration(profile: str = "paper") -> dict[str, float]:
    """FLOP/s the paper's hardware reached per Table 5 model: the FLOPs of one CIFAR-100
    epoch of that model at the paper's configuration over Table 5's hours per epoch."""
    rates = {}
    for entry in table5_efficiency(profile):
        hours = paper.TABLE5_HOURS_PER_EPOCH[entry.paper]["cifar100"]
        train, test = split_sizes(entry.cfg)
        run = PlannedRun("08", entry.label, entry.task, entry.method,
                         forward_flops(entry.cfg.model), train, test, 1)
        rates[entry.paper] = run.flops / (hours * 3600)
    return rates


def gpu_hours(run: PlannedRun, rates: dict[str, float]) -> float:
    """Estimated hours of ``run`` on the paper's GPU, at the rate Table 5 shows for its kind."""
    return run.flops / rates[CALIBRATION[run.method]] / 3600


def plan_table(runs: list[PlannedRun], rates: dict[str, float]):
    """One row per notebook: runs, training PFLOPs and estimated GPU-hours (paper hardware)."""
    rows = [{"notebook": r.notebook, "runs": 1, "PFLOPs": r.flops / 1e15,
             "GPU-hours": gpu_hours(r, rates)} for r in runs]
    columns = ["notebook", "runs", "PFLOPs", "GPU-hours"]
    # a selection without runs (notebook 01 alone) plans a total of zero
    table = pd.DataFrame(rows, columns=columns).groupby("notebook", as_index=False).sum()
    total = {"notebook": "total", "runs": int(table["runs"].sum()),
             "PFLOPs": table["PFLOPs"].sum(), "GPU-hours": table["GPU-hours"].sum()}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True).round(
        {"PFLOPs": 1, "GPU-hours": 1})
