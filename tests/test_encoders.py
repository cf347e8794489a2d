"""``dreamlib.encoders``: names, hub/local-folder loading, the MAE masking and the adapters.

Hub loading is checked offline on tiny random transformers models saved to a temporary
folder with ``save_pretrained`` and read back through ``ModelConfig(encoder=folder)``.
"""

from __future__ import annotations

import pytest
import torch
import transformers

from dreamlib import encoders
from dreamlib.config import ModelConfig
from dreamlib.encoders import (
    TextEncoder,
    VisionEncoder,
    encoder_config,
    encoder_task,
    has_decoder,
    known_encoders,
    load_encoder,
    load_tokenizer,
)
from dreamlib.errors import ConfigError, DreamlibError
from dreamlib.models import build_model
from dreamlib.vocab import MLM_SMALL_VOCAB

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_MAE = dict(image_size=16, patch_size=4, hidden_size=16, num_hidden_layers=1,
                num_attention_heads=2, intermediate_size=32, decoder_hidden_size=16,
                decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
                decoder_intermediate_size=32)
TINY_VIT = dict(image_size=16, patch_size=4, hidden_size=16, num_hidden_layers=1,
                num_attention_heads=2, intermediate_size=32)
TINY_TEXT = dict(vocab_size=99, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                 intermediate_size=32)
ROBERTA_POSITIONS = 20  # RoBERTa offsets positions by pad_token_id + 1 = 2: 18 usable tokens


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """Folders of tiny random checkpoints, and the models that wrote them."""
    root = tmp_path_factory.mktemp("hub")
    torch.manual_seed(1234)
    models = {
        "mae": transformers.ViTMAEForPreTraining(transformers.ViTMAEConfig(**TINY_MAE)),
        "vit": transformers.ViTModel(transformers.ViTConfig(**TINY_VIT)),  # with its pooler
        "bert-mlm": transformers.BertForMaskedLM(
            transformers.BertConfig(**TINY_TEXT, max_position_embeddings=32)),
        "bert-bare": transformers.BertModel(
            transformers.BertConfig(**TINY_TEXT, max_position_embeddings=32)),
        "roberta-mlm": transformers.RobertaForMaskedLM(transformers.RobertaConfig(
            **TINY_TEXT, max_position_embeddings=ROBERTA_POSITIONS, pad_token_id=1)),
    }
    folders = {}
    for name, model in models.items():
        folders[name] = str(root / name)
        model.save_pretrained(folders[name])
    return folders, models


def _assert_same_weights(loaded: torch.nn.Module, reference: torch.nn.Module, prefix: str = ""):
    ref = dict(reference.named_parameters())
    names = list(dict(loaded.named_parameters()))
    assert names
    for name, param in loaded.named_parameters():
        key = name if name in ref else prefix + name
        assert torch.equal(param, ref[key]), name


def vcfg(folder: str, method: str, **fields) -> ModelConfig:
    return ModelConfig(task="vision", method=method, encoder=folder, width=8, image_size=16,
                       num_classes=3, **fields)


def tcfg(folder: str, method: str, **fields) -> ModelConfig:
    fields.setdefault("seq_len", 12)
    return ModelConfig(task="text", method=method, encoder=folder, width=8, num_classes=3, **fields)


def _text_inputs(cfg: ModelConfig, vocab: int = 99):
    ids = torch.randint(3, vocab, (2, cfg.seq_len), generator=torch.Generator().manual_seed(0))
    return ids, torch.ones_like(ids)


# --------------------------------------------------------------------------- hub / local folders

def test_sleepnet_loads_the_encoder_of_a_saved_mae(hub):
    folders, models = hub
    net = build_model(vcfg(folders["mae"], "sleepnet"))
    backbone = net.encoder.backbone
    assert type(backbone) is transformers.ViTMAEModel  # φ only, no decoder
    _assert_same_weights(backbone, models["mae"], prefix="vit.")
    assert not any(n.startswith("decoder") for n, _ in backbone.named_parameters())
    assert net.encoder.image_size == 16 and net.encoder.num_patches == 16
    # a random build of the same folder differs: the comparison above can fail
    random = build_model(vcfg(folders["mae"], "sleepnet"), pretrained=False)
    weight = "embeddings.patch_embeddings.projection.weight"
    assert not torch.equal(random.encoder.backbone.get_parameter(weight),
                           backbone.get_parameter(weight))
    with torch.no_grad():
        assert net.eval()(torch.randn(2, 3, 16, 16)).shape == (2, 3)


