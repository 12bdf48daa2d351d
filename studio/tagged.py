"""A branch as the paper's tagged text: `<ins>…</ins><des>…</des>`, images, verdicts, `<refine>`.

One line per step, so a trajectory reads top to bottom and diffs well:

    <prompt>a dog right of a cat</prompt>
    <ins>Draw a cat.</ins><des>a cat</des>
    <image sha256="…" width="512" height="512" bytes="9121" />
    <inspect><plan pass="true">Matches the prompt.</plan><sketch pass="false">The cat is missing.<box … /></sketch></inspect>
    <refine>add a cat</refine><image … />
    <final><image … /></final>

Text is XML-escaped, so any instruction survives the round trip.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .domain import Author, Box, Check, ImageRef, Review, Stage, Step, StudioError, new_id


def _image_element(ref: ImageRef, review: Review | None = None) -> ET.Element:
    attrs = {"sha256": ref.sha256, "width": str(ref.width), "height": str(ref.height), "bytes": str(ref.byte_size)}
    if review is not None:
        attrs["review"] = review.value
    return ET.Element("image", attrs)


def _text_element(tag: str, text: str | None, author: Author) -> ET.Element:
    element = ET.Element(tag, {"author": "human"} if author is Author.HUMAN else {})
    element.text = text or ""
    return element


def _check_element(tag: str, check: Check) -> ET.Element:
    element = ET.Element(tag, {"pass": "true" if check.passed else "false"})
    element.text = check.critique
    for box in check.evidence:
        attrs = {k: f"{getattr(box, k):g}" for k in ("x0", "y0", "x1", "y1")}
        attrs["label"] = box.label
        if box.score is not None:
            attrs["score"] = f"{box.score:g}"
        ET.SubElement(element, "box", attrs)
    return element


def _step_elements(step: Step) -> list[ET.Element]:
    if step.stage is Stage.PLAN:
        return [_text_element("ins", step.instruction, step.author), _text_element("des", step.description, step.author)]
    if step.stage is Stage.INSPECT:
        inspect = ET.Element("inspect", {"author": "human"} if step.author is Author.HUMAN else {})
        for tag, check in (("plan", step.plan_check), ("sketch", step.sketch_check)):
            if check is not None:
                inspect.append(_check_element(tag, check))
        return [inspect]
    elements = []
    if step.stage is Stage.REFINE:
        elements.append(_text_element("refine", step.instruction, step.author))
    if step.stage is Stage.FINAL:
        final = ET.Element("final")
        if step.image is not None:
            final.append(_image_element(step.image))
        return [final]
    if step.image is not None:
        elements.append(_image_element(step.image, step.review))
    return elements


def render(prompt: str, branch: list[Step]) -> str:
    """The branch as tagged text, one step per line, preceded by the prompt."""
    lines = [ET.tostring(_text_element("prompt", prompt, Author.MODEL), encoding="unicode")]
    for step in branch:
        lines.append("".join(ET.tostring(e, encoding="unicode") for e in _step_elements(step)))
    return "\n".join(lines) + "\n"


def _author(element: ET.Element) -> Author:
    return Author.HUMAN if element.get("author") == "human" else Author.MODEL


def _image(element: ET.Element) -> ImageRef:
    return ImageRef(element.get("sha256", ""), int(element.get("width", 0)), int(element.get("height", 0)), int(element.get("bytes", 0)))


def _check(element: ET.Element | None) -> Check | None:
    if element is None:
        return None
    boxes = tuple(
        Box(*(float(b.get(k, 0)) for k in ("x0", "y0", "x1", "y1")), label=b.get("label", ""),
            score=float(b.get("score")) if b.get("score") is not None else None)
        for b in element.findall("box")
    )
    return Check(passed=element.get("pass") == "true", critique=element.text or "", evidence=boxes)


def parse(text: str, session_id: str = "") -> tuple[str, list[Step]]:
    """Tagged text → (prompt, branch). Steps get fresh ids and are chained parent → child."""
    try:
        root = ET.fromstring(f"<trajectory>{text}</trajectory>")
    except ET.ParseError as error:
        raise StudioError(f"This is not a tagged trajectory ({error}); expected <ins>…</ins><des>…</des> lines.") from None
    prompt = ""
    steps: list[Step] = []

    def add(stage: Stage, **fields) -> None:
        parent = steps[-1].id if steps else None
        steps.append(Step(id=new_id(), session_id=session_id, parent_id=parent, stage=stage, **fields))

    for element in root:
        tag = element.tag
        if tag == "prompt":
            prompt = element.text or ""
        elif tag == "ins":
            add(Stage.PLAN, instruction=element.text or "", author=_author(element))
        elif tag == "des":
            if steps and steps[-1].stage is Stage.PLAN and steps[-1].description is None:
                steps[-1] = steps[-1].replace(description=element.text or "")
            else:
                add(Stage.PLAN, description=element.text or "", author=_author(element))
        elif tag == "image":
            review = Review(element.get("review")) if element.get("review") else None
            if steps and steps[-1].stage is Stage.REFINE and steps[-1].image is None:
                steps[-1] = steps[-1].replace(image=_image(element), review=review)
            else:
                add(Stage.SKETCH, image=_image(element), review=review)
        elif tag == "inspect":
            add(Stage.INSPECT, plan_check=_check(element.find("plan")), sketch_check=_check(element.find("sketch")),
                author=_author(element))
        elif tag == "refine":
            add(Stage.REFINE, instruction=element.text or "", author=_author(element))
        elif tag == "final":
            image = element.find("image")
            add(Stage.FINAL, image=_image(image) if image is not None else None)
        else:
            raise StudioError(f"Unknown tag <{tag}> in a tagged trajectory.")
    return prompt, steps
