"""Datasets: the registry and readers of each dataset's standard on-disk format.

What turns their raw examples into model inputs (image pipeline, MixUp, text edits,
tokenising) lives in :mod:`dreamlib.transforms`.

Every dataset is loaded by :func:`load_split` from a directory holding its *standard* on-disk
format (``data_dir``, the ``--data-dir`` flag). Without ``data_dir`` the loader looks in the
usual places (Debian packages, scikit-learn, ``$DREAMLIB_DATA`` or ``~/.cache/dreamlib``) and,
for the paper's datasets, then tries the standard online source. Anything missing or malformed
raises one :class:`DataError` naming the dataset, the path tried, the expected layout and the fix.

=============  ======  =======  ===================  =======  ====================================
name           task    classes  train / test         native   source
=============  ======  =======  ===================  =======  ====================================
cifar100       vision      100  50,000 / 10,000      32×32×3  CIFAR-100 pickles (torchvision)
tiny-imagenet  vision      200  100,000 / 10,000     64×64×3  CS231n zip; HF zh-plus/tiny-imagenet
imagenet-1k    vision     1000  1,281,167 / 50,000   ~224×3   ILSVRC-2012 folders (no download)
ag_news        text          4  120,000 / 7,600      --       ag_news_csv; HF fancyzhx/ag_news
imdb           text          2  25,000 / 25,000      --       aclImdb; HF stanfordnlp/imdb
yelp_full      text          5  650,000 / 50,000     --       yelp_review_full_csv; HF Yelp/...
fashion-mnist  vision       10  60,000 / 10,000      28×28×1  Debian dataset-fashion-mnist
digits         vision       10  1,437 / 360          8×8×1    scikit-learn's digits.csv.gz
fortunes       text          6  3,420 / 880          --       Debian fortunes, category = label
wordnet-nouns  text         10  50,169 / 12,494      --       Debian wordnet-base, noun glosses
=============  ======  =======  ===================  =======  ====================================

The last four need no network; the first three of them make the ``smoke`` and ``default``
profiles runnable anywhere. ``DATASETS[name].layout`` spells out each on-disk layout.

``fortunes``: six large, topically distinct categories of the Debian ``fortunes`` package
(the larger ``people``, ``definitions`` and ``cookie`` files mix topics; offensive ``off/`` is
excluded). Entries are split on lines holding only ``%``; terminal overstrikes (``_\\bX``) are
removed and whitespace collapsed. Empty entries, duplicates, and the 5 entries filed under two
of these categories (ambiguous label) are dropped, which leaves 4,300. An entry goes to the
test split when the SHA-256 of its text is 0 mod 5, so the split needs no seed and a duplicate
cannot leak across it. Measured on fortunes 1:1.99.1-7.3:

===========  =======  =====  ====
category     entries  train  test
===========  =======  =====  ====
computers       1051    819   231
songs-poems      720    571   145
politics         703    579   123
work             630    502   128
science          625    497   126
men-women        582    452   127
total           4311   3420   880
===========  =======  =====  ====

``wordnet-nouns``: the noun glosses (definitions, with their example phrases) of WordNet 3.0's
``data.noun`` (Debian ``wordnet-base``), labelled by the synset's lexicographer file: the 10
largest noun files (``WORDNET_NOUN_FILES``, label = index in that tuple, largest first). The
text is the gloss alone, whitespace collapsed: the synset's words are left out, so the task is
"what kind of thing does this definition describe", not a lookup of the headword. Licence-header
lines (starting with a space) are skipped. Empty glosses and duplicates are dropped, and so are
the 2 glosses filed under two of these classes ("one species", "of western North America": 16
synsets), which leaves 62,663 of the 63,245 synsets. The test split is the content hash of
``fortunes`` (SHA-256 of the text 0 mod 5): no seed. The majority class (artifact) is 19.0 % of
the test split; TF-IDF + logistic regression (:func:`dreamlib.references.tfidf_accuracy`)
reaches 87.7 %. Measured on wordnet-base 1:3.0-37:

=====  ===================  =======  =====  =====
file   lexicographer file   synsets  train  test
=====  ===================  =======  =====  =====
06     noun.artifact          11587   9192   2378
18     noun.person            11087   8895   2152
20     noun.plant              8030   6379   1532
05     noun.animal             7509   5856   1414
04     noun.act                6650   5264   1384
10     noun.communication      5607   4449   1081
26     noun.state              3544   2838    703
15     noun.location           3209   2545    611
07     noun.attribute          3039   2426    607
27     noun.substance          2983   2325    632
total                         63245  50169  12494
=====  ===================  =======  =====  =====

(synsets: lines in ``data.noun``; train/test: after dropping duplicates and ambiguous glosses.)

``digits``: pixel values 0–16 scaled to uint8 0–255; a stratified split with the fixed seed 0
(whatever the run seed): 1,437 train / 360 test.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.resources
import json
import os
import pickle
import re
import socket
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as TF

from .errors import DreamlibError

SPLITS = ("train", "test")
# The test subset (max_items of the test split) is drawn with this seed whatever the run's seed:
# every model and seed is scored on the same examples, so comparisons are paired.
TEST_SUBSET_SEED = 0
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FORTUNES_DEBIAN_DIR = Path("/usr/share/games/fortunes")
FORTUNE_CATEGORIES = ("computers", "songs-poems", "politics", "work", "science", "men-women")
WORDNET_DEBIAN_DIR = Path("/usr/share/wordnet")
# The 10 largest noun lexicographer files of WordNet 3.0 (by synset count), largest first;
# label = index in this tuple. Their names (noun.<name>) follow, in the same order.
WORDNET_NOUN_FILES = (6, 18, 20, 5, 4, 10, 26, 15, 7, 27)
WORDNET_NOUN_NAMES = ("artifact", "person", "plant", "animal", "act", "communication", "state",
                      "location", "attribute", "substance")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
# Bump when a reader changes what it returns, so caches keyed by data_fingerprint go stale.
READER_VERSION = 1


class DataError(DreamlibError, ValueError):
    """Data that cannot be loaded; the one-line message names the dataset, path, layout and fix."""


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is: task, classes, native image size, split sizes, source, on-disk layout."""

    name: str
    task: str  # "vision" | "text"
    num_classes: int
    image_size: int | None  # native side length (vision); None for text
    channels: int | None  # native channels (vision); None for text
    train_size: int | None
    test_size: int | None
    source: str
    layout: str  # the expected on-disk layout under data_dir, human readable


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "cifar100", "vision", 100, 32, 3, 50_000, 10_000,
            "https://www.cs.toronto.edu/~kriz/cifar.html (torchvision.datasets.CIFAR100)",
            "<data_dir>/cifar-100-python/{train,test}: python pickles of dicts with b'data' "
            "(N×3072 uint8, channel-major 32×32) and b'fine_labels' (0–99)",
        ),
        DatasetInfo(
            "tiny-imagenet", "vision", 200, 64, 3, 100_000, 10_000,
            "http://cs231n.stanford.edu/tiny-imagenet-200.zip (Hugging Face zh-plus/tiny-imagenet)",
            "<data_dir>/tiny-imagenet-200/ with wnids.txt, train/<wnid>/images/*.JPEG, "
            "val/images/*.JPEG and val/val_annotations.txt (tab separated: filename, wnid, ...); "
            "val is the test split",
        ),
        DatasetInfo(
            "imagenet-1k", "vision", 1000, 224, 3, 1_281_167, 50_000,
            "https://image-net.org (ILSVRC-2012; licence required, no automatic download)",
            "<data_dir>/imagenet/{train,val}/<class>/*.JPEG (ImageFolder); val is the test split",
        ),
        DatasetInfo(
            "ag_news", "text", 4, None, None, 120_000, 7_600,
            "ag_news_csv (Zhang et al. 2015; Hugging Face fancyzhx/ag_news)",
            "<data_dir>/ag_news_csv/{train,test}.csv: no header, "
            "rows 'class (1–4),title,description'",
        ),
        DatasetInfo(
            "imdb", "text", 2, None, None, 25_000, 25_000,
            "https://ai.stanford.edu/~amaas/data/sentiment/ (Hugging Face stanfordnlp/imdb)",
            "<data_dir>/aclImdb/{train,test}/{neg,pos}/*.txt (utf-8, one review per file)",
        ),
        DatasetInfo(
            "yelp_full", "text", 5, None, None, 650_000, 50_000,
            "yelp_review_full_csv (Zhang et al. 2015; Hugging Face Yelp/yelp_review_full)",
            "<data_dir>/yelp_review_full_csv/{train,test}.csv: no header, rows 'stars (1–5),text'",
        ),
        DatasetInfo(
            "fashion-mnist", "vision", 10, 28, 1, 60_000, 10_000,
            f"Debian package dataset-fashion-mnist ({FASHION_MNIST_DEBIAN_DIR}); "
            "torchvision.datasets.FashionMNIST as last resort",
            "<data_dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]: "
            "the 4 original idx files",
        ),
        DatasetInfo(
            "digits", "vision", 10, 8, 1, 1_437, 360,
            "scikit-learn's bundled copy of the UCI optical digits (sklearn.datasets.load_digits)",
            "<data_dir>/digits.csv.gz: one row per image, 64 pixel values 0–16 then the label",
        ),
        DatasetInfo(
            "fortunes", "text", len(FORTUNE_CATEGORIES), None, None, 3_420, 880,
            f"Debian package fortunes ({FORTUNES_DEBIAN_DIR})",
            f"<data_dir>/{{{','.join(FORTUNE_CATEGORIES)}}}: fortune files, entries separated "
            "by lines holding only '%', latin-1",
        ),
        DatasetInfo(
            "wordnet-nouns", "text", len(WORDNET_NOUN_FILES), None, None, 50_169, 12_494,
            f"Debian package wordnet-base ({WORDNET_DEBIAN_DIR}): WordNet 3.0 noun glosses, "
            "label = lexicographer file",
            "<data_dir>/data.noun: WordNet's noun data file, latin-1, one synset a line "
            "('offset lex_filenum n ... | gloss'), licence lines start with a space",
        ),
    )
}


