"""`trl-pref`: the person's text against the model's, as TRL's conversational preference rows.

    README.md                                 a dataset card with two configs
    text/train-00000-of-00001.parquet         plan edits (an LM's DPO)
    vision/train-00000-of-00001.parquet       verdict overrides, with the image (a VLM's DPO)
    manifest.json

Each row is what TRL's `DPOTrainer` takes in its conversational form: `prompt` (the user turn),
`chosen` (the person's answer as the assistant turn) and `rejected` (the model's). In `vision`
the user turn's content is a list of parts, `{"type": "image"}` then `{"type": "text"}`, and
`images` holds the image (a `datasets.Image`, decoded to PIL). The questions are the engine's own
contexts as text (engines/bagel/transcript.py): for a verdict, the inspect context `vlm-sft` asks
with; for a plan, the system text, the prompt line, the branch's texts before the plan and the
plan request. Chosen and rejected verdicts are full verdicts (both checks, as the engine's
`read_verdict` reads them): the inspect as the person left it, and as the model gave it. Provenance:
`annotator` (who edited or overrode), `source` (plan-edit | plan-critique | sketch-critique |
verdict-critique: which checks a person changed), `session_id`, `step_id` and the model's own
values in `model_original` (JSON). Rows come from the de-duplicated subsets, so the export's
filters and split apply as to `vlm-sft`.
"""

from __future__ import annotations

import json

import pyarrow as pa

from ..parquet import IMAGE, image_cell, write_split
from ..preferences import TextPair, text_pairs
from ..select import TRAIN, VALIDATION
from . import ExportJob

READS_SESSIONS = True  # a plan's question names the plans before it on its branch
S = pa.string()
TEXT_MESSAGE = pa.struct([("role", S), ("content", S)])
PART = pa.struct([("type", S), ("text", S)])
VISION_MESSAGE = pa.struct([("role", S), ("content", pa.list_(PART))])
META = [
    ("id", S),
    ("session_id", S),
    ("source", S),
    ("step_id", S),
    ("annotator", S),
    ("model_original", S),
]

_V = {
    "_type": "Value",
    "dtype": "string",
}  # datasets' feature JSON; `[x]` is a list of x in every version


def _schema(vision: bool) -> pa.Schema:
    message = VISION_MESSAGE if vision else TEXT_MESSAGE
    fields = [(name, pa.list_(message)) for name in ("prompt", "chosen", "rejected")]
    features = {
        name: [{"role": _V, "content": [{"type": _V, "text": _V}] if vision else _V}]
        for name, _ in fields
    }
    if vision:
        fields.append(("images", pa.list_(IMAGE)))
        features["images"] = [{"_type": "Image"}]
    fields += META
    features.update({name: _V for name, _ in META})
    return pa.schema(fields, metadata={"huggingface": json.dumps({"info": {"features": features}})})


SCHEMAS = {"text": _schema(False), "vision": _schema(True)}


def _turn(role: str, text: str, vision: bool, image: bool = False) -> list[dict]:
    if not vision:
        return [{"role": role, "content": text}]
    parts = [{"type": "image", "text": None}] if image else []
    return [{"role": role, "content": parts + [{"type": "text", "text": text}]}]


def row(pair: TextPair, read) -> dict:
    vision = pair.image is not None
    question = pair.question.replace("<image>\n", "") if vision else pair.question
    data = {
        "prompt": _turn("user", question, vision, image=True),
        "chosen": _turn("assistant", pair.chosen, vision),
        "rejected": _turn("assistant", pair.rejected, vision),
        "id": pair.id,
        "session_id": pair.session_id,
        "source": pair.source,
        "step_id": pair.step_id,
        "annotator": pair.annotator,
        "model_original": json.dumps(pair.model_original, sort_keys=True),
    }
    if vision:
        data["images"] = [image_cell(read(pair.image.sha256), pair.image.sha256)]
    return data


def _card(configs: dict[str, list[str]]) -> str:
    lines = ["---", "configs:"]
    for name, splits in configs.items():
        lines += [f"- config_name: {name}", "  data_files:"]
        for split in splits:
            lines += [f"  - split: {split}", f"    path: {name}/{split}-*.parquet"]
    lines += [
        "---",
        "",
        "# Stroke Studio preference rows (TRL conversational format)",
        "",
        "`text`: plan edits; `vision`: verdict overrides (full verdicts) with the image.",
        "`chosen` is the person's answer, `rejected` the model's. See manifest.json.",
        "",
    ]
    return "\n".join(lines)


def write(job: ExportJob) -> list[str]:
    trees = {t.session.id: (t, split) for t, split in job.sessions}
    pairs = text_pairs(job.subsets.conflict, job.subsets.alignment, trees)
    files: list[str] = []
    configs: dict[str, list[str]] = {}
    for name in ("text", "vision"):
        for split in (TRAIN, VALIDATION):
            chosen = [
                p for p in pairs if p.split == split and (p.image is not None) == (name == "vision")
            ]
            shards = write_split(
                job.root,
                name,
                split,
                chosen,
                lambda pair: row(pair, job.images.read),
                SCHEMAS[name],
                large=("images",),
            )
            files += shards
            if shards:
                configs.setdefault(name, []).append(split)
    (job.root / "README.md").write_text(_card(configs), encoding="utf-8")
    job.advance(len(job.subsets.conflict) + len(job.subsets.alignment))
    job.notes["pairs"] = {
        source: sum(1 for p in pairs if p.source == source)
        for source in ("plan-edit", "plan-critique", "sketch-critique", "verdict-critique")
    }
    return files + ["README.md"]
