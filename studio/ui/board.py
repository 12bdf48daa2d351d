"""What the page shows, as named data: the session, one card per step, the branch tree.

`board()` is the one place a trajectory becomes a view. The same dict is the reply of
every HTTP endpoint (`gradio_client` users read `view["session"]["version"]`, not
`view[1]`) and what the page's script draws. Cards are keyed by a hash of their
content, so a page that already holds a card (it says which keys it has) is sent
only the cards that are new or changed, and no tree at all: steps are never removed from a
session, so the page's tree is the cards it holds plus those sent, and its branch is the path to
the session's head (static/core.js `apply`). The branch list travels only when it changed (the page
holds it under a key of its own). A Step's bytes are then what the Step added, whatever the
session's size. Images travel as URLs by hash the browser caches (they are content-addressed).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from ..core.codec import check_to_view, original_to_dict
from ..core.domain import (
    Author,
    Judgement,
    Review,
    Stage,
    Step,
    Trajectory,
    last_image,
    person_input,
    rounds_used,
    unchanged,
)
from ..store import Store

PREVIEW_SIDE = 256  # live previews are sent inline, small
BRANCHES_KEY = "branches:"  # how a page says which branch list it holds, beside its card keys
STAGE_WORDS = {Stage.INSPECT: "verdict"}  # a stage as a person names it; the others by their value


def image_url(sha256: str) -> str:
    """The studio's own URL of an image, by its hash (`studio.ui.routes`: served only to a viewer who
    may see a session holding it); it names no server path, and the browser caches it."""
    return f"/studio/image/{sha256}.png"


def card(
    store: Store, trajectory: Trajectory, step: Step, judgements: Iterable[Judgement] = ()
) -> dict[str, Any]:
    """Everything the page needs to draw one step, in its storyboard row and in the tree; `judgements`
    are the ratings and preferences people gave on it (each with its annotator)."""
    data: dict[str, Any] = {
        "id": step.id,
        "parent": step.parent_id,
        "stage": step.stage.value,
        "round": step.round,
        "author": step.author.value,
        "annotator": step.annotator,
        "judgements": [
            {
                "kind": j.kind,
                "value": j.value,
                "note": j.note,
                "annotator": j.annotator,
                "side": "left" if j.step_id == step.id else "right",
                "other": j.other_step_id if j.step_id == step.id else j.step_id,
            }
            for j in judgements
        ],
        "review": step.review.value if step.review else None,
        "review_note": step.review_note or "",
        "seed": step.seed,
        "sampling_steps": step.sampling_steps,
        "elapsed": round(step.elapsed_s, 2) if step.elapsed_s is not None else None,
        "created": step.created_at,
        "children": len(trajectory.children(step.id)),
    }
    # the person's note this model step answered, and what it did with it
    given = person_input(step)
    if given is not None:
        data["person_input"] = {
            "kind": given.kind,
            "text": given.text,
            "used": given.used,
            "note": given.note,
        }
    if unchanged(step):  # a refine that changed nothing: no round of progress
        data["unchanged"] = unchanged(step)
    if step.stage in (Stage.PLAN, Stage.REFINE):
        data["instruction"] = step.instruction or ""
    if step.stage is Stage.PLAN:
        data.update(description=step.description or "", complete=bool(step.complete))
    if step.stage is Stage.INSPECT:
        data.update(
            plan_check=_findings(check_to_view(step.plan_check)),
            sketch_check=_findings(check_to_view(step.sketch_check)),
            passed=step.passed,
            unreadable=str((step.meta or {}).get("error") or ""),
        )  # the model's verdict could not be read
        judged = _judged(trajectory, step)
        if judged is not None:
            data.update(
                image=image_url(judged.image.sha256),
                judged=judged.id,
                width=judged.image.width,
                height=judged.image.height,
            )
    if step.image is not None:
        data.update(
            image=image_url(step.image.sha256),
            width=step.image.width,
            height=step.image.height,
        )
        data["labels"] = _labels(step.meta) or _labels_before(trajectory, step)
    if step.region is not None:
        data["region"] = image_url(step.region.image.sha256)
    if step.original:
        data["original"] = original_to_dict(step.original, checks=check_to_view)
    data["key"] = hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[
        :12
    ]
    return data


def _findings(check: dict[str, Any] | None) -> dict[str, Any] | None:
    """A verdict's boxes, each with its own finding: a label "green teapot: should be left of the red
    cup" is evidence of a problem (`wrong`), drawn as the sentence "The green teapot should be left of
    the red cup."; a plain name ("red cup") is an object found as it should be."""
    for box in (check or {}).get("evidence", ()):
        name, _, what = str(box.get("label") or "").partition(": ")
        box["wrong"] = bool(what.strip())
        if box["wrong"]:
            box["label"] = f"The {name.strip()} {what.strip().rstrip('.')}."
    return check


