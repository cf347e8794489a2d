"""Faults a long grid meets: hard kills, a diverging loss, a full disk, no write permission.

* Kills are real ``SIGKILL``s of real ``python -m dreamlib`` processes at exact points: a
  small driver script patches ``os.replace`` / ``os.fsync`` (or papermill's notebook writer)
  to kill its own process when the file being written is the target. After each kill the
  files left must be readable, and a plain rerun must end with the metrics of an
  uninterrupted run.
* A full disk (ENOSPC), a missing permission (EACCES) and a read-only mount (EROFS) are
  simulated by a **patched writer** (``tempfile.mkstemp`` / ``os.fsync`` raising the error
  for one target file): the tests run as root, so ``chmod`` would not stop a write. One more
  case fills a real small tmpfs where this process may mount one, and is skipped elsewhere.
  Each must give one clear error line naming the file and leave earlier results
  byte-identical.

Runs are the cheapest real ones: the chain-only baseline on 64 digits at 16 px, 3 epochs.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

import dreamlib.train as train
from dreamlib import locks, runs
from dreamlib.cli import EXIT_IO_ERROR, main
from dreamlib.profiles import make_run_config
from dreamlib.runs import CHECKPOINT_FILE, CONFIG_FILE, LOG_FILE, METRICS_FILE

REPO = Path(__file__).resolve().parent.parent
SHARED_RUNS = REPO / ".cache" / "outputs" / "smoke" / "results" / "runs"  # as test_reproduce.py
EPOCHS = 3
FLAGS = ["--profile", "smoke", "--model", "baseline", "--width", "8", "--epochs", str(EPOCHS),
         "--max-train", "64", "--max-test", "32", "--batch-size", "32", "--quiet"]
STEPS_PER_EPOCH = 2  # 64 examples, batch 32

KILL_DRIVER = '''"""python kill.py FUNC NAME NTH ARGS...: run `python -m dreamlib ARGS`, but
SIGKILL this process inside the NTH call of os.FUNC (replace or fsync) whose file is NAME."""
import os, signal, sys
from pathlib import Path

func, name, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
real, seen = getattr(os, func), 0


def target(args):
    if func == "replace":
        return Path(args[1]).name
    written = Path(os.readlink(f"/proc/self/fd/{args[0]}")).name  # .<name>.<random>.tmp
    return written[1:].rsplit(".", 2)[0] if written.endswith(".tmp") else written


def killing(*args, **kwargs):
    global seen
    if target(args) == name:
        seen += 1
        if seen == nth:
            os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)


setattr(os, func, killing)
from dreamlib.cli import main
sys.exit(main(sys.argv[4:]))
'''

NOTEBOOK_KILL_DRIVER = '''"""python kill_notebook.py ARGS...: run `python -m dreamlib ARGS`
(reproduce), but SIGKILL this process right after papermill saved a notebook whose
ctx.run cell has completed."""
import os, signal, sys
import papermill.engines as engines

real = engines.write_ipynb


def write_then_kill(nb, path, *args, **kwargs):
    real(nb, path, *args, **kwargs)
    if any("ctx.run(" in cell.source and cell.metadata.get("papermill", {}).get("status")
           == "completed" for cell in nb.cells):
        os.kill(os.getpid(), signal.SIGKILL)


engines.write_ipynb = write_then_kill
from dreamlib.cli import main
sys.exit(main(sys.argv[1:]))
'''


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "dreamlib-cache"


@pytest.fixture(scope="module")
def env(cache) -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "DREAMLIB_CACHE": str(cache),
            "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def offline(cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("DREAMLIB_CACHE", str(cache))


def dreamlib(env: dict, *argv: str, driver: Path | None = None, **kwargs):
    command = [sys.executable, *([str(driver)] if driver else ["-m", "dreamlib"]), *argv]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600, **kwargs)


def log_column(folder: Path, name: str) -> list[str]:
    with open(folder / LOG_FILE, newline="") as handle:
        return [row[name] for row in csv.DictReader(handle)]


def results_of(folder: Path) -> dict:
    """What must not change between an interrupted-and-rerun run and an uninterrupted one."""
    metrics = json.loads((folder / METRICS_FILE).read_text())
    return {"accuracy": metrics["accuracy"], "train_loss": metrics["train_loss"],
            "run_hash": metrics["run_hash"], "log_loss": log_column(folder, "train_loss"),
            "log_accuracy": log_column(folder, "test_accuracy")}


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                       p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.tmp"))


def checkpoint_epoch(folder: Path) -> int | None:
    if not (folder / CHECKPOINT_FILE).exists():
        return None
    return torch.load(folder / CHECKPOINT_FILE, map_location="cpu", weights_only=True)["epoch"]


# --------------------------------------------------------------------------- hard kills


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, env) -> dict:
    """The reference: the same run, never interrupted, in a process like the killed ones."""
    folder = tmp_path_factory.mktemp("uninterrupted") / "run"
    done = dreamlib(env, "train", *FLAGS, "--out", str(folder))
    assert done.returncode == 0, done.stderr[-3000:]
    return results_of(folder)


KILLS = {  # (os function, file, which call) -> (checkpointed epochs, log rows) left behind
    ("replace", CHECKPOINT_FILE, 2): (1, 2),  # epoch 2's checkpoint written, not yet in place
    ("fsync", METRICS_FILE, 1): (EPOCHS, EPOCHS),  # the last file of the run, half written
    ("fsync", LOG_FILE, 3): (2, 2),  # epoch 3's log row being written
}


@pytest.mark.slow
@pytest.mark.parametrize("kill", sorted(KILLS), ids=lambda k: f"{k[0]}-{k[1]}-{k[2]}")
def test_a_kill_while_writing_leaves_readable_files_and_the_rerun_matches(kill, tmp_path, env,
                                                                         uninterrupted):
    func, name, nth = kill
    epochs_kept, rows_kept = KILLS[kill]
    driver = tmp_path / "kill.py"
    driver.write_text(KILL_DRIVER)
    folder = tmp_path / "run"

    killed = dreamlib(env, func, name, str(nth), "train", *FLAGS, "--out", str(folder),
                      driver=driver)

    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    (leftover,) = temp_files(folder)
    assert leftover.startswith(f".{name}.")  # killed in the middle of writing that file
    assert not (folder / METRICS_FILE).exists()
    json.loads((folder / CONFIG_FILE).read_text())
    assert checkpoint_epoch(folder) == epochs_kept  # loads (weights_only) at the previous epoch
    assert len(log_column(folder, "epoch")) == rows_kept
    holder = locks.read_holder(folder / locks.LOCK_FILE)
    assert holder is not None and not locks.pid_alive(holder.pid)  # the dead worker's lock

    rerun = dreamlib(env, "train", *FLAGS, "--out", str(folder))

    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"took over {folder} from pid {holder.pid}" in rerun.stdout
    assert results_of(folder) == uninterrupted
    assert temp_files(folder) == [] and not (folder / locks.LOCK_FILE).exists()


@pytest.mark.slow
def test_a_kill_during_a_notebook_keeps_the_previous_executed_copy(tmp_path, env):
    """``reproduce --only 08`` (the cheapest notebook once the shared smoke runs exist) runs
    once, is killed mid-notebook in a second batch, then a third batch completes."""
    argv = ["reproduce", "--profile", "smoke", "--only", "08",
            "--output-dir", str(tmp_path / "out"), "--runs-dir", str(SHARED_RUNS)]
    executed = tmp_path / "out" / "results" / "notebooks"
    first = dreamlib(env, *argv)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    good = (executed / "08_efficiency.ipynb").read_bytes()

    driver = tmp_path / "kill_notebook.py"
    driver.write_text(NOTEBOOK_KILL_DRIVER)
    killed = subprocess.Popen([sys.executable, str(driver), *argv], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert killed.wait(timeout=600) == -signal.SIGKILL

    assert (executed / "08_efficiency.ipynb").read_bytes() == good
    (partial,) = executed.glob(".08_efficiency.running-*.ipynb")  # the killed batch's copy
    assert partial.name.endswith(f"-{killed.pid}.ipynb")
    cells = json.loads(partial.read_text())["cells"]
    assert any(c["metadata"]["papermill"]["status"] == "completed" and "ctx.run(" in
               "".join(c["source"]) for c in cells)  # the kill came mid-notebook

    rerun = dreamlib(env, *argv)

    assert rerun.returncode == 0 and "1 ok, 0 failed" in rerun.stdout, rerun.stderr[-2000:]
    notebook = json.loads((executed / "08_efficiency.ipynb").read_text())
    statuses = {c["metadata"]["papermill"]["status"] for c in notebook["cells"]
                if c["cell_type"] == "code"}
    assert statuses == {"completed"}
    assert sorted(p.name for p in executed.iterdir()) == ["08_efficiency.ipynb"]


# --------------------------------------------------------------------------- NaN / inf loss


@pytest.fixture(scope="module")
def in_process_reference(tmp_path_factory, cache, one_thread) -> dict:
    """The uninterrupted run in this process (reruns here compare against it: results are
    bit-identical only between runs with the same thread setup)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("DREAMLIB_CACHE", str(cache))
        folder = tmp_path_factory.mktemp("reference") / "run"
        assert main(["train", *FLAGS, "--out", str(folder)]) == 0
    return results_of(folder)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_a_diverging_loss_stops_clearly_and_keeps_the_last_good_checkpoint(
        bad, tmp_path, monkeypatch, capsys, in_process_reference):
    real_loss, calls = train.soft_cross_entropy, {"n": 0}

    def bad_from_epoch_two(logits, targets):
        calls["n"] += 1
        loss = real_loss(logits, targets)
        return loss * bad if calls["n"] > STEPS_PER_EPOCH else loss

    folder = tmp_path / "run"
    monkeypatch.setattr(train, "soft_cross_entropy", bad_from_epoch_two)
    assert main(["train", *FLAGS, "--out", str(folder)]) == 2
    monkeypatch.undo()
    (line,) = error_lines(capsys.readouterr().err)
    assert f"loss became {bad}" in line and "the checkpoint of epoch 1 is kept" in line
    assert "--lr" in line and str(folder) in line
    assert checkpoint_epoch(folder) == 1 and not (folder / METRICS_FILE).exists()
    assert not (folder / locks.LOCK_FILE).exists()  # released on the way out

    assert main(["train", *FLAGS, "--out", str(folder)]) == 0
    assert results_of(folder) == in_process_reference


