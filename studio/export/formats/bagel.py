"""`bagel`: parquet for BAGEL-family fine-tuning, one row per finished trajectory.

    train/part-00000.parquet …    validation/part-00000.parquet …
    parquet_info.json             {"train/part-00000.parquet": {"num_row_groups": N, "num_rows": M}}
    dataset_info.json             a DATASET_INFO entry per split (data_dir, num_files, …)

Each row's `conversation` is JSON in the layout IRG's `MultiThinkInterleaveT2IDataset` reads: the
engine's own context, as the BAGEL engine sends it at inference (engines/bagel/transcript.py): two
user turns (the system text, then "Prompt: …"; no loss), then the assistant's interleaved content —
each stage's request (no loss) and its answer: plans, verdicts, refines and images. Which answer is
learned is the one rule of `studio.export.provenance`: a plan, a verdict or an image a person marked
wrong, and a model's answer that contradicts a person's verdict, are context (text need_loss false;
image need_loss false, need_vae true, need_vit true: it is looked at and edited from); a person's
verdict, edit and own refine are targets (images: need_loss, need_vae, need_vit all true); a refine
that changed nothing is left out. A rejected draft is context that is not continued from (need_loss
and need_vae false, need_vit true), followed by the inspect request and the person's reason as a
verdict target (`<plan>…</plan><sketch>no: REASON</sketch>`, the plan check as stored before the
rejected image), then the engine's request to redraw (no loss), as the redraw's context held them.
Images are the stored PNG bytes in
base64, never re-encoded. `provenance` lists, per assistant element, the step it came from, its
author (and `annotator`: which person) and the model's original where a person changed it;
`annotators` lists everyone who acted on the trajectory. Every path is relative to the folder (data_dir
"train", parquet_info keys "train/part-00000.parquet", as BAGEL's loaders join them), so a copied
export still loads, from inside the folder or with the paths made absolute for a run
(`studio.export.training.absolute_dataset_info`).
"""

from __future__ import annotations

import base64
import json

import pyarrow as pa

from ..parquet import Sink
from ..select import TRAIN, VALIDATION
from ..subsets import MultiTurn
from . import ExportJob

ROWS_PER_GROUP = 64
ROWS_PER_FILE = 1024
SPLITS = (TRAIN, VALIDATION)
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("session_id", pa.string()),
        ("prompt", pa.string()),
        ("engine", pa.string()),
        ("human", pa.bool_()),
        ("conversation", pa.string()),
        ("provenance", pa.string()),
        ("annotators", pa.list_(pa.string())),
    ]
)


def _image_element(data: bytes, target: bool, vae: bool) -> str:
    """One image element as JSON text; base64 needs no escaping, so the megabytes skip json.dumps."""
    loss, vae_flag = ("true" if target else "false"), ("true" if target or vae else "false")
    return (
        f'{{"type":"image","content":"{base64.b64encode(data).decode("ascii")}",'
        f'"need_loss":{loss},"need_vae":{vae_flag},"need_vit":true}}'
    )


def conversation(sample: MultiTurn, read) -> str:
    """The `conversation` cell: the user's prompt, then the assistant's interleaved content."""
    content = []
    for turn in sample.turns:
        if turn.kind == "text":
            content.append(
                json.dumps(
                    {"type": "text", "content": turn.text, "need_loss": turn.target},
                    ensure_ascii=False,
                )
            )
        else:
            # a rejected draft is not edited from (no VAE latent); any other image is
            vae = turn.review != "rejected"
            content.append(_image_element(read(turn.image.sha256), turn.target, vae))
    users = [
        json.dumps({"role": "user", "content": text, "need_loss": False}, ensure_ascii=False)
        for text in sample.root or (sample.prompt,)
    ]
    return f'[{",".join(users)},{{"role":"assistant","content":[{",".join(content)}]}}]'


def row(sample: MultiTurn, read) -> dict:
    return {
        "id": sample.id,
        "session_id": sample.session_id,
        "prompt": sample.prompt,
        "engine": sample.engine,
        "human": sample.human,
        "conversation": conversation(sample, read),
        "provenance": json.dumps([t.provenance() for t in sample.turns], ensure_ascii=False),
        "annotators": sample.annotators,
    }


def write(job: ExportJob) -> list[str]:
    samples = {split: [s for s in job.subsets.multi_turn if s.split == split] for split in SPLITS}
    files, dataset_info = write_shards(
        job, samples, row, SCHEMA, "conversation", "stroke_studio", advance=True
    )
    (job.root / "dataset_info.json").write_text(
        json.dumps(dataset_info, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return files + ["dataset_info.json"]


def write_shards(
    job: ExportJob,
    items: dict[str, list],
    make_row,
    schema: pa.Schema,
    large: str,
    dataset: str,
    *,
    family: str | None = None,
    advance: bool = False,
) -> tuple[list[str], dict]:
    """BAGEL's parquet layout, shared by the `bagel` and `unified_edit` formats: per split, shards of
    ROWS_PER_FILE rows (`make_row(item, read)`) and `parquet_info.json` (row groups and rows per shard);
    returns the files and the `DATASET_INFO` entries (one per split, under `family` when BAGEL nests
    it). Every path is relative to the export folder: BAGEL looks a file's row groups up by
    `os.path.join(data_dir, name)`, so data_dir "train" finds "train/part-00000.parquet"."""
    files, info, dataset_info = [], {}, {}
    for split, rows in items.items():
        names = []
        for start in range(0, len(rows), ROWS_PER_FILE):
            name = f"{split}/part-{start // ROWS_PER_FILE:05d}.parquet"
            sink = Sink(job.root / name, schema, ROWS_PER_GROUP, compression="zstd", large=(large,))
            try:
                for item in rows[start : start + ROWS_PER_FILE]:
                    sink.add(make_row(item, job.images.read))
                    if advance:
                        job.advance(1)
            finally:
                sink.close()
            info[name] = {
                "num_row_groups": sink.row_groups,
                "num_rows": sink.rows,
            }
            names.append(name)
        if names:
            dataset_info[f"{dataset}_{split}"] = {
                "data_dir": split,
                "num_files": len(names),
                "num_total_samples": len(rows),
                "parquet_info_path": "parquet_info.json",
            }
        files += names
    dataset_info = {family: dataset_info} if family else dataset_info
    (job.root / "parquet_info.json").write_text(
        json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return files + ["parquet_info.json"], dataset_info
