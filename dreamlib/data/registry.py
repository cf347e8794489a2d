"""The dataset registry: what each dataset is, and the one error type of data loading.

:class:`DatasetInfo` records a dataset's task, classes, native size, split sizes, source and
expected on-disk layout; :data:`DATASETS` holds one per registered name. The constants that
define the offline datasets' classes (fortune categories, WordNet lexicographer files) and
their Debian homes live here too, because both the registry entries and the readers need them.

This is the bottom layer of :mod:`dreamlib.data`: it imports nothing else of the package, so
the readers, the sources and the split loader can all build on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import DreamlibError

SPLITS = ("train", "test")  # validation sets (ImageNet, Tiny-ImageNet val) serve as test
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FORTUNES_DEBIAN_DIR = Path("/usr/share/games/fortunes")
FORTUNE_CATEGORIES = ("computers", "songs-poems", "politics", "work", "science", "men-women")
WORDNET_DEBIAN_DIR = Path("/usr/share/wordnet")
# The 10 largest noun lexicographer files of WordNet 3.0 (by synset count), largest first;
# label = index in this tuple. Their names (noun.<name>) follow, in the same order.
WORDNET_NOUN_FILES = (6, 18, 20, 5, 4, 10, 26, 15, 7, 27)
WORDNET_NOUN_NAMES = ("artifact", "person", "plant", "animal", "act", "communication", "state",
                      "location", "attribute", "substance")


class DataError(DreamlibError, ValueError):
    """Data that cannot be loaded; the one-line message names the dataset, path, layout and fix."""


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

