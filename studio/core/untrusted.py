"""Whole documents from outside, checked before anything of them is written: the trajectory a
final PNG or an export carries, and the image bytes that come with it.

A PNG's text chunk is as untrusted as a form field: someone can write any JSON there, with
another session's ids, wrong types, huge strings, cycles, or numbers JSON should not hold. This
module is the import side of the boundary (`studio.core.limits` is the form side, and these checks
reuse its limits): it turns the JSON into a `Trajectory` only when every field has the type,
size and range the store and the engines expect and every reference points inside the tree.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

from . import limits
from .codec import BOX_CORNERS, trajectory_from_dict
from .domain import Author, Mode, Review, Stage, StudioError, Trajectory
from .people import JUDGEMENT_KINDS, Judgement, judgement_from_dict
from .pngmeta import strip

MAX_STEPS = 10_000
MAX_TEXT_CHARS = 200_000  # an engine's notes (a think trace) can be long; a prompt cannot (limits)
MAX_SIDE = 4096  # the largest image the studio accepts (uploads say the same)
MAX_IMAGE_BYTES = 64 * 1024 * 1024
MAX_JUDGEMENTS = 100_000  # ratings and preferences of one session, every person's
_JUDGED_STAGES = (Stage.SKETCH, Stage.REFINE, Stage.FINAL)  # the images a person may rate (runner)
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _fail(where: str, problem: str) -> StudioError:
    return StudioError(
        f"The imported trajectory is damaged or forged ({where} {problem}); nothing was imported."
    )


def _field(
    data: dict,
    key: str,
    where: str,
    kinds: type | tuple[type, ...],
    *,
    optional: bool = False,
    nullable: bool = False,
) -> Any:
    """`data[key]` if it has one of `kinds`; `optional`: may be absent (its default applies);
    `nullable`: may be null (the column allows NULL)."""
    if key not in data or (data[key] is None and nullable):
        if optional or nullable:
            return None
        raise _fail(where, f"has no {key}")
    if data[key] is None:
        raise _fail(where, f"has a null {key}")
    value = data[key]
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise _fail(where, f"has {key} of the wrong type")
    if not isinstance(value, kinds):
        raise _fail(where, f"has {key} of the wrong type ({type(value).__name__})")
    return value


def _number(
    data: dict,
    key: str,
    where: str,
    low: float,
    high: float,
    *,
    integer: bool = False,
    optional: bool = False,
    nullable: bool = False,
) -> None:
    value = _field(
        data, key, where, int if integer else (int, float), optional=optional, nullable=nullable
    )
    if value is not None and (not math.isfinite(value) or not low <= value <= high):
        raise _fail(where, f"has {key} out of range")


def _text(
    data: dict, key: str, where: str, max_chars: int = MAX_TEXT_CHARS, *, nullable: bool = True
) -> None:
    value = _field(data, key, where, str, optional=True, nullable=nullable)
    if value is not None:
        try:
            limits.text(value, f"{key} of {where}", max_chars=max_chars, allow_empty=True)
        except StudioError as error:
            raise _fail(where, f"has a bad {key}: {error}") from None


def _id(value: Any, where: str, pattern: re.Pattern = _HEX32) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _fail(
            where, f"has an id that is not lowercase hex of the right length: {limits.shown(value)}"
        )
    return value


def _image(data: Any, where: str) -> None:
    if data is None:
        return
    if not isinstance(data, dict):
        raise _fail(where, "has an image that is not an object")
    _id(data.get("sha256"), where, _HEX64)
    _number(data, "width", where, 1, MAX_SIDE, integer=True)
    _number(data, "height", where, 1, MAX_SIDE, integer=True)
    _number(data, "byte_size", where, 1, MAX_IMAGE_BYTES, integer=True)


def _check(data: Any, where: str) -> None:
    if data is None:
        return
    if not isinstance(data, dict):
        raise _fail(where, "has a verdict that is not an object")
    _field(data, "passed", where, bool)
    _text(data, "critique", where)
    for box in _field(data, "evidence", where, list, optional=True) or []:
        if not isinstance(box, dict):
            raise _fail(where, "has an evidence box that is not an object")
        for key in BOX_CORNERS:
            _number(box, key, where, -1e6, 1e6)
        _text(box, "label", where, 200)
        _number(box, "score", where, -1e6, 1e6, optional=True, nullable=True)


def _session(data: Any) -> str:
    if not isinstance(data, dict):
        raise _fail("the session", "is not an object")
    where = "the session"
    session_id = _id(data.get("id"), where)
    try:
        limits.prompt(_field(data, "prompt", where, str))
        if "title" in data and not isinstance(data["title"], str):
            raise _fail(where, "has a title that is not text")
        limits.title(data.get("title", ""), allow_empty=True)
        limits.text(_field(data, "engine", where, str), "engine name", max_chars=64)
    except StudioError as error:
        raise _fail(where, f"is not valid: {error}") from None
    _number(data, "seed", where, -limits.MAX_SEED, limits.MAX_SEED, integer=True)
    _number(data, "version", where, 0, limits.MAX_VERSION, integer=True, optional=True)
    for key in ("created_at", "updated_at"):
        _number(data, key, where, 0, 1e11)
    settings = _field(data, "settings", where, dict, optional=True, nullable=True) or {}
    _number(settings, "max_rounds", where, 1, limits.MAX_ROUNDS, integer=True, optional=True)
    if settings.get("mode", Mode.PROCESS.value) not in {m.value for m in Mode}:
        raise _fail(where, "has an unknown mode")
    if not isinstance(settings.get("engine_params", {}), dict):
        raise _fail(where, "has engine settings that are not an object")
    tags = _field(data, "tags", where, list, optional=True) or []
    if len(tags) > 100 or not all(isinstance(t, str) and len(t) <= 100 for t in tags):
        raise _fail(where, "has bad tags")
    _name(data, "owner", where, nullable=False)
    _field(data, "shared", where, bool, optional=True)
    return session_id


def _name(data: dict, key: str, where: str, *, nullable: bool = True) -> None:
    """A person's name (a session's owner, a step's annotator); a file made without logins has none."""
    value = _field(data, key, where, str, optional=True, nullable=nullable)
    if value:
        try:
            limits.person_name(value)
        except StudioError as error:
            raise _fail(where, f"has a bad {key}: {error}") from None


