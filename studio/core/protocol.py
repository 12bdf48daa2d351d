"""The loop's texts: what a model reads and writes at each stage, and what the exports teach it.

One owner for the tags, so the engines, the exporters and `studio show --text` write and read the
same texts (an export's verdicts are what an engine can read back, `<done>` included). Version 1:

    plan     = "<ins>" TEXT "</ins>" "<des>" TEXT "</des>" "<done>" ("yes" | "no") "</done>"
    verdict  = "<plan>" check "</plan>" "<sketch>" check "</sketch>"
    check    = ("yes" | "no") [": " TEXT] box*
    box      = '<box x0="N" y0="N" x1="N" y1="N" label="TEXT" [score="N"]/>'
    refine   = "<refine>" TEXT "</refine>"
    final    = "<final/>"
    TEXT     = any text with & < > written as &amp; &lt; &gt; (and, where asked, newlines as &#10;)

Writers always write this form. Readers come in two modes: `strict` takes exactly the grammar
(the studio's own texts: exports, `studio show --text`); lenient (the default, for what a model
answered) also takes a missing closing tag, other case, text and `<think>…</think>` around the
tags, "pass"/"fail" and other synonyms for yes/no, and the attribute form
`<plan pass="true">…</plan>` that earlier exports hold. A verdict neither mode can read raises
`UnreadableText`: it is never taken as a pass (the runner records it as an inspect step without
checks, which has not passed).
Pure Python on the domain's types: no torch, no I/O.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .domain import Box, Check, StudioError

VERSION = 1
STAGE_TAGS = ("ins", "des", "done", "plan", "sketch", "refine", "final")
YES = (
    "yes",
    "y",
    "pass",
    "passed",
    "true",
    "ok",
    "okay",
    "correct",
    "consistent",
    "approve",
    "approved",
)
NO = (
    "no",
    "n",
    "fail",
    "failed",
    "false",
    "wrong",
    "incorrect",
    "inconsistent",
    "reject",
    "rejected",
)
FINAL = "<final/>"
VERDICT_FORM = "<plan>yes|no: why</plan><sketch>yes|no: why</sketch>"
QUOTED = 200  # characters of an unreadable text quoted in the error


class UnreadableText(StudioError):
    """A text that is not the protocol's form for its stage (a verdict a model wrote that says neither yes nor no)."""

    def __init__(
        self,
        what: str,
        raw: str,
        expected: str,
        fix: str = "",
        readable: dict[str, Check] | None = None,
    ):
        self.raw = raw
        # the checks that could be read ("plan_check", "sketch_check")
        self.readable = dict(readable or {})
        shown = re.sub(r"\s+", " ", raw).strip()[:QUOTED]
        super().__init__(f"The {what} could not be read ({shown!r}); it must read {expected}.{fix}")


MODEL_FIX = (
    " The step keeps the answer and counts as not passed; override its verdict, or use a model that "
    "answers in the studio's tags."
)


@dataclass(frozen=True)
class Plan:
    """A plan as read; a lenient read leaves out (None) what the text did not say."""

    instruction: str | None
    description: str | None
    complete: bool | None


@dataclass(frozen=True)
class Checks:
    """The two checks of a verdict: the plan against the prompt, the sketch against the plan."""

    plan: Check
    sketch: Check


# -- escaping ---------------------------------------------------------------------------------

_UNESCAPE = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#10;": "\n"}


def escape(text: str, *, newlines: bool = False, quotes: bool = False) -> str:
    """Text as TEXT: no `<`, `>` or `&` of its own, so no text can close or open a tag."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if quotes:
        text = text.replace('"', "&quot;")
    return text.replace("\n", "&#10;") if newlines else text


def one_line(text: str) -> str:
    """A written text on one line (for line-based layouts): its newlines as &#10;, which reading undoes."""
    return text.replace("\n", "&#10;")


def unescape(text: str) -> str:
    return re.sub(r"&(?:amp|lt|gt|quot|#10);", lambda m: _UNESCAPE[m.group(0)], text)


