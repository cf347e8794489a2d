"""Text SleepNet and DreamNet (paper Figs 3 and 5) and their baselines.

The chain is an embedding followed by layers g_1..g_L of one kind: LSTM (+ layer norm),
WordCNN or CharCNN (1-D conv + ReLU + layer norm), each keeping the sequence length so a
connection can be added position by position. SleepNet-M turns the first M layers into sleep
blocks; DreamNet-M into dream blocks, whose dream embeddings are averaged and read by an
extra LSTM (block ③) added to the pooled chain features before the dense head.

The paper's argmax passes no gradient, so with a frozen encoder the whole connection up to
A_out runs without autograd (see :mod:`dreamlib.blocks`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..blocks import TextDreamConnection, TextSleepConnection, masked_mean
from ..config import chain_depth
from ..encoders import TextEncoder
from .base import Classifier


class LSTMLayer(nn.Module):
    """g_m for the LSTM chain: one LSTM layer and a layer norm."""

    def __init__(self, width: int):
        super().__init__()
        self.lstm = nn.LSTM(width, width, batch_first=True)
        self.norm = nn.LayerNorm(width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.norm(self.lstm(h)[0])


class ConvLayer(nn.Module):
    """g_m for WordCNN/CharCNN: a length-preserving 1-D conv, ReLU and a layer norm."""

    def __init__(self, width: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv1d(width, width, kernel, padding=kernel // 2)
        self.norm = nn.LayerNorm(width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.norm(F.relu(self.conv(h.transpose(1, 2))).transpose(1, 2))


class TextChain(nn.Module):
    """Embedding and layers of the chain classifier (``lstm[-k]``, ``wordcnn``, ``charcnn``).
    Calling it runs the chain, with a connection added to each of its first layers when given
    (:meth:`forward`)."""

    def __init__(self, chain: str, vocab_size: int, width: int, pad_id: int = 0):
        super().__init__()
        self.kind = chain.split("-")[0]
        self.embedding = nn.Embedding(vocab_size, width, padding_idx=pad_id)
        depth = chain_depth(chain)
        if self.kind == "lstm":
            layers = [LSTMLayer(width) for _ in range(depth)]
        else:
            kernel = 5 if self.kind == "charcnn" else 3
            layers = [ConvLayer(width, kernel) for _ in range(depth)]
        self.layers = nn.ModuleList(layers)
        self.width = width

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                connect: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
                blocks: int = 0) -> torch.Tensor:
        """Features (B, width): the masked mean of the last layer. The first ``blocks`` layers
        are sleep/dream blocks: h_m = g_m(h_{m-1}) + connect(m, h_{m-1}) (eqs. 1-2)."""
        h = self.embedding(input_ids)
        for m, layer in enumerate(self.layers):
            out = layer(h)
            if m < blocks:
                out = out + connect(m, h)
            h = out
        return masked_mean(h, attention_mask)


class TextClassifier(Classifier):
    """The chain alone (Table 4 LSTM-k / WordCNN / CharCNN baselines)."""

    def __init__(self, chain: TextChain, num_classes: int):
        super().__init__()
        self.chain = chain
        self.fc = nn.Linear(chain.width, num_classes)

    def classify(self, input_ids, attention_mask) -> tuple[torch.Tensor, list]:
        return self.fc(self.chain(input_ids, attention_mask)), []


class TextFeaturesControl(TextClassifier):
    """Control, not in the paper: the chain plus the frozen encoder's features of the *input*
    (its token states, masked mean, layer-normed, projected to the chain width), added once
    before the dense head. Same encoder and budget as SleepNet, no connections inside the
    chain: SleepNet beating it credits the connections, not the pre-trained encoder alone.
    The encoder reads the chain's own input ids (same tokenizer)."""

    def __init__(self, chain: TextChain, encoder: TextEncoder, num_classes: int):
        super().__init__(chain, num_classes)
        self.encoder = encoder
        self.norm = nn.LayerNorm(encoder.hidden_size)
        self.proj = nn.Linear(encoder.hidden_size, chain.width)

    def classify(self, input_ids, attention_mask) -> tuple[torch.Tensor, list]:
        trains_encoder = any(p.requires_grad for p in self.encoder.parameters())
        with torch.set_grad_enabled(torch.is_grad_enabled() and trains_encoder):
            states = self.encoder.encode(input_ids=input_ids, attention_mask=attention_mask)
        extra = self.proj(self.norm(masked_mean(states, attention_mask)))
        return self.fc(self.chain(input_ids, attention_mask) + extra), []