def test_dreamnet_loads_the_whole_saved_mae(hub):
    folders, models = hub
    net = build_model(vcfg(folders["mae"], "dreamnet", mask_ratio=0.5))
    backbone = net.encoder.backbone
    assert type(backbone) is transformers.ViTMAEForPreTraining
    _assert_same_weights(backbone, models["mae"])
    assert len(dict(backbone.named_parameters())) == len(dict(models["mae"].named_parameters()))
    assert backbone.config.mask_ratio == 0.5  # the config's ratio, not the checkpoint's
    with torch.no_grad():
        logits, dreams = net.eval()(torch.randn(2, 3, 16, 16), return_dreams=True)
    assert logits.shape == (2, 3)
    assert [d.shape for d in dreams] == [(2, 3, 16, 16)] * 2  # the folder's image size


@pytest.mark.parametrize("method", ["sleepnet", "dreamnet", "finetune"])
def test_text_models_load_a_saved_masked_lm(hub, method):
    folders, models = hub
    cfg = tcfg(folders["bert-mlm"], method)
    net = build_model(cfg)
    backbone = net.encoder.backbone
    if method == "dreamnet":
        assert type(backbone) is transformers.BertForMaskedLM
        _assert_same_weights(backbone, models["bert-mlm"])
    else:
        assert type(backbone) is transformers.BertModel
        loaded = {n: p for n, p in backbone.named_parameters() if not n.startswith("pooler")}
        reference = dict(models["bert-mlm"].named_parameters())
        assert loaded and all(torch.equal(p, reference["bert." + n]) for n, p in loaded.items())
    if method != "finetune":
        assert net.chain.embedding.num_embeddings == 99  # the chain reads the folder's vocabulary
    with torch.no_grad():
        assert net.eval()(*_text_inputs(cfg)).shape == (2, 3)


def test_roberta_folder_loads_and_limits_seq_len(hub):
    folders, models = hub
    net = build_model(tcfg(folders["roberta-mlm"], "dreamnet", seq_len=ROBERTA_POSITIONS - 2))
    _assert_same_weights(net.encoder.backbone, models["roberta-mlm"])
    assert net.encoder.max_tokens == ROBERTA_POSITIONS - 2
    assert net.encoder.pad_token_id == 1
    assert net.chain.embedding.padding_idx == 1
    cfg = tcfg(folders["roberta-mlm"], "dreamnet", seq_len=ROBERTA_POSITIONS - 2)
    with torch.no_grad():
        logits, dreams = net.eval()(*_text_inputs(cfg), return_dreams=True)
    assert logits.shape == (2, 3) and dreams[0].shape == (2, ROBERTA_POSITIONS - 2)
    too_long = rf"seq_len {ROBERTA_POSITIONS - 1} .*{ROBERTA_POSITIONS - 2}"
    with pytest.raises(ConfigError, match=too_long):
        build_model(tcfg(folders["roberta-mlm"], "sleepnet", seq_len=ROBERTA_POSITIONS - 1))


def test_bare_encoder_folder_serves_sleepnet_but_not_dreamnet(hub):
    folders, models = hub
    assert has_decoder(encoder_config(folders["bert-bare"])) is False
    net = build_model(tcfg(folders["bert-bare"], "sleepnet"))
    _assert_same_weights(net.encoder.backbone, models["bert-bare"])
    with pytest.raises(ConfigError, match="no decoder") as info:
        build_model(tcfg(folders["bert-bare"], "dreamnet"))
    assert folders["bert-bare"] in str(info.value)
    with pytest.raises(ConfigError, match="no decoder"):
        build_model(tcfg(folders["bert-bare"], "dreamnet"), pretrained=False)


def test_vit_folder_is_an_unmasked_encoder_without_pooler(hub):
    folders, models = hub
    net = build_model(vcfg(folders["vit"], "sleepnet"))
    encoder = net.encoder
    assert type(encoder.backbone) is transformers.ViTModel
    assert not encoder.is_mae and encoder.mask_ratio == 0.0
    assert not any("pooler" in n for n, _ in encoder.backbone.named_parameters())
    _assert_same_weights(encoder.backbone, models["vit"])
    tokens = encoder.encode(torch.randn(2, 3, 16, 16))
    assert tokens.tokens.shape == (2, 16, 16) and tokens.visible.all()
    with pytest.raises(ConfigError, match="no decoder"):
        build_model(vcfg(folders["vit"], "dreamnet"))


