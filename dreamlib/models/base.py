"""What every model of :mod:`dreamlib.models` shares: one calling convention.

``model(*inputs)`` gives logits; ``model(*inputs, return_dreams=True)`` gives
``(logits, dreams)``, the per-block reconstructions of a DreamNet (images, or token ids for
text; an empty list for every other model). A model implements :meth:`Classifier.classify`.
"""

from __future__ import annotations

import torch
from torch import nn


class Classifier(nn.Module):
    """Base of every model: ``forward`` returns logits, or ``(logits, dreams)``."""

    def classify(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, list]:
        """(logits, dreams) of one batch."""
        raise NotImplementedError

    def forward(self, *inputs: torch.Tensor, return_dreams: bool = False):
        logits, dreams = self.classify(*inputs)
        return (logits, dreams) if return_dreams else logits
