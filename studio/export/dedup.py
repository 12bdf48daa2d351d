"""De-duplicating the subsets: one model sample per input, and every distinct human correction.

Two samples with the same input (`key()`: a plan against its prompt, an image by its hash against
an instruction, a trajectory's content) would teach the same thing twice. A person's label beats
the model's, but two people's labels of the same input are two corrections, not duplicates: an
accept of a sketch and a later override of the verdict on it, or overrides of the same plan in two
rounds, all reach the subsets. Only the same correction seen twice (the same step reached through
two branches, or a copy of a session under fresh ids) is dropped: same input, same label and
written text, same person.
"""

from __future__ import annotations

from typing import Any

from .subsets import AlignmentSample, ConflictSample, MultiTurn


def correction(item: Any, key: Any) -> tuple:
    """What makes a human sample (whose input is `key`) the same correction as another: what the
    person said, and who."""
    if isinstance(item, ConflictSample):
        return (key, item.passed, item.critique, item.verdict_annotator)
    if isinstance(item, AlignmentSample):
        said = (item.passed, item.explanation, item.corrective_instruction)
        return (key, item.source, said, item.verdict_annotator)
    if isinstance(item, MultiTurn):  # the text a person wrote is in the key; reviews are not
        return (key, tuple((t.review, t.review_note, t.annotator) for t in item.turns))
    raise TypeError(f"not a subset sample: {type(item).__name__}")


def deduplicate(items: list) -> tuple[list, int]:
    """One sample per input, or every distinct human correction of it; returns (kept, dropped).

    An input's samples keep the place of its first occurrence (its corrections in the order they
    came), so the output order stays fixed from run to run."""
    groups: dict[Any, list] = {}
    said: set[tuple] = set()  # the corrections kept so far
    for item in items:
        key = item.key()
        group = groups.setdefault(key, [])
        if item.human:
            if group and not group[0].human:
                group.clear()  # the model's sample gives way to a person's
            told = correction(item, key)
            if told not in said:
                said.add(told)
                group.append(item)
        elif not group:
            group.append(item)
    kept = [item for group in groups.values() for item in group]
    return kept, len(items) - len(kept)
