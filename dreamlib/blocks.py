"""Sleep and dream connections: the paper's blocks ① and ② (Figs 2–5, eqs. 1–2).

A sleep block computes  h_m = g_m(h_{m-1}) + A_out(φ(A_in(h_{m-1})))          (eq. 1)
and a dream block      h_m = g_m(h_{m-1}) + A_out(θ(φ(A_in(h_{m-1}))))       (eq. 2)

where g_m is a stage of the chain classifier, φ / θ the encoder / decoder of a pre-trained
self-supervised autoencoder, A_in adapts a hidden state to the encoder's input and A_out maps
the encoder's output back to the chain's shape. The connections below are A_out ∘ P ∘ A_in;
the chain models in :mod:`dreamlib.models` add them to their stages. The encoder is passed
in at call time, so one frozen copy serves every block.

Vision A_out comes in two heads, chosen by the config's ``a_out`` (:data:`SLEEP_HEADS`,
:data:`DREAM_HEADS`):

* ``linear`` — the authors' A_out: a mean over tokens, one ``Linear(D, C·H·W)``, reshape. In
  their code it pools the MAE decoder's per-patch pixel predictions (in SleepNet too); here
  the sleep connection pools the encoder's visible tokens (φ, as eq. 1 says) and the dream
  connection the decoder's pixel predictions. That one layer holds most of the parameters.
* ``grid`` — light: the patch tokens laid out on their grid, a 1×1 conv to C channels,
  batch norm, bilinear resize to H×W.

Text connections are as wide as the encoder's vocabulary: A_in scores each position against
the (tied) embedding table and takes the argmax, and a dream block's masked LM projects onto
the vocabulary again. A design choice, not the paper's: the CPU encoder ``mlm-small`` works
over MiniLM's WordPiece vocabulary *trimmed to its pre-training text* (11,713 of 30,522
tokens, :mod:`dreamlib.vocab`), and the chain reads the same tokenizer. Those ops were
93–97 % of a text SleepNet-2/DreamNet-2 step at the full width; the trimmed one makes the
step several times cheaper (benchmarks/README.md). It changes results: A_in and the dream can
only produce the kept tokens, and a rare word reaches the chain as smaller WordPiece pieces.
Hub encoders (RoBERTa, MiniLM) keep their own full vocabularies.

Two text choices the paper leaves open, kept as the defaults here and offered as options to
test whether the text verdicts depend on them: A_in's argmax passes no gradient (the paper's
path; ``straight_through`` passes the softmax's), and a dream block reads the masked LM's
output as the embedding of its argmax token (``dream_readout="argmax"``; ``"expected"``
reads the mean embedding under the LM's token distribution, which keeps its uncertainty).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .encoders import Reconstruction, TextEncoder, Tokens, VisionEncoder, linear_argmax

# ------------------------------------------------------------------------------------------
# Small shared steps
# ------------------------------------------------------------------------------------------


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of (B, N, D) over the N positions where ``mask`` (B, N) is set: a text's real
    tokens (not its padding), or the patches an MAE saw."""
    weights = mask.unsqueeze(-1).to(h.dtype)
    return (h * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, C, H, W) bilinearly resized to ``size`` (unchanged when it already has it)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def straight_through(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(argmax ids, one-hot) of ``logits`` with a straight-through gradient: the forward value
    is the hard one-hot, the backward pass is the softmax's (hard + p - p.detach())."""
    ids = logits.argmax(dim=-1)
    probs = logits.softmax(dim=-1)
    hard = F.one_hot(ids, probs.shape[-1]).to(probs.dtype)
    return ids, hard + probs - probs.detach()


# ------------------------------------------------------------------------------------------
# Vision: A_in, the A_out heads, the connections
# ------------------------------------------------------------------------------------------


def as_pretrained_colours(conv: nn.Conv2d) -> nn.Conv2d:
    """Set a 1×1 conv from an image's channels to 3 to the map the encoder was pre-trained
    behind: a grey channel copied to R, G and B (as :func:`dreamlib.transforms.match_channels`
    does for pre-training), RGB left as it is; no bias. Training may still move it."""
    with torch.no_grad():
        conv.weight.zero_()
        for out in range(3):
            conv.weight[out, out % conv.in_channels, 0, 0] = 1.0
        if conv.bias is not None:
            conv.bias.zero_()
    return conv


class ImageAdapter(nn.Module):
    """A_in (vision): 1×1 conv to 3 channels, then bilinear resize to the encoder's input size.

    The authors resize first and convolve second; both maps are linear per pixel and the
    bilinear weights sum to one, so the order does not change the function, and convolving at
    the smaller size is cheaper. ``reads_image``: the adapter reads the input image itself
    (the encoder-features control), so it starts as the colour map of pre-training
    (:func:`as_pretrained_colours`) and the frozen encoder first sees the images it was
    trained on; a sleep connection's A_in reads hidden states and starts random.
    """

    def __init__(self, in_channels: int, image_size: int, reads_image: bool = False):
        super().__init__()
        self.image_size = image_size
        self.proj = nn.Conv2d(in_channels, 3, kernel_size=1)
        if reads_image:
            as_pretrained_colours(self.proj)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return resize(self.proj(h), (self.image_size, self.image_size))


class LinearHead(nn.Module):
    """A_out ``linear``: mean over the (visible) tokens → Linear(D, C·H·W) → reshape (authors'
    code). Reads the encoder's tokens (sleep) or the decoder's per-patch pixels (dream)."""

    def __init__(self, token_dim: int, out_shape: tuple[int, int, int]):
        super().__init__()
        self.out_shape = out_shape
        channels, height, width = out_shape
        self.proj = nn.Linear(token_dim, channels * height * width)

    def forward(self, encoded: Tokens | Reconstruction) -> torch.Tensor:
        tokens = encoded.tokens
        pooled = tokens.mean(dim=1) if encoded.visible is None else masked_mean(tokens, encoded.visible)
        return self.proj(pooled).view(tokens.shape[0], *self.out_shape)


class GridHead(nn.Module):
    """A_out ``grid`` (sleep): token grid (B, D, g, g) → 1×1 conv → norm → bilinear resize."""

    def __init__(self, token_dim: int, out_shape: tuple[int, int, int]):
        super().__init__()
        channels, height, width = out_shape
        self.size = (height, width)
        self.proj = nn.Conv2d(token_dim, channels, kernel_size=1, bias=False)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, encoded: Tokens) -> torch.Tensor:
        return resize(self.norm(self.proj(tokens_to_grid(encoded.tokens))), self.size)