def test_folder_without_config_json_is_a_config_error(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ConfigError, match="config.json"):
        build_model(vcfg(str(tmp_path), "sleepnet"))


def test_folder_with_config_but_no_weights_is_a_clear_error(tmp_path):
    transformers.BertConfig(**TINY_TEXT).save_pretrained(str(tmp_path))
    with pytest.raises(DreamlibError, match="could not load encoder"):
        build_model(tcfg(str(tmp_path), "sleepnet"))
    # the architecture alone is enough to build it randomly initialised
    assert build_model(tcfg(str(tmp_path), "sleepnet"), pretrained=False).encoder.hidden_size == 16


def test_folder_of_an_unsupported_model_type(tmp_path):
    transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2).save_pretrained(str(tmp_path))
    with pytest.raises(ConfigError, match="gpt2.*supported types: vit_mae, vit, bert"):
        encoder_task(str(tmp_path))


@pytest.mark.parametrize("task, folder", [("vision", "bert-mlm"), ("text", "mae")])
def test_folder_of_the_wrong_task(hub, task, folder):
    folders, _ = hub
    cfg = (vcfg if task == "vision" else tcfg)(folders[folder], "sleepnet")
    with pytest.raises(ConfigError, match=f"is a .* encoder but the task is {task}"):
        build_model(cfg)


def test_a_saved_encoder_loads_back_from_its_folder(hub, tmp_path):
    folders, _ = hub
    encoder = load_encoder(folders["mae"], autoencoder=True)
    encoder.backbone.save_pretrained(str(tmp_path / "copy"))  # what a user's own folder holds
    again = load_encoder(str(tmp_path / "copy"), autoencoder=True)
    assert type(again) is VisionEncoder and again.is_autoencoder
    _assert_same_weights(again.backbone, encoder.backbone)


# --------------------------------------------------------------------------- names

def test_unknown_encoder_name_lists_the_choices():
    with pytest.raises(ConfigError) as info:
        encoder_config("facebook/no-such-model")
    message = str(info.value)
    assert "'facebook/no-such-model'" in message and "\n" not in message
    assert all(name in message for name in known_encoders())


@pytest.mark.parametrize("name", known_encoders())
def test_every_known_encoder_has_a_task_and_an_offline_config(name):
    vision = name == "mae-small" or name.startswith(("facebook/", "google/"))
    expected = "vision" if vision else "text"
    assert encoder_task(name) == expected
    decoder = not (name.startswith("google/vit") or name == "minilm")
    assert has_decoder(encoder_config(name)) is decoder


@pytest.mark.parametrize("model_type, architectures, expected", [
    ("bert", None, True),
    ("bert", ["BertModel"], False),
    ("bert", ["BertForMaskedLM"], True),
    ("bert", ["BertForPreTraining"], True),
    ("roberta", ["RobertaForMaskedLM"], True),
    ("xlnet", ["XLNetLMHeadModel"], True),
    ("xlnet", ["XLNetModel"], False),
    ("vit_mae", ["ViTMAEForPreTraining"], True),
    ("vit_mae", ["ViTMAEModel"], False),
    ("vit", None, False),
    ("vit", ["ViTForMaskedImageModeling"], False),
])
def test_has_decoder(model_type, architectures, expected):
    config = transformers.AutoConfig.for_model(model_type)
    config.architectures = architectures
    assert has_decoder(config) is expected


def test_mae_base_is_built_offline_with_its_published_size():
    """The paper's MAE-base autoencoder: 111,907,840 parameters, built without a download."""
    encoder = load_encoder("facebook/vit-mae-base", autoencoder=True, pretrained=False)
    assert sum(p.numel() for p in encoder.parameters()) == 111_907_840
    assert (encoder.image_size, encoder.patch_size, encoder.hidden_size) == (224, 16, 768)
    assert encoder.patch_dim == 768 and encoder.num_patches == 196


# --------------------------------------------------------------------------- the MAE adapter

@pytest.fixture(scope="module")
def mae_small():
    torch.manual_seed(0)
    return load_encoder("mae-small", autoencoder=True, pretrained=False, mask_ratio=0.75)


