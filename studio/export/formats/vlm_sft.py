"""`vlm-sft`: JSONL for the two inspect subsets, in the LLaVA-style SFT layout.

    train/conflict.jsonl    train/alignment.jsonl    validation/…    images/<sha256>.png

Each line has `conversations: [{from: human, value}, {from: gpt, value}]`; an alignment
line also has `image` (relative to the export folder, the loaders' image dir) and an
`<image>` placeholder in the question. A conflict line is text only: it judges a plan
against the prompt. The answer is the loop's own check (studio/core/protocol.py): `<plan>yes|no: why</plan>`
for a conflict, `<sketch>yes|no: why</sketch>` for an alignment (and for a misaligned image, the
corrective `<refine>`), so a model tuned on it answers in the form the engines read.
"""

from __future__ import annotations

from ...core import protocol
from ...core.domain import Check
from ..output import ImageCopier, write_jsonl
from ..select import TRAIN, VALIDATION
from ..subsets import AlignmentSample, ConflictSample
from . import ExportJob

CONFLICT_QUESTION = (
    "Prompt: {prompt}\nPlan: <ins>{instruction}</ins><des>{description}</des>\n"
    "Does the plan contradict the prompt? Answer <plan>yes</plan> if it does not, or "
    "<plan>no: what contradicts the prompt</plan>."
)
ALIGNMENT_QUESTION = (
    "<image>\nInstruction: {instruction}\n"
    "Does the image follow the instruction? Answer <sketch>yes</sketch>, or <sketch>no: what is wrong</sketch> "
    "followed by a corrective instruction in <refine>…</refine>."
)


def conflict_answer(sample: ConflictSample) -> str:
    return protocol.check_text("plan", Check(sample.passed, sample.critique))


def alignment_answer(sample: AlignmentSample) -> str:
    corrective = sample.corrective_instruction
    return protocol.check_text("sketch", Check(sample.passed, sample.explanation)) + (
        protocol.refine_text(corrective) if corrective else ""
    )


def _meta(sample) -> dict:
    return {
        "session_id": sample.session_id,
        "label": sample.label,
        "verdict_author": sample.verdict_author,
        "verdict_original": sample.verdict_original,
        "verdict_annotator": sample.verdict_annotator,
        "annotators": sample.annotators,
    }


def conflict_question(sample: ConflictSample) -> str:
    """The plan in the question is written as the loop writes it (escaped), so its tags stay the only tags."""
    return CONFLICT_QUESTION.format(
        prompt=sample.prompt,
        instruction=protocol.escape(sample.instruction),
        description=protocol.escape(sample.description),
    )


def conflict_row(sample: ConflictSample) -> dict:
    question = conflict_question(sample)
    answer = conflict_answer(sample)
    return {
        "id": sample.id,
        "conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": answer}],
        **_meta(sample),
        "plan_author": sample.plan_author,
        "plan_original": sample.plan_original or None,
        "plan_annotator": sample.plan_annotator,
    }


def alignment_row(sample: AlignmentSample, copy: ImageCopier) -> dict:
    question = ALIGNMENT_QUESTION.format(instruction=sample.instruction)
    answer = alignment_answer(sample)
    return {
        "id": sample.id,
        "image": copy(sample.image.sha256),
        "conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": answer}],
        **_meta(sample),
        "source": sample.source,
        "image_author": sample.image_author,
        "image_annotator": sample.image_annotator,
    }


def write(job: ExportJob) -> list[str]:
    copy = ImageCopier(job.images, job.root)
    files = []
    for split in (TRAIN, VALIDATION):
        for name, items, make in (
            ("conflict", job.subsets.conflict, conflict_row),
            ("alignment", job.subsets.alignment, lambda s: alignment_row(s, copy)),
        ):
            chosen = [s for s in items if s.split == split]
            if chosen:

                def rows(chosen=chosen, make=make):
                    for sample in chosen:
                        yield make(sample)
                        job.advance(1)

                write_jsonl(job.root / split / f"{name}.jsonl", rows())
                files.append(f"{split}/{name}.jsonl")
    job.notes["images"] = len(copy.done)
    return files
