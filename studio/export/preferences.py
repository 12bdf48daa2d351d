"""Preference pairs: which of two images a person preferred, and which of two texts.

Image pairs (the `pickapic` format, and `--stats`) come from three places:
- `redraw`: a rejected sketch or refine against its redraw (same parent, same stage), the redraw
  preferred — the reject said "not this" — unless a person rejected or failed the redraw too;
- `preference`: a person's left/right/tie judgement of two image steps;
- `rating`: two images rated by the same person on the same scale (thumbs, or 1–5), drawn for
  the same text at the same stage and round (finals: the same prompt), in sessions of the same
  split; the higher rating wins, equal ratings make no pair.
A pair names its caption: the session's prompt for finals, else the plan's `<des>` (the scene
the image was drawn for), or the prompt where the two images' descriptions differ. The same two
images with the same winner, from any sources or people, are one pair naming all of them.

Text pairs (the `trl-pref` format) come from the subsets: a model's full verdict against the
person's override of it (both checks each, as the engine's `read_verdict` reads them, asked with
the engine's inspect context and the image), and a model's plan against the person's edit (the
model's values are kept in `Step.original`), asked with the engine's plan context.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Iterable

from ..core import protocol
from ..core.codec import original_to_dict
from ..core.domain import (
    Check,
    Review,
    Stage,
    Step,
    Trajectory,
    last,
    last_image,
    overridden_checks,
)
from ..engines.bagel import transcript
from .formats.vlm_sft import inspect_question
from .provenance import person_verdicts, plan_target, plans_failed
from .select import rejected_before
from .subsets import AlignmentSample, ConflictSample

REDRAW, PREFERENCE, RATING = "redraw", "preference", "rating"
IMAGE_STAGES = (Stage.SKETCH, Stage.REFINE, Stage.FINAL)
THUMBS = {"down": 0, "up": 1}
SCORES = {str(n): n for n in range(1, 6)}
UNKNOWN = ""  # the annotator of a step no person is recorded on (made without logins)


def annotator_of(step: Step) -> str:
    return step.annotator or UNKNOWN


@dataclass(frozen=True)
class ImagePair:
    """Two images of one caption and which a person preferred (label_0: 1.0 the first, 0.0 the second, 0.5 tie)."""

    caption: str
    prompt: str
    split: str
    image_0: Step
    image_1: Step
    label_0: float
    sources: tuple[str, ...]
    annotators: tuple[str, ...]
    judgement_ids: tuple[str, ...] = ()
    session_ids: tuple[str, ...] = ()

    def key(self) -> tuple:
        shas = tuple(sorted((self.image_0.image.sha256, self.image_1.image.sha256)))
        winner = (
            "tie"
            if self.label_0 == 0.5
            else (self.image_0 if self.label_0 == 1.0 else self.image_1).image.sha256
        )
        return self.caption, shas, winner


def _sorted_union(*parts: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(itertools.chain(*parts))))


def _merge(kept: ImagePair, other: ImagePair) -> ImagePair:
    return replace(
        kept,
        sources=_sorted_union(kept.sources, other.sources),
        annotators=_sorted_union(kept.annotators, other.annotators),
        judgement_ids=_sorted_union(kept.judgement_ids, other.judgement_ids),
        session_ids=_sorted_union(kept.session_ids, other.session_ids),
    )


def deduplicate_pairs(pairs: Iterable[ImagePair]) -> tuple[list[ImagePair], int]:
    """One pair per (caption, the two images, winner); the first keeps its order and gains the others' names."""
    chosen: dict[tuple, int] = {}
    kept: list[ImagePair] = []
    dropped = 0
    for pair in pairs:
        key = pair.key()
        if key in chosen:
            kept[chosen[key]] = _merge(kept[chosen[key]], pair)
            dropped += 1
        else:
            chosen[key] = len(kept)
            kept.append(pair)
    return kept, dropped


def caption_of(trajectory: Trajectory, step: Step) -> str:
    """The text an image was drawn for: the prompt for a final, else its plan's `<des>` (or the prompt)."""
    if step.stage is Stage.FINAL:
        return trajectory.session.prompt
    plan = last(trajectory.branch(step.id)[:-1], Stage.PLAN)
    return (plan.description if plan and plan.description else None) or trajectory.session.prompt


def _pair(
    trees: dict[str, tuple[Trajectory, str]],
    first: Step,
    second: Step,
    label_0: float,
    source: str,
    annotators: Iterable[str],
    judgement_ids: tuple[str, ...] = (),
) -> ImagePair | None:
    if first.image is None or second.image is None or first.image.sha256 == second.image.sha256:
        return None  # nothing to prefer between identical (or missing) images
    (t0, split), (t1, _) = trees[first.session_id], trees[second.session_id]
    caption0, caption1 = caption_of(t0, first), caption_of(t1, second)
    caption = caption0 if caption0 == caption1 else t0.session.prompt
    return ImagePair(
        caption,
        t0.session.prompt,
        split,
        first,
        second,
        label_0,
        (source,),
        _sorted_union(a for a in annotators),
        judgement_ids,
        _sorted_union([first.session_id, second.session_id]),
    )


