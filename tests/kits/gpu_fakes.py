"""Tiny random-weight models built in code with the real library classes, for the GPU engine tests.

Each builder makes a model a few hundred kilobytes big with the same classes a real checkpoint
uses (Janus-Pro, Stable Diffusion and its inpaint / InstructPix2Pix variants, a Llama chat model,
Idefics3 as the VLM, OWLv2), then `save_pretrained`s it to a folder, so the engines load it through
their own loading code exactly as they would load a user's download. Nothing is downloaded; the
tokenizers are trained here on a few sentences. The outputs are noise: the tests check the plumbing
(loading, stages, previews, cancellation, errors), not the pictures.

The benchmarks build from the same parts (`bench/tiny_sd.py`, `bench/gpu_check.py` and
`bench/gpu_full.py` import from here): the Janus-Pro, Idefics3, SDXL and FLUX.1 builders take their size
(`JANUS_TINY`, `IDEFICS3_TINY`, `SDXL_TINY`, `FLUX_TINY` here; the released configurations there), so the
test suite is what keeps the full-size builders working with each diffusers / transformers release.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

CORPUS = [
    "Prompt: a red apple to the left of a blue cup. Draw the apple.",
    "<ins>draw a red apple</ins><des>a red apple</des><done>no</done>",
    "<plan>yes</plan><sketch>no: the cup is missing</sketch>",
    "<refine>add a blue cup to the right</refine>",
    "The image shows a cat and a dog. Verdict: approve or reject.",
]


def bpe_tokenizer(special: list[str], vocab_size: int = 320, **kwargs):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE(unk_token=None))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    return PreTrainedTokenizerFast(tokenizer_object=tk, model_max_length=4096, **kwargs)


def _bytes_to_unicode():
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def clip_tokenizer(max_len: int = 77, bos_first: bool = True):
    """Character-level CLIP BPE (no merges): covers any text, builds offline."""
    from transformers import CLIPTokenizer

    if bos_first:
        vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
        pad = None
    else:  # OWL reads query_mask = input_ids[..., 0] > 0, so BOS must not be id 0
        vocab = {"!": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}
        pad = "!"
    for c in _bytes_to_unicode():
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    kwargs = {"pad_token": pad} if pad else {}
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_len, **kwargs)


CLIP_TINY = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2)


def clip_text_config(vocab_size: int, **dims):
    """A CLIP text encoder's config over clip_tokenizer's ids (BOS 0, EOS and pad 1, 77 positions);
    `dims` are its sizes (CLIP_TINY's keys, and projection_dim where a projection reads it)."""
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=vocab_size,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        max_position_embeddings=77,
        **dims,
    )


# -- Janus-Pro --------------------------------------------------------------------------------

JANUS_IMAGE, JANUS_PATCH = 32, 8
JANUS_SPECIAL = [
    "<pad>",
    "<s>",
    "</s>",
    "<image_placeholder>",
    "<begin_of_image>",
    "<end_of_image>",
]
JANUS_ROLES = dict(
    bos_token="<s>",
    eos_token="</s>",
    pad_token="<pad>",
    extra_special_tokens={
        "image_token": "<image_placeholder>",
        "boi_token": "<begin_of_image>",
        "eoi_token": "<end_of_image>",
    },
)
# The sizes janus_parts reads; bench/gpu_check.py's SIZES (and bench/gpu_full.py's 7B) are the big ones.
JANUS_TINY = dict(
    hidden=64,
    layers=2,
    heads=4,
    kv_heads=2,
    intermediate=128,
    positions=1024,
    vision_hidden=32,
    vision_layers=2,
    vision_heads=4,
    vision_mlp_ratio=2.0,
    image=JANUS_IMAGE,
    patch=JANUS_PATCH,
    min_size=8,
    vq_codes=64,
    vq_base=32,
    vq_mult=[1, 1],
    vq_latent=32,
    vq_blocks=1,
)


