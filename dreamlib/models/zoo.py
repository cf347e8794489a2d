"""Table 3's other baselines: the published architectures the paper compares against.

ResNet101, EfficientNet-B7 and EfficientNetV2-L come from torchvision, CvT-21 and CvT-W24
from transformers. They are chain-only baselines (``method="baseline"``, the architecture in
``chain``): no stages to put sleep blocks on, just the network with a head for the task's
classes. They train from random initialisation like the ResNet chains here; ``pretrained=True``
loads the published ImageNet weights instead (torchvision's default weights, the hub's
``microsoft/cvt-*`` checkpoints), which needs a network or a filled cache.

CoAtNet-2/3 and the augmented transformers (ViT-l-ACN, MAE-l-MAS) stay out: neither library
ships them. ViT and MAE rows are the encoder fine-tuning baselines (``method="finetune"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torchvision
import transformers
from torch import nn

from ..errors import ConfigError, DreamlibError
from .base import Classifier


@dataclass(frozen=True)
class Reference:
    """Where an architecture comes from and how the paper names it."""

    library: str  # "torchvision" | "transformers"
    source: str  # torchvision model name, or hub checkpoint of the published weights
    paper_name: str  # its row in Table 3 (dreamlib.paper.TABLE3_VISION)
    native_size: int  # the input side it was published at (Table 3's input column)


REFERENCES = {
    "resnet101": Reference("torchvision", "resnet101", "ResNet101", 224),
    "efficientnet-b7": Reference("torchvision", "efficientnet_b7", "EfficientNet-B7", 600),
    "efficientnetv2-l": Reference("torchvision", "efficientnet_v2_l", "EfficientNetV2-L", 480),
    "cvt-21": Reference("transformers", "microsoft/cvt-21-384", "CvT-21", 384),
    "cvt-w24": Reference("transformers", "microsoft/cvt-w24-384-22k", "CvT-W24", 384),
}

# CvT stage layouts of the published checkpoints (Wu et al. 2021, Table 2); every other
# CvtConfig default (patch sizes 7/3/3, strides 4/2/2, 3x3 depthwise projections) is theirs too
CVT_STAGES = {
    "cvt-21": {"embed_dim": [64, 192, 384], "num_heads": [1, 3, 6], "depth": [1, 4, 16]},
    "cvt-w24": {"embed_dim": [192, 768, 1024], "num_heads": [3, 12, 16], "depth": [2, 2, 20]},
}


class ReferenceClassifier(Classifier):
    """A published classifier with this task's head; greyscale input is repeated to the
    three channels the architectures (and their ImageNet weights) expect."""

    def __init__(self, network: nn.Module, in_channels: int, hub: bool):
        super().__init__()
        self.network = network
        self.in_channels = in_channels
        self.hub = hub

    def classify(self, images: torch.Tensor) -> tuple[torch.Tensor, list]:
        if self.in_channels == 1:
            images = images.expand(-1, 3, -1, -1)
        return (self.network(pixel_values=images).logits if self.hub else self.network(images)), []


def build_reference(name: str, in_channels: int, num_classes: int,
                    pretrained: bool = False) -> ReferenceClassifier:
    """Build Table 3 baseline ``name`` (a key of :data:`REFERENCES`) for ``num_classes``."""
    if name not in REFERENCES:
        raise ConfigError(f"unknown reference baseline {name!r}; choose one of: "
                          f"{', '.join(REFERENCES)}")
    if in_channels not in (1, 3):
        raise ConfigError(f"reference baseline {name!r} reads RGB (or greyscale) images, got "
                          f"in_channels={in_channels}")
    spec = REFERENCES[name]
    if spec.library == "torchvision":
        network = _torchvision(spec, num_classes, pretrained)
    else:
        network = _cvt(name, spec, num_classes, pretrained)
    return ReferenceClassifier(network, in_channels, hub=spec.library == "transformers")


def _torchvision(spec: Reference, num_classes: int, pretrained: bool) -> nn.Module:
    if not pretrained:
        return torchvision.models.get_model(spec.source, weights=None, num_classes=num_classes)
    try:
        network = torchvision.models.get_model(spec.source, weights="DEFAULT")
    except (OSError, RuntimeError) as exc:  # urllib errors are OSErrors
        raise DreamlibError(
            f"could not load torchvision's ImageNet weights of {spec.paper_name} "
            f"({exc.__class__.__name__}); they download once into the torch hub cache "
            "(TORCH_HOME): run once with network, or train from random initialisation"
        ) from exc
    _replace_head(network, num_classes)
    return network


def _replace_head(network: nn.Module, num_classes: int) -> None:
    """Swap the 1,000-class ImageNet layer for one with ``num_classes`` outputs."""
    if hasattr(network, "fc"):  # ResNet
        network.fc = nn.Linear(network.fc.in_features, num_classes)
    else:  # EfficientNet: classifier = (dropout, linear)
        last = network.classifier[-1]
        network.classifier[-1] = nn.Linear(last.in_features, num_classes)


def _cvt(name: str, spec: Reference, num_classes: int, pretrained: bool) -> nn.Module:
    if not pretrained:
        config = transformers.CvtConfig(**CVT_STAGES[name], num_labels=num_classes)
        return transformers.CvtForImageClassification(config)
    try:
        return transformers.CvtForImageClassification.from_pretrained(
            spec.source, num_labels=num_classes, ignore_mismatched_sizes=True)
    except OSError as exc:
        raise DreamlibError(
            f"could not load {spec.source} ({exc.__class__.__name__}); download it once with "
            "network (HF_HUB_OFFLINE unset), or train from random initialisation"
        ) from exc