def _number(value: float) -> str:
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


# -- writing ----------------------------------------------------------------------------------


def plan_text(
    instruction: str | None, description: str | None, complete: bool, *, newlines: bool = False
) -> str:
    return (
        f"<ins>{escape(instruction or '', newlines=newlines)}</ins>"
        f"<des>{escape(description or '', newlines=newlines)}</des><done>{'yes' if complete else 'no'}</done>"
    )


def box_text(box: Box) -> str:
    attrs = [f'{k}="{_number(getattr(box, k))}"' for k in ("x0", "y0", "x1", "y1")]
    attrs.append(f'label="{escape(box.label, newlines=True, quotes=True)}"')
    if box.score is not None:
        attrs.append(f'score="{_number(box.score)}"')
    return f"<box {' '.join(attrs)}/>"


def check_text(name: str, check: Check, *, newlines: bool = False) -> str:
    critique = f": {escape(check.critique, newlines=newlines)}" if check.critique else ""
    boxes = "".join(box_text(b) for b in check.evidence)
    return f"<{name}>{'yes' if check.passed else 'no'}{critique}{boxes}</{name}>"


def verdict_text(plan_check: Check, sketch_check: Check, *, newlines: bool = False) -> str:
    return check_text("plan", plan_check, newlines=newlines) + check_text(
        "sketch", sketch_check, newlines=newlines
    )


def refine_text(instruction: str | None, *, newlines: bool = False) -> str:
    return f"<refine>{escape(instruction or '', newlines=newlines)}</refine>"


def shown_tag(name: str, content: object) -> str:
    """`content` inside one of the loop's tags exactly as it is (not escaped), for a person to read,
    e.g. a terminal's line per step: `shown_tag("ins", "draw a cat")` is `<ins>draw a cat</ins>`.
    What a model reads is written by `plan_text`, `verdict_text` and `refine_text`."""
    if name not in STAGE_TAGS:
        raise ValueError(f"{name!r} is not one of the loop's tags {STAGE_TAGS}")
    return f"<{name}>{content}</{name}>"


# -- reading ----------------------------------------------------------------------------------

_STOP = "|".join(STAGE_TAGS)
_BOX = re.compile(r"<box\b([^<>]*?)/?>", re.I)
_ATTR = re.compile(r'([a-z0-9_]+)="([^"]*)"', re.I)


def _strict_tag(text: str, name: str) -> str | None:
    match = re.fullmatch(rf"<{name}>(.*?)</{name}>", text, re.S)
    return match.group(1) if match else None


def lenient_tag(text: str, name: str) -> tuple[str, dict[str, str]] | None:
    """(content, attributes) of the first <name …>…</name>, after dropping <think>…</think>; a missing closing
    tag ends at the next stage tag or the end. None when the tag is not there."""
    text = re.sub(r"<think>.*?</think>", " ", text, flags=re.S | re.I)
    match = re.search(
        rf"<{name}(\s[^<>]*)?>(.*?)(?:</{name}\s*>|(?=</?(?:{_STOP})\b)|$)", text, re.S | re.I
    )
    if match is None:
        return None
    return match.group(2).strip(), {k.lower(): v for k, v in _ATTR.findall(match.group(1) or "")}


def _boxes(content: str) -> tuple[str, tuple[Box, ...]]:
    boxes = []
    for attrs in _BOX.findall(content):
        found = {k.lower(): unescape(v) for k, v in _ATTR.findall(attrs)}
        try:
            corners = [float(found[k]) for k in ("x0", "y0", "x1", "y1")]
            score = float(found["score"]) if "score" in found else None
        except (KeyError, ValueError):
            continue
        if all(math.isfinite(v) for v in corners):
            x0, y0, x1, y1 = corners
            boxes.append(Box(x0, y0, x1, y1, label=found.get("label", ""), score=score))
    return _BOX.sub("", content), tuple(boxes)


