"""`pickapic`: image preference pairs in the Pick-a-Pic layout that diffusers' Diffusion-DPO reads.

    README.md                                   a dataset card naming the splits
    data/train-00000-of-00001.parquet           data/validation-…
    manifest.json

Columns as Pick-a-Pic v2 names them and `examples/research_projects/diffusion_dpo/
train_diffusion_dpo.py` reads them: `caption`, `jpg_0`, `jpg_1` (JPEG bytes, a plain binary
column: the script opens them with PIL itself) and `label_0` (1.0: jpg_0 preferred, 0.0: jpg_1;
`label_1` is its complement). Then where each pair came from: `annotator` (comma-separated
names; `annotators` as a list), `source` (redraw | preference | rating), `step_0`/`step_1`
(the image steps), `session_ids`, `judgement_ids`, `prompt` and the images' stored sha256.
Pairs are derived and de-duplicated in `studio.export.preferences`. Ties are left out and
counted in the manifest: the script has no tie case (it treats any label_0 but 0 as "jpg_0
wins"), so a tie would be trained as a preference. The PNGs are re-encoded as JPEG (quality
95); an image in several pairs nearby is encoded once.
"""

from __future__ import annotations

import io
from collections import OrderedDict

import pyarrow as pa
from PIL import Image

from ..parquet import write_split
from ..preferences import ImagePair, image_pairs
from ..select import TRAIN, VALIDATION
from . import ExportJob

READS_SESSIONS = True  # pairs span branches, so the writer needs each selected session's whole tree
JPEG_QUALITY = 95
S, F = pa.string(), pa.float64()
SCHEMA = pa.schema(
    [
        ("caption", S),
        ("jpg_0", pa.binary()),
        ("jpg_1", pa.binary()),
        ("label_0", F),
        ("label_1", F),
        ("annotator", S),
        ("annotators", pa.list_(S)),
        ("source", S),
        ("sources", pa.list_(S)),
        ("step_0", S),
        ("step_1", S),
        ("session_ids", pa.list_(S)),
        ("judgement_ids", pa.list_(S)),
        ("prompt", S),
        ("image_0_sha256", S),
        ("image_1_sha256", S),
    ]
)


def jpeg(png: bytes) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY)
        return out.getvalue()


class JpegCache:
    """Recently paired images encoded once (an image rated beside several others is in several pairs);
    at most `size` kept, so a large export's memory stays flat."""

    def __init__(self, read, size: int = 256):
        self.read, self.size, self.done = read, size, OrderedDict()

    def __call__(self, sha256: str) -> bytes:
        if sha256 in self.done:
            self.done.move_to_end(sha256)
        else:
            self.done[sha256] = jpeg(self.read(sha256))
            if len(self.done) > self.size:
                self.done.popitem(last=False)
        return self.done[sha256]


def row(pair: ImagePair, encode) -> dict:
    a, b = pair.image_0, pair.image_1
    return {
        "caption": pair.caption,
        "jpg_0": encode(a.image.sha256),
        "jpg_1": encode(b.image.sha256),
        "label_0": pair.label_0,
        "label_1": 1.0 - pair.label_0,
        "annotator": ",".join(pair.annotators),
        "annotators": list(pair.annotators),
        "source": ",".join(pair.sources),
        "sources": list(pair.sources),
        "step_0": a.id,
        "step_1": b.id,
        "session_ids": list(pair.session_ids),
        "judgement_ids": list(pair.judgement_ids),
        "prompt": pair.prompt,
        "image_0_sha256": a.image.sha256,
        "image_1_sha256": b.image.sha256,
    }


def _card(splits: list[str]) -> str:
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split in splits:
        lines += [f"  - split: {split}", f"    path: data/{split}-*.parquet"]
    lines += [
        "---",
        "",
        "# Stroke Studio preference pairs (Pick-a-Pic layout)",
        "",
        "`caption`, `jpg_0`, `jpg_1`, `label_0` as diffusers' Diffusion-DPO example reads them; "
        "`annotator`, `source` and the step ids say where each pair came from. See manifest.json.",
        "",
    ]
    return "\n".join(lines)


def write(job: ExportJob) -> list[str]:
    trees = {t.session.id: (t, split) for t, split in job.sessions}
    judgements = [j for session_id in trees for j in job.store.judgements(session_id)]
    pairs, merged = image_pairs(trees, judgements)
    ties = [p for p in pairs if p.label_0 == 0.5]
    pairs = [p for p in pairs if p.label_0 != 0.5]
    files, splits = [], []
    for split in (TRAIN, VALIDATION):
        chosen = [p for p in pairs if p.split == split]
        encode = JpegCache(job.images.read)
        shards = write_split(
            job.root,
            "data",
            split,
            chosen,
            lambda pair, encode=encode: row(pair, encode),
            SCHEMA,
            large=("jpg_0", "jpg_1"),
        )
        files += shards
        if shards:
            splits.append(split)
    (job.root / "README.md").write_text(_card(splits), encoding="utf-8")
    # the bar counts sessions: how many pairs they hold is known only now
    job.advance(len(job.sessions))
    job.notes["pairs"] = {
        "written": len(pairs),
        "ties_left_out": len(ties),
        "duplicates_merged": merged,
        "by_source": {
            s: sum(1 for p in pairs if s in p.sources) for s in ("redraw", "preference", "rating")
        },
    }
    return files + ["README.md"]
