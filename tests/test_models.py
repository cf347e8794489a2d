"""Behaviour of the models built by ``dreamlib.models.build_model``.

Everything is built randomly initialised (``pretrained=False``) at toy sizes: chain width 8,
16-px images, 12 tokens, batches of 2-3, so the whole file runs in seconds on a CPU.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dreamlib.config import HEADS, VISION_CHAINS, ModelConfig, chain_depth
from dreamlib.errors import ConfigError
from dreamlib.profiles import make_run_config
from dreamlib.counting import example_inputs
from dreamlib.models import build_model, encoder_parameters

pytestmark = pytest.mark.usefixtures("one_thread")

BATCH = 2
NUM_CLASSES = 3
TEXT_CHAINS = ("lstm", "lstm-2", "wordcnn", "charcnn")


def tiny(**fields) -> ModelConfig:
    base = dict(width=8, image_size=16, seq_len=12, num_classes=NUM_CLASSES)
    base.update(fields)
    return ModelConfig(**base)


def build(cfg: ModelConfig, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(cfg, pretrained=False)


def inputs(cfg: ModelConfig, batch: int = BATCH, seed: int = 0) -> tuple:
    return example_inputs(cfg, batch=batch, generator=torch.Generator().manual_seed(seed))


def labels(batch: int = BATCH) -> torch.Tensor:
    return torch.arange(batch) % NUM_CLASSES


# --------------------------------------------------------------------------- shapes

VISION_CASES = [(method, chain, blocks, head) for method in ("sleepnet", "dreamnet")
                for chain in VISION_CHAINS for blocks in range(1, 5) for head in HEADS]
TEXT_CASES = [(method, chain, blocks) for method in ("sleepnet", "dreamnet")
              for chain in TEXT_CHAINS for blocks in range(1, chain_depth(chain) + 1)]


@pytest.mark.parametrize("method, chain, blocks, head", VISION_CASES)
def test_vision_logits_and_dreams_shapes(method, chain, blocks, head):
    cfg = tiny(task="vision", method=method, chain=chain, blocks=blocks, a_out=head)
    net = build(cfg).eval()
    (images,) = inputs(cfg)
    with torch.no_grad():
        logits, dreams = net(images, return_dreams=True)
        plain = net(images)
    assert logits.shape == (BATCH, NUM_CLASSES)
    assert torch.isfinite(logits).all()
    assert torch.equal(plain, logits)  # return_dreams only adds the dreams
    assert len(net.connections) == blocks
    if method == "sleepnet":
        assert dreams == []
    else:
        size = net.encoder.image_size
        assert size == 32  # mae-small's input side, not the chain's 16 px
        assert len(dreams) == blocks
        for dream in dreams:
            assert dream.shape == (BATCH, 3, size, size)
            assert dream.is_floating_point() and torch.isfinite(dream).all()


@pytest.mark.parametrize("method, chain, blocks", TEXT_CASES)
def test_text_logits_and_dreams_shapes(method, chain, blocks):
    cfg = tiny(task="text", method=method, chain=chain, blocks=blocks)
    net = build(cfg).eval()
    ids, mask = inputs(cfg)
    with torch.no_grad():
        logits, dreams = net(ids, mask, return_dreams=True)
    assert logits.shape == (BATCH, NUM_CLASSES)
    assert torch.isfinite(logits).all()
    assert len(net.connections) == blocks
    if method == "sleepnet":
        assert dreams == []
    else:
        assert len(dreams) == blocks
        for dream in dreams:
            assert dream.shape == (BATCH, cfg.seq_len)
            assert dream.dtype == torch.long
            assert 0 <= int(dream.min()) and int(dream.max()) < net.encoder.vocab_size


@pytest.mark.parametrize("task, method, chain", [
    *[("vision", "baseline", chain) for chain in VISION_CHAINS],
    ("vision", "finetune", None),
    *[("text", "baseline", chain) for chain in ("lstm", "lstm-1", "lstm-3", "wordcnn", "charcnn")],
    ("text", "finetune", None),
])
def test_baseline_and_finetune_shapes(task, method, chain):
    cfg = tiny(task=task, method=method, chain=chain)
    net = build(cfg).eval()
    with torch.no_grad():
        logits, dreams = net(*inputs(cfg, batch=3), return_dreams=True)
    assert logits.shape == (3, NUM_CLASSES)
    assert torch.isfinite(logits).all()
    assert dreams == []
    if method == "baseline":
        assert not hasattr(net, "encoder")
        assert encoder_parameters(net) == []


@pytest.mark.parametrize("method", ["sleepnet", "dreamnet", "baseline", "finetune"])
@pytest.mark.parametrize("in_channels, num_classes", [(1, 10), (3, 100), (3, 2)])
def test_vision_tasks_channels_and_classes(method, in_channels, num_classes):
    cfg = tiny(method=method, in_channels=in_channels, num_classes=num_classes)
    net = build(cfg).eval()
    (images,) = inputs(cfg)
    assert images.shape[1] == in_channels
    with torch.no_grad():
        assert net(images).shape == (BATCH, num_classes)


@pytest.mark.parametrize("method", ["sleepnet", "dreamnet"])
@pytest.mark.parametrize("num_classes", [2, 20])
def test_text_tasks_classes(method, num_classes):
    cfg = tiny(task="text", method=method, num_classes=num_classes)
    with torch.no_grad():
        assert build(cfg).eval()(*inputs(cfg)).shape == (BATCH, num_classes)


@pytest.mark.parametrize("size", [16, 17, 31, 48, 63, 64, 65, 100, 224])
def test_every_input_size_from_16_to_224_builds(size):
    """Stage shapes follow the image size; the stem switches to 7x7/2 + max-pool at 64 px."""
    cfg = tiny(method="dreamnet", chain="resnet18", blocks=4, a_out="linear", image_size=size,
               width=4)
    net = build(cfg).eval()
    chain = net.chain
    large = size >= 64
    assert isinstance(chain.stem[-1], nn.MaxPool2d) == large
    side = -(-size // 4) if large else size
    assert chain.stem_shape == (4, side, side)
    seen = []
    hooks = [stage.register_forward_hook(lambda _m, _i, out: seen.append(tuple(out.shape[1:])))
             for stage in chain.stages]
    (images,) = inputs(cfg)
    with torch.no_grad():
        logits, dreams = net(images, return_dreams=True)
    for hook in hooks:
        hook.remove()
    assert seen == list(chain.stage_shapes)  # the shapes the connections were built for
    assert chain.stage_shapes[-1][0] == 32
    assert logits.shape == (BATCH, NUM_CLASSES)
    assert all(d.shape == (BATCH, 3, 32, 32) for d in dreams)


def test_resnet50_at_224_px():
    cfg = tiny(method="sleepnet", chain="resnet50", blocks=4, a_out="grid", image_size=224, width=4)
    net = build(cfg).eval()
    assert net.chain.stage_shapes == [(16, 56, 56), (32, 28, 28), (64, 14, 14), (128, 7, 7)]
    with torch.no_grad():
        assert net(*inputs(cfg)).shape == (BATCH, NUM_CLASSES)


# --------------------------------------------------------------------------- gradients

GRAD_CASES = [
    tiny(method="sleepnet", chain="resnet18", blocks=4, a_out="linear"),
    tiny(method="sleepnet", chain="resnet50", blocks=2, a_out="grid"),
    tiny(method="dreamnet", chain="resnet18", blocks=4, a_out="grid"),
    tiny(method="dreamnet", chain="resnet34", blocks=2, a_out="linear"),
    tiny(method="baseline", chain="resnet18"),
    tiny(method="finetune", in_channels=1),
    tiny(task="text", method="sleepnet", chain="lstm", blocks=4),
    tiny(task="text", method="dreamnet", chain="lstm-2", blocks=2),
    tiny(task="text", method="sleepnet", chain="wordcnn", blocks=2),
    tiny(task="text", method="dreamnet", chain="charcnn", blocks=2),
    tiny(task="text", method="sleepnet", chain="charcnn", blocks=1, straight_through=True),
    tiny(task="text", method="dreamnet", chain="wordcnn", blocks=3, straight_through=True),
    tiny(task="text", method="dreamnet", chain="lstm", blocks=2, straight_through=True,
         dream_readout="expected"),
    tiny(task="text", method="baseline", chain="charcnn"),
]


def _label(cfg: ModelConfig) -> str:
    extra = ("-st" if cfg.straight_through else "") + (
        "-expected" if cfg.dream_readout == "expected" else "")
    return f"{cfg.task}-{cfg.method}-{cfg.chain}-M{cfg.blocks}-{cfg.a_out}{extra}"


@pytest.mark.parametrize("cfg", GRAD_CASES, ids=_label)
def test_every_trainable_parameter_gets_a_finite_gradient(cfg):
    net = build(cfg).train()
    net(*inputs(cfg)).sum().backward()
    trainable = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    assert trainable
    missing = [n for n, p in trainable if p.grad is None]
    assert missing == []
    assert [n for n, p in trainable if not torch.isfinite(p.grad).all()] == []
    assert [n for n, p in trainable if not p.grad.abs().sum() > 0] == []
    frozen = [(n, p) for n, p in net.named_parameters() if not p.requires_grad]
    assert [n for n, p in frozen if p.grad is not None] == []


@pytest.mark.parametrize("method", ["sleepnet", "dreamnet"])
@pytest.mark.parametrize("chain, straight_through", [
    ("charcnn", False), ("charcnn", True), ("lstm", False), ("wordcnn", True),
])
def test_token_adapter_tied_or_trainable_only_with_straight_through(method, chain, straight_through):
    cfg = tiny(task="text", method=method, chain=chain, blocks=2, straight_through=straight_through)
    net = build(cfg).train()
    net(*inputs(cfg)).sum().backward()
    for conn in net.connections:
        adapter = conn.adapter
        if chain == "charcnn":  # bytes in, WordPiece out: a separate projection
            assert not adapter.tied
            assert adapter.proj.weight.requires_grad is straight_through
            if straight_through:
                grad = adapter.proj.weight.grad
                assert grad is not None and grad.abs().sum() > 0
            else:
                assert adapter.proj.weight.grad is None
        else:  # A_in reuses the chain's embedding: no extra parameter anywhere
            assert adapter.tied and not hasattr(adapter, "proj")
            assert adapter._embedding[0] is net.chain.embedding
            assert list(adapter.parameters()) == []
    if chain != "charcnn":
        assert not [k for k in net.state_dict() if ".adapter." in k]
        assert net.chain.embedding.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("chain", ["charcnn", "lstm"])
def test_token_adapter_ids_are_the_argmax_of_its_logits(chain):
    """A_in computes its argmax chunk by chunk without the full logits: same ids."""
    cfg = tiny(task="text", method="sleepnet", chain=chain)
    adapter = build(cfg).connections[0].adapter
    h = torch.randn(3, 40, cfg.width, generator=torch.Generator().manual_seed(0))
    assert torch.equal(adapter(h), adapter.logits(h).argmax(dim=-1))


def test_straight_through_one_hot_is_hard_forward_and_soft_backward():
    cfg = tiny(task="text", method="sleepnet", chain="lstm", straight_through=True)
    adapter = build(cfg).connections[0].adapter
    h = torch.randn(2, 5, 8, requires_grad=True)
    one_hot = adapter.soft_one_hot(h)
    hard = F.one_hot(adapter(h), one_hot.shape[-1]).to(one_hot.dtype)
    assert torch.allclose(one_hot, hard, atol=1e-6, rtol=0)  # hard + p - p: equal up to rounding
    (one_hot * torch.randn_like(one_hot)).sum().backward()
    assert h.grad is not None and h.grad.abs().sum() > 0


@pytest.mark.parametrize("straight", [False, True])
def test_the_expected_dream_is_the_mean_embedding_under_the_lms_distribution(straight):
    """dream_readout="expected": A_out reads softmax(LM logits) @ E, not the argmax token's
    embedding; the dream ids (Table 1's text) stay the argmax. With a straight-through A_in
    the chain's embedding gets gradient through the dream too."""
    cfg = tiny(task="text", method="dreamnet", chain="lstm", blocks=1, straight_through=straight,
               dream_readout="expected")
    net = build(cfg).eval()
    conn, encoder = net.connections[0], net.encoder
    h = torch.randn(BATCH, 6, cfg.width, generator=torch.Generator().manual_seed(1))
    mask = torch.ones(BATCH, 6, dtype=torch.long)
    with torch.no_grad():
        _, ids, embeds = conn(h, mask, encoder)
        inputs = {"input_ids": conn.adapter(h), "attention_mask": mask}
        probs = encoder.reconstruct(**inputs).softmax(dim=-1)
    assert torch.equal(ids, probs.argmax(dim=-1))
    assert torch.allclose(embeds, probs @ encoder.embedding_matrix, atol=1e-6)
    assert not torch.allclose(embeds, encoder.embed(ids), atol=1e-3)  # not the argmax's
    paper = build(dataclasses.replace(cfg, dream_readout="argmax")).eval()
    paper.load_state_dict(net.state_dict())
    with torch.no_grad():
        _, paper_ids, paper_embeds = paper.connections[0](h, mask, paper.encoder)
    assert torch.equal(paper_ids, ids)
    assert torch.allclose(paper_embeds, encoder.embed(ids), atol=1e-6)  # one-hot @ E if straight


@pytest.mark.parametrize("fields, match", [
    ({"dream_readout": "mean"}, "dream_readout"),
    ({"dream_readout": "expected", "method": "sleepnet"}, "applies to text DreamNet only"),
    ({"dream_readout": "expected", "task": "vision", "chain": "resnet18"},
     "applies to text DreamNet only"),
])
def test_a_dream_readout_that_cannot_apply_is_refused(fields, match):
    base = {"task": "text", "method": "dreamnet", "chain": "lstm", **fields}
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**base).resolved()