def dataset_names(task: str | None = None) -> list[str]:
    """Registered names, optionally only those of one task ("vision" or "text")."""
    if task not in (None, "vision", "text"):
        raise DataError(f"unknown task {task!r}; choose one of: vision, text")
    return [name for name, info in DATASETS.items() if task in (None, info.task)]


def get_info(name: str) -> DatasetInfo:
    """The registry entry of `name`; an unknown name lists the choices."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return DATASETS[name]


def default_data_root() -> Path:
    """Where downloads go and where paper datasets are looked for: $DREAMLIB_DATA or ~/.cache."""
    return Path(os.environ.get("DREAMLIB_DATA") or Path.home() / ".cache" / "dreamlib")


# --------------------------------------------------------------------------------------------
# Loaded splits and their datasets
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
# load_split turns them into one DataError with the layout and the fix.
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
    except Exception as exc:  # unpickling garbage can raise nearly any exception type
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
    entries = (_clean_fortune(e) for e in re.split(r"^%$", path.read_text("latin-1"), flags=re.M))
    return [entry for entry in entries if entry]


def _in_fortunes_test(text: str) -> bool:
    """The fixed 80/20 split: a content hash, so it needs no seed and duplicates stay together."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % 5 == 0


def _read_fortunes(root: Path, split: str, info: DatasetInfo) -> TextSplit:
    """One class per category file; entries filed under several categories are dropped."""
    owners: dict[str, set[int]] = {}
    for label, category in enumerate(FORTUNE_CATEGORIES):
        for entry in _fortune_entries(root / category):
            owners.setdefault(entry, set()).add(label)
    want_test = split == "test"
    kept = [(text, labels.pop()) for text, labels in owners.items()
            if len(labels) == 1 and _in_fortunes_test(text) == want_test]
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
            if len(labels) == 1 and _in_fortunes_test(text) == want_test]
    if not kept:
        raise ValueError(f"{root / 'data.noun'}: no noun glosses of lexicographer files "
                         f"{WORDNET_NOUN_FILES} found for split {split!r}")
    texts, labels = zip(*kept)
    return TextSplit(list(texts), list(labels), len(WORDNET_NOUN_FILES))