# --------------------------------------------------------------------------- full disk, permissions


def finished_neighbour(root: Path) -> Path:
    """An earlier finished run in the same store: it must come through byte-identical."""
    folder = root / "earlier"
    cfg = make_run_config("smoke", "vision", model={"method": "baseline", "width": 8}, epochs=1,
                          max_train=32, max_test=32, batch_size=32, seed=3)
    train.train_run(cfg, folder, log=lambda *_: None, progress=False)
    return folder


def fsync_fails_for(name: str, code: int):
    """Patched writer: os.fsync of the temp file of ``name`` fails with ``code``."""
    real = os.fsync

    def fsync(fd):
        if Path(os.readlink(f"/proc/self/fd/{fd}")).name.startswith(f".{name}."):
            raise OSError(code, os.strerror(code))
        return real(fd)
    return fsync


def mkstemp_fails_for(name: str, code: int):
    """Patched writer: creating the temp file of ``name`` fails with ``code``."""
    real = tempfile.mkstemp

    def mkstemp(*args, prefix=None, dir=None, **kwargs):
        if prefix == f".{name}.":
            raise OSError(code, os.strerror(code), str(Path(dir) / f"{prefix}XXXXXX.tmp"))
        return real(*args, prefix=prefix, dir=dir, **kwargs)
    return mkstemp


