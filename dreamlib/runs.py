"""The run store: a run is a config, its hash names its folder, and nothing written is lost.

A run folder holds ``config.json`` (what was asked), ``log.csv`` (one row per epoch),
``checkpoint.pt`` (the last finished epoch) and ``metrics.json``, written last: a folder with
``metrics.json`` is a finished run and is reused, never recomputed. Every file is written
atomically (temp file in the same folder, fsync, rename), so a kill at any moment leaves
either the old file or the new one, never half of one (plus, at worst, a hidden temp file
``.<name>.<random>.tmp`` that the next start of the run removes under its lock, see
:mod:`dreamlib.locks`).

Names that come from a config, a flag or a notebook parameter and become part of a written
path go through :func:`safe_name`, so no value can write outside the folder it was meant for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ModelConfig
from .errors import ConfigError

CONFIG_FILE, METRICS_FILE, LOG_FILE, CHECKPOINT_FILE = (
    "config.json", "metrics.json", "log.csv", "checkpoint.pt")
HASH_LENGTH = 12
TEMP_PREFIX, TEMP_SUFFIX = ".", ".tmp"  # atomic_write_bytes' temp files: .<name>.<random>.tmp


@dataclass(frozen=True)
class RunConfig:
    """One training run. Everything that changes the result is a field and enters the hash;
    where the data lives (``data_dir``) is not, so a run is found again from any machine."""

    model: ModelConfig
    dataset: str
    epochs: int = 30  # paper: 30
    batch_size: int = 128  # global batch, split across processes
    lr: float = 0.005  # paper: Adam lr 0.005
    encoder_lr: float = 1e-4  # unfrozen encoder only: a smaller rate keeps pre-trained features
    betas: tuple[float, float] = (0.9, 0.999)  # paper
    eps: float = 1e-5  # paper
    warmup: float = 0.1  # fraction of steps with a linear learning-rate warm-up
    max_train: int | None = None  # subset of the training split (None: all)
    max_test: int | None = None  # subset of the test split (None: all)
    augment: bool = True  # RandAugment + MixUp (vision), 10% word edits (text), as in the paper
    pretrain_epochs: int = 5  # self-supervised pre-training of an embedded encoder (mae-small, mlm-small)
    precision: str = "fp32"  # "fp32" | "bf16" (autocast) | "fp16"
    eval_every: int = 1  # test accuracy every N epochs and always after the last one
    seed: int = 0
    data_dir: str | None = field(default=None, compare=False)

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
        return data

    def run_hash(self) -> str:
        return config_hash(self.identity())

    def validate(self) -> RunConfig:
        """Check the numbers a typo can break; returns self with the model config resolved."""
        checks = [("epochs", self.epochs, 1), ("batch_size", self.batch_size, 1),
                  ("pretrain_epochs", self.pretrain_epochs, 0), ("eval_every", self.eval_every, 1)]
        for name, value, low in checks:
            if not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        for name in ("lr", "encoder_lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("max_train", "max_test"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1 (or omitted for the whole split), got {value}")
        if not 0 <= self.warmup < 1:
            raise ConfigError(f"warmup must be a fraction in [0, 1), got {self.warmup}")
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise ConfigError(f"unknown precision {self.precision!r}; choose one of: fp32, bf16, fp16")
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


def remove_temp_files(folder: str | os.PathLike) -> list[str]:
    """Delete the temp files a killed writer left in ``folder``; returns their names.

    Only safe while no other process writes there: the run store calls it under the run's
    lock (:func:`dreamlib.train.train_run`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for leftover in folder.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
            removed.append(leftover.name)
    return sorted(removed)


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
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def read_json(path: str | os.PathLike) -> dict | None:
    """The JSON at ``path``, or None when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc.msg}); delete it to recompute") from exc


def load_metrics(folder: str | os.PathLike) -> dict | None:
    """Metrics of a finished run, or None if it has not finished."""
    return read_json(Path(folder) / METRICS_FILE)


def claim_folder(folder: str | os.PathLike, cfg: RunConfig) -> Path:
    """Make ``folder`` the home of ``cfg``: write its config, or check the one already there.

    A folder that holds another config is never overwritten: its results would silently
    change meaning.
    """
    folder = check_folder(folder, "run folder")
    existing = read_json(folder / CONFIG_FILE)
    if existing is not None:
        found = RunConfig.from_dict(existing).identity()
        if found != cfg.identity():
            diff = sorted(k for k in set(found) | set(cfg.identity())
                          if found.get(k) != cfg.identity().get(k))
            raise ConfigError(
                f"run folder {folder} holds a different run (fields differ: {', '.join(diff)}); "
                "pick another --out, or delete that folder to start over"
            )
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / CONFIG_FILE, cfg.to_dict())
    return folder


def run_folder(root: str | os.PathLike, cfg: RunConfig) -> Path:
    """Where the store keeps ``cfg``: ``<root>/<hash>``."""
    return Path(root) / safe_name(cfg.run_hash(), "run hash")