# --------------------------------------------------------------------------------------------
# Where each dataset lives
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Format:
    """How one dataset sits on disk: its folder under data_dir, what a split needs, its reader."""

    folder: str  # folder expected inside data_dir ("" = data_dir itself)
    needs: Callable[[Path, str], list[Path]]  # paths (under the folder) a split reads
    read: Callable[[Path, str, DatasetInfo], Split]
    fix: str = ""  # how else to get the data, appended to the error message


_FORMATS: dict[str, _Format] = {
    "cifar100": _Format("cifar-100-python", lambda r, s: [r / s], _read_cifar100),
    "tiny-imagenet": _Format(
        "tiny-imagenet-200",
        lambda r, s: [r / "wnids.txt", r / "train"] if s == "train"
        else [r / "wnids.txt", r / "val" / "images", r / "val" / "val_annotations.txt"],
        _read_tiny_imagenet,
    ),
    "imagenet-1k": _Format("imagenet", lambda r, s: [r / ("train" if s == "train" else "val")],
                           _read_image_folder),
    "ag_news": _Format("ag_news_csv", lambda r, s: [r / f"{s}.csv"], _read_ag_news),
    "imdb": _Format("aclImdb", lambda r, s: [r / s / "neg", r / s / "pos"], _read_imdb),
    "yelp_full": _Format("yelp_review_full_csv", lambda r, s: [r / f"{s}.csv"], _read_yelp),
    "fashion-mnist": _Format(
        "",
        lambda r, s: [_idx_path(r, f"{'train' if s == 'train' else 't10k'}-{kind}-ubyte")
                      for kind in ("images-idx3", "labels-idx1")],
        _read_fashion_mnist,
        fix="; or `apt-get install dataset-fashion-mnist`",
    ),
    "digits": _Format("", lambda r, s: [r / "digits.csv.gz"], _read_digits),
    "fortunes": _Format("", lambda r, s: [r / c for c in FORTUNE_CATEGORIES], _read_fortunes,
                        fix="; or `apt-get install fortunes`"),
    "wordnet-nouns": _Format(
        "", lambda r, s: [r / "data.noun"], _read_wordnet_nouns,
        fix=f"; or `apt-get install wordnet-base` (installs {WORDNET_DEBIAN_DIR / 'data.noun'})",
    ),
}


