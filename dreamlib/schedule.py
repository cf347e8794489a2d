"""Scheduling over the run store: train every run a grid needs once, however many workers.

Several workers (an array job, several notebooks at once) may run grids over one run store
(:mod:`dreamlib.runs`): each trains the runs no live worker holds (:mod:`dreamlib.locks`),
then polls for the runs it skipped, taking over any whose worker died. So every worker
returns every record, and each run is trained once.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import time
from pathlib import Path

from .dreams import store_dreams
from .locks import LockHeld
from .runs import CHECKPOINT_FILE, RunConfig, load_metrics, run_folder
from .train import train_run

POLL_SECONDS = 10.0  # how often a worker looks for the runs other workers are training


def unique_runs(entries) -> list[RunConfig]:
    """Distinct run configs of grid entries, in first-seen order (what actually gets trained)."""
    seen: dict[str, RunConfig] = {}
    for entry in entries:
        seen.setdefault(entry.cfg.run_hash(), entry.cfg)
    return list(seen.values())


def run_entries(entries, runs_dir: str | Path, data_dir: str | None = None, log=print,
                progress: bool = False, poll: float = POLL_SECONDS,
                keep_checkpoints: bool = True) -> list[dict]:
    """Train (or reuse) every entry's run; returns one record per entry: the entry's typed
    fields (:meth:`dreamlib.experiments.Entry.fields`), its run folder and its metrics.
    ``keep_checkpoints=False`` deletes each run's checkpoint once it has finished (a dry run:
    paper-size checkpoints are gigabytes each, and nothing reads them afterwards)."""
    runs = {}  # run hash -> (config, folder), in first-seen order
    for entry in entries:
        cfg = dataclasses.replace(entry.cfg, data_dir=data_dir) if data_dir else entry.cfg
        runs.setdefault(cfg.run_hash(), (cfg, run_folder(runs_dir, cfg)))
    metrics, pending, announced = {}, list(runs), None
    while pending:
        for key in pending:
            found = _metrics_unless_held(*runs[key], log=log, progress=progress,
                                         keep_checkpoint=keep_checkpoints)
            if found is not None:
                metrics[key] = found
        pending = [key for key in pending if key not in metrics]
        if pending and pending != announced:
            log(f"waiting for {len(pending)} run(s) other workers are training: "
                + " ".join(runs[key][1].name for key in pending))
            announced = pending
        if pending:
            time.sleep(poll)
    return [_record(entry, run_folder(runs_dir, entry.cfg), metrics[entry.cfg.run_hash()])
            for entry in entries]


def _record(entry, folder: Path, metrics: dict) -> dict:
    """One entry's record: its typed fields, its run folder and the run's metrics."""
    return {**entry.fields(), "run": folder.name, "folder": str(folder), **metrics}


def finished_entries(entries, runs_dir: str | Path, data_dir: str | None = None) -> list[dict]:
    """The records :func:`run_entries` would return, for the entries whose run is finished;
    nothing is trained, waited for or written (what a page reads to show the verdicts of
    claims whose runs other notebooks own)."""
    records = []
    for entry in entries:
        cfg = dataclasses.replace(entry.cfg, data_dir=data_dir) if data_dir else entry.cfg
        folder = run_folder(runs_dir, cfg)
        metrics = load_metrics(folder)
        if metrics is not None:
            records.append(_record(entry, folder, metrics))
    return records


def release_memory() -> None:
    """Give the memory of a finished run back to the system before the next one: collect
    its cycles, then ask glibc to return freed heap pages (a notebook that trains several
    paper-size runs in one process otherwise keeps the largest run's peak as its footprint)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass


def _metrics_unless_held(cfg: RunConfig, folder: Path, log, progress: bool,
                         keep_checkpoint: bool = True) -> dict | None:
    """The run's metrics, read or trained now; None while another live worker holds the run
    (its lock), so the caller comes back for it later. A DreamNet trained here also keeps
    its dreams (:func:`dreamlib.dreams.store_dreams`) while its checkpoint is at hand."""
    try:
        metrics = load_metrics(folder)
        if metrics is None:
            metrics = train_run(cfg, folder, log=log, progress=progress)
            if cfg.model.method == "dreamnet":
                store_dreams(folder)
            if not keep_checkpoint:
                (folder / CHECKPOINT_FILE).unlink(missing_ok=True)
            release_memory()
        return metrics
    except LockHeld:
        return None
