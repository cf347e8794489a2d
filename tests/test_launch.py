"""Runs handed to submitit jobs (``reproduce --launcher {local,slurm}``, ``dreamlib.launch``).

Real processes on CPU with submitit's local executor: a smoke batch whose runs are trained as
separate jobs writes the same tables as an inline batch; a job killed mid-run is resubmitted
by the next launch and resumes from its checkpoint; two launchers that submit the same runs
over one output folder train each run once (the run store's locks). Slurm itself is not here:
its submission is checked against fake ``sbatch`` / ``srun`` / ``sacct`` commands (the sbatch
script submitit writes, the array throttle, the records a rerun reads). The pure functions
(resources from a profile, a config file and flags; the time request from FLOPs) are unit-tested.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dreamlib import jobs, launch
from dreamlib.cli import main
from dreamlib.errors import ConfigError
from dreamlib.launch import JobSpec, LaunchOptions, Resources
from dreamlib.locks import LOCK_FILE
from dreamlib.narrative import read_timings
from dreamlib.profiles import make_run_config
from dreamlib.runs import CHECKPOINT_FILE, LOG_FILE, METRICS_FILE, run_folder
from dreamlib.runtime import context

REPO = Path(__file__).resolve().parent.parent
DEADLINE = 900  # seconds: a guard against a hung test, never an assertion about speed


def baseline(seed: int = 0, **sizes):
    """A cheap run: the vision chain alone, narrow, on a few digits."""
    run = {"epochs": 2, "max_train": 64, "max_test": 32, "batch_size": 32, **sizes}
    return make_run_config("smoke", "vision", model={"method": "baseline", "width": 8},
                           seed=seed, **run)


def wait_for(condition, what: str, every: float = 0.05) -> None:
    deadline = time.time() + DEADLINE
    while not condition():
        if time.time() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(every)


def job_logs(jobs_dir: Path) -> str:
    return "\n".join(path.read_text() for path in sorted(jobs_dir.glob("*/*_log.out")))


# ------------------------------------------------------------------------------------------
# Resources: profile defaults, estimates, config file, flags
# ------------------------------------------------------------------------------------------


def test_the_time_request_follows_the_flops_estimate_with_a_safety_factor_and_a_floor():
    assert launch.time_request(10.0) == 1800  # 10 GPU-hours x 3
    assert launch.time_request(10.0, gpus=4) == 450  # split over the run's GPUs
    assert launch.time_request(0.01) == 30  # the floor: start-up costs minutes
    assert launch.time_request(0.01, floor=60) == 60
    assert launch.time_request(1.0, safety=1.5, floor=1) == 90
    assert launch.time_request(1.001, floor=1) == 181  # rounded up, never down


def test_the_memory_request_follows_the_models_size_with_a_floor():
    assert launch.memory_request(2**30, floor_gb=4) == 4.0
    assert launch.memory_request(40 * 2**30, floor_gb=4) == 60.0  # x 1.5
    assert launch.memory_request(int(10.1 * 2**30), floor_gb=4) == 16.0  # rounded up


def specs_for(profile, options, config=None, hours=None, gib=1):
    cfgs = [baseline(0), make_run_config("smoke", "vision", model={"method": "dreamnet",
                                                                    "blocks": 1, "width": 8})]
    runs = [(cfg, Path("/store") / cfg.run_hash()) for cfg in cfgs]
    hours = hours if hours is not None else {cfg.run_hash(): 20.0 for cfg in cfgs}
    return launch.job_specs(runs, profile, options, config, gpu_hours=hours,
                            train_bytes=lambda cfg: gib * 2**30)


def test_each_profile_has_its_defaults_and_a_gpu_profile_times_runs_by_their_flops():
    smoke = specs_for("smoke", LaunchOptions(launcher="slurm"))
    assert [s.resources for s in smoke] == [Resources(0, 1, 4.0, 30)] * 2  # CPU: no estimate
    assert [s.kind for s in smoke] == ["vision-baseline", "vision-dreamnet"]
    paper = specs_for("paper", LaunchOptions(launcher="slurm"), gib=40)
    assert {s.resources for s in paper} == {Resources(1, 8, 60.0, 3600)}  # 20 h x 3, 40 GiB x 1.5
    unknown = specs_for("paper", LaunchOptions(launcher="slurm"), hours={})
    assert {s.resources.time_min for s in unknown} == {60}  # not costed: the profile's time


def test_the_config_file_sets_resources_per_kind_and_the_flags_win():
    config = {"partition": "gpu", "account": "lab", "cpus": 4, "mem_gb": 16,
              "kinds": {"dreamnet": {"mem_gb": 64, "time_min": 600, "gpus": 2},
                        "vision-dreamnet": {"time_min": 900}}}
    base, dream = specs_for("paper", LaunchOptions(launcher="slurm"), config)
    assert base.resources == Resources(1, 4, 16.0, 3600, "gpu", "lab")
    assert dream.resources == Resources(2, 4, 64.0, 900, "gpu", "lab")  # task-method wins
    flags = LaunchOptions(launcher="slurm", partition="big", cpus=2, time_min=45)
    base, dream = specs_for("paper", flags, config)
    assert base.resources == Resources(1, 2, 16.0, 45, "big", "lab")
    assert dream.resources == Resources(2, 2, 64.0, 45, "big", "lab")
    assert len(launch.group_by_resources([base, dream, base])) == 2  # one array per request


def test_a_local_launcher_keeps_cpu_profiles_on_the_cpu_and_shares_the_cores():
    (spec, _) = specs_for("default", LaunchOptions(launcher="local", gpus=None))
    assert spec.resources.gpus == 0
    options = LaunchOptions(launcher="local", jobs=2)
    assert launch.default_jobs(options, 11) == 2
    assert launch.default_jobs(LaunchOptions(launcher="slurm"), 11) == 11  # no cap by default
    assert launch.default_jobs(LaunchOptions(launcher="local"), 11, cuda=True) == 1
    assert launch.threads_per_run(LaunchOptions(launcher="slurm"), spec.resources, 4) == 2
    assert launch.threads_per_run(LaunchOptions(launcher="local", threads=3),
                                  spec.resources, 4) == 3


def test_the_cluster_config_is_read_from_toml_and_checked(tmp_path):
    good = tmp_path / "cluster.toml"
    good.write_text('partition = "gpu"\njobs = 8\nsetup = ["module load cuda"]\n'
                    '[kinds.dreamnet]\nmem_gb = 96.5\ntime_min = 720\n')
    data = launch.read_cluster_config(good)
    assert data["kinds"]["dreamnet"] == {"mem_gb": 96.5, "time_min": 720}
    assert launch.read_cluster_config(None) == {}
    cases = {"partiton = 'gpu'\n": "unknown setting(s) partiton",
             "[kinds.dreamnet]\nmemory = 3\n": "kinds.dreamnet.memory",
             "jobs = 0\n": "jobs = 0 is not a valid count",
             "[kinds.sleepnet]\ngpus = 1.5\n": "kinds.sleepnet.gpus = 1.5",
             "setup = 'module load cuda'\n": "setup must be a list",
             "partition = \n": "cannot be read"}
    for text, message in cases.items():
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
                           .replace(".", r"\.")):
            launch.read_cluster_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        launch.read_cluster_config(tmp_path / "missing.toml")


def test_several_gpus_run_under_accelerate_launch_inside_the_job(tmp_path):
    command = jobs.accelerate_command(tmp_path / "c.json", tmp_path / "run", 4, 29500)
    assert command[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    text = " ".join(command)
    assert "--multi_gpu" in text and "--num_processes 4" in text
    assert "--main_process_port 29500" in text
    assert command[-4:] == ["-m", "dreamlib.jobs", str(tmp_path / "c.json"),
                            str(tmp_path / "run")]


# ------------------------------------------------------------------------------------------
# Bad input: one line, exit 2, before anything is written
# ------------------------------------------------------------------------------------------


def test_the_options_are_checked():
    nothing = lambda name: None  # noqa: E731 - a machine without Slurm
    with pytest.raises(ConfigError, match="unknown --launcher 'slurmm'; choose one of: inline"):
        launch.check_options(LaunchOptions(launcher="slurmm"))
    for field, flag in (("jobs", "--jobs"), ("threads", "--threads"), ("cpus", "--cpus-per-run"),
                        ("time_min", "--time-min")):
        for bad in (0, -2, True, 1.5):
            with pytest.raises(ConfigError, match=f"{flag} must be a positive whole number"):
                launch.check_options(LaunchOptions(launcher="local", **{field: bad}))
    with pytest.raises(ConfigError, match="--gpus-per-run must be 0 or a positive"):
        launch.check_options(LaunchOptions(launcher="local", gpus=-1))
    with pytest.raises(ConfigError, match="--mem-gb must be a positive number"):
        launch.check_options(LaunchOptions(launcher="slurm", mem_gb=0), which=lambda n: n)
    with pytest.raises(ConfigError, match="needs Slurm's sbatch, srun, sacct on PATH.*"
                                          "--launcher local"):
        launch.check_options(LaunchOptions(launcher="slurm"), which=nothing)
    no_sacct = lambda name: None if name == "sacct" else name  # noqa: E731
    with pytest.raises(ConfigError, match="sacct.*--no-wait"):
        launch.check_options(LaunchOptions(launcher="slurm"), which=no_sacct)
    launch.check_options(LaunchOptions(launcher="slurm", wait=False), which=no_sacct)
    with pytest.raises(ConfigError, match="--partition, --mem-gb apply only to Slurm jobs"):
        launch.check_options(LaunchOptions(launcher="local", partition="gpu", mem_gb=4))
    with pytest.raises(ConfigError, match="--gpus-per-run, --no-wait apply only to jobs"):
        launch.check_options(LaunchOptions(gpus=1, wait=False))


@pytest.mark.parametrize("argv, culprit", [
    (["--launcher", "cluster"], "unknown --launcher 'cluster'"),
    (["--launcher", "slurm"], "--launcher slurm needs Slurm's sbatch"),
    (["--launcher", "local", "--jobs", "0"], "--jobs"),
    (["--launcher", "local", "--jobs", "-3"], "--jobs"),
    (["--launcher", "local", "--gpus-per-run", "-1"], "--gpus-per-run"),
    (["--launcher", "local", "--partition", "gpu"], "--partition applies only to Slurm"),
    (["--no-wait"], "--no-wait applies only to jobs"),
    (["--launcher", "local", "--dry-run"], "--dry-run trains its runs on this machine"),
    (["--launcher", "local", "--cluster-config", "/no/such.toml"], "does not exist"),
])
def test_the_command_line_refuses_bad_launcher_flags_in_one_line(argv, culprit, tmp_path,
                                                                  monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here, whatever the machine has
    out = tmp_path / "out"
    assert main(["reproduce", "--profile", "smoke", "--output-dir", str(out), *argv]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and culprit in err[0], err
    assert not out.exists()  # refused before anything was written


def test_the_command_line_passes_the_launcher_to_the_batch(monkeypatch):
    import dreamlib.reproduce

    seen = {}
    monkeypatch.setattr(dreamlib.reproduce, "reproduce",
                        lambda *args, **kwargs: seen.update(kwargs) or 0)
    assert main(["reproduce", "--profile", "smoke", "--launcher", "local", "--jobs", "3",
                 "--no-wait", "--gpus-per-run", "0"]) == 0
    assert seen["launch"] == LaunchOptions(launcher="local", jobs=3, wait=False, gpus=0)
    assert seen["jobs"] == 3
    assert main(["reproduce", "--profile", "smoke"]) == 0
    assert seen["launch"] is None  # inline: the batch exactly as before


# ------------------------------------------------------------------------------------------
# Slurm, against fake sbatch / srun / sacct
# ------------------------------------------------------------------------------------------


FAKE_SBATCH = """#!/bin/sh
cp "$1" "$FAKE_SLURM/script-$(ls "$FAKE_SLURM" | wc -l).sh"
echo "Submitted batch job 4242"
"""


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    bin_dir, record = tmp_path / "bin", tmp_path / "sbatch-scripts"
    bin_dir.mkdir()
    record.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("srun", "#!/bin/sh\nexit 1\n"),
                       ("sacct", "#!/bin/sh\ncat \"$FAKE_SACCT\"\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM", str(record))
    sacct = tmp_path / "sacct.txt"
    monkeypatch.setenv("FAKE_SACCT", str(sacct))
    return record, sacct


def test_slurm_gets_one_throttled_array_with_the_runs_resources(tmp_path, fake_slurm):
    record, sacct = fake_slurm
    jobs_dir = tmp_path / "out" / "jobs"
    resources = Resources(gpus=2, cpus=6, mem_gb=12.0, time_min=90, partition="gpu",
                          account="lab")
    specs = [JobSpec(baseline(seed), tmp_path / "store" / f"run{seed}", "vision-baseline",
                     resources) for seed in range(3)]
    options = LaunchOptions(launcher="slurm", wait=False)
    tracked = launch.submit(specs, options, jobs_dir, jobs=2, keep_checkpoints=True,
                            config={"setup": ["module load cuda/12.4"]})
    (script,) = sorted(record.iterdir())  # ONE sbatch call: the array
    text = script.read_text()
    for line in ("#SBATCH --array=0-2%2", "#SBATCH --partition=gpu", "#SBATCH --account=lab",
                 "#SBATCH --time=90", "#SBATCH --mem=12GB", "#SBATCH --cpus-per-task=6",
                 "#SBATCH --gpus-per-node=2", "#SBATCH --nodes=1",
                 f"#SBATCH --output={jobs_dir}/%A_%a/%A_%a_0_log.out",
                 "#SBATCH --job-name=dreamlib-vision-baseline", "module load cuda/12.4"):
        assert line in text.splitlines(), (line, text)
    assert [item.job_id for item in tracked] == ["4242_0", "4242_1", "4242_2"]
    for item in tracked:
        saved = json.loads(launch.record_path(jobs_dir, item.spec).read_text())
        assert (saved["launcher"], saved["job_id"]) == ("slurm", item.job_id)
        assert saved["job_folder"] == str(jobs_dir / item.job_id)

    # a rerun follows the jobs sacct still has queued or running, and resubmits the others
    sacct.write_text("JobID|State|NodeList\n4242_0|RUNNING|n1\n4242_1|PENDING|None\n"
                     "4242_2|FAILED|n2\n")
    following = [launch.earlier_job(jobs_dir, spec) for spec in specs]
    assert [item is not None for item in following] == [True, True, False]
    # a job sacct does not know (purged from its database): resubmitted, the lock protects it
    unknown = launch.Tracked(specs[0], "slurm", "4243_0", str(jobs_dir / "4243_0"))
    launch.write_record(jobs_dir, unknown)
    assert launch.earlier_job(jobs_dir, specs[0]) is None


# ------------------------------------------------------------------------------------------
# Real jobs on this machine (submitit's local executor)
# ------------------------------------------------------------------------------------------


def tables(out: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted((out / "results" / "tables")
                                                           .glob("*.csv"))}


@pytest.mark.slow
def test_a_local_batch_trains_its_runs_as_jobs_and_writes_the_same_tables(tmp_path):
    """Notebook 02 of the smoke profile (11 runs): trained as 11 submitit jobs, 2 at once on
    one thread each, then read by the notebook, against the inline batch's pool at 2 x 1."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    outs = {}
    for launcher in ("local", "inline"):
        out = tmp_path / launcher
        done = subprocess.run([sys.executable, "-m", "dreamlib", "reproduce", "--profile",
                               "smoke", "--only", "02", "--launcher", launcher, "--output-dir",
                               str(out), "--jobs", "2", "--threads", "1"],
                              cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=DEADLINE)
        assert done.returncode == 0, done.stderr[-3000:]
        outs[launcher] = (out, done.stdout + done.stderr)
    out, text = outs["local"]
    runs = sorted(path.name for path in (out / "results" / "runs").iterdir())
    assert len(runs) == 11
    assert "submitted 11 run(s) as local jobs (1 job array(s), at most 2 at once)" in text
    assert "0 queued 0 running 11 done 0 failed" in text
    jobs = out / "jobs"
    job_folders = [p for p in jobs.iterdir() if p.name.isdigit()]
    assert len(job_folders) == 11  # one job per run, its files under <output-dir>/jobs
    logs = job_logs(jobs)
    for run in runs:  # each run trained by a job (not by the notebook)
        assert logs.count(f"{run} epoch 1/") == 1, run
    assert set(read_timings(out)) == {("02", "read")}  # the notebook only read the store
    assert tables(out) and tables(out) == tables(outs["inline"][0])
    for run in runs:
        ours = json.loads((out / "results" / "runs" / run / METRICS_FILE).read_text())
        theirs = json.loads((outs["inline"][0] / "results" / "runs" / run / METRICS_FILE)
                            .read_text())
        assert ours["threads"] == theirs["threads"] == 1
        assert ours["accuracy"] == theirs["accuracy"]