def janus_parts(size: dict, tok):
    """Janus-Pro's config at `size` (JANUS_TINY's keys) over `tok` (a tokenizer with JANUS_SPECIAL and
    JANUS_ROLES), its processor, and the special tokens' ids."""
    from transformers import JanusConfig, JanusProcessor

    try:
        from transformers import JanusImageProcessorPil as ImageProcessor
    except ImportError:  # pragma: no cover
        from transformers import JanusImageProcessor as ImageProcessor

    ids = {t: tok.convert_tokens_to_ids(t) for t in JANUS_SPECIAL}
    s = size
    n_tokens = (s["image"] // s["patch"]) ** 2
    config = JanusConfig(
        text_config=dict(
            model_type="llama",
            vocab_size=len(tok),
            hidden_size=s["hidden"],
            intermediate_size=s["intermediate"],
            num_hidden_layers=s["layers"],
            num_attention_heads=s["heads"],
            num_key_value_heads=s["kv_heads"],
            max_position_embeddings=s["positions"],
            bos_token_id=ids["<s>"],
            eos_token_id=ids["</s>"],
            pad_token_id=ids["<pad>"],
        ),
        vision_config=dict(
            hidden_size=s["vision_hidden"],
            num_hidden_layers=s["vision_layers"],
            num_attention_heads=s["vision_heads"],
            image_size=s["image"],
            patch_size=s["patch"],
            mlp_ratio=s["vision_mlp_ratio"],
            projection_dim=s["hidden"],
            depth=2,
            num_image_tokens=n_tokens,
        ),
        vq_config=dict(
            embed_dim=8,
            num_embeddings=s["vq_codes"],
            latent_channels=s["vq_latent"],
            base_channels=s["vq_base"],
            channel_multiplier=s["vq_mult"],
            num_res_blocks=s["vq_blocks"],
            projection_dim=s["hidden"],
            image_token_embed_dim=s["hidden"],
            num_hidden_layers=2,
        ),
        image_token_id=ids["<image_placeholder>"],
    )
    template = (
        "{% for m in messages %}<|{{ m['role'] | capitalize }}|>: {% for c in m['content'] %}"
        "{% if c['type']=='image' %}<image_placeholder>{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
        "\n\n{% endfor %}{% if add_generation_prompt %}<|Assistant|>:{% endif %}"
    )
    processor = JanusProcessor(
        image_processor=ImageProcessor(
            size={"height": s["image"], "width": s["image"]}, min_size=s["min_size"]
        ),
        tokenizer=tok,
        chat_template=template,
        num_image_tokens=n_tokens,
    )
    return config, processor, ids


def build_janus(out: Path) -> Path:
    import torch
    from transformers import GenerationConfig, JanusForConditionalGeneration

    torch.manual_seed(0)
    tok = bpe_tokenizer(JANUS_SPECIAL, **JANUS_ROLES)
    config, processor, ids = janus_parts(JANUS_TINY, tok)
    model = JanusForConditionalGeneration(config).eval()
    # No generation_kwargs / boi_token_id here on purpose: the engine fills them in, as some checkpoints need.
    model.generation_config = GenerationConfig(bos_token_id=ids["<s>"], eos_token_id=ids["</s>"])
    processor.save_pretrained(out)
    model.save_pretrained(out)
    return out


# -- Stable Diffusion (text to image, and InstructPix2Pix) ------------------------------------


def sd_parts(in_channels: int = 4, seed: int = 0) -> dict:
    """A Stable Diffusion pipeline's keyword arguments, tiny: UNet (32/64 channels), VAE, a 2-layer CLIP
    text encoder and the character-level CLIP tokenizer. Also the benchmarks' sketcher (bench/tiny_sd.py)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    tok = clip_tokenizer()
    text_encoder = CLIPTextModel(clip_text_config(len(tok), **CLIP_TINY))
    vae = AutoencoderKL(
        block_out_channels=(32, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
    )
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=in_channels,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=8,
        attention_head_dim=4,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    return dict(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tok,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def build_sd(out: Path) -> Path:
    """A Stable Diffusion text-to-image pipeline (64×64 images, VAE factor 2)."""
    from diffusers import StableDiffusionPipeline

    StableDiffusionPipeline(**sd_parts()).save_pretrained(out)
    return out


def build_instruct_pix2pix(out: Path) -> Path:
    """InstructPix2Pix: the same parts with an 8-channel UNet (latents + the image's latents)."""
    from diffusers import StableDiffusionInstructPix2PixPipeline

    StableDiffusionInstructPix2PixPipeline(**sd_parts(in_channels=8)).save_pretrained(out)
    return out


# -- chat models: a Llama LLM and an Idefics3 VLM ---------------------------------------------


def build_llama_chat(out: Path) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tok = bpe_tokenizer(
        ["<pad>", "<s>", "</s>"], bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    tok.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:{% endif %}"
    )
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


IDEFICS3_SPECIAL = [
    "<|endoftext|>",
    "<|im_start|>",
    "<end_of_utterance>",
    "<fake_token_around_image>",
    "<image>",
    "<global-img>",
] + [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
IDEFICS3_ROLES = dict(
    bos_token="<|im_start|>", eos_token="<end_of_utterance>", pad_token="<|endoftext|>"
)
# The sizes idefics3_parts reads; bench/gpu_check.py's SIZES has the SmolVLM-2B-sized one.
IDEFICS3_TINY = dict(
    hidden=64,
    layers=2,
    heads=4,
    kv_heads=2,
    intermediate=128,
    positions=4096,
    vision_hidden=32,
    vision_layers=2,
    vision_heads=4,
    vision_intermediate=37,
    image=32,
    patch=8,
    scale=2,
    longest_edge=64,  # what the processor resizes an image's longest edge to, before max_image_size
    split=False,  # do_image_splitting
)


def idefics3_parts(size: dict, tok):
    """An Idefics3 (SmolVLM) config at `size` (IDEFICS3_TINY's keys) over `tok` (a tokenizer with
    IDEFICS3_SPECIAL and IDEFICS3_ROLES) and its processor."""
    import transformers
    from transformers import Idefics3Config, Idefics3Processor

    ids = {t: tok.convert_tokens_to_ids(t) for t in IDEFICS3_SPECIAL[:6]}
    s = size
    config = Idefics3Config(
        text_config=dict(
            model_type="llama",
            vocab_size=len(tok),
            hidden_size=s["hidden"],
            intermediate_size=s["intermediate"],
            num_hidden_layers=s["layers"],
            num_attention_heads=s["heads"],
            num_key_value_heads=s["kv_heads"],
            max_position_embeddings=s["positions"],
            bos_token_id=ids["<|im_start|>"],
            eos_token_id=ids["<end_of_utterance>"],
            pad_token_id=ids["<|endoftext|>"],
        ),
        vision_config=dict(
            hidden_size=s["vision_hidden"],
            intermediate_size=s["vision_intermediate"],
            num_hidden_layers=s["vision_layers"],
            num_attention_heads=s["vision_heads"],
            image_size=s["image"],
            patch_size=s["patch"],
        ),
        scale_factor=s["scale"],
        image_token_id=ids["<image>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    template = (
        "<|im_start|>{% for m in messages %}{{ m['role'] | capitalize }}:{% for c in m['content'] %}"
        "{% if c['type']=='image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
        "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
    )
    processor = Idefics3Processor(
        image_processor=transformers.Idefics3ImageProcessorPil(
            size={"longest_edge": s["longest_edge"]},
            max_image_size={"longest_edge": s["image"]},
            do_image_splitting=s["split"],
        ),
        tokenizer=tok,
        image_seq_len=(s["image"] // s["patch"]) ** 2 // s["scale"] ** 2,
        chat_template=template,
    )
    return config, processor


def build_idefics3(out: Path) -> Path:
    import torch
    from transformers import Idefics3ForConditionalGeneration

    torch.manual_seed(0)
    tok = bpe_tokenizer(IDEFICS3_SPECIAL, **IDEFICS3_ROLES)
    config, processor = idefics3_parts(IDEFICS3_TINY, tok)
    Idefics3ForConditionalGeneration(config).save_pretrained(out)
    processor.save_pretrained(out)
    return out


def build_owlv2(out: Path) -> Path:
    import torch
    import transformers
    from transformers import Owlv2Config, Owlv2ForObjectDetection, Owlv2Processor

    torch.manual_seed(0)
    tok = clip_tokenizer(max_len=16, bos_first=False)
    size, patch = 64, 16
    config = Owlv2Config(
        text_config=dict(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=16,
            bos_token_id=1,
            eos_token_id=2,
            pad_token_id=0,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=size,
            patch_size=patch,
        ),
        projection_dim=32,
    )
    processor = Owlv2Processor(
        image_processor=transformers.Owlv2ImageProcessorPil(size={"height": size, "width": size}),
        tokenizer=tok,
    )
    Owlv2ForObjectDetection(config).save_pretrained(out)
    processor.save_pretrained(out)
    return out


# -- loading one the way a user's setup does --------------------------------------------------


@contextmanager
def registry_engine(name: str, variable: str, value) -> Iterator:
    """The registry's own `name` engine, built with `variable=value` in the environment; afterwards it is
    unregistered and the variable put back. For module-scoped fixtures, which cannot use `monkeypatch`."""
    import pytest

    from studio import engines

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(variable, str(value))
        engines.unregister(name)
        try:
            yield engines.load(name)
        finally:
            engines.unregister(name)


# -- the shipped configs' classes: SDXL, FLUX.1 / FLUX.1 Kontext, Qwen-Image-Edit, Qwen2.5-VL ---


# The sizes sdxl_pipeline reads: blocks, transformer layers and attention heads per UNet level, the
# cross-attention width (both encoders side by side), each CLIP's (hidden, layers, heads, intermediate),
# the VAE's blocks; `clip_vocab` None is the tokenizer's. bench/gpu_check.py's SIZES has SDXL's own.
SDXL_TINY = dict(
    blocks=(32, 64),
    transformer_layers=(1, 1),
    heads=(2, 4),
    cross=64,
    layers=1,
    clip1=(32, 2, 4, 37),
    clip2=(32, 2, 4, 37),
    clip_vocab=None,
    vae=(32, 64),
    vae_layers=1,
    time_embed=8,
    groups=8,
    size=64,
)


def sdxl_pipeline(size: dict):
    """A Stable Diffusion XL pipeline at `size` (SDXL_TINY's keys): both CLIP text encoders, the
    text-time UNet, SDXL's VAE and scheduler; built where the caller's device (and default dtype)
    context says."""
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    s = size
    n = len(s["blocks"])
    tok = clip_tokenizer()

    def clip(cls, dims):
        hidden, layers, heads, inner = dims
        return cls(
            clip_text_config(
                s["clip_vocab"] or len(tok),
                hidden_size=hidden,
                num_hidden_layers=layers,
                num_attention_heads=heads,
                intermediate_size=inner,
                projection_dim=hidden,
            )
        )

    unet = UNet2DConditionModel(
        sample_size=s["size"] // 2 ** (len(s["vae"]) - 1),
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1),
        up_block_types=("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",),
        block_out_channels=s["blocks"],
        layers_per_block=s["layers"],
        cross_attention_dim=s["cross"],
        transformer_layers_per_block=s["transformer_layers"],
        attention_head_dim=s["heads"],
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=s["time_embed"],
        projection_class_embeddings_input_dim=s["time_embed"] * 6 + s["clip2"][0],
        norm_num_groups=s["groups"],
    )
    vae = AutoencoderKL(
        block_out_channels=s["vae"],
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * len(s["vae"]),
        up_block_types=("UpDecoderBlock2D",) * len(s["vae"]),
        layers_per_block=s["vae_layers"],
        norm_num_groups=s["groups"],
        sample_size=s["size"],
        scaling_factor=0.13025,
        force_upcast=True,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=clip(CLIPTextModel, s["clip1"]),
        text_encoder_2=clip(CLIPTextModelWithProjection, s["clip2"]),
        tokenizer=tok,
        tokenizer_2=tok,
        unet=unet,
        scheduler=scheduler,
    )


def build_sdxl(out: Path) -> Path:
    """Stable Diffusion XL (assets/pipeline-24gb.toml's sketcher) at SDXL_TINY: 64×64 images, VAE
    factor 2."""
    import torch

    torch.manual_seed(0)
    sdxl_pipeline(SDXL_TINY).save_pretrained(out)
    return out


def t5_tokenizer(max_len: int = 32):
    """A character-level T5 (Unigram) tokenizer: covers plain text, needs no sentencepiece model file."""
    from transformers import T5Tokenizer

    chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;!?'\"-()"
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [("▁" + c, -3.0) for c in chars] + [(c, -4.0) for c in chars]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=max_len)


# The sizes flux_encoders and flux_transformer read: each part's config fields (`*_vocab` None is the
# tokenizer's). bench/gpu_full.py has FLUX.1-dev's own.
FLUX_TINY = dict(
    clip=dict(**CLIP_TINY, projection_dim=32),
    clip_vocab=None,
    t5=dict(
        d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4, relative_attention_num_buckets=8
    ),
    t5_vocab=None,
    t5_max_len=32,
    vae=dict(
        block_out_channels=(8, 8, 8),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=64,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    ),
    transformer=dict(
        patch_size=1,
        in_channels=16,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        axes_dims_rope=(4, 4, 8),
    ),
)


def flux_encoders(size: dict) -> dict:
    """FLUX.1's text encoders (CLIP, T5), their tokenizers and its 16-channel-packed VAE at `size`
    (FLUX_TINY's keys): the parts a FLUX.1 and a FLUX.1 Kontext pipeline can share."""
    from diffusers import AutoencoderKL
    from transformers import CLIPTextModel, T5Config, T5EncoderModel

    tok, tok2 = clip_tokenizer(), t5_tokenizer(max_len=size["t5_max_len"])
    text_encoder = CLIPTextModel(clip_text_config(size["clip_vocab"] or len(tok), **size["clip"]))
    text_encoder_2 = T5EncoderModel(
        T5Config(
            vocab_size=size["t5_vocab"] or len(tok2),
            **size["t5"],
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    )
    levels = len(size["vae"]["block_out_channels"])
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * levels,
        up_block_types=("UpDecoderBlock2D",) * levels,
        use_quant_conv=False,
        use_post_quant_conv=False,
        **size["vae"],
    )
    return dict(
        text_encoder=text_encoder,
        tokenizer=tok,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tok2,
        vae=vae,
    )


def flux_transformer(size: dict):
    """FLUX.1's transformer at `size` (guidance embedded, as FLUX.1-dev and Kontext-dev)."""
    from diffusers import FluxTransformer2DModel

    return FluxTransformer2DModel(guidance_embeds=True, **size["transformer"])


def flux_scheduler():
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(
        shift=3.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )


def flux_parts(seed: int = 0) -> dict:
    """FLUX.1's parts at FLUX_TINY (VAE factor 4). The same parts make FLUX.1 Kontext."""
    import torch

    torch.manual_seed(seed)
    return dict(
        scheduler=flux_scheduler(),
        **flux_encoders(FLUX_TINY),
        transformer=flux_transformer(FLUX_TINY),
    )


def build_flux(out: Path) -> Path:
    """FLUX.1 (assets/pipeline-80gb.toml's sketcher): FluxPipeline, 64×64 images."""
    from diffusers import FluxPipeline

    FluxPipeline(**flux_parts()).save_pretrained(out)
    return out


def build_flux_kontext(out: Path) -> Path:
    """FLUX.1 Kontext (assets/pipeline-80gb.toml's refiner): FluxKontextPipeline, its own transformer."""
    from diffusers import FluxKontextPipeline

    FluxKontextPipeline(**flux_parts(seed=1)).save_pretrained(out)
    return out


QWEN_SPECIAL = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]


def qwen_tokenizer():
    tok = bpe_tokenizer(
        QWEN_SPECIAL,
        vocab_size=400,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={
            "image_token": "<|image_pad|>",
            "video_token": "<|video_pad|>",
            "vision_bos_token": "<|vision_start|>",
            "vision_eos_token": "<|vision_end|>",
        },
    )
    tok.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}"
        "{{ m['content'] }}{% else %}{% for c in m['content'] %}{% if c['type']=='image' %}"
        "<|vision_start|><|image_pad|><|vision_end|>{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
        "{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    return tok


def qwen2_5_vl(tok, hidden: int = 32):
    """Qwen2.5-VL (assets/pipeline-*.toml's planner and inspector; Qwen-Image's text encoder), tiny."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(0)
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN_SPECIAL}
    config = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=len(tok),
            hidden_size=hidden,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=4096,
            rope_parameters={
                "rope_type": "default",
                "mrope_section": [2, 3, 3],
                "rope_theta": 1000000.0,
            },
            bos_token_id=ids["<|endoftext|>"],
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
        ),
        vision_config=dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            out_hidden_size=hidden,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            window_size=56,
            fullatt_block_indexes=[1],
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    return Qwen2_5_VLForConditionalGeneration(config).eval()


def qwen_image_processor():
    import transformers

    cls = getattr(transformers, "Qwen2VLImageProcessorPil", transformers.Qwen2VLImageProcessor)
    return cls(
        min_pixels=56 * 56, max_pixels=112 * 112, patch_size=14, merge_size=2, temporal_patch_size=2
    )


def qwen_processor_without_video(tok):
    """Stands in for Qwen2_5_VLProcessor where torchvision is missing (here: it does not load beside
    the on-disk CPU torch): the real processor's image path, without the video processor that needs
    torchvision. With torchvision installed the tests use the real processor instead."""
    from transformers import Qwen2_5_VLProcessor
    from transformers.processing_utils import ProcessorMixin

    class Qwen2_5_VLProcessorNoVideo(Qwen2_5_VLProcessor):
        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            self.image_token, self.video_token = tokenizer.image_token, tokenizer.video_token
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    return Qwen2_5_VLProcessorNoVideo(
        image_processor=qwen_image_processor(), tokenizer=tok, chat_template=tok.chat_template
    )


def build_qwen2_5_vl(out: Path) -> Path:
    """Qwen2.5-VL in its checkpoint layout: the model, the tokenizer (with its chat template) and the
    image processor. Its AutoProcessor adds the video processor, which needs torchvision."""
    tok = qwen_tokenizer()
    qwen2_5_vl(tok).save_pretrained(out)
    tok.save_pretrained(out)
    qwen_image_processor().save_pretrained(out)
    return out


def qwen_image_edit(tok=None):
    """Qwen-Image-Edit (an editing refiner): QwenImageEditPipeline with a Qwen2.5-VL text encoder, its
    3-D VAE (factor 16) and transformer, tiny. Returned built (its processor needs torchvision to reload)."""
    import torch
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageEditPipeline,
        QwenImageTransformer2DModel,
    )

    tok = tok or qwen_tokenizer()
    text_encoder = qwen2_5_vl(tok)
    torch.manual_seed(0)
    z = 4
    vae = AutoencoderKLQwenImage(
        base_dim=8,
        z_dim=z,
        dim_mult=[1, 1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, False, False, False],
        latents_mean=[0.0] * z,
        latents_std=[1.0] * z,
    )
    transformer = QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=z * 4,
        out_channels=z,
        num_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        guidance_embeds=False,
        axes_dims_rope=(4, 6, 6),
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        shift=3.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=0.9,
        base_image_seq_len=256,
        max_image_seq_len=8192,
        time_shift_type="exponential",
    )
    return QwenImageEditPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tok,
        processor=qwen_processor_without_video(tok),
        transformer=transformer,
    )