def redraw_pairs(trees: dict[str, tuple[Trajectory, str]]) -> list[ImagePair]:
    """Each rejected image against a later redraw of it that no person rejected or marked wrong."""
    pairs = []
    for trajectory, _ in trees.values():
        for step in trajectory.steps.values():
            if step.stage not in (Stage.SKETCH, Stage.REFINE) or step.review is Review.REJECTED:
                continue
            before = rejected_before(trajectory, step)
            if not before or step.image is None:
                continue
            said = person_verdicts(trajectory, trajectory.branch(step.id))
            if step.image.sha256 in said.wrong_images:
                continue
            for rejected in before:
                pair = _pair(
                    trees,
                    rejected,
                    step,
                    0.0,
                    REDRAW,
                    [annotator_of(rejected), annotator_of(step)],
                )
                if pair:
                    pairs.append(pair)
    return pairs


def _latest(judgements: Iterable) -> list:
    """A person's latest judgement of each thing (the store keeps one; this guards a hand-made list)."""
    latest: dict[tuple, object] = {}
    for j in sorted(judgements, key=lambda j: (j.created_at, j.id)):
        latest[(j.annotator, j.kind, frozenset((j.step_id, j.other_step_id)))] = (
            j  # either order: one subject
        )
    return list(latest.values())


def _step(
    trees: dict[str, tuple[Trajectory, str]], session_id: str, step_id: str | None
) -> Step | None:
    tree = trees.get(session_id)
    step = tree[0].steps.get(step_id) if tree and step_id else None
    return (
        step if step is not None and step.stage in IMAGE_STAGES and step.image is not None else None
    )


def preference_pairs(
    trees: dict[str, tuple[Trajectory, str]], judgements: Iterable
) -> list[ImagePair]:
    pairs = []
    for j in _latest(x for x in judgements if x.kind == "preference"):
        left, right = (
            _step(trees, j.session_id, j.step_id),
            _step(trees, j.session_id, j.other_step_id),
        )
        label = {"left": 1.0, "right": 0.0, "tie": 0.5}.get(j.value)
        if left and right and label is not None:
            pair = _pair(trees, left, right, label, PREFERENCE, [j.annotator], (j.id,))
            if pair:
                pairs.append(pair)
    return pairs


def _rating_group(trees, step: Step, value: str) -> tuple | None:
    scale = "thumbs" if value in THUMBS else "score" if value in SCORES else None
    if scale is None:
        return None
    trajectory, split = trees[step.session_id]
    where = None if step.stage is Stage.FINAL else step.round
    return split, caption_of(trajectory, step), step.stage.value, where, scale


def rating_pairs(trees: dict[str, tuple[Trajectory, str]], judgements: Iterable) -> list[ImagePair]:
    """Within one person's ratings of images drawn for the same text, stage and round: higher beats lower."""
    groups: dict[tuple, list[tuple[Step, int, str]]] = {}
    for j in _latest(x for x in judgements if x.kind == "rating"):
        step = _step(trees, j.session_id, j.step_id)
        group = _rating_group(trees, step, j.value) if step else None
        if group:
            groups.setdefault((j.annotator, *group), []).append(
                (step, {**THUMBS, **SCORES}[j.value], j.id)
            )
    pairs = []
    for (annotator, *_), rated in groups.items():
        rated.sort(key=lambda r: (r[0].created_at, r[0].id))
        for (a, va, ja), (b, vb, jb) in itertools.combinations(rated, 2):
            if va != vb:
                pair = _pair(trees, a, b, 1.0 if va > vb else 0.0, RATING, [annotator], (ja, jb))
                if pair:
                    pairs.append(pair)
    return pairs


def image_pairs(
    trees: dict[str, tuple[Trajectory, str]], judgements: Iterable
) -> tuple[list[ImagePair], int]:
    """Every image pair of these sessions, de-duplicated; returns (pairs, duplicates merged)."""
    judgements = list(judgements)
    return deduplicate_pairs(
        redraw_pairs(trees) + preference_pairs(trees, judgements) + rating_pairs(trees, judgements)
    )


# -- text pairs ---------------------------------------------------------------------------------

PLAN_EDIT, PLAN_CRITIQUE, SKETCH_CRITIQUE = "plan-edit", "plan-critique", "sketch-critique"
VERDICT_CRITIQUE = "verdict-critique"  # a person overrode both checks


