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

from tests.kits.gpu_fakes import IDEFICS3_TINY, JANUS_TINY, SDXL_TINY  # noqa: E402

NO_GPU = 2

SIZES = {
    "realistic": dict(
        vocab=102400,
        janus=dict(
            hidden=2048,
            layers=24,
            heads=16,
            kv_heads=16,
            intermediate=5632,
            positions=16384,
            vision_hidden=1024,
            vision_layers=24,
            vision_heads=16,
            vision_mlp_ratio=4.0,
            image=384,
            patch=16,
            min_size=14,
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
            kv_heads=32,
            intermediate=8192,
            positions=16384,
            vision_hidden=1152,
            vision_layers=27,
            vision_heads=16,
            vision_intermediate=4304,
            image=384,
            patch=14,
            scale=3,
            longest_edge=4 * 384,
            split=True,
        ),
        sdxl=dict(
            blocks=(320, 640, 1280),
            transformer_layers=(1, 2, 10),
            heads=(5, 10, 20),
            cross=2048,
            layers=2,
            clip1=(768, 12, 12, 3072),
            clip2=(1280, 32, 20, 5120),
            clip_vocab=49408,
            vae=(128, 256, 512, 512),
            vae_layers=2,
            time_embed=256,
            groups=32,
            size=1024,
        ),
        steps=30,
        think_tokens=64,
        dtype="bfloat16",
        sd_dtype="float16",
    ),
    "tiny": dict(
        vocab=512,
        # the test suite's tiny models, built the way the realistic ones are (multi-head attention,
        # 16k positions, image splitting, two layers per UNet / VAE block; a VAE of two 32-wide blocks),
        # so --tiny walks their paths
        janus={
            **JANUS_TINY,
            "kv_heads": 4,
            "positions": 16384,
            "vision_mlp_ratio": 4.0,
            "min_size": 14,
        },
        vlm={
            **IDEFICS3_TINY,
            "kv_heads": 4,
            "positions": 16384,
            "longest_edge": 4 * 32,
            "split": True,
        },
        sdxl={**SDXL_TINY, "layers": 2, "vae": (32, 32), "vae_layers": 2},
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
    """Janus-Pro's config at `size`, its processor, and the special tokens' ids, over `vocab` words."""
    from tests.kits.gpu_fakes import JANUS_ROLES, JANUS_SPECIAL
    from tests.kits.gpu_fakes import janus_parts as parts

    return parts(size, word_tokenizer(vocab, JANUS_SPECIAL, **JANUS_ROLES))


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
    """An Idefics3 (SmolVLM) config at `size` and its processor, over `vocab` words."""
    from tests.kits.gpu_fakes import IDEFICS3_ROLES, IDEFICS3_SPECIAL, idefics3_parts

    return idefics3_parts(size, word_tokenizer(vocab, IDEFICS3_SPECIAL, **IDEFICS3_ROLES))


def build_sdxl(out: Path, size: dict, dtype) -> Path:
    import torch

    from tests.kits.gpu_fakes import sdxl_pipeline

    with torch.device(_build_device()):
        pipe = sdxl_pipeline(size)
    pipe.to(dtype)
    pipe.save_pretrained(out)
    del pipe
    return out


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
