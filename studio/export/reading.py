"""Reading stored sessions for an export: the selected sessions' samples, and their de-duplication.

`export()` and `stats.compute()` both read through `read`, so the stats describe exactly what an
export with the same `Selection` would write.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

from ..core import pngmeta
from ..core.domain import ImageRef, StudioError, Trajectory
from .dedup import deduplicate
from .output import ImageSource
from .select import (
    HEX64,
    TRAIN,
    VALIDATION,
    Selection,
    Skipped,
    chosen_branches,
    missing_images,
    select_sessions,
    split_of,
)
from .subsets import Subsets, derive, with_split

OnProgress = Callable[[int, int, str], None]  # (done, total, phase: "reading" | "writing")
SUBSETS = ("multi_turn", "conflict", "alignment")


@dataclass
class Reading:
    subsets: Subsets = field(default_factory=Subsets)  # de-duplicated, each sample with its split
    trees: list[tuple[Trajectory, str]] = field(default_factory=list)  # (tree, split), if kept
    sessions: int = 0  # sessions that gave samples
    skipped: list[Skipped] = field(default_factory=list)
    duplicates: dict[str, int] = field(default_factory=dict)  # dropped per subset


def read(
    store,
    selection: Selection,
    images: ImageSource,
    *,
    keep_trees: bool = False,
    strict: bool = False,
    progress: OnProgress | None = None,
) -> Reading:
    """Every selected session's samples, de-duplicated and split. A session whose image files are
    missing is skipped (or, with `strict`, refused naming the fix); `keep_trees` also keeps each
    read session's whole tree, for the formats that write or pair across them."""
    tell = progress or (lambda done, total, phase: None)
    unstamped = unstamped_sha(images)
    reading = Reading()
    ids = select_sessions(store, selection)
    for index, session_id in enumerate(ids):
        trajectory = store.load(session_id)
        missing = missing_images(store, trajectory)
        if missing:
            if strict:
                example = (
                    store.image_path(missing[0]) if HEX64.match(missing[0]) else repr(missing[0])
                )
                raise StudioError(
                    f"Session {session_id} is missing {len(missing)} image file(s) (e.g. {example}); restore the "
                    "images folder, or drop --strict to skip such sessions."
                )
            reading.skipped.append(Skipped(session_id, "missing image files", missing))
        else:
            chosen = chosen_branches(trajectory, selection)
            if chosen:
                reading.subsets.extend(derive(trajectory, chosen, unstamped))
                reading.sessions += 1
                if keep_trees:
                    reading.trees.append((trajectory, split_of(session_id, selection.val_fraction)))
        tell(index + 1, len(ids), "reading")

    split = lambda session_id: split_of(session_id, selection.val_fraction)  # noqa: E731
    for name in SUBSETS:
        kept, dropped = deduplicate(getattr(reading.subsets, name))
        setattr(reading.subsets, name, with_split(kept, split))
        reading.duplicates[name] = dropped
    return reading


def subset_counts(subsets: Subsets) -> dict[str, dict[str, int]]:
    """Samples per subset and split (and passed/failed labels for the two judged subsets)."""
    counts = {}
    for name in SUBSETS:
        items = getattr(subsets, name)
        entry = {split: sum(1 for x in items if x.split == split) for split in (TRAIN, VALIDATION)}
        if name != "multi_turn":
            entry.update(
                positive=sum(1 for x in items if x.passed),
                negative=sum(1 for x in items if not x.passed),
            )
        counts[name] = entry
    return counts


def unstamped_sha(images: ImageSource) -> Callable[[ImageRef], str]:
    """A final image's hash without its trajectory chunk (= the image it re-saves, if any)."""
    cache: dict[str, str] = {}

    def sha(ref: ImageRef) -> str:
        if ref.sha256 not in cache:
            cache[ref.sha256] = hashlib.sha256(pngmeta.strip(images.read(ref.sha256))).hexdigest()
        return cache[ref.sha256]

    return sha