@pytest.mark.parametrize("ratio", [0.0, 0.5, 0.75])
def test_mae_encode_scatters_the_visible_tokens_on_the_grid(ratio):
    torch.manual_seed(0)
    encoder = load_encoder("mae-small", pretrained=False, mask_ratio=ratio).eval()
    assert encoder.backbone.config.mask_ratio == ratio
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = encoder.encode(images)
    keep = int(64 * (1 - ratio))
    assert out.tokens.shape == (2, 64, 128) and out.visible.shape == (2, 64)
    assert out.visible.dtype == torch.bool
    assert out.visible.sum(dim=1).tolist() == [keep, keep]
    assert (out.tokens[~out.visible] == 0).all()
    assert (out.tokens[out.visible].abs().sum(dim=-1) > 0).all()
    if ratio == 0.0:
        assert out.visible.all()
        return
    # masked patches are really unseen: changing one changes nothing; changing a visible one does
    masked = int((~out.visible[0]).nonzero()[0])
    seen = int(out.visible[0].nonzero()[0])

    def perturb(patch: int) -> torch.Tensor:
        row, col = divmod(patch, 8)
        changed = images.clone()
        changed[0, :, row * 4:(row + 1) * 4, col * 4:(col + 1) * 4] += 5.0
        with torch.no_grad():
            return encoder.encode(changed).tokens

    assert torch.allclose(perturb(masked), out.tokens, atol=1e-5)
    assert not torch.allclose(perturb(seen), out.tokens, atol=1e-3)


def test_mae_eval_mask_is_fixed_and_train_mask_follows_the_global_rng(mae_small):
    images = torch.randn(3, 3, 32, 32)
    mae_small.eval()
    torch.manual_seed(1)
    first = mae_small.mask_noise(3, images.device)
    torch.manual_seed(2)
    assert torch.equal(first, mae_small.mask_noise(3, images.device))
    with torch.no_grad():
        torch.manual_seed(3)
        a = mae_small.encode(images)
        torch.manual_seed(4)
        b = mae_small.encode(images)
    assert torch.equal(a.visible, b.visible) and torch.equal(a.tokens, b.tokens)
    assert not torch.equal(a.visible[0], a.visible[1])  # each example its own (fixed) mask
    mae_small.train()
    try:
        with torch.no_grad():
            torch.manual_seed(3)
            c = mae_small.encode(images)
            d = mae_small.encode(images)
            torch.manual_seed(3)
            e = mae_small.encode(images)
    finally:
        mae_small.eval()
    assert not torch.equal(c.visible, d.visible)
    assert torch.equal(c.visible, e.visible) and torch.equal(c.tokens, e.tokens)


def test_mae_reconstruct_gives_patches_and_their_image(mae_small):
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        dream = mae_small.eval().reconstruct(images)
    assert dream.patches.shape == (2, 64, 4 * 4 * 3)
    assert dream.image.shape == (2, 3, 32, 32)
    assert torch.equal(mae_small.backbone.patchify(dream.image), dream.patches)


def test_reconstruct_needs_the_decoder():
    vision = load_encoder("mae-small", autoencoder=False, pretrained=False)
    assert not vision.is_autoencoder
    with pytest.raises(ConfigError, match="decoder"):
        vision.reconstruct(torch.randn(1, 3, 32, 32))
    text = load_encoder("mlm-small", autoencoder=False, pretrained=False)
    assert not text.is_autoencoder
    with pytest.raises(ConfigError, match="LM head"):
        text.reconstruct(input_ids=torch.ones(1, 4, dtype=torch.long))


# --------------------------------------------------------------------------- the text adapter

@pytest.fixture(scope="module")
def mlm_small():
    torch.manual_seed(0)
    return load_encoder("mlm-small", autoencoder=True, pretrained=False).eval()


