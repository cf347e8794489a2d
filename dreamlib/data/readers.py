"""Readers of each dataset's standard on-disk format, and the loaded splits they return.

One reader per format (CIFAR-100 pickles, Tiny-ImageNet and ImageNet folders, the Zhang et al.
CSVs, aclImdb, idx files, digits.csv.gz, fortune files, WordNet's data.noun). A reader takes
the dataset's root folder and a split name and returns a :class:`VisionSplit` or
:class:`TextSplit`, always in the same example order; it raises plain exceptions naming the
file, which :func:`dreamlib.data.sources.read_local` turns into one :class:`DataError`.
:data:`FORMATS` ties each registered dataset to its folder, the paths a split needs and its
reader. Finding the folder (and the online fallbacks) is :mod:`dreamlib.data.sources`' job.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import pickle
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as TF

from .registry import (
    FORTUNE_CATEGORIES,
    WORDNET_DEBIAN_DIR,
    WORDNET_NOUN_FILES,
    DataError,
    DatasetInfo,
)

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
# Bump when a reader changes what it returns, so caches keyed by data_fingerprint go stale.
READER_VERSION = 1


# --------------------------------------------------------------------------------------------
# Loaded splits and the datasets that hold their images
# --------------------------------------------------------------------------------------------


class TensorImages(Dataset):
    """Images held in memory as one uint8 N×C×H×W tensor: for sets that fit (≤ ~200 MB)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])

    def select(self, indices: Sequence[int]) -> TensorImages:
        """The examples at `indices`, as a new dataset."""
        picked = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        return TensorImages(self.images[picked], self.labels[picked])


class ImageFiles(Dataset):
    """Images decoded lazily from files with PIL: for sets too big for memory (ImageNet)."""

    def __init__(self, paths: Sequence[Path], labels: Sequence[int]):
        self.paths = list(paths)
        self.labels = list(labels)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path = self.paths[index]
        try:
            with Image.open(path) as image:
                return TF.pil_to_tensor(image.convert("RGB")), self.labels[index]
        except (OSError, ValueError) as exc:
            raise DataError(
                f"cannot decode image {path}: {exc}. Fix: replace or delete that file"
            ) from None

    def select(self, indices: Sequence[int]) -> ImageFiles:
        """The examples at `indices`, as a new dataset."""
        return ImageFiles([self.paths[i] for i in indices], [self.labels[i] for i in indices])


class HubImages(Dataset):
    """A Hugging Face image table (columns ``image``, ``label``) decoded lazily to uint8."""

    def __init__(self, table):
        self.table = table
        self.labels = list(table["label"])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        row = self.table[int(index)]
        return TF.pil_to_tensor(row["image"].convert("RGB")), int(row["label"])

    def select(self, indices: Sequence[int]) -> HubImages:
        """The examples at `indices`, as a new dataset."""
        return HubImages(self.table.select([int(i) for i in indices]))


@dataclass
class VisionSplit:
    """One split of an image dataset; items are (uint8 C×H×W tensor, int label)."""

    dataset: Dataset
    num_classes: int
    channels: int


@dataclass
class TextSplit:
    """One split of a text-classification dataset."""

    texts: list[str]
    labels: list[int]
    num_classes: int


Split = VisionSplit | TextSplit


# --------------------------------------------------------------------------------------------
# Readers of the standard on-disk formats. They raise plain exceptions naming the file;
# sources.read_local turns them into one DataError with the layout and the fix.
# --------------------------------------------------------------------------------------------


def _check_labels(labels: np.ndarray, num_classes: int, path: Path) -> None:
    """Labels outside 0..num_classes-1 mean a wrong or corrupt file, not a smaller dataset."""
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{path}: labels must lie in 0..{num_classes - 1}, "
                         f"found {labels.min()}..{labels.max()}")


def _read_cifar100(root: Path, split: str, info: DatasetInfo) -> VisionSplit:
    """CIFAR-100 pickle: b'data' N×3072 uint8 (R, G, B planes of 32×32), b'fine_labels'."""
    path = root / split
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")  # the official format; trusted files only
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - unpickling garbage raises nearly any type
        raise ValueError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"fine_labels" not in batch:
        raise ValueError(f"{path}: not a CIFAR-100 pickle (needs a dict with b'data' and "
                         "b'fine_labels')")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"fine_labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise ValueError(f"{path}: b'data' has shape {data.shape} for {len(labels)} labels, "
                         "expected N×3072")
    _check_labels(labels, info.num_classes, path)
    images = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())
    return VisionSplit(TensorImages(images, torch.from_numpy(labels)), info.num_classes, 3)


