"""The studio side of the `bagel` engine: an ordinary Engine whose model lives in a worker process.

Each stage takes its branch's context from the worker's cache (the longest kept prefix), prefills
what the cache lacks from the stored steps (texts, and images as PNG), adds its request, calls the
model, adds the canonical answer and stashes the context under the key of what it now holds. Only
the texts and images a stage adds are encoded; a fork, resume, edit or reject costs one prefill,
never a regeneration. If the worker dies, the next stage starts a fresh one and the same prefill
rebuilds the context. See transcript.py for what goes into a context, worker.py for the process.

A person's correction reaches BAGEL through its context: an overridden verdict is in the stored inspect
step, so the refine after it rebuilds the context with the person's verdict in place of the model's and is
asked to answer it; a redraw after a reject with a reason is drawn on the rejected attempt, the person's
verdict on it and a request to redraw that answers it. Each result says so in `used_input`: BAGEL was given
the correction; whether its image answers it is for the next inspection (or the person) to judge.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

from ...core import protocol
from ...core.domain import PersonInput, Stage, Step, StudioError
from .. import prompts
from ..base import (
    Capabilities,
    Engine,
    ImageResult,
    InspectResult,
    Param,
    PlanResult,
    RefineResult,
    StageContext,
    UsedInput,
)
from ..torch_support import number, setting, thumbnail
from . import placement, wire
from .client import WorkerClient
from .loader import MODE_SETTING, check_paths
from .transcript import (
    as_drawn,
    branch_keys,
    candidates,
    pending_key,
    reason_segments,
    requests,
    root_texts,
    segments,
    stage_request,
    step_key,
    stored_plan_check,
    thinks,
)

MODEL_SETTING = "STROKE_STUDIO_BAGEL_MODEL"
REPO_SETTING = "STROKE_STUDIO_BAGEL_REPO"
PYTHON_SETTING = "STROKE_STUDIO_BAGEL_PYTHON"
CACHE_SETTING = "STROKE_STUDIO_BAGEL_CACHE_GB"
MAX_MEMORY_SETTING = "STROKE_STUDIO_BAGEL_MAX_MEMORY"
MODES = ("bf16", "nf4", "int8")
CONTEXT_MIN_SIDE = (
    512  # BAGEL's vae_transform, ImageTransform(1024, 512, 16), enlarges smaller images
)


def used_input(stage: Stage, person: PersonInput | None) -> UsedInput | None:
    """What BAGEL did with a person's correction, as the card says it: it was given to the model in its
    context, with a request that asks to answer it; never more (nothing here checks the image against it)."""
    if person is None:
        return None
    if person.kind == "verdict" and stage is Stage.REFINE:
        return UsedInput(
            True,
            "your verdict was given to BAGEL in its context, in place of its own, with a request for a "
            "refine that answers it",
        )
    if person.kind == "reason" and stage in (Stage.SKETCH, Stage.REFINE):
        return UsedInput(
            True,
            "the rejected image and your reason were given to BAGEL in its context, as the verdict on "
            "that image, with a request for a redraw that answers it",
        )
    if person.kind == "plan" and stage is Stage.SKETCH:
        return UsedInput(
            True, "your edited plan was given to BAGEL in its context; the sketch is drawn on it"
        )
    return UsedInput(False, f"BAGEL's {stage.value} stage does not read a person's {person.kind}")


def answered_rejection(ctx: StageContext) -> Step | None:
    """The attempt a redraw answers: the image just rejected, when its reason is the stage's correction."""
    person = ctx.person
    if person is None or person.kind != "reason" or not ctx.rejected:
        return None
    rejected = ctx.rejected[-1]
    return rejected if rejected.id == person.step_id and rejected.stage is ctx.stage else None


def small_image_note(size: int) -> str:
    """What happens to a sketch smaller than BAGEL's resize minimum, in words ("" when nothing does)."""
    if size >= CONTEXT_MIN_SIDE:
        return ""
    return (
        f"BAGEL enlarges images under {CONTEXT_MIN_SIDE} px a side to {CONTEXT_MIN_SIDE} in its context "
        f"(its resize minimum), so refines of this {size}×{size} sketch are drawn at "
        f"{CONTEXT_MIN_SIDE}×{CONTEXT_MIN_SIDE}; use image_size {CONTEXT_MIN_SIDE} or more to keep one size."
    )


