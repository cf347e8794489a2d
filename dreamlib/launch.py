"""Hand the batch's runs to submitit: ``reproduce --launcher {inline,local,slurm}``.

``inline`` (the default) is the batch as it always was: the runs are trained on this machine
(:func:`dreamlib.reproduce.train_missing`, then the notebooks). With ``local`` or ``slurm`` the
batch collects the runs its notebooks need that the run store does not hold yet, submits them
as submitit jobs (one job per run; one job array per set of resources), waits for them with a
count of queued / running / done / failed runs, and only then executes the notebooks, which
read the store. ``local`` runs the same jobs on this machine (submitit's local executor);
``slurm`` submits them with ``sbatch``.

Why it is built this way:

* The run store stays the single source of truth. A job trains its run through the very path a
  notebook uses (:func:`dreamlib.schedule._metrics_unless_held`: the run's lock, resume from the
  last checkpoint, a DreamNet's dreams), so a run is trained once whatever launches it: another
  launcher, a notebook, or an old-style ``sbatch --array`` of whole batches. A job that finds
  its run held by a live process ends at once ("held") instead of holding a GPU while it waits.
* Nothing is remembered but the store and one small record per submitted run
  (``<output-dir>/jobs/runs/<hash>.json``: launcher, job id, job folder). Rerunning the same
  command skips the finished runs (the store has them), waits for the jobs still queued or
  running (their record), and resubmits the rest: the failed ones resume from their checkpoint.
* Resources come from the run. A job asks for what its run needs (:func:`job_specs`): the
  profile's defaults (:data:`PROFILE_RESOURCES`), the memory its model needs to train
  (:func:`dreamlib.runtime.training_bytes`), a time limit from the dry run's FLOPs estimate
  (:func:`time_request`), then a small config file (:func:`read_cluster_config`, per run
  kind), then the flags. Runs that ask for the same resources share one job array.
* A run that asks for several GPUs is trained by ``accelerate launch`` inside its job
  (:func:`dreamlib.jobs.accelerate_command`): one job, one node, one process per GPU, the
  same code path ``train`` takes under ``accelerate launch``.
* ``local`` caps how many runs train at once with lock files
  (:func:`dreamlib.jobs.local_slot`), so the cap holds after ``--no-wait`` too, and across
  two launchers over one output folder (Slurm's own ``%N`` array throttle does this for
  ``slurm``).

What runs inside a job (train one run, or end "held") is :mod:`dreamlib.jobs`.

Job files (submitit's pickles, each job's ``*_log.out`` / ``*_log.err``) go under
``<output-dir>/jobs/<job id>/``. See docs/cluster.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .errors import ConfigError, choice_error
from .jobs import held_by_live_process, run_job
from .locks import HOST, pid_alive
from .runs import METRICS_FILE, RunConfig, atomic_write_json

LAUNCHERS = ("inline", "local", "slurm")
JOBS_DIR = "jobs"  # under the output folder: submitit's files and one record per run
RECORDS_DIR = "runs"  # under JOBS_DIR: <run hash>.json, the job that was given the run
SLOTS_DIR = "slots"  # under JOBS_DIR: the local launcher's lock files, one per running job

#: What one run asks for by default, per profile: the smoke and default profiles are CPU
#: profiles (minutes per run), the paper profile is one GPU per run.
PROFILE_RESOURCES = {
    "smoke": {"gpus": 0, "cpus": 1, "mem_gb": 4, "time_min": 30},
    "default": {"gpus": 0, "cpus": 2, "mem_gb": 8, "time_min": 120},
    "paper": {"gpus": 1, "cpus": 8, "mem_gb": 32, "time_min": 60},
}
TIME_SAFETY = 3.0  # time request = estimated GPU-hours x this (the estimate is the paper's GPU)
MEMORY_SAFETY = 1.5  # memory request = estimated training bytes x this (data, CUDA context)
LOCAL_TIMEOUT_MIN = 7 * 24 * 60  # local jobs: no practical limit (a job may wait for a slot)
ACTIVE_SLURM_STATES = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING",
                       "SUSPENDED", "RESIZING", "REQUEUE_HOLD", "REQUEUE_FED"}
RESOURCE_KEYS = ("gpus", "cpus", "mem_gb", "time_min")
CONFIG_KEYS = {"partition", "account", "jobs", "setup", "kinds", *RESOURCE_KEYS}
#: How often the batch looks at its jobs: local jobs cost nothing to ask about, Slurm's
#: sacct queries the cluster's database (submitit asks for all the jobs in one call).
POLL_SECONDS = {"local": 2.0, "slurm": 30.0}


# ------------------------------------------------------------------------------------------
# Checking the flags
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LaunchOptions:
    """What the flags and the config file ask of the launcher (None: not given)."""

    launcher: str = "inline"
    jobs: int | None = None  # runs at once: local processes, or Slurm's array throttle (%N)
    threads: int | None = None  # torch threads per run (default: its CPUs)
    wait: bool = True  # False (--no-wait): submit, then exit
    partition: str | None = None
    account: str | None = None
    gpus: int | None = None
    cpus: int | None = None
    mem_gb: float | None = None
    time_min: int | None = None
    config: str | None = None  # --cluster-config: a TOML or JSON file (read_cluster_config)


SLURM_ONLY = {"partition": "--partition", "account": "--account", "cpus": "--cpus-per-run",
              "mem_gb": "--mem-gb", "time_min": "--time-min"}  # a local job does not ask for them
LAUNCHER_ONLY = {"gpus": "--gpus-per-run", "config": "--cluster-config"}


def verb(flags: list[str]) -> str:
    return "applies" if len(flags) == 1 else "apply"


def check_options(options: LaunchOptions, which=shutil.which) -> LaunchOptions:
    """One clear error for a launcher that cannot work, before anything is written:
    an unknown launcher, a non-positive count, flags that only a cluster launcher reads given
    to ``inline``, or ``slurm`` on a machine without Slurm's commands."""
    if options.launcher not in LAUNCHERS:
        raise choice_error("--launcher", options.launcher, LAUNCHERS)
    for name, flag in (("jobs", "--jobs"), ("threads", "--threads"), ("cpus", "--cpus-per-run"),
                       ("time_min", "--time-min")):
        value = getattr(options, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ConfigError(f"{flag} must be a positive whole number, got {value!r}")
    if options.gpus is not None and (isinstance(options.gpus, bool)
                                     or not isinstance(options.gpus, int) or options.gpus < 0):
        raise ConfigError(f"--gpus-per-run must be 0 or a positive whole number, got "
                          f"{options.gpus!r}")
    if options.mem_gb is not None and not (isinstance(options.mem_gb, (int, float))
                                           and 0 < options.mem_gb < math.inf):
        raise ConfigError(f"--mem-gb must be a positive number of GB, got {options.mem_gb!r}")
    if options.launcher == "inline":
        given = [flag for name, flag in {**SLURM_ONLY, **LAUNCHER_ONLY}.items()
                 if getattr(options, name) is not None]
        if not options.wait:
            given.append("--no-wait")
        if given:
            raise ConfigError(f"{', '.join(given)} {verb(given)} only to jobs; add --launcher "
                              "local or --launcher slurm, or leave them out")
    if options.launcher == "local":
        given = [flag for name, flag in SLURM_ONLY.items() if getattr(options, name) is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} {verb(given)} only to Slurm jobs (a local "
                              "job runs on this machine's cores and memory); use --launcher "
                              "slurm or leave them out")
    if options.launcher == "slurm":
        needed = ["sbatch", "srun"] + (["sacct"] if options.wait else [])
        missing = [name for name in needed if which(name) is None]
        if missing:
            hint = (" (sacct follows the jobs while the batch waits: or pass --no-wait and "
                    "rerun the command later)" if missing == ["sacct"] else "")
            raise ConfigError(f"--launcher slurm needs Slurm's {', '.join(missing)} on PATH, "
                              f"and this machine has none{hint}; run it on a Slurm login node, "
                              "or use --launcher local to run the jobs on this machine")
    read_cluster_config(options.config)  # a broken file: its error now, not after submitting
    return options


# ------------------------------------------------------------------------------------------
# What each run asks for
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    """What one job asks for; jobs with equal resources share one job array."""

    gpus: int
    cpus: int
    mem_gb: float
    time_min: int
    partition: str | None = None
    account: str | None = None


@dataclass(frozen=True)
class JobSpec:
    """One run as a job: its config, its folder in the store, its kind and its resources."""

    cfg: RunConfig
    folder: Path
    kind: str
    resources: Resources


def run_kind(cfg: RunConfig) -> str:
    """The kind a config file's ``[kinds.*]`` sections name: ``<task>-<method>``, e.g.
    ``vision-dreamnet`` (a section may also name the method alone, ``dreamnet``)."""
    return f"{cfg.model.task}-{cfg.model.method}"


def time_request(gpu_hours: float, gpus: int = 1, safety: float = TIME_SAFETY,
                 floor: int = 30) -> int:
    """Minutes to ask for a run estimated at ``gpu_hours`` on the paper's GPU: split over its
    ``gpus``, times ``safety`` (the estimate is a FLOP count at the paper's Table 5 rate; a
    cluster's GPUs, data loading and evaluation differ), and never under ``floor`` (start-up,
    loading an encoder and writing checkpoints cost minutes whatever the FLOPs)."""
    minutes = gpu_hours / max(1, gpus) * 60 * safety
    return max(int(floor), math.ceil(minutes))


def memory_request(training_bytes: int, floor_gb: float, safety: float = MEMORY_SAFETY) -> float:
    """GB of host memory to ask for a run whose weights, gradients, optimizer state and
    checkpoint take ``training_bytes`` (:func:`dreamlib.runtime.training_bytes`), times
    ``safety`` for the data and the framework, never under the profile's ``floor_gb``."""
    return float(max(floor_gb, math.ceil(training_bytes * safety / 2**30)))


def estimated_gpu_hours(cfgs: list[RunConfig], profile: str) -> dict[str, float]:
    """The dry run's estimate (:mod:`dreamlib.plan`) of each run's hours on the paper's GPU,
    by run hash: its training FLOPs at the rate Table 5 implies for its kind of model. Runs
    that cannot be costed here (an encoder whose config is not available offline) are left
    out: they get the profile's time."""
    from . import plan  # deferred: counting builds models

    try:
        rates = plan.calibration(profile)
    except Exception:  # noqa: BLE001 - an estimate only; the profile's time is the fallback
        return {}
    hours = {}
    for cfg in cfgs:
        try:
            train, test = plan.split_sizes(cfg)
            run = plan.PlannedRun("", "", cfg.model.task, cfg.model.method,
                                    plan.forward_flops(cfg.model), train, test, cfg.epochs)
            hours[cfg.run_hash()] = plan.gpu_hours(run, rates)
        except Exception:  # noqa: BLE001 - as above
            continue
    return hours


def estimated_bytes(cfg: RunConfig) -> int | None:
    """Host memory to train ``cfg`` (:func:`dreamlib.runtime.training_bytes`), or None when
    its model cannot be built here (offline, an unknown hub encoder)."""
    from .runtime import training_bytes  # deferred: loads torch

    try:
        return training_bytes(cfg.model.resolved())
    except Exception:  # noqa: BLE001 - an estimate only; the profile's memory is the fallback
        return None


def read_cluster_config(path: str | os.PathLike | None) -> dict:
    """The launcher's config file (TOML, or JSON by its ``.json`` suffix), checked::

        partition = "gpu"          # Slurm partition of every job
        account = "my-project"     # Slurm account
        jobs = 16                  # runs at once (the array's %N)
        gpus = 1                   # per run, as are cpus, mem_gb, time_min
        setup = ["module load cuda/12.4", "source ~/venvs/dreamlib/bin/activate"]

        [kinds.dreamnet]           # every DreamNet run; "vision-dreamnet" names one task
        mem_gb = 96
        time_min = 720

    An unknown key is an error naming it (a typo would otherwise be ignored silently)."""
    if path is None:
        return {}
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--cluster-config {path} does not exist; pass the path of a TOML "
                          "file (see docs/cluster.md)") from None
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import tomllib  # Python 3.11+

            data = tomllib.loads(text)
    except (ValueError, ImportError) as exc:
        raise ConfigError(f"--cluster-config {path} cannot be read: {exc}; fix the file (see "
                          "docs/cluster.md)") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--cluster-config {path} must hold a table of settings")
    unknown = sorted(set(data) - CONFIG_KEYS)
    kinds = data.get("kinds", {})
    if not isinstance(kinds, dict) or not all(isinstance(v, dict) for v in kinds.values()):
        raise ConfigError(f"--cluster-config {path}: [kinds.NAME] sections must hold settings")
    for kind, settings in kinds.items():
        unknown += [f"kinds.{kind}.{key}" for key in sorted(set(settings) - set(RESOURCE_KEYS))]
    if unknown:
        raise ConfigError(f"--cluster-config {path}: unknown setting(s) {', '.join(unknown)}; "
                          f"allowed: {', '.join(sorted(CONFIG_KEYS))} and, per kind, "
                          f"{', '.join(RESOURCE_KEYS)}")
    for scope, settings in [("", data)] + [(f"kinds.{k}.", v) for k, v in kinds.items()]:
        for key in RESOURCE_KEYS + ("jobs",):
            if key in settings:
                value = settings[key]
                lowest = 0 if key == "gpus" else 1
                if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                        value < lowest or (key != "mem_gb" and value != int(value)):
                    raise ConfigError(f"--cluster-config {path}: {scope}{key} = {value!r} is "
                                      "not a valid count; use a whole number "
                                      f"{'>= 0' if lowest == 0 else '>= 1'}")
    setup = data.get("setup", [])
    if not isinstance(setup, list) or not all(isinstance(line, str) for line in setup):
        raise ConfigError(f"--cluster-config {path}: setup must be a list of shell lines")
    return data


