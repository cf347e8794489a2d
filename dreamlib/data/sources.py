"""Where a dataset's files are: local places first, then the online fallbacks.

:func:`locate` finds the folder to read: the ``--data-dir`` given (``data_dir``), else the
default places in order (Debian packages, scikit-learn's bundled data, ``$DREAMLIB_DATA`` or
``~/.cache/dreamlib``). :func:`read_local` runs the dataset's reader there, and
:func:`fetch_online` is the fallback when no local copy exists: the Hugging Face hub or a
torchvision download, refused under :func:`offline` and failing fast when the host is not
:func:`reachable`. Every failure becomes one :class:`DataError`: from :func:`data_error` when
the layout is wrong (a file or folder missing: the message adds the expected layout and the
``--data-dir`` advice), from :func:`file_error` when a file is there but damaged (the message
names the file, the line or row, the problem and its own fix).
:func:`offline` and :func:`reachable` also guard the encoders' hub downloads.
"""

from __future__ import annotations

import csv
import importlib.resources
import os
import socket
import zlib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from .readers import FORMATS, BadFile, HubImages, Split, TextSplit, VisionSplit
from .registry import (
    FASHION_MNIST_DEBIAN_DIR,
    FORTUNES_DEBIAN_DIR,
    WORDNET_DEBIAN_DIR,
    DataError,
    DatasetInfo,
)


def default_data_root() -> Path:
    """Where downloads go and where paper datasets are looked for: $DREAMLIB_DATA or ~/.cache."""
    return Path(os.environ.get("DREAMLIB_DATA") or Path.home() / ".cache" / "dreamlib")


def sklearn_data_dir() -> Path:
    """The folder of scikit-learn's bundled data files (digits.csv.gz)."""
    return Path(str(importlib.resources.files("sklearn.datasets") / "data"))


def _default_dirs(name: str) -> list[Path]:
    """Where a dataset is looked for when no data_dir is given, in order."""
    root = default_data_root()
    if name == "fashion-mnist":
        return [FASHION_MNIST_DEBIAN_DIR, root / "FashionMNIST" / "raw", root]
    if name == "digits":
        return [sklearn_data_dir(), root]
    if name == "fortunes":
        return [FORTUNES_DEBIAN_DIR, root]
    if name == "wordnet-nouns":
        return [WORDNET_DEBIAN_DIR, root / "wordnet"]
    return [root]


def _dataset_root(base: Path, folder: str) -> Path:
    """data_dir may hold the dataset's folder or be that folder itself."""
    if folder and not (base / folder).exists() and base.name == folder:
        return base
    return base / folder if folder else base


def data_error(info: DatasetInfo, split: str, problem: str) -> DataError:
    """The one message shape of every data failure: dataset, problem (with the path), expected
    layout, fix."""
    fix = f"pass --data-dir DIR (data_dir=DIR) where DIR holds that layout{FORMATS[info.name].fix}"
    return DataError(f"dataset {info.name!r} ({split}): {problem}. Expected layout: "
                     f"{info.layout}. Fix: {fix}")


def file_error(info: DatasetInfo, split: str, path: Path | str, problem: str,
               fix: str | None = None) -> DataError:
    """A file that is there but damaged: the file, the problem (with its line or row) and the
    fix (default: an intact copy of the file)."""
    if fix is None:
        fix = (f"replace {path} with an intact copy, or pass --data-dir DIR (data_dir=DIR) where "
               f"DIR holds one{FORMATS[info.name].fix}")
    return DataError(f"dataset {info.name!r} ({split}): {path}: {problem}. Fix: {fix}")


def _missing(info: DatasetInfo, split: str, base: Path) -> Path | None:
    """The first path the split needs that is absent under `base`, or None if all exist."""
    root = _dataset_root(base, FORMATS[info.name].folder)
    return next((p for p in FORMATS[info.name].needs(root, split) if not p.exists()), None)


def locate(info: DatasetInfo, split: str, data_dir: str | os.PathLike | None) -> Path | None:
    """The dataset root to read, or None when only the online source is left.

    A given `data_dir` must hold the split's files (else a :class:`DataError`); without it the
    default places are tried in order. Cheap: it checks paths, reads nothing.
    """
    folder = FORMATS[info.name].folder
    if data_dir is not None:
        base = Path(data_dir).expanduser()
        if base.exists() and not base.is_dir():
            raise data_error(info, split, f"data dir {base} is a file, not a folder")
        if not base.is_dir():
            raise data_error(info, split, f"data dir {base} does not exist")
        missing = _missing(info, split, base)
        if missing is not None:
            raise data_error(info, split, f"{missing} not found")
        return _dataset_root(base, folder)
    for base in _default_dirs(info.name):
        if base.is_dir() and _missing(info, split, base) is None:
            return _dataset_root(base, folder)
    return None


# EOFError and zlib.error: a truncated or corrupted .gz read through gzip (digits.csv.gz)
_READ_ERRORS = (OSError, EOFError, zlib.error, ValueError, KeyError, IndexError, TypeError,
                csv.Error)


