"""The runner owns the loop and every human action.

It asks an engine for one stage at a time and commits the result before anything
else happens; a person's edit, accept, reject, override, refine or fork is an
operation here too, committed the moment it is made. No database transaction is
ever open while a model runs: the store's writes are short and happen after the
engine returns. A process killed mid-stage loses only that stage; `run` on the
reopened session carries on from the last committed step.

The UI, the CLI and the HTTP API all call these methods; none holds logic of its own. Every
human action takes `by`, the person doing it (a login's name or Person; None: the local user),
recorded on the step it changes (`Step.annotator`) or on the judgement it makes.
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
    Author,
    Person,
    Region,
    Review,
    RunSettings,
    Session,
    Stage,
    Step,
    StudioError,
    Trajectory,
    last_image,
    new_id,
    next_stage,
    stage_round,
)
from ..core.pngmeta import save_final_image
from ..core.protocol import UnreadableText
from ..engines.base import Cancelled, CancelToken, Engine, Progress, StageContext
from ..store import Store
from .edits import EditActions
from .people import PeopleActions, author_name


class PausePolicy(str, enum.Enum):
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
    status: str  # "finished" | "paused" | "cancelled"
    step: Step | None  # the last step committed


def seed_for(session_seed: int, depth: int, attempt: int) -> int:
    """A stage's seed: reproducible from the session seed, different for each retry."""
    digest = hashlib.sha256(f"{session_seed}:{depth}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class Runner(EditActions, PeopleActions):
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
        return registry.load(trajectory.session.engine)

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
        )
        emit(Event("started", stage))
        started = time.perf_counter()
        with registry.slot(session.engine):  # one model is never driven by two sessions at once
            fields = self._call_engine(engine, ctx, instruction, region, trajectory)
        ctx.check_cancelled()
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
            )
        if stage is Stage.SKETCH:
            drawn = engine.sketch(ctx)
            return dict(
                image=self.store.save_image(drawn.image),
                meta=drawn.meta,
                sampling_steps=drawn.sampling_steps,
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
            )
        if stage is Stage.REFINE:
            mask = self.store.load_image(region.image) if region else None
            refined = engine.refine(ctx, instruction, mask)
            return dict(
                instruction=refined.instruction,
                image=self.store.save_image(refined.image),
                meta=refined.meta,
                sampling_steps=refined.sampling_steps,
            )
        final = engine.finalize(ctx)
        current = last_image(ctx.branch)  # the image the branch shows now (a rejected one never is)
        source = final.image if final.image is not None else (current.image if current else None)
        # A new PNG carrying the trajectory, so the final image alone can reopen its session.
        image = save_final_image(self.store, source, trajectory) if source is not None else None
        return dict(image=image, meta=final.meta, sampling_steps=final.sampling_steps)

    def _commit(
        self,
        trajectory: Trajectory,
        *,
        add: Step | None = None,
        replace: Step | None = None,
        head_id: str | None = None,
    ) -> None:
        trajectory.session = self.store.commit(
            trajectory.session, add=add, replace=replace, head_id=head_id
        )
        for step in (add, replace):
            if step is not None:
                trajectory.put(step)

    # -- human actions that draw (the others: runner_edits.py, runner_people.py) -------------

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
        step = self._step(trajectory, step_id, Stage.SKETCH, Stage.REFINE)
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
            if s.stage is rejected.stage and s.review is Review.REJECTED
        ]
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
        step = self._step(trajectory, step_id, Stage.INSPECT, Stage.SKETCH, Stage.REFINE)
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
