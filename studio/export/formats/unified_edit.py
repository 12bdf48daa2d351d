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
new plan's sketch ends the run. Each edit is learned only where the rule of
`studio.export.provenance` makes the refine a target: a rejected refine is left out, a refine
that changed nothing is no edit (the run goes on from the image before it), and a refine whose
image a person marked wrong, or whose engine did not act on the person's verdict, ends the run
(its image may open the next one: it is only conditioning there). A redraw after a reject is an
edit (`source` "redraw": the rejected image, the person's reason as the instruction, the redraw)
only where the engine really conditioned on the rejected image and the reason
(`person_input(redraw)` of kind "reason" with `used` true); any other redraw was a fresh sample,
an image preference (`pickapic`), not an edit.
Branches come from the export's filters, as for `bagel`; identical runs are written once.
Images are the stored PNG bytes. Provenance: `step_ids`, `annotator`/`annotators` (who wrote
or accepted each edit), `session_id`, `prompt`. The verdicts are written beside the edits, as the
`vlm-sft` format writes them (`train/inspect.jsonl`), because BAGEL's trainer needs a text-loss
dataset in every mix; `dataset_info.json`, `data.yaml` and `TRAIN.md` say how to train on both
(studio/export/training.py). Every path is relative to the folder, so a copied export still trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from ...core.domain import Review, Stage, Step, Trajectory, person_input
from .. import training
from ..provenance import OUT, TARGET, person_verdicts, roles
from . import ExportJob, vlm_sft
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


def _redraw(trajectory: Trajectory, step: Step, split: str) -> Edits | None:
    """The rejected image → its redraw, where the engine read both the image and the reason."""
    given = person_input(step)
    if given is None or given.kind != "reason" or given.used is not True or not given.text.strip():
        return None
    rejected = trajectory.steps.get(given.step_id)
    if rejected is None or rejected.image is None or rejected.image.sha256 == step.image.sha256:
        return None
    session = trajectory.session
    return Edits(
        session.id, session.prompt, split, "redraw", [rejected, step], [given.text.strip()]
    )


def branch_edits(trajectory: Trajectory, branch: list[Step], split: str) -> list[Edits]:
    """The refine runs of one branch, and its redraws that answered a reject's reason."""
    session = trajectory.session
    said = person_verdicts(trajectory, branch)
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
        role = roles(step, branch, said)
        if role.image == OUT:
            continue  # a refine that changed nothing: no edit
        redraw = _redraw(trajectory, step, split) if role.image == TARGET else None
        if redraw is not None:
            rows.append(redraw)
        learned = role.image == TARGET and (step.stage is Stage.SKETCH or role.text == TARGET)
        if step.stage is Stage.SKETCH or run is None or not learned:
            close()
            run = Edits(session.id, session.prompt, split, "refine", [step])
        elif (step.instruction or "").strip():
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
    files, dataset_info = write_shards(
        job, rows, row, SCHEMA, "image_list", "stroke_studio_edit", family="unified_edit"
    )
    job.advance(len(job.subsets.multi_turn))
    # BAGEL's trainer needs a text-loss dataset in every mix: the verdicts go beside the edits
    verdicts = vlm_sft.write_lines(job)
    dataset_info["vlm_sft"] = training.vlm_sft_info(verdicts, job.notes.get("lines", {}))
    files += verdicts + training.write_training_files(job.root, dataset_info, Path(job.target).name)
    job.notes["edits"] = {
        source: sum(1 for e in everything if e.source == source) for source in ("refine", "redraw")
    }
    return files
