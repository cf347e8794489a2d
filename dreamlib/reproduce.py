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

Paths: with ``--output-dir DIR`` everything goes under DIR (``results/``, ``figures/``, the run
store ``results/runs/``). Without it, the ``default`` profile writes into the repository (the
committed results) and other profiles into ``.cache/outputs/<profile>`` so a smoke or paper
run never overwrites the committed CPU results by accident.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .locks import HOST, pid_alive
from .profiles import profile_names
from .runs import check_folder

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"


@dataclass(frozen=True)
class Context:
    """Where a notebook reads and writes, for one profile."""

    profile: str
    out: Path  # holds results/ and figures/
    runs: Path  # the run store
    data_dir: str | None = None


def default_output_dir(profile: str) -> Path:
    """The repository for the profile whose results are committed, else .cache/outputs/<profile>."""
    from .profiles import grid_settings

    return REPO if grid_settings(profile)["publish"] else REPO / ".cache" / "outputs" / profile


def context(profile: str, output_dir: str | None = None, runs_dir: str | None = None,
            data_dir: str | None = None) -> Context:
    """Resolve a notebook's parameters into absolute folders (and quiet the libraries)."""
    if profile not in profile_names():
        raise ConfigError(f"unknown profile {profile!r}; choose one of: {', '.join(profile_names())}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    out = Path(output_dir).resolve() if output_dir else default_output_dir(profile)
    runs = Path(runs_dir).resolve() if runs_dir else out / "results" / "runs"
    check_folder(out, "--output-dir")
    check_folder(runs, "--runs-dir")
    return Context(profile, out, runs, data_dir)


def notebooks(only: str | None = None) -> list[Path]:
    """The numbered notebooks, optionally only those whose number is in ``only`` ("02,05")."""
    found = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return found
    wanted = {part.strip().zfill(2) for part in only.split(",") if part.strip()}
    known = {path.name[:2] for path in found}
    unknown = sorted(wanted - known)
    if unknown:
        raise ConfigError(f"unknown notebook number(s) {', '.join(unknown)} in --only; "
                          f"choose from: {', '.join(sorted(known))}")
    return [path for path in found if path.name[:2] in wanted]


def scrub_paths(notebook: Path, published: Path | None = None) -> None:
    """Replace this machine's repository path by ``<repo>`` in an executed copy (papermill
    records absolute paths; a committed copy should not carry them), and the partial copy's
    name (host and pid) by the ``published`` one it is about to become."""
    from .runs import atomic_write_text

    text = notebook.read_text()
    cleaned = text.replace(str(REPO), "<repo>")
    if published is not None:
        cleaned = cleaned.replace(notebook.name, published.name)
    if cleaned != text:
        atomic_write_text(notebook, cleaned)


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


def execute(notebook: Path, executed: Path, parameters: dict) -> str:
    """Run one notebook into its partial copy, then publish it: 'ok' or 'FAILED: ...'."""
    import papermill

    remove_dead_partials(executed, notebook)
    partial = partial_copy(executed, notebook)
    try:
        papermill.execute_notebook(str(notebook), str(partial), parameters=parameters,
                                   cwd=str(NOTEBOOK_DIR), kernel_name="python3",
                                   progress_bar=False, log_output=False)
        status = "ok"
    except Exception as exc:  # noqa: BLE001 - report every notebook's failure, keep going
        status = f"FAILED: {exc.__class__.__name__}: {str(exc).strip().splitlines()[-1][:200]}"
    if partial.exists():
        published = executed / notebook.name if status == "ok" else failed_copy(executed, notebook)
        scrub_paths(partial, published)
        os.replace(partial, published)
    if status == "ok":
        failed_copy(executed, notebook).unlink(missing_ok=True)
    return status


def reproduce(profile: str, only: str | None = None, output_dir: str | None = None,
              runs_dir: str | None = None, data_dir: str | None = None, log=print) -> int:
    """Execute the notebooks; returns the number that failed."""
    ctx = context(profile, output_dir, runs_dir, data_dir)
    selected = notebooks(only)
    executed = ctx.out / "results" / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    # paths relative to the notebooks' folder (papermill's cwd): no machine path in the copies
    parameters = {"profile": ctx.profile, "output_dir": os.path.relpath(ctx.out, NOTEBOOK_DIR),
                  "runs_dir": os.path.relpath(ctx.runs, NOTEBOOK_DIR), "data_dir": ctx.data_dir}
    summary = []
    for path in selected:
        start = time.time()
        log(f"[{profile}] {path.name} ...")
        status = execute(path, executed, parameters)
        summary.append((path.name, status, time.time() - start))
        log(f"[{profile}] {path.name} {status} ({time.time() - start:.0f}s)")
    failed = [name for name, status, _ in summary if status != "ok"]
    log(f"reproduce ({profile}): {len(summary) - len(failed)} ok, {len(failed)} failed, "
        f"{sum(s for *_, s in summary):.0f}s; outputs in {ctx.out}")
    for name, status, _ in summary:
        if status != "ok":
            log(f"  {name}: {status} (executed copy: {failed_copy(executed, Path(name))})")
    return len(failed)
