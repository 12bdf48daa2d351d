"""`studio export --stats`: what an export of these sessions would hold, who made it, and how far people agree.

- subsets: the three subsets per split (and positive/negative), after the export's filters and
  de-duplication; beside them the preference formats' rows (`pickapic` pairs by source, ties
  left out; `trl-pref` rows by source; `unified_edit` rows by source);
- annotators: per person, the steps whose latest human action is theirs (edits and overrides,
  own refines, accepts/rejects) and their ratings and preferences;
- agreement: for every two people who judged the same things, Cohen's kappa over those things,
  per kind of judgement (thumbs, 1–5 scores, preferences). A preference is the same thing in
  either order and its label is which of the two steps won (or tie), so the order the pair was
  shown in does not count as disagreement. Scores 1–5 are treated as categories (unweighted
  kappa: 4 vs 5 is as much a disagreement as 1 vs 5).

Kappa is computed here (`cohen_kappa`, a few lines checked against worked examples and
scikit-learn's definition) rather than by scikit-learn, which the studio does not otherwise
need. It is undefined (None) when both people gave one and the same label to everything.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any, Iterable

from ..core.domain import Author, Review, Stage
from .output import ImageSource
from .preferences import SCORES, THUMBS, image_pairs, text_pairs
from .reading import read, subset_counts
from .select import TRAIN, VALIDATION, Selection, selection_of


def cohen_kappa(labels: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters' labels for the same items: (p_o - p_e) / (1 - p_e)."""
    n = len(labels)
    if n == 0:
        return None
    observed = sum(1 for a, b in labels if a == b) / n
    first, second = Counter(a for a, _ in labels), Counter(b for _, b in labels)
    expected = sum(first[label] * second[label] for label in first) / (n * n)
    if expected == 1.0:
        return None  # both gave one and the same label to everything: chance explains it all
    return (observed - expected) / (1.0 - expected)


def _subject(j) -> tuple[str, tuple, str] | None:
    """What a judgement is about (kind, item) and its label, comparable across people."""
    if j.kind == "rating":
        scale = "thumbs" if j.value in THUMBS else "score" if j.value in SCORES else None
        return (f"rating-{scale}", (j.step_id,), j.value) if scale else None
    if j.kind == "preference" and j.other_step_id:
        first, second = sorted((j.step_id, j.other_step_id))
        winner = {"left": j.step_id, "right": j.other_step_id}.get(j.value)
        label = "tie" if j.value == "tie" else "first" if winner == first else "second"
        return "preference", (first, second), label
    return None


def agreement(judgements: Iterable) -> list[dict[str, Any]]:
    """Pairwise Cohen's kappa per kind of judgement, over the things both people judged."""
    latest: dict[tuple, tuple[float, str]] = {}  # (kind, item, annotator) -> (time, label)
    for j in judgements:
        subject = _subject(j)
        if subject is not None:
            kind, item, label = subject
            key = (kind, item, j.annotator)
            if key not in latest or latest[key][0] <= j.created_at:
                latest[key] = (j.created_at, label)
    by_kind: dict[str, dict[tuple, dict[str, str]]] = {}
    for (kind, item, annotator), (_, label) in latest.items():
        by_kind.setdefault(kind, {}).setdefault(item, {})[annotator] = label
    rows = []
    for kind in sorted(by_kind):
        items = by_kind[kind]
        people = sorted({a for labels in items.values() for a in labels})
        for a, b in itertools.combinations(people, 2):
            both = [
                (labels[a], labels[b]) for labels in items.values() if a in labels and b in labels
            ]
            if both:
                kappa = cohen_kappa(both)
                rows.append(
                    {
                        "kind": kind,
                        "annotators": [a, b],
                        "items": len(both),
                        "agreed": sum(1 for x, y in both if x == y),
                        "kappa": None if kappa is None else round(kappa, 4),
                    }
                )
    return rows