class ReconstructionHead(nn.Module):
    """A_out ``grid`` (dream): the dream image area-resized to H×W → 3×3 conv → norm. It reads
    the 3-channel image, so the width of the per-patch predictions (``token_dim``) is unused."""

    def __init__(self, token_dim: int, out_shape: tuple[int, int, int]):
        super().__init__()
        channels, height, width = out_shape
        self.size = (height, width)
        self.proj = nn.Conv2d(3, channels, kernel_size=3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, dream: Reconstruction) -> torch.Tensor:
        return self.norm(self.proj(F.adaptive_avg_pool2d(dream.image, self.size)))


def tokens_to_grid(tokens: torch.Tensor) -> torch.Tensor:
    """(B, N, D) patch tokens in raster order → (B, D, g, g)."""
    batch, count, dim = tokens.shape
    side = int(round(count ** 0.5))
    return tokens.transpose(1, 2).reshape(batch, dim, side, side)


# A_out of each connection, by the config's name for it (``ModelConfig.a_out``)
SLEEP_HEADS: dict[str, type[nn.Module]] = {"linear": LinearHead, "grid": GridHead}
DREAM_HEADS: dict[str, type[nn.Module]] = {"linear": LinearHead, "grid": ReconstructionHead}


class VisionSleepConnection(nn.Module):
    """Block ①: A_out(φ(A_in(h))) for images. The encoder is frozen or not; gradients always
    reach ``h`` through it, since the chain learns to use what the encoder makes of it."""

    def __init__(self, encoder: VisionEncoder, in_channels: int,
                 out_shape: tuple[int, int, int], a_out: str):
        super().__init__()
        self.adapter = ImageAdapter(in_channels, encoder.image_size)
        self.head = SLEEP_HEADS[a_out](encoder.hidden_size, out_shape)

    def forward(self, h: torch.Tensor, encoder: VisionEncoder, block: int = 0) -> torch.Tensor:
        return self.head(encoder.encode(self.adapter(h), block))


