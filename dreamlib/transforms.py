"""What turns raw examples into model inputs: the one image pipeline, MixUp, text edits, tokens.

Images (uint8 C×H×W from :mod:`dreamlib.data`) go through three steps, the same for every
consumer (training, evaluation, the encoders' pre-training, figures):

1. :func:`prepare_image` per example: resize to the model's side and match its channels
   (uint8 stays uint8, so a batch of 128 small images costs ~100 KB);
2. :func:`augment_batch` per training batch only: RandAugment, one draw per group of images;
3. :func:`normalize_batch` per batch: float32 in [-1, 1].

:func:`load_data` gives a run its model-ready train/test sets and :func:`model_inputs` turns a
collated batch into the model's positional inputs, so training and evaluation share one path.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset, default_collate
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from .data import TEST_SUBSET_SEED, load_split
from .encoders import load_tokenizer


# --------------------------------------------------------------------------------------------
# The image pipeline: per-example resize, per-batch RandAugment, normalisation, MixUp
# --------------------------------------------------------------------------------------------


def match_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey → RGB by repetition, RGB → grey by luminance, so any set fits any model."""
    if image.shape[-3] == channels:
        return image
    if image.shape[-3] == 1:
        return image.expand(*image.shape[:-3], channels, *image.shape[-2:])
    return TF.rgb_to_grayscale(image, num_output_channels=channels)


AUGMENT_GROUP = 8  # images sharing one RandAugment draw in augment_batch


def prepare_image(image: torch.Tensor, image_size: int, channels: int) -> torch.Tensor:
    """uint8 C×H×W at any size → uint8 channels×image_size×image_size (antialiased resize).

    The per-example half of the training pipeline; :func:`augment_batch` and
    :func:`normalize_batch` do the rest on whole batches, where Python overhead is paid once.
    """
    if image.shape[-2:] != (image_size, image_size):
        image = TF.resize(image, [image_size, image_size], antialias=True)
    return match_channels(image, channels).contiguous()


def augment_batch(images: torch.Tensor, group: int = AUGMENT_GROUP) -> torch.Tensor:
    """RandAugment (2 ops, magnitude 9) on a uint8 batch, one random draw per group of images.

    Per-image RandAugment costs ~5–20 ms of Python per call on this CPU, more than the model
    step for small images; drawing ops per group of 8 keeps the augmentation's variety across
    a batch at a fraction of the cost. Uses torch's global RNG.
    """
    augment = v2.RandAugment()
    return torch.cat([augment(chunk) for chunk in images.split(group)])


def normalize_batch(images: torch.Tensor) -> torch.Tensor:
    """uint8 batch → float32 in [-1, 1]: x / 127.5 - 1, i.e. mean 0.5 and std 0.5 per channel
    on the 0–1 scale. Training, evaluation and the encoders' pre-training all use it."""
    return images.to(torch.float32).div_(127.5).sub_(1.0)


def mixup(images: torch.Tensor, labels: torch.Tensor, num_classes: int,
          alpha: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al. 2018) of a float batch: returns mixed images and soft labels (B×K).

    Uses torchvision's v2.MixUp: λ ~ Beta(α, α) from torch's global RNG (torch.manual_seed makes
    it repeatable) and each example is mixed with its neighbour in the batch, so shuffle batches.
    α = 0.2 is the original paper's ImageNet value.
    """
    if not images.is_floating_point():
        raise ValueError("mixup needs float images: apply normalize_batch before mixing")
    return v2.MixUp(alpha=alpha, num_classes=num_classes)(images, labels)


# --------------------------------------------------------------------------------------------
# Text augmentation and tokenisation
# --------------------------------------------------------------------------------------------

_EDITS = ("swap", "insert", "delete", "substitute")


def _edit_words(words: list[str], edits: int, vocab: list[str], rng: random.Random) -> list[str]:
    """Apply `edits` random word edits; swap/delete need two words, else they substitute."""
    words = list(words)
    for _ in range(edits):
        edit = rng.choice(_EDITS)
        if edit in ("swap", "delete") and len(words) < 2:
            edit = "substitute"
        if edit == "swap":
            i, j = rng.sample(range(len(words)), 2)
            words[i], words[j] = words[j], words[i]
        elif edit == "delete":
            del words[rng.randrange(len(words))]
        elif edit == "insert":
            words.insert(rng.randrange(len(words) + 1), rng.choice(vocab))
        else:
            words[rng.randrange(len(words))] = rng.choice(vocab)
    return words


def augment_texts(texts: Sequence[str], labels: Sequence[int], frac: float = 0.1,
                  seed: int = 0) -> tuple[list[str], list[int]]:
    """The paper's text augmentation: one edited copy per example, doubling the training set.

    Each copy gets round(frac × words) edits (at least one), each a random choice of swapping
    two words, inserting, deleting, or substituting a word; inserted and substituted words come
    from the vocabulary of `texts`. Edited copies are whitespace-joined; the same seed gives
    the same copies.
    """
    if not 0 < frac <= 1:
        raise ValueError(f"frac must be in (0, 1], got {frac}")
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    rng = random.Random(seed)
    vocab = sorted({word for text in texts for word in text.split()})
    copies = []
    for text in texts:
        words = text.split()
        edits = max(1, round(frac * len(words))) if words else 0
        copies.append(" ".join(_edit_words(words, edits, vocab, rng)))
    return list(texts) + copies, list(labels) + list(labels)


def tokenize(texts: Sequence[str], tokenizer, seq_len: int,
             char_level: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask, both LongTensor N×seq_len (padded and truncated).

    `char_level` ignores `tokenizer` and uses utf-8 bytes + 1 as ids (0 pads; vocabulary
    CHAR_VOCAB_SIZE = 257); otherwise `tokenizer` is a Hugging Face tokenizer.
    """
    if seq_len <= 0:
        raise ValueError(f"seq_len must be a positive number of tokens, got {seq_len}")
    if not char_level and tokenizer is None:
        raise ValueError("tokenize needs a tokenizer unless char_level=True")
    if char_level or not texts:
        return _byte_ids(texts, seq_len)
    encoded = tokenizer(list(texts), padding="max_length", truncation=True, max_length=seq_len,
                        return_tensors="pt")
    return encoded["input_ids"].long(), encoded["attention_mask"].long()


