"""`vlm-sft`: JSONL for the two inspect subsets, in the LLaVA-style SFT layout.

    train/conflict.jsonl    train/alignment.jsonl    validation/…    images/<sha256>.png

Each line has `conversations: [{from: human, value}, {from: gpt, value}]`; an alignment
line also has `image` (relative to the export folder, the loaders' image dir) and an
`<image>` placeholder in the question. A conflict line is text only: it judges a plan
against the prompt. The answer starts with the verdict word, then the critique (and for
a misaligned image, the corrective `<refine>`), so positives and negatives share one form.
"""

from __future__ import annotations

from ..output import ImageCopier, write_jsonl
from ..select import TRAIN, VALIDATION
from ..subsets import Alignment, Conflict
from . import Job

CONFLICT_QUESTION = (
    "Prompt: {prompt}\nPlan: <ins>{instruction}</ins><des>{description}</des>\n"
    "Does the plan contradict the prompt? Answer \"consistent\" or \"conflict\", then explain."
)
ALIGNMENT_QUESTION = (
    "<image>\nInstruction: {instruction}\n"
    "Does the image follow the instruction? Answer \"aligned\" or \"misaligned\", explain, "
    "and if misaligned give a corrective instruction."
)


def _answer(word: str, explanation: str, corrective: str = "") -> str:
    text = word + (f". {explanation}" if explanation else ".")
    return text + (f"\n<refine>{corrective}</refine>" if corrective else "")


def _meta(sample) -> dict:
    return {"session_id": sample.session_id, "label": sample.label, "verdict_author": sample.verdict_author,
            "verdict_original": sample.verdict_original, "verdict_annotator": sample.verdict_annotator}


def conflict_row(sample: Conflict) -> dict:
    question = CONFLICT_QUESTION.format(prompt=sample.prompt, instruction=sample.instruction,
                                        description=sample.description)
    answer = _answer("consistent" if sample.passed else "conflict", sample.critique)
    return {"id": sample.id, "conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": answer}],
            **_meta(sample), "plan_author": sample.plan_author, "plan_original": sample.plan_original or None,
            "plan_annotator": sample.plan_annotator}


def alignment_row(sample: Alignment, copy: ImageCopier) -> dict:
    question = ALIGNMENT_QUESTION.format(instruction=sample.instruction)
    answer = _answer("aligned" if sample.passed else "misaligned", sample.explanation,
                     sample.corrective_instruction)
    return {"id": sample.id, "image": copy(sample.image.sha256),
            "conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": answer}],
            **_meta(sample), "source": sample.source, "image_author": sample.image_author,
            "image_annotator": sample.image_annotator}


def write(job: Job) -> list[str]:
    copy = ImageCopier(job.images, job.root)
    files = []
    for split in (TRAIN, VALIDATION):
        for name, items, make in (("conflict", job.subsets.conflict, conflict_row),
                                  ("alignment", job.subsets.alignment, lambda s: alignment_row(s, copy))):
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
