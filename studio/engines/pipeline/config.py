"""The pipeline engine's TOML file: its sections, their keys and defaults, read and checked once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...core.domain import StudioError
from ..torch_support import (
    read_toml,
)

CONFIG_SETTING = "STROKE_STUDIO_PIPELINE_CONFIG"
DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "assets" / "pipeline-24gb.toml"

_CHAT_KEYS = {"model", "kind", "device", "dtype", "quantization", "max_new_tokens", "temperature"}
_DIFFUSERS_KEYS = {
    "model",
    "pipeline",
    "device",
    "dtype",
    "variant",
    "cpu_offload",
    "steps",
    "guidance",
    "width",
    "height",
    "preview_every",
    "preview_decode",
}
SECTIONS: dict[str, dict[str, Any]] = {
    "planner": {
        "model": None,
        "kind": "auto",
        "device": "auto",
        "dtype": "auto",
        "quantization": "none",
        "max_new_tokens": 256,
        "temperature": 0.0,
    },
    "inspector": {
        "model": "planner",
        "kind": "auto",
        "device": "auto",
        "dtype": "auto",
        "quantization": "none",
        "max_new_tokens": 256,
        "temperature": 0.0,
    },
    "sketcher": {
        "model": None,
        "pipeline": "auto",
        "device": "auto",
        "dtype": "auto",
        "variant": None,
        "cpu_offload": "none",
        "steps": 30,
        "guidance": 5.0,
        "width": 1024,
        "height": 1024,
        "preview_every": 5,
        "preview_decode": True,
        "continue_with": "text2image",
    },
    "refiner": {
        "model": "sketcher",
        "pipeline": "auto",
        "device": "auto",
        "dtype": "auto",
        "variant": None,
        "cpu_offload": "none",
        "steps": 30,
        "guidance": 5.0,
        "strength": 0.6,
        "image_guidance": 1.5,
        "reuse": [],
        "preview_every": 5,
        "preview_decode": True,
    },
    "detector": {
        "kind": "none",
        "model": "google/owlv2-base-patch16-ensemble",
        "device": "auto",
        "dtype": "auto",
        "threshold": 0.3,
        "veto": False,
    },
}


def load_config(source: str | Path | dict[str, Any]) -> tuple[dict[str, dict[str, Any]], str]:
    """The config with defaults filled in, and where it came from (for error messages)."""
    if isinstance(source, dict):
        data, where, base = source, "the pipeline config", Path.cwd()
    else:
        path = Path(source).expanduser()
        data, where, base = read_toml(path), str(path), path.parent
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise StudioError(
            f"{where}: unknown section(s) {', '.join(unknown)}; the sections are "
            f"{', '.join(SECTIONS)}."
        )
    config: dict[str, dict[str, Any]] = {}
    for section, defaults in SECTIONS.items():
        given = data.get(section, {})
        if not isinstance(given, dict):
            raise StudioError(f"{where}: [{section}] must be a table of settings.")
        bad = sorted(set(given) - set(defaults))
        if bad:
            raise StudioError(
                f"{where}: unknown setting(s) {', '.join(bad)} in [{section}]; known: "
                f"{', '.join(sorted(defaults))}."
            )
        merged = {**defaults, **given}
        model = merged.get("model")
        if isinstance(model, str) and model.startswith(("./", "../")):
            merged["model"] = str((base / model).resolve())
        config[section] = merged
    for section in ("planner", "sketcher"):
        if not config[section]["model"]:
            raise StudioError(
                f"{where}: [{section}] needs a model (a folder or a Hugging Face id)."
            )
    if config["detector"]["kind"] not in ("none", "coco", "owlv2"):
        raise StudioError(f"{where}: [detector] kind must be none, coco or owlv2.")
    return config, where