def test_a_new_dream_readout_is_a_new_run():
    """Left at the paper's choice the field stays out of the hash (test_runs checks that
    every committed run still hashes to its folder); the other choice is another run."""
    paper = make_run_config("smoke", "text", model={"method": "dreamnet"})
    expected = make_run_config("smoke", "text", model={"method": "dreamnet",
                                                      "dream_readout": "expected"})
    assert paper.model.dream_readout == "argmax"
    assert expected.run_hash() != paper.run_hash()


@pytest.mark.parametrize("method, head", [(m, h) for m in ("sleepnet", "dreamnet") for h in HEADS])
def test_frozen_vision_encoder_gets_no_gradient_but_its_input_does(method, head):
    cfg = tiny(method=method, a_out=head, blocks=3)
    net = build(cfg).train()
    assert all(not p.requires_grad for p in net.encoder.parameters())
    assert all(not p.requires_grad for p in encoder_parameters(net))
    captured = []

    def keep(_module, _inputs, out):
        out.retain_grad()
        captured.append(out)

    for conn in net.connections:
        conn.adapter.register_forward_hook(keep)
    net(*inputs(cfg)).sum().backward()
    assert len(captured) == 3
    for encoder_input in captured:
        assert encoder_input.shape == (BATCH, 3, 32, 32)
        assert encoder_input.grad is not None
        assert torch.isfinite(encoder_input.grad).all() and encoder_input.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.encoder.parameters())
    for conn in net.connections:
        assert conn.adapter.proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("method, flags, autograd", [
    ("sleepnet", {}, False), ("sleepnet", {"straight_through": True}, True),
    ("sleepnet", {"unfrozen": True}, True), ("sleepnet", {"chain": "charcnn"}, False),
    ("sleepnet", {"chain": "charcnn", "straight_through": True}, True),
    ("dreamnet", {}, False), ("dreamnet", {"straight_through": True}, True),
    # unfrozen DreamNet learns its word embeddings through the dream ids' embedding lookup;
    # nothing crosses the argmax over the LM logits, so the LM itself runs without autograd
    ("dreamnet", {"unfrozen": True}, False), ("dreamnet", {"chain": "charcnn"}, False),
    ("dreamnet", {"chain": "charcnn", "straight_through": True}, True),
])
def test_text_encoder_runs_without_autograd_only_when_something_can_learn(method, flags, autograd):
    cfg = tiny(task="text", method=method, blocks=2, **flags)
    net = build(cfg).train()
    calls = []

    def record(module, args, output):
        calls.append((torch.is_grad_enabled(), output.last_hidden_state.requires_grad))

    net.encoder.backbone.base_model.register_forward_hook(record)
    logits = net(*inputs(cfg))
    assert calls == [(autograd, autograd)] * 2
    assert logits.requires_grad  # A_out and the chain still learn
    calls.clear()
    with torch.no_grad():
        net(*inputs(cfg))
    assert calls == [(False, False)] * 2  # an outer no_grad is never re-enabled


