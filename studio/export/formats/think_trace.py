"""`think-trace`: JSONL + image files in the think-trace layout (Question / trace / answer).

    train/think_trace.jsonl    validation/think_trace.jsonl    images/<sha256>.png

Each line: `Question` (the prompt), `Text Reasoning Trace` (one `THOUGHT n:` per plan,
verdict or refine, in the loop's own texts with newlines as &#10; (studio/core/protocol.py); each
drawn image as `<image_start>[reasoning_image_N]<image_end>`), `Final Answer` (the final
image's marker), and `reasoning_image_N` paths relative to the export folder (the loaders'
image dir). The format cannot mark an image as
"seen, not learned", so rejected drafts are left out here; `bagel`, `vlm-sft`, `hf` and
`folder` carry them.
"""

from __future__ import annotations

from ...core import protocol
from ..output import ImageCopier, write_jsonl
from ..select import TRAIN, VALIDATION
from ..subsets import MultiTurn
from . import ExportJob


def marker(n: int) -> str:
    return f"<image_start>[reasoning_image_{n}]<image_end>"


def row(sample: MultiTurn, copy: ImageCopier) -> dict:
    thoughts: list[str] = []
    images: dict[str, str] = {}
    for turn in sample.turns:
        if not turn.target or turn.stage == "critique":
            continue  # a rejected draft and the critique of it
        if turn.kind == "text":
            thoughts.append(f"THOUGHT {len(thoughts) + 1}: {protocol.one_line(turn.text)}")
        else:
            n = len(images) + 1
            images[f"reasoning_image_{n}"] = copy(turn.image.sha256)
            if thoughts:
                thoughts[-1] += f" {marker(n)}"
            else:
                thoughts.append(f"THOUGHT 1: {marker(n)}")
    final = marker(len(images)) if images else ""
    return {
        "id": sample.id,
        "session_id": sample.session_id,
        "annotators": sample.annotators,
        "Question": sample.prompt,
        "Text Reasoning Trace": "\n".join(thoughts),
        "Final Answer": final,
        **images,
        "provenance": [t.provenance() for t in sample.turns if t.target and t.stage != "critique"],
    }


def write(job: ExportJob) -> list[str]:
    copy = ImageCopier(job.images, job.root)
    files = []
    for split in (TRAIN, VALIDATION):
        samples = [s for s in job.subsets.multi_turn if s.split == split]
        if samples:

            def rows(samples=samples):
                for sample in samples:
                    yield row(sample, copy)
                    job.advance(1)

            write_jsonl(job.root / split / "think_trace.jsonl", rows())
            files.append(f"{split}/think_trace.jsonl")
    job.notes["images"] = len(copy.done)
    return files