WRITE_FAULTS = {  # id -> (patched function, its fake, file, words of the message)
    "disk-full-at-metrics": ("fsync", fsync_fails_for(METRICS_FILE, errno.ENOSPC), METRICS_FILE,
                             "no space left on the device; free space there"),
    "quota-at-log": ("fsync", fsync_fails_for(LOG_FILE, errno.EDQUOT), LOG_FILE,
                     "disk quota exceeded; free space there"),
    "no-permission-at-checkpoint": ("mkstemp", mkstemp_fails_for(CHECKPOINT_FILE, errno.EACCES),
                                    CHECKPOINT_FILE,
                                    "permission denied; make that folder writable"),
    "read-only-at-config": ("mkstemp", mkstemp_fails_for(CONFIG_FILE, errno.EROFS), CONFIG_FILE,
                            "read-only file system; choose an output folder"),
}


@pytest.mark.parametrize("fault", sorted(WRITE_FAULTS))
def test_a_write_error_is_one_clear_line_and_earlier_results_survive(
        fault, tmp_path, monkeypatch, capsys, one_thread, in_process_reference):
    func, fake, name, words = WRITE_FAULTS[fault]
    earlier = finished_neighbour(tmp_path)
    before = snapshot(earlier)
    folder = tmp_path / "run"

    monkeypatch.setattr(os if func == "fsync" else tempfile, func, fake)
    rc = main(["train", *FLAGS, "--out", str(folder)])
    monkeypatch.undo()

    err = capsys.readouterr().err
    assert rc == EXIT_IO_ERROR and "Traceback" not in err
    (line,) = error_lines(err)
    assert line.startswith(f"error: cannot write {folder / name}: {words}"), line
    assert "then rerun" in line
    assert snapshot(earlier) == before
    assert temp_files(folder) == [] and not (folder / locks.LOCK_FILE).exists()
    assert not (folder / METRICS_FILE).exists()

    assert main(["train", *FLAGS, "--out", str(folder)]) == 0  # space freed: the rerun finishes
    assert results_of(folder) == in_process_reference