# --------------------------------------------------------------------------- masking / determinism

@pytest.mark.parametrize("method", ["sleepnet", "dreamnet"])
def test_eval_forwards_are_identical(method):
    cfg = tiny(method=method, blocks=2, mask_ratio=0.75)
    net = build(cfg).eval()
    (images,) = inputs(cfg)
    with torch.no_grad():
        torch.manual_seed(1)
        first = net(images)
        torch.manual_seed(2)  # the eval mask does not depend on the global RNG
        second = net(images)
    assert torch.equal(first, second)


@pytest.mark.parametrize("method", ["sleepnet", "dreamnet"])
def test_train_mask_changes_between_calls_and_replays_after_seeding(method, monkeypatch):
    cfg = tiny(method=method, blocks=2, mask_ratio=0.75)
    net = build(cfg).train()
    original = net.encoder.mask_noise
    noises = []

    def spy(*args, **kwargs):
        noise = original(*args, **kwargs)
        noises.append(noise.clone())
        return noise

    monkeypatch.setattr(net.encoder, "mask_noise", spy)
    (images,) = inputs(cfg)
    with torch.no_grad():
        torch.manual_seed(5)
        first = net(images)
        second = net(images)
        torch.manual_seed(5)
        replay = net(images)
    assert len(noises) == 6  # one mask per block and call
    assert not torch.equal(noises[0], noises[1])  # each block draws its own mask
    assert not torch.equal(noises[0], noises[2])  # and each call
    assert all(torch.equal(a, b) for a, b in zip(noises[:2], noises[4:]))
    assert not torch.equal(first, second)
    assert torch.equal(first, replay)


