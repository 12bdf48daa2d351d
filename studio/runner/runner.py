"""The runner owns the loop (plan → sketch → inspect → refine) and every human action on it.

It asks an engine for one stage at a time and commits the result before anything
else happens; a person's edit, accept, reject, override, refine or fork is an
operation here too, committed the moment it is made. No database transaction is
ever open while a model runs: the store's writes are short and happen after the
engine returns. A process killed mid-stage loses only that stage; `run` on the
reopened session carries on from the last committed step.

A person's change keeps the model's original beside it, and forks rather than rewrites a step
something was already built on, so no branch loses what it was made from. A judgement (a rating,
a preference) is a row of its own, not part of the session's tree: it never bumps the session's
version, so rating in one tab never makes another tab's next edit a conflict.

The UI, the CLI and the HTTP API all call these methods; none holds logic of its own. Every
human action takes `by`, the person doing it (a login's name or Person; None: the local user),
recorded on the step it changes (`Step.annotator`) or on the judgement it makes.

Example usage (the offline engine needs no model download):

    runner = Runner(Store("sqlite:///sessions/studio.db"))
    trajectory = runner.new_session("a red cup on a wooden table", engine="offline", seed=7)
    outcome = runner.run(trajectory, PausePolicy.AT_INSPECT)  # stops after the first verdict
    verdict = runner.target(trajectory, None, Stage.INSPECT)
    runner.override(trajectory, verdict.id, sketch_passed=False, sketch_critique="the cup is blue")
    runner.run(trajectory)  # the loop refines from the overridden verdict to the final image
    final = runner.target(trajectory, None, Stage.FINAL)
    runner.rate(trajectory, final.id, "up", by="ana")
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import random
import time
from dataclasses import dataclass
from typing import Any, Callable

from .. import engines as registry
from ..core import limits
from ..core.domain import (
    PERSON_INPUT,
    UNCHANGED,
    Author,
    Check,
    Judgement,
    Person,
    PersonInput,
    Region,
    Review,
    RunSettings,
    Session,
    Stage,
    Step,
    StudioError,
    Trajectory,
    last,
    last_image,
    local_user,
    may_share,
    new_id,
    next_stage,
    overridden_checks,
    stage_round,
)
from ..core.pngmeta import save_final_image
from ..core.protocol import UnreadableText
from ..engines.base import Cancelled, CancelToken, Engine, Progress, StageContext
from ..store import Store


class PausePolicy(str, enum.Enum):
    """When `Runner.run` stops for a person to look."""

    EVERY_STAGE = "every"  # stop after each stage for a person to look
    AT_INSPECT = "inspect"  # stop after each verdict (to override it or write a refine)
    NEVER = "never"


@dataclass(frozen=True)
class Event:
    """What the runner tells a listener (a terminal, a browser) as a stage runs."""

    kind: str  # "started" | "progress" | "committed"
    stage: Stage
    step: Step | None = None
    progress: Progress | None = None


Listener = Callable[[Event], None]


@dataclass(frozen=True)
class Outcome:
    """Where `Runner.run` stopped, and the last step it committed."""

    status: str  # "finished" | "paused" | "cancelled"
    step: Step | None  # the last step committed


def seed_for(session_seed: int, depth: int, attempt: int) -> int:
    """A stage's seed: reproducible from the session seed, different for each retry."""
    digest = hashlib.sha256(f"{session_seed}:{depth}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def author_name(by: str | Person | None) -> str:
    """The name recorded for a human action: the person's (checked: text, no control characters), or the
    local user's when nobody logged in."""
    if by is None:
        return local_user()
    return limits.person_name(by.name if isinstance(by, Person) else by)


def find_step(trajectory: Trajectory, step_id: str, *stages: Stage) -> Step:
    """The step `step_id` of this session, refused in one line when it is not there or (with `stages`)
    not of a kind the action works on."""
    step = trajectory.steps.get(step_id)
    if step is None:
        raise StudioError(f"Step {step_id} is not part of session {trajectory.session.id[:8]}.")
    if stages and step.stage not in stages:
        wanted = " or ".join(s.value for s in stages)
        raise StudioError(f"That is a {step.stage.value} step; this action needs a {wanted} step.")
    return step


def image_step(trajectory: Trajectory, step_id: str) -> Step:
    """A step a person may judge: a sketch, refine or final that has its image."""
    step = find_step(trajectory, step_id, Stage.SKETCH, Stage.REFINE, Stage.FINAL)
    if step.image is None:
        raise StudioError("That step has no image yet; judge it once its image is drawn.")
    return step


def correction_for(
    stage: Stage, branch: list[Step], rejected: list[Step], instruction: str | None
) -> PersonInput | None:
    """The person's correction a model stage must answer, read from the steps as stored: the reason of
    the image just rejected (for its redraw, a person's own refine included), the verdict a person
    overrode (for the model's refine that answers it), the plan a person edited (for the sketch that draws
    it). None when the stage answers none."""
    if rejected and rejected[-1].stage is stage and rejected[-1].review_note:
        return PersonInput("reason", rejected[-1].id, rejected[-1].review_note)
    if instruction is not None:
        return None
    tail = branch[-1] if branch else None
    if tail is None:
        return None
    if stage is Stage.REFINE and tail.stage is Stage.INSPECT:
        failing = [
            getattr(tail, name)
            for name in overridden_checks(tail)
            if getattr(tail, name) is not None and not getattr(tail, name).passed
        ]
        if failing:
            text = " ".join(check.critique or "no" for check in failing)
            return PersonInput("verdict", tail.id, text)
    if stage is Stage.SKETCH and tail.stage is Stage.PLAN and tail.author is Author.HUMAN:
        edited = [name for name in ("instruction", "description") if name in tail.original]
        if edited:
            text = "\n".join(str(getattr(tail, name) or "") for name in edited)
            return PersonInput("plan", tail.id, text)
    return None


class Runner:
    """The loop and every human action on a session, over one store.

    Sections, in order: sessions (new, open, rename, share); the loop (advance, run, and the commit
    every change goes through); finding a step; changes that run no model (edit a plan, override a
    verdict, accept, switch branch, fork); changes that draw (reject, refine); judgements (rate,
    prefer). Every method that changes a session commits before it returns.
    """

    def __init__(self, store: Store):
        self.store = store

    # -- sessions ---------------------------------------------------------------------------

    def new_session(
        self,
        prompt: str,
        engine: str = registry.DEFAULT_ENGINE,
        seed: int | None = None,
        settings: RunSettings | None = None,
        title: str | None = None,
        tags: tuple[str, ...] = (),
        session_id: str | None = None,
        owner: str | Person | None = None,
    ) -> Trajectory:
        """`session_id`: an id chosen beforehand (a batch item names its session before it exists, so a
        worker that takes over a dead one's item finds or creates that very session, never a second).
        `owner`: who started it (default: the local user); it stays private to them until shared."""
        # The boundary's one prompt check, for callers that come without it (a batch item, a script).
        prompt = limits.prompt(prompt)
        settings = settings or RunSettings()
        if settings.max_rounds < 1:
            raise StudioError("Rounds must be at least 1.")
        # Load the engine and check its settings first: a session is only created when its first
        # stage can start (no 0-step sessions from an engine this install cannot run).
        settings = dataclasses.replace(
            settings, engine_params=registry.check_params(engine, settings.engine_params)
        )
        session = Session(
            id=session_id or new_id(),
            prompt=prompt,
            engine=engine,
            seed=random.SystemRandom().randrange(2**31) if seed is None else int(seed),
            title=(title or prompt)[:200],
            settings=settings,
            tags=tuple(tags),
            owner=author_name(owner),
        )
        self.store.create_session(session)
        return Trajectory(session)

    def discard_if_empty(self, trajectory: Trajectory) -> bool:
        """Remove a session that holds nothing (no step, never renamed), for a caller that created it
        for a run whose first stage failed and that tells the person so; True when it was removed.
        `run` never removes a session itself: one made by /new_session was confirmed to its person."""
        session = trajectory.session
        if trajectory.steps or session.version != 0 or self.store.session(session.id).version != 0:
            return False
        self.store.delete_session(session.id)
        return True

    def open(self, session_id: str, viewer: Person | None = None) -> Trajectory:
        """A session by id or prefix; one `viewer` may not see reads exactly like an unknown id."""
        return self.store.load(session_id, viewer)

    def engine(self, trajectory: Trajectory) -> Engine:
        """The model engine the session was started with (loaded once per process)."""
        return registry.load(trajectory.session.engine)

    def rename(self, trajectory: Trajectory, title: str, by: str | Person | None = None) -> None:
        """Give the session a new title (at most 200 characters are kept)."""
        author_name(by)
        title = (title or "").strip()
        if not title:
            raise StudioError("The title is empty.")
        trajectory.session = self.store.commit(trajectory.session, title=title[:200])

    def share(self, trajectory: Trajectory, shared: bool, by: str | Person | None = None) -> None:
        """Share a session with the team (every login may open it) or make it private to its owner again.

        Only the owner may; an admin (pass a Person with role "admin") may too."""
        person = by if isinstance(by, Person) else Person(author_name(by))
        if by is not None and not may_share(trajectory.session, person):
            raise StudioError("Only the owner can share this session (or make it private).")
        trajectory.session = self.store.commit(trajectory.session, shared=bool(shared))

    # -- the loop ---------------------------------------------------------------------------

    def advance(
        self,
        trajectory: Trajectory,
        listener: Listener | None = None,
        cancel: CancelToken | None = None,
    ) -> Step | None:
        """Run the next stage on the head's branch and commit it; None when the branch is finished."""
        branch = trajectory.branch()
        stage = next_stage(branch, trajectory.session.settings)
        if stage is None:
            return None
        if branch and branch[-1].review is Review.REJECTED:  # resumed right after a reject
            return self._redraw(trajectory, branch[-1], listener, cancel)
        return self._run_stage(trajectory, stage, branch, listener=listener, cancel=cancel)

    def run(
        self,
        trajectory: Trajectory,
        pause: PausePolicy = PausePolicy.NEVER,
        listener: Listener | None = None,
        cancel: CancelToken | None = None,
    ) -> Outcome:
        """Advance until the branch is finished, or the pause policy asks for a person."""
        step = trajectory.head()
        while True:
            try:
                advanced = self.advance(trajectory, listener, cancel)
            except Cancelled:
                return Outcome("cancelled", step)
            if advanced is None:
                return Outcome("finished", step)
            step = advanced
            if pause is PausePolicy.EVERY_STAGE or (
                pause is PausePolicy.AT_INSPECT and step.stage is Stage.INSPECT
            ):
                return Outcome("paused", step)

    def _run_stage(
        self,
        trajectory: Trajectory,
        stage: Stage,
        branch: list[Step],
        *,
        author: Author = Author.MODEL,
        annotator: str | None = None,
        instruction: str | None = None,
        region: Region | None = None,
        seed: int | None = None,
        rejected: list[Step] | None = None,
        listener: Listener | None = None,
        cancel: CancelToken | None = None,
    ) -> Step:
        session = trajectory.session
        engine = self.engine(trajectory)
        parent_id = branch[-1].id if branch else None
        attempt = sum(1 for s in trajectory.children(parent_id) if s.stage is stage)
        emit = listener or (lambda event: None)
        ctx = StageContext(
            session=session,
            stage=stage,
            branch=branch,
            seed=seed_for(session.seed, len(branch), attempt) if seed is None else seed,
            params=dict(session.settings.engine_params),
            round=stage_round(branch, stage),
            max_rounds=session.settings.max_rounds,
            mode=session.settings.mode,
            load_image=self.store.load_image,
            report=lambda progress: emit(Event("progress", stage, progress=progress)),
            cancel=cancel or CancelToken(),
            rejected=rejected or [],
            person=correction_for(stage, branch, rejected or [], instruction),
        )
        emit(Event("started", stage))
        started = time.perf_counter()
        with registry.slot(session.engine):  # one model is never driven by two sessions at once
            fields = self._call_engine(engine, ctx, instruction, region, trajectory)
        ctx.check_cancelled()
        used = fields.pop("used_input", None)
        meta = dict(fields.pop("meta", None) or {})
        if ctx.person is not None:
            answer = (
                ctx.person.answered(used.used, used.note)
                if used is not None
                else ctx.person.answered(
                    False, f"the {session.engine} engine does not say whether it read your note"
                )
            )
            meta[PERSON_INPUT] = answer.to_dict()
        if stage is Stage.REFINE:
            why = self._no_progress(branch, fields.get("image"), region)
            if why:
                meta[UNCHANGED] = why
        step = Step(
            id=new_id(),
            session_id=session.id,
            parent_id=parent_id,
            stage=stage,
            round=ctx.round,
            author=author,
            annotator=annotator,
            region=region,
            seed=ctx.seed,
            params=ctx.params,
            elapsed_s=time.perf_counter() - started,
            meta=meta,
            **fields,
        )
        self._commit(trajectory, add=step, head_id=step.id)
        emit(Event("committed", stage, step=step))
        return step

    def _call_engine(
        self,
        engine: Engine,
        ctx: StageContext,
        instruction: str | None,
        region: Region | None,
        trajectory: Trajectory,
    ) -> dict[str, Any]:
        """The stage's result as Step fields; images are written to the store here, outside any transaction."""
        stage = ctx.stage
        if stage is Stage.PLAN:
            plan = engine.plan(ctx)
            return dict(
                instruction=plan.instruction,
                description=plan.description,
                complete=plan.complete,
                meta=plan.meta,
                sampling_steps=plan.sampling_steps,
                used_input=plan.used_input,
            )
        if stage is Stage.SKETCH:
            drawn = engine.sketch(ctx)
            return dict(
                image=self.store.save_image(drawn.image),
                meta=drawn.meta,
                sampling_steps=drawn.sampling_steps,
                used_input=drawn.used_input,
            )
        if stage is Stage.INSPECT:
            try:
                verdict = engine.inspect(ctx)
            except UnreadableText as error:
                # Recorded, never taken as a pass: a verdict missing a check has not passed, so the loop
                # refines (or ends when no round is left), and a person sees the error and may override it.
                return dict(
                    plan_check=error.readable.get("plan_check"),
                    sketch_check=error.readable.get("sketch_check"),
                    meta={"error": str(error), "raw": error.raw[:2000]},
                )
            return dict(
                plan_check=verdict.plan_check,
                sketch_check=verdict.sketch_check,
                meta=verdict.meta,
                sampling_steps=verdict.sampling_steps,
                used_input=verdict.used_input,
            )
        if stage is Stage.REFINE:
            mask = self.store.load_image(region.image) if region else None
            refined = engine.refine(ctx, instruction, mask)
            return dict(
                instruction=refined.instruction,
                image=self.store.save_image(refined.image),
                meta=refined.meta,
                sampling_steps=refined.sampling_steps,
                used_input=refined.used_input,
            )
        final = engine.finalize(ctx)
        current = last_image(ctx.branch)  # the image the branch shows now (a rejected one never is)
        source = final.image if final.image is not None else (current.image if current else None)
        # A new PNG carrying the trajectory, so the final image alone can reopen its session.
        image = save_final_image(self.store, source, trajectory) if source is not None else None
        return dict(
            image=image,
            meta=final.meta,
            sampling_steps=final.sampling_steps,
            used_input=final.used_input,
        )

    def _no_progress(self, branch: list[Step], image: Any, region: Region | None) -> str:
        """Why a refine's image is no progress over the image it refined ("" when it changed it)."""
        before = last_image(branch)
        if before is None or before.image is None or image is None:
            return ""
        if region is not None:
            after = Step(id="", session_id="", parent_id=None, stage=Stage.REFINE, image=image)
            if not self.region_changed(before, after, self.store.load_image(region.image)):
                return "the refine changed no pixel inside the painted region"
        if image.sha256 == before.image.sha256:
            return "the refine returned the same image"
        return ""

    def _commit(
        self,
        trajectory: Trajectory,
        *,
        add: Step | None = None,
        replace: Step | None = None,
        head_id: str | None = None,
    ) -> None:
        """Write a change through the store and keep the trajectory in memory in step with it."""
        trajectory.session = self.store.commit(
            trajectory.session, add=add, replace=replace, head_id=head_id
        )
        for step in (add, replace):
            if step is not None:
                trajectory.put(step)

    # -- finding a step ---------------------------------------------------------------------

    def target(self, trajectory: Trajectory, step_id: str | None, *stages: Stage) -> Step:
        """The step an action applies to: exactly the one named, or (none named) the head branch's latest of a kind.

        A page always names the step it shows; naming none is for scripts that mean "the latest".
        """
        if step_id:
            return find_step(trajectory, step_id, *stages)
        found = last(trajectory.branch(), *stages) if trajectory.session.head_id else None
        if found is None:
            raise StudioError(
                f"There is no {' or '.join(s.value for s in stages)} step on this branch yet."
            )
        return found

    # -- changes that run no model ----------------------------------------------------------

    def edit_plan(
        self,
        trajectory: Trajectory,
        step_id: str,
        instruction: str | None = None,
        description: str | None = None,
        complete: bool | None = None,
        by: str | Person | None = None,
    ) -> Step:
        """Change `<ins>` / `<des>` before the sketch is drawn (or fork a new plan if it was)."""
        step = find_step(trajectory, step_id, Stage.PLAN)
        changes: dict[str, Any] = {}
        for name, value in (("instruction", instruction), ("description", description)):
            if value is not None:
                if not value.strip():
                    raise StudioError(f"The {name} is empty; write one, or leave it as it was.")
                changes[name] = value.strip()
        if complete is not None:
            changes["complete"] = complete
        return self._amend(trajectory, step, changes, author_name(by))

    def override(
        self,
        trajectory: Trajectory,
        step_id: str,
        *,
        plan_passed: bool | None = None,
        plan_critique: str | None = None,
        sketch_passed: bool | None = None,
        sketch_critique: str | None = None,
        by: str | Person | None = None,
    ) -> Step:
        """Flip a verdict and/or rewrite its critique; evidence boxes stay as the model found them."""
        step = find_step(trajectory, step_id, Stage.INSPECT)
        changes = {}
        for name, passed, critique in (
            ("plan_check", plan_passed, plan_critique),
            ("sketch_check", sketch_passed, sketch_critique),
        ):
            check = getattr(step, name) or Check(passed=True)
            updated = dataclasses.replace(
                check,
                passed=check.passed if passed is None else passed,
                critique=check.critique if critique is None else critique.strip(),
            )
            changes[name] = updated
        return self._amend(trajectory, step, changes, author_name(by))

    def _amend(self, trajectory: Trajectory, step: Step, changes: dict[str, Any], by: str) -> Step:
        """A person's change to a step, keeping the model's original beside it.

        A step nothing was built on yet is updated in place; otherwise the change becomes
        a sibling (a new branch), so what was built on the old version stays intact.
        """
        changes = {k: v for k, v in changes.items() if getattr(step, k) != v}
        if not changes:
            return step
        original = dict(step.original)
        # Fields not in `original` still hold the model's values: keep each before it changes.
        if step.author is Author.MODEL or step.original:
            for name in changes:
                original.setdefault(name, getattr(step, name))
        amended = step.replace(author=Author.HUMAN, annotator=by, original=original, **changes)
        if trajectory.children(step.id):
            amended = amended.replace(id=new_id(), created_at=time.time())
            self._commit(trajectory, add=amended, head_id=amended.id)
        else:
            self._commit(trajectory, replace=amended, head_id=amended.id)
        return amended

    def accept(
        self, trajectory: Trajectory, step_id: str, note: str = "", by: str | Person | None = None
    ) -> Step:
        """Mark an image good. A review is not content: it never forks."""
        step = find_step(trajectory, step_id, Stage.SKETCH, Stage.REFINE, Stage.FINAL)
        reviewed = step.replace(
            review=Review.ACCEPTED, review_note=note.strip(), annotator=author_name(by)
        )
        self._commit(trajectory, replace=reviewed, head_id=trajectory.session.head_id or step.id)
        return reviewed

    def switch_branch(
        self, trajectory: Trajectory, step_id: str, by: str | Person | None = None
    ) -> str:
        """Continue on the newest live branch through a step (the step itself if all below it were rejected).

        Returns the branch end that became the head. (Moving the head changes no step: `by` is checked,
        not recorded; the same holds for fork and rename.)
        """
        author_name(by)
        pending, ends = [find_step(trajectory, step_id).id], []
        while pending:
            current = trajectory.steps[pending.pop()]
            children = trajectory.children(current.id)
            if not children and current.review is not Review.REJECTED:
                ends.append(current)
            pending += [c.id for c in children]
        leaf = max(ends, key=lambda s: s.created_at).id if ends else step_id
        self._commit(trajectory, head_id=leaf)
        return leaf

    def fork(self, trajectory: Trajectory, step_id: str, by: str | Person | None = None) -> Step:
        """Rewind to any step: the next stage continues from there, as a new branch beside the old."""
        author_name(by)
        step = find_step(trajectory, step_id)
        self._commit(trajectory, head_id=step.id)
        return step

    # -- changes that draw ------------------------------------------------------------------

    def reject(
        self,
        trajectory: Trajectory,
        step_id: str,
        note: str = "",
        seed: int | None = None,
        listener: Listener | None = None,
        cancel: CancelToken | None = None,
        by: str | Person | None = None,
    ) -> Step:
        """Record the image as rejected (kept, labelled), then draw it again with a new seed."""
        step = find_step(trajectory, step_id, Stage.SKETCH, Stage.REFINE)
        rejected = step.replace(
            review=Review.REJECTED, review_note=note.strip(), annotator=author_name(by)
        )
        self._commit(trajectory, replace=rejected, head_id=step.id)
        return self._redraw(trajectory, rejected, listener, cancel, seed=seed)

    def _redraw(
        self,
        trajectory: Trajectory,
        rejected: Step,
        listener: Listener | None,
        cancel: CancelToken | None,
        seed: int | None = None,
    ) -> Step:
        branch = trajectory.branch(rejected.parent_id) if rejected.parent_id else []
        siblings = [
            s
            for s in trajectory.children(rejected.parent_id)
            if s.stage is rejected.stage and s.review is Review.REJECTED and s.id != rejected.id
        ] + [
            rejected
        ]  # the one just rejected last: its image and reason are what the redraw answers
        by_person = rejected.stage is Stage.REFINE and rejected.author is Author.HUMAN
        return self._run_stage(
            trajectory,
            rejected.stage,
            branch,
            rejected=siblings,
            seed=seed,
            instruction=rejected.instruction if by_person else None,
            region=rejected.region,
            author=Author.HUMAN if by_person else Author.MODEL,
            annotator=rejected.annotator if by_person else None,
            listener=listener,
            cancel=cancel,
        )

    def refine_with(
        self,
        trajectory: Trajectory,
        step_id: str,
        instruction: str,
        region_mask: Any = None,
        listener: Listener | None = None,
        cancel: CancelToken | None = None,
        by: str | Person | None = None,
    ) -> Step:
        """A person's own `<refine>` after a verdict or an image, optionally limited to a drawn region."""
        step = find_step(trajectory, step_id, Stage.INSPECT, Stage.SKETCH, Stage.REFINE)
        annotator = author_name(by)
        if not (instruction or "").strip():
            raise StudioError(
                'The refine instruction is empty; say what to fix, e.g. "make the cup blue".'
            )
        region = None
        if region_mask is not None:
            if not self.engine(trajectory).capabilities.region_edit:
                raise StudioError(
                    f"Engine {trajectory.session.engine!r} cannot edit a region; "
                    "refine the whole image instead (send no region)."
                )
            region = Region(self.store.save_image(region_mask.convert("L")))
        branch = trajectory.branch(step.id)
        return self._run_stage(
            trajectory,
            Stage.REFINE,
            branch,
            author=Author.HUMAN,
            annotator=annotator,
            instruction=instruction.strip(),
            region=region,
            listener=listener,
            cancel=cancel,
        )

    def region_changed(self, before: Step, after: Step, region: Any = None) -> int:
        """How many pixels a refine changed (inside its region, when it had one): 0 means it did nothing."""
        # Pillow loads when an image is first compared, not whenever the runner is imported
        from PIL import ImageChops

        if before.image is None or after.image is None:
            return 0
        old, new = (
            self.store.load_image(before.image).convert("RGB"),
            self.store.load_image(after.image).convert("RGB"),
        )
        if old.size != new.size:
            return old.width * old.height
        diff = ImageChops.difference(old, new).convert("L").point(lambda v: 255 if v else 0)
        if region is not None:
            diff = ImageChops.multiply(
                diff, region.convert("L").resize(old.size).point(lambda v: 255 if v else 0)
            )
        return sum(diff.histogram()[1:])

    # -- judgements: ratings and preferences ------------------------------------------------

    def rate(
        self,
        trajectory: Trajectory,
        step_id: str,
        value: str,
        note: str = "",
        by: str | Person | None = None,
    ) -> Judgement:
        """Rate a sketch, refine or final image: "up"/"down" or "1".."5", with an optional note. Rating it
        again replaces your own earlier rating; someone else's rating of it stays beside yours."""
        step = image_step(trajectory, step_id)
        return self._judge(trajectory, "rating", step.id, None, limits.rating(value), note, by)

    def prefer(
        self,
        trajectory: Trajectory,
        left_step_id: str,
        right_step_id: str,
        choice: str,
        note: str = "",
        by: str | Person | None = None,
    ) -> Judgement:
        """Say which of two images of this session is better ("left", "right" or "tie"): the finals of two
        branches, or any two aligned rounds in Compare branches."""
        left, right = image_step(trajectory, left_step_id), image_step(trajectory, right_step_id)
        if left.id == right.id:
            raise StudioError("Both sides are the same image; pick two different steps to compare.")
        return self._judge(
            trajectory, "preference", left.id, right.id, limits.preference(choice), note, by
        )

    def _judge(
        self,
        trajectory: Trajectory,
        kind: str,
        step_id: str,
        other_step_id: str | None,
        value: str,
        note: str,
        by: str | Person | None,
    ) -> Judgement:
        """Record one judgement as its own row; the session's tree and version stay as they are."""
        judgement = Judgement(
            id=new_id(),
            session_id=trajectory.session.id,
            kind=kind,
            step_id=step_id,
            other_step_id=other_step_id,
            value=value,
            note=limits.note(note),
            annotator=author_name(by),
        )
        self.store.add_judgement(judgement)
        return judgement
