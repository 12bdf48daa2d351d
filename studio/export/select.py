"""Which sessions and branches an export takes, and which split each session lands in.

Session-level filters (ids, dates, engine) decide what is read at all; branch-level
filters (human-reviewed, accepted) decide which of a session's branches become data.
The split hashes the session id, so a session's rows never straddle train and
validation, and re-running an export puts every session where it was before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from ..core.domain import Author, Review, Stage, Step, StudioError, Trajectory, last_image

if TYPE_CHECKING:
    from ..store import Store

TRAIN, VALIDATION = "train", "validation"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Selection:
    """Which sessions and branches an export (or its `--stats`) takes, and the validation share.

    Built once from the options people give (`Selection.of`: the CLI's flags, a script's keywords)
    and handed to `export()` and `stats.compute()`, which read through the same `reading.read`.

    Example::

        selection = Selection.of(since="2026-11-27", human_reviewed=True, val_fraction=0.0)
        export(store, "folder", "exports/run1", selection=selection)
    """

    sessions: tuple[str, ...] = ()  # ids or unique prefixes; empty: every session
    since: dt.datetime | None = None  # session created at or after (local time)
    until: dt.datetime | None = None  # session created at or before
    engine: str | None = None
    # only branches a person touched (edit, override, review, own refine)
    human_reviewed: bool = False
    accepted_only: bool = False  # only finished branches whose final image a person accepted
    all_branches: bool = False  # every branch of the tree, not just the head's
    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction <= 1.0:
            raise StudioError(
                f"--val-fraction must be between 0 and 1 (got {self.val_fraction}); e.g. 0.1."
            )
        if self.since and self.until and self.since > self.until:
            raise StudioError("--since is after --until; swap them.")

    @classmethod
    def of(
        cls,
        sessions: Iterable[str] | None = (),
        since: str | dt.datetime | None = None,
        until: str | dt.datetime | None = None,
        engine: str | None = None,
        human_reviewed: bool = False,
        accepted_only: bool = False,
        all_branches: bool = False,
        val_fraction: float = 0.1,
    ) -> "Selection":
        """A selection from the options people give: dates as text are read here (`parse_date`; a
        bare `until` date takes the whole day)."""
        return cls(
            tuple(sessions or ()),  # None, like empty: every session
            parse_date(since),
            parse_date(until, end_of_day=True, option="--until"),
            engine,
            human_reviewed,
            accepted_only,
            all_branches,
            float(val_fraction),
        )

    def describe(self) -> dict:
        """The selection as plain data, for the manifest (so an export says how it was made)."""
        return {
            "sessions": list(self.sessions),
            "engine": self.engine,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "human_reviewed": self.human_reviewed,
            "accepted_only": self.accepted_only,
            "all_branches": self.all_branches,
            "val_fraction": self.val_fraction,
        }


def selection_of(selection: Selection | None, options: dict[str, Any]) -> Selection:
    """`selection`, or one built by `Selection.of` from `options` (a script's keywords, e.g.
    `export(store, "folder", out, val_fraction=0.0)`); giving both is a mistake."""
    if selection is None:
        return Selection.of(**options)
    if options:
        raise TypeError(f"pass a selection or its options ({', '.join(sorted(options))}), not both")
    return selection


def parse_date(
    text: str | dt.datetime | dt.date | None, *, end_of_day: bool = False, option: str = "--since"
) -> dt.datetime | None:
    """`2026-11-27` or `2026-11-27T14:30` (local time); a bare date as --until means the whole day."""
    if text is None or isinstance(text, dt.datetime):
        return text
    if isinstance(text, dt.date):
        value = dt.datetime.combine(text, dt.time())
        bare = True
    else:
        raw = text.strip()
        try:
            value = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise StudioError(
                f"Cannot read {option} {text!r}; give a date like 2026-11-27 or 2026-11-27T14:30."
            ) from None
        bare = len(raw) == 10
    if bare and end_of_day:
        value = value + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    return value


def _timestamp(value: dt.datetime) -> float:
    return value.timestamp()  # naive values are local time, as `studio sessions` shows them


def select_sessions(store: "Store", selection: Selection) -> list[str]:
    """Ids of the sessions the session-level filters keep, sorted (the export's order)."""
    if selection.sessions:
        wanted = {store.resolve_id(s) for s in selection.sessions}
        found = [store.session(i) for i in sorted(wanted)]
    else:
        found, offset, page = [], 0, 1000
        while True:
            batch = store.list_sessions(limit=page, offset=offset)
            found.extend(batch)
            if len(batch) < page:
                break
            offset += page
    since = _timestamp(selection.since) if selection.since else None
    until = _timestamp(selection.until) if selection.until else None
    keep = {
        s.id
        for s in found
        if (selection.engine is None or s.engine == selection.engine)
        and (since is None or s.created_at >= since)
        and (until is None or s.created_at <= until)
    }
    return sorted(keep)


def split_of(session_id: str, val_fraction: float) -> str:
    """A fixed split per session: the first 8 bytes of sha256(id) as a fraction of 2**64."""
    value = int.from_bytes(hashlib.sha256(session_id.encode()).digest()[:8], "big") / 2**64
    return VALIDATION if value < val_fraction else TRAIN


def missing_images(store: "Store", trajectory: Trajectory) -> list[str]:
    """Hashes of the session's images (steps and region masks) whose files are gone or unsafe."""
    missing = set()
    for step in trajectory.steps.values():
        for ref in (step.image, step.region.image if step.region else None):
            if ref is not None and (
                not HEX64.match(ref.sha256) or not store.image_path(ref.sha256).is_file()
            ):
                missing.add(ref.sha256)
    return sorted(missing)


def rejected_before(trajectory: Trajectory, step: Step) -> list[Step]:
    """Rejected attempts at this step's stage, drawn before it from the same parent (its negatives)."""
    return [
        s
        for s in trajectory.children(step.parent_id)
        if s.id != step.id
        and s.stage is step.stage
        and s.review is Review.REJECTED
        and (s.created_at, s.id) < (step.created_at, step.id)
    ]


def _is_redrawn(trajectory: Trajectory, step: Step) -> bool:
    """A rejected image that a later sibling redrew: a negative of that sibling, not a branch of its own."""
    return step.review is Review.REJECTED and any(
        s.stage is step.stage
        and s.review is not Review.REJECTED
        and s.created_at >= step.created_at
        for s in trajectory.children(step.parent_id)
        if s.id != step.id
    )


def branches(trajectory: Trajectory, all_branches: bool) -> list[list[Step]]:
    """The head's branch, or every root-to-leaf branch (oldest leaf first)."""
    if not all_branches:
        return [trajectory.branch()] if trajectory.session.head_id else []
    ends = sorted(
        (s for s in trajectory.leaves() if not _is_redrawn(trajectory, s)),
        key=lambda s: (s.created_at, s.id),
    )
    return [trajectory.branch(s.id) for s in ends]


def touched_by_person(trajectory: Trajectory, branch: list[Step]) -> bool:
    for step in branch:
        if (
            step.author is Author.HUMAN
            or step.review is not None
            or rejected_before(trajectory, step)
        ):
            return True
    return False


def accepted(branch: list[Step]) -> bool:
    """Finished, and a person accepted the final image (on the final step or the image it shows)."""
    if not branch or branch[-1].stage is not Stage.FINAL:
        return False
    shown = last_image(branch[:-1])
    return branch[-1].review is Review.ACCEPTED or bool(shown and shown.review is Review.ACCEPTED)


def chosen_branches(trajectory: Trajectory, selection: Selection) -> list[list[Step]]:
    """The branches of one session that the branch-level filters keep."""
    return [
        b
        for b in branches(trajectory, selection.all_branches)
        if (not selection.human_reviewed or touched_by_person(trajectory, b))
        and (not selection.accepted_only or accepted(b))
    ]


@dataclass
class Skipped:
    session_id: str
    reason: str
    images: list[str] = field(default_factory=list)
