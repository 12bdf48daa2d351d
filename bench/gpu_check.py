"""GPU check: each GPU engine at realistic size with random weights, one session each, on one GPU.

    .venv/bin/python bench/gpu_check.py [--only janus,pipeline,bagel] [--json results.json]

Nothing is downloaded. Models are built in code with the real classes at the sizes of the real
checkpoints, saved to a temporary folder and loaded through the engines' own loading code:

- janus:    a Janus-Pro-1B-sized JanusForConditionalGeneration (2048-wide, 24-layer LM, 102,400-token
            vocabulary, SigLIP-L/16 at 384 px, 16,384-code VQ decoder; 576 image tokens per image);
- pipeline: a SmolVLM-2B-sized Idefics3 planner/inspector, an SDXL-sized sketcher (UNet 2.6 B, both
            CLIP text encoders, SDXL's VAE; 1024², 30 steps) and SDXL inpainting from the same weights
            as the refiner (as assets/pipeline-24gb.toml);
- bagel:    BAGEL runs in its own environment and its worker loads a snapshot from disk: it is checked
            in the real-checkpoint mode (--real) only, and reported as skipped here.

Each engine runs plan → sketch → inspect → refine (a person's instruction, so the stage always runs)
through the real runner and store; the table shows each stage's latency, sampling steps and peak
GPU memory. It needs a CUDA GPU and finishes in a few minutes on one H100. Results belong in
docs/benchmarks.md. `--tiny --allow-cpu` runs the same code with toy sizes (used by the tests).

`--real` is the real-checkpoint mode (bench/gpu_real.py): the engines whose weights are on this
machine, asserted per stage, one JSON line per stage, exit status 1 on any failed assertion.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NO_GPU = 2

SIZES = {
    "realistic": dict(
        vocab=102400,
        janus=dict(
            hidden=2048,
            layers=24,
            heads=16,
            intermediate=5632,
            vision_hidden=1024,
            vision_layers=24,
            vision_heads=16,
            image=384,
            patch=16,
            vq_codes=16384,
            vq_base=128,
            vq_mult=[1, 1, 2, 2, 4],
            vq_latent=256,
            vq_blocks=2,
        ),
        vlm=dict(
            hidden=2048,
            layers=24,
            heads=32,
            intermediate=8192,
            vision_hidden=1152,
            vision_layers=27,
            vision_heads=16,
            vision_intermediate=4304,
            image=384,
            patch=14,
            scale=3,
        ),
        sdxl=dict(
            blocks=(320, 640, 1280),
            transformer_layers=(1, 2, 10),
            heads=(5, 10, 20),
            cross=2048,
            clip1=(768, 12, 12, 3072),
            clip2=(1280, 32, 20, 5120),
            vae=(128, 256, 512, 512),
            size=1024,
        ),
        steps=30,
        think_tokens=64,
        dtype="bfloat16",
        sd_dtype="float16",
    ),
    "tiny": dict(
        vocab=512,
        janus=dict(
            hidden=64,
            layers=2,
            heads=4,
            intermediate=128,
            vision_hidden=32,
            vision_layers=2,
            vision_heads=4,
            image=32,
            patch=8,
            vq_codes=64,
            vq_base=32,
            vq_mult=[1, 1],
            vq_latent=32,
            vq_blocks=1,
        ),
        vlm=dict(
            hidden=64,
            layers=2,
            heads=4,
            intermediate=128,
            vision_hidden=32,
            vision_layers=2,
            vision_heads=4,
            vision_intermediate=37,
            image=32,
            patch=8,
            scale=2,
        ),
        sdxl=dict(
            blocks=(32, 64),
            transformer_layers=(1, 1),
            heads=(2, 4),
            cross=64,
            clip1=(32, 2, 4, 37),
            clip2=(32, 2, 4, 37),
            vae=(32, 32),
            size=64,
        ),
        steps=4,
        think_tokens=8,
        dtype="float32",
        sd_dtype="float32",
    ),
}


# -- tokenizers big enough for real vocabularies, built in a blink ------------------------------


def word_tokenizer(vocab_size: int, special: list[str], **kwargs):
    """A word-level tokenizer over `vocab_size` made-up words: ids cover the whole vocabulary."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from tokenizers.decoders import WordPiece
    from transformers import PreTrainedTokenizerFast

    words = special + [f"w{i}" for i in range(vocab_size - len(special) - 1)]
    vocab = {word: i for i, word in enumerate(words)}
    vocab["[UNK]"] = len(vocab)
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.decoder = WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tk, unk_token="[UNK]", model_max_length=32768, **kwargs
    )


