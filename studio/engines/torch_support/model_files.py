"""Model folders and Hugging Face ids, checked before loading: a folder that is missing or
incomplete (listing what is missing), an id that is not in the local cache while offline.

Like the whole package, it imports only the standard library at module level (BAGEL's worker
imports it in BAGEL's own environment); torch and the libraries are imported inside the functions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

from ...core.domain import StudioError
from .settings import hub_offline

_WEIGHT_GLOBS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.gguf")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def missing_weights(folder: Path) -> list[str]:
    """Shards an index names but the folder lacks, or a note when there are no weights at all."""
    missing: list[str] = []
    indexes = sorted(folder.glob("*.index.json")) + sorted(folder.glob("*.index.*.json"))
    for index in indexes:
        try:
            weight_map = json.loads(index.read_text()).get("weight_map", {})
        except (OSError, ValueError):
            missing.append(f"{index.name} (unreadable)")
            continue
        missing += [
            shard for shard in sorted(set(weight_map.values())) if not (folder / shard).is_file()
        ]
    if not indexes and not any(
        p.is_file() for pattern in _WEIGHT_GLOBS for p in folder.glob(pattern)
    ):
        missing.append("the weights (*.safetensors or *.bin)")
    return missing


def missing_transformers_files(folder: Path) -> list[str]:
    return ([] if (folder / "config.json").is_file() else ["config.json"]) + missing_weights(folder)


def missing_diffusers_files(folder: Path) -> list[str]:
    """model_index.json, then every component it names: its folder, and weights for the models among them."""
    index = folder / "model_index.json"
    if not index.is_file():
        return ["model_index.json"]
    try:
        components = json.loads(index.read_text())
    except (OSError, ValueError):
        return ["model_index.json (unreadable)"]
    missing: list[str] = []
    for name, spec in components.items():
        if name.startswith("_") or not isinstance(spec, list) or len(spec) != 2 or None in spec:
            continue
        sub = folder / name
        if not sub.is_dir() or not any(sub.iterdir()):
            missing.append(f"{name}/")
        elif (sub / "config.json").is_file() and not spec[1].lower().endswith(
            ("tokenizer", "tokenizerfast")
        ):
            missing += [f"{name}/{m}" for m in missing_weights(sub)]
    return missing


def missing_files(folder: Path, required: tuple[str | tuple[str, ...], ...]) -> list[str]:
    """Each entry of `required` is a file name, or a tuple of alternatives (any one will do)."""
    missing = []
    for need in required:
        options = (need,) if isinstance(need, str) else need
        if not any((folder / name).exists() for name in options):
            missing.append(" or ".join(options))
    return missing


_LAYOUTS: dict[str, Callable[[Path], list[str]]] = {
    "transformers": missing_transformers_files,
    "diffusers": missing_diffusers_files,
}


def _looks_local(ref: str) -> bool:
    return (
        ref.startswith(("/", ".", "~"))
        or "\\" in ref
        or re.match(r"^[A-Za-z]:", ref) is not None
        or not _HUB_ID.match(ref)
    )


def _cached_snapshot(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not cached (or only partly: the file check below reports what is missing)
        return None


def resolve_model(
    ref: str | None, *, what: str, setting_name: str, layout: str = "transformers"
) -> tuple[str, bool]:
    """(where to load from, whether it is local) for a folder or a Hugging Face id, checked before loading.

    A folder must exist and be complete for its `layout`; a hub id is looked up in the local cache
    (checked the same way); offline, an id that is not cached is an error naming the download command.
    Online, an uncached id is returned as is and downloaded by the library on first use.
    """
    if not ref:
        raise StudioError(
            f"No {what} is configured: set {setting_name} to a model folder or a Hugging Face id."
        )
    ref = str(ref)
    path = Path(ref).expanduser()
    if path.exists() or _looks_local(ref):
        if not path.is_dir():
            raise StudioError(
                f"The {what} folder {path} does not exist: download the model there or set "
                f"{setting_name} to the folder that holds it."
            )
        folder, repo = path, None
    else:
        folder, repo = _cached_snapshot(ref), ref
        if folder is None:
            if hub_offline():
                raise StudioError(
                    f"The {what} {ref!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set: "
                    f"download it first with `hf download {ref}` on a connected machine (or unset "
                    f"HF_HUB_OFFLINE), or set {setting_name} to a local folder."
                )
            return ref, False
    missing = _LAYOUTS[layout](folder)
    if missing:
        fix = f"`hf download {repo}`" if repo else f"`hf download <repo> --local-dir {folder}`"
        raise StudioError(
            f"The {what} at {folder} is incomplete; missing: {', '.join(missing)}. "
            f"Download it again with {fix}."
        )
    return str(folder), True