class VisionDreamConnection(nn.Module):
    """Block ②: A_out(θ(φ(A_in(h)))) for images; also returns the dream image θ(φ(·)).

    The ``linear`` head follows the authors' code: mean of the MAE's per-patch outputs
    (p·p·3 values, 768 for MAE-base) → Linear → reshape.
    """

    def __init__(self, encoder: VisionEncoder, in_channels: int,
                 out_shape: tuple[int, int, int], a_out: str):
        super().__init__()
        self.adapter = ImageAdapter(in_channels, encoder.image_size)
        self.head = DREAM_HEADS[a_out](encoder.patch_dim, out_shape)

    def forward(self, h: torch.Tensor, encoder: VisionEncoder,
                block: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        dream = encoder.reconstruct(self.adapter(h), block)
        return self.head(dream), dream.image


# ------------------------------------------------------------------------------------------
# Text: A_in and the connections
# ------------------------------------------------------------------------------------------


class TokenAdapter(nn.Module):
    """A_in (text): hidden states → vocabulary logits → argmax → token ids for the encoder.

    When the chain's input vocabulary is the encoder's, the logits use the chain's own
    embedding table transposed (tied weights): the argmax picks the token whose embedding best
    matches the hidden state, and no parameter sits unused. Otherwise (CharCNN reads bytes) a
    separate projection is used; with the paper's hard argmax no gradient can reach it, so it
    stays a fixed random projection unless ``straight_through`` is on.
    """

    def __init__(self, hidden: int, vocab_size: int, tied: nn.Embedding | None,
                 straight_through: bool):
        super().__init__()
        self.tied = tied is not None
        self.straight_through = straight_through
        if self.tied:
            self._embedding = [tied]  # a plain list: the chain owns (and registers) the embedding
        else:
            self.proj = nn.Linear(hidden, vocab_size, bias=False)
            self.proj.weight.requires_grad_(straight_through)

    @property
    def weight(self) -> torch.Tensor:
        """(V, hidden): the vocabulary projection."""
        return self._embedding[0].weight if self.tied else self.proj.weight

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(h, self.weight)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Token ids (B, T); the hard argmax of the paper (no gradient can cross it)."""
        with torch.no_grad():
            return linear_argmax(h, self.weight)

    def soft_one_hot(self, h: torch.Tensor) -> torch.Tensor:
        """Straight-through one-hot (B, T, V): forward = argmax, backward = softmax gradient."""
        return straight_through(self.logits(h))[1]


def _encoder_inputs(adapter: TokenAdapter, encoder: TextEncoder, h: torch.Tensor,
                    mask: torch.Tensor) -> dict:
    """Encoder inputs from hidden states: token ids (paper) or straight-through embeddings."""
    if adapter.straight_through:
        return {"inputs_embeds": adapter.soft_one_hot(h) @ encoder.embedding_matrix,
                "attention_mask": mask}
    ids = adapter(h).masked_fill(mask == 0, encoder.pad_token_id)
    return {"input_ids": ids, "attention_mask": mask}


def _needs_autograd(adapter: TokenAdapter, encoder: TextEncoder) -> bool:
    """A frozen encoder behind a hard argmax can pass no gradient anywhere: skip autograd."""
    return adapter.straight_through or any(p.requires_grad for p in encoder.parameters())


class TextSleepConnection(nn.Module):
    """Block ① for text: A_out(φ(argmax(A_in(h)))), A_out = Linear(D, hidden) per position."""

    def __init__(self, encoder: TextEncoder, hidden: int, tied: nn.Embedding | None,
                 straight_through: bool = False):
        super().__init__()
        self.adapter = TokenAdapter(hidden, encoder.vocab_size, tied, straight_through)
        self.out = nn.Linear(encoder.hidden_size, hidden)

    def forward(self, h: torch.Tensor, mask: torch.Tensor, encoder: TextEncoder) -> torch.Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and _needs_autograd(self.adapter, encoder)):
            states = encoder.encode(**_encoder_inputs(self.adapter, encoder, h, mask))
        return self.out(states)


class TextDreamConnection(nn.Module):
    """Block ② for text: the masked LM rewrites the argmax tokens; its argmax is the dream.

    A_out reads the dream through the encoder's own word embeddings, then Linear(D, hidden).
    Returns the addition and the dream token ids (decoded to text for Table 1).

    With the paper's hard argmax an unfrozen encoder can only learn its word embeddings here:
    no gradient crosses the argmax over the LM logits. ``straight_through`` lets gradients
    reach the whole masked LM (and A_in). ``readout="expected"`` reads the dream as the mean
    word embedding under the LM's softmax instead of its argmax token's (the dream ids stay
    the argmax, for Table 1).
    """

    def __init__(self, encoder: TextEncoder, hidden: int, tied: nn.Embedding | None,
                 straight_through: bool = False, readout: str = "argmax"):
        super().__init__()
        self.adapter = TokenAdapter(hidden, encoder.vocab_size, tied, straight_through)
        self.out = nn.Linear(encoder.hidden_size, hidden)
        self.readout = readout

    def forward(self, h: torch.Tensor, mask: torch.Tensor,
                encoder: TextEncoder) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.set_grad_enabled(torch.is_grad_enabled() and _needs_autograd(self.adapter, encoder)):
            inputs = _encoder_inputs(self.adapter, encoder, h, mask)
            if self.readout == "expected":
                probs = encoder.reconstruct(**inputs).softmax(dim=-1)
                dream_ids = probs.argmax(dim=-1)
                dream_embeds = probs @ encoder.embedding_matrix
            elif self.adapter.straight_through:
                dream_ids, one_hot = straight_through(encoder.reconstruct(**inputs))
                dream_embeds = one_hot @ encoder.embedding_matrix
            else:
                dream_ids = encoder.reconstruct_ids(**inputs)
                dream_embeds = encoder.embed(dream_ids)
        return self.out(dream_embeds), dream_ids, dream_embeds