def _labels(meta: dict[str, Any] | None) -> list[dict[str, Any]]:
    """What the image holds as the engine says (`meta["canvas"]`: everything on the canvas, else
    `meta["drawn"]`: what this step drew; class, colour, box), for the canvas's optional name overlay.

    Names live beside the image, never in it: the inspector must judge what a viewer sees.
    """
    labels = []
    meta = meta or {}
    for item in meta.get("canvas") or meta.get("drawn") or []:
        box = item.get("box") if isinstance(item, dict) else None
        if (
            isinstance(box, (list, tuple))
            and len(box) == 4
            and all(isinstance(v, (int, float)) for v in box)
        ):
            name = " ".join(str(item[k]) for k in ("color", "class") if item.get(k))
            labels.append({"label": name, "box": list(box)})
    return labels


def _labels_before(trajectory: Trajectory, step: Step) -> list[dict[str, Any]]:
    """A final's names: those of the image it re-saves (the last image before it on its branch)."""
    if step.stage is not Stage.FINAL or not step.parent_id:
        return []
    shown = last_image(trajectory.branch(step.parent_id))
    return _labels(shown.meta) if shown is not None else []


def people_off_head(trajectory: Trajectory) -> bool:
    """Whether a person acted on a step that is not on the head branch (an override, an edit, a
    review, their own refine on another branch): the page's export then offers every branch."""
    if not trajectory.session.head_id:
        return False
    head = {s.id for s in trajectory.branch()}
    return any(
        (s.author is Author.HUMAN or s.review is not None) and s.id not in head
        for leaf in trajectory.leaves()
        if leaf.review is not Review.REJECTED
        for s in trajectory.branch(leaf.id)
    )


def _judged(trajectory: Trajectory, inspect: Step) -> Step | None:
    """The image a verdict judged: the last image on its branch before it."""
    for step in reversed(trajectory.branch(inspect.parent_id) if inspect.parent_id else []):
        if step.image is not None:
            return step
    return None


def status(trajectory: Trajectory | None) -> dict[str, Any]:
    """Where the session stands, for the status line and for which buttons can act."""
    if trajectory is None or trajectory.session.head_id is None:
        return {"state": "new", "steps": 0, "rounds": 0, "finished": False}
    branch = trajectory.branch()
    head = branch[-1]
    finished = head.stage is Stage.FINAL
    return {
        "state": "finished" if finished else f"after {head.stage.value}",
        "steps": len(branch),
        "rounds": rounds_used(branch),
        "finished": finished,
    }


def branches(trajectory: Trajectory) -> list[dict[str, Any]]:
    """Every branch, oldest first, named by what started it; rejected dead ends are not branches.

    `started` says what made the branch: `what` ("reject R2 sketch", "edit R3 plan", "rewind to
    R1 plan"; "the first run" for the oldest) and `by`, the person who did it (None: the model, or a
    rewind, which records no person); the page writes "you" where `by` is the viewer. `from` is the
    number of the branch it left (None for the first).
    """
    leaves = sorted(
        (s for s in trajectory.leaves() if s.review is not Review.REJECTED),
        key=lambda s: (s.created_at, s.id),
    )
    out: list[dict[str, Any]] = []
    owner: dict[str, int] = {}  # step id -> the number of the oldest branch through it
    for number, leaf in enumerate(leaves, start=1):
        path = trajectory.branch(leaf.id)
        own = next((s for s in path if s.id not in owner), None)
        parent = trajectory.steps.get(own.parent_id) if own and own.parent_id else None
        started = _started(trajectory, own, parent) if number > 1 and own else None
        for step in path:
            owner.setdefault(step.id, number)
        by = f"{started['by']}: " if started and started["by"] else ""
        what = started["what"] if started else "the first run"
        out.append(
            {
                "leaf": leaf.id,
                "number": number,
                "steps": len(path),
                "ends": leaf.stage.value,
                "ends_round": leaf.round,
                "image": image_url(leaf.image.sha256) if leaf.image is not None else None,
                "started": started or {"what": "the first run", "by": None},
                "from": owner.get(parent.id) if parent else None,
                "label": f"Branch {number} · {by}{what} · {len(path)} "
                f"{'step' if len(path) == 1 else 'steps'} · ends with {leaf.stage.value}",
            }
        )
    return out


def _stage_word(step: Step) -> str:
    return STAGE_WORDS.get(step.stage, step.stage.value)