def test_no_masking_gives_identical_train_forwards():
    cfg = tiny(method="sleepnet", blocks=2, mask_ratio=0.0)
    net = build(cfg).train()
    (images,) = inputs(cfg)
    with torch.no_grad():
        assert torch.equal(net(images), net(images))


@pytest.mark.parametrize("task, method", [
    ("vision", "sleepnet"), ("vision", "dreamnet"), ("text", "sleepnet"), ("text", "dreamnet"),
])
def test_frozen_backbone_stays_in_eval_mode_while_the_model_trains(task, method):
    frozen = build(tiny(task=task, method=method)).train()
    assert frozen.training and frozen.encoder.training
    assert not frozen.encoder.backbone.training  # no dropout in a frozen encoder
    unfrozen = build(tiny(task=task, method=method, unfrozen=True)).train()
    assert unfrozen.encoder.backbone.training
    unfrozen.eval()
    assert not unfrozen.encoder.backbone.training


def test_freshly_built_frozen_text_model_has_no_encoder_dropout():
    """build_model hands back a model in train mode whose frozen encoder already runs in eval
    mode (BERT's dropout would otherwise make two forwards differ)."""
    cfg = tiny(task="text", method="sleepnet")
    net = build(cfg)  # no .train()/.eval() call before the forwards
    assert net.training
    assert not net.encoder.backbone.training
    with torch.no_grad():
        assert torch.equal(net(*inputs(cfg)), net(*inputs(cfg)))


