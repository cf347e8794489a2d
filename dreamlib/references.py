"""Non-neural reference rows for the result tables: what a table's accuracies are read against.

* :func:`majority_accuracy` — always answer the training split's most frequent class.
* :func:`tfidf_accuracy` — TF-IDF of word 1–2-grams + logistic regression (scikit-learn),
  text datasets only.

Both read the data through :func:`dreamlib.data.load_split`, like the models do: the test
split always with seed 0 (the one fixed test set of every model and seed; ``max_test`` keeps
the same stratified subset whatever the seed), the training subset with ``seed``. They return
a fraction in 0–1 (multiply by 100 for points).
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np

from .data import TEST_SUBSET_SEED as TEST_SEED
from .data import DataError, Split, TextSplit, get_info, load_split


def _labels(split: Split) -> np.ndarray:
    """The labels of a loaded split, text or vision."""
    labels = split.labels if isinstance(split, TextSplit) else split.dataset.labels
    return np.asarray([int(label) for label in labels], dtype=np.int64)


def _splits(dataset: str, data_dir, max_train: int | None, max_test: int | None, seed: int):
    """(train, test) splits: the training subset chosen by `seed`, the test one by seed 0."""
    train = load_split(dataset, "train", data_dir, max_train, seed=seed)
    test = load_split(dataset, "test", data_dir, max_test, seed=TEST_SEED)
    return train, test


def majority_accuracy(dataset: str, data_dir: str | os.PathLike | None = None,
                      max_train: int | None = None, max_test: int | None = None,
                      seed: int = 0) -> float:
    """Test accuracy (0–1) of always answering the most frequent class of the training split.

    Ties between equally frequent classes go to the smallest label. Works for every dataset.
    """
    train, test = _splits(dataset, data_dir, max_train, max_test, seed)
    counts = Counter(_labels(train).tolist())
    majority = min(counts, key=lambda label: (-counts[label], label))
    return float(np.mean(_labels(test) == majority))


def tfidf_accuracy(dataset: str, data_dir: str | os.PathLike | None = None,
                   max_train: int | None = None, max_test: int | None = None,
                   seed: int = 0) -> float:
    """Test accuracy (0–1) of TF-IDF (word 1–2-grams) + logistic regression.

    The vectoriser (sublinear tf, terms in ≥ 2 training texts unless the training split is
    tiny) and the classifier (L-BFGS, C = 10, up to 1000 iterations) are fitted on the training
    split only; `seed` picks the training subset and seeds the classifier. Text datasets only:
    a vision dataset is a :class:`~dreamlib.data.DataError`.
    """
    # deferred: scikit-learn takes about 0.5 s to import, and only this text reference uses it
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    info = get_info(dataset)
    if info.task != "text":
        raise DataError(f"tfidf_accuracy needs a text dataset; {dataset!r} is a {info.task} "
                        "dataset (use majority_accuracy, or a text dataset such as fortunes)")
    train, test = _splits(dataset, data_dir, max_train, max_test, seed)
    assert isinstance(train, TextSplit) and isinstance(test, TextSplit)
    if len(set(train.labels)) < 2:
        raise DataError(f"tfidf_accuracy: the training split of {dataset!r} holds a single "
                        "class; raise max_train")
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True,
                                 min_df=2 if len(train.texts) >= 100 else 1)
    features = vectorizer.fit_transform(train.texts)
    classifier = LogisticRegression(C=10.0, max_iter=1000, random_state=seed)
    classifier.fit(features, train.labels)
    predicted = classifier.predict(vectorizer.transform(test.texts))
    return float(np.mean(predicted == np.asarray(test.labels)))
