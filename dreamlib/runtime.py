"""What every notebook runs on: ``from dreamlib.runtime import setup``.

:func:`setup` resolves a notebook's parameters (profile, output, run store and data folders)
into a :class:`Context`, which makes the profile's run configs and trains (or reads) a grid's
runs. The batch (:mod:`dreamlib.reproduce`) passes the same parameters to every notebook.

Inside a dry run (:mod:`dreamlib.dryrun`, which sets :data:`DRY_RUN_ENV`) the context also
shrinks every run it trains (:func:`dry_run_config`): the dry run's overrides applied (one
epoch of a few examples), and a chain too large for :data:`DRY_RUN_MEMORY` narrowed until it
fits (:func:`within_memory`). Outside one, :func:`dry_run_overrides` is empty and nothing
changes.

Training is asked for, never implied: a notebook's ``train`` parameter is False as saved, so
opening one and running it reads the runs in the store (for ``default``, the committed results)
and names any run that is missing instead of training it; the batch passes ``train=True``.

Paths: without an output folder, a context that trains the profile whose results are committed
(``default``) writes into the repository and the others into ``.cache/outputs/<profile>``
(:func:`default_output_dir`); one that only reads writes its tables and figures under
``.cache/outputs/<profile>`` too, so that reading the committed results never rewrites them,
while it reads the store of :func:`default_output_dir`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
import transformers

from . import schedule
from .counting import count_parameters
from .errors import ConfigError
from .models import build_model
from .profiles import grid_settings, make_run_config, profile_names
from .runs import check_folder

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"

DRY_RUN_ENV = "DREAMLIB_DRY_RUN"  # JSON of run-config overrides, set by dreamlib.dryrun
#: Host memory a dry-run run may need (bytes), estimated by :func:`training_bytes`.
DRY_RUN_MEMORY = 16 * 2**30
NARROWEST_WIDTH = 8  # within_memory halves a chain's width down to this at most


# ------------------------------------------------------------------------------------------
# The dry run's settings, as a context applies them
# ------------------------------------------------------------------------------------------


def dry_run_overrides() -> dict:
    """The run overrides of the dry run this process belongs to (empty outside one)."""
    text = os.environ.get(DRY_RUN_ENV, "")
    return json.loads(text) if text else {}


@functools.cache
def training_bytes(model_cfg) -> int:
    """Host memory to train ``model_cfg`` on CPU and checkpoint it, estimated from its sizes
    (built on the meta device: no memory, no weights): 4 bytes per parameter, plus 12 per
    trainable one (gradient and Adam's two moments), plus twice the checkpoint (trainable
    weights and Adam state, 12 bytes each, serialised in memory and copied once to write)."""
    with torch.device("meta"):
        counts = count_parameters(build_model(model_cfg, pretrained=False))
    return counts["params"] * 4 + counts["trainable_params"] * (12 + 2 * 12)


def within_memory(cfg, budget: int = DRY_RUN_MEMORY):
    """``cfg`` itself when it fits ``budget``; else the same run with its chain's width
    halved until it fits (down to :data:`NARROWEST_WIDTH`). Only dry runs use it."""
    model = cfg.model.resolved()
    if model.method == "finetune":  # no chain to narrow: the encoder is the model
        return cfg
    while training_bytes(model) > budget and model.width // 2 >= NARROWEST_WIDTH:
        model = dataclasses.replace(model, width=model.width // 2)
    return cfg if model == cfg.model.resolved() else dataclasses.replace(cfg, model=model)


def dry_run_config(cfg, overrides: dict):
    """A run as a dry run trains it: ``overrides`` applied, then fitted :func:`within_memory`."""
    return within_memory(dataclasses.replace(cfg, **overrides))


# ------------------------------------------------------------------------------------------
# A notebook's context
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """Where a notebook reads and writes, for one profile; ``run`` trains a grid."""

    profile: str
    out: Path  # holds results/ and figures/
    runs: Path  # the run store
    data_dir: str | None = None
    overrides: dict = field(default_factory=dict)  # run-config changes of a dry run
    train: bool = True  # False: read the store only; a missing run is an error naming it

    def run(self, entries, progress: bool = True) -> list[dict]:
        """Train (or read) the runs of grid ``entries`` in this context's run store; one
        progress bar per epoch shows a long cell's work, per-epoch logs stay in log.csv.
        In a dry run every run is shrunk first (:meth:`trained_config`) and keeps no checkpoint.
        A context that does not train returns the finished runs' records, or raises
        :class:`~dreamlib.errors.ConfigError` naming the runs the store lacks."""
        if not self.train:
            return self.read(entries)
        entries = [dataclasses.replace(entry, cfg=self.trained_config(entry.cfg))
                   for entry in entries]
        return schedule.run_entries(entries, self.runs, self.data_dir, log=lambda *_: None,
                                    progress=progress, keep_checkpoints=not self.overrides)

    def finished(self, entries) -> list[dict]:
        """The records of the entries whose runs are finished in the store (read only:
        nothing is trained); see :func:`dreamlib.schedule.finished_entries`."""
        entries = [dataclasses.replace(entry, cfg=self.trained_config(entry.cfg))
                   for entry in entries]
        return schedule.finished_entries(entries, self.runs, self.data_dir)

    def read(self, entries) -> list[dict]:
        """The records of every entry, read from the store; an error naming the missing runs
        (and how to make them) when the store lacks any."""
        records, missing = [], {}
        for entry in entries:
            found = self.finished([entry])  # one record, or none when the run is missing
            records.extend(found)
            if not found:
                missing.setdefault(self.trained_config(entry.cfg).run_hash(), entry.label)
        if missing:
            names = ", ".join(f"{run} ({label})" for run, label in list(missing.items())[:3])
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise ConfigError(
                f"{len(missing)} of the runs this cell shows are not in the run store "
                f"{self.runs}: {names}{more}. Set train = True in the parameters cell to train "
                f"them here, or make them all with "
                f"`python -m dreamlib reproduce --profile {self.profile}`")
        return records

    def trained_config(self, cfg):
        """``cfg`` as this context trains it: itself, or in a dry run shrunk by
        :attr:`overrides` and fitted to the dry run's memory (:func:`dry_run_config`)."""
        return dry_run_config(cfg, self.overrides) if self.overrides else cfg

    def config(self, task: str, model: dict | None = None, **run):
        """A run config of this context's profile (and data), with the dry run's overrides."""
        return make_run_config(self.profile, task, model=model,
                               **{"data_dir": self.data_dir, **self.overrides, **run})