@pytest.mark.slow
def test_a_killed_job_is_resubmitted_by_the_next_launch_and_resumes(tmp_path):
    ctx = context("smoke", str(tmp_path / "out"))
    cfg = baseline(epochs=20, max_train=256)
    folder = run_folder(ctx.runs, cfg)
    options = LaunchOptions(launcher="local", jobs=1, threads=1, wait=False)
    first = launch.launch(ctx, [(cfg, folder)], options, log=lambda line: None)
    assert (first.submitted, first.counts) == (1, None)  # --no-wait: submitted, not waited

    wait_for(lambda: (folder / CHECKPOINT_FILE).exists() and (folder / LOG_FILE).exists(),
             "the first checkpoint")
    holder = json.loads((folder / LOCK_FILE).read_text())["pid"]  # the training process
    os.kill(holder, signal.SIGKILL)
    record = json.loads(launch.record_path(ctx.out / "jobs", launch.JobSpec(
        cfg, folder, "", None)).read_text())
    wait_for(lambda: not launch.local_job_alive(record["job_id"]), "the killed job to end")
    assert not (folder / METRICS_FILE).exists()
    epochs_before = len((folder / LOG_FILE).read_text().splitlines()) - 1
    assert 1 <= epochs_before < 20

    lines = []
    second = launch.launch(ctx, [(cfg, folder)], LaunchOptions(launcher="local", jobs=1,
                                                              threads=1), log=lines.append)
    assert (second.submitted, second.earlier, second.failed) == (1, 0, [])
    assert second.counts == {"queued": 0, "running": 0, "done": 1, "failed": 0}
    new_job = json.loads(launch.record_path(ctx.out / "jobs", launch.JobSpec(
        cfg, folder, "", None)).read_text())["job_id"]
    assert new_job != record["job_id"]
    log = (ctx.out / "jobs" / new_job / f"{new_job}_0_log.out").read_text()
    assert "took over" in log  # the killed process's lock
    resumed = [line for line in log.splitlines() if line.startswith("resuming")]
    assert len(resumed) == 1 and f"after epoch {epochs_before}" in resumed[0], log
    assert "epoch 1/20" not in log  # nothing trained twice
    rows = (folder / LOG_FILE).read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == list(range(1, 21))
    assert json.loads((folder / METRICS_FILE).read_text())["epochs"] == 20

    third = launch.launch(ctx, [(cfg, folder)], LaunchOptions(launcher="local"),
                          log=lines.append)
    assert third.submitted == 0  # in the store: nothing to submit
    assert "every run of the plan is in the store" in lines[-1]