@pytest.mark.parametrize("method", ["sleepnet", "dreamnet", "baseline", "finetune"])
def test_text_padding_is_ignored(method):
    """With an LSTM chain, tokens under attention_mask == 0 (trailing padding) change nothing."""
    cfg = tiny(task="text", method=method, chain="lstm", blocks=2)
    net = build(cfg).eval()
    ids, mask = inputs(cfg)
    mask[:, 8:] = 0
    other = ids.clone()
    other[:, 8:] = torch.randint(1, 1000, other[:, 8:].shape,
                                 generator=torch.Generator().manual_seed(9))
    changed_real = ids.clone()
    changed_real[:, 3] = (ids[:, 3] + 7) % 1000 + 1
    with torch.no_grad():
        base = net(ids, mask)
        assert torch.allclose(base, net(other, mask), atol=1e-6, rtol=0)
        assert not torch.allclose(base, net(changed_real, mask), atol=1e-6, rtol=0)


# ------------------------------------------------------------------ unfrozen / frozen training

def _step(net: nn.Module, cfg: ModelConfig, params) -> None:
    optimizer = torch.optim.Adam(params, lr=1e-3)
    optimizer.zero_grad()
    F.cross_entropy(net(*inputs(cfg)), labels()).backward()
    optimizer.step()



