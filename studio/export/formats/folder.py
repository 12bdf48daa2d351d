"""`folder`: JSONL and PNG files a person can browse, and `studio import` can read back.

manifest.json                 what was exported, how, and the counts
sessions.jsonl                every exported session's whole tree and its ratings and
                              preferences (the round trip)
images/<sha256>.png           each image once, the stored bytes
train/multi_turn.jsonl        train/conflict.jsonl    train/alignment.jsonl
validation/…                  the same for the validation split
"""

from __future__ import annotations

from ..output import ImageCopier, write_jsonl
from ..rows import alignment_row, conflict_row, multi_turn_row, session_row
from ..select import TRAIN, VALIDATION
from . import ExportJob

WRITES_SESSIONS = True  # whole session trees, for `studio import`


def write(job: ExportJob) -> list[str]:
    copy = ImageCopier(job.images, job.root)
    image = lambda ref: copy(ref.sha256)  # noqa: E731
    files = []

    def rows(items, make):
        for item in items:
            yield make(item)
            job.advance(1)

    write_jsonl(
        job.root / "sessions.jsonl",
        rows(job.sessions, lambda s: session_row(s[0], s[1], image, job.judgements(s[0]))),
    )
    files.append("sessions.jsonl")
    s = job.subsets
    for split in (TRAIN, VALIDATION):
        for name, items, make in (
            ("multi_turn", s.multi_turn, lambda x: multi_turn_row(x, image)),
            ("conflict", s.conflict, conflict_row),
            ("alignment", s.alignment, lambda x: alignment_row(x, image)),
        ):
            chosen = [x for x in items if x.split == split]
            if chosen:
                write_jsonl(job.root / split / f"{name}.jsonl", rows(chosen, make))
                files.append(f"{split}/{name}.jsonl")
    job.notes["images"] = len(copy.done)
    return files