def _step(data: Any, session_id: str, index: int) -> None:
    where = f"step {index}"
    if not isinstance(data, dict):
        raise _fail(where, "is not an object")
    _id(data.get("id"), where)
    if data.get("session_id") != session_id:
        raise _fail(where, "belongs to another session")
    if data.get("parent_id") is not None:
        _id(data["parent_id"], where)
    for key, enum in (("stage", Stage), ("author", Author)):
        if data.get(key) not in {e.value for e in enum}:
            raise _fail(where, f"has an unknown {key}")
    if data.get("review") is not None and data["review"] not in {r.value for r in Review}:
        raise _fail(where, "has an unknown review")
    _number(data, "round", where, 0, 10_000, integer=True, optional=True)
    for key in ("instruction", "description"):
        _text(data, key, where)
    _text(data, "review_note", where, nullable=False)
    _check(data.get("plan_check"), where)
    _check(data.get("sketch_check"), where)
    _image(data.get("image"), where)
    region = data.get("region")
    if region is not None:
        if not isinstance(region, dict):
            raise _fail(where, "has a region that is not an object")
        _image(region.get("image"), where)
    _field(data, "complete", where, bool, optional=True)
    _number(data, "seed", where, -limits.MAX_SEED, limits.MAX_SEED, integer=True, nullable=True)
    _number(data, "elapsed_s", where, 0, 1e9, nullable=True)
    _number(data, "sampling_steps", where, 0, 10**9, integer=True, optional=True)
    _number(data, "created_at", where, 0, 1e11)
    _name(data, "annotator", where)
    for key in ("original", "params", "meta"):
        _field(data, key, where, dict, optional=True)


