"""Run the numbered notebooks in batch with papermill: ``python -m dreamlib reproduce``.

Each notebook gets the profile and the output folders as papermill parameters; its executed
copy is kept beside the results (``results/notebooks/``). One failing notebook does not stop
the others; the batch ends with a summary and a non-zero exit status if any failed.

Papermill rewrites its output after every cell, so a notebook executes into a hidden partial
copy beside the final one (``.NN_name.running-<host>-<pid>.ipynb``) that replaces the final
copy atomically only when the notebook succeeded. A killed batch therefore leaves the previous
executed copy intact (the partial one stays, showing where it stopped, until the next batch on
this host removes it); a failed notebook's partial copy is kept as ``NN_name.failed.ipynb``
(removed again by the next success), also leaving the previous good copy as it was.

Several runs at once (:mod:`dreamlib.parallel`): before the notebooks, the runs of the plan not
yet in the store are trained in a pool of ``jobs`` processes of ``threads`` torch threads each
(by default chosen from the machine: 2 x 1 on 2 CPU cores, one job with a GPU); the notebooks
then read them. With one job (and no ``threads`` asked for) nothing changes: the notebooks
train their runs themselves, one after another.

While it runs, one progress bar counts the finished runs of the batch's plan (the unique runs
of the selected notebooks' grids) with an ETA; each notebook that succeeds records its wall
time and how many of its runs it trained in ``results/timings.csv`` (the notebooks' own
introductions quote it, :mod:`dreamlib.narrative`); at the end every executed copy is also
written as an HTML page under ``results/html/`` with an ``index.html``.

Paths: with ``--output-dir DIR`` everything goes under DIR (``results/``, ``figures/``, the run
store ``results/runs/``). Without it, the ``default`` profile writes into the repository (the
committed results) and other profiles into ``.cache/outputs/<profile>`` so a smoke or paper
run never overwrites the committed CPU results by accident.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import threading
import time
from pathlib import Path

from tqdm.auto import tqdm

from .errors import ConfigError
from .experiments import notebook_entries
from .locks import HOST, pid_alive
from .narrative import record_timing
from .parallel import parallel_layout, train_in_pool
from .runs import METRICS_FILE, RunConfig, atomic_write_text, run_folder
from .runtime import NOTEBOOK_DIR, REPO, Context, context, default_output_dir
from .schedule import unique_runs


def notebooks(only: str | None = None) -> list[Path]:
    """The numbered notebooks, optionally only those whose number is in ``only`` ("02,05")."""
    found = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if only is None:
        return found
    wanted = {part.strip().zfill(2) for part in only.split(",") if part.strip()}
    known = {path.name[:2] for path in found}
    if not wanted:  # "" or ",": running every notebook, or none, is never what was meant
        raise ConfigError(f"--only {only!r} names no notebook; pass numbers such as 02,05, or "
                          f"leave --only out to run them all ({', '.join(sorted(known))})")
    unknown = sorted(wanted - known)
    if unknown:
        raise ConfigError(f"unknown notebook number(s) {', '.join(unknown)} in --only; "
                          f"choose from: {', '.join(sorted(known))}")
    return [path for path in found if path.name[:2] in wanted]


def scrub_paths(notebook: Path, published: Path | None = None) -> None:
    """Replace this machine's repository path by ``<repo>`` in an executed copy (papermill
    records absolute paths; a committed copy should not carry them), then the batch's output
    folder (``<output-dir>/results/notebooks/NAME``) by ``<output-dir>`` where it lies outside
    the repository, and the partial copy's name (host and pid) by the ``published`` one it is
    about to become."""
    text = notebook.read_text()
    cleaned = text.replace(str(REPO), "<repo>")
    cleaned = cleaned.replace(str(notebook.resolve().parents[2]), "<output-dir>")
    if published is not None:
        cleaned = cleaned.replace(notebook.name, published.name)
    if cleaned != text:
        atomic_write_text(notebook, cleaned)


def settle_streams(notebook: Path) -> None:
    """Keep what a reader's screen shows of the text streams, not every redraw.

    A training cell's progress bars redraw themselves with carriage returns; the kernel
    sends each redraw as its own output, thousands per cell. nbconvert's stream coalescer
    merges them and applies the carriage returns, as Jupyter does on screen; streams left
    blank (bars that clear themselves when done) are dropped."""
    import nbformat  # deferred: nbformat/nbconvert take ~2 s to import
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor  # deferred: as nbformat

    nb = nbformat.read(notebook, as_version=4)
    before = json.dumps([cell.get("outputs") for cell in nb.cells])
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})
    for cell in nb.cells:
        if "outputs" in cell:
            cell.outputs = [out for out in cell.outputs
                            if out.output_type != "stream" or out.text.strip()]
    if json.dumps([cell.get("outputs") for cell in nb.cells]) != before:
        atomic_write_text(notebook, nbformat.writes(nb))


def partial_copy(executed: Path, notebook: Path) -> Path:
    """Where ``notebook`` executes until it completes: hidden, beside its final copy, and
    unique per process (host and pid), so two batches on one output folder never share it."""
    return executed / f".{notebook.stem}.running-{HOST}-{os.getpid()}.ipynb"


def failed_copy(executed: Path, notebook: Path) -> Path:
    return executed / f"{notebook.stem}.failed.ipynb"


def remove_dead_partials(executed: Path, notebook: Path) -> None:
    """Delete the partial copies of ``notebook`` left by killed batches of this host (their
    pid is gone); a live batch's partial copy, or another host's, is left alone."""
    for leftover in executed.glob(f".{notebook.stem}.running-{HOST}-*.ipynb"):
        pid = leftover.name[:-len(".ipynb")].rsplit("-", 1)[1]
        if pid.isdigit() and not pid_alive(int(pid)):
            leftover.unlink(missing_ok=True)


def quiet_kernel_manager():
    """A kernel manager whose kernel writes nothing to our terminal and draws figures inline.

    The kernel runs in its own session (jupyter_client), so Ctrl-C reaches only this process;
    shutting the kernel down mid-cell then made it print a ZMQ traceback ("Socket operation on
    non-socket") before our "interrupted". Its stderr carries only the kernel's own log lines
    (cell output and errors travel over ZMQ into the executed copy), so it is dropped.

    MPLBACKEND is removed from the kernel's environment: with it set (Agg, say), ipykernel
    keeps that backend instead of its inline one and the executed copies hold no figures.
    """
    from jupyter_client.manager import AsyncKernelManager  # deferred: zmq, only to start kernels

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw["stderr"] = subprocess.DEVNULL
            kw["env"] = {k: v for k, v in (kw.get("env") or os.environ).items()
                         if k != "MPLBACKEND"}
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return QuietKernelManager


def execute(notebook: Path, executed: Path, parameters: dict) -> str:
    """Run one notebook into its partial copy, then publish it: 'ok' or 'FAILED: ...'."""
    import papermill  # deferred: papermill (with nbformat) takes ~2 s to import

    remove_dead_partials(executed, notebook)
    partial = partial_copy(executed, notebook)
    try:
        papermill.execute_notebook(str(notebook), str(partial), parameters=parameters,
                                   cwd=str(NOTEBOOK_DIR), kernel_name="python3",
                                   progress_bar=False, log_output=False,
                                   kernel_manager_class=quiet_kernel_manager())
        status = "ok"
    except Exception as exc:  # noqa: BLE001 - report every notebook's failure, keep going
        status = f"FAILED: {exc.__class__.__name__}: {str(exc).strip().splitlines()[-1][:200]}"
    if partial.exists():
        published = executed / notebook.name if status == "ok" else failed_copy(executed, notebook)
        scrub_paths(partial, published)
        settle_streams(partial)
        os.replace(partial, published)
    if status == "ok":
        failed_copy(executed, notebook).unlink(missing_ok=True)
    return status


def plan_runs(ctx: Context, selected: list[Path]) -> list[tuple[RunConfig, Path]]:
    """The runs the selected notebooks train or read, as ``ctx`` trains them (their grids'
    unique runs, shrunk in a dry run, with the context's data folder, as
    :meth:`Context.run` passes them to :func:`dreamlib.schedule.run_entries`): (config, folder)
    pairs in first-seen order."""
    entries = notebook_entries(ctx.profile, [path.name[:2] for path in selected])
    runs: dict[str, tuple[RunConfig, Path]] = {}
    for cfg in unique_runs(entries):
        cfg = ctx.trained_config(cfg)
        if ctx.data_dir:
            cfg = dataclasses.replace(cfg, data_dir=ctx.data_dir)
        runs.setdefault(cfg.run_hash(), (cfg, run_folder(ctx.runs, cfg)))
    return list(runs.values())


def plan_folders(ctx: Context, selected: list[Path]) -> list[Path]:
    """The run folders the selected notebooks train or read (:func:`plan_runs`)."""
    return [folder for _, folder in plan_runs(ctx, selected)]


def finished(folders: list[Path]) -> int:
    """How many of the run folders hold their metrics (finished runs)."""
    return sum((folder / METRICS_FILE).is_file() for folder in folders)


class RunProgress:
    """One progress bar over the whole batch: finished runs of the plan, with tqdm's ETA.

    A background thread counts the planned run folders holding ``metrics.json`` every few
    seconds, so it follows the notebooks' training from outside, whatever they print.
    """

    def __init__(self, folders: list[Path], enabled: bool = True, every: float = 2.0):
        self.folders, self.every = folders, every
        self.bar = None
        if enabled and folders:
            done = self.count()
            self.bar = tqdm(total=len(folders), initial=done, unit="run", desc="runs",
                            dynamic_ncols=True)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def count(self) -> int:
        return finished(self.folders)

    def _poll(self) -> None:
        while not self._stop.wait(self.every):
            self.update()

    def update(self) -> None:
        if self.bar is not None:
            self.bar.update(self.count() - self.bar.n)

    def write(self, line: str, log) -> None:
        """A log line that does not break the bar."""
        if self.bar is not None and log is print:
            self.bar.write(line)
        else:
            log(line)

    def __enter__(self):
        if self.bar is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self.bar is not None:
            self._thread.join()
            self.update()
            self.bar.close()


# The pages of results/html and their landing page live in dreamlib.pages; these names stay
# importable from here, where the batch (and its tests) always found them.
from .pages import STYLESHEET, export_html, shared_stylesheet  # noqa: F401

OUTPUT_MARKER = ".dreamlib-output"  # in an --output-dir: the batch writes here (its own files)


def claim_output_dir(ctx: Context) -> None:
    """Make sure the batch overwrites only files it wrote: its output folder must be new,
    empty, the repository or the profile's default folder, or marked by an earlier batch
    (:data:`OUTPUT_MARKER`). A folder holding anything else (say a user's own
    ``results/html/index.html``) is refused before anything in it changes, as ``train --out``
    refuses a folder that is not a run's."""
    out = ctx.out
    ours = out in (REPO, default_output_dir(ctx.profile)) or (out / OUTPUT_MARKER).is_file()
    if not ours and out.is_dir():
        foreign = sorted(entry.name for entry in out.iterdir() if entry != ctx.runs)
        if foreign:
            more = len(foreign) - 5
            shown = ", ".join(foreign[:5]) + (f" and {more} more" if more > 0 else "")
            raise ConfigError(
                f"--output-dir {out} already holds files that dreamlib did not write ({shown}) "
                f"and no {OUTPUT_MARKER}; nothing was changed. Pass a new or empty folder "
                f"(e.g. {out / 'dreamlib'}), or create {out / OUTPUT_MARKER} if it is the "
                "output of an earlier dreamlib batch")
    if not ours:
        atomic_write_text(out / OUTPUT_MARKER, "This folder holds the outputs of `python -m "
                          "dreamlib reproduce`; the batch rewrites its own files here.\n")


def plural(count: int, noun: str, suffix: str = "s") -> str:
    return f"{count} {noun}{suffix if count != 1 else ''}"


def layout(ctx: Context, jobs: int | None, threads: int | None) -> tuple[int, int]:
    """(jobs, threads) of the batch: :func:`dreamlib.parallel.parallel_layout`, except that a
    dry run left to choose trains one run at a time (each of its runs is fitted to the dry
    run's whole memory budget, :data:`dreamlib.runtime.DRY_RUN_MEMORY`)."""
    if ctx.overrides and jobs is None:
        jobs = 1
    return parallel_layout(jobs=jobs, threads=threads)


def train_missing(ctx: Context, runs: list[tuple[RunConfig, Path]], jobs: int,
                  threads: int, threads_asked: bool, log) -> None:
    """Train the plan's runs that are not in the store yet in a pool of ``jobs`` processes x
    ``threads`` threads (:func:`dreamlib.parallel.train_in_pool`), before the notebooks.

    Every missing run goes to the pool, even one alone: a batch's runs then all have the
    layout's thread count, whether the batch starts from an empty store or resumes a killed
    one (a run is bit-identical to itself only at the same thread count). One job without a
    thread count asked for trains nothing here: the notebooks train their runs themselves,
    one after another, as the batch did before it had a pool."""
    if jobs == 1 and not threads_asked:
        return
    missing = [(cfg, folder) for cfg, folder in runs if not (folder / METRICS_FILE).is_file()]
    if not missing:
        return
    jobs = min(jobs, len(missing))
    log(f"training {plural(len(missing), 'run')} in {plural(jobs, 'process', 'es')} x "
        f"{plural(threads, 'thread')}")
    start = time.time()
    outcomes = train_in_pool(missing, jobs, threads, keep_checkpoints=not ctx.overrides,
                             log=log)
    counts = {kind: sum(outcome.split(":")[0] == kind for outcome in outcomes.values())
              for kind in ("done", "held", "failed")}
    held = f", {counts['held']} held by other workers" if counts["held"] else ""
    log(f"trained {plural(counts['done'], 'run')}, {counts['failed']} failed{held} "
        f"({time.time() - start:.0f}s)")


def launch_missing(ctx: Context, runs: list[tuple[RunConfig, Path]], options,
                   bar: RunProgress, log) -> int | None:
    """Hand the plan's missing runs to submitit jobs (:func:`dreamlib.launch.launch`) and wait
    for them, showing queued / running / done / failed beside the batch's bar. Returns None
    when the notebooks may run (every job ended, its run in the store or held by another
    live process, which the notebook then waits for); else the batch stops here: 0 after
    ``--no-wait``, or the number of runs whose jobs failed (rerunning resubmits them, and
    they resume from their last checkpoint): the notebooks would train them on this machine."""
    from .launch import launch, status_line  # deferred: submitit, only for these launchers

    def show(counts: dict) -> None:
        if bar.bar is not None:
            bar.update()
            bar.bar.set_postfix_str(status_line(counts))
        else:
            log("jobs: " + status_line(counts))

    outcome = launch(ctx, runs, options, log=log, on_status=show)
    if outcome.counts is None:
        log(f"--no-wait: {plural(outcome.submitted, 'run')} submitted, "
            f"{plural(outcome.earlier, 'run')} left to earlier jobs; rerun the same command to "
            "collect them (finished runs are read from the store, failed ones resubmitted), "
            "then the notebooks run")
        return 0
    if outcome.failed:
        for folder, log_file in outcome.failed:
            log(f"run {folder} failed in its job (log: {log_file})")
        log(f"{plural(len(outcome.failed), 'run')} failed: the notebooks were not run; fix the "
            "cause, then rerun the same command (it resubmits only these, and they resume from "
            "their last checkpoint)")
        return len(outcome.failed)
    log("jobs: " + status_line(outcome.counts))
    return None


def reproduce(profile: str, only: str | None = None, output_dir: str | None = None,
              runs_dir: str | None = None, data_dir: str | None = None, log=print,
              progress: bool = True, jobs: int | None = None,
              threads: int | None = None, launch=None) -> int:
    """Execute the notebooks; returns the number that failed.

    ``jobs`` x ``threads``: the processes and torch threads each that train the plan's
    missing runs before the notebooks (:func:`train_missing`); left out, chosen from the
    machine (:func:`layout`). ``launch``: a :class:`dreamlib.launch.LaunchOptions` whose
    launcher is ``local`` or ``slurm`` hands those runs to submitit jobs instead
    (:func:`launch_missing`); None or ``inline``: the batch as above."""
    ctx = context(profile, output_dir, runs_dir, data_dir)
    selected = notebooks(only)
    if launch is not None:  # bad launcher flags: one error before anything is written
        from .launch import check_options  # deferred: as launch_missing

        check_options(launch)
    jobs, threads_used = layout(ctx, jobs, threads)
    claim_output_dir(ctx)
    executed = ctx.out / "results" / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    # paths relative to the notebooks' folder (papermill's cwd): no machine path in the copies
    parameters = {"profile": ctx.profile, "output_dir": os.path.relpath(ctx.out, NOTEBOOK_DIR),
                  "runs_dir": os.path.relpath(ctx.runs, NOTEBOOK_DIR), "data_dir": ctx.data_dir,
                  "train": True}
    summary = []
    runs = plan_runs(ctx, selected)
    plan = [folder for _, folder in runs]
    log(f"[{profile}] {len(selected)} notebook(s), {len(plan)} run(s) in the plan")
    with RunProgress(plan, enabled=progress) as bar:
        if launch is not None and launch.launcher != "inline":  # submitit jobs train them
            stopped = launch_missing(ctx, runs, launch, bar,
                                     lambda line: bar.write(f"[{profile}] {line}", log))
            if stopped is not None:
                return stopped
        else:
            train_missing(ctx, runs, jobs, threads_used, threads is not None,
                          lambda line: bar.write(f"[{profile}] {line}", log))
        for path in selected:
            start = time.time()
            bar.write(f"[{profile}] {path.name} ...", log)
            own = plan_folders(ctx, [path])
            done_before = finished(own)
            status = execute(path, executed, parameters)
            seconds = time.time() - start
            summary.append((path.name, status, seconds))
            if status == "ok":  # the time a reader of this notebook can expect (narrative)
                record_timing(ctx.out, path.name[:2], profile, seconds, len(own),
                              finished(own) - done_before)
            bar.write(f"[{profile}] {path.name} {status} ({seconds:.0f}s)", log)
    export_html(executed, ctx.out / "results" / "html")
    failed = [name for name, status, _ in summary if status != "ok"]
    log(f"reproduce ({profile}): {len(summary) - len(failed)} ok, {len(failed)} failed, "
        f"{sum(s for *_, s in summary):.0f}s; outputs in {ctx.out}")
    for name, status, _ in summary:
        if status != "ok":
            log(f"  {name}: {status} (executed copy: {failed_copy(executed, Path(name))})")
    return len(failed)
