"""A branch as the paper's tagged text (`studio show --text`): one line per step, in the loop's own
texts (studio/core/protocol.py), so what a person reads is what a model reads and writes:

    <prompt>a dog right of a cat</prompt>
    <ins>Draw a cat.</ins><des>a cat</des><done>no</done>
    <image sha256="…" width="512" height="512" bytes="9121"/>
    <plan>yes: Matches the prompt.</plan><sketch>no: The cat is missing.<box … /></sketch>
    <human/><refine>add a cat</refine><image … review="accepted"/>
    <final/><image …/>

`<human/>` opens the line of a step a person made or changed; `<image …/>` names a stored image;
`<unreadable/>` stands for a verdict the engine could not read (an inspect step without checks).
Texts are escaped (newlines too), so any text survives the round trip and a step stays one line;
`parse` reads the lines in the protocol's strict mode.
"""

from __future__ import annotations

import re

from . import protocol
from .domain import Author, ImageRef, Review, Stage, Step, StudioError, new_id

HUMAN = "<human/>"
UNREAD = "<unreadable/>"  # an inspect step whose verdict could not be read (it has no checks)
_IMAGE = re.compile(
    r'<image sha256="([0-9a-f]*)" width="(\d+)" height="(\d+)" bytes="(\d+)"'
    r'(?: review="(accepted|rejected)")?/>'
)


def _image(ref: ImageRef | None, review: Review | None = None) -> str:
    if ref is None:
        return ""
    extra = f' review="{review.value}"' if review is not None else ""
    return f'<image sha256="{ref.sha256}" width="{ref.width}" height="{ref.height}" bytes="{ref.byte_size}"{extra}/>'


def step_line(step: Step) -> str:
    """One step as its line of tagged text."""
    who = HUMAN if step.author is Author.HUMAN else ""
    if step.stage is Stage.PLAN:
        body = protocol.plan_text(step.instruction, step.description, step.complete, newlines=True)
    elif step.stage is Stage.INSPECT:
        plan_check, sketch_check = step.plan_check, step.sketch_check
        body = "".join(
            protocol.check_text(name, check, newlines=True)
            for name, check in (("plan", plan_check), ("sketch", sketch_check))
            if check is not None
        )
        body = body or UNREAD
    elif step.stage is Stage.REFINE:
        body = protocol.refine_text(step.instruction, newlines=True) + _image(
            step.image, step.review
        )
    elif step.stage is Stage.FINAL:
        body = protocol.FINAL + _image(step.image, step.review)
    else:
        body = _image(step.image, step.review)
    return who + body


def render(prompt: str, branch: list[Step]) -> str:
    """The branch as tagged text, one step per line, preceded by the prompt."""
    lines = [f"<prompt>{protocol.escape(prompt, newlines=True)}</prompt>"]
    lines += [step_line(step) for step in branch]
    return "\n".join(lines) + "\n"


def _read_image(text: str, where: str) -> tuple[ImageRef | None, Review | None]:
    if not text:
        return None, None
    match = _IMAGE.fullmatch(text)
    if match is None:
        raise StudioError(
            f"{where}: {text[:80]!r} is not an <image sha256=… width=… height=… bytes=…/> element."
        )
    sha, width, height, size, review = match.groups()
    return ImageRef(sha, int(width), int(height), int(size)), Review(review) if review else None


def _fields(line: str, where: str) -> dict:
    """A step's fields from its line (without the <human/> mark)."""
    if line.startswith("<ins>"):
        plan = protocol.read_plan(line, strict=True)
        return dict(
            stage=Stage.PLAN,
            instruction=plan.instruction,
            description=plan.description,
            complete=bool(plan.complete),
        )
    if line.startswith(("<plan>", "<sketch>")):
        parts = {m.group(1): m.group(0) for m in re.finditer(r"<(plan|sketch)>.*?</\1>", line)}
        if "".join(parts.values()) != line:
            raise StudioError(
                f"{where}: a verdict line holds <plan>…</plan><sketch>…</sketch> and nothing else."
            )
        checks = {
            name: protocol.read_check(part, name, strict=True) for name, part in parts.items()
        }
        return dict(
            stage=Stage.INSPECT, plan_check=checks.get("plan"), sketch_check=checks.get("sketch")
        )
    if line == UNREAD:
        return dict(stage=Stage.INSPECT)
    if line.startswith("<refine>"):
        end = line.find("</refine>") + len("</refine>")
        image, review = _read_image(line[end:], where)
        return dict(
            stage=Stage.REFINE,
            instruction=protocol.read_refine(line[:end], strict=True),
            image=image,
            review=review,
        )
    if line.startswith(protocol.FINAL):
        image, review = _read_image(line[len(protocol.FINAL) :], where)
        return dict(stage=Stage.FINAL, image=image, review=review)
    if line.startswith("<image "):
        image, review = _read_image(line, where)
        return dict(stage=Stage.SKETCH, image=image, review=review)
    raise StudioError(
        f"{where}: {line[:80]!r} is no step of a tagged trajectory; a line starts with <ins>, "
        "<plan>, <refine>, <image …/> or <final/>."
    )


def parse(text: str, session_id: str = "") -> tuple[str, list[Step]]:
    """Tagged text → (prompt, branch). Steps get fresh ids and are chained parent → child."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]  # a text may end lines with \r\n
    first = re.fullmatch(r"<prompt>([^<>]*)</prompt>", lines[0]) if lines else None
    if first is None:
        raise StudioError(
            "This is not a tagged trajectory: its first line must be <prompt>…</prompt>."
        )
    steps: list[Step] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        human = line.startswith(HUMAN)
        try:
            fields = _fields(line[len(HUMAN) :] if human else line, f"line {number}")
        except protocol.UnreadableText as error:
            raise StudioError(f"line {number}: {error}") from None
        steps.append(
            Step(
                id=new_id(),
                session_id=session_id,
                parent_id=steps[-1].id if steps else None,
                author=Author.HUMAN if human else Author.MODEL,
                **fields,
            )
        )
    return protocol.unescape(first.group(1)), steps