@dataclass(frozen=True)
class TextPair:
    """A question, the person's answer (chosen) and the model's (rejected); `image` for the VLM case."""

    id: str
    session_id: str
    split: str
    source: str
    step_id: str
    annotator: str
    question: str
    chosen: str
    rejected: str
    image: object = None  # an ImageRef
    model_original: dict = field(default_factory=dict)


def plan_question(trajectory: Trajectory, plan: Step) -> str:
    """What the engine asks a planner, as text: its system text, the prompt line, the texts of the
    branch before the plan as its context holds them, and the plan request."""
    session = trajectory.session
    parts = list(transcript.root_texts(session))
    for step in trajectory.branch(plan.id)[:-1]:
        parts += [s.text for s in transcript.segments(step, session) if s.kind == "text"]
    parts.append(transcript.requests(session, plan.round)[Stage.PLAN])
    return "\n".join(parts)


def _sources(step: Step) -> str:
    changed = overridden_checks(step)
    if changed == ["plan_check"]:
        return PLAN_CRITIQUE
    return SKETCH_CRITIQUE if changed == ["sketch_check"] else VERDICT_CRITIQUE


def _verdict_pairs(
    conflicts: list[ConflictSample],
    alignments: list[AlignmentSample],
    trees: dict[str, tuple[Trajectory, str]],
) -> list[TextPair]:
    """The person's full verdict (chosen) against the model's (rejected), one per overridden inspect,
    asked with the engine's inspect context and the image it judged."""
    found = [(c.session_id, c.id, c.split) for c in conflicts] + [
        (a.session_id, a.verdict_step_id, a.split) for a in alignments if a.verdict_step_id
    ]
    pairs, seen = [], set()
    for session_id, step_id, split in found:
        tree = trees.get(session_id)
        step = tree[0].steps.get(step_id) if tree else None
        if step is None or step.id in seen or not overridden_checks(step):
            continue
        seen.add(step.id)
        model = {n: step.original.get(n, getattr(step, n)) for n in ("plan_check", "sketch_check")}
        before = tree[0].branch(step.id)[:-1]
        shown = last_image(before)
        if any(not isinstance(c, Check) for c in model.values()) or shown is None:
            continue  # the model's verdict could not be read, or no image was judged
        if step.plan_check is None or step.sketch_check is None:
            continue
        chosen = protocol.verdict_text(step.plan_check, step.sketch_check)
        rejected = protocol.verdict_text(model["plan_check"], model["sketch_check"])
        if chosen != rejected:
            pairs.append(
                TextPair(
                    f"{step.id}:{_sources(step)}",
                    session_id,
                    split,
                    _sources(step),
                    step.id,
                    annotator_of(step),
                    inspect_question(tree[0].session, last(before, Stage.PLAN)),
                    chosen,
                    rejected,
                    image=shown.image,
                    model_original=original_to_dict(
                        {n: step.original[n] for n in overridden_checks(step)}
                    ),
                )
            )
    return pairs


def _plan_pairs(
    conflicts: list[ConflictSample], trees: dict[str, tuple[Trajectory, str]]
) -> list[TextPair]:
    """A person's plan edit (chosen) against the model's plan (rejected); none for a plan a person
    then failed (the chosen side is learned)."""
    pairs, seen, failed = [], set(), {}
    for c in conflicts:
        tree = trees.get(c.session_id)
        plan = tree[0].steps.get(c.plan_step_id) if tree else None
        if (
            plan is None
            or plan.id in seen
            or not ({"instruction", "description"} & set(plan.original))
        ):
            continue
        if c.session_id not in failed:
            failed[c.session_id] = plans_failed(tree[0])
        if plan.id in failed[c.session_id]:
            continue
        seen.add(plan.id)
        model = replace(
            plan, **{k: v for k, v in plan.original.items() if k in ("instruction", "description")}
        )
        chosen, rejected = plan_target(plan), plan_target(model)
        if chosen != rejected:
            pairs.append(
                TextPair(
                    f"{plan.id}:{PLAN_EDIT}",
                    c.session_id,
                    c.split,
                    PLAN_EDIT,
                    plan.id,
                    annotator_of(plan),
                    plan_question(tree[0], plan),
                    chosen,
                    rejected,
                    model_original={
                        k: plan.original[k]
                        for k in ("instruction", "description")
                        if k in plan.original
                    },
                )
            )
    return pairs


def text_pairs(
    conflicts: list[ConflictSample],
    alignments: list[AlignmentSample],
    trees: dict[str, tuple[Trajectory, str]],
) -> list[TextPair]:
    """Person vs model: plan edits and verdict overrides of the (de-duplicated) subsets, in their order."""
    return _plan_pairs(conflicts, trees) + _verdict_pairs(conflicts, alignments, trees)