def trajectory(data: Any) -> Trajectory:
    """A trajectory from untrusted JSON data, or StudioError saying what is wrong with it."""
    if not isinstance(data, dict):
        raise _fail("the trajectory", "is not an object")
    try:
        limits.json_value(data, "trajectory", depth=12, items=MAX_STEPS, max_chars=MAX_TEXT_CHARS)
    except StudioError as error:
        raise _fail("the trajectory", f"is not plain data: {error}") from None
    session_id = _session(data.get("session"))
    steps = data.get("steps")
    if not isinstance(steps, list):
        raise _fail("the trajectory", "has no list of steps")
    ids = set()
    for index, step in enumerate(steps):
        _step(step, session_id, index)
        if step["id"] in ids:
            raise _fail(f"step {index}", "repeats the id of another step")
        ids.add(step["id"])
    for index, step in enumerate(steps):
        if step.get("parent_id") is not None and step["parent_id"] not in ids:
            raise _fail(f"step {index}", "names a parent that is not in the trajectory")
    head = data["session"].get("head_id")
    if head is not None and head not in ids:
        raise _fail("the session", "names a head step that is not in the trajectory")
    try:
        built = trajectory_from_dict(data)
    except (KeyError, TypeError, ValueError) as error:
        raise _fail("the trajectory", f"does not fit the format ({type(error).__name__})") from None
    built.tree_order()  # every step reachable from a root: no cycles
    return built


def judgements(data: Any, tree: Trajectory) -> list[Judgement]:
    """The ratings and preferences an export carries for `tree`'s session, or StudioError: each names
    image steps of this tree, has a value of its kind, and a checked note, person and time."""
    if data is None:
        return []
    if not isinstance(data, list) or len(data) > MAX_JUDGEMENTS:
        raise _fail("the judgements", f"are not a list of at most {MAX_JUDGEMENTS:,}")
    found, ids = [], set()
    for index, item in enumerate(data):
        where = f"judgement {index}"
        if not isinstance(item, dict):
            raise _fail(where, "is not an object")
        if _id(item.get("id"), where) in ids:
            raise _fail(where, "repeats the id of another judgement")
        ids.add(item["id"])
        if item.get("session_id") != tree.session.id:
            raise _fail(where, "belongs to another session")
        kind = item.get("kind")
        if kind not in JUDGEMENT_KINDS:
            raise _fail(where, "has an unknown kind")
        pair = [item.get("step_id")] + ([item.get("other_step_id")] if kind == "preference" else [])
        for step_id in pair:
            step = tree.steps.get(step_id) if isinstance(step_id, str) else None
            if step is None or step.image is None or step.stage not in _JUDGED_STAGES:
                raise _fail(where, "names a step that is not an image of this session")
        if kind == "rating" and item.get("other_step_id") is not None:
            raise _fail(where, "is a rating of two steps")
        if len(set(pair)) != len(pair):
            raise _fail(where, "compares an image with itself")
        check = limits.rating if kind == "rating" else limits.preference
        try:
            if not isinstance(item.get("value"), str) or check(item["value"]) != item["value"]:
                raise StudioError(f"{limits.shown(item.get('value'))} is not a {kind}")
            limits.note(_field(item, "note", where, str, optional=True) or "")
        except StudioError as error:
            raise _fail(where, f"is not valid: {error}") from None
        _name(item, "annotator", where, nullable=False)
        _number(item, "created_at", where, 0, 1e11)
        found.append(judgement_from_dict(item))
    return found


def png_pixels(data: bytes) -> tuple[int, int]:
    """(width, height) after decoding every pixel: a PNG whose header is fine but whose image data
    is garbage, or that is too large, is refused here rather than stored as someone's final image."""
    from PIL import Image

    if len(data) > MAX_IMAGE_BYTES:
        raise StudioError(f"The image is {len(data):,} bytes; the limit is {MAX_IMAGE_BYTES:,}.")
    try:
        with Image.open(io.BytesIO(strip(data))) as image:
            if image.format != "PNG":
                raise StudioError("The image is not a PNG.")
            width, height = image.size
            if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
                raise StudioError(
                    f"The image is {width}×{height} pixels; the limit is {MAX_SIDE}×{MAX_SIDE}."
                )
            image.load()
    except StudioError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        raise StudioError(
            f"The image data is damaged ({limits.shown(str(error), 80)}); nothing was imported."
        ) from None
    return width, height
