"""`unified_edit`: the refines as image-editing sequences, in BAGEL's `unified_edit` parquet layout.

    train/part-00000.parquet …    validation/part-00000.parquet …
    parquet_info.json             {"<absolute parquet path>": {"num_row_groups": N, "num_rows": M}}
    dataset_info.json             {"unified_edit": {"stroke_studio_edit_<split>": DATASET_INFO entry}}

BAGEL's `UnifiedEditIterableDataset` (data/interleave_datasets/edit_dataset.py) reads two columns:
`image_list` (encoded images) and `instruction_list` (for each image after the first, a list of
alternative instructions that turn the one before into it; it picks one at random). So stock
BAGEL can train on what people corrected, no code of ours needed: merge dataset_info.json into
its DATASET_INFO and name `unified_edit` in the data config.

A row is a run of refines on a finished branch: the image before the first refine, then each
refine's image, with each refine's instruction (plain text: BAGEL's edit data has no tags). A
new plan's sketch ends the run. Rejected refines are left out (a person said they are wrong).
Where a person rejected an image with a note and then accepted its redraw, the pair is a row
too (`source` "redraw": the note is the instruction), since the redraw is what the note asked
for. Branches come from the export's filters, as for `bagel`; identical runs are written once.
Images are the stored PNG bytes. Provenance: `step_ids`, `annotator`/`annotators` (who wrote
or accepted each edit), `session_id`, `prompt`. BAGEL looks row groups up by the parquet file's
full path, so parquet_info.json is keyed by where the export lands; move it and export again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from ...core.domain import Review, Stage, Step, Trajectory
from ..select import rejected_before
from . import ExportJob
from .bagel import SPLITS, write_shards

READS_SESSIONS = True  # a branch's steps (instructions, reviews), not only its multi-turn sample
S = pa.string()
SCHEMA = pa.schema(
    [
        ("image_list", pa.list_(pa.binary())),
        ("instruction_list", pa.list_(pa.list_(S))),
        ("id", S),
        ("session_id", S),
        ("prompt", S),
        ("source", S),
        ("step_ids", pa.list_(S)),
        ("annotator", S),
        ("annotators", pa.list_(S)),
    ]
)


@dataclass
class Edits:
    """One row: image steps in order, and the instruction that led to each after the first."""

    session_id: str
    prompt: str
    split: str
    source: str
    steps: list[Step] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)

    def key(self) -> tuple:
        """The same images and instructions from the same people: a run reached through two branches
        (or a copy of its session) is one row; the same edit by someone else is a row of its own."""
        return (
            tuple(s.image.sha256 for s in self.steps),
            tuple(self.instructions),
            tuple(self.annotators),
        )

    @property
    def annotators(self) -> list[str]:
        """Who made the edits; for a redraw also who rejected the image (their note is the instruction)."""
        steps = self.steps if self.source == "redraw" else self.steps[1:]
        return sorted({s.annotator for s in steps if s.annotator})


def branch_edits(trajectory: Trajectory, branch: list[Step], split: str) -> list[Edits]:
    """The refine runs of one branch, and its noted reject → accepted redraw pairs."""
    session = trajectory.session
    rows: list[Edits] = []
    run: Edits | None = None

    def close() -> None:
        if run is not None and len(run.steps) > 1:
            rows.append(run)

    for step in branch:
        if (
            step.stage not in (Stage.SKETCH, Stage.REFINE)
            or step.image is None
            or step.review is Review.REJECTED
        ):
            continue
        if step.review is Review.ACCEPTED:
            for rejected in rejected_before(trajectory, step):
                note = rejected.review_note.strip()
                if (
                    note
                    and rejected.image is not None
                    and rejected.image.sha256 != step.image.sha256
                ):
                    rows.append(
                        Edits(session.id, session.prompt, split, "redraw", [rejected, step], [note])
                    )
        if step.stage is Stage.SKETCH:
            close()
            run = Edits(session.id, session.prompt, split, "refine", [step])
        elif run is not None and (step.instruction or "").strip():
            run.steps.append(step)
            run.instructions.append(step.instruction.strip())
    close()
    return rows


def collect_edits(multi_turn: list, trees: dict[str, Trajectory]) -> list[Edits]:
    """The rows of the multi-turn samples' branches (their split), each distinct run once."""
    seen, out = set(), []
    for sample in multi_turn:
        trajectory = trees.get(sample.session_id)
        if trajectory is None:
            continue
        for edits in branch_edits(trajectory, trajectory.branch(sample.id), sample.split):
            if edits.key() not in seen:
                seen.add(edits.key())
                out.append(edits)
    return out


def row(edits: Edits, read) -> dict:
    first = edits.steps[0]
    return {
        "image_list": [read(s.image.sha256) for s in edits.steps],
        "instruction_list": [[text] for text in edits.instructions],
        "id": f"{edits.source}:{first.id}:{edits.steps[-1].id}",
        "session_id": edits.session_id,
        "prompt": edits.prompt,
        "source": edits.source,
        "step_ids": [s.id for s in edits.steps],
        "annotator": ",".join(edits.annotators),
        "annotators": edits.annotators,
    }


def write(job: ExportJob) -> list[str]:
    everything = collect_edits(job.subsets.multi_turn, {t.session.id: t for t, _ in job.sessions})
    rows = {split: [e for e in everything if e.split == split] for split in SPLITS}
    files = write_shards(
        job, rows, row, SCHEMA, "image_list", "stroke_studio_edit", family="unified_edit"
    )
    job.advance(len(job.subsets.multi_turn))
    job.notes["edits"] = {
        source: sum(1 for e in everything if e.source == source) for source in ("refine", "redraw")
    }
    return files