def _byte_ids(texts: Sequence[str], seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Byte-level ids: utf-8 byte + 1, truncated to seq_len, padded with 0."""
    ids = torch.zeros(len(texts), seq_len, dtype=torch.long)
    for row, text in enumerate(texts):
        encoded = np.frombuffer(text.encode("utf-8")[:seq_len], dtype=np.uint8)
        ids[row, : len(encoded)] = torch.from_numpy(encoded.astype(np.int64)) + 1
    return ids, (ids != 0).long()


# --------------------------------------------------------------------------------------------
# A run's data, model-ready
# --------------------------------------------------------------------------------------------


class Transformed(Dataset):
    """Applies the per-example half of the image pipeline (resize, channels; uint8 out)."""

    def __init__(self, base: Dataset, transform):
        self.base, self.transform = base, transform

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int):
        image, label = self.base[index]
        return self.transform(image), label


@dataclass
class Data:
    train: Dataset
    test: Dataset
    num_classes: int
    examples: dict  # a few raw test examples (for dreams and reports)


def load_data(cfg) -> Data:
    """Train/test datasets of run config ``cfg`` as model-ready tensors (images, or ids + mask).

    The training subset depends on the run's seed; the test subset never does
    (``TEST_SUBSET_SEED``), so every model and seed is scored on the same examples.
    """
    model = cfg.model
    train = load_split(cfg.dataset, "train", cfg.data_dir, cfg.max_train, seed=cfg.seed)
    test = load_split(cfg.dataset, "test", cfg.data_dir, cfg.max_test, seed=TEST_SUBSET_SEED)
    if model.task == "vision":
        prepare = partial(prepare_image, image_size=model.image_size, channels=model.in_channels)
        return Data(Transformed(train.dataset, prepare), Transformed(test.dataset, prepare),
                    train.num_classes, {})
    texts, labels = train.texts, train.labels
    if cfg.augment:
        texts, labels = augment_texts(texts, labels, frac=0.1, seed=cfg.seed)
    char_level = model.chain == "charcnn"
    tokenizer = None if char_level else load_tokenizer(model.encoder)

    def tensors(split_texts, split_labels):
        ids, mask = tokenize(split_texts, tokenizer, model.seq_len, char_level=char_level)
        return TensorDataset(ids, mask, torch.as_tensor(split_labels, dtype=torch.long))

    return Data(tensors(texts, labels), tensors(test.texts, test.labels), train.num_classes,
                {"texts": test.texts[:8]})


def collate(dataset: Dataset, indices: torch.Tensor):
    """The examples of ``dataset`` at ``indices``, stacked into one batch."""
    return default_collate([dataset[int(i)] for i in indices])


def model_inputs(batch, task: str, device, augment: bool = False):
    """Model inputs and labels of a collated batch; images get RandAugment when ``augment``."""
    if task == "vision":
        images, labels = batch
        if augment:
            images = augment_batch(images)
        # copy the uint8 batch (a quarter of the bytes; pinned by the loader on CUDA), then scale;
        # channels-last, the layout vision models train in (dreamlib.models.channels_last)
        images = normalize_batch(images.to(device, non_blocking=True))
        return ((images.contiguous(memory_format=torch.channels_last),),
                labels.to(device, non_blocking=True))
    ids, mask, labels = batch
    return ((ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)),
            labels.to(device, non_blocking=True))
