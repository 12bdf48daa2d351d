"""Builds a tiny BAGEL snapshot from BAGEL's own classes, with random weights, in BAGEL's layout.

Run with the python of BAGEL's environment (tests/kits/bagel_kit.py does):
    python tests/kits/bagel_tiny.py OUT_DIR BAGEL_CLONE
It writes what the engine's loader reads from a real snapshot: llm_config.json, vit_config.json
(one layer more than the weights hold, as BAGEL's released config: the loader drops the last layer
as app.py does), ema.safetensors (bfloat16), ae.safetensors, the tokenizer files (vocab.json +
merges.txt for BAGEL's Qwen2Tokenizer, trained here on a few words: byte-level, so any text encodes),
and ae_config.json (a small autoencoder instead of FLUX's; see studio/engines/bagel/loader.py), or with
--flux-ae a random FLUX-size autoencoder and no ae_config.json (what BAGEL's trainer reads).
The model is random, so its texts and images are noise; the tests check the mechanics, not content.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def build(out: Path, clone: Path, flux_ae: bool = False) -> None:
    sys.path.insert(0, str(clone))
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from studio.engines.bagel import attention

    attention.install()  # BAGEL's modules import flash_attn; without it, the studio's SDPA path
    import torch
    from data.data_utils import add_special_tokens
    from modeling.autoencoder import AutoEncoder, AutoEncoderParams
    from modeling.bagel import (
        Bagel,
        BagelConfig,
        Qwen2Config,
        Qwen2ForCausalLM,
        SiglipVisionConfig,
        SiglipVisionModel,
    )
    from modeling.qwen2 import Qwen2Tokenizer
    from safetensors.torch import save_file
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = [
        "a red cup left of a blue clock <ins> </ins> <des> </des> <done>yes</done> <plan> <sketch> <refine> "
        "plan sketch inspect refine the image prompt step instruction scene"
    ] * 50
    bpe.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=["<|endoftext|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    bpe.model.save(str(out))  # vocab.json + merges.txt
    tokenizer = Qwen2Tokenizer(str(out / "vocab.json"), str(out / "merges.txt"))
    tokenizer.save_pretrained(str(out))
    tokenizer, _, _ = add_special_tokens(tokenizer)

    llm = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        rope_theta=10000.0,
    )
    llm.to_json_file(str(out / "llm_config.json"))
    llm.qk_norm, llm.tie_word_embeddings, llm.layer_module = True, False, "Qwen2MoTDecoderLayer"
    vit = SiglipVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=980,
        patch_size=14,
    )
    saved_vit = SiglipVisionConfig(**{**vit.to_dict(), "num_hidden_layers": 3})
    saved_vit.to_json_file(str(out / "vit_config.json"))
    vit.rope = False
    ae_fields = dict(
        resolution=256,
        in_channels=3,
        downsample=8,
        ch=32,
        out_ch=3,
        ch_mult=[1, 2, 4, 4],
        num_res_blocks=1,
        z_channels=16,
        scale_factor=0.3611,
        shift_factor=0.1159,
    )
    if flux_ae:
        # BAGEL's trainer builds FLUX's autoencoder size whatever the snapshot says (load_ae): a random
        # one of that size, and no ae_config.json, so the engine builds the same
        from modeling.autoencoder import load_ae

        autoencoder, ae_params = load_ae(local_path=None)
        save_file(
            {k: v.contiguous() for k, v in autoencoder.state_dict().items()},
            str(out / "ae.safetensors"),
        )
    else:
        (out / "ae_config.json").write_text(json.dumps(ae_fields, indent=1))
        ae_params = AutoEncoderParams(**ae_fields)
        save_file(AutoEncoder(ae_params).state_dict(), str(out / "ae.safetensors"))

    config = BagelConfig(
        visual_gen=True,
        visual_und=True,
        llm_config=llm,
        vit_config=vit,
        vae_config=ae_params,
        vit_max_num_patch_per_side=70,
        connector_act="gelu_pytorch_tanh",
        latent_patch_size=2,
        max_latent_size=64,
    )
    model = Bagel(Qwen2ForCausalLM(llm), SiglipVisionModel(vit), config)
    model.vit_model.vision_model.embeddings.convert_conv2d_to_linear(vit)
    torch.nn.init.normal_(
        model.llm2vae.weight, std=0.02
    )  # BAGEL zero-initialises it: the flow would not move
    state = {
        name: tensor.to(torch.bfloat16).contiguous() for name, tensor in model.state_dict().items()
    }
    save_file(state, str(out / "ema.safetensors"))


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]), flux_ae="--flux-ae" in sys.argv[3:])
    print("tiny BAGEL snapshot in", sys.argv[1])