def _sklearn_data_dir() -> Path:
    """The folder of scikit-learn's bundled data files (digits.csv.gz)."""
    return Path(str(importlib.resources.files("sklearn.datasets") / "data"))


def _default_dirs(name: str) -> list[Path]:
    """Where a dataset is looked for when no data_dir is given, in order."""
    root = default_data_root()
    if name == "fashion-mnist":
        return [FASHION_MNIST_DEBIAN_DIR, root / "FashionMNIST" / "raw", root]
    if name == "digits":
        return [_sklearn_data_dir(), root]
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


def _error(info: DatasetInfo, split: str, problem: str) -> DataError:
    """The one message shape: dataset, problem (with the path), expected layout, fix."""
    fix = f"pass --data-dir DIR (data_dir=DIR) where DIR holds that layout{_FORMATS[info.name].fix}"
    return DataError(f"dataset {info.name!r} ({split}): {problem}. Expected layout: "
                     f"{info.layout}. Fix: {fix}")


def _missing(info: DatasetInfo, split: str, base: Path) -> Path | None:
    """The first path the split needs that is absent under `base`, or None if all exist."""
    root = _dataset_root(base, _FORMATS[info.name].folder)
    return next((p for p in _FORMATS[info.name].needs(root, split) if not p.exists()), None)


def _locate(info: DatasetInfo, split: str, data_dir: str | os.PathLike | None) -> Path | None:
    """The dataset root to read, or None when only the online source is left."""
    folder = _FORMATS[info.name].folder
    if data_dir is not None:
        base = Path(data_dir).expanduser()
        if base.exists() and not base.is_dir():
            raise _error(info, split, f"data dir {base} is a file, not a folder")
        if not base.is_dir():
            raise _error(info, split, f"data dir {base} does not exist")
        missing = _missing(info, split, base)
        if missing is not None:
            raise _error(info, split, f"{missing} not found")
        return _dataset_root(base, folder)
    for base in _default_dirs(info.name):
        if base.is_dir() and _missing(info, split, base) is None:
            return _dataset_root(base, folder)
    return None


# EOFError and zlib.error: a truncated or corrupted .gz read through gzip (digits.csv.gz)
_READ_ERRORS = (OSError, EOFError, zlib.error, ValueError, KeyError, IndexError, TypeError,
                csv.Error)


