"""Several runs at once: train independent runs in parallel processes (``reproduce --jobs``).

Tiny models do not keep several threads busy: on 2 CPU cores, two runs at once with one
torch thread each gave 1.3x the runs per hour of one run at a time with two threads. So the
batch (:mod:`dreamlib.reproduce`) can train the runs its notebooks need in a pool of worker
processes before executing them; the notebooks then read the run store as usual.

* Workers are started with ``spawn``: forking a process whose torch has initialised its
  OpenMP thread pool is unsafe (the child can deadlock). Each worker sets its torch thread
  count once (:func:`start_worker`) and is reused across runs (torch imports once per worker).
* Each run goes through the same path a notebook uses (:func:`dreamlib.schedule.run_entries`'
  :func:`~dreamlib.schedule._metrics_unless_held`): the run's lock, the dreams of a DreamNet,
  a dry run's checkpoint removal. A run another live process holds is skipped: the notebook
  that needs it waits for it, as it does today.
* A run that fails does not stop the others: one log line names its folder and the error;
  the notebook that needs the run retrains it and shows the full error in its cell.
* The thread count is part of a result: it is recorded in each run's ``metrics.json``
  (``threads``); a run trained here is bit-identical to the same run trained alone at the same
  thread count, not across thread counts.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from .errors import ConfigError

#: At most this many runs at once by default: each process holds its own torch, data and model
#: (memory grows with every job), and the measured gain (1.3x on 2 cores) comes from filling
#: idle cores, which a few jobs already do.
MAX_JOBS = 4


def cpu_cores() -> int:
    """The cores this process may run on (its affinity: a container's or taskset's share),
    else the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_positive(value, flag: str) -> int | None:
    """``value`` if it is None or a positive whole number, else one error naming ``flag``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{flag} must be a positive whole number, got {value!r}")
    return value


def parallel_layout(cores: int | None = None, cuda: bool | None = None,
                    jobs: int | None = None, threads: int | None = None) -> tuple[int, int]:
    """How the batch trains its runs: ``(jobs, threads)``, processes x torch threads each.

    ``jobs`` and ``threads`` given (the ``--jobs``/``--threads`` flags) win; what is left out
    is chosen from the machine (``cores``: :func:`cpu_cores`; ``cuda``: whether torch sees a
    GPU):

    * with a GPU, one job: runs in parallel would share one GPU (and its memory), and a GPU run
      is not bound by the CPU's threads;
    * on CPU, ``min(cores, MAX_JOBS)`` jobs of ``cores // jobs`` threads (2 cores: 2 x 1):
      a small model leaves a second thread mostly idle, a second run does not;
    * only ``threads`` given: as many jobs as fit the cores (``cores // threads``, at most
      :data:`MAX_JOBS`); only ``jobs`` given: the cores shared between them.
    """
    jobs = check_positive(jobs, "--jobs")
    threads = check_positive(threads, "--threads")
    cores = max(1, cores if cores is not None else cpu_cores())
    if cuda is None:
        import torch  # deferred: only to look for a GPU

        cuda = torch.cuda.is_available()
    if jobs is None:
        if cuda:
            jobs = 1
        elif threads is not None:
            jobs = max(1, min(MAX_JOBS, cores // threads))
        else:
            jobs = min(cores, MAX_JOBS)
    if threads is None:
        threads = max(1, cores // jobs)
    return jobs, threads


# ------------------------------------------------------------------------------------------
# The worker side (runs in the spawned processes)
# ------------------------------------------------------------------------------------------


def start_worker(threads: int) -> None:
    """A worker's set-up, once: ``threads`` torch threads (one inter-op thread: the runs'
    parallelism is the pool's), and Ctrl-C left to the batch, which stops the workers itself
    (:func:`train_in_pool`) instead of each printing a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch  # deferred: the parent imports this module before it needs torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or inter-op work already ran: keep torch's
        pass


def train_one(cfg, folder: str, keep_checkpoint: bool) -> str:
    """Train (or read) one run in a worker: "done", "held" (another live process trains it)
    or "failed: <error>". Errors come back as text: an exception object may not pickle."""
    from .schedule import _metrics_unless_held  # deferred: loads torch

    try:
        metrics = _metrics_unless_held(cfg, Path(folder), log=_quiet, progress=False,
                                       keep_checkpoint=keep_checkpoint)
    except Exception as exc:  # noqa: BLE001 - one failed run must not stop the others
        return f"failed: {describe(exc)}"
    return "held" if metrics is None else "done"