@pytest.mark.slow
def test_two_launchers_over_one_output_folder_train_each_run_once(tmp_path):
    """Both launchers submit every run (neither saw the other's records); four jobs start at
    once, and the run store's locks leave each run to one of them: the other finds it held
    (and ends at once) or finished."""
    ctx = context("smoke", str(tmp_path / "out"))
    specs = [JobSpec(cfg, run_folder(ctx.runs, cfg), launch.run_kind(cfg),
                     Resources(0, 1, 4.0, 30)) for cfg in (baseline(0), baseline(1))]
    options = LaunchOptions(launcher="local", threads=1)
    jobs_dir = ctx.out / "jobs"
    first = launch.submit(specs, options, jobs_dir, jobs=4, keep_checkpoints=True)
    second = launch.submit(specs, options, jobs_dir, jobs=4, keep_checkpoints=True)
    tracked = first + second
    wait_for(lambda: not any(item.active() for item in tracked), "the four jobs", every=0.5)
    results = [item.job.result() for item in tracked]  # raises if a job failed
    assert set(results) <= {"done", "held"}, results
    logs = job_logs(jobs_dir)
    for spec in specs:
        assert logs.count(f"{spec.folder.name} epoch 1/") == 1, logs
        assert (spec.folder / METRICS_FILE).is_file()
        assert not (spec.folder / LOCK_FILE).exists()
    assert launch.run_states(tracked, [s.folder for s in specs])["done"] == 2
