"""Hand-built stage contexts for the offline engine's unit tests: a branch, images kept in a dict."""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from studio.core.domain import (
    Author,
    ImageRef,
    Mode,
    RunSettings,
    Session,
    Stage,
    Step,
    new_id,
    stage_round,
)
from studio.engines.base import CancelToken, StageContext


class Kit:
    """One session's worth of steps and images, without a store."""

    def __init__(
        self,
        prompt: str,
        mode: Mode = Mode.PROCESS,
        max_rounds: int = 6,
        params: dict | None = None,
    ):
        self.session = Session(
            new_id(), prompt, "offline", 0, settings=RunSettings(max_rounds, mode)
        )
        self.params = params or {}
        self.images: dict[str, Image.Image] = {}
        self.branch: list[Step] = []

    def ref(self, image: Image.Image) -> ImageRef:
        key = hashlib.sha256(image.tobytes()).hexdigest()
        self.images[key] = image.copy()
        return ImageRef(key, image.width, image.height, 0)

    def add(self, stage: Stage, author: Author = Author.MODEL, **fields) -> Step:
        if isinstance(fields.get("image"), Image.Image):
            fields["image"] = self.ref(fields["image"])
        step = Step(
            new_id(),
            self.session.id,
            self.branch[-1].id if self.branch else None,
            stage,
            round=stage_round(self.branch, stage),
            author=author,
            **fields,
        )
        self.branch.append(step)
        return step

    def ctx(
        self, stage: Stage, seed: int = 0, cancel: CancelToken | None = None, report=None
    ) -> StageContext:
        settings = self.session.settings
        return StageContext(
            session=self.session,
            stage=stage,
            branch=list(self.branch),
            seed=seed,
            params=dict(self.params),
            round=stage_round(self.branch, stage),
            max_rounds=settings.max_rounds,
            mode=settings.mode,
            load_image=lambda ref: self.images[ref.sha256],
            report=report or (lambda progress: None),
            cancel=cancel or CancelToken(),
        )

    def run(self, engine, stage: Stage, seed: int = 0, **kwargs) -> Step:
        """Run one stage of `engine` on the branch and append its step."""
        ctx = self.ctx(stage, seed)
        if stage is Stage.PLAN:
            r = engine.plan(ctx)
            return self.add(
                stage, instruction=r.instruction, description=r.description, complete=r.complete
            )
        if stage is Stage.SKETCH:
            r = engine.sketch(ctx)
            return self.add(stage, image=r.image, meta=r.meta)
        if stage is Stage.INSPECT:
            r = engine.inspect(ctx)
            return self.add(
                stage, plan_check=r.plan_check, sketch_check=r.sketch_check, meta=r.meta
            )
        r = engine.refine(ctx, kwargs.get("instruction"), kwargs.get("region"))
        author = Author.HUMAN if kwargs.get("instruction") else Author.MODEL
        return self.add(stage, author, instruction=r.instruction, image=r.image, meta=r.meta)

    def image(self, step: Step) -> Image.Image:
        return self.images[step.image.sha256]


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
