"""The export formats by name; each module has `write(job) -> [files]` and is imported only when used.

Parquet formats need pyarrow, which only these modules import, so `studio sessions`
and the other light commands never load it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable

from ...core.domain import StudioError, Trajectory
from ..output import ImageSource
from ..subsets import Subsets

FORMATS = {
    "bagel": "bagel",
    "think-trace": "think_trace",
    "vlm-sft": "vlm_sft",
    "hf": "hf",
    "folder": "folder",
    "unified_edit": "unified_edit",
    "pickapic": "pickapic",
    "trl-pref": "trl_pref",
}


@dataclass
class ExportJob:
    """What a writer gets: the samples (deduplicated, split), the sessions behind them, and where to write."""

    root: Path  # the staging folder being written
    target: str  # where the folder will be once renamed (parquet_info keys are built on it)
    subsets: Subsets
    sessions: list[tuple[Trajectory, str]]  # (trajectory, split) for round-trip formats
    images: ImageSource
    advance: Callable[[int], None] = lambda n: None  # rows written, for progress
    notes: dict = field(default_factory=dict)  # extra manifest entries a writer adds

    @property
    def store(self):
        """The store the images come from (preference formats read its judgements)."""
        return self.images.store

    def judgements(self, tree: Trajectory) -> list:
        """A session's ratings and preferences, oldest first (round-trip formats carry them)."""
        return self.store.judgements(tree.session.id)


def load(name: str) -> ModuleType:
    if name not in FORMATS:
        raise StudioError(f"Unknown export format {name!r}. Formats: {', '.join(FORMATS)}.")
    try:
        return importlib.import_module(f"{__name__}.{FORMATS[name]}")
    except ModuleNotFoundError as error:
        if error.name == "pyarrow":
            raise StudioError(
                f"The {name} format writes parquet, which needs pyarrow: "
                ".venv/bin/pip install pyarrow"
            ) from None
        raise


def rows_total(job: ExportJob, name: str) -> int:
    """How many rows a writer will write (the progress bar's length)."""
    s = job.subsets
    return {
        "bagel": len(s.multi_turn),
        "think-trace": len(s.multi_turn),
        "vlm-sft": len(s.alignment),
        # the edits, and the verdicts beside them
        "unified_edit": len(s.multi_turn) + len(s.alignment),
        "pickapic": len(job.sessions),
        "trl-pref": len(s.conflict) + len(s.alignment),
    }.get(name, len(s.multi_turn) + len(s.conflict) + len(s.alignment) + len(job.sessions))