def build_janus(out: Path, size: dict, vocab: int, dtype) -> Path:
    import torch
    from transformers import GenerationConfig, JanusForConditionalGeneration

    config, processor, ids = janus_parts(size, vocab)
    with torch.device(_build_device()):
        model = JanusForConditionalGeneration(config).to(dtype)
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<s>"], eos_token_id=ids["</s>"], pad_token_id=ids["<pad>"]
    )
    processor.save_pretrained(out)
    model.save_pretrained(out)
    del model
    return out


def janus_parts(size: dict, vocab: int):
    """Janus-Pro's config at `size`, its processor, and the special tokens' ids."""
    from transformers import JanusConfig, JanusImageProcessorPil, JanusProcessor

    special = ["<pad>", "<s>", "</s>", "<image_placeholder>", "<begin_of_image>", "<end_of_image>"]
    tok = word_tokenizer(
        vocab,
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
    s = size
    tokens = (s["image"] // s["patch"]) ** 2
    config = JanusConfig(
        text_config=dict(
            model_type="llama",
            vocab_size=len(tok),
            hidden_size=s["hidden"],
            intermediate_size=s["intermediate"],
            num_hidden_layers=s["layers"],
            num_attention_heads=s["heads"],
            num_key_value_heads=s["heads"],
            max_position_embeddings=16384,
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
            projection_dim=s["hidden"],
            num_image_tokens=tokens,
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
        ),
        image_token_id=ids["<image_placeholder>"],
    )
    template = (
        "{% for m in messages %}<|{{ m['role'] | capitalize }}|>: {% for c in m['content'] %}"
        "{% if c['type']=='image' %}<image_placeholder>{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
        "\n\n{% endfor %}{% if add_generation_prompt %}<|Assistant|>:{% endif %}"
    )
    processor = JanusProcessor(
        image_processor=JanusImageProcessorPil(size={"height": s["image"], "width": s["image"]}),
        tokenizer=tok,
        chat_template=template,
        num_image_tokens=tokens,
    )
    return config, processor, ids


def build_vlm(out: Path, size: dict, vocab: int, dtype) -> Path:
    import torch
    from transformers import Idefics3ForConditionalGeneration

    config, processor = vlm_parts(size, vocab)
    with torch.device(_build_device()):
        model = Idefics3ForConditionalGeneration(config).to(dtype)
    processor.save_pretrained(out)
    model.save_pretrained(out)
    del model
    return out


def vlm_parts(size: dict, vocab: int):
    """An Idefics3 (SmolVLM) config at `size` and its processor."""
    import transformers
    from transformers import Idefics3Config, Idefics3Processor

    special = [
        "<|endoftext|>",
        "<|im_start|>",
        "<end_of_utterance>",
        "<fake_token_around_image>",
        "<image>",
        "<global-img>",
    ] + [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    tok = word_tokenizer(
        vocab,
        special,
        bos_token="<|im_start|>",
        eos_token="<end_of_utterance>",
        pad_token="<|endoftext|>",
    )
    ids = {t: tok.convert_tokens_to_ids(t) for t in special[:6]}
    s = size
    config = Idefics3Config(
        text_config=dict(
            model_type="llama",
            vocab_size=len(tok),
            hidden_size=s["hidden"],
            intermediate_size=s["intermediate"],
            num_hidden_layers=s["layers"],
            num_attention_heads=s["heads"],
            num_key_value_heads=s["heads"],
            max_position_embeddings=16384,
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
            size={"longest_edge": 4 * s["image"]}, max_image_size={"longest_edge": s["image"]}
        ),
        tokenizer=tok,
        image_seq_len=(s["image"] // s["patch"]) ** 2 // s["scale"] ** 2,
        chat_template=template,
    )
    return config, processor


def build_sdxl(out: Path, size: dict, dtype) -> Path:
    import torch

    with torch.device(_build_device()):
        pipe = sdxl_pipeline(size)
    pipe.to(dtype)
    pipe.save_pretrained(out)
    del pipe
    return out


def sdxl_pipeline(size: dict):
    """An SDXL pipeline at `size`, built where the caller's device (and default dtype) context says."""
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from tests.kits.gpu_fakes import clip_tokenizer

    s = size
    n = len(s["blocks"])
    down = ("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1)
    up = ("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",)

    def clip(dims, projection: bool, tokens: int):
        hidden, layers, heads, inner = dims
        config = CLIPTextConfig(
            vocab_size=49408 if hidden >= 512 else tokens,
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=inner,
            projection_dim=hidden,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
        return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config)

    tok = clip_tokenizer()
    te1, te2 = clip(s["clip1"], False, len(tok)), clip(s["clip2"], True, len(tok))
    unet = UNet2DConditionModel(
        sample_size=s["size"] // 8,
        in_channels=4,
        out_channels=4,
        down_block_types=down,
        up_block_types=up,
        block_out_channels=s["blocks"],
        layers_per_block=2,
        cross_attention_dim=s["cross"],
        transformer_layers_per_block=s["transformer_layers"],
        attention_head_dim=s["heads"],
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=256 if n == 3 else 8,
        projection_class_embeddings_input_dim=(256 if n == 3 else 8) * 6 + s["clip2"][0],
        norm_num_groups=32 if n == 3 else 8,
    )
    vae = AutoencoderKL(
        block_out_channels=s["vae"],
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * len(s["vae"]),
        up_block_types=("UpDecoderBlock2D",) * len(s["vae"]),
        layers_per_block=2,
        norm_num_groups=32 if n == 3 else 8,
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
        text_encoder=te1,
        text_encoder_2=te2,
        tokenizer=tok,
        tokenizer_2=tok,
        unet=unet,
        scheduler=scheduler,
    )


_DEVICE = ["cuda"]


def _build_device() -> str:
    return _DEVICE[0]


# -- running one session and measuring it -------------------------------------------------------


def run_session(
    name: str, runner, prompt: str, params: dict, rows: list[dict], load, clock=None
) -> None:
    """Load the engine's models (one row), then plan → sketch → inspect → a person's refine (a row each).

    With a `clock` (bench/gpu_full.Clock) each row also has the seconds inside the autoencoder and the
    studio's share: the stage's seconds less those inside the model calls, over the stage's seconds."""
    import torch

    from studio.core.domain import RunSettings
    from studio.engines.torch_support import peak_gpu_memory, reset_peak_gpu_memory
    from studio.runner import PausePolicy

    started: dict[str, float] = {}

    def measure(stage: str, seconds: float, steps: int) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        allocated, reserved = peak_gpu_memory()
        row = dict(
            engine=name,
            stage=stage,
            seconds=round(seconds, 2),
            sampling_steps=steps,
            peak_allocated_gib=round(allocated, 2),
            peak_reserved_gib=round(reserved, 2),
        )
        if clock is not None:
            row["autoencoder_s"] = round(clock.autoencoder, 2)
            row["studio_share"] = round(max(0.0, seconds - clock.model) / max(seconds, 1e-9), 3)
        rows.append(row)
        print(f"  {name} {stage}: {seconds:.2f} s, {steps} sampling steps", flush=True)

    def listener(event):
        if event.kind == "started":
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            reset_peak_gpu_memory()
            if clock is not None:
                clock.reset()
            started["t"] = time.perf_counter()
        elif event.kind == "committed":
            measure(
                event.step.stage.value,
                time.perf_counter() - started["t"],
                event.step.sampling_steps,
            )

    reset_peak_gpu_memory()
    t0 = time.perf_counter()
    load()
    measure("load from disk", time.perf_counter() - t0, 0)
    t = runner.new_session(
        prompt, engine=name, seed=1, settings=RunSettings(max_rounds=2, engine_params=params)
    )
    runner.run(t, pause=PausePolicy.AT_INSPECT, listener=listener)  # plan, sketch, inspect
    runner.refine_with(
        t, t.head().id, "make the cup blue and move it to the right", listener=listener
    )
    done = [r["stage"] for r in rows if r["engine"] == name]
    assert done == ["load from disk", "plan", "sketch", "inspect", "refine"], done


def table(rows: list[dict]) -> str:
    lines = [
        "| engine | stage | latency (s) | sampling steps | peak GPU memory, allocated / reserved (GiB) "
        "| autoencoder (s) | studio share |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['engine']} | skipped: {r['skipped']} | | | | | |")
        else:
            lines.append(
                f"| {r['engine']} | {r['stage']} | {r['seconds']} | {r['sampling_steps']} | "
                f"{r['peak_allocated_gib']} / {r['peak_reserved_gib']} | {r.get('autoencoder_s', '')} "
                f"| {r.get('studio_share', '')} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", default="janus,pipeline,bagel", help="comma-separated engines to check"
    )
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument(
        "--tiny", action="store_true", help="toy sizes (a smoke test of this script)"
    )
    parser.add_argument(
        "--allow-cpu", action="store_true", help="run without CUDA (only sensible with --tiny)"
    )
    parser.add_argument(
        "--real", action="store_true", help="the real-checkpoint mode (bench/gpu_real.py)"
    )
    parser.add_argument("--janus", help="--real: a local Janus-Pro-1B folder")
    parser.add_argument(
        "--pipeline-toml",
        help="--real: the pipeline engine's TOML (its sketcher runs at 512², 4 steps)",
    )
    parser.add_argument("--bagel-size", type=int, default=512, help="--real: BAGEL's image_size")
    parser.add_argument(
        "--pipeline-size", type=int, default=512, help="--real: the sketcher's side"
    )
    parser.add_argument(
        "--bagel-path", action="append", help="--real: extra PYTHONPATH entries for BAGEL's worker"
    )
    parser.add_argument(
        "--full-size",
        action="store_true",
        help="each engine's model at its real configuration, built on the GPU (bench/gpu_full.py)",
    )
    parser.add_argument(
        "--plan",
        action="store_true",
        help="print the --full-size models' sizes (meta device, no GPU)",
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "bench"))
    if args.plan:
        import gpu_full

        return gpu_full.main(True)

    import torch

    if not torch.cuda.is_available() and not args.allow_cpu:
        print(
            f"gpu_check needs a CUDA GPU, and this torch ({torch.__version__}) sees none. Run it on a machine "
            'with an NVIDIA GPU and the CUDA build of torch (see the README\'s "GPU engines" section).',
            file=sys.stderr,
        )
        return NO_GPU
    if args.real:
        import gpu_real

        return gpu_real.main(args)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    _DEVICE[0] = device
    size = SIZES["tiny" if args.tiny else "realistic"]
    dtype = getattr(torch, size["dtype"]) if device == "cuda" else torch.float32
    sd_dtype = getattr(torch, size["sd_dtype"]) if device == "cuda" else torch.float32
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    print(
        f"gpu_check on {torch.cuda.get_device_name(0) if device == 'cuda' else 'CPU'}, "
        f"torch {torch.__version__}, "
        f"{'full' if args.full_size else 'tiny' if args.tiny else 'realistic'} sizes",
        flush=True,
    )

    from studio import engines
    from studio.engines.janus import JanusEngine
    from studio.engines.pipeline import PipelineEngine
    from studio.runner import Runner
    from studio.store import Store

    rows: list[dict] = []
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        root = Path(tmp)
        runner = Runner(Store(data_dir=root / "data"))
        if args.full_size:
            import gpu_full

            gpu_full.full_size(runner, rows, wanted)
            wanted = set()
        prompt = "a red apple to the left of a blue cup"
        common = {"max_think_tokens": size["think_tokens"], "temperature": 0.0}
        if "janus" in wanted:
            t0 = time.perf_counter()
            folder = build_janus(root / "janus", size["janus"], size["vocab"], dtype)
            print(f"janus: built and saved in {time.perf_counter() - t0:.1f} s", flush=True)
            engine = JanusEngine(
                str(folder), device=device, dtype=size["dtype"] if device == "cuda" else "float32"
            )
            engines.register("janus-check", lambda: engine)
            run_session(
                "janus-check",
                runner,
                prompt,
                {**common, "cfg_text_scale": 5.0},
                rows,
                engine.loaded,
            )
            engines.unregister("janus-check")
        if "pipeline" in wanted:
            t0 = time.perf_counter()
            vlm = build_vlm(root / "vlm", size["vlm"], size["vocab"], dtype)
            sdxl = build_sdxl(root / "sdxl", size["sdxl"], sd_dtype)
            torch.cuda.empty_cache() if device == "cuda" else None
            print(f"pipeline: built and saved in {time.perf_counter() - t0:.1f} s", flush=True)
            side = size["sdxl"]["size"]
            config = {
                "planner": {
                    "model": str(vlm),
                    "dtype": size["dtype"] if device == "cuda" else "float32",
                    "device": device,
                    "max_new_tokens": size["think_tokens"],
                },
                "sketcher": {
                    "model": str(sdxl),
                    "dtype": size["sd_dtype"] if device == "cuda" else "float32",
                    "device": device,
                    "steps": size["steps"],
                    "width": side,
                    "height": side,
                },
                "refiner": {
                    "model": "sketcher",
                    "pipeline": "inpaint",
                    "device": device,
                    "steps": size["steps"],
                    "strength": 0.75,
                },
            }
            engine = PipelineEngine(config)
            engines.register("pipeline-check", lambda: engine)
            run_session(
                "pipeline-check",
                runner,
                prompt,
                common,
                rows,
                lambda: (engine.planner(), engine.sketcher(), engine.refiner()),
            )
            engines.unregister("pipeline-check")
        if "bagel" in wanted:
            rows.append(
                dict(
                    engine="bagel",
                    skipped="checked with --real only: set STROKE_STUDIO_BAGEL_PYTHON, "
                    "STROKE_STUDIO_BAGEL_REPO and STROKE_STUDIO_BAGEL_MODEL (its weights cannot be made up)",
                )
            )
        runner.store.close()
    print()
    print(table(rows))
    print(f"\ntotal {time.perf_counter() - began:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
