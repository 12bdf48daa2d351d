"""`bagel`: parquet for BAGEL-family fine-tuning, one row per finished trajectory.

    train/part-00000.parquet …    validation/part-00000.parquet …
    parquet_info.json             {"<absolute parquet path>": {"num_row_groups": N, "num_rows": M}}
    dataset_info.json             a DATASET_INFO entry per split (data_dir, num_files, …)

Each row's `conversation` is JSON: the prompt as the user turn (no loss), then the
assistant's interleaved content. Plans, verdicts and refines are text targets; drawn
images are generation targets (need_loss, need_vae and need_vit all true); a rejected
draft is conditioning only (need_loss and need_vae false, need_vit true: it is looked at,
not continued from), followed by the person's critique as a text target. Images are the
stored PNG bytes in base64, never re-encoded. `provenance` lists, per assistant element,
the step it came from, its author (and `annotator`: which person) and the model's original
where a person changed it; `annotators` lists everyone who acted on the trajectory.
BAGEL's loaders look row groups up by the parquet file's full path, so parquet_info.json
is keyed by where the export lands; move the folder and export again.
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


def _image_element(data: bytes, target: bool) -> str:
    """One image element as JSON text; base64 needs no escaping, so the megabytes skip json.dumps."""
    flag = "true" if target else "false"
    return (
        f'{{"type":"image","content":"{base64.b64encode(data).decode("ascii")}",'
        f'"need_loss":{flag},"need_vae":{flag},"need_vit":true}}'
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
            content.append(_image_element(read(turn.image.sha256), turn.target))
    user = json.dumps(
        {"role": "user", "content": sample.prompt, "need_loss": False}, ensure_ascii=False
    )
    return f'[{user},{{"role":"assistant","content":[{",".join(content)}]}}]'


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
    return write_shards(job, samples, row, SCHEMA, "conversation", "stroke_studio", advance=True)


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
) -> list[str]:
    """BAGEL's parquet layout, shared by the `bagel` and `unified_edit` formats: per split, shards of
    ROWS_PER_FILE rows (`make_row(item, read)`), `parquet_info.json` (row groups and rows per shard) and
    `dataset_info.json` (one `DATASET_INFO` entry per split, under `family` when BAGEL nests it)."""
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
            info[f"{job.target}/{name}"] = {
                "num_row_groups": sink.row_groups,
                "num_rows": sink.rows,
            }
            names.append(name)
        if names:
            dataset_info[f"{dataset}_{split}"] = {
                "data_dir": f"{job.target}/{split}",
                "num_files": len(names),
                "num_total_samples": len(rows),
                "parquet_info_path": f"{job.target}/parquet_info.json",
            }
        files += names
    dataset_info = {family: dataset_info} if family else dataset_info
    for name, data in (("parquet_info.json", info), ("dataset_info.json", dataset_info)):
        (job.root / name).write_text(
            json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        files.append(name)
    return files
