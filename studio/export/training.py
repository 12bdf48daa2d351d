"""What BAGEL's own trainer reads beside an export, so an export folder trains as it is, wherever it lies.

BAGEL's `train/pretrain_unified_navit.py` finds its data through three things: `DATASET_INFO` (a Python
literal in its `data/dataset_info.py`: per dataset family, per dataset, where the files are), a
data-config YAML (which datasets to mix, with what image sizes and weights) and, for parquet,
`parquet_info.json` (row groups per file, looked up by `os.path.join(data_dir, file name)`). The
`unified_edit` and `vlm-sft` exports write all three here, every path relative to the export folder:

    dataset_info.json   {"unified_edit": {"stroke_studio_edit_train": {"data_dir": "train", …}},
                         "vlm_sft": {"stroke_studio_alignment_train": {"data_dir": ".", "jsonl_path": …}}}
    parquet_info.json   {"train/part-00000.parquet": {"num_row_groups": N, "num_rows": M}}
    data.yaml           BAGEL's data config mixing the train datasets written (at least one with text
                        loss: BAGEL's trainer asserts a batch has some)
    TRAIN.md            the command that trains on the folder

Relative paths resolve against the folder, so a copied or moved export still trains: run BAGEL's
trainer from inside the folder, or `studio train bagel FOLDER …`, which makes them absolute for the
run (`absolute_dataset_info`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TRAIN_SPLIT = "train"
# Image sizes as BAGEL's data/configs/example.yaml has them for its 7B model.
TRANSFORMS: dict[str, dict[str, Any]] = {
    "unified_edit": {
        "image_transform_args": {"image_stride": 16, "max_image_size": 1024, "min_image_size": 512},
        "vit_image_transform_args": {
            "image_stride": 14,
            "max_image_size": 518,
            "min_image_size": 224,
        },
    },
    "vlm_sft": {
        "image_transform_args": {
            "image_stride": 14,
            "max_image_size": 980,
            "min_image_size": 378,
            "max_pixels": 2_007_040,
        },
        "frame_sampler_args": {"max_num_frames": 12, "min_num_frames": 8},
        "shuffle_lines": True,
        "shuffle_seed": 0,
    },
}
TEXT_LOSS_FAMILIES = ("vlm_sft",)  # families whose rows carry text targets
INFO_FILE, CONFIG_FILE, COMMAND_FILE = "dataset_info.json", "data.yaml", "TRAIN.md"


def vlm_sft_info(files: list[str], rows: dict[str, int]) -> dict[str, dict[str, Any]]:
    """`DATASET_INFO["vlm_sft"]` entries for the vlm-sft JSONL files written (`rows`: lines per file):
    images are named relative to the export folder, so `data_dir` is the folder itself."""
    info = {}
    for name in files:
        if not name.endswith(".jsonl") or not rows.get(name):
            continue
        split, stem = Path(name).parent.name, Path(name).stem
        info[f"stroke_studio_{stem}_{split}"] = {
            "data_dir": ".",
            "jsonl_path": name,
            "num_total_samples": rows[name],
        }
    return info


def data_config(dataset_info: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """BAGEL's data config mixing every train-split dataset of `dataset_info`, weight 1 each; the text
    loss families are mandatory, so every batch has a text target."""
    config = {}
    for family, entries in dataset_info.items():
        names = sorted(n for n in entries if n.endswith(f"_{TRAIN_SPLIT}"))
        if not names or family not in TRANSFORMS:
            continue
        used = [
            int(entries[n].get("num_files", entries[n].get("num_total_samples", 1))) for n in names
        ]
        config[family] = {
            "dataset_names": names,
            **TRANSFORMS[family],
            "is_mandatory": family in TEXT_LOSS_FAMILIES,
            "num_used_data": used,
            "weight": 1,
        }
    return config


def has_text_loss(config: dict[str, Any]) -> bool:
    return any(family in config for family in TEXT_LOSS_FAMILIES)


COMMAND = """# Training BAGEL on this export

This folder holds what BAGEL's own trainer (`train/pretrain_unified_navit.py`) reads: `{info}` (merge it
into `DATASET_INFO` in BAGEL's `data/dataset_info.py`), `{config}` (pass it as `--dataset_config_file`)
and the data, every path relative to this folder.

With Stroke Studio (it merges the dataset info for the run, keeps BAGEL's files as they are, runs
`torchrun` over your GPUs and writes a snapshot `--engine bagel` loads):

    studio train bagel {folder} --base /path/to/BAGEL-7B-MoT --out /path/to/new-snapshot --steps 500

By hand, from inside this folder (BAGEL's clone on PYTHONPATH, `{info}` merged into DATASET_INFO):

    torchrun --nproc_per_node=8 /path/to/Bagel/train/pretrain_unified_navit.py \\
      --dataset_config_file {config} --model_path /path/to/BAGEL-7B-MoT --resume_from /path/to/BAGEL-7B-MoT \\
      --finetune_from_hf True --resume_model_only True --finetune_from_ema True \\
      --layer_module Qwen2MoTDecoderLayer --results_dir results --checkpoint_dir results/checkpoints
{warning}"""


def write_training_files(
    root: Path, dataset_info: dict[str, dict[str, Any]], folder: str | None = None
) -> list[str]:
    """dataset_info.json, data.yaml and TRAIN.md in `root` (names relative to it); `folder` is the
    name TRAIN.md's command gives the export (an export is staged under a temporary name)."""
    import yaml  # PyYAML: BAGEL reads its data config with yaml.safe_load

    config = data_config(dataset_info)
    warning = (
        ""
        if has_text_loss(config)
        else "\nThis export has no text-loss dataset (no verdict was written), and BAGEL's trainer "
        "stops on a batch without one: export sessions with inspect steps too.\n"
    )
    (root / INFO_FILE).write_text(
        json.dumps(dataset_info, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (root / CONFIG_FILE).write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (root / COMMAND_FILE).write_text(
        COMMAND.format(
            info=INFO_FILE, config=CONFIG_FILE, folder=folder or root.name, warning=warning
        ),
        encoding="utf-8",
    )
    return [INFO_FILE, CONFIG_FILE, COMMAND_FILE]


def absolute_dataset_info(folder: Path, run_dir: Path) -> dict[str, dict[str, Any]]:
    """The export's dataset info with every path made absolute for one run: `data_dir` and `jsonl_path`
    joined to the folder, and a `parquet_info.json` re-keyed by absolute file paths written into
    `run_dir` (BAGEL looks row groups up by `os.path.join(data_dir, name)`)."""
    folder = folder.resolve()
    info = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
    rekeyed: dict[str, Any] = {}
    for entries in info.values():
        for entry in entries.values():
            entry["data_dir"] = str(folder / entry["data_dir"])
            if "jsonl_path" in entry:
                entry["jsonl_path"] = str(folder / entry["jsonl_path"])
            if "parquet_info_path" in entry:
                parquet = json.loads((folder / entry["parquet_info_path"]).read_text("utf-8"))
                rekeyed.update({str(folder / key): value for key, value in parquet.items()})
                entry["parquet_info_path"] = str(run_dir / "parquet_info.json")
    if rekeyed:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "parquet_info.json").write_text(json.dumps(rekeyed, indent=2), "utf-8")
    return info