def _image_files(folder: Path) -> list[Path]:
    """The image files directly inside `folder`, sorted so every run sees the same order."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _read_tiny_imagenet(root: Path, split: str, info: DatasetInfo) -> VisionSplit:
    """Tiny-ImageNet folder; labels index the sorted wnids so train and val agree."""
    wnids = sorted((root / "wnids.txt").read_text().split())
    label_of = {wnid: label for label, wnid in enumerate(wnids)}
    if split == "train":
        items = [(path, label_of[wnid]) for wnid in wnids
                 for path in _image_files(root / "train" / wnid / "images")]
    else:
        items = _tiny_imagenet_val(root, label_of)
    if not items:
        raise ValueError(f"{root}: no images found for split {split!r}")
    paths, labels = zip(*items)
    return VisionSplit(ImageFiles(paths, labels), len(wnids), 3)


def _tiny_imagenet_val(root: Path, label_of: dict[str, int]) -> list[tuple[Path, int]]:
    """The val split, labelled by val_annotations.txt (filename TAB wnid TAB box...)."""
    annotations = root / "val" / "val_annotations.txt"
    items = []
    for line_no, line in enumerate(annotations.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or fields[1] not in label_of:
            raise ValueError(f"{annotations}, line {line_no}: expected 'filename<TAB>wnid' with "
                             f"a wnid of wnids.txt, got {line[:80]!r}")
        path = root / "val" / "images" / fields[0]
        if not path.is_file():
            raise ValueError(f"{annotations}, line {line_no}: image {path} does not exist")
        items.append((path, label_of[fields[1]]))
    return items


def _read_image_folder(root: Path, split: str, info: DatasetInfo) -> VisionSplit:
    """ImageFolder: one sub-folder per class; classes are those of train/ so splits agree."""
    folder = root / ("train" if split == "train" else "val")
    class_root = root / "train" if (root / "train").is_dir() else folder
    classes = sorted(p.name for p in class_root.iterdir() if p.is_dir())
    label_of = {name: label for label, name in enumerate(classes)}
    items = []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if class_dir.name not in label_of:
            raise ValueError(f"{class_dir}: class folder not present in {class_root}")
        items += [(path, label_of[class_dir.name]) for path in _image_files(class_dir)]
    if not items:
        raise ValueError(f"{folder}: no <class>/*.JPEG images found")
    paths, labels = zip(*items)
    return VisionSplit(ImageFiles(paths, labels), len(classes), 3)


def _read_class_csv(path: Path, num_classes: int) -> TextSplit:
    """Zhang et al. (2015) CSV: no header, class 1..K first, text fields after (joined by ' ')."""
    texts, labels = [], []
    with open(path, newline="", encoding="utf-8") as f:
        for row_no, row in enumerate(csv.reader(f), start=1):
            if len(row) < 2 or not row[0].strip().isdigit() or not 1 <= int(row[0]) <= num_classes:
                raise ValueError(f"{path}, row {row_no}: expected 'class (1–{num_classes}),text...'"
                                 f", got {str(row)[:80]}")
            labels.append(int(row[0]) - 1)
            texts.append(" ".join(row[1:]))
    if not texts:
        raise ValueError(f"{path} holds no rows")
    return TextSplit(texts, labels, num_classes)


def _read_ag_news(root: Path, split: str, info: DatasetInfo) -> TextSplit:
    """AG News: text = title + ' ' + description, label = class - 1."""
    return _read_class_csv(root / f"{split}.csv", info.num_classes)


def _read_yelp(root: Path, split: str, info: DatasetInfo) -> TextSplit:
    """Yelp review full: label = stars - 1."""
    return _read_class_csv(root / f"{split}.csv", info.num_classes)


def _read_imdb(root: Path, split: str, info: DatasetInfo) -> TextSplit:
    """aclImdb: neg = 0, pos = 1; files in sorted order."""
    texts, labels = [], []
    for label, polarity in enumerate(("neg", "pos")):
        for path in sorted((root / split / polarity).glob("*.txt")):
            texts.append(path.read_text(encoding="utf-8"))
            labels.append(label)
    if not texts:
        raise ValueError(f"{root / split}: no {{neg,pos}}/*.txt reviews found")
    return TextSplit(texts, labels, info.num_classes)


def _idx_path(root: Path, stem: str) -> Path:
    """An idx file may be stored gzipped (as distributed) or not."""
    plain = root / stem
    return plain if plain.is_file() else root / f"{stem}.gz"


def _read_idx(path: Path) -> np.ndarray:
    """An idx array of unsigned bytes (magic 0x0000 08 <ndim>, big-endian dims, data)."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: truncated or corrupt gzip file ({exc})") from None
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not an idx file of unsigned bytes (magic {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    expected = header + int(np.prod(dims))
    if len(dims) != ndim or len(raw) != expected:
        raise ValueError(f"{path}: truncated or corrupt idx file ({len(raw)} bytes, header "
                         f"promises {expected})")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _read_fashion_mnist(root: Path, split: str, info: DatasetInfo) -> VisionSplit:
    """The original idx files: images N×28×28, labels N."""
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(_idx_path(root, f"{prefix}-images-idx3-ubyte"))
    labels_path = _idx_path(root, f"{prefix}-labels-idx1-ubyte")
    labels = _read_idx(labels_path).astype(np.int64)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{root}: {prefix} images {images.shape} do not match labels "
                         f"{labels.shape}")
    _check_labels(labels, info.num_classes, labels_path)
    tensor = torch.from_numpy(images.copy()).unsqueeze(1)
    return VisionSplit(TensorImages(tensor, torch.from_numpy(labels)), info.num_classes, 1)


def _read_digits(root: Path, split: str, info: DatasetInfo) -> VisionSplit:
    """scikit-learn's digits.csv.gz; the split is fixed (seed 0) so every run tests alike."""
    # deferred: importing sklearn.model_selection adds ~1.5 s to every start-up, and only
    # digits needs it
    from sklearn.model_selection import train_test_split

    path = root / "digits.csv.gz"
    table = np.loadtxt(path, delimiter=",", ndmin=2)
    if table.shape[1] != 65:
        raise ValueError(f"{path}: rows have {table.shape[1]} values, expected 64 pixels + label")
    labels = table[:, 64].astype(np.int64)
    _check_labels(labels, info.num_classes, path)
    pixels = np.rint(table[:, :64] * (255 / 16)).clip(0, 255).astype(np.uint8)
    train, test = train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels,
                                   random_state=0)
    chosen = np.sort(train if split == "train" else test)
    images = torch.from_numpy(pixels[chosen].reshape(-1, 1, 8, 8))
    return VisionSplit(TensorImages(images, torch.from_numpy(labels[chosen])), 10, 1)


