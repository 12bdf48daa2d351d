"""BAGEL-7B-MoT's memory, by arithmetic: its parameters sized in each mode's dtype, and its KV cache per token.

Builds BAGEL's model on the meta device from BAGEL's own classes with the released configuration
(Qwen2.5-7B-Instruct for the language model, SigLIP so400m-14-980 for the ViT; the numbers below are
those of the snapshot's llm_config.json and vit_config.json) and sizes it with the engine's placement
code (accelerate's arithmetic, per-parameter dtypes of each mode). No weights are read. Run it with
the python of BAGEL's environment (tests build one in .bagel-env):
    PYTHONPATH=.:tests/kits/bagel_standins .bagel-env/bin/python bench/bagel_memory.py ../shared/third_party/Bagel
"""

from __future__ import annotations

import json
import sys

GiB = 2**30


def main(clone: str) -> None:
    sys.path.insert(0, clone)
    from studio.engines.bagel import attention

    attention.install()  # flash_attn, or the studio's SDPA path when it is absent
    from accelerate import init_empty_weights
    from modeling.autoencoder import load_ae
    from modeling.bagel import (
        Bagel,
        Qwen2Config,
        Qwen2ForCausalLM,
        SiglipVisionConfig,
        SiglipVisionModel,
    )

    from studio.engines.bagel import placement
    from studio.engines.bagel.loader import bagel_config

    llm = Qwen2Config(
        vocab_size=152064,
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        max_position_embeddings=32768,
        rope_theta=1000000.0,
    )
    llm.qk_norm, llm.tie_word_embeddings, llm.layer_module = True, False, "Qwen2MoTDecoderLayer"
    vit = SiglipVisionConfig(
        hidden_size=1152,
        intermediate_size=4304,
        num_hidden_layers=26,
        num_attention_heads=16,
        image_size=980,
        patch_size=14,
    )
    vit.rope = False
    with init_empty_weights():
        _, vae = load_ae(local_path=None)  # FLUX's autoencoder parameters, as BAGEL hard-codes them
        config = bagel_config(llm, vit, vae)
        model = Bagel(Qwen2ForCausalLM(llm), SiglipVisionModel(vit), config)
        model.vit_model.vision_model.embeddings.convert_conv2d_to_linear(vit, meta=True)
    params = sum(p.numel() for p in model.parameters())
    kv_per_token = (
        llm.num_hidden_layers
        * 2
        * llm.num_key_value_heads
        * (llm.hidden_size // llm.num_attention_heads)
        * 2
    )
    # VAE latent patches + ViT patches, each with its two markers
    image_tokens = (1024 // 16) ** 2 + 2 + (980 // 14) ** 2 + 2
    out = {
        "parameters": params,
        "fp32_meta_gib": round(params * 4 / GiB, 2),
        **{
            f"{mode}_weights_gib": round(placement.weight_bytes(model, mode) / GiB, 2)
            for mode in ("bf16", "int8", "nf4")
        },
        "kv_bytes_per_token": kv_per_token,
        "tokens_per_1024px_image": image_tokens,
        "kv_mib_per_1024px_image": round(kv_per_token * image_tokens / 2**20, 1),
        "activation_reserve_gib": placement.ACTIVATION_RESERVE / GiB,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/third_party/Bagel")
