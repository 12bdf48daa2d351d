"""Reads the studio's exports with BAGEL's own training-data classes; prints what they yielded as JSON.

Run with the python of BAGEL's environment (tests/export/test_export_bagel_readers.py does), the BAGEL
clone's root and tests/kits/bagel_standins on PYTHONPATH:
    python tests/kits/bagel_read_exports.py unified_edit EXPORT_DIR
    python tests/kits/bagel_read_exports.py vlm_sft EXPORT_DIR
    python tests/kits/bagel_read_exports.py irg_bagel EXPORT_DIR          (IRG's root on PYTHONPATH)
    python tests/kits/bagel_read_exports.py zebra_think_trace EXPORT_DIR  (Zebra-CoT's root)
`unified_edit` goes through BAGEL's training entry as pretrain_unified_navit.py builds it: the
export's dataset_info.json merged into DATASET_INFO, a DataConfig naming the group, PackedDataset
packing one batch; and through UnifiedEditIterableDataset directly, one pass over every row.
`vlm_sft` goes through SftJSONLIterableDataset over the export's JSONL files (train/inspect.jsonl). BAGEL's iterators
catch a row's exception, print it and skip the row, so the output carries what they printed and
which rows they yielded: the caller checks that every row came out once and nothing was skipped.
The tokenizer is a byte-level BPE trained here on a few words (no hub).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path


def tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        ["refine the image: remove the word, make it brighter; aligned misaligned plan"],
        trainers.BpeTrainer(
            vocab_size=320,
            special_tokens=["<|endoftext|>"],
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )


def _first(iterator, n):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        items = [next(iterator) for _ in range(n)]
    return items, [line for line in printed.getvalue().splitlines() if line.startswith("Error")]


def unified_edit(root: Path) -> dict:
    from data.data_utils import add_special_tokens
    from data.dataset_base import DataConfig, PackedDataset
    from data.dataset_info import DATASET_INFO
    from data.interleave_datasets import UnifiedEditIterableDataset
    from data.transforms import ImageTransform

    tok, special, _ = add_special_tokens(tokenizer())
    info = json.loads((root / "dataset_info.json").read_text())["unified_edit"]
    parquet_info = json.loads((root / "parquet_info.json").read_text())
    total = sum(v["num_rows"] for v in parquet_info.values())

    # 1. directly: one pass over every row group of the train split
    entry = info["stroke_studio_edit_train"]
    dataset = UnifiedEditIterableDataset(
        "unified_edit",
        ImageTransform(64, 32, 16),
        tok,
        ImageTransform(56, 28, 14),
        [entry["data_dir"]],
        [entry["num_files"]],
        parquet_info,
        num_workers=1,
    )
    samples, errors = _first(iter(dataset), entry["num_total_samples"])
    rows = [
        {
            "data_indexes": s["data_indexes"]["data_indexes"],
            "plan": [(p["type"], p["loss"]) for p in s["sequence_plan"]],
            "texts": [tok.decode(ids) for ids in s["text_ids_list"]],
            "image_shapes": [list(t.shape) for t in s["image_tensor_list"]],
        }
        for s in samples
    ]

    # 2. as training builds it: DATASET_INFO + DataConfig + PackedDataset, one packed batch
    DATASET_INFO.setdefault("unified_edit", {}).update(info)
    config = DataConfig(
        grouped_datasets={
            "unified_edit": {
                "dataset_names": sorted(info),
                "is_mandatory": True,
                "weight": 1,
                "num_used_data": [info[name]["num_files"] for name in sorted(info)],
                "image_transform_args": {
                    "image_stride": 16,
                    "max_image_size": 64,
                    "min_image_size": 32,
                },
                "vit_image_transform_args": {
                    "image_stride": 14,
                    "max_image_size": 56,
                    "min_image_size": 28,
                },
            }
        },
        vae_image_downsample=16,
        max_latent_size=8,
        vit_patch_size=14,
        max_num_patch_per_side=4,
    )
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        packed = PackedDataset(
            config,
            tok,
            special,
            local_rank=0,
            world_size=1,
            num_workers=1,
            expected_num_tokens=256,
            max_num_tokens_per_sample=512,
            max_num_tokens=1024,
            prefer_buffer_before=128,
            max_buffer_size=4,
        )
        batch = next(iter(packed))
    errors += [text for text in printed.getvalue().splitlines() if text.startswith("Error")]
    return {
        "rows": rows,
        "total_rows": total,
        "errors": errors,
        "packed": {
            "sequence_length": batch["sequence_length"],
            "samples": len(batch["sample_lens"]),
            "vae_images": list(batch["padded_images"].shape) if "padded_images" in batch else None,
            "mse_tokens": int(batch["mse_loss_indexes"].numel())
            if "mse_loss_indexes" in batch
            else 0,
        },
    }


def vlm_sft(root: Path) -> dict:
    """Every `*.jsonl` of the export's train split (the vlm-sft format writes train/inspect.jsonl)
    through SftJSONLIterableDataset: which rows came out, what is learned, the texts."""
    from data.transforms import ImageTransform
    from data.vlm_dataset import SftJSONLIterableDataset

    tok = tokenizer()
    out = {}
    for path in sorted((root / "train").glob("*.jsonl")):
        lines = path.read_text().splitlines()
        dataset = SftJSONLIterableDataset(
            "vlm_sft",
            ImageTransform(56, 28, 14),
            tok,
            None,
            [str(path)],
            [str(root)],
            [len(lines)],
            num_workers=1,
        )
        samples, _ = _first(
            iter(dataset), len(lines)
        )  # a row that fails prints to stderr and is skipped
        out[path.stem] = {
            "lines": len(lines),
            "rows": [
                {
                    "data_indexes": s["data_indexes"]["data_indexes"],
                    "plan": [(p["type"], p["loss"]) for p in s["sequence_plan"]],
                    "texts": [tok.decode(ids) for ids in s["text_ids_list"]],
                    "image_shapes": [list(t.shape) for t in s["image_tensor_list"]],
                }
                for s in samples
            ],
        }
    return out


def _plan_of(samples, tok) -> list[dict]:
    return [
        {
            "data_indexes": s["data_indexes"]["data_indexes"],
            "plan": [(p["type"], p["loss"]) for p in s["sequence_plan"]],
            "texts": [tok.decode(ids) for ids in s["text_ids_list"]],
            "image_shapes": [list(t.shape) for t in s["image_tensor_list"]],
        }
        for s in samples
    ]


def irg_bagel(root: Path) -> dict:
    """The `bagel` export through IRG's MultiThinkInterleaveT2IDataset (run with IRG's root on the
    path, from inside the export folder: data_dir and parquet_info keys are relative to it)."""
    from data.data_utils import add_special_tokens
    from data.interleave_datasets import MultiThinkInterleaveT2IDataset
    from data.transforms import ImageTransform

    tok, _, _ = add_special_tokens(tokenizer())
    info = json.loads((root / "dataset_info.json").read_text())["stroke_studio_train"]
    dataset = MultiThinkInterleaveT2IDataset(
        "stroke_studio",
        ImageTransform(64, 32, 16),
        tok,
        [info["data_dir"]],
        [info["num_files"]],
        vit_transform=ImageTransform(56, 28, 14),
        parquet_info=json.loads((root / info["parquet_info_path"]).read_text()),
        num_workers=1,
    )
    samples, errors = _first(iter(dataset), info["num_total_samples"])
    return {"rows": _plan_of(samples, tok), "errors": errors}


def zebra_think_trace(root: Path) -> dict:
    """The `think-trace` export through Zebra-CoT's ThinkTraceJSONLIterableDataset (Zebra-CoT's root
    on the path; images are named relative to the export folder, its `image_prefix_dir`)."""
    from data.data_utils import add_special_tokens
    from data.interleave_datasets import ThinkTraceJSONLIterableDataset
    from data.transforms import ImageTransform

    tok, _, _ = add_special_tokens(tokenizer())
    path = root / "train" / "think_trace.jsonl"
    lines = path.read_text().splitlines()
    dataset = ThinkTraceJSONLIterableDataset(
        "think_trace",
        ImageTransform(64, 32, 16),
        tok,
        ImageTransform(56, 28, 14),
        [str(path)],
        [str(root)],
        [len(lines)],
        num_workers=1,
        shuffle_lines=False,
        image_prefix_dir=str(root),
    )
    samples, _ = _first(iter(dataset), len(lines))
    return {"lines": len(lines), "rows": _plan_of(samples, tok)}


if __name__ == "__main__":
    kind, root = sys.argv[1], Path(sys.argv[2])
    result = {
        "unified_edit": unified_edit,
        "vlm_sft": vlm_sft,
        "irg_bagel": irg_bagel,
        "zebra_think_trace": zebra_think_trace,
    }[kind](root)
    sys.stdout.write("\nRESULT " + json.dumps(result) + "\n")