UNFROZEN_CASES = [
    pytest.param(tiny(method="sleepnet", blocks=2), id="vision-sleepnet"),
    pytest.param(tiny(method="dreamnet", blocks=2, a_out="grid"), id="vision-dreamnet"),
    pytest.param(tiny(method="finetune"), id="vision-finetune"),
    pytest.param(tiny(task="text", method="dreamnet", straight_through=True), id="text-dreamnet-st"),
    pytest.param(tiny(task="text", method="sleepnet"), id="text-sleepnet"),
    pytest.param(tiny(task="text", method="finetune"), id="text-finetune"),
]


@pytest.mark.parametrize("cfg", UNFROZEN_CASES)
def test_unfrozen_encoder_gets_gradients_and_changes(cfg):
    cfg = dataclasses.replace(cfg, unfrozen=True)
    net = build(cfg).train()
    named = list(net.encoder.named_parameters())
    trainable = [(n, p) for n, p in named if p.requires_grad]
    # everything trains except ViTMAE's fixed sin-cos position embeddings (fixed by design)
    fixed = [n for n, p in named if not p.requires_grad]
    assert all(n.endswith(("position_embeddings", "decoder_pos_embed")) for n in fixed)
    before = {n: p.detach().clone() for n, p in trainable}
    _step(net, cfg, [p for p in net.parameters() if p.requires_grad])
    assert [n for n, p in trainable if p.grad is None] == []
    assert [n for n, p in trainable if not torch.isfinite(p.grad).all()] == []
    assert [n for n, p in trainable if torch.equal(p, before[n])] == []


def test_unfrozen_text_dreamnet_with_hard_argmax_trains_only_word_embeddings():
    """Documented in TextDreamConnection: no gradient crosses the argmax over the LM logits,
    so the dream reaches the loss only through the encoder's word-embedding lookup."""
    cfg = tiny(task="text", method="dreamnet", unfrozen=True)
    net = build(cfg).train()
    _step(net, cfg, [p for p in net.parameters() if p.requires_grad])
    embeddings = net.encoder.backbone.get_input_embeddings().weight
    with_grad = [p for p in net.encoder.parameters() if p.grad is not None]
    assert len(with_grad) == 1 and with_grad[0] is embeddings
    assert embeddings.grad.abs().sum() > 0


@pytest.mark.parametrize("task, method", [
    ("vision", "sleepnet"), ("vision", "dreamnet"), ("text", "sleepnet"), ("text", "dreamnet"),
])
def test_frozen_encoder_is_unchanged_by_an_optimizer_step(task, method):
    cfg = tiny(task=task, method=method, blocks=2)
    net = build(cfg).train()
    encoder_state = {k: v.clone() for k, v in net.encoder.state_dict().items()}
    chain_before = {n: p.detach().clone() for n, p in net.chain.named_parameters()}
    _step(net, cfg, list(net.parameters()))  # the frozen encoder is even handed to Adam
    assert all(torch.equal(v, encoder_state[k]) for k, v in net.encoder.state_dict().items())
    assert all(p.grad is None for p in net.encoder.parameters())
    assert any(not torch.equal(p, chain_before[n]) for n, p in net.chain.named_parameters())


