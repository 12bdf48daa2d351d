"""The engine interface: one method per stage, typed results, progress and cancellation.

Engines see the branch so far (they condition on history), never the database or
the UI. The runner builds a `StageContext` for each call, stores what comes back and
owns every decision about what happens next.
"""

from __future__ import annotations

import abc
import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping

from ..core.domain import (
    Check,
    ImageRef,
    Mode,
    PersonInput,
    Session,
    Stage,
    Step,
    StudioError,
    last_image,
)

if TYPE_CHECKING:  # Pillow is imported by engines and the store, not by this interface
    from PIL.Image import Image


class Cancelled(Exception):
    """Raised inside an engine when the person pressed Stop; nothing of the stage is kept."""


class CancelToken:
    """Cooperative cancellation: engines call `ctx.progress(...)` or `ctx.check_cancelled()` between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


@dataclass(frozen=True)
class Capabilities:
    region_edit: bool = False  # refine can redraw only a masked region
    keeps_context: bool = False  # holds a model context (KV cache) between stages
    needs_gpu: bool = False


@dataclass(frozen=True)
class Param:
    """One per-session engine setting an engine declares (`Engine.params`), so a session's settings are
    checked when it is created, not when a stage many minutes later trips over them.

    `kind` is float, int, bool or str; `choices` limits a str; `pair` also accepts a [low, high]
    list of two numbers inside the range (e.g. BAGEL's cfg_interval)."""

    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    pair: bool = False

    def check(self, name: str, value: Any) -> Any:
        """`value` if it fits, else StudioError naming the setting and what it takes."""
        if self.pair and isinstance(value, (list, tuple)):
            if len(value) != 2:
                raise StudioError(
                    f"The engine setting {name} takes a number or a [start, end] pair."
                )
            start, end = (self._number(name, v) for v in value)
            if start > end:
                raise StudioError(
                    f"The engine setting {name} is [{start}, {end}]; start must not exceed end."
                )
            return [start, end]
        if self.kind is bool:
            if not isinstance(value, bool):
                raise StudioError(
                    f"The engine setting {name} takes true or false, not {_shown(value)}."
                )
            return value
        if self.kind is str:
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                options = " or ".join(self.choices) if self.choices else "a string"
                raise StudioError(
                    f"The engine setting {name} takes {options}, not {_shown(value)}."
                )
            return value
        return self._number(name, value)

    def _number(self, name: str, value: Any) -> float | int:
        integer = self.kind is int
        if integer and isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)  # JSON writers often send 6.0 for 6
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if (
            isinstance(value, bool)
            or not ok
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            kind = "a whole number" if integer else "a finite number"
            raise StudioError(f"The engine setting {name} takes {kind}, not {_shown(value)}.")
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            bounds = (
                f"between {self.low:g} and {self.high:g}"
                if self.low is not None and self.high is not None
                else f"at least {self.low:g}"
                if self.low is not None
                else f"at most {self.high:g}"
            )
            raise StudioError(f"The engine setting {name} is {_shown(value)}; it must be {bounds}.")
        return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_params(
    engine: str, schema: Mapping[str, Param] | None, params: Mapping[str, Any]
) -> dict[str, Any]:
    """Engine settings checked against an engine's declared schema; None (undeclared) checks nothing here.

    Structural limits (JSON only, finite numbers, sizes) are the boundary's (`studio.core.limits`); this
    checks names, types and ranges, which only the engine knows."""
    if schema is None:
        return dict(params)
    unknown = sorted(set(params) - set(schema))
    if unknown:
        known = ", ".join(sorted(schema)) or "none"
        raise StudioError(
            f"Engine {engine!r} has no setting {unknown[0][:40]!r}; its settings are: {known}."
        )
    return {name: schema[name].check(name, value) for name, value in params.items()}


@dataclass(frozen=True)
class Progress:
    stage: Stage
    fraction: float  # 0..1
    message: str = ""
    preview: "Image | None" = None  # a draft of the image being drawn


@dataclass
class StageContext:
    """Everything an engine may look at for one stage."""

    session: Session
    stage: Stage
    branch: list[Step]  # root → the step this stage follows
    seed: int
    params: dict[str, Any]
    round: int  # the round this stage belongs to (plans + refines so far, this one included)
    max_rounds: int
    mode: Mode
    load_image: Callable[[ImageRef], "Image"]
    report: Callable[[Progress], None] = lambda progress: None
    cancel: CancelToken = field(default_factory=CancelToken)
    # earlier attempts at this stage that a person rejected, oldest first: the one just rejected is last
    # (its `.image` is the rejected image, its `.review_note` the person's reason)
    rejected: list[Step] = field(default_factory=list)
    # the person's correction this stage must answer (an overridden verdict for a refine, a reject reason
    # for a redraw, an edited plan for a sketch); say what was done with it in the result's `used_input`
    person: PersonInput | None = None

    @property
    def prompt(self) -> str:
        return self.session.prompt

    @property
    def verdict(self) -> Step | None:
        """The inspect step this stage follows, as stored (a refine answers it): where a person overrode
        a check, that check holds the person's verdict and `verdict.original` the model's."""
        tail = self.branch[-1] if self.branch else None
        return tail if tail is not None and tail.stage is Stage.INSPECT else None

    @property
    def rounds_left(self) -> int:
        return max(0, self.max_rounds - self.round)

    def check_cancelled(self) -> None:
        self.cancel.raise_if_cancelled()

    def progress(self, fraction: float, message: str = "", preview: "Image | None" = None) -> None:
        """Report progress (and optionally a preview), then stop here if cancelled."""
        self.cancel.raise_if_cancelled()
        self.report(Progress(self.stage, min(1.0, max(0.0, fraction)), message, preview))

    def current_image(self) -> "Image | None":
        """The newest accepted-or-unreviewed image on the branch, decoded."""
        step = last_image(self.branch)
        return self.load_image(step.image) if step and step.image else None


@dataclass(frozen=True)
class UsedInput:
    """An engine's account of what it did with `StageContext.person`, in words a person reads on the
    card: `used` True with what it did ("recoloured the cup green"), or False with why it could not
    ("no edit could be read from 'it looks unbalanced'")."""

    used: bool
    note: str


@dataclass
class PlanResult:
    instruction: str  # <ins>
    description: str  # <des>
    complete: bool  # nothing left to plan after this instruction
    meta: dict[str, Any] = field(default_factory=dict)
    sampling_steps: int = 0
    used_input: UsedInput | None = None  # what was done with ctx.person, when one was given


@dataclass
class ImageResult:
    image: "Image"
    meta: dict[str, Any] = field(default_factory=dict)
    sampling_steps: int = 0
    used_input: UsedInput | None = None  # what was done with ctx.person, when one was given


@dataclass
class InspectResult:
    plan_check: Check  # the plan / description against the prompt
    sketch_check: Check  # the sketch against the instruction
    meta: dict[str, Any] = field(default_factory=dict)
    sampling_steps: int = 0
    used_input: UsedInput | None = None  # what was done with ctx.person, when one was given


@dataclass
class RefineResult:
    instruction: str  # <refine>; echoes a person's instruction when one was given
    image: "Image"
    meta: dict[str, Any] = field(default_factory=dict)
    sampling_steps: int = 0
    used_input: UsedInput | None = None  # what was done with ctx.person, when one was given


@dataclass
class FinalResult:
    image: "Image | None" = None  # None: the last image on the branch is the final image
    meta: dict[str, Any] = field(default_factory=dict)
    sampling_steps: int = 0
    used_input: UsedInput | None = None  # what was done with ctx.person, when one was given


class Engine(abc.ABC):
    """A planner, sketcher, inspector and refiner behind one name.

    The runner calls one method per stage with the branch so far and stores what it returns; an
    engine keeps no session state of its own (a cache it can rebuild from the branch is fine).

    Example: the smallest engine, one plan and grey squares (register it with
    `studio.engines.register("squares", Squares)`, then `studio run "…" --engine squares`)::

        from PIL import Image

        from studio.core.domain import Check
        from studio.engines.base import Engine, ImageResult, InspectResult, PlanResult, RefineResult

        class Squares(Engine):
            name = "squares"
            label = "grey squares: an example engine"

            def plan(self, ctx):
                return PlanResult(f"Draw {ctx.prompt}.", ctx.prompt, complete=True)

            def sketch(self, ctx):
                ctx.progress(0.5, "drawing")  # a pressed Stop ends the stage here
                return ImageResult(Image.new("RGB", (64, 64), "grey"))

            def inspect(self, ctx):
                return InspectResult(plan_check=Check(True), sketch_check=Check(True))

            def refine(self, ctx, instruction, region):
                return RefineResult(instruction or "Redraw it.", ctx.current_image())
    """

    name: ClassVar[str]
    label: ClassVar[str]  # one honest line for the UI and CLI
    capabilities: ClassVar[Capabilities] = Capabilities()
    max_concurrent: ClassVar[int] = 1  # stages one instance may run at once; others wait their turn
    # The per-session settings (RunSettings.engine_params) this engine reads; None: not declared, so
    # only the boundary's structural limits apply (a plug-in that declares no schema).
    params: ClassVar[dict[str, Param] | None] = None

    @abc.abstractmethod
    def plan(self, ctx: StageContext) -> PlanResult: ...

    @abc.abstractmethod
    def sketch(self, ctx: StageContext) -> ImageResult: ...

    @abc.abstractmethod
    def inspect(self, ctx: StageContext) -> InspectResult: ...

    @abc.abstractmethod
    def refine(
        self, ctx: StageContext, instruction: str | None, region: "Image | None"
    ) -> RefineResult:
        """Write a <refine> instruction (unless a person gave one) and draw the corrected image.

        `region` is an 'L' mask (non-zero = may change), only passed when
        `capabilities.region_edit` is true.
        """

    def finalize(self, ctx: StageContext) -> FinalResult:
        return FinalResult()

    def close(self) -> None:  # noqa: B027 - optional: an engine with nothing to release keeps this
        """Release models and caches."""
