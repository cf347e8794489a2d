"""Several workers over one run store (``dreamlib.locks``, ``schedule.run_entries``).

Real processes: three workers start the same grid at the same moment (a file barrier) over
one run store, next to a single worker on a store of its own. Each run must be trained by
exactly one worker, every worker must return every record, and the numbers must equal the
single worker's. A worker facing a lock whose holder is alive waits for it, and takes the run
over once that holder is SIGKILLed. The lock rules themselves (dead pid, foreign host,
heartbeat, racing recoverers) are checked directly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from dreamlib import locks
from dreamlib.experiments import Entry
from dreamlib.profiles import make_run_config

REPO = Path(__file__).resolve().parent.parent
DEADLINE = 600  # seconds: a guard against a hung test, never an assertion about speed

WORKER = '''"""python worker.py GRID RUNS_DIR READY GO: wait for GO, run the grid, print the
records."""
import json, os, sys, time
from pathlib import Path

from dreamlib import experiments, schedule
from dreamlib.runs import RunConfig

grid_file, runs_dir, ready, go = sys.argv[1:5]
entries = [experiments.Entry(e["label"], RunConfig.from_dict(e["cfg"]))
           for e in json.loads(Path(grid_file).read_text())]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.05)
records = schedule.run_entries(entries, runs_dir, log=lambda line: print("LOG", line,
                                                                            flush=True),
                               poll=0.2)
print("RECORDS", json.dumps([{k: r[k] for k in ("label", "run", "accuracy", "train_loss")}
                             for r in records]), flush=True)
'''


def grid() -> list[Entry]:
    """Five cheap runs (chain-only baseline, 2 epochs on 64 digits) and one repeated entry,
    as real grids share runs between rows."""
    entries = []
    for seed in range(5):
        cfg = make_run_config("smoke", "vision", model={"method": "baseline", "width": 8},
                              epochs=2, max_train=64, max_test=32, batch_size=32, seed=seed)
        entries.append(Entry(f"seed {seed}", cfg))
    return entries + [Entry("seed 0 again", entries[0].cfg)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("workers")
    (root / "worker.py").write_text(WORKER)
    (root / "grid.json").write_text(json.dumps(
        [{"label": e.label, "cfg": e.cfg.to_dict()} for e in grid()]))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
           "DREAMLIB_CACHE": str(tmp_path_factory.getbasetemp() / "dreamlib-cache")}
    return root, env


def start_worker(setup, runs_dir: Path, name: str, go: Path) -> subprocess.Popen:
    root, env = setup
    return subprocess.Popen([sys.executable, str(root / "worker.py"), str(root / "grid.json"),
                             str(runs_dir), str(root / f"ready-{name}"), str(go)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for(condition, what: str) -> None:
    deadline = time.time() + DEADLINE
    while not condition():
        if time.time() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def finish(proc: subprocess.Popen) -> tuple[list[str], list[dict]]:
    """The worker's log lines and records (after checking it succeeded)."""
    out, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0, err[-3000:]
    logs = [line[4:] for line in out.splitlines() if line.startswith("LOG ")]
    (records,) = [json.loads(line[8:]) for line in out.splitlines() if line.startswith("RECORDS ")]
    return logs, records


def trained_runs(logs: list[str]) -> list[str]:
    """The runs this worker trained: train_run logs '<run> epoch 1/...' for each."""
    return [m.group(1) for line in logs if (m := re.match(r"(\w+) epoch 1/", line))]


def numbers(records: list[dict]) -> list[tuple]:
    return [(r["label"], r["run"], r["accuracy"], r["train_loss"]) for r in records]


def leftovers(store: Path) -> list[str]:
    return sorted(str(p.relative_to(store)) for p in store.rglob("*")
                  if p.name in (locks.LOCK_FILE, locks.GUARD_FILE) or p.name.endswith(".tmp"))


@pytest.fixture(scope="module")
def single(setup, tmp_path_factory):
    """The grid run by one worker alone on its own store: the numbers to match."""
    root, _ = setup
    go = root / "go-single"
    go.touch()
    logs, records = finish(start_worker(setup, tmp_path_factory.mktemp("single"), "single", go))
    return logs, records