def default_output_dir(profile: str) -> Path:
    """The repository for the profile whose results are committed, else .cache/outputs/<profile>."""
    return REPO if grid_settings(profile)["publish"] else REPO / ".cache" / "outputs" / profile


def context(profile: str, output_dir: str | None = None, runs_dir: str | None = None,
            data_dir: str | None = None, train: bool = True) -> Context:
    """Resolve a notebook's parameters into absolute folders and this process's dry-run
    overrides; the hub is offline (unless set otherwise) and tokenizers' fork warning off.
    Without ``output_dir``, a context that only reads writes under ``.cache/outputs/<profile>``
    and reads the store it would train into (see the module docstring)."""
    if profile not in profile_names():
        raise ConfigError(f"unknown profile {profile!r}; "
                          f"choose one of: {', '.join(profile_names())}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not isinstance(train, bool):
        raise ConfigError(f"train must be True or False, not {train!r}")
    store = Path(output_dir).resolve() if output_dir else default_output_dir(profile)
    out = store if output_dir or train else REPO / ".cache" / "outputs" / profile
    runs = Path(runs_dir).resolve() if runs_dir else store / "results" / "runs"
    check_folder(out, "--output-dir")
    check_folder(runs, "--runs-dir")
    return Context(profile, out, runs, data_dir, dry_run_overrides(), train)


def setup(profile: str, output_dir: str | None = None, runs_dir: str | None = None,
          data_dir: str | None = None, train: bool = True) -> Context:
    """A notebook's one set-up call: its :class:`Context`, with the libraries' download bars
    and warnings quieted (the notebooks run offline; their own bars show training)."""
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return context(profile, output_dir, runs_dir, data_dir, train)