def _started(trajectory: Trajectory, own: Step, parent: Step | None) -> dict[str, Any]:
    """What made `own`, a branch's first step of its own: a person's edit, override or refine
    (the step is theirs), a reject & redraw (a rejected sibling before it), or a rewind."""
    if own.author is Author.HUMAN:
        verbs = {
            Stage.PLAN: f"edit R{own.round} plan",
            Stage.INSPECT: f"override R{own.round} verdict",
            Stage.REFINE: f"refine R{own.round}",
        }
        return {
            "what": verbs.get(own.stage, f"{_stage_word(own)} R{own.round}"),
            "by": own.annotator,
        }
    rejected = [
        s
        for s in trajectory.children(own.parent_id)
        if s.id != own.id and s.review is Review.REJECTED and s.created_at <= own.created_at
    ]
    if rejected:
        last = rejected[-1]
        return {"what": f"reject R{last.round} {_stage_word(last)}", "by": last.annotator}
    if parent is not None:
        return {"what": f"rewind to R{parent.round} {_stage_word(parent)}", "by": None}
    return {"what": "start again", "by": None}


@dataclass
class View:
    """The reply of every action: named fields, merged by the page in one place (static/core.js `apply`)."""

    session: dict[str, Any] | None = None
    # only the cards the page does not have yet
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    # [step id, card key] for every step, in tree order
    tree: list[list[str]] = field(default_factory=list)
    branch: list[str] = field(default_factory=list)  # the head branch's step ids, root first
    branches: list[dict[str, Any]] = field(default_factory=list)
    selected: str | None = None
    note: str = ""  # what just happened, in words
    error: str | None = None  # one line for a toast; the rest of the view is still valid
    conflict: str | None = None
    running: bool = False
    progress: dict[str, Any] | None = None
    preview: str | None = None  # a small data URL while a sketch is being drawn
    full: bool = True  # False: a partial update (progress or preview only)
    branches_key: str = ""  # the key a page holding `branches` sends back (BRANCHES_KEY + it)
    # What the page already holds and is not sent again (`to_dict`): "tree" (the page sent card keys:
    # its tree is its cards plus those sent, its branch the path to the head) and "branches".
    held: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The view as sent: `tree` and `branch` are None when the page holds the session (it derives
        them), `branches` is None when the page holds this very list."""
        out = asdict(self)
        del out["held"]
        if "tree" in self.held:
            out["tree"] = out["branch"] = None
        if "branches" in self.held:
            out["branches"] = None
        return out


def board(
    store: Store,
    trajectory: Trajectory | None,
    *,
    have: Iterable[str] = (),
    selected: str | None = None,
    note: str = "",
) -> View:
    """The view of a trajectory, leaving out the cards whose keys the page already has."""
    if trajectory is None:
        return View(note=note)
    session = trajectory.session
    have = set(have or ())
    cards, tree = {}, []
    judged = judgements_by_step(store, session.id)
    for step in trajectory.tree_order():
        data = card(store, trajectory, step, judged.get(step.id, ()))
        tree.append([step.id, data["key"]])
        if data["key"] not in have:
            cards[step.id] = data
    branch = [s.id for s in trajectory.branch()] if session.head_id else []
    if selected not in trajectory.steps:
        selected = branch[-1] if branch else None
    listed = branches(trajectory)
    key = hashlib.sha1(json.dumps(listed, sort_keys=True).encode()).hexdigest()[:12]
    held = ("tree",) if have - {BRANCHES_KEY + key} else ()
    held += ("branches",) if BRANCHES_KEY + key in have else ()
    return View(
        session={
            "id": session.id,
            "title": session.title,
            "prompt": session.prompt,
            "engine": session.engine,
            "seed": session.seed,
            "version": session.version,
            "mode": session.settings.mode.value,
            "max_rounds": session.settings.max_rounds,
            "params": session.settings.engine_params,
            "head": session.head_id,
            "created": session.created_at,
            "updated": session.updated_at,
            "owner": session.owner,
            "shared": session.shared,
            "people_off_head": people_off_head(trajectory),
            **status(trajectory),
        },
        cards=cards,
        tree=tree,
        branch=branch,
        branches=listed,
        branches_key=key,
        held=held,
        selected=selected,
        note=note,
    )


def judgements_by_step(store: Store, session_id: str) -> dict[str, list[Judgement]]:
    """A session's ratings and preferences, under each step they name (a preference under both)."""
    out: dict[str, list[Judgement]] = {}
    for judgement in store.judgements(session_id):
        for step_id in {judgement.step_id, judgement.other_step_id} - {None}:
            out.setdefault(step_id, []).append(judgement)
    return out


def preview_url(image: Any) -> str:
    """A live preview as a small inline JPEG: no file is written for a picture that lives a second."""
    small = image.convert("RGB")
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
