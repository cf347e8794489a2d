"""Shared test set-up: everything runs offline (no hub downloads), on few CPU threads."""

import os

# must be set before transformers / huggingface_hub are imported by any test module
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
