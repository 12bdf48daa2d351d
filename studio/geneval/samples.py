"""A sample of `studio bench geneval` in GenEval's layout: written from its finished session and scored.

The batch worker that finishes a sample's session calls `Finisher` before the item counts as done,
so a done item always has its PNG and record; `collect` gathers the records of the items a run asked
for (writing again any whose files went missing, rescoring any scored by another checker), and
`adopt_earlier_samples` takes over a folder the bench wrote before it was a batch.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..batch.workqueue import DONE, FAILED, WorkQueue
from ..core.domain import Stage, StudioError, rounds_used
from . import checker as checkers
from . import layout


def base_record(
    mode: str, index: int, sample: int, row: dict[str, Any], seed: int
) -> dict[str, Any]:
    return {
        "mode": mode,
        "index": index,
        "sample": sample,
        "tag": row["tag"],
        "prompt": row["prompt"],
        "seed": seed,
    }


def score(checker: checkers.Checker, png: bytes, row: dict[str, Any]) -> dict[str, Any]:
    """The checker's verdict on one image as record fields."""
    if checker.key == "none":
        return {"checker": checker.key, "correct": None, "reason": "not scored", "found": {}}
    verdict = checker.check_png(png, row)
    fields = {
        "checker": checker.key,
        "correct": verdict.correct,
        "reason": verdict.reason,
        "found": verdict.found,
    }
    if checker.key == "offline":
        # the analyser is the loop's own eyes: the painter's record is scored beside it, every time
        truth = checkers.TruthChecker().check_png(png, row)
        fields |= {"truth_correct": truth.correct, "truth_reason": truth.reason}
    return fields


class Finisher:
    """A finished sample into GenEval's layout, scored: called by the batch worker that finished its
    session (before the item counts as done, so a done item always has its files), and by the bench
    for a done sample whose files went missing. Picklable: a worker process makes its own checker."""

    def __init__(self, out: Path, checker_key: str, owl: str | None, clip: str | None):
        self.out, self.checker_key, self.owl, self.clip = out, checker_key, owl, clip
        self._checker: checkers.Checker | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "checker_key": self.checker_key,
            "owl": self.owl,
            "clip": self.clip,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    @property
    def checker(self) -> checkers.Checker:
        with self._lock:
            if self._checker is None:
                self._checker = checkers.make(self.checker_key, self.owl, self.clip)
            return self._checker

    def __call__(self, item: Any, trajectory: Any, store: Any) -> dict[str, Any]:
        return self.write(
            item.mode,
            item.prompt_index,
            item.sample,
            item.row,
            item.seed,
            trajectory,
            store,
            item.attempts,
        )

    def write(
        self,
        mode: str,
        index: int,
        sample: int,
        row: dict[str, Any],
        seed: int,
        trajectory: Any,
        store: Any,
        attempts: int,
    ) -> dict[str, Any]:
        final = trajectory.head()
        if final is None or final.stage is not Stage.FINAL or final.image is None:
            raise StudioError("the session has no final image")
        png = store.image_path(final.image.sha256).read_bytes()
        branch = trajectory.branch()
        record = (
            base_record(mode, index, sample, row, seed)
            | {
                "status": "done",
                "session_id": trajectory.session.id,
                "attempts": attempts,
                "sampling_steps": sum(s.sampling_steps for s in trajectory.steps.values()),
                "rounds": rounds_used(branch),
                "stages": len(trajectory.steps),
                "wall_s": round(sum(s.elapsed_s or 0.0 for s in trajectory.steps.values()), 4),
                "image": str(layout.sample_path(Path(""), mode, index, sample)),
            }
            | score(self.checker, png, row)
        )
        layout.write_record(self.out, record)  # the record first: a PNG never lacks one
        layout.write_sample(self.out, mode, index, sample, png)
        return record


def adopt_earlier_samples(out: Path, queue: WorkQueue, seqs: list[int], store: Any) -> int:
    """A folder the bench wrote before it was a batch: each sample its record says is done (its PNG
    there, its session in this database) becomes a done item with that session, and a sample its
    record says was running carries on in that session, so an upgrade resumes rather than redoes."""
    adopted = 0
    wanted = set(seqs)
    for item in queue.items():
        if item["seq"] not in wanted or item["session_id"] or item["status"] != "todo":
            continue
        mode, index, sample = item["mode"], item["prompt_index"], item["sample"]
        record = layout.read_record(out, mode, index, sample)
        session_id = (record or {}).get("session_id")
        if not isinstance(session_id, str) or not store.has_session(session_id):
            continue
        done = record.get("status") == "done" and layout.is_finished(out, mode, index, sample)
        if done or record.get("status") == "running":
            adopted += queue.adopt(item["seq"], session_id, done)
    return adopted


def collect(
    out: Path, items: list[dict[str, Any]], finisher: Finisher, store: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A scored record for every done item of `items`, and an error record for every failed one. A
    done sample whose record or PNG is missing (or belongs to another session) is written again from
    its session; one scored by another checker (an earlier run with other flags) is scored again."""
    records, errors = [], []
    for item in items:
        mode, index, sample = item["mode"], item["prompt_index"], item["sample"]
        base = base_record(mode, index, sample, item["row"], item["seed"])
        if item["status"] == FAILED:
            errors.append(
                base | {"status": "error", "session_id": item["session_id"], "error": item["error"]}
            )
            continue
        if item["status"] != DONE:
            continue
        record = layout.read_record(out, mode, index, sample)
        try:
            if (
                record is None
                or record.get("status") != "done"
                or record.get("session_id") != item["session_id"]
                or not layout.is_finished(out, mode, index, sample)
            ):
                from ..runner import Runner

                trajectory = Runner(store).open(item["session_id"])
                record = finisher.write(
                    mode,
                    index,
                    sample,
                    item["row"],
                    item["seed"],
                    trajectory,
                    store,
                    item["attempts"],
                )
            elif record.get("checker") != finisher.checker_key:
                record |= score(
                    finisher.checker,
                    layout.sample_path(out, mode, index, sample).read_bytes(),
                    item["row"],
                )
                layout.write_record(out, record)
        except StudioError as error:  # its session was deleted in the studio, say
            errors.append(
                base
                | {
                    "status": "error",
                    "session_id": item["session_id"],
                    "error": f"cannot write it from its session: {error}",
                }
            )
            continue
        records.append(record)
    return records, errors