def run_resources(cfg: RunConfig, profile: str, options: LaunchOptions, config: dict,
                  gpu_hours: float | None, train_bytes: int | None) -> Resources:
    """A run's resources: the profile's defaults, what its estimates derive (memory from its
    model's size, time from its FLOPs, with a GPU), the config file (all runs, then its
    kind: method, then task-method), then the flags."""
    base = PROFILE_RESOURCES.get(profile, PROFILE_RESOURCES["default"])
    chosen = dict(base)
    if options.launcher == "local" and profile != "paper":
        chosen["gpus"] = 0  # CPU profiles: every local job on the CPU
    if train_bytes is not None:
        chosen["mem_gb"] = memory_request(train_bytes, base["mem_gb"])
    if gpu_hours is not None and chosen["gpus"] > 0:
        chosen["time_min"] = time_request(gpu_hours, chosen["gpus"], floor=base["time_min"])
    kinds = config.get("kinds", {})
    for layer in (config, kinds.get(cfg.model.method, {}), kinds.get(run_kind(cfg), {})):
        chosen.update({key: layer[key] for key in RESOURCE_KEYS if key in layer})
    flags = {key: getattr(options, key) for key in RESOURCE_KEYS}
    chosen.update({key: value for key, value in flags.items() if value is not None})
    return Resources(gpus=int(chosen["gpus"]), cpus=int(chosen["cpus"]),
                     mem_gb=float(chosen["mem_gb"]), time_min=int(chosen["time_min"]),
                     partition=options.partition or config.get("partition"),
                     account=options.account or config.get("account"))