def test_the_debug_flag_shows_the_write_errors_traceback(tmp_path, monkeypatch, one_thread):
    monkeypatch.setattr(os, "fsync", fsync_fails_for(CONFIG_FILE, errno.ENOSPC))
    with pytest.raises(OSError) as info:
        main(["train", *FLAGS, "--out", str(tmp_path / "run"), "--debug"])
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(tmp_path / "run" / CONFIG_FILE)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real tmpfs of ``size`` bytes at tmp_path/disk (root with mount rights only)."""
    mounted = []

    def mount(size: int) -> Path:
        disk = tmp_path / "disk"
        disk.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or 'not root'})")
        mounted.append(disk)
        return disk

    yield mount
    for disk in mounted:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_real_full_tmpfs_is_one_clear_line(tmp_path, small_tmpfs, capsys, one_thread):
    """The patched writers above, checked once against a real full file system."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    earlier = finished_neighbour(tmp_path / "made")
    size = sum(p.stat().st_size for p in earlier.iterdir())
    disk = small_tmpfs(size + 512 * 1024)  # room for the earlier run, not for a checkpoint
    shutil.copytree(earlier, disk / "earlier")
    before = snapshot(disk / "earlier")
    folder = disk / "run"

    rc = main(["train", *FLAGS, "--out", str(folder)])

    (line,) = error_lines(capsys.readouterr().err)
    assert rc == EXIT_IO_ERROR
    assert line.startswith(f"error: cannot write {folder / CHECKPOINT_FILE}: no space left")
    assert snapshot(disk / "earlier") == before
    assert temp_files(folder) == [] and not (folder / locks.LOCK_FILE).exists()
    assert runs.load_metrics(folder) is None
