"""Tiny random-weight models built in code with the real library classes, for the GPU engine tests.

Each builder makes a model a few hundred kilobytes big with the same classes a real checkpoint
uses (Janus-Pro, Stable Diffusion and its inpaint / InstructPix2Pix variants, a Llama chat model,
Idefics3 as the VLM, OWLv2), then `save_pretrained`s it to a folder, so the engines load it through
their own loading code exactly as they would load a user's download. Nothing is downloaded; the
tokenizers are trained here on a few sentences. The outputs are noise: the tests check the plumbing
(loading, stages, previews, cancellation, errors), not the pictures.

The benchmarks build from the same parts (`bench/tiny_sd.py`, `bench/gpu_check.py` import from here):
the test suite is what keeps these builders working with each diffusers / transformers release.
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


# -- Janus-Pro --------------------------------------------------------------------------------

JANUS_IMAGE, JANUS_PATCH = 32, 8


def build_janus(out: Path) -> Path:
    import torch
    from transformers import (
        GenerationConfig,
        JanusConfig,
        JanusForConditionalGeneration,
        JanusProcessor,
    )

    try:
        from transformers import JanusImageProcessorPil as ImageProcessor
    except ImportError:  # pragma: no cover
        from transformers import JanusImageProcessor as ImageProcessor

    torch.manual_seed(0)
    special = ["<pad>", "<s>", "</s>", "<image_placeholder>", "<begin_of_image>", "<end_of_image>"]
    tok = bpe_tokenizer(
        special,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        extra_special_tokens={
            "image_token": "<image_placeholder>",
            "boi_token": "<begin_of_image>",
            "eoi_token": "<end_of_image>",
        },
    )
    ids = {t: tok.convert_tokens_to_ids(t) for t in special}
    n_tokens = (JANUS_IMAGE // JANUS_PATCH) ** 2
    hidden = 64
    config = JanusConfig(
        text_config=dict(
            model_type="llama",
            vocab_size=len(tok),
            hidden_size=hidden,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=1024,
            bos_token_id=ids["<s>"],
            eos_token_id=ids["</s>"],
            pad_token_id=ids["<pad>"],
        ),
        vision_config=dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=JANUS_IMAGE,
            patch_size=JANUS_PATCH,
            mlp_ratio=2.0,
            projection_dim=hidden,
            depth=2,
            num_image_tokens=n_tokens,
        ),
        vq_config=dict(
            embed_dim=8,
            num_embeddings=64,
            latent_channels=32,
            base_channels=32,
            channel_multiplier=[1, 1],
            num_res_blocks=1,
            projection_dim=hidden,
            image_token_embed_dim=hidden,
            num_hidden_layers=2,
        ),
        image_token_id=ids["<image_placeholder>"],
    )
    model = JanusForConditionalGeneration(config).eval()
    # No generation_kwargs / boi_token_id here on purpose: the engine fills them in, as some checkpoints need.
    model.generation_config = GenerationConfig(bos_token_id=ids["<s>"], eos_token_id=ids["</s>"])
    template = (
        "{% for m in messages %}<|{{ m['role'] | capitalize }}|>: {% for c in m['content'] %}"
        "{% if c['type']=='image' %}<image_placeholder>{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
        "\n\n{% endfor %}{% if add_generation_prompt %}<|Assistant|>:{% endif %}"
    )
    processor = JanusProcessor(
        image_processor=ImageProcessor(
            size={"height": JANUS_IMAGE, "width": JANUS_IMAGE}, min_size=8
        ),
        tokenizer=tok,
        chat_template=template,
        num_image_tokens=n_tokens,
    )
    processor.save_pretrained(out)
    model.save_pretrained(out)
    return out


# -- Stable Diffusion (text to image, and InstructPix2Pix) ------------------------------------


def sd_parts(in_channels: int = 4, seed: int = 0) -> dict:
    """A Stable Diffusion pipeline's keyword arguments, tiny: UNet (32/64 channels), VAE, a 2-layer CLIP
    text encoder and the character-level CLIP tokenizer. Also the benchmarks' sketcher (bench/tiny_sd.py)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    tok = clip_tokenizer()
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=len(tok),
            max_position_embeddings=77,
        )
    )
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


def build_idefics3(out: Path) -> Path:
    import torch
    import transformers
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor

    torch.manual_seed(0)
    special = [
        "<|endoftext|>",
        "<|im_start|>",
        "<end_of_utterance>",
        "<fake_token_around_image>",
        "<image>",
        "<global-img>",
    ] + [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    tok = bpe_tokenizer(
        special, bos_token="<|im_start|>", eos_token="<end_of_utterance>", pad_token="<|endoftext|>"
    )
    ids = {t: tok.convert_tokens_to_ids(t) for t in special[:6]}
    image, patch, scale = 32, 8, 2
    config = Idefics3Config(
        text_config=dict(
            model_type="llama",
            vocab_size=len(tok),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=4096,
            bos_token_id=ids["<|im_start|>"],
            eos_token_id=ids["<end_of_utterance>"],
            pad_token_id=ids["<|endoftext|>"],
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=image,
            patch_size=patch,
        ),
        scale_factor=scale,
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
            size={"longest_edge": 2 * image},
            max_image_size={"longest_edge": image},
            do_image_splitting=False,
        ),
        tokenizer=tok,
        image_seq_len=(image // patch) ** 2 // scale**2,
        chat_template=template,
    )
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