def _read_local(info: DatasetInfo, root: Path, split: str) -> Split:
    """Run the dataset's reader, turning any failure into one DataError."""
    try:
        return _FORMATS[info.name].read(root, split, info)
    except DataError:
        raise
    except _READ_ERRORS as exc:
        raise _error(info, split, f"cannot read {root} ({type(exc).__name__}: {exc})") from None


# --------------------------------------------------------------------------------------------
# Online sources (only when no local copy exists; they fail fast without network)
# --------------------------------------------------------------------------------------------

_HUB_SOURCES = {  # name -> (Hugging Face dataset id, {our split: hub split})
    "tiny-imagenet": ("zh-plus/tiny-imagenet", {"train": "train", "test": "valid"}),
    "ag_news": ("fancyzhx/ag_news", {"train": "train", "test": "test"}),
    "imdb": ("stanfordnlp/imdb", {"train": "train", "test": "test"}),
    "yelp_full": ("Yelp/yelp_review_full", {"train": "train", "test": "test"}),
}


def _offline() -> bool:
    """The Hugging Face offline switches (and DREAMLIB_OFFLINE) forbid every download."""
    names = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "DREAMLIB_OFFLINE")
    return any(os.environ.get(n, "").strip().lower() in {"1", "true", "yes", "on"} for n in names)


def _reachable(url: str, timeout: float = 3.0) -> bool:
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
    if not _offline() and not _reachable("https://huggingface.co"):
        raise RuntimeError("huggingface.co is unreachable (no network)")
    import datasets

    table = datasets.load_dataset(hub_id, split=hub_splits[split])
    if info.task == "vision":
        return VisionSplit(HubImages(table), info.num_classes, 3)
    return TextSplit(list(table["text"]), [int(x) for x in table["label"]], info.num_classes)


def _from_torchvision(info: DatasetInfo, split: str) -> Split:
    """Download the original files with torchvision into the data root, then read them."""
    import torchvision.datasets as tvd

    if _offline():
        raise RuntimeError("downloads are disabled (HF_HUB_OFFLINE / DREAMLIB_OFFLINE is set)")
    root = default_data_root()
    if info.name == "cifar100":
        url, download, local = tvd.CIFAR100.url, tvd.CIFAR100, root
    else:
        url, download, local = tvd.FashionMNIST.mirrors[0], tvd.FashionMNIST, \
            root / "FashionMNIST" / "raw"
    if not _reachable(url):
        raise RuntimeError(f"{urlparse(url).hostname} is unreachable (no network)")
    download(str(root), train=split == "train", download=True)
    return _read_local(info, _dataset_root(local, _FORMATS[info.name].folder), split)


def _online_source(name: str) -> tuple[str, Callable[[DatasetInfo, str], Split]] | None:
    """A description of the dataset's online source and its fetcher, if it has one."""
    if name in _HUB_SOURCES:
        return f"Hugging Face {_HUB_SOURCES[name][0]}", _from_hub
    if name in ("cifar100", "fashion-mnist"):
        return "torchvision download", _from_torchvision
    return None


def _fetch_online(info: DatasetInfo, split: str) -> Split:
    """Try the online source; any failure becomes a DataError listing the local places tried."""
    tried = ", ".join(str(_dataset_root(d, _FORMATS[info.name].folder))
                      for d in _default_dirs(info.name))
    source = _online_source(info.name)
    if source is None:
        raise _error(info, split, f"no local copy (tried {tried}) and no automatic download")
    description, fetch = source
    try:
        return fetch(info, split)
    except DataError:
        raise
    except Exception as exc:  # network/hub failures come in many types; report them all alike
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _error(info, split, f"no local copy (tried {tried}) and {description} failed: "
                                  f"{reason}") from None


# --------------------------------------------------------------------------------------------
# Public loading API
# --------------------------------------------------------------------------------------------