class TextSleepNet(Classifier):
    """SleepNet-M for text (eq. 1, Fig 3).

    ``encoder_ids`` maps the chain's input ids to the encoder's when the chain reads another
    vocabulary (CharCNN reads bytes); otherwise A_in is tied to the chain embedding.
    """

    connection_class = TextSleepConnection

    def __init__(self, chain: TextChain, encoder: TextEncoder, blocks: int, num_classes: int,
                 straight_through: bool = False, **connection_options):
        super().__init__()
        self.chain = chain
        self.encoder = encoder
        same_vocab = chain.kind != "charcnn" and chain.embedding.num_embeddings == encoder.vocab_size
        tied = chain.embedding if same_vocab else None
        self.connections = nn.ModuleList(
            self.connection_class(encoder, chain.width, tied, straight_through,
                                  **connection_options)
            for _ in range(blocks)
        )
        self.fc = nn.Linear(chain.width, num_classes)

    def _connect(self, m: int, h, mask, dreams: list) -> torch.Tensor:
        return self.connections[m](h, mask, self.encoder)

    def _features(self, input_ids, attention_mask, dreams: list) -> torch.Tensor:
        connect = partial(self._connect, mask=attention_mask, dreams=dreams)
        return self.chain(input_ids, attention_mask, connect, len(self.connections))

    def classify(self, input_ids, attention_mask) -> tuple[torch.Tensor, list]:
        dreams: list = []
        return self.fc(self._features(input_ids, attention_mask, dreams)), []


class TextDreamNet(TextSleepNet):
    """DreamNet-M for text (eq. 2, Fig 5): dream blocks plus an LSTM over the dreams (block ③)."""

    connection_class = TextDreamConnection

    def __init__(self, chain: TextChain, encoder: TextEncoder, blocks: int, num_classes: int,
                 straight_through: bool = False, dream_readout: str = "argmax"):
        super().__init__(chain, encoder, blocks, num_classes, straight_through,
                         readout=dream_readout)
        self.dream_lstm = nn.LSTM(encoder.hidden_size, chain.width, batch_first=True)

    def _connect(self, m: int, h, mask, dreams: list) -> torch.Tensor:
        added, dream_ids, dream_embeds = self.connections[m](h, mask, self.encoder)
        dreams.append((dream_ids, dream_embeds))
        return added

    def classify(self, input_ids, attention_mask) -> tuple[torch.Tensor, list]:
        dreams: list = []
        features = self._features(input_ids, attention_mask, dreams)
        mean_dream = torch.stack([d[1] for d in dreams]).mean(dim=0)
        features = features + masked_mean(self.dream_lstm(mean_dream)[0], attention_mask)
        return self.fc(features), [d[0] for d in dreams]


class TextFinetune(Classifier):
    """Encoder fine-tuning baseline (RoBERTa/DistilBERT/XLNet rows of Table 4)."""

    def __init__(self, encoder: TextEncoder, num_classes: int):
        super().__init__()
        self.encoder = encoder
        self.fc = nn.Linear(encoder.hidden_size, num_classes)

    def classify(self, input_ids, attention_mask) -> tuple[torch.Tensor, list]:
        states = self.encoder.encode(input_ids=input_ids, attention_mask=attention_mask)
        return self.fc(masked_mean(states, attention_mask)), []
