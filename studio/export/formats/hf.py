"""`hf`: parquet per subset that `datasets.load_dataset("parquet", …)` reads with image columns.

    README.md                                  a dataset card whose `configs` name every file
    multi_turn/train-00000-of-00001.parquet    conflict/…    alignment/…
    sessions/train-00000-of-00001.parquet      whole session trees, their ratings and preferences
                                               (JSON) and their images (`studio import`)
    manifest.json

Image cells are `{"bytes", "path"}` structs (the stored PNG bytes) declared as
`datasets.Image` in the schema metadata; nested values (turns, originals, trajectories)
are JSON text.
"""

from __future__ import annotations

import json

import pyarrow as pa

from ..parquet import IMAGE, hf_schema, image_cell, write_split
from ..rows import alignment_row, conflict_row, multi_turn_row, session_row
from ..select import TRAIN, VALIDATION
from . import ExportJob

WRITES_SESSIONS = True  # whole session trees, for `studio import`

LARGE = ("images", "final_image", "image", "trajectory")  # image bytes and whole trees
S, B = pa.string(), pa.bool_()
SCHEMAS = {
    "multi_turn": hf_schema(
        [
            ("id", S),
            ("session_id", S),
            ("prompt", S),
            ("engine", S),
            ("human", B),
            ("annotators", pa.list_(S)),
            ("turns", S),
            ("images", pa.list_(IMAGE)),
            ("final_image", IMAGE),
        ]
    ),
    "conflict": hf_schema(
        [
            ("id", S),
            ("session_id", S),
            ("prompt", S),
            ("instruction", S),
            ("description", S),
            ("passed", B),
            ("label", S),
            ("critique", S),
            ("plan_step_id", S),
            ("plan_author", S),
            ("plan_original", S),
            ("verdict_author", S),
            ("verdict_original", S),
            ("plan_annotator", S),
            ("verdict_annotator", S),
            ("annotators", pa.list_(S)),
        ]
    ),
    "alignment": hf_schema(
        [
            ("id", S),
            ("session_id", S),
            ("prompt", S),
            ("image", IMAGE),
            ("image_step_id", S),
            ("image_stage", S),
            ("image_author", S),
            ("instruction", S),
            ("description", S),
            ("passed", B),
            ("label", S),
            ("explanation", S),
            ("corrective_instruction", S),
            ("source", S),
            ("verdict_author", S),
            ("verdict_original", S),
            ("image_annotator", S),
            ("verdict_annotator", S),
            ("annotators", pa.list_(S)),
        ]
    ),
    "sessions": hf_schema(
        [
            ("session_id", S),
            ("split", S),
            ("trajectory", S),
            ("judgements", S),
            ("images", pa.list_(IMAGE)),
        ]
    ),
}


def _card(configs: dict[str, list[tuple[str, str]]]) -> str:
    lines = ["---", "configs:"]
    for name, splits in configs.items():
        lines += [f"- config_name: {name}", "  data_files:"]
        for split, pattern in splits:
            lines += [f"  - split: {split}", f"    path: {pattern}"]
    lines += [
        "---",
        "",
        "# Stroke Studio export",
        "",
        "Process-driven trajectories steered in Stroke Studio: `multi_turn` (prompt → plans, sketches,",
        "verdicts, refines → final), `conflict` (plan vs prompt), `alignment` (image vs instruction),",
        "and `sessions` (whole session trees, for `studio import`). See manifest.json for the counts.",
        "",
    ]
    return "\n".join(lines)


def write(job: ExportJob) -> list[str]:
    image = lambda ref: image_cell(job.images.read(ref.sha256), ref.sha256)  # noqa: E731
    s = job.subsets
    tables = {
        "multi_turn": (
            s.multi_turn,
            lambda x: multi_turn_row(x, image, as_json=True),
            lambda x: x.split,
        ),
        "conflict": (s.conflict, lambda x: conflict_row(x, as_json=True), lambda x: x.split),
        "alignment": (
            s.alignment,
            lambda x: alignment_row(x, image, as_json=True),
            lambda x: x.split,
        ),
        "sessions": (
            job.sessions,
            lambda x: session_row(x[0], x[1], image, job.judgements(x[0]), as_json=True),
            lambda x: x[1],
        ),
    }
    files: list[str] = []
    configs: dict[str, list[tuple[str, str]]] = {}
    for name, (items, make, split_of) in tables.items():
        for split in (TRAIN, VALIDATION):
            chosen = [x for x in items if split_of(x) == split]
            shards = write_split(
                job.root, name, split, chosen, make, SCHEMAS[name], large=LARGE, each=job.advance
            )
            files += shards
            if shards:
                configs.setdefault(name, []).append((split, f"{name}/{split}-*.parquet"))
    (job.root / "README.md").write_text(_card(configs), encoding="utf-8")
    job.notes["configs"] = json.loads(json.dumps(configs))
    return files + ["README.md"]
