"""Datasets: the registry, the readers of each standard on-disk format, where the files are
found, and split loading.

The package, by layer (each imports only the ones above it):

* :mod:`~dreamlib.data.registry` -- :class:`DatasetInfo`, :data:`DATASETS`, :func:`get_info`,
  :func:`dataset_names`, :class:`DataError`, and the constants of the offline datasets.
* :mod:`~dreamlib.data.readers` -- one reader per on-disk format, the split types they return
  (:class:`VisionSplit`, :class:`TextSplit`) and the table of formats.
* :mod:`~dreamlib.data.sources` -- finding the files (:func:`locate`: ``--data-dir``, Debian
  packages, scikit-learn, ``$DREAMLIB_DATA``) and the online fallbacks (:func:`offline`,
  :func:`reachable`, the Hugging Face hub, torchvision downloads).
* :mod:`~dreamlib.data.splits` -- :func:`load_split`, stratified subsets
  (:func:`stratified_indices`, :data:`TEST_SUBSET_SEED`) and :func:`data_fingerprint`.

Import from ``dreamlib.data`` itself: it re-exports the public names of all four.

What turns their raw examples into model inputs (image pipeline, MixUp, text edits,
tokenising) lives in :mod:`dreamlib.transforms`.

Every dataset is loaded by :func:`load_split` from a directory holding its *standard* on-disk
format (``data_dir``, the ``--data-dir`` flag). Without ``data_dir`` the loader looks in the
usual places (Debian packages, scikit-learn, ``$DREAMLIB_DATA`` or ``~/.cache/dreamlib``), then
tries the standard online source: the Hugging Face hub for tiny-imagenet, ag_news, imdb and
yelp_full, a torchvision download for cifar100 and fashion-mnist (imagenet-1k, digits,
fortunes and wordnet-nouns have none). Anything missing or malformed raises one
:class:`DataError` naming the dataset: a file or folder that is missing gets the path tried, the
expected layout and the ``--data-dir`` fix; a file that is there but damaged gets the file, the
1-based line or row, the problem and its own fix (a byte that is not UTF-8: "save the file as
UTF-8"). CSVs may start with a UTF-8 byte-order mark. Classes are named as the files name them
(AG News' and Yelp's 1-based numbers, imdb's ``neg``/``pos`` folders, ...). A ``max_items``
subset (``--max-train``, ``--max-test``, ``pretrain --max-items``) that would leave a class
without examples is refused, naming the smallest size that keeps them all.

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

The last four need no network (given scikit-learn and the Debian packages
``dataset-fashion-mnist``, ``fortunes`` and ``wordnet-base``), and they are the four the
offline profiles use: digits and fortunes the ``smoke`` profile, fashion-mnist and
wordnet-nouns the ``default`` one. ``DATASETS[name].layout`` spells out each on-disk layout.

``fortunes``: six large, topically distinct categories of the Debian ``fortunes`` package (the
larger ``people``, ``definitions`` and ``cookie`` files mix topics; the offensive ``off/`` files
are never read). Entries are split on lines holding only ``%``; terminal overstrikes (``_\\bX``)
are removed and whitespace collapsed. Empty entries, duplicates, and the 5 entries filed under
two of these categories (ambiguous label) are dropped, which leaves 4,300. An entry goes to the
test split when the first 8 bytes of the SHA-256 of its text, read as a big-endian integer, are
0 mod 5 (:func:`in_hashed_test_split`), so the split needs no seed and a duplicate cannot leak
across it. Measured on fortunes 1:1.99.1-7.3:

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

(entries: non-empty entries in the category's file; train/test: after dropping duplicates and
ambiguous entries.)

``wordnet-nouns``: the noun glosses (definitions, with their example phrases) of WordNet 3.0's
``data.noun`` (Debian ``wordnet-base``), labelled by the synset's lexicographer file: the 10
largest noun files (``WORDNET_NOUN_FILES``, label = index in that tuple, largest first). The
text is the gloss alone, whitespace collapsed: the synset's words are left out, so the task is
"what kind of thing does this definition describe", not a lookup of the headword. Licence-header
lines (starting with a space) are skipped. Empty glosses and duplicates are dropped, and so are
the 2 glosses filed under two of these classes ("one species", "of western North America": 16
synsets), which leaves 62,663 of the 63,245 synsets. The test split is the content hash of
``fortunes`` (:func:`in_hashed_test_split`): no seed. The majority class (artifact) is 19.0 % of
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

from .readers import (
    IMAGE_SUFFIXES,
    READER_VERSION,
    HubImages,
    ImageFiles,
    Split,
    TensorImages,
    TextSplit,
    VisionSplit,
    in_hashed_test_split,
)
from .registry import (
    DATASETS,
    FASHION_MNIST_DEBIAN_DIR,
    FORTUNE_CATEGORIES,
    FORTUNES_DEBIAN_DIR,
    SPLITS,
    WORDNET_DEBIAN_DIR,
    WORDNET_NOUN_FILES,
    WORDNET_NOUN_NAMES,
    DataError,
    DatasetInfo,
    dataset_names,
    get_info,
)
from .sources import default_data_root, locate, offline, reachable, sklearn_data_dir
from .splits import TEST_SUBSET_SEED, data_fingerprint, load_split, stratified_indices

__all__ = [
    "DATASETS",
    "FASHION_MNIST_DEBIAN_DIR",
    "FORTUNES_DEBIAN_DIR",
    "FORTUNE_CATEGORIES",
    "IMAGE_SUFFIXES",
    "READER_VERSION",
    "SPLITS",
    "TEST_SUBSET_SEED",
    "WORDNET_DEBIAN_DIR",
    "WORDNET_NOUN_FILES",
    "WORDNET_NOUN_NAMES",
    "DataError",
    "DatasetInfo",
    "HubImages",
    "ImageFiles",
    "Split",
    "TensorImages",
    "TextSplit",
    "VisionSplit",
    "data_fingerprint",
    "dataset_names",
    "default_data_root",
    "get_info",
    "in_hashed_test_split",
    "load_split",
    "locate",
    "offline",
    "reachable",
    "sklearn_data_dir",
    "stratified_indices",
]