def test_mlm_small_interface(mlm_small):
    assert type(mlm_small) is TextEncoder and mlm_small.is_autoencoder
    assert (mlm_small.hidden_size, mlm_small.vocab_size) == (128, MLM_SMALL_VOCAB)
    assert mlm_small.max_tokens == 512 and mlm_small.pad_token_id == 0
    # the vocabulary A_in must produce is the shipped (trimmed) tokenizer's
    assert mlm_small.vocab_size == len(load_tokenizer("mlm-small"))
    ids = torch.randint(1, 1000, (2, 7), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        assert mlm_small.encode(input_ids=ids, attention_mask=mask).shape == (2, 7, 128)
        assert mlm_small.reconstruct(input_ids=ids, attention_mask=mask).shape == \
            (2, 7, MLM_SMALL_VOCAB)


def test_text_encoder_reads_embeddings_like_ids(mlm_small):
    """The straight-through path feeds inputs_embeds; for one-hot rows it must equal the ids'."""
    ids = torch.randint(1, 1000, (2, 7), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    one_hot = torch.nn.functional.one_hot(ids, mlm_small.vocab_size).float()
    with torch.no_grad():
        from_ids = mlm_small.encode(input_ids=ids, attention_mask=mask)
        from_embeds = mlm_small.encode(inputs_embeds=one_hot @ mlm_small.embedding_matrix,
                                       attention_mask=mask)
        assert torch.equal(mlm_small.embed(ids), mlm_small.embedding_matrix[ids])
    assert torch.allclose(from_ids, from_embeds, atol=1e-5)


def test_embedded_encoders_are_registered():
    assert set(encoders.EMBEDDED_ENCODERS) <= set(known_encoders())
    assert encoder_task("mae-small") == "vision" and encoder_task("mlm-small") == "text"


# ------------------------------------------- argmax of a vocabulary projection, chunk by chunk

@pytest.mark.parametrize("shape, rows", [((2, 7, 16), 3), ((5, 16), 256), ((3, 300, 16), 256)])
@pytest.mark.parametrize("with_bias", [False, True])
def test_linear_argmax_equals_the_argmax_of_the_full_logits(shape, rows, with_bias):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=generator)
    weight = torch.randn(999, 16, generator=generator)
    bias = torch.randn(999, generator=generator) if with_bias else None
    expected = torch.nn.functional.linear(x, weight, bias).argmax(dim=-1)
    found = encoders.linear_argmax(x, weight, bias, rows=rows)
    assert found.shape == shape[:-1] and torch.equal(found, expected)


def test_linear_argmax_keeps_the_first_of_tied_maxima():
    weight = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])  # rows 1 and 2 tie
    assert encoders.linear_argmax(torch.tensor([[2.0, 0.0]]), weight).tolist() == [1]


def test_linear_argmax_is_argmax_on_many_ties_and_nans():
    """It reduces with max(dim=-1).indices (faster on CPU): the ids must be argmax's, also where
    whole rows tie (small integer weights) and where a logit is NaN."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, 3, (4, 50, 8), generator=generator).float()
    weight = torch.randint(0, 2, (700, 8), generator=generator).float()
    x[0, :5, 0] = float("nan")
    weight[300, 1] = float("nan")
    expected = torch.nn.functional.linear(x, weight).argmax(dim=-1)
    assert torch.equal(encoders.linear_argmax(x, weight, rows=64), expected)


TEXT_LM_MODELS = {
    "bert": lambda: transformers.BertForMaskedLM(transformers.BertConfig(**TINY_TEXT)),
    "roberta": lambda: transformers.RobertaForMaskedLM(transformers.RobertaConfig(
        **TINY_TEXT, max_position_embeddings=ROBERTA_POSITIONS, pad_token_id=1)),
    "distilbert": lambda: transformers.DistilBertForMaskedLM(transformers.DistilBertConfig(
        vocab_size=99, dim=16, n_layers=1, n_heads=2, hidden_dim=32)),
    "xlnet": lambda: transformers.XLNetLMHeadModel(transformers.XLNetConfig(
        vocab_size=99, d_model=16, n_layer=1, n_head=2, d_inner=32)),
}


@pytest.mark.parametrize("kind", sorted(TEXT_LM_MODELS))
def test_lm_head_split_reproduces_each_architectures_logits_and_ids(kind):
    """reconstruct_ids splits the LM head by architecture; a wrong split would change dreams."""
    torch.manual_seed(0)
    encoder = TextEncoder(TEXT_LM_MODELS[kind]().eval())
    assert encoders.lm_head_transform(encoder.backbone) is not None
    ids = torch.randint(3, 99, (3, 9), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        logits = encoder.reconstruct(input_ids=ids, attention_mask=mask)
        hidden = encoders.lm_head_transform(encoder.backbone)(encoder.encode(ids, mask))
        split = encoder.backbone.get_output_embeddings()(hidden)
    torch.testing.assert_close(split, logits)
    assert torch.equal(encoder.reconstruct_ids(input_ids=ids, attention_mask=mask),
                       logits.argmax(dim=-1))


def test_reconstruct_ids_of_mlm_small_match_its_logits(mlm_small):
    ids = torch.randint(1, 1000, (4, 24), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        expected = mlm_small.reconstruct(input_ids=ids, attention_mask=mask).argmax(dim=-1)
    assert torch.equal(mlm_small.reconstruct_ids(input_ids=ids, attention_mask=mask), expected)
