"""The job side of :mod:`dreamlib.launch`: what runs inside each submitit job.

A job trains (or reads) one run through the path a notebook uses
(:func:`dreamlib.schedule._metrics_unless_held`: the run's lock, resume from the last
checkpoint, a DreamNet's dreams) and ends "done", or "held" at once when a live process holds
the run. The local launcher's cap on runs at once is a set of lock files
(:func:`local_slot`); a run asking for several GPUs is trained by ``accelerate launch`` inside
its job (:func:`accelerate_command`, one process per GPU running :func:`main`). Kept apart from
the batch side so that a job imports neither submitit nor the batch.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .locks import LOCK_FILE, is_stale, read_holder
from .runs import METRICS_FILE, RunConfig, atomic_write_json


@contextlib.contextmanager
def local_slot(slots_dir: str | None, slots: int, poll: float = 0.5):
    """Wait for one of ``slots`` lock files under ``slots_dir`` and hold it (the local
    launcher's cap on runs at once; the kernel releases it when the job ends or is killed).
    No folder: no cap (Slurm's array throttle caps a Slurm array)."""
    if not slots_dir:
        yield
        return
    folder = Path(slots_dir)
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        for index in range(slots):
            handle = open(folder / f"slot-{index}", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        time.sleep(poll)


def held_by_live_process(folder: Path) -> bool:
    """Whether another live process holds ``folder``'s run lock (:mod:`dreamlib.locks`)."""
    holder = read_holder(folder / LOCK_FILE)
    return holder is not None and not is_stale(holder, folder / LOCK_FILE)


def accelerate_command(config_file: Path, folder: Path, gpus: int, port: int) -> list[str]:
    """The command that trains one run on ``gpus`` GPUs of this job's node: ``accelerate
    launch`` starts one process per GPU, each running :func:`main` (the same
    :func:`dreamlib.train.train_run` as ``train``; rank 0 takes the run's lock and writes)."""
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
            "--num_machines", "1", "--num_processes", str(gpus), "--main_process_port",
            str(port), "-m", "dreamlib.jobs", str(config_file), str(folder)]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_job(cfg: RunConfig, folder: str, keep_checkpoint: bool = True, threads: int = 1,
            gpus: int = 0, slots_dir: str | None = None, slots: int = 0) -> str:
    """What one submitit job runs: train (or read) one run; "done" or "held" (a live process
    holds it: this job ends instead of waiting). A failure raises, so the scheduler shows the
    job as failed and its ``*_log.err`` holds the traceback; the run folder keeps its last
    checkpoint, and the next job of this run resumes from it. Epoch lines go to the job's
    ``*_log.out``."""
    folder = Path(folder)
    with local_slot(slots_dir, slots):
        if (folder / METRICS_FILE).is_file():
            return "done"
        if gpus > 1:
            return train_with_accelerate(cfg, folder, keep_checkpoint, gpus)
        import torch  # deferred: the launcher imports this module without torch

        torch.set_num_threads(threads)
        from .schedule import _metrics_unless_held  # deferred: loads torch

        metrics = _metrics_unless_held(cfg, folder, log=lambda line: print(line, flush=True),
                                       progress=False, keep_checkpoint=keep_checkpoint)
        return "held" if metrics is None else "done"


def train_with_accelerate(cfg: RunConfig, folder: Path, keep_checkpoint: bool,
                          gpus: int) -> str:
    """Train one run on ``gpus`` GPUs (:func:`accelerate_command`); "held" without starting
    when a live process holds the run (rank 0 would fail on the lock and stop the others)."""
    if held_by_live_process(folder):
        return "held"
    config_file = folder.parent / f".{folder.name}.job-config.json"
    atomic_write_json(config_file, cfg.to_dict())
    env = {**os.environ, "DREAMLIB_KEEP_CHECKPOINT": "1" if keep_checkpoint else "0"}
    try:
        subprocess.run(accelerate_command(config_file, folder, gpus, free_port()), env=env,
                       check=True)
    finally:
        config_file.unlink(missing_ok=True)
    return "done"


def main(argv: list[str] | None = None) -> int:
    """``python -m dreamlib.jobs CONFIG_JSON RUN_FOLDER``: one process of a multi-GPU run
    (started by :func:`accelerate_command`)."""
    from .dreams import store_dreams  # deferred: loads torch
    from .locks import main_process
    from .runs import CHECKPOINT_FILE
    from .train import train_run

    config_file, folder = (argv if argv is not None else sys.argv[1:])[:2]
    cfg = RunConfig.from_dict(json.loads(Path(config_file).read_text()))
    train_run(cfg, folder, log=lambda line: print(line, flush=True), progress=False)
    if main_process():
        if cfg.model.method == "dreamnet":
            store_dreams(Path(folder))
        if os.environ.get("DREAMLIB_KEEP_CHECKPOINT", "1") == "0":
            (Path(folder) / CHECKPOINT_FILE).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