def yes_no(text: str) -> tuple[bool | None, str]:
    """(verdict or None, the rest) for answers like "yes", "no: the cup is red", "fail - missing dog"."""
    match = re.match(r"\s*([A-Za-z]+)\b\s*[:,.;\-–—]?\s*(.*)", text, re.S)
    if not match:
        return None, text.strip()
    word, rest = match.group(1).lower(), match.group(2).strip()
    return (True, rest) if word in YES else (False, rest) if word in NO else (None, text.strip())


def _strict_check(content: str) -> Check | None:
    match = re.fullmatch(r"(yes|no)(?:: ([^<>]*?))?((?:<box [^<>]*/>)*)", content, re.S)
    if match is None:
        return None
    _, boxes = _boxes(match.group(3))
    return Check(match.group(1) == "yes", unescape(match.group(2) or ""), boxes)


def _lenient_check(found: tuple[str, dict[str, str]] | None) -> Check | None:
    if found is None:
        return None
    content, attrs = found
    rest, boxes = _boxes(content)
    # the attribute form earlier exports wrote: <plan pass="true">why</plan>
    if attrs.get("pass", "").lower() in ("true", "false"):
        return Check(attrs["pass"].lower() == "true", unescape(rest.strip()), boxes)
    passed, critique = yes_no(rest)
    return None if passed is None else Check(passed, unescape(critique), boxes)


def read_check(text: str, name: str, *, strict: bool = False) -> Check:
    """One check alone (`<plan>…</plan>` or `<sketch>…</sketch>`), as the vlm-sft answers hold it."""
    if strict:
        content = _strict_tag(text, name)
        check = _strict_check(content) if content is not None else None
    else:
        check = _lenient_check(lenient_tag(text, name))
    if check is None:
        raise UnreadableText(
            f"{name} check", text, f"<{name}>yes|no: why</{name}>", "" if strict else MODEL_FIX
        )
    return check


def read_verdict(text: str, *, strict: bool = False) -> Checks:
    """Both checks of a verdict, or UnreadableText naming what it should have been."""
    if strict:
        match = re.fullmatch(r"(<plan>.*?</plan>)(<sketch>.*</sketch>)", text, re.S)
        checks = (
            [
                _strict_check(_strict_tag(part, name) or "\0")
                for part, name in ((match.group(1), "plan"), (match.group(2), "sketch"))
            ]
            if match
            else [None, None]
        )
    else:
        checks = [_lenient_check(lenient_tag(text, name)) for name in ("plan", "sketch")]
    if checks[0] is None or checks[1] is None:
        unread = " and ".join(n for n, c in zip(("plan", "sketch"), checks) if c is None)
        readable = {f"{n}_check": c for n, c in zip(("plan", "sketch"), checks) if c is not None}
        raise UnreadableText(
            f"verdict ({unread} check)", text, VERDICT_FORM, "" if strict else MODEL_FIX, readable
        )
    return Checks(checks[0], checks[1])


def read_plan(text: str, *, strict: bool = False) -> Plan:
    """A plan; lenient: whatever of `<ins>`, `<des>` and `<done>` the text holds (None for the rest)."""
    if strict:
        match = re.fullmatch(r"<ins>([^<>]*)</ins><des>([^<>]*)</des><done>(yes|no)</done>", text)
        if match is None:
            raise UnreadableText("plan", text, "<ins>…</ins><des>…</des><done>yes|no</done>")
        return Plan(unescape(match.group(1)), unescape(match.group(2)), match.group(3) == "yes")
    ins, des, done = (lenient_tag(text, name) for name in ("ins", "des", "done"))
    complete = yes_no(done[0])[0] if done else None
    return Plan(unescape(ins[0]) if ins else None, unescape(des[0]) if des else None, complete)


def read_refine(text: str, *, strict: bool = False) -> str | None:
    """The `<refine>` instruction; lenient: None when the text has none."""
    if strict:
        match = re.fullmatch(r"<refine>([^<>]*)</refine>", text)
        if match is None:
            raise UnreadableText("refine", text, "<refine>…</refine>")
        return unescape(match.group(1))
    found = lenient_tag(text, "refine")
    return unescape(found[0]) if found else None
