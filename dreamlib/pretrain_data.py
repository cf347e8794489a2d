"""The data of "sleep" pre-training: the training split, its held-out slice, and fixed masks.

:mod:`dreamlib.pretrain` trains the shipped autoencoders on the *training* split only; a slice
of it (``heldout`` examples chosen by :data:`HELDOUT_SEED`, the same for every recipe and seed)
scores each epoch. Held-out masks are fixed by :data:`HELDOUT_MASK_SEED`, so held-out losses
compare across epochs and runs, and the two text models (``mlm-small``, ``minilm-head``) are
scored on the same held-out texts (each through its own tokenizer: ``mlm-small``'s vocabulary
is trimmed to its corpus, :mod:`dreamlib.vocab`; ``minilm-head`` reads MiniLM's). Images go
through the same pipeline as training (:mod:`dreamlib.transforms`); texts get BERT's masking
(15 % of real tokens: 80 % [MASK], 10 % random, 10 % kept).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .data import load_split
from .errors import ConfigError
from .transforms import normalize_batch, prepare_image

MLM_PROBABILITY = 0.15  # BERT's masking rate
DATA_SEED = 0  # the stratified subset when max_items is set
HELDOUT_SEED = 0  # which training examples are held out
HELDOUT_MASK_SEED = 99_991  # the fixed masks of the held-out examples (MAE patches, MLM tokens)
LENGTH_POOL = 32  # text batches are drawn from pools of 32 batches sorted by length
EVAL_BATCH = 512  # examples per held-out batch


def split_heldout(n: int, heldout: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training indices, held-out indices), both sorted: ``heldout`` of ``n`` training
    examples chosen by HELDOUT_SEED, the same for every recipe and seed."""
    if heldout >= n:
        raise ConfigError(f"heldout {heldout} leaves no examples to train on: the training "
                          f"data has {n}; pass a smaller --heldout")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(HELDOUT_SEED))
    return order[heldout:].sort().values, order[:heldout].sort().values


def index_digest(indices: torch.Tensor) -> str:
    """A short hash of a list of indices (the manifest records the held-out split's)."""
    return hashlib.sha256(json.dumps(indices.tolist()).encode()).hexdigest()[:16]


def encoder_images(dataset: str, split: str, data_dir, max_items: int | None, image_size: int,
                   seed: int = 0, every_class: bool = True) -> torch.Tensor:
    """Images of a split as the MAE sees them: image_size, 3 channels, float in [-1, 1], through
    the same pipeline as training (:mod:`dreamlib.transforms`), without augmentation."""
    return normalize_batch(prepared_images(dataset, split, data_dir, max_items, image_size, seed,
                                           every_class))


def prepared_images(dataset: str, split: str, data_dir, max_items, image_size: int,
                    seed: int = 0, every_class: bool = True) -> torch.Tensor:
    """uint8 N×3×S×S (normalised per batch later: a float copy of 60k images is 740 MB)."""
    images = load_split(dataset, split, data_dir, max_items, seed=seed,
                        every_class=every_class).dataset
    return torch.stack([prepare_image(images[i][0], image_size, 3) for i in range(len(images))])


def training_texts(dataset: str, data_dir, max_items: int | None) -> list[str]:
    """The texts of a text dataset's training split (a stratified subset with ``max_items``)."""
    return list(load_split(dataset, "train", data_dir, max_items, seed=DATA_SEED).texts)


def mask_tokens(ids: torch.Tensor, mask: torch.Tensor, tokenizer, generator: torch.Generator):
    """BERT masking: inputs with 15% of real tokens corrupted, and labels (-100 elsewhere)."""
    special = torch.tensor(tokenizer.all_special_ids)
    candidates = (mask == 1) & ~torch.isin(ids, special)
    chosen = (torch.rand(ids.shape, generator=generator) < MLM_PROBABILITY) & candidates
    labels = ids.masked_fill(~chosen, -100)
    roll = torch.rand(ids.shape, generator=generator)
    inputs = ids.masked_fill(chosen & (roll < 0.8), tokenizer.mask_token_id)
    random_ids = torch.randint(len(tokenizer), ids.shape, generator=generator)
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs = torch.where(swap, random_ids, inputs)
    return inputs, labels


def length_batches(lengths: torch.Tensor, batch_size: int,
                    generator: torch.Generator | None) -> list[torch.Tensor]:
    """Batches of similar lengths (little padding): shuffled pools of LENGTH_POOL batches,
    sorted by length inside, cut, and the batches shuffled; sorted and in order without a
    generator (evaluation)."""
    if generator is None:
        return list(torch.argsort(lengths, stable=True).split(batch_size))
    order = torch.randperm(len(lengths), generator=generator)
    batches = []
    for pool in order.split(batch_size * LENGTH_POOL):
        batches += list(pool[torch.argsort(lengths[pool], stable=True)].split(batch_size))
    return [batches[i] for i in torch.randperm(len(batches), generator=generator)]


def trim(idx: torch.Tensor, lengths: torch.Tensor, *tensors: torch.Tensor):
    """Rows ``idx`` of each tensor, cut to the longest text among them."""
    width = int(lengths[idx].max())
    return [t[idx, :width] for t in tensors]


@dataclass
class MaskedTexts:
    """Texts with a fixed BERT masking: what the held-out losses of the text models score."""

    inputs: torch.Tensor
    labels: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor
    mask_token_id: int


def fixed_masking(ids, mask, seed: int, tokenizer) -> MaskedTexts:
    """``ids`` (of ``tokenizer``) with one BERT masking drawn from ``seed``: the same masks on
    every call."""
    inputs, labels = mask_tokens(ids, mask, tokenizer, torch.Generator().manual_seed(seed))
    return MaskedTexts(inputs, labels, mask, mask.sum(dim=1), int(tokenizer.mask_token_id))


def masked_states(hidden_of: Callable, texts: MaskedTexts):
    """(hidden states at the masked tokens, their original ids, whether [MASK] replaced them)
    of masked ``texts``, in length-sorted batches."""
    feats, targets, was_masked = [], [], []
    for rows in length_batches(texts.lengths, EVAL_BATCH, None):
        inputs, labels, mask = trim(rows, texts.lengths, texts.inputs, texts.labels, texts.mask)
        chosen = labels != -100
        feats.append(hidden_of(inputs, mask)[chosen])
        targets.append(labels[chosen])
        was_masked.append(inputs[chosen] == texts.mask_token_id)
    return torch.cat(feats), torch.cat(targets), torch.cat(was_masked)
