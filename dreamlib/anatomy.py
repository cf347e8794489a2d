"""A look inside a built model: where its parameters sit, and what each block sees and makes.

Used by the tour in notebook 00: a reader sees that the encoder is frozen (its parameters are
counted but not trained), what A_in hands the encoder (an image at the encoder's size, or
token ids), and what the autoencoder gives back (DreamNet's "dream").
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn


def parameter_split(model: nn.Module) -> pd.DataFrame:
    """Parameters of each top-level part of ``model``: total, trained and frozen.

    Shared tensors are counted once, in the first part that holds them.
    """
    seen: set[int] = set()
    rows = []
    for name, part in model.named_children():
        params = [p for p in part.parameters() if id(p) not in seen]
        seen.update(id(p) for p in params)
        trained = sum(p.numel() for p in params if p.requires_grad)
        total = sum(p.numel() for p in params)
        rows.append({"part": name, "module": type(part).__name__, "params": total,
                     "trained": trained, "frozen": total - trained})
    return pd.DataFrame(rows)


def walk_blocks(model: nn.Module, *inputs) -> list[dict]:
    """One forward pass of ``inputs`` (eval mode, no gradients) recording, per sleep/dream
    block: the hidden state entering it, what A_in makes of it for the encoder, the addition
    the block returns to the chain, and the dream (DreamNet: reconstructed images, or token
    ids for text; None for SleepNet)."""
    connections = getattr(model, "connections", None)
    if connections is None:
        raise ValueError(f"{type(model).__name__} has no sleep/dream blocks to walk through")
    records: list[dict] = [{"block": m + 1} for m in range(len(connections))]
    hooks = []
    for m, connection in enumerate(connections):
        hooks.append(connection.adapter.register_forward_hook(
            lambda module, args, out, m=m: records[m].update(encoder_input=out.detach())))
        hooks.append(connection.register_forward_hook(
            lambda module, args, out, m=m: records[m].update(_block_io(args, out))))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return records


def _block_io(args, out) -> dict:
    """Hidden state in, addition out and (DreamNet) the dream, from a connection's call."""
    added, dream = (out[0], out[1]) if isinstance(out, tuple) else (out, None)
    return {"hidden": args[0].detach(), "added": added.detach(),
            "dream": None if dream is None else dream.detach()}


def shapes_table(records: list[dict]) -> pd.DataFrame:
    """The shapes of :func:`walk_blocks`' tensors, one row per block."""
    def shape(value):
        return "" if value is None else " × ".join(str(s) for s in value.shape)

    return pd.DataFrame([{"block": r["block"], "hidden state in": shape(r["hidden"]),
                          "A_in → encoder input": shape(r["encoder_input"]),
                          "dream": shape(r["dream"]), "added to the chain": shape(r["added"])}
                         for r in records])