def job_specs(runs, profile: str, options: LaunchOptions, config: dict | None = None,
              gpu_hours: dict | None = None, train_bytes=estimated_bytes) -> list[JobSpec]:
    """One :class:`JobSpec` per (config, folder) run, with its resources
    (:func:`run_resources`); ``gpu_hours`` by run hash (default: :func:`estimated_gpu_hours`
    for a GPU profile) and ``train_bytes`` (a function of the config) are the estimates."""
    config = config or {}
    runs = [(cfg, Path(folder)) for cfg, folder in runs]
    if gpu_hours is None:
        gpu_hours = (estimated_gpu_hours([cfg for cfg, _ in runs], profile)
                     if PROFILE_RESOURCES.get(profile, {}).get("gpus") else {})
    return [JobSpec(cfg, folder, run_kind(cfg),
                    run_resources(cfg, profile, options, config, gpu_hours.get(cfg.run_hash()),
                                  train_bytes(cfg)))
            for cfg, folder in runs]


def group_by_resources(specs: list[JobSpec]) -> dict[Resources, list[JobSpec]]:
    """Specs that ask for the same resources, in first-seen order: one job array each."""
    groups: dict[Resources, list[JobSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.resources, []).append(spec)
    return groups


def default_jobs(options: LaunchOptions, count: int, cuda: bool | None = None) -> int:
    """Runs at once: ``--jobs``, the config's ``jobs``, else all of them on Slurm and the
    machine's layout locally (:func:`dreamlib.parallel.parallel_layout`: 2 on 2 CPU cores,
    1 with a GPU)."""
    if options.jobs is not None:
        return options.jobs
    if options.launcher == "slurm":
        return max(1, count)
    from .parallel import parallel_layout  # deferred: may import torch

    return parallel_layout(cuda=cuda)[0]


def threads_per_run(options: LaunchOptions, resources: Resources, jobs: int) -> int:
    """Torch threads of each run: ``--threads``; else on Slurm its CPUs (torch would take the
    node's cores, not the job's share); locally this machine's cores shared by the ``jobs``
    running at once (as the inline pool does: results are bit-identical at equal threads)."""
    if options.threads is not None:
        return options.threads
    if options.launcher == "slurm":
        return resources.cpus
    from .parallel import cpu_cores  # deferred

    return max(1, cpu_cores() // jobs)


# ------------------------------------------------------------------------------------------
# The batch side: submit, remember, follow
# ------------------------------------------------------------------------------------------


def make_executor(launcher: str, jobs_dir: Path, resources: Resources, jobs: int,
                  setup: list[str] | None = None, name: str = "dreamlib"):
    """A submitit executor for one job array: files under ``jobs_dir/<job id>/``; on Slurm
    with the array throttled to ``jobs`` at once."""
    import submitit  # deferred: only the cluster launchers need it

    executor = submitit.AutoExecutor(folder=str(jobs_dir / "%j"), cluster=launcher)
    if launcher == "local":
        executor.update_parameters(timeout_min=LOCAL_TIMEOUT_MIN, tasks_per_node=1,
                                   gpus_per_node=resources.gpus, name=name)
        return executor
    slurm = {"slurm_array_parallelism": jobs, "slurm_partition": resources.partition,
             "slurm_account": resources.account, "slurm_setup": setup or None}
    executor.update_parameters(
        name=name, timeout_min=resources.time_min, mem_gb=resources.mem_gb, nodes=1,
        tasks_per_node=1, cpus_per_task=resources.cpus,
        gpus_per_node=resources.gpus or None,
        **{key: value for key, value in slurm.items() if value is not None})
    return executor


@dataclass
class Tracked:
    """A run given to a job: the job (when submitted by this process) or its record."""

    spec: JobSpec
    launcher: str
    job_id: str
    job_folder: str
    job: object = None  # the submitit Job, when this process submitted it

    def active(self) -> bool:
        """Whether the job is queued or running: this process's job asks submitit; an earlier
        submission's local job is a live submitit process, a Slurm job is in an active state."""
        if self.job is not None:
            return not self.job.done()
        if self.launcher == "local":
            return local_job_alive(self.job_id)
        return slurm_state(self.job_id, self.job_folder) in ACTIVE_SLURM_STATES

    def log_file(self) -> Path:
        return Path(self.job_folder) / f"{self.job_id}_0_log.err"


def local_job_alive(job_id: str) -> bool:
    """A local job of an earlier batch runs while its controller (pid = job id) does, and
    is one of submitit's (a pid reused by another program is not our job)."""
    if not job_id.isdigit() or not pid_alive(int(job_id)):
        return False
    try:
        return b"submitit" in Path(f"/proc/{job_id}/cmdline").read_bytes()
    except OSError:
        return False


def slurm_state(job_id: str, job_folder: str) -> str:
    """A Slurm job's state from sacct (through submitit); "UNKNOWN" when sacct does not say."""
    import submitit  # deferred

    try:
        return submitit.SlurmJob(folder=job_folder, job_id=job_id).get_info(mode="force").get(
            "State", "UNKNOWN").split()[0].upper()
    except Exception:  # noqa: BLE001 - unknown: the run is resubmitted; its lock protects it
        return "UNKNOWN"


def record_path(jobs_dir: Path, spec: JobSpec) -> Path:
    return jobs_dir / RECORDS_DIR / f"{spec.folder.name}.json"


def write_record(jobs_dir: Path, tracked: Tracked) -> None:
    """Remember which job was given the run (one file per run: launchers never race on it)."""
    atomic_write_json(record_path(jobs_dir, tracked.spec), {
        "launcher": tracked.launcher, "job_id": tracked.job_id,
        "job_folder": tracked.job_folder, "run": str(tracked.spec.folder), "host": HOST,
        "submitted": datetime.now(timezone.utc).isoformat(timespec="seconds")})


def earlier_job(jobs_dir: Path, spec: JobSpec) -> Tracked | None:
    """The job an earlier batch gave this run, if it is still queued or running."""
    try:
        record = json.loads(record_path(jobs_dir, spec).read_text())
        tracked = Tracked(spec, record["launcher"], str(record["job_id"]), record["job_folder"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return tracked if tracked.active() else None


def submit(specs: list[JobSpec], options: LaunchOptions, jobs_dir: Path, jobs: int,
           keep_checkpoints: bool, config: dict | None = None) -> list[Tracked]:
    """Submit one job per spec, one job array per set of resources
    (:func:`group_by_resources`), and record each; returns them tracked."""
    config = config or {}
    tracked = []
    for resources, group in group_by_resources(specs).items():
        executor = make_executor(options.launcher, jobs_dir, resources, jobs,
                                 setup=config.get("setup"), name=f"dreamlib-{group[0].kind}")
        threads = threads_per_run(options, resources, jobs)
        slots = ({"slots_dir": str(jobs_dir / SLOTS_DIR), "slots": jobs}
                 if options.launcher == "local" else {})
        with executor.batch():
            submitted = [executor.submit(run_job, spec.cfg, str(spec.folder), keep_checkpoints,
                                         threads, resources.gpus, **slots) for spec in group]
        for spec, job in zip(group, submitted):
            item = Tracked(spec, options.launcher, str(job.job_id), str(job.paths.folder), job)
            write_record(jobs_dir, item)
            tracked.append(item)
    return tracked


def run_states(tracked: list[Tracked], folders: list[Path]) -> dict[str, int]:
    """Counts of the plan's missing runs: done (metrics.json), running (a live process holds
    its lock), failed (its job ended without finishing it, nobody holds it), queued (the rest:
    waiting for a node, or for a local slot)."""
    active = {item.spec.folder: item.active() for item in tracked}
    counts = dict.fromkeys(("queued", "running", "done", "failed"), 0)
    for folder in folders:
        if (folder / METRICS_FILE).is_file():
            counts["done"] += 1
        elif held_by_live_process(folder):
            counts["running"] += 1
        elif active.get(folder, False):
            counts["queued"] += 1
        else:
            counts["failed"] += 1
    return counts


def status_line(counts: dict[str, int]) -> str:
    return " ".join(f"{counts[key]} {key}" for key in ("queued", "running", "done", "failed"))


def follow(tracked: list[Tracked], folders: list[Path], on_status, poll: float = 2.0,
           ) -> dict[str, int]:
    """Wait until no tracked job is queued or running, calling ``on_status(counts)`` whenever
    the counts change; returns the last counts (:func:`run_states`)."""
    last = None
    while True:
        pending = any(item.active() for item in tracked)
        counts = run_states(tracked, folders)
        if counts != last:
            on_status(counts)
            last = counts
        if not pending:
            return counts
        time.sleep(poll)


@dataclass
class Outcome:
    """What the launcher did: runs submitted now, runs left to earlier jobs, the final counts
    (None with ``--no-wait``) and the runs whose jobs failed, with their log files."""

    submitted: int
    earlier: int
    counts: dict | None
    failed: list[tuple[Path, Path | None]] = dataclasses.field(default_factory=list)


def launch(ctx, runs, options: LaunchOptions, log=print, on_status=None) -> Outcome:
    """Give the plan's missing runs to jobs: skip the finished ones, follow those an earlier
    batch's jobs still have, submit the rest (longest first), then wait for them all unless
    ``options.wait`` is False. ``runs``: (config, folder) pairs (the batch's plan)."""
    from .parallel import longest_first  # deferred: counting builds models

    check_options(options)
    jobs_dir = ctx.out / JOBS_DIR
    missing = [(cfg, Path(folder)) for cfg, folder in runs
               if not (Path(folder) / METRICS_FILE).is_file()]
    config = read_cluster_config(options.config)
    if options.jobs is None and "jobs" in config:
        options = dataclasses.replace(options, jobs=int(config["jobs"]))
    if not missing:
        log("every run of the plan is in the store: no job to submit")
        return Outcome(0, 0, {"queued": 0, "running": 0, "done": len(runs), "failed": 0})
    specs = job_specs(longest_first(missing), ctx.profile, options, config)
    earlier = [item for item in (earlier_job(jobs_dir, spec) for spec in specs) if item]
    followed = {item.spec.folder for item in earlier}
    fresh = [spec for spec in specs if spec.folder not in followed]
    jobs = default_jobs(options, len(fresh))
    if earlier:
        log(f"{len(earlier)} run(s) already have a queued or running job: waiting for those")
    tracked = list(earlier)
    if fresh:
        tracked += submit(fresh, options, jobs_dir, jobs, keep_checkpoints=not ctx.overrides,
                          config=config)
        arrays = len(group_by_resources(fresh))
        log(f"submitted {len(fresh)} run(s) as {options.launcher} jobs ({arrays} job "
            f"array(s), at most {jobs} at once); job files in {jobs_dir}")
    if not options.wait:
        return Outcome(len(fresh), len(earlier), None)
    folders = [spec.folder for spec in specs]
    counts = follow(tracked, folders, on_status or (lambda c: log("jobs: " + status_line(c))),
                    poll=POLL_SECONDS[options.launcher])
    failed = [(item.spec.folder, item.log_file()) for item in tracked
              if not (item.spec.folder / METRICS_FILE).is_file()
              and not held_by_live_process(item.spec.folder)]
    return Outcome(len(fresh), len(earlier), counts, failed)

