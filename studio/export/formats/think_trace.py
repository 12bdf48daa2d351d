"""`think-trace`: JSONL + image files in the think-trace layout (Question / trace / answer).

    train/think_trace.jsonl    validation/think_trace.jsonl    images/<sha256>.png

Each line: `Question` (the prompt), `Text Reasoning Trace` (one `THOUGHT n:` per learned plan,
verdict or refine, in the loop's own texts with newlines as &#10; (studio/core/protocol.py); each
learned image as `<image_start>[reasoning_image_N]<image_end>`), `Final Answer` (`<final/>`, the
loop's final stage: the answer is the trace's last image, the final image), and
`reasoning_image_N` paths relative to the export folder (the loaders' image dir). Zebra-CoT's
`ThinkTraceJSONLIterableDataset` learns every thought and every image of the trace, so the format
cannot mark a part "seen, not learned": what the rule of `studio.export.provenance` makes context —
a plan, a sketch or a verdict a person marked wrong, a rejected draft, a model answer that
contradicts a person's verdict — is left out here, as are the engine's requests; the person's
verdicts (a reject's reason as `<sketch>no: REASON</sketch>`) and corrections stay. `bagel`,
`vlm-sft`, `hf` and `folder` carry the context too.
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
    kept = [t for t in sample.turns if t.target]  # context cannot be marked here: left out
    thoughts: list[str] = []
    images: dict[str, str] = {}
    for turn in kept:
        if turn.kind == "text":
            thoughts.append(f"THOUGHT {len(thoughts) + 1}: {protocol.one_line(turn.text)}")
        else:
            n = len(images) + 1
            images[f"reasoning_image_{n}"] = copy(turn.image.sha256)
            if thoughts:
                thoughts[-1] += f" {marker(n)}"
            else:
                thoughts.append(f"THOUGHT 1: {marker(n)}")
    last = kept[-1] if kept else None
    if (
        sample.final_image is not None
        and sample.final_learned
        and (last is None or last.kind != "image")
    ):
        # the answer is an image: the trace ends with the final one
        n = len(images) + 1
        images[f"reasoning_image_{n}"] = copy(sample.final_image.sha256)
        if thoughts:
            thoughts[-1] += f" {marker(n)}"
        else:
            thoughts.append(f"THOUGHT 1: {marker(n)}")
    return {
        "id": sample.id,
        "session_id": sample.session_id,
        "annotators": sample.annotators,
        "Question": sample.prompt,
        "Text Reasoning Trace": "\n".join(thoughts),
        "Final Answer": protocol.FINAL,
        **images,
        "provenance": [t.provenance() for t in kept],
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
