"""GenEval's prompt file: one JSON object a line, `tag`, `prompt`, `include` and optionally `exclude`.

Each `include` entry is `{"class", "count", "color"?, "position"?: [relation, index]}` where `index`
points at an earlier `include` entry; each `exclude` entry is `{"class", "count"}` (fewer than
`count` such objects may appear). A prompt keeps its place in the file (from 0) as its index: that is
the `<NNNNN>` folder GenEval's generation script writes it to, whatever `--tags` / `--limit` select.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..core import limits
from ..core.domain import StudioError
from ..language.scene import COLORS, RELATIONS

# A source checkout keeps the shared data beside it: <checkout>/../shared/data/geneval/.
DEFAULT_PROMPTS = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "geneval"
    / "evaluation_metadata.jsonl"
)
TAGS = (
    "single_object",
    "two_object",
    "counting",
    "colors",
    "position",
    "color_attr",
)  # GenEval's order


@dataclass(frozen=True)
class Prompt:
    index: int  # its place among the file's prompts, from 0: GenEval's <NNNNN> folder
    row: dict[str, Any]  # the metadata object exactly as read

    @property
    def tag(self) -> str:
        return self.row["tag"]

    @property
    def text(self) -> str:
        return self.row["prompt"]


def resolve_prompts(path: str | Path | None) -> Path:
    """The prompt file to read: `path`, or GenEval's official file beside a source checkout."""
    if path is not None:
        chosen = Path(path).expanduser()
        if not chosen.is_file():
            raise StudioError(
                f"--prompts {chosen}: no such file. Pass GenEval's evaluation_metadata.jsonl "
                "(or a file in its format)."
            )
        return chosen
    if not DEFAULT_PROMPTS.is_file():
        raise StudioError(
            f"GenEval's prompt file is not at {DEFAULT_PROMPTS} (the default, beside a source checkout). "
            "Pass it with --prompts FILE: evaluation_metadata.jsonl from github.com/djghosh13/geneval "
            "(prompts/evaluation_metadata.jsonl), or any file in its format."
        )
    return DEFAULT_PROMPTS


def _check_row(row: Any, where: str) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise StudioError(f"{where}: expected a JSON object with tag, prompt and include.")
    for key, kind in (("tag", str), ("prompt", str), ("include", list)):
        if not isinstance(row.get(key), kind):
            raise StudioError(f"{where}: `{key}` is missing or not a {kind.__name__}.")
    for n, req in enumerate(row["include"]):
        if (
            not isinstance(req, dict)
            or not isinstance(req.get("class"), str)
            or not isinstance(req.get("count"), int)
        ):
            raise StudioError(
                f"{where}: include[{n}] needs a `class` (text) and a `count` (number)."
            )
        if "color" in req and req["color"] not in COLORS:
            raise StudioError(
                f"{where}: include[{n}] colour {req['color']!r} is not one of {', '.join(COLORS)}."
            )
        if "position" in req:
            pos = req["position"]
            if (
                not isinstance(pos, list)
                or len(pos) != 2
                or pos[0] not in RELATIONS
                or not isinstance(pos[1], int)
                or not 0 <= pos[1] < n
            ):
                raise StudioError(
                    f"{where}: include[{n}] position must be [relation, index of an earlier "
                    f"include entry], relation one of {', '.join(RELATIONS)}."
                )
    for n, req in enumerate(row.get("exclude", [])):
        if (
            not isinstance(req, dict)
            or not isinstance(req.get("class"), str)
            or not isinstance(req.get("count"), int)
        ):
            raise StudioError(f"{where}: exclude[{n}] needs a `class` and a `count`.")
    return row


def read_prompts(path: Path) -> list[Prompt]:
    """Every prompt of the file, validated, in file order (blank lines skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise StudioError(
            f"--prompts {path}: cannot read it ({error.strerror or error})."
        ) from None
    prompts = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        row = limits.json_row(line, f"--prompts {path}, line {number + 1}")
        prompts.append(
            Prompt(len(prompts), _check_row(row, f"--prompts {path}, line {number + 1}"))
        )
    if not prompts:
        raise StudioError(f"--prompts {path}: the file holds no prompts.")
    return prompts


def select(
    prompts: list[Prompt], tags: Iterable[str] | None = None, limit: int | None = None
) -> list[Prompt]:
    """The prompts of the given tags (all when None), then the first `limit` of them."""
    chosen = prompts
    if tags:
        wanted = list(dict.fromkeys(tags))
        known = list(dict.fromkeys(p.tag for p in prompts))
        unknown = [t for t in wanted if t not in known]
        if unknown:
            raise StudioError(
                f"--tags: no prompts tagged {', '.join(unknown)}; the file has {', '.join(known)}."
            )
        chosen = [p for p in prompts if p.tag in wanted]
    if limit is not None:
        if limit < 1:
            raise StudioError("--limit must be at least 1.")
        chosen = chosen[:limit]
    return chosen


def file_digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