def _step_action(step) -> str | None:
    """A step's latest human action: a review, a person's own refine, or an edit/override of the model's."""
    if step.review is not None:
        return "accepts" if step.review is Review.ACCEPTED else "rejects"
    if step.author is Author.HUMAN:
        return "refines" if step.stage is Stage.REFINE and not step.original else "edits"
    return None


def annotators(trees: dict, judgements: Iterable) -> dict[str, dict[str, int]]:
    """Per person: steps whose latest human action is theirs (by kind), and their judgements."""
    counts: dict[str, Counter] = {}
    for trajectory, _ in trees.values():
        for step in trajectory.steps.values():
            action = _step_action(step)
            if action:
                counts.setdefault(step.annotator or "", Counter())[action] += 1
    for j in judgements:
        counts.setdefault(j.annotator or "", Counter())[
            {"rating": "ratings"}.get(j.kind, "preferences")
        ] += 1
    return {name: dict(sorted(c.items())) for name, c in sorted(counts.items())}


def compute(store, selection: Selection | None = None, **options: Any) -> dict[str, Any]:
    """The stats of the sessions an export with this `selection` would take (the same reading and
    de-duplication); a script may give `Selection.of`'s keywords instead, as to `export()`."""
    from .formats.unified_edit import collect_edits

    reading = read(store, selection_of(selection, options), ImageSource(store), keep_trees=True)
    subsets, skipped = reading.subsets, [s.session_id for s in reading.skipped]
    trees = {t.session.id: (t, split) for t, split in reading.trees}
    judgements = [j for session_id in trees for j in store.judgements(session_id)]
    pairs, merged = image_pairs(trees, judgements)
    texts = text_pairs(subsets.conflict, subsets.alignment, trees)
    edits = collect_edits(subsets.multi_turn, {k: t for k, (t, _) in trees.items()})
    counts = subset_counts(subsets)
    written = [p for p in pairs if p.label_0 != 0.5]
    counts["pickapic"] = {
        **_by_split(written),
        "ties_left_out": len(pairs) - len(written),
        "duplicates_merged": merged,
        **{
            s: sum(1 for p in written if s in p.sources) for s in ("redraw", "preference", "rating")
        },
    }
    counts["trl-pref"] = {**_by_split(texts), **Counter(t.source for t in texts)}
    counts["unified_edit"] = {**_by_split(edits), **Counter(e.source for e in edits)}
    return {
        "sessions": len(trees),
        "skipped_sessions": skipped,
        "subsets": counts,
        "annotators": annotators(trees, judgements),
        "agreement": agreement(judgements),
    }


def _by_split(items: list) -> dict[str, int]:
    return {s: sum(1 for x in items if x.split == s) for s in (TRAIN, VALIDATION)}


def render(stats: dict[str, Any]) -> list[str]:
    """The stats as plain lines for a terminal."""
    lines = [
        f"{stats['sessions']} sessions"
        + (
            f" ({len(stats['skipped_sessions'])} skipped: image files missing)"
            if stats["skipped_sessions"]
            else ""
        )
    ]
    lines.append("subsets:")
    for name, entry in stats["subsets"].items():
        lines.append(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in entry.items()))
    lines.append("annotators:" if stats["annotators"] else "annotators: none recorded")
    for name, entry in stats["annotators"].items():
        lines.append(
            f"  {name or '(not recorded)'}: " + ", ".join(f"{k} {v}" for k, v in entry.items())
        )
    if not stats["agreement"]:
        lines.append("agreement: no two people judged the same thing")
    else:
        lines.append("agreement (Cohen's kappa on what both judged):")
        for row in stats["agreement"]:
            kappa = (
                "undefined (one label throughout)"
                if row["kappa"] is None
                else f"{row['kappa']:.3f}"
            )
            lines.append(
                f"  {row['kind']}: {' & '.join(row['annotators'])}: kappa {kappa} "
                f"over {row['items']} items ({row['agreed']} agreed)"
            )
    return lines
