"""`vlm-sft`: JSONL of the engine's inspections, in the LLaVA-style SFT layout.

    train/inspect.jsonl    validation/inspect.jsonl    images/<sha256>.png

One line per verdict a model should learn to give on an image: each inspect step's verdict the
rule of `studio.export.provenance` keeps as a target (a model verdict that contradicts a person's
gives no line; a person's override does), and each image a person accepted or rejected. Each line
has `image` (relative to the export folder, the loaders' image dir) and `conversations: [{from:
human, value}, {from: gpt, value}]`. The question is the engine's own inspect context as text (its
system text, "Prompt: …", the plan request and the plan as the engine holds them, the `<image>`
placeholder and the inspect request: engines/bagel/transcript.py); the answer is the full verdict
as the engine's `read_verdict` reads it (`<plan>yes|no: why</plan><sketch>yes|no: why</sketch>`,
studio/core/protocol.py) — a reject's reason as `<sketch>no: REASON</sketch>` with the plan check
as stored. The plan-against-prompt subset alone (`conflict`, text only) is in `folder` and `hf`.
"""

from __future__ import annotations

from pathlib import Path

from ...core.domain import Session, Stage, Step, Trajectory
from ...engines.bagel import transcript
from .. import training
from ..output import ImageCopier, write_jsonl
from ..select import TRAIN, VALIDATION
from ..subsets import AlignmentSample
from . import ExportJob

READS_SESSIONS = (
    True  # a question is the engine's context: the session's settings and the plan step
)


def inspect_question(session: Session, plan: Step | None, image: bool = True) -> str:
    """The engine's inspect context as one text: system text, prompt line, the plan's request and
    answer as the transcript holds them, the image placeholder, the inspect request."""
    parts = list(transcript.root_texts(session))
    if plan is not None:
        parts += [s.text for s in transcript.segments(plan, session) if s.kind == "text"]
    round_no = plan.round if plan is not None else 1
    if image:
        parts.append("<image>")
    parts.append(transcript.requests(session, round_no)[Stage.INSPECT])
    return "\n".join(parts)


def question_of(sample: AlignmentSample, trees: dict[str, Trajectory]) -> str:
    tree = trees[sample.session_id]
    return inspect_question(tree.session, tree.steps.get(sample.plan_step_id))


def _meta(sample: AlignmentSample) -> dict:
    return {
        "session_id": sample.session_id,
        "label": sample.label,
        "verdict_author": sample.verdict_author,
        "verdict_original": sample.verdict_original,
        "verdict_annotator": sample.verdict_annotator,
        "annotators": sample.annotators,
    }


def inspect_row(sample: AlignmentSample, question: str, copy: ImageCopier) -> dict:
    return {
        "id": sample.id,
        "image": copy(sample.image.sha256),
        "conversations": [
            {"from": "human", "value": question},
            {"from": "gpt", "value": sample.verdict},
        ],
        **_meta(sample),
        "source": sample.source,
        "image_author": sample.image_author,
        "image_annotator": sample.image_annotator,
    }


def write(job: ExportJob) -> list[str]:
    """The JSONL files, and beside them what BAGEL's trainer reads (studio.export.training)."""
    files = write_lines(job)
    info = {"vlm_sft": training.vlm_sft_info(files, job.notes.get("lines", {}))}
    return files + training.write_training_files(job.root, info, Path(job.target).name)


def write_lines(job: ExportJob) -> list[str]:
    """The JSONL files alone (lines per file in `job.notes["lines"]`); `unified_edit` writes them too."""
    copy = ImageCopier(job.images, job.root)
    trees = {t.session.id: t for t, _ in job.sessions}
    lines: dict[str, int] = job.notes.setdefault("lines", {})
    files = []
    for split in (TRAIN, VALIDATION):
        chosen = [s for s in job.subsets.alignment if s.split == split and s.verdict]
        if chosen:

            def rows(chosen=chosen):
                for sample in chosen:
                    yield inspect_row(sample, question_of(sample, trees), copy)
                    job.advance(1)

            write_jsonl(job.root / split / "inspect.jsonl", rows())
            files.append(f"{split}/inspect.jsonl")
            lines[f"{split}/inspect.jsonl"] = len(chosen)
    job.notes["images"] = len(copy.done)
    return files