def read_local(info: DatasetInfo, root: Path, split: str) -> Split:
    """Run the dataset's reader on `root` (from :func:`locate`), turning any failure into one
    DataError."""
    try:
        return FORMATS[info.name].read(root, split, info)
    except DataError:
        raise
    except BadFile as exc:
        if exc.layout:  # the file shows the folder is not the expected layout
            raise data_error(info, split, str(exc)) from None
        raise file_error(info, split, exc.path, exc.problem, exc.fix) from None
    except OSError as exc:
        if exc.filename is None:
            raise data_error(info, split, f"cannot read {root} ({type(exc).__name__}: "
                                          f"{exc})") from None
        if isinstance(exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError)):
            # a file or folder that is missing or of the wrong kind: the layout is wrong
            raise data_error(info, split, f"{exc.filename}: {exc.strerror or exc}") from None
        if isinstance(exc, PermissionError):
            raise file_error(info, split, exc.filename, "permission denied",
                             f"make {exc.filename} readable (chmod a+r)") from None
        raise file_error(info, split, exc.filename, f"cannot be read ({exc.strerror or exc})") \
            from None
    except _READ_ERRORS as exc:
        problem = f"cannot read {root} ({type(exc).__name__}: {exc})"
        raise data_error(info, split, problem) from None


# --------------------------------------------------------------------------------------------
# Online sources (only when no local copy exists; they fail fast without network)
# --------------------------------------------------------------------------------------------

_HUB_SOURCES = {  # name -> (Hugging Face dataset id, {our split: hub split})
    "tiny-imagenet": ("zh-plus/tiny-imagenet", {"train": "train", "test": "valid"}),
    "ag_news": ("fancyzhx/ag_news", {"train": "train", "test": "test"}),
    "imdb": ("stanfordnlp/imdb", {"train": "train", "test": "test"}),
    "yelp_full": ("Yelp/yelp_review_full", {"train": "train", "test": "test"}),
}


def offline() -> bool:
    """The Hugging Face offline switches (and DREAMLIB_OFFLINE) forbid every download."""
    names = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "DREAMLIB_OFFLINE")
    return any(os.environ.get(n, "").strip().lower() in {"1", "true", "yes", "on"} for n in names)


def reachable(url: str, timeout: float = 3.0) -> bool:
    """A TCP connect to the source's host: without network we fail in seconds, not minutes."""
    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _from_hub(info: DatasetInfo, split: str) -> Split:
    """Load from the Hugging Face hub (or its cache when offline)."""
    hub_id, hub_splits = _HUB_SOURCES[info.name]
    if not offline() and not reachable("https://huggingface.co"):
        raise RuntimeError("huggingface.co is unreachable (no network)")
    import datasets  # deferred: ~1 s to import, and only the paper's hub datasets need it

    table = datasets.load_dataset(hub_id, split=hub_splits[split])
    if info.task == "vision":
        return VisionSplit(HubImages(table), info.num_classes, 3)
    return TextSplit(list(table["text"]), [int(x) for x in table["label"]], info.num_classes)


def _from_torchvision(info: DatasetInfo, split: str) -> Split:
    """Download the original files with torchvision into the data root, then read them."""
    import torchvision.datasets as tvd  # deferred: seconds to import, only downloads need it

    if offline():
        raise RuntimeError("downloads are disabled (HF_HUB_OFFLINE / DREAMLIB_OFFLINE is set)")
    root = default_data_root()
    if info.name == "cifar100":
        url, download, local = tvd.CIFAR100.url, tvd.CIFAR100, root
    else:
        url, download, local = tvd.FashionMNIST.mirrors[0], tvd.FashionMNIST, \
            root / "FashionMNIST" / "raw"
    if not reachable(url):
        raise RuntimeError(f"{urlparse(url).hostname} is unreachable (no network)")
    download(str(root), train=split == "train", download=True)
    return read_local(info, _dataset_root(local, FORMATS[info.name].folder), split)


def online_source(name: str) -> tuple[str, Callable[[DatasetInfo, str], Split]] | None:
    """A description of the dataset's online source and its fetcher, if it has one."""
    if name in _HUB_SOURCES:
        return f"Hugging Face {_HUB_SOURCES[name][0]}", _from_hub
    if name in ("cifar100", "fashion-mnist"):
        return "torchvision download", _from_torchvision
    return None


def fetch_online(info: DatasetInfo, split: str) -> Split:
    """Try the online source; any failure becomes a DataError listing the local places tried."""
    tried = ", ".join(str(_dataset_root(d, FORMATS[info.name].folder))
                      for d in _default_dirs(info.name))
    source = online_source(info.name)
    if source is None:
        raise data_error(info, split, f"no local copy (tried {tried}) and no automatic download")
    description, fetch = source
    try:
        return fetch(info, split)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - network/hub failures come in many types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise data_error(info, split, f"no local copy (tried {tried}) and {description} failed: "
                                      f"{reason}") from None
