"""Shared test set-up: everything runs offline (no hub downloads), on few CPU threads."""

import os

import pytest

# must be set before transformers / huggingface_hub are imported by any test module
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="module")
def one_thread():
    """Toy-sized models run fastest on one intra-op thread, and do not fight parallel jobs for
    the cores (with two busy cores, two threads made the model tests ~10x slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