def stratified_indices(labels: Sequence[int], max_items: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a class-stratified random subset of `max_items` (all when None/larger).

    Each example is ranked by its position within its class in a seeded shuffle, scaled by the
    class size; taking the lowest ranks gives every class its proportional share, and the same
    seed gives the same subset.
    """
    if max_items is not None and max_items < 1:
        raise ValueError(f"max_items must be a positive number of examples, got {max_items}")
    labels = np.asarray(labels)
    if max_items is None or max_items >= len(labels):
        return np.arange(len(labels))
    order = np.random.default_rng(seed).permutation(len(labels))
    _, class_of, counts = np.unique(labels[order], return_inverse=True, return_counts=True)
    by_class = np.argsort(class_of, kind="stable")
    within = np.empty(len(order))
    within[by_class] = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    rank = (within + 0.5) / counts[class_of]
    chosen = order[np.argsort(rank, kind="stable")[:max_items]]
    return np.sort(chosen)


def _take(loaded: Split, indices: np.ndarray) -> Split:
    """The examples of `loaded` at `indices`."""
    if isinstance(loaded, TextSplit):
        return TextSplit([loaded.texts[i] for i in indices], [loaded.labels[i] for i in indices],
                         loaded.num_classes)
    return VisionSplit(loaded.dataset.select(indices), loaded.num_classes, loaded.channels)


def _labels_of(loaded: Split) -> Sequence[int]:
    """The labels of a loaded split, whichever kind it is."""
    return loaded.labels if isinstance(loaded, TextSplit) else loaded.dataset.labels


def _check_split(info: DatasetInfo, split: str) -> None:
    """Only the standard train/test splits exist (validation sets serve as test)."""
    if split not in SPLITS:
        raise DataError(f"dataset {info.name!r}: unknown split {split!r}; choose one of: "
                        f"{', '.join(SPLITS)}")


def load_split(name: str, split: str, data_dir: str | os.PathLike | None = None,
               max_items: int | None = None, seed: int = 0) -> Split:
    """Load one split ("train" or "test") of a registered dataset.

    `data_dir` holds the dataset's standard layout (``DATASETS[name].layout``); without it the
    default places are tried, then the online source. `max_items` keeps a class-stratified
    subset chosen by `seed` (same seed, same subset). Small image sets come back in memory,
    big ones decode lazily; every failure is a :class:`DataError`.
    """
    info = get_info(name)
    _check_split(info, split)
    stratified_indices([], max_items, seed)  # reject a bad max_items before any loading
    root = _locate(info, split, data_dir)
    loaded = _read_local(info, root, split) if root is not None else _fetch_online(info, split)
    # a class without examples (an empty aclImdb/train/pos/) is broken data, whatever the reader:
    # training on the rest would report an accuracy that means nothing
    present = set(np.unique(np.asarray(_labels_of(loaded), dtype=np.int64)).tolist())
    empty = [k for k in range(loaded.num_classes) if k not in present]
    if empty:
        names = {"imdb": ("neg", "pos"), "fortunes": FORTUNE_CATEGORIES}.get(info.name)
        shown = ", ".join(f"{k} ({names[k]})" if names else str(k) for k in empty[:10])
        shown += f" and {len(empty) - 10} more" if len(empty) > 10 else ""
        where = root if root is not None else "its online source"
        what = f"class {shown} has" if len(empty) == 1 else f"classes {shown} have"
        raise _error(info, split, f"{what} no examples (of classes 0..{loaded.num_classes - 1}) "
                                  f"in {where}")
    return _take(loaded, stratified_indices(_labels_of(loaded), max_items, seed))


def _listing(paths: list[Path], root: Path) -> list[tuple[str, int]]:
    """(relative name, size) of every file under `paths`: cheap, no contents read."""
    files = []
    for path in paths:
        found = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        files += [(str(p.relative_to(root)), p.stat().st_size) for p in found]
    return files


def data_fingerprint(name: str, split: str, data_dir: str | os.PathLike | None = None,
                     max_items: int | None = None, seed: int = 0) -> str:
    """A short hash of what load_split(...) with these arguments would load (a cache key).

    It covers the arguments, the reader version and the names and sizes of the source files
    (or the online source's name), so changed data or a changed reader gives a new key.
    """
    info = get_info(name)
    _check_split(info, split)
    root = _locate(info, split, data_dir)
    if root is None:
        online = _online_source(name)
        source: object = online[0] if online else "missing"
    else:
        source = _listing(_FORMATS[name].needs(root, split), root)
    payload = json.dumps([name, split, max_items, seed, READER_VERSION, source])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