@pytest.mark.slow
def test_three_workers_train_each_run_once_and_all_return_the_single_worker_numbers(
        setup, single, tmp_path):
    root, _ = setup
    store, go = tmp_path / "store", tmp_path / "go"
    workers = [start_worker(setup, store, f"w{i}", go) for i in range(3)]
    try:
        wait_for(lambda: all((root / f"ready-w{i}").exists() for i in range(3)), "the workers")
        go.touch()  # all three start the grid together
        results = [finish(w) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()

    expected_runs = {e.cfg.run_hash() for e in grid()}
    trained = Counter(run for logs, _ in results for run in trained_runs(logs))
    assert trained == Counter({run: 1 for run in expected_runs})  # each run once, all runs
    _, single_records = single
    assert len(single_records) == len(grid())
    for _, records in results:
        assert numbers(records) == numbers(single_records)  # every record, identical numbers
    assert leftovers(store) == []
    print("runs trained per worker:", [len(trained_runs(logs)) for logs, _ in results])


@pytest.mark.slow
def test_a_worker_waits_for_a_live_holder_and_takes_over_when_it_is_killed(setup, single,
                                                                           tmp_path):
    root, _ = setup
    store, go = tmp_path / "store", tmp_path / "go"
    held = grid()[2].cfg.run_hash()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    plant_lock(store / held, holder.pid)
    go.touch()
    worker = start_worker(setup, store, "waiter", go)
    try:
        lines = []
        for line in worker.stdout:  # read until the worker says it is waiting for the held run
            lines.append(line)
            if line.startswith("LOG waiting for 1 run(s)"):
                break
        assert lines and held in lines[-1], "".join(lines)
        assert worker.poll() is None  # it cannot finish while the holder lives
        assert not (store / held / "metrics.json").exists()
        holder.kill()
        holder.wait()
        out, err = worker.communicate(timeout=DEADLINE)
    finally:
        for proc in (holder, worker):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert worker.returncode == 0, err[-3000:]
    logs = [line[4:].rstrip("\n") for line in lines + out.splitlines(keepends=True)
            if line.startswith("LOG ")]
    assert any(line.startswith(f"took over {store / held} from pid {holder.pid}") for line in logs)
    assert sorted(trained_runs(logs)) == sorted({e.cfg.run_hash() for e in grid()})
    (records,) = [json.loads(line[8:]) for line in out.splitlines() if line.startswith("RECORDS ")]
    assert numbers(records) == numbers(single[1])
    assert leftovers(store) == []


# --------------------------------------------------------------------------- the lock rules


def plant_lock(folder: Path, pid: int, host: str = locks.HOST, token: str = "planted") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / locks.LOCK_FILE
    path.write_text(json.dumps({"host": host, "pid": pid, "token": token,
                                "started": "2025-01-01T00:00:00+00:00"}))
    return path


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_lock_whose_pid_is_dead_is_taken_over(tmp_path):
    pid = dead_pid()
    path = plant_lock(tmp_path / "run", pid)
    with locks.RunLock(tmp_path / "run") as lock:
        assert lock.took_over is not None and lock.took_over.pid == pid
        mine = json.loads(path.read_text())
        assert (mine["pid"], mine["host"]) == (os.getpid(), locks.HOST)
        with pytest.raises(locks.LockHeld):  # held now, also against this same process
            locks.RunLock(tmp_path / "run").acquire()
    assert not path.exists()


def test_a_live_holder_keeps_its_lock(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        path = plant_lock(tmp_path / "run", holder.pid)
        before = path.read_bytes()
        with pytest.raises(locks.LockHeld) as info:
            locks.RunLock(tmp_path / "run").acquire()
        assert f"pid {holder.pid}" in str(info.value) and str(path) in str(info.value)
        assert path.read_bytes() == before
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_from_another_host_is_stale_only_after_its_heartbeat_stops(tmp_path):
    path = plant_lock(tmp_path / "run", 1, host="another-node")
    with pytest.raises(locks.LockHeld, match="another-node"):
        locks.RunLock(tmp_path / "run").acquire()  # its pid cannot be checked from here
    old = time.time() - locks.STALE_SECONDS - 60
    os.utime(path, (old, old))
    with locks.RunLock(tmp_path / "run") as lock:
        assert lock.took_over.host == "another-node"


def test_the_holder_keeps_its_lock_fresh_with_a_heartbeat(tmp_path, monkeypatch):
    monkeypatch.setattr(locks, "HEARTBEAT_SECONDS", 0.05)
    with locks.RunLock(tmp_path / "run") as lock:
        os.utime(lock.path, (0, 0))  # as if the last beat were long ago
        wait_for(lambda: lock.path.stat().st_mtime > 0, "a heartbeat")
        assert not locks.is_stale(locks.read_holder(lock.path), lock.path)


RACER = '''import sys, time
from pathlib import Path
from dreamlib import locks
folder, go, done = (Path(a) for a in sys.argv[1:4])
while not go.exists():
    time.sleep(0.01)
try:
    lock = locks.RunLock(folder).acquire()
except locks.LockHeld:
    print("held", flush=True)
    sys.exit(0)
print("won", flush=True)
while not done.exists():  # keep it until every racer has answered
    time.sleep(0.01)
lock.release()
'''


def test_of_several_processes_recovering_one_stale_lock_exactly_one_wins(tmp_path):
    plant_lock(tmp_path / "run", dead_pid())
    (tmp_path / "racer.py").write_text(RACER)
    go, done = tmp_path / "go", tmp_path / "done"
    racers = [subprocess.Popen([sys.executable, str(tmp_path / "racer.py"), str(tmp_path / "run"),
                                str(go), str(done)], cwd=REPO, stdout=subprocess.PIPE, text=True)
              for _ in range(3)]
    try:
        go.touch()
        answers = [racer.stdout.readline().strip() for racer in racers]
        done.touch()
        for racer in racers:
            assert racer.wait(timeout=DEADLINE) == 0
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait()
    assert sorted(answers) == ["held", "held", "won"]
    assert leftovers(tmp_path) == []
