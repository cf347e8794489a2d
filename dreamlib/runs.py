"""The run store: a run is a config, its hash names its folder, and nothing written is lost.

A run folder holds ``config.json`` (what was asked), ``log.csv`` (one row per epoch),
``checkpoint.pt`` (the last finished epoch), ``predictions.csv`` (every test example's label
and predicted class: what a CI over the test set resamples) and ``metrics.json``, written
last: a folder with ``metrics.json`` is a finished run and is reused, never recomputed. Every file is written
atomically (temp file in the same folder, fsync, rename), so a kill at any moment leaves
either the old file or the new one, never half of one (plus, at worst, a hidden temp file
``.<name>.<random>.tmp`` that the next start of the run removes under its lock, see
:mod:`dreamlib.locks`).

Names that come from a config, a flag or a notebook parameter and become part of a written
path go through :func:`safe_name`, so no value can write outside the folder it was meant for.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_ITEMS,
    MAX_SEED,
    LATER_FIELDS,
    RENAMED_FIELDS,
    ModelConfig,
    check_finite,
    check_int,
    is_number,
)
from .errors import ConfigError, choice_error

CONFIG_FILE, METRICS_FILE, LOG_FILE, CHECKPOINT_FILE, PREDICTIONS_FILE = (
    "config.json", "metrics.json", "log.csv", "checkpoint.pt", "predictions.csv")
PREDICTION_COLUMNS = ("label", "prediction")
HASH_LENGTH = 12
RUN_FILES = (CONFIG_FILE, METRICS_FILE, LOG_FILE, CHECKPOINT_FILE, PREDICTIONS_FILE)
LOCK_FILES = ("lock.json", ".lock.json.recover")  # dreamlib.locks' LOCK_FILE and GUARD_FILE
TEMP_PREFIX, TEMP_SUFFIX = ".", ".tmp"  # atomic_write_bytes' temp files: .<name>.<random>.tmp
DECAYS = ("constant", "cosine")  # learning rate after the warm-up
PRECISIONS = ("fp32", "bf16", "fp16")
MAX_WORKERS = 256  # DataLoader processes per training process


@dataclass(frozen=True)
class RunConfig:
    """One training run. Everything that changes the result is a field and enters the hash;
    where the data lives (``data_dir``) and how many processes read it (``workers``) are not,
    so a run is found again from any machine (a run's numbers do not depend on them)."""

    model: ModelConfig
    dataset: str
    epochs: int = 30  # paper: 30
    batch_size: int = 128  # global batch, split across processes
    lr: float = 0.005  # paper: Adam lr 0.005
    encoder_lr: float = 1e-4  # unfrozen encoder only: a smaller rate keeps pre-trained features
    betas: tuple[float, float] = (0.9, 0.999)  # paper
    eps: float = 1e-5  # paper
    warmup: float = 0.1  # fraction of steps with a linear learning-rate warm-up
    decay: str = "constant"  # after warm-up: "constant" (paper) | "cosine" (to 0 at the last step)
    max_train: int | None = None  # subset of the training split (None: all)
    max_test: int | None = None  # subset of the test split (None: all)
    augment: bool = True  # RandAugment + MixUp (vision), 10% word edits (text), as in the paper
    pretrained: bool = True  # embedded encoders: the shipped pre-trained weights; False: random init (Fig 8's ablation)
    precision: str = "fp32"  # "fp32" | "bf16" (autocast) | "fp16"
    eval_every: int = 1  # test accuracy every N epochs and always after the last one
    seed: int = 0
    data_dir: str | None = field(default=None, compare=False)
    workers: int = field(default=0, compare=False)  # DataLoader processes that collate batches

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        data = dict(data)
        data["model"] = ModelConfig.from_dict(data["model"])
        data["betas"] = tuple(data.get("betas", (0.9, 0.999)))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown run config keys {unknown}; allowed: {sorted(known)}")
        return cls(**data)

    def identity(self) -> dict:
        """The fields that define the result (what the hash covers)."""
        data = self.to_dict()
        data.pop("data_dir")
        data.pop("workers")
        return data

    def run_hash(self) -> str:
        """The run's folder name: a hash of :meth:`identity`, with the model fields under the
        names the store first used (``RENAMED_FIELDS``) and without the fields added later
        while they hold their old value (``LATER_FIELDS``), so renaming or adding a field in
        Python does not move any stored run."""
        data = self.identity()
        stored_names = {new: old for old, new in RENAMED_FIELDS.items()}
        data["model"] = {stored_names.get(k, k): v for k, v in data["model"].items()
                         if not (k in LATER_FIELDS and v == LATER_FIELDS[k])}
        return config_hash(data)

    def validate(self) -> RunConfig:
        """Check every field on its own (type and range: an upper bound far above any real run
        catches a typo and keeps torch's int64 sizes and seeds from overflowing); returns self
        with the model config resolved. What needs the dataset or a built model is checked by
        :func:`dreamlib.validate.check_run`."""
        if not isinstance(self.pretrained, bool):
            raise ConfigError(f"pretrained must be true or false, got {self.pretrained!r}")
        for name, value, low, high in [("epochs", self.epochs, 1, MAX_EPOCHS),
                                       ("batch_size", self.batch_size, 1, MAX_BATCH_SIZE),
                                       ("eval_every", self.eval_every, 1, MAX_EPOCHS),
                                       ("seed", self.seed, 0, MAX_SEED),
                                       ("workers", self.workers, 0, MAX_WORKERS)]:
            check_int(name, value, low, high)
        for name in ("lr", "encoder_lr"):
            check_finite(name, getattr(self, name), 0, low_open=True,
                         example=f"--{name.replace('_', '-')} 0.001")
        for name in ("max_train", "max_test"):
            if getattr(self, name) is not None:  # None: the whole split
                check_int(name, getattr(self, name), 1, MAX_ITEMS)
        if not is_number(self.warmup) or not 0 <= self.warmup < 1:
            raise ConfigError(f"warmup must be a fraction in [0, 1), got {self.warmup}")
        if self.decay not in DECAYS:
            raise choice_error("decay", self.decay, DECAYS)
        if self.precision not in PRECISIONS:
            raise choice_error("precision", self.precision, PRECISIONS)
        return dataclasses.replace(self, model=self.model.resolved())


def config_hash(data: Any) -> str:
    """Short stable hash of JSON-able data (sorted keys, no whitespace)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never a mix."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}.", suffix=TEMP_SUFFIX,
                                   dir=path.parent)
    except OSError as exc:
        raise _naming(exc, path) from exc
    try:
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _naming(exc, path) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _naming(exc: OSError, path: Path) -> OSError:
    """The same error, naming the file the user asked for: a failing write() or fsync() names
    no file at all, and mkstemp names a random temp file, neither of which says what was lost."""
    return type(exc)(exc.errno, exc.strerror or str(exc), str(path))


def remove_temp_files(folder: str | os.PathLike, names=RUN_FILES) -> list[str]:
    """Delete the temp files a killed writer of ``names`` left in ``folder``; returns theirs.

    Only the writer's own pattern (``.<name>.<random>.tmp`` for a file of ``names``) is
    removed, never another hidden ``.tmp`` file a user keeps there. Only safe while no other
    process writes there: the run store calls it under the run's lock
    (:func:`dreamlib.train.train_run`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for name in names:
        for leftover in folder.glob(f"{TEMP_PREFIX}{name}.*{TEMP_SUFFIX}"):
            if leftover.is_file() and _is_temp_of(leftover.name, name):
                leftover.unlink(missing_ok=True)
                removed.append(leftover.name)
    return sorted(removed)


def _is_temp_of(filename: str, name: str) -> bool:
    """Whether ``filename`` is a temp file atomic_write_bytes made for ``name``: mkstemp's
    random part is 8 characters of [a-z0-9_]."""
    middle = filename[len(TEMP_PREFIX) + len(name) + 1:-len(TEMP_SUFFIX)]
    return (filename.startswith(f"{TEMP_PREFIX}{name}.") and filename.endswith(TEMP_SUFFIX)
            and len(middle) == 8 and all(c.isalnum() or c == "_" for c in middle))


def safe_name(name: str, what: str) -> str:
    """``name`` if it is one plain path component, else a ConfigError.

    Values from configs, flags and notebook parameters become file and folder names (tables,
    figures, cached encoders, run folders); '/', '..' or an absolute path would let such a value
    write outside the folder the user chose.
    """
    text = str(name)
    if (not text or text in (".", "..") or "/" in text or "\\" in text or "\0" in text
            or os.path.isabs(text)):
        raise ConfigError(f"{what} {name!r} is not a plain file name (it must not contain '/', "
                          "'..' or be an absolute path); use a simple name such as 'table3_vision'")
    return text


def check_folder(folder: str | os.PathLike, what: str) -> Path:
    """``folder`` as a place to write into: a ConfigError when that path is an existing file."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{what} {folder} is a file, not a folder; choose a folder path "
                          "(it is created if missing)")
    return folder


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` through a temp file + rename (a kill mid-write keeps the old checkpoint)."""
    import torch  # deferred: the run store's readers (reports, notebooks) never need torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def damaged(path: str | os.PathLike, reason: str, fix: str) -> ConfigError:
    """The one message shape for a damaged file of a run folder: which file, why, what to do."""
    return ConfigError(f"{path} is damaged ({reason}); {fix}")


def _read_text(path: Path, fix: str) -> str | None:
    """The UTF-8 text of ``path``, None when it does not exist; bytes that are not UTF-8 are
    damage (a ConfigError naming the file and ``fix``)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise damaged(path, f"byte {exc.start} is not UTF-8 text", fix) from None


def read_json(path: str | os.PathLike, fix: str = "delete it to recompute") -> Any:
    """The JSON at ``path``, or None when the file does not exist; a file that is not JSON
    (or not UTF-8) is a ConfigError naming it and ``fix``."""
    path = Path(path)
    text = _read_text(path, fix)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise damaged(path, f"not valid JSON: {exc.msg}", fix) from exc


def config_fix(folder: Path) -> str:
    return (f"it no longer says which run {folder} holds, so delete that folder to start the "
            "run over, or pick another --out")


def load_config(folder: str | os.PathLike, fix: str | None = None) -> RunConfig | None:
    """The run config stored in ``folder`` (None when it has no config.json yet).

    Anything else than the JSON object of a run config (``null``, a list, missing or unknown
    keys, wrong types) is damage, never "absent": an absent config lets the folder be claimed
    again and its checkpoint resumed under another run. ``fix`` is what the error advises
    (default: the trainer's, start the run over).
    """
    folder = Path(folder)
    path, fix = folder / CONFIG_FILE, fix or config_fix(folder)
    data = read_json(path, fix)
    if data is None and not path.exists():
        return None
    if not isinstance(data, dict):
        raise damaged(path, f"it holds a JSON {_json_kind(data)}, not a run config object", fix)
    try:
        return RunConfig.from_dict(data)
    except ConfigError as exc:
        raise damaged(path, str(exc).split(";")[0], fix) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        reason = (f"missing key {exc}" if isinstance(exc, KeyError)
                  else f"{type(exc).__name__}: {exc}")
        raise damaged(path, f"not a run config ({reason})", fix) from None


def _json_kind(data: Any) -> str:
    if data is None:
        return "null"
    return {list: "list", str: "string", bool: "boolean", int: "number",
            float: "number"}.get(type(data), type(data).__name__)


def load_metrics(folder: str | os.PathLike,
                 require: tuple[str, ...] = ("accuracy",)) -> dict | None:
    """Metrics of a finished run, or None if it has not finished.

    A metrics.json that is not an object holding a finite number for each of ``require``
    (accuracy in 0..1) is damage: recomputing it from the run's checkpoint and log is cheap.
    """
    folder = Path(folder)
    path = folder / METRICS_FILE
    fix = "delete it and rerun the same command to recompute it from the run's checkpoint"
    data = read_json(path, fix)
    if data is None and not path.exists():
        return None
    if not isinstance(data, dict):
        raise damaged(path, f"it holds a JSON {_json_kind(data)}, not a metrics object", fix)
    check_metrics(data, path, require)
    return data


def check_metrics(metrics: dict, path: str | os.PathLike, require: tuple[str, ...]) -> dict:
    """``metrics`` if each key of ``require`` holds a finite number, else damage of ``path``."""
    fix = "delete it and rerun the same command to recompute it from the run's checkpoint"
    for key in require:
        value = metrics.get(key)
        if not is_number(value) or not math.isfinite(value):
            found = "no" if key not in metrics else f"a non-finite or non-numeric ({value!r})"
            raise damaged(path, f"{found} {key!r}", fix)
    if "accuracy" in require and not 0 <= metrics["accuracy"] <= 1:
        raise damaged(path, f"accuracy {metrics['accuracy']!r} is not in 0..1", fix)
    return metrics


def write_predictions(folder: str | os.PathLike, labels, predictions, accuracy: float) -> Path:
    """Write ``predictions.csv``: one row per test example, in test-set order, with its label
    and the predicted class. ``accuracy`` is the one going into metrics.json; the two must
    agree (a mismatch is a bug, refused before anything is written)."""
    labels, predictions = ([int(v) for v in values] for values in (labels, predictions))
    if len(labels) != len(predictions) or not labels:
        raise ValueError(f"one prediction per test example is needed: got {len(labels)} labels "
                         f"and {len(predictions)} predictions")
    hits = sum(a == b for a, b in zip(labels, predictions))
    if abs(hits / len(labels) - accuracy) > 1e-9:
        raise ValueError(f"the predictions score {hits / len(labels)!r}, not the accuracy "
                         f"{accuracy!r} reported for them")
    path = Path(folder) / PREDICTIONS_FILE
    rows = "".join(f"{a},{b}\n" for a, b in zip(labels, predictions))
    atomic_write_text(path, ",".join(PREDICTION_COLUMNS) + "\n" + rows)
    return path


def read_predictions(folder: str | os.PathLike) -> tuple[list[int], list[int]] | None:
    """(labels, predictions) of a finished run's test set, or None for a run that kept none
    (made before runs kept them). A file that does not hold two columns of class ids, one row
    per example, is damage."""
    path = Path(folder) / PREDICTIONS_FILE
    fix = (f"delete it and {Path(folder) / METRICS_FILE}, then rerun: the run re-scores its "
           "checkpoint, or trains again without one")
    text = _read_text(path, fix)
    if text is None:
        return None
    lines = text.splitlines()
    if not lines or tuple(lines[0].split(",")) != PREDICTION_COLUMNS:
        raise damaged(path, f"its header is not {','.join(PREDICTION_COLUMNS)}", fix)
    labels, predictions = [], []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split(",")
        if len(cells) != 2 or not all(c.isascii() and c.isdigit() for c in cells):
            raise damaged(path, f"line {number} ({line[:40]!r}) is not two class ids", fix)
        labels.append(int(cells[0]))
        predictions.append(int(cells[1]))
    if not labels:
        raise damaged(path, "it holds no examples", fix)
    return labels, predictions


def read_log_rows(folder: str | os.PathLike, epochs: int) -> list[dict]:
    """The first ``epochs`` rows of the run's log.csv, the epochs its checkpoint holds, each
    checked: epochs numbered 1, 2, ...; finite numbers; a test accuracy in 0..1 or empty (an
    epoch without evaluation).

    A log that is not UTF-8 CSV with an ``epoch`` column, holds fewer rows than ``epochs``, or
    holds a value that is not what the trainer writes, is damage naming the row and the value
    (a kill between writing the log and the checkpoint leaves one row more, which is dropped).
    """
    folder = Path(folder)
    path = folder / LOG_FILE
    fix = (f"delete {path} and {folder / CHECKPOINT_FILE} to restart the run from epoch 0")
    text = _read_text(path, fix)
    if text is None:
        if epochs:
            raise damaged(path, f"it is missing but the checkpoint holds {epochs} epochs", fix)
        return []
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = [dict(row) for row in reader]
    except csv.Error as exc:
        raise damaged(path, f"not CSV: {exc}", fix) from None
    if rows and "epoch" not in (reader.fieldnames or ()):
        raise damaged(path, "it has no 'epoch' column", fix)
    if len(rows) < epochs:
        raise damaged(path, f"{len(rows)} rows for the {epochs} epochs of the checkpoint", fix)
    for number, row in enumerate(rows[:epochs], start=1):
        problem = _log_row_problem(row, number)
        if problem:
            raise damaged(path, f"row {number} (epoch {number}): {problem}", fix)
    return rows[:epochs]


def _log_row_problem(row: dict, epoch: int) -> str:
    """What is wrong with one row of log.csv ('' when nothing is)."""
    if row.get("epoch") != str(epoch):
        return f"epoch is {row.get('epoch')!r}, not {epoch}"
    for key in ("train_loss", "train_seconds", "eval_seconds", "lr"):
        value = _finite(row.get(key))
        if value is None:
            return f"{key} is {row.get(key)!r}, not a finite number"
    accuracy = row.get("test_accuracy")
    if accuracy not in ("", None):
        value = _finite(accuracy)
        if value is None or not 0 <= value <= 1:
            return f"test_accuracy is {accuracy!r}, not a number in 0..1"
    return ""


def _finite(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def check_claimable(folder: str | os.PathLike) -> Path:
    """``folder`` if a run may be trained there: missing, empty, or a run folder (it holds
    config.json). A folder with anything else, and no config.json, is a user's folder: it is
    refused before anything in it changes."""
    folder = check_folder(folder, "run folder")
    if not folder.is_dir() or (folder / CONFIG_FILE).exists():
        return folder
    foreign = sorted(entry.name for entry in folder.iterdir() if not _store_file(entry.name))
    if foreign:
        shown = ", ".join(foreign[:5])
        shown += f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        raise ConfigError(
            f"run folder {folder} already holds files that are not a run's ({shown}) and no "
            f"{CONFIG_FILE}; nothing was changed. Pass a new or empty folder as --out "
            f"(e.g. {folder / 'run'})"
        )
    return folder


def _store_file(name: str) -> bool:
    """Whether a file in a folder without config.json is the run store's own (a lock, or the
    temp file of a config.json being written): a run that was claimed no further."""
    return name in LOCK_FILES or _is_temp_of(name, CONFIG_FILE)


def claim_folder(folder: str | os.PathLike, cfg: RunConfig) -> Path:
    """Make ``folder`` the home of ``cfg``: write its config, or check the one already there.

    A folder that holds another config is never overwritten: its results would silently
    change meaning. Nor is a folder that holds other files but no config (a user's folder).
    """
    folder = check_folder(folder, "run folder")
    existing = load_config(folder)
    if existing is not None:
        found = existing.identity()
        if found != cfg.identity():
            diff = sorted(k for k in set(found) | set(cfg.identity())
                          if found.get(k) != cfg.identity().get(k))
            raise ConfigError(
                f"run folder {folder} holds a different run (fields differ: {', '.join(diff)}); "
                "pick another --out, or delete that folder to start over"
            )
        return folder
    check_claimable(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / CONFIG_FILE, cfg.to_dict())
    return folder


def release_unstarted(folder: str | os.PathLike, cfg: RunConfig) -> bool:
    """Undo the claim of a run that failed before its first epoch: remove the config.json
    this attempt wrote, so a corrected command may use the folder. Only when no epoch left
    anything (no log, checkpoint or metrics) and the config is ``cfg``'s; nothing else is
    touched. Returns whether it was removed."""
    folder = Path(folder)
    if any((folder / name).exists() for name in (LOG_FILE, CHECKPOINT_FILE, METRICS_FILE)):
        return False
    try:
        stored = load_config(folder)
    except ConfigError:
        return False
    if stored is None or stored.identity() != cfg.identity():
        return False
    (folder / CONFIG_FILE).unlink(missing_ok=True)
    return True


def run_folder(root: str | os.PathLike, cfg: RunConfig) -> Path:
    """Where the store keeps ``cfg``: ``<root>/<hash>``."""
    return Path(root) / safe_name(cfg.run_hash(), "run hash")
