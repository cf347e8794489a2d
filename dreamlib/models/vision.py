"""Vision SleepNet and DreamNet (paper Figs 2 and 4) and their baselines.

The chain classifier C = g_4 ∘ … ∘ g_1 is a ResNet (18/34/50) split into its four stages.
SleepNet-M turns the first M stages into sleep blocks (eq. 1); DreamNet-M into dream blocks
(eq. 2), whose reconstructions ("dreams") are averaged and read by a parallel path (block ③,
the authors' "compressor": a second stem and residual blocks) added to the pooled chain
features before the dense + softmax head.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..blocks import (ImageAdapter, VisionDreamConnection, VisionSleepConnection,
                      as_pretrained_colours, resize)
from ..encoders import VisionEncoder
from .base import Classifier

# (block kind, blocks per stage) of each chain; widths are width * (1, 2, 4, 8) * expansion
RESNET_LAYOUT = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
}
SMALL_IMAGE = 64  # below this side the stem keeps resolution (CIFAR-style 3×3 conv, no max-pool)


class BasicBlock(nn.Module):
    """Two 3×3 convs with a residual shortcut (ResNet18/34)."""

    expansion = 1

    def __init__(self, in_ch: int, ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)
        self.shortcut = _shortcut(in_ch, ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x), inplace=True)


class Bottleneck(nn.Module):
    """1×1 → 3×3 → 1×1 convs with a residual shortcut (ResNet50)."""

    expansion = 4

    def __init__(self, in_ch: int, ch: int, stride: int = 1):
        super().__init__()
        out_ch = ch * self.expansion
        self.conv1 = nn.Conv2d(in_ch, ch, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)
        self.conv3 = nn.Conv2d(ch, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.shortcut = _shortcut(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        return F.relu(self.bn3(self.conv3(out)) + self.shortcut(x), inplace=True)


def _shortcut(in_ch: int, out_ch: int, stride: int) -> nn.Module:
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))


def _stage(block, in_ch: int, ch: int, count: int, stride: int) -> nn.Sequential:
    layers = [block(in_ch, ch, stride)]
    layers += [block(ch * block.expansion, ch) for _ in range(count - 1)]
    return nn.Sequential(*layers)


class ResNetChain(nn.Module):
    """Stem (conv → norm → ReLU) and the four ResNet stages g_1..g_4.

    ``stage_shapes`` gives each stage's output (C, H, W) for the configured image size, which
    is what the connections must produce to be added to it. Calling the chain runs it, with
    a connection added to each of its first stages when given (:meth:`forward`).
    """

    def __init__(self, chain: str, in_channels: int, image_size: int, width: int = 64):
        super().__init__()
        kind, counts = RESNET_LAYOUT[chain]
        block = BasicBlock if kind == "basic" else Bottleneck
        if image_size < SMALL_IMAGE:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(width), nn.ReLU(inplace=True))
            side = image_size
        else:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 7, 2, 3, bias=False),
                                      nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(3, 2, 1))
            side = (image_size + 1) // 2
            side = (side + 1) // 2
        self.stem_shape = (width, side, side)
        stages, shapes, in_ch = [], [], width
        for index, count in enumerate(counts):
            stride = 1 if index == 0 else 2
            ch = width * 2 ** index
            stages.append(_stage(block, in_ch, ch, count, stride))
            in_ch = ch * block.expansion
            side = (side - 1) // stride + 1
            shapes.append((in_ch, side, side))
        self.stages = nn.ModuleList(stages)
        self.stage_shapes = shapes
        self.feature_dim = in_ch

    def forward(self, images: torch.Tensor,
                connect: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
                blocks: int = 0) -> torch.Tensor:
        """Pooled features (B, feature_dim). The first ``blocks`` stages are sleep/dream blocks:
        h_m = g_m(h_{m-1}) + connect(m, h_{m-1}) (eqs. 1-2); the chain alone has none."""
        h = self.stem(images)
        for m, stage in enumerate(self.stages):
            out = stage(h)
            if m < blocks:
                out = out + connect(m, h)
            h = out
        return torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)


class ResNetClassifier(Classifier):
    """The chain alone (Table 3 ResNet baselines): stem, 4 stages, global pool, dense."""

    def __init__(self, chain: ResNetChain, num_classes: int):
        super().__init__()
        self.chain = chain
        self.fc = nn.Linear(chain.feature_dim, num_classes)

    def classify(self, images: torch.Tensor) -> tuple[torch.Tensor, list]:
        return self.fc(self.chain(images)), []


class VisionFeaturesControl(ResNetClassifier):
    """Control, not in the paper: the chain plus the frozen encoder's features of the *input*,
    added once to the pooled chain features before the dense head.

    It has what SleepNet has (the same pre-trained encoder, a learned A_in, the same training
    budget) except the connections inside the chain, so SleepNet beating it credits the sleep
    connections rather than merely having a pre-trained encoder. Features: the mean of all
    patch tokens (no masking), layer-normed, projected to the chain's feature width.
    """

    def __init__(self, chain: ResNetChain, encoder: VisionEncoder, in_channels: int,
                 num_classes: int):
        super().__init__(chain, num_classes)
        self.encoder = encoder
        self.adapter = ImageAdapter(in_channels, encoder.image_size, reads_image=True)
        self.norm = nn.LayerNorm(encoder.hidden_size)
        self.proj = nn.Linear(encoder.hidden_size, chain.feature_dim)

    def classify(self, images: torch.Tensor) -> tuple[torch.Tensor, list]:
        encoded = self.encoder.encode(self.adapter(images))
        extra = self.proj(self.norm(encoded.tokens.mean(dim=1)))
        return self.fc(self.chain(images) + extra), []


class VisionSleepNet(Classifier):
    """SleepNet-M: the first M chain stages become sleep blocks (eq. 1, Fig 2)."""

    connection_class = VisionSleepConnection

    def __init__(self, chain: ResNetChain, encoder: VisionEncoder, blocks: int, a_out: str,
                 num_classes: int):
        super().__init__()
        self.chain = chain
        self.encoder = encoder
        in_shapes = [chain.stem_shape, *chain.stage_shapes[:-1]]
        self.connections = nn.ModuleList(
            self.connection_class(encoder, in_shapes[m][0], chain.stage_shapes[m], a_out)
            for m in range(blocks)
        )
        self.fc = nn.Linear(chain.feature_dim, num_classes)

    def _connect(self, m: int, h: torch.Tensor, dreams: list) -> torch.Tensor:
        return self.connections[m](h, self.encoder, m)

    def _features(self, images: torch.Tensor, dreams: list) -> torch.Tensor:
        return self.chain(images, partial(self._connect, dreams=dreams), len(self.connections))

    def classify(self, images: torch.Tensor) -> tuple[torch.Tensor, list]:
        dreams: list[torch.Tensor] = []
        return self.fc(self._features(images, dreams)), dreams


class DreamPath(nn.Module):
    """Block ③: reads the averaged dreams with a second stem and residual blocks, pooled to
    the chain's feature width so it can be added before the dense head."""

    def __init__(self, width: int, feature_dim: int):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(BasicBlock(width, 2 * width, 2), BasicBlock(2 * width, 4 * width, 2))
        self.proj = nn.Linear(4 * width, feature_dim)

    def forward(self, dream: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(dream))
        return self.proj(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class VisionDreamNet(VisionSleepNet):
    """DreamNet-M: dream blocks (eq. 2, Fig 4) plus the parallel dream path (block ③)."""

    connection_class = VisionDreamConnection

    def __init__(self, chain: ResNetChain, encoder: VisionEncoder, blocks: int, a_out: str,
                 num_classes: int, width: int):
        super().__init__(chain, encoder, blocks, a_out, num_classes)
        self.dream_path = DreamPath(width, chain.feature_dim)

    def _connect(self, m: int, h: torch.Tensor, dreams: list) -> torch.Tensor:
        added, dream = self.connections[m](h, self.encoder, m)
        dreams.append(dream)
        return added

    def classify(self, images: torch.Tensor) -> tuple[torch.Tensor, list]:
        dreams: list[torch.Tensor] = []
        features = self._features(images, dreams)
        features = features + self.dream_path(torch.stack(dreams).mean(dim=0))
        return self.fc(features), dreams


class VisionFinetune(Classifier):
    """Encoder fine-tuning baseline (ViT/MAE rows of Table 3): resize, encode, pool, dense."""

    def __init__(self, encoder: VisionEncoder, in_channels: int, num_classes: int):
        super().__init__()
        self.encoder = encoder
        # starts as pre-training's grey-to-RGB copy: a random map would hide the images the
        # encoder knows behind a random colour transform that fine-tuning must first undo
        self.to_rgb = (as_pretrained_colours(nn.Conv2d(in_channels, 3, 1)) if in_channels != 3
                       else nn.Identity())
        self.norm = nn.LayerNorm(encoder.hidden_size)
        self.fc = nn.Linear(encoder.hidden_size, num_classes)

    def classify(self, images: torch.Tensor) -> tuple[torch.Tensor, list]:
        size = self.encoder.image_size
        encoded = self.encoder.encode(resize(self.to_rgb(images), (size, size)))
        return self.fc(self.norm(encoded.tokens.mean(dim=1))), []