def describe(exc: BaseException) -> str:
    """An exception on one line: its type and its message's last line, shortened."""
    lines = str(exc).strip().splitlines()
    message = lines[-1][:300] if lines else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _quiet(*_args) -> None:
    """Workers log nothing: epochs of several runs interleaved would be noise (log.csv keeps
    them), and the batch's progress bar counts finished runs."""


# ------------------------------------------------------------------------------------------
# The batch side
# ------------------------------------------------------------------------------------------


def train_in_pool(runs, jobs: int, threads: int, keep_checkpoints: bool = True,
                  log=print) -> dict[Path, str]:
    """Train the ``runs`` ((RunConfig, folder) pairs) in ``jobs`` spawned processes of
    ``threads`` torch threads each; returns each folder's outcome ("done", "held" or
    "failed: ..."). Failed runs are logged, one line each, and the rest go on; a worker that
    dies (killed, out of memory) ends the pool, and the notebooks train what is left.
    ``keep_checkpoints=False`` (a dry run) deletes each checkpoint once its run finished.
    Ctrl-C stops the workers (their runs resume from their last checkpoint) and re-raises."""
    runs = [(cfg, Path(folder)) for cfg, folder in runs]
    outcomes: dict[Path, str] = {}
    if not runs:
        return outcomes
    if 1 < jobs < len(runs):
        runs = longest_first(runs)
    executor = ProcessPoolExecutor(max_workers=min(jobs, len(runs)),
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=start_worker, initargs=(threads,))
    try:
        futures = {executor.submit(train_one, cfg, str(folder), keep_checkpoints): folder
                   for cfg, folder in runs}
        for future in as_completed(futures):
            folder = futures[future]
            try:
                outcomes[folder] = future.result()
            except BrokenProcessPool:
                left = len(runs) - len(outcomes)
                log(f"the pool stopped: a training process died (killed, or out of memory?); "
                    f"the notebooks train the {left} run(s) it had not finished")
                break
            if outcomes[folder].startswith("failed"):
                log(f"run {folder} {outcomes[folder]} (its notebook retrains it and shows "
                    "the full error)")
    except BaseException:  # Ctrl-C: end the workers now, not after their runs
        stop_workers(executor)
        raise
    executor.shutdown(wait=True, cancel_futures=True)
    return outcomes


def training_work(cfg) -> int:
    """A run's training work, for ordering only: forward FLOPs of one example (of its model
    configuration, built randomly initialised, counted once per configuration) x training
    examples x epochs."""
    from .data import get_info  # deferred: the registry imports torchvision

    examples = cfg.max_train or get_info(cfg.dataset).train_size or 1  # None: whole split
    return _config_flops(cfg.model.resolved()) * examples * cfg.epochs


@functools.cache
def _config_flops(model_cfg) -> int:
    from .counting import count  # deferred: builds models

    return count(model_cfg)["flops"]


def longest_first(runs: list) -> list:
    """``runs`` ordered by :func:`training_work`, largest first: a pool that starts the long
    runs first does not end with one long run on one core while the others idle (the
    longest-processing-time rule). On the throughput benchmark's sample (8 runs in 2 workers,
    benchmarks/README.md), taken in the sample's order, one core idled for the last 21 s of
    247 s while the other finished the text DreamNet it had started last. The order cannot
    change a result: each run is trained alone in its process. A configuration that cannot be counted here (no
    offline build) keeps its place at the end."""
    def work(item) -> int:
        try:
            return training_work(item[0])
        except Exception:  # noqa: BLE001 - ordering is an optimisation; the run reports errors
            return -1

    return sorted(runs, key=work, reverse=True)


def stop_workers(executor: ProcessPoolExecutor) -> None:
    """Cancel what has not started and terminate the workers (a killed run resumes from its
    checkpoint; the lock it leaves is taken over by the next worker, :mod:`dreamlib.locks`)."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + 10
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