def _clean_fortune(entry: str) -> str:
    """Drop terminal overstrikes ('_' backspace 'X' underlines X) and collapse whitespace."""
    previous = None
    while previous != entry:
        previous, entry = entry, re.sub(r"[^\x08]\x08", "", entry)
    return " ".join(entry.replace("\x08", "").split())


def _fortune_entries(path: Path) -> list[str]:
    """The non-empty cleaned entries of one fortune file ('%' lines separate entries)."""
    text = path.read_text("latin-1")
    entries = (_clean_fortune(e) for e in re.split(r"^%$", text, flags=re.MULTILINE))
    return [entry for entry in entries if entry]


def in_hashed_test_split(text: str) -> bool:
    """Whether `text` is in the test split of fortunes and wordnet-nouns: the fixed 80/20 split
    by content hash (first 8 bytes of its SHA-256, big-endian, 0 mod 5), so it needs no seed
    and duplicates stay together."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % 5 == 0


def _read_fortunes(root: Path, split: str, info: DatasetInfo) -> TextSplit:
    """One class per category file; entries filed under several categories are dropped."""
    owners: dict[str, set[int]] = {}
    for label, category in enumerate(FORTUNE_CATEGORIES):
        for entry in _fortune_entries(root / category):
            owners.setdefault(entry, set()).add(label)
    want_test = split == "test"
    kept = [(text, labels.pop()) for text, labels in owners.items()
            if len(labels) == 1 and in_hashed_test_split(text) == want_test]
    if not kept:
        raise ValueError(f"{root}: no fortune entries found for split {split!r}")
    texts, labels = zip(*kept)
    return TextSplit(list(texts), list(labels), len(FORTUNE_CATEGORIES))


def _wordnet_glosses(path: Path) -> list[tuple[int, str]]:
    """(lexicographer file number, gloss) of every synset line of a WordNet data file.

    Lines starting with a space are the licence header. A synset line is 'offset lex_filenum
    ss_type ... | gloss'; the gloss comes back whitespace-collapsed ('' when there is none).
    """
    glosses = []
    for line_no, line in enumerate(path.read_text("latin-1").splitlines(), start=1):
        if not line.strip() or line.startswith(" "):
            continue
        fields = line.split(" ", 2)
        if len(fields) < 3 or not fields[0].isdigit() or not fields[1].isdigit():
            raise ValueError(f"{path}, line {line_no}: expected 'offset lex_filenum ss_type ... "
                             f"| gloss', got {line[:80]!r}")
        glosses.append((int(fields[1]), " ".join(line.partition(" | ")[2].split())))
    return glosses


def _read_wordnet_nouns(root: Path, split: str, info: DatasetInfo) -> TextSplit:
    """Glosses of the WORDNET_NOUN_FILES classes; empty, duplicate and ambiguous ones dropped."""
    label_of = {number: label for label, number in enumerate(WORDNET_NOUN_FILES)}
    owners: dict[str, set[int]] = {}
    for number, gloss in _wordnet_glosses(root / "data.noun"):
        if gloss and number in label_of:
            owners.setdefault(gloss, set()).add(label_of[number])
    want_test = split == "test"
    kept = [(text, labels.pop()) for text, labels in owners.items()
            if len(labels) == 1 and in_hashed_test_split(text) == want_test]
    if not kept:
        raise ValueError(f"{root / 'data.noun'}: no noun glosses of lexicographer files "
                         f"{WORDNET_NOUN_FILES} found for split {split!r}")
    texts, labels = zip(*kept)
    return TextSplit(list(texts), list(labels), len(WORDNET_NOUN_FILES))


# --------------------------------------------------------------------------------------------
# Each dataset's format: where it sits under data_dir, what a split needs, which reader
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    """How one dataset sits on disk: its folder under data_dir, what a split needs, its reader."""

    folder: str  # folder expected inside data_dir ("" = data_dir itself)
    needs: Callable[[Path, str], list[Path]]  # paths (under the folder) a split reads
    read: Callable[[Path, str, DatasetInfo], Split]
    fix: str = ""  # how else to get the data, appended to the error message


FORMATS: dict[str, Format] = {
    "cifar100": Format("cifar-100-python", lambda r, s: [r / s], _read_cifar100),
    "tiny-imagenet": Format(
        "tiny-imagenet-200",
        lambda r, s: [r / "wnids.txt", r / "train"] if s == "train"
        else [r / "wnids.txt", r / "val" / "images", r / "val" / "val_annotations.txt"],
        _read_tiny_imagenet,
    ),
    "imagenet-1k": Format("imagenet", lambda r, s: [r / ("train" if s == "train" else "val")],
                           _read_image_folder),
    "ag_news": Format("ag_news_csv", lambda r, s: [r / f"{s}.csv"], _read_ag_news),
    "imdb": Format("aclImdb", lambda r, s: [r / s / "neg", r / s / "pos"], _read_imdb),
    "yelp_full": Format("yelp_review_full_csv", lambda r, s: [r / f"{s}.csv"], _read_yelp),
    "fashion-mnist": Format(
        "",
        lambda r, s: [_idx_path(r, f"{'train' if s == 'train' else 't10k'}-{kind}-ubyte")
                      for kind in ("images-idx3", "labels-idx1")],
        _read_fashion_mnist,
        fix="; or `apt-get install dataset-fashion-mnist`",
    ),
    "digits": Format("", lambda r, s: [r / "digits.csv.gz"], _read_digits),
    "fortunes": Format("", lambda r, s: [r / c for c in FORTUNE_CATEGORIES], _read_fortunes,
                        fix="; or `apt-get install fortunes`"),
    "wordnet-nouns": Format(
        "", lambda r, s: [r / "data.noun"], _read_wordnet_nouns,
        fix=f"; or `apt-get install wordnet-base` (installs {WORDNET_DEBIAN_DIR / 'data.noun'})",
    ),
}