class BagelEngine(Engine):
    """BAGEL behind the engine interface: each stage is a request to the worker on its branch's context.

    Nothing starts when it is made: the worker and the model start with the first stage. Keyword
    arguments win over the STROKE_STUDIO_BAGEL_* variables (see the package docstring).

    Example usage (a GPU, BAGEL's environment and a snapshot)::

        engine = BagelEngine(
            "/models/BAGEL-7B-MoT", repo="/src/Bagel", python="/envs/bagel/bin/python", mode="nf4", cache_gb=2
        )
        studio.engines.register("bagel-nf4", lambda: engine)  # one worker for every session of the process
        runner.new_session(
            "a red apple left of a blue cup",
            engine="bagel-nf4",
            settings=RunSettings(engine_params={"num_timesteps": 30, "image_size": 512}),
        )

    or, from the command line, the registered `bagel` configured by the environment::

        STROKE_STUDIO_BAGEL_MODE=nf4 studio run "a red apple left of a blue cup" --engine bagel
    """

    name = "bagel"
    label = (
        "BAGEL (your clone of its repository + a local snapshot, in its own environment): one model plans, "
        "draws, inspects and edits, keeping each branch's context between stages"
    )
    capabilities = Capabilities(region_edit=False, keeps_context=True, needs_gpu=True)
    max_concurrent = 1
    params = {
        "cfg_text_scale": Param(float, 0.0, 50.0),
        "cfg_img_scale": Param(float, 0.0, 50.0),
        "cfg_interval": Param(float, 0.0, 1.0, pair=True),
        "cfg_renorm_min": Param(float, 0.0, 1.0),
        "cfg_renorm_type": Param(str, choices=("global", "channel", "text_channel")),
        "num_timesteps": Param(int, 2, 1000),
        "timestep_shift": Param(float, 0.01, 100.0),
        "max_think_tokens": Param(int, 1, 16384),
        "temperature": Param(float, 0.0, 10.0),
        # BAGEL's latent position table (max_latent_size 64 × stride 16) ends at 1024 px a side.
        "think": Param(bool),
        "image_size": Param(int, 16, 1024),
        "preview_every": Param(int, 0, 1000),
    }

    def __init__(
        self,
        model_path: str | None = None,
        *,
        repo: str | None = None,
        mode: str | None = None,
        cache_gb: float | None = None,
        max_memory: str | None = None,
        python: str | None = None,
        extra_path: tuple[str, ...] = (),
        cancel_grace: float = 10.0,
        worker_env: dict[str, str] | None = None,
    ):
        self.model_path = setting(model_path, MODEL_SETTING, None)
        self.repo = setting(repo, REPO_SETTING, None)
        self.python = setting(python, PYTHON_SETTING, None)
        self.mode = str(setting(mode, MODE_SETTING, "bf16")).strip().lower()
        if self.mode not in MODES:
            raise StudioError(f"{MODE_SETTING} is {self.mode!r}; use bf16, nf4 or int8.")
        try:
            budget = float(setting(cache_gb, CACHE_SETTING, 8))
        except ValueError:
            raise StudioError(f"{CACHE_SETTING} must be a number of GiB.") from None
        if budget < 0:
            raise StudioError(f"{CACHE_SETTING} must not be negative.")
        self.cache_bytes = int(budget * 2**30)
        self.max_memory = setting(max_memory, MAX_MEMORY_SETTING, None)
        if self.max_memory:
            try:
                placement.parse_size(self.max_memory)
            except ValueError as exc:
                raise StudioError(str(exc)) from None
        # extra_path / worker_env: added to the worker's PYTHONPATH / environment (the tests' stand-ins)
        self.extra_path, self.cancel_grace, self.worker_env = (
            tuple(extra_path),
            cancel_grace,
            dict(worker_env or {}),
        )
        self.client: WorkerClient | None = None
        self.info: dict[str, Any] = {}
        self._run = threading.RLock()
        # What the model was asked to do and what rebuilding contexts cost, for benchmarks and tests.
        self.calls = {"gen_text": 0, "gen_image": 0, "prefill": 0, "workers": 0}
        self.prefilled = {"texts": 0, "images": 0}
        # What the latest model call was conditioned on, as the worker's context recorded it (its texts and
        # a mark per image, contexts.image_mark), for tests and debugging.
        self.last_context: list[str] = []

    @property
    def lower_memory(self) -> str:
        if self.mode == "bf16":
            return (
                f"Restart with {MODE_SETTING}=nf4 (12–32 GB) or int8 (22–32 GB), or lower {CACHE_SETTING} "
                "or the image_size setting."
            )
        return f"Lower the image_size setting or {CACHE_SETTING}, or use a GPU with more memory."

    # -- the worker ----------------------------------------------------------------------------
    def worker(self, ctx: StageContext | None = None) -> WorkerClient:
        """The running worker with the model loaded; a dead one is replaced by a fresh one."""
        if self.client is not None and self.client.alive:
            return self.client
        if self.client is not None:
            self.client.forget()  # a dead worker: its log stays (the error named it)
        self.client = None
        check_paths(self.model_path, self.repo)
        if not self.python:
            raise StudioError(
                f"The bagel engine runs BAGEL in its own Python environment: build it with "
                f"`bash scripts/bagel_env.sh <your BAGEL clone> <env>` and set {PYTHON_SETTING} to "
                "<env>/bin/python."
            )
        client = WorkerClient(
            self.python,
            extra_path=self.extra_path,
            cancel_grace=self.cancel_grace,
            lower_memory=self.lower_memory,
            env=self.worker_env,
        )
        if ctx is not None:
            ctx.progress(0.0, "starting the BAGEL worker")
        client.start()
        try:
            self.info, _ = client.request(
                "load",
                ctx,
                "loading BAGEL",
                model=str(self.model_path),
                repo=str(self.repo),
                mode=self.mode,
                max_memory=self.max_memory,
                cache_bytes=self.cache_bytes,
            )
        except BaseException:
            client.forget()
            raise
        self.calls["workers"] += 1
        self.client = client
        return client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def stats(self, reset_peak: bool = False) -> dict[str, Any]:
        """The worker's context cache (entries, bytes, budget, evictions, sizes) and its peak GPU memory
        (the largest over its GPUs, since the last reset_peak)."""
        with self._run:  # one request on the pipe at a time
            if self.client is None or not self.client.alive:
                return {"entries": 0, "bytes": 0, "evictions": 0, "sizes": []}
            return self.client.request(
                "stats", None, "reading the context cache", reset_peak=reset_peak
            )[0]

    # -- the context of a branch ---------------------------------------------------------------
    def _context(
        self, ctx: StageContext, w: WorkerClient, doing: str, rejected: Step | None = None
    ) -> str:
        """Open the branch's context in the worker (longest kept prefix + prefill); its key. With
        `rejected` (a redraw that answers its reason), the context goes on with that attempt as it was
        drawn and the person's verdict on it; the key is then the branch's, and the stage must not stash."""
        session, branch = ctx.session, ctx.branch
        path = branch + ([as_drawn(rejected)] if rejected is not None else [])
        keys = branch_keys(path, session)
        found = w.request("begin", ctx, doing, candidates=candidates(path, keys))[0]["found"]
        start = found or 0
        todo = [seg for step in path[start:] for seg in segments(step, session)]
        if rejected is not None:
            todo += reason_segments(rejected, stored_plan_check(branch), session)
        if found is None:
            if branch:
                ctx.progress(
                    0.0, f"rebuilding the context from {len(todo)} stored texts and images"
                )
                self.prefilled["texts"] += 2
            w.request("fresh", ctx, doing, texts=root_texts(session))
        # Only the last request before which no image follows needs its text-CFG snapshot.
        last_image = max((i for i, s in enumerate(todo) if s.kind == "image"), default=-1)
        last_request = max(
            (i for i, s in enumerate(todo) if s.snapshot and i > last_image), default=-1
        )
        items, blobs = [], []
        for i, seg in enumerate(todo):
            if seg.kind == "image":
                items.append({"kind": "image", "blob": len(blobs)})
                blobs.append(wire.png_bytes(ctx.load_image(seg.step.image).convert("RGB")))
                self.prefilled["images"] += 1
            else:
                items.append({"kind": "text", "text": seg.text, "snapshot": i == last_request})
                self.prefilled["texts"] += 1
        if items:
            self.calls["prefill"] += 1
            w.request("prefill", ctx, doing, blobs, items=items)
        return keys[len(branch)]

    @contextmanager
    def _stage(
        self, ctx: StageContext, doing: str, rejected: Step | None = None
    ) -> Iterator[tuple[WorkerClient, str]]:
        """Open the branch's context for one stage. If the stage fails before changing it, the context goes
        back to the worker's cache; a changed one is dropped and the next stage rebuilds it. A redraw's
        context (`rejected`) holds the rejection, which no stored step puts into its branch's context, so it
        is dropped after the redraw too."""
        with self._run:
            w = self.worker(ctx)
            try:
                yield w, self._context(ctx, w, doing, rejected)
                if rejected is not None:
                    w.request("abort", None, doing)
            except BaseException:
                if w.alive:
                    try:
                        w.request("abort", None, doing)
                    except StudioError:
                        pass
                raise

    # -- model calls ---------------------------------------------------------------------------
    def _gen_text(self, ctx: StageContext, w: WorkerClient, label: str) -> tuple[str, int]:
        max_length = number(
            ctx.params,
            "max_think_tokens",
            1024 if thinks(ctx.params) else 512,
            low=1,
            high=16384,
            integer=True,
        )
        temperature = number(ctx.params, "temperature", 0.0, low=0.0)
        self.calls["gen_text"] += 1
        header, _ = w.request(
            "gen_text",
            ctx,
            label,
            max_length=max_length,
            temperature=temperature,
            seed=ctx.seed,
            label=label,
        )
        self.last_context = list(header.get("context", []))
        return header["text"], header["tokens"]

    def _image_settings(self, ctx: StageContext, refine: bool) -> dict[str, Any]:
        p = ctx.params
        interval = p.get("cfg_interval", 0.0 if refine else 0.4)
        if isinstance(interval, (list, tuple)):
            if len(interval) != 2:
                raise StudioError(
                    "cfg_interval is a start, or a [start, end] pair between 0 and 1."
                )
            start, end = (float(v) for v in interval)
        else:
            start, end = float(interval), 1.0
        if not 0.0 <= start <= end <= 1.0:
            raise StudioError("cfg_interval must lie between 0 and 1, start before end.")
        renorm = str(p.get("cfg_renorm_type", "text_channel" if refine else "global"))
        if renorm not in ("global", "channel", "text_channel"):
            raise StudioError("cfg_renorm_type must be global, channel or text_channel.")
        return dict(
            cfg_text_scale=number(p, "cfg_text_scale", 4.0, low=0.0, high=50.0),
            cfg_img_scale=number(p, "cfg_img_scale", 2.0 if refine else 1.5, low=0.0, high=50.0),
            cfg_interval=[start, end],
            cfg_renorm_min=number(p, "cfg_renorm_min", 0.0, low=0.0, high=1.0),
            cfg_renorm_type=renorm,
            num_timesteps=number(p, "num_timesteps", 50, low=2, high=1000, integer=True),
            timestep_shift=number(p, "timestep_shift", 3.0, low=0.01, high=100.0),
        )

    def image_size(self, params: dict[str, Any]) -> int:
        """The sketch's side, checked against the loaded model: BAGEL's latent position table has
        max_latent_size (64) positions a side of `stride` (16) pixels each; beyond it the lookup
        indexes out of range, which on CUDA is a device-side assert that poisons the process."""
        size = number(params, "image_size", 1024, low=1, integer=True)
        stride, max_side = int(self.info.get("stride", 16)), int(self.info.get("max_side", 1024))
        if not stride <= size <= max_side or size % stride:
            raise StudioError(
                f"The engine setting image_size is {size}; BAGEL draws {stride} to {max_side} pixels a "
                f"side in multiples of {stride} (its max_latent_size × {stride})."
            )
        return size

    def _gen_image(self, ctx: StageContext, w: WorkerClient, label: str, refine: bool):
        settings = self._image_settings(ctx, refine)
        size = self.image_size(ctx.params)
        every = number(ctx.params, "preview_every", 10, low=0, integer=True)
        self.calls["gen_image"] += 1
        # A refine draws at the size of the image it edits, as BAGEL resized it into the context (shape None).
        header, blobs = w.request(
            "gen_image",
            ctx,
            label,
            settings=settings,
            shape=None if refine else [size, size],
            fallback_size=size,
            seed=ctx.seed,
            preview_every=every,
            label=label,
        )
        self.last_context = list(header.get("context", []))
        image = wire.png_image(blobs[0]).convert("RGB")
        return image, header["steps"], {**settings, "image_shape": header["shape"]}

    def _result_step(self, ctx: StageContext, stage: Stage, **fields: Any) -> Step:
        return Step(
            id="", session_id=ctx.session.id, parent_id=None, stage=stage, round=ctx.round, **fields
        )

    # -- the stages ----------------------------------------------------------------------------
    def plan(self, ctx: StageContext) -> PlanResult:
        with self._stage(ctx, "planning with BAGEL") as (w, key):
            w.request(
                "add_text",
                ctx,
                "planning",
                text=requests(ctx.session, ctx.round)[Stage.PLAN],
                snapshot=True,
            )
            raw, tokens = self._gen_text(ctx, w, "planning")
            result = prompts.plan_result(raw, ctx, tokens=tokens, think=prompts.thought(raw))
            # The context takes the canonical plan (what the store keeps), so a rebuild gives the same context.
            w.request(
                "add_text",
                ctx,
                "planning",
                text=protocol.plan_text(result.instruction, result.description, result.complete),
            )
            step = self._result_step(
                ctx,
                Stage.PLAN,
                instruction=result.instruction,
                description=result.description,
                complete=result.complete,
            )
            w.request("stash", ctx, "planning", key=step_key(key, step, ctx.session))
        ctx.progress(1.0, "planned")
        return result

    def sketch(self, ctx: StageContext) -> ImageResult:
        rejected = answered_rejection(ctx)
        with self._stage(ctx, "sketching with BAGEL", rejected) as (w, key):
            request = stage_request(Stage.SKETCH, ctx.session, ctx.round, ctx.person)
            if request is not None:  # a redraw: its request starts the image's conditioning text
                w.request("add_text", ctx, "sketching", text=request, snapshot=True)
            image, steps, settings = self._gen_image(ctx, w, "sketching", refine=False)
            if rejected is None:
                w.request("add_image", ctx, "sketching", last=True)
                w.request(
                    "stash", ctx, "sketching", key=pending_key(key, Stage.SKETCH, ctx.seed, None)
                )
        note = small_image_note(min(image.size))
        if note:
            settings["note"] = note
        ctx.progress(1.0, "sketched", thumbnail(image))
        return ImageResult(
            image,
            meta=settings,
            sampling_steps=steps,
            used_input=used_input(Stage.SKETCH, ctx.person),
        )

    def inspect(self, ctx: StageContext) -> InspectResult:
        with self._stage(ctx, "inspecting with BAGEL") as (w, key):
            w.request(
                "add_text", ctx, "inspecting", text=requests(ctx.session, ctx.round)[Stage.INSPECT]
            )
            raw, tokens = self._gen_text(ctx, w, "inspecting")
            try:
                result = prompts.inspect_result(raw, tokens=tokens, think=prompts.thought(raw))
            except protocol.UnreadableText as unreadable:
                # The runner records the step without a verdict; its context keeps the request and no
                # answer, as a rebuild from that step would (transcript.segments), and stays usable.
                step = self._result_step(ctx, Stage.INSPECT, **unreadable.readable)
                w.request("stash", ctx, "inspecting", key=step_key(key, step, ctx.session))
                failed = unreadable
            else:
                w.request(
                    "add_text",
                    ctx,
                    "inspecting",
                    text=protocol.verdict_text(result.plan_check, result.sketch_check),
                )
                step = self._result_step(
                    ctx,
                    Stage.INSPECT,
                    plan_check=result.plan_check,
                    sketch_check=result.sketch_check,
                )
                w.request("stash", ctx, "inspecting", key=step_key(key, step, ctx.session))
                failed = None
        if failed is not None:
            raise failed
        ctx.progress(1.0, "inspected")
        return result

    def refine(self, ctx: StageContext, instruction: str | None, region) -> RefineResult:
        if region is not None:
            raise StudioError("BAGEL edits the whole image; refine without a region.")
        meta: dict[str, Any] = {}
        rejected = answered_rejection(ctx)
        with self._stage(ctx, "refining with BAGEL", rejected) as (w, key):
            w.request(
                "add_text",
                ctx,
                "refining",
                text=stage_request(Stage.REFINE, ctx.session, ctx.round, ctx.person),
                snapshot=True,
            )
            if not instruction:
                raw, tokens = self._gen_text(ctx, w, "writing the correction")
                instruction, format_ok = prompts.refine_instruction(raw, ctx)
                if not format_ok and not raw.strip() and ctx.person is not None:
                    instruction = (
                        f"Fix the image: {ctx.person.text}"  # not the model's older critique
                    )
                meta.update(raw=raw[:2000], format_ok=format_ok, tokens=tokens)
            w.request("add_text", ctx, "refining", text=protocol.refine_text(instruction))
            image, steps, settings = self._gen_image(ctx, w, "refining", refine=True)
            if rejected is None:
                w.request("add_image", ctx, "refining", last=True)
                w.request(
                    "stash",
                    ctx,
                    "refining",
                    key=pending_key(key, Stage.REFINE, ctx.seed, instruction),
                )
        meta.update(settings)
        ctx.progress(1.0, "refined", thumbnail(image))
        return RefineResult(
            instruction,
            image,
            meta=meta,
            sampling_steps=steps,
            used_input=used_input(Stage.REFINE, ctx.person),
        )
