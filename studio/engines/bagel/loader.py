"""Loading BAGEL from the user's clone and snapshot, as BAGEL's own app.py does, inside the worker.

`check_paths` runs on the studio side too (it needs nothing but the standard library); `load` runs in
the worker, in BAGEL's environment, and imports BAGEL's code from the clone (nothing of it is copied
into this project).

Devices: the model is placed by accelerate (see placement.py: a map that gets accelerate's hooks on
one GPU too). The autoencoder goes to the model's GPU in the mode's dtype when it fits there, else it
stays on the CPU in float32 as in upstream app.py (placement.autoencoder_place; autoencoder.py moves
BAGEL's CPU inputs to it). Without CUDA the whole model runs on the CPU in bfloat16 under CPU
autocast (BAGEL's own autocast targets "cuda" and is a no-op there): slow for 7B, but it is how the
tests run BAGEL's real code on a tiny model. Without flash_attn, BAGEL's attention runs on PyTorch's
SDPA (attention.py).

One extension to BAGEL's snapshot layout: an optional `ae_config.json` (the AutoEncoderParams
fields) for an autoencoder other than FLUX's, whose parameters BAGEL's `load_ae` hard-codes. Released
snapshots do not have it and load exactly as upstream.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from ...core.domain import StudioError
from ..torch_support import missing_files  # standard library only at import: safe in BAGEL's env

MODEL_SETTING = "STROKE_STUDIO_BAGEL_MODEL"
REPO_SETTING = "STROKE_STUDIO_BAGEL_REPO"
MODE_SETTING = "STROKE_STUDIO_BAGEL_MODE"
MODEL_FILES: tuple[str | tuple[str, ...], ...] = (
    "llm_config.json",
    "vit_config.json",
    "ae.safetensors",
    "ema.safetensors",
    ("tokenizer.json", "vocab.json"),
)
REPO_FILES = (
    "inferencer.py",
    "modeling/bagel/__init__.py",
    "modeling/autoencoder.py",
    "modeling/qwen2/__init__.py",
    "data/transforms.py",
    "data/data_utils.py",
)


def _require_folder(value: str | None, what: str, setting_name: str, required, fix: str) -> Path:
    if not value:
        raise StudioError(f"The bagel engine needs {what}: set {setting_name}. {fix}")
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise StudioError(f"{what.capitalize()} {folder} ({setting_name}) does not exist. {fix}")
    missing = missing_files(folder, required)
    if missing:
        raise StudioError(
            f"{what.capitalize()} at {folder} is incomplete; missing: {', '.join(missing)}. {fix}"
        )
    return folder


def check_paths(model: str | None, repo: str | None) -> tuple[Path, Path]:
    repo_dir = _require_folder(
        repo,
        "a clone of the BAGEL repository",
        REPO_SETTING,
        REPO_FILES,
        "Get it with `git clone https://github.com/ByteDance-Seed/Bagel`, then build its "
        "environment with `bash scripts/bagel_env.sh <clone> <env>`.",
    )
    model_dir = _require_folder(
        model,
        "the BAGEL model folder",
        MODEL_SETTING,
        MODEL_FILES,
        "Download it with `hf download ByteDance-Seed/BAGEL-7B-MoT --local-dir "
        "models/BAGEL-7B-MoT` (or a fine-tune with the same files).",
    )
    return model_dir, repo_dir


def _autoencoder(model_dir: Path):
    from modeling.autoencoder import AutoEncoder, AutoEncoderParams, load_ae

    custom = model_dir / "ae_config.json"
    if not custom.is_file():
        return load_ae(local_path=str(model_dir / "ae.safetensors"))
    from safetensors.torch import load_file

    params = AutoEncoderParams(**json.loads(custom.read_text()))
    vae = AutoEncoder(params)
    vae.load_state_dict(load_file(str(model_dir / "ae.safetensors")), strict=True)
    return vae, params


def bagel_config(llm_config, vit_config, vae_config):
    """BAGEL-7B-MoT's model config around its three parts, with the fixed values BAGEL's app.py uses
    (also read by bench/bagel_memory.py, so the memory estimate is of the model the engine loads)."""
    from modeling.bagel import BagelConfig

    return BagelConfig(
        visual_gen=True,
        visual_und=True,
        llm_config=llm_config,
        vit_config=vit_config,
        vae_config=vae_config,
        vit_max_num_patch_per_side=70,
        connector_act="gelu_pytorch_tanh",
        latent_patch_size=2,
        max_latent_size=64,
    )


def _available_cpu_bytes() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # pragma: no cover - psutil comes with accelerate
        return 16 * 2**30


def load(model_dir: Path, repo_dir: Path, mode: str, max_memory: str | None, cache_bytes: int):
    """(BAGEL's InterleaveInferencer, facts about it for the studio: device, limits, placement)."""
    import torch

    from . import attention

    if str(repo_dir) not in sys.path:
        sys.path.insert(0, str(repo_dir))
    attention_used = attention.install()
    try:  # BAGEL's modules as its app imports them; flash_attn and transformers 4.49 fail here first
        import accelerate  # noqa: F401
        import data.data_utils  # noqa: F401
        import data.transforms  # noqa: F401
        import inferencer  # noqa: F401
        import modeling.bagel  # noqa: F401
        import modeling.qwen2  # noqa: F401
    except ImportError as exc:
        raise StudioError(
            f"BAGEL's code in {repo_dir} failed to import in {sys.executable} ({exc}). Build BAGEL's "
            f"environment with `bash scripts/bagel_env.sh {repo_dir} <env>` and point "
            "STROKE_STUDIO_BAGEL_PYTHON at <env>/bin/python."
        ) from exc

    try:
        inferencer, info = _load(torch, model_dir, mode, max_memory, cache_bytes)
        info["attention"] = attention_used
        return inferencer, info
    except StudioError:
        raise
    except (KeyError, AttributeError, TypeError, ImportError) as exc:
        # what BAGEL's code raises when it runs against another stack than the one it pins
        import transformers

        raise StudioError(
            f"BAGEL's code failed to build its model in {sys.executable} (transformers "
            f"{transformers.__version__}; BAGEL pins 4.49): {type(exc).__name__}: {exc}. Build BAGEL's "
            "environment with `bash scripts/bagel_env.sh <clone> <env>`."
        ) from exc


def _load(torch, model_dir: Path, mode: str, max_memory: str | None, cache_bytes: int):
    from accelerate import init_empty_weights, load_checkpoint_and_dispatch
    from data.data_utils import add_special_tokens
    from data.transforms import ImageTransform
    from inferencer import InterleaveInferencer
    from modeling.bagel import (
        Bagel,
        Qwen2Config,
        Qwen2ForCausalLM,
        SiglipVisionConfig,
        SiglipVisionModel,
    )
    from modeling.qwen2 import Qwen2Tokenizer

    cuda = torch.cuda.is_available()
    if mode != "bf16" and not cuda:
        raise StudioError(
            f"{MODE_SETTING}={mode} needs a CUDA GPU (bitsandbytes); this worker sees none. Use bf16."
        )
    llm_config = Qwen2Config.from_json_file(str(model_dir / "llm_config.json"))
    llm_config.qk_norm = True
    llm_config.tie_word_embeddings = False
    llm_config.layer_module = "Qwen2MoTDecoderLayer"
    vit_config = SiglipVisionConfig.from_json_file(str(model_dir / "vit_config.json"))
    vit_config.rope = False
    vit_config.num_hidden_layers -= 1  # as app.py: the last ViT layer is not used
    vae_model, vae_config = _autoencoder(model_dir)
    config = bagel_config(llm_config, vit_config, vae_config)
    with init_empty_weights():
        language_model = Qwen2ForCausalLM(llm_config)
        vit_model = SiglipVisionModel(vit_config)
        model = Bagel(language_model, vit_model, config)
        model.vit_model.vision_model.embeddings.convert_conv2d_to_linear(vit_config, meta=True)
    tokenizer = Qwen2Tokenizer.from_pretrained(str(model_dir))
    tokenizer, new_token_ids, _ = add_special_tokens(tokenizer)

    checkpoint = str(model_dir / "ema.safetensors")
    report: dict[str, Any] = {}
    if not cuda:
        model = load_checkpoint_and_dispatch(
            model, checkpoint=checkpoint, device_map={"": "cpu"}, dtype=torch.bfloat16
        )
    else:
        from . import placement

        totals = [
            torch.cuda.get_device_properties(i).total_memory
            for i in range(torch.cuda.device_count())
        ]
        device_map, report = placement.device_map(
            model, mode, totals, max_memory, cache_bytes, _available_cpu_bytes()
        )
        note = placement.spill_note(report)
        if note:
            print(note, file=sys.stderr)
        offload = tempfile.mkdtemp(prefix="bagel-offload-")
        if mode == "bf16":
            model = load_checkpoint_and_dispatch(
                model,
                checkpoint=checkpoint,
                device_map=device_map,
                offload_buffers=True,
                offload_folder=offload,
                dtype=torch.bfloat16,
                force_hooks=True,
            )
        else:
            try:
                import bitsandbytes  # noqa: F401
                from accelerate.utils import BnbQuantizationConfig, load_and_quantize_model
            except ImportError:
                raise StudioError(
                    f"The {mode} mode needs bitsandbytes in BAGEL's environment "
                    f"(`pip install bitsandbytes`), or set {MODE_SETTING}=bf16."
                ) from None
            quant = (
                BnbQuantizationConfig(
                    load_in_4bit=True,
                    bnb_4bit_compute_dtype=torch.bfloat16,
                    bnb_4bit_use_double_quant=False,
                    bnb_4bit_quant_type="nf4",
                    skip_modules=list(placement.UNQUANTIZED),
                )
                if mode == "nf4"
                else BnbQuantizationConfig(
                    load_in_8bit=True,
                    torch_dtype=torch.float32,
                    skip_modules=list(placement.UNQUANTIZED),
                )
            )
            model = load_and_quantize_model(
                model,
                weights_location=checkpoint,
                bnb_quantization_config=quant,
                device_map=device_map,
                offload_folder=offload,
            )
    model = model.eval()
    from . import autoencoder, placement

    vae_device, vae_dtype = "cpu", "float32"
    if cuda:
        free = {i: torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())}
        kept = cache_bytes // max(1, len(free)) + placement.ACTIVATION_RESERVE
        params = sum(p.numel() for p in vae_model.parameters())
        vae_device, vae_dtype = placement.autoencoder_place(mode, device_map, free, params, kept)
    vae_model = autoencoder.place(vae_model, vae_device, vae_dtype)
    projection = autoencoder.fit_projection(vae_model, images=1 if vae_device == "cpu" else 4)
    inferencer = InterleaveInferencer(
        model=model,
        vae_model=vae_model,
        tokenizer=tokenizer,
        vae_transform=ImageTransform(1024, 512, 16),
        vit_transform=ImageTransform(980, 224, 14),
        new_token_ids=new_token_ids,
    )
    stride = int(model.latent_downsample)
    vae_weight = next(vae_model.parameters())
    info = {
        "device": "cuda" if cuda else "cpu",
        "mode": mode,
        "stride": stride,
        "max_side": int(model.max_latent_size) * stride,
        "placement": report,
        "torch": torch.__version__,
        "gpus": torch.cuda.device_count() if cuda else 0,
        "vae": f"{vae_weight.device} {str(vae_weight.dtype).removeprefix('torch.')}",
    }
    inferencer.studio_projection = projection  # the worker's linear previews (autoencoder.py)
    return inferencer, info
