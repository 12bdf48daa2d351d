"""Progress, previews and cancellation inside the libraries' own loops: a diffusers
`callback_on_step_end` and a transformers StoppingCriteria that report to the stage's context
and stop between two steps when the person pressed Stop.

Like the whole package, it imports only the standard library at module level (BAGEL's worker
imports it in BAGEL's own environment); torch and the libraries are imported inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .previews import diffusers_latent_preview

if TYPE_CHECKING:  # pragma: no cover
    from ..base import StageContext


class StepCounter:
    def __init__(self) -> None:
        self.steps = 0


def diffusers_callback(
    ctx: "StageContext",
    label: str,
    total: int,
    counter: StepCounter,
    *,
    height: int,
    width: int,
    preview_every: int = 5,
    decode: bool = True,
    start: float = 0.0,
    span: float = 1.0,
):
    """A `callback_on_step_end`: counts steps, reports progress with a decoded preview every few steps,
    and raises `Cancelled` (through ctx.progress) between steps when the person pressed Stop."""

    def callback(pipe, step: int, timestep, kwargs: dict) -> dict:
        counter.steps += 1
        preview = None
        latents = kwargs.get("latents")
        if (
            preview_every
            and latents is not None
            and (counter.steps % preview_every == 0 or counter.steps == 1)
        ):
            preview = diffusers_latent_preview(pipe, latents, height, width, decode)
        ctx.progress(
            start + span * min(1.0, counter.steps / max(total, 1)),
            f"{label}: step {counter.steps}/{total}",
            preview,
        )
        return kwargs

    return callback


_text_progress_class: list[type] = []


def text_progress(
    ctx: "StageContext",
    label: str,
    max_new_tokens: int,
    counter: StepCounter | None = None,
    *,
    every: int = 8,
    start: float = 0.0,
    span: float = 1.0,
):
    """A transformers StoppingCriteria that reports progress every few tokens and stops the
    generation (by raising `Cancelled`) when the person pressed Stop."""
    import torch
    from transformers import StoppingCriteria

    if not _text_progress_class:

        class _TextProgress(StoppingCriteria):
            def __init__(self, ctx, label, total, counter, every, start, span):
                self.ctx, self.label, self.total, self.counter = ctx, label, max(1, total), counter
                self.every, self.start, self.span = max(1, every), start, span

            def __call__(self, input_ids, scores, **kwargs):
                self.counter.steps += 1
                n = self.counter.steps
                if n % self.every == 0:
                    self.ctx.progress(
                        self.start + self.span * min(1.0, n / self.total),
                        f"{self.label}: {n} tokens",
                    )
                else:
                    self.ctx.check_cancelled()
                return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

        _text_progress_class.append(_TextProgress)
    return _text_progress_class[0](
        ctx, label, max_new_tokens, counter or StepCounter(), every, start, span
    )
