"""What the page shows for a trajectory: timeline messages, evidence overlays, choices.

Presentation only: every decision about the loop lives in the runner.
"""

from __future__ import annotations

import hashlib
import html
import io
from typing import Any

from PIL import Image, ImageDraw

from ..domain import Author, Check, ImageRef, Review, Stage, Step, Trajectory
from ..files import write_atomic
from ..store import Store

PASS, FAIL = "✓ pass", "✗ FAIL"


def _text(value: str | None) -> str:
    return html.escape(value or "")


def _check_line(name: str, check: Check | None) -> str:
    if check is None:
        return ""
    return f"{PASS if check.passed else FAIL} **{name}** {_text(check.critique)}"


def _edited(step: Step) -> str:
    if step.author is not Author.HUMAN:
        return ""
    if not step.original:
        return "\n\n(written by you)"
    kept = "; ".join(f"{k}: {_text(v.critique if isinstance(v, Check) else str(v))}" for k, v in step.original.items())
    return f"\n\n(edited by you; the model wrote: {kept})"


def step_title(index: int, step: Step) -> str:
    verdict = ""
    if step.stage is Stage.INSPECT:
        verdict = f" {PASS if step.passed else FAIL}"
    review = f" ({step.review.value})" if step.review else ""
    return f"{index + 1}. {step.stage.value} · round {step.round}{verdict}{review}"


def overlay(image: Image.Image, checks: list[Check | None]) -> Image.Image:
    """The sketch with each check's evidence boxes drawn over it (green: passed, red: failed)."""
    canvas = image.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    for check in checks:
        if check is None:
            continue
        colour = (20, 160, 60) if check.passed else (220, 30, 30)
        for box in check.evidence:
            draw.rectangle((box.x0, box.y0, box.x1, box.y1), outline=colour, width=3)
            if box.label:
                draw.text((box.x0 + 4, max(0, box.y0 - 12)), box.label, fill=colour)
    return canvas


def overlay_file(store: Store, image: ImageRef, checks: list[Check | None]):
    """The evidence overlay as a PNG beside the session images, drawn once per image and verdict."""
    key = hashlib.sha256(repr((image.sha256, checks)).encode()).hexdigest()
    path = store.images_dir / "overlays" / f"{key}.png"
    if not path.exists():
        buffer = io.BytesIO()
        overlay(store.load_image(image), checks).save(buffer, format="PNG")
        write_atomic(path, buffer.getvalue())
    return path


def message(store: Store, index: int, step: Step, branch: list[Step]) -> dict[str, Any]:
    """One timeline entry: the stage's texts, then its image (inspect: evidence over the image it judged)."""
    header = f"**{step_title(index, step)}**"
    lines: list[str] = [header]
    image: Any = None
    if step.stage is Stage.PLAN:
        lines += [f"`<ins>` {_text(step.instruction)}", f"`<des>` {_text(step.description)}"]
    elif step.stage is Stage.INSPECT:
        lines += [_check_line("plan vs prompt", step.plan_check), _check_line("sketch vs instruction", step.sketch_check)]
        judged = next((s for s in reversed(branch[:index]) if s.image is not None), None)
        if judged is not None and any(c and c.evidence for c in (step.plan_check, step.sketch_check)):
            image = {"path": str(overlay_file(store, judged.image, [step.plan_check, step.sketch_check]))}
    elif step.stage is Stage.REFINE:
        lines.append(f"`<refine>` {_text(step.instruction)}")
    if step.image is not None and step.stage is not Stage.INSPECT:
        image = {"path": str(store.image_path(step.image.sha256))}
        meta = [f"seed {step.seed}" if step.seed is not None else "", f"{step.sampling_steps} steps" if step.sampling_steps else ""]
        lines.append(" · ".join(m for m in meta if m))
    if step.elapsed_s is not None:
        lines.append(f"<sub>{step.elapsed_s:.2f} s</sub>")
    if step.review is Review.REJECTED and step.review_note:
        lines.append(f"rejected: {_text(step.review_note)}")
    text = "\n\n".join(line for line in lines if line) + _edited(step)
    return {"role": "user" if step.author is Author.HUMAN else "assistant",
            "content": [text] + ([image] if image is not None else [])}


def timeline(store: Store, trajectory: Trajectory | None) -> list[dict[str, Any]]:
    if trajectory is None:
        return []
    branch = trajectory.branch() if trajectory.session.head_id else []
    messages = [{"role": "user", "content": [f"**Prompt** {_text(trajectory.session.prompt)}"]}]
    messages += [message(store, i, step, branch) for i, step in enumerate(branch)]
    return messages


def step_choices(trajectory: Trajectory | None) -> list[tuple[str, str]]:
    if trajectory is None or not trajectory.session.head_id:
        return []
    return [(step_title(i, s), s.id) for i, s in enumerate(trajectory.branch())]


def branch_choices(trajectory: Trajectory | None) -> list[tuple[str, str]]:
    """Every branch, named by where it ends; rejected dead ends are not branches."""
    if trajectory is None:
        return []
    leaves = [s for s in trajectory.leaves() if s.review is not Review.REJECTED]
    leaves.sort(key=lambda s: s.created_at)
    choices = []
    for number, leaf in enumerate(leaves, start=1):
        depth = len(trajectory.branch(leaf.id))
        choices.append((f"branch {number}: {depth} steps, ends with {leaf.stage.value}", leaf.id))
    return choices


def status_line(trajectory: Trajectory | None, note: str = "") -> str:
    if trajectory is None:
        return note or "Type a prompt and press New session."
    head = trajectory.head()
    where = f"{len(trajectory.branch())} steps, last: {head.stage.value}" if head else "no steps yet"
    done = " — finished" if head is not None and head.stage is Stage.FINAL else ""
    return f"{note + ' · ' if note else ''}session {trajectory.session.id[:8]} · {where}{done}"