@pytest.mark.parametrize("task, method, unfrozen", [
    (t, m, u) for t in ("vision", "text") for m in ("sleepnet", "dreamnet", "baseline", "finetune")
    for u in (False, True)
])
def test_encoder_parameters_are_exactly_the_encoders(task, method, unfrozen):
    net = build(tiny(task=task, method=method, chain="charcnn" if task == "text" else None,
                     unfrozen=unfrozen))
    params = encoder_parameters(net)
    assert len({id(p) for p in params}) == len(params)
    if method == "baseline":
        assert params == []
        return
    named = {id(p) for n, p in net.named_parameters() if n.startswith("encoder.")}
    assert {id(p) for p in params} == {id(p) for p in net.encoder.parameters()} == named
    assert {id(p) for p in params}.isdisjoint(id(p) for p in net.fc.parameters())
    encoder_trains = unfrozen or method == "finetune"
    assert any(p.requires_grad for p in params) is encoder_trains
    assert net.encoder.frozen is (not encoder_trains)


# --------------------------------------------------------------------------- the features control


@pytest.mark.parametrize("task", ["vision", "text"])
def test_features_control_adds_the_frozen_encoders_view_of_the_input_once(task):
    """The control trains the chain, the head and (vision) A_in; the encoder stays frozen and
    its features of the input change the logits."""
    cfg = tiny(task=task, method="features", in_channels=1 if task == "vision" else 3)
    net = build(cfg)
    batch = inputs(cfg, batch=3)
    logits = net(*batch)
    assert logits.shape == (3, NUM_CLASSES)
    F.cross_entropy(logits, labels(3)).backward()
    assert all(p.grad is None for p in encoder_parameters(net))
    trained = [n for n, p in net.named_parameters() if p.grad is not None]
    assert any(n.startswith("proj") for n in trained) and any(n.startswith("chain") for n in trained)
    if task == "vision":
        assert any(n.startswith("adapter") for n in trained)  # gradients cross the frozen encoder
    with torch.no_grad():
        net.eval()
        with_encoder = net(*batch)
        net.proj.weight.zero_()
        net.proj.bias.zero_()
        assert not torch.allclose(with_encoder, net(*batch))


def test_features_control_refuses_a_byte_level_chain():
    from dreamlib.errors import ConfigError

    with pytest.raises(ConfigError, match="charcnn"):
        tiny(task="text", method="features", chain="charcnn").resolved()


def test_a_fine_tuned_encoder_learns_at_the_encoder_rate_and_the_head_at_the_chain_rate():
    from dreamlib.profiles import make_run_config
    from dreamlib.train import make_optimizer

    cfg = make_run_config("smoke", "vision", model={"method": "finetune"}, lr=5e-3, encoder_lr=1e-4)
    net = build(cfg.model)
    groups = make_optimizer(net, cfg).param_groups
    encoder = {id(p) for p in encoder_parameters(net) if p.requires_grad}
    assert [g["lr"] for g in groups] == [5e-3, 1e-4]
    assert {id(p) for p in groups[1]["params"]} == encoder
    assert encoder.isdisjoint(id(p) for p in groups[0]["params"])


@pytest.mark.parametrize("method", ["finetune", "features"])
@pytest.mark.parametrize("channels", [1, 3])
def test_the_models_that_read_the_image_start_by_showing_it_as_pre_trained(method, channels):
    """The fine-tuned encoder and the encoder-features control put the image itself through
    the encoder: at initialisation its colour map is pre-training's (grey copied to RGB, RGB
    kept), not a random one the frozen encoder never saw."""
    cfg = tiny(method=method, in_channels=channels)
    net = build(cfg).eval()
    seen, encode = [], net.encoder.encode
    net.encoder.encode = lambda x, *a, **k: (seen.append(x), encode(x, *a, **k))[1]
    images = torch.rand(2, channels, cfg.image_size, cfg.image_size) * 2 - 1
    with torch.no_grad():
        net(images)
    size = net.encoder.image_size
    expected = F.interpolate(images.expand(-1, 3, -1, -1) if channels == 1 else images,
                             size=(size, size), mode="bilinear", align_corners=False)
    assert torch.allclose(seen[0], expected, atol=1e-6)


def test_a_sleep_connections_a_in_reads_hidden_states_and_starts_random():
    net = build(tiny(method="sleepnet", blocks=1))
    weight = net.connections[0].adapter.proj.weight
    assert weight.shape[1] > 3 and not torch.all((weight == 0) | (weight == 1))
