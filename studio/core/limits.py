"""The studio's limits, and the one place where untrusted input is checked against them.

Everything a person or a program hands the studio — CLI options, HTTP endpoint inputs, the
settings inside an imported file — goes through a function here first. Each takes the raw value
(text, a number, JSON text), returns it in the type the code inside uses, or raises StudioError
with one line saying what was wrong and what is allowed. Past this layer the runner, the store
and the engines trust their inputs, so a check is written once, not in every caller.

Messages never echo more than a short, escaped piece of the input (it may be huge, or not
printable) and never name a file path or database URL: the HTTP API shows them to browsers.

What only the engines know (which names exist, each engine's settings) the caller passes in: the
engines registry (`studio.engines`) fits `Engines`, so the core imports no engine. Example::

    from studio import engines as registry
    name = limits.engine_name("offline", registry)
    params = limits.engine_params(name, '{"draft_noise": 0.5}', registry)
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from pathlib import Path
from typing import Any, Callable, Protocol

from .domain import MAX_PROMPT_CHARS, Mode, RunSettings, StudioError
from .people import MAX_NAME_CHARS, PREFERENCE_CHOICES, RATING_VALUES

MAX_TITLE_CHARS = 200
MAX_SEARCH_CHARS = 200
MAX_NOTE_CHARS = 4000  # instructions, critiques, review notes
MIN_ID_PREFIX = 4
MAX_ROUNDS = 50  # plan + refine rounds on a branch; the paper's loops use fewer than 10
MAX_SEED = 2**63 - 1  # a signed 64-bit column on SQLite and PostgreSQL
MAX_VERSION = 2**62
MAX_PARAMS_CHARS = 10_000
MAX_PARAMS_DEPTH = 3  # {"name": [start, end]} is as deep as any engine setting goes
MAX_PARAMS_ITEMS = 64
MAX_LIST_LIMIT = 10_000
MAX_JOBS = 64

_HEX = re.compile(r"[0-9a-f]+")


def shown(value: Any, limit: int = 40) -> str:
    """A short, printable rendering of untrusted input for an error message."""
    text = ascii(value) if isinstance(value, str) else ascii(repr(value))[1:-1]
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Characters that show nothing on their own besides whitespace and format characters (category Cf:
# zero-width space and joiners, word joiner, BOM, bidi marks): Hangul fillers and the braille blank.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def blank(value: str) -> bool:
    """True when `value` shows nothing: only whitespace, control and format characters (Unicode
    categories Cc and Cf, e.g. U+200B ZERO WIDTH SPACE, U+2060, U+FEFF) and blank fillers."""
    return all(
        c.isspace() or c in _BLANK_LETTERS or unicodedata.category(c) in ("Cc", "Cf") for c in value
    )


def text(value: Any, what: str, *, max_chars: int, allow_empty: bool = False) -> str:
    """Stripped text: valid Unicode (no lone surrogates, which is how undecodable bytes arrive), no NUL,
    at most `max_chars` characters. Text that shows nothing (`blank`) is empty: "" where that is
    allowed, refused otherwise."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise StudioError(f"The {what} must be text, not {type(value).__name__}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise StudioError(
            f"The {what} contains bytes that are not valid UTF-8 text; "
            "retype it or save the file as UTF-8."
        ) from None
    if "\x00" in value:
        raise StudioError(f"The {what} contains a NUL character; remove it.")
    value = value.strip()
    if blank(value):
        if not allow_empty:
            raise StudioError(
                f"The {what} is empty{' (it holds only invisible characters)' if value else ''}."
            )
        value = ""
    if len(value) > max_chars:
        raise StudioError(
            f"The {what} has {len(value):,} characters; the limit is {max_chars:,}. Shorten it."
        )
    return value


def prompt(value: Any) -> str:
    if isinstance(value, str) and blank(value):
        invisible = " (it holds only invisible characters)" if value.strip() else ""
        raise StudioError(
            f"The prompt is empty{invisible}: describe the image, "
            'e.g. "a red apple to the left of a blue cup".'
        )
    return text(value, "prompt", max_chars=MAX_PROMPT_CHARS)


def title(value: Any, *, allow_empty: bool = False) -> str:
    return text(value, "title", max_chars=MAX_TITLE_CHARS, allow_empty=allow_empty)


def note(value: Any, what: str = "note", *, allow_empty: bool = True) -> str:
    """Instructions, critiques and review notes a person types."""
    return text(value, what, max_chars=MAX_NOTE_CHARS, allow_empty=allow_empty)


def search(value: Any) -> str | None:
    """A search term for session lists; None when blank. (The store escapes LIKE's % and _.)"""
    found = text(value, "search text", max_chars=MAX_SEARCH_CHARS, allow_empty=True)
    return found or None


def session_id(value: Any) -> str:
    """A session id or a prefix of one: lowercase hex, 4 to 32 characters (like git's short hashes)."""
    found = text(value, "session id", max_chars=64).lower()
    if not _HEX.fullmatch(found) or len(found) > 32:
        raise StudioError(
            f"{shown(found)} is not a session id: ids are 32 hex characters (0-9, a-f); "
            "list them with: studio sessions"
        )
    if len(found) < MIN_ID_PREFIX:
        raise StudioError(
            f"The session id prefix {found!r} is too short: give at least {MIN_ID_PREFIX} characters "
            "(short prefixes match too many sessions)."
        )
    return found


def step_id(value: Any) -> str:
    found = text(value, "step id", max_chars=64).lower()
    if not _HEX.fullmatch(found) or len(found) != 32:
        raise StudioError(
            f"{shown(found)} is not a step id (32 hex characters); pick the step in the timeline."
        )
    return found


def integer(value: Any, what: str, low: int, high: int) -> int:
    """A whole number from an int, or from text or an integral float (what forms and JSON send)."""
    if isinstance(value, bool):
        raise StudioError(f"The {what} must be a whole number, not {value}.")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise StudioError(f"The {what} must be a whole number, not {shown(value)}.")
        value = int(value)
    elif isinstance(value, str):
        raw = value.strip()
        if not re.fullmatch(r"[+-]?\d{1,40}", raw):
            raise StudioError(f"The {what} must be a whole number, not {shown(value)}.")
        value = int(raw)
    elif not isinstance(value, int):
        raise StudioError(f"The {what} must be a whole number, not {type(value).__name__}.")
    if not low <= value <= high:
        raise StudioError(f"The {what} is {shown(value)}; it must be between {low:,} and {high:,}.")
    return value


def seed(value: Any) -> int | None:
    """A session seed (0 … 2⁶³−1); None or blank text: pick one at random."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return integer(value, "seed", 0, MAX_SEED)


def rounds(value: Any) -> int:
    return integer(value, "number of rounds", 1, MAX_ROUNDS)


def version(value: Any) -> int:
    """The session version a client last saw (it is passed back to detect conflicts)."""
    return integer(value, "session version", 0, MAX_VERSION)


def limit(value: Any, what: str = "--limit") -> int:
    """How many sessions a list shows (1 … MAX_LIST_LIMIT)."""
    return integer(value, what, 1, MAX_LIST_LIMIT)


def number(value: Any, what: str, low: float, high: float, example: str = "") -> float:
    """A finite number in [low, high] from a float, an int or text; NaN and infinities are refused.
    `example` follows the range in the message, e.g. " (a share such as 0.1)"."""
    given = value
    if isinstance(value, bool):
        raise StudioError(f"The {what} must be a number, not {value}.")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise StudioError(f"The {what} must be a number, not {shown(value)}.") from None
    elif isinstance(value, int):
        value = float(value) if abs(value) < 2**63 else math.inf
    elif not isinstance(value, float):
        raise StudioError(f"The {what} must be a number, not {type(value).__name__}.")
    if not math.isfinite(value) or not low <= value <= high:
        raise StudioError(
            f"The {what} must be between {low:g} and {high:g}{example}, not {shown(given)}."
        )
    return value


MIN_LEASE_S, MAX_LEASE_S = 2.0, 86_400.0


def lease(value: Any) -> float:
    """Seconds a batch worker's claim lasts without renewal (a whole number of seconds)."""
    return float(round(number(value, "--lease (seconds)", MIN_LEASE_S, MAX_LEASE_S)))


def fraction(value: Any, what: str) -> float:
    """A share from 0 to 1, e.g. --val-fraction 0.1."""
    return number(value, what, 0.0, 1.0, " (a share such as 0.1)")


def json_row(line: str, where: str, not_json: str = "") -> Any:
    """One line of a JSONL file parsed (NaN and Infinity are not JSON); one StudioError line naming
    `where` when it is not JSON (`not_json` says so, default: the parser's reason) or is nested
    deeper than the parser can follow."""
    return _loads(
        line,
        f"{where}: the JSON is nested too deeply; give a flat object.",
        lambda why: f"{where}: {not_json or f'not JSON ({why})'}.",
    )


def _loads(raw: str, too_deep: str, not_json: Callable[[str], str]) -> Any:
    """`raw` parsed as JSON (NaN and Infinity refused); StudioError `too_deep` when the parser cannot
    follow its nesting, `not_json(reason)` when it is not JSON."""
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise StudioError(too_deep) from None
    except ValueError as error:
        raise StudioError(not_json(shown(str(error), 60))) from None


def mode(value: Any) -> Mode:
    try:
        return Mode(value.value if isinstance(value, Mode) else str(value).strip().lower())
    except ValueError:
        raise StudioError(f"The mode is {shown(value)}; use process or single.") from None


class Engines(Protocol):
    """What the boundary asks of the engines registry (the `studio.engines` module fits it)."""

    def require(self, name: str) -> str:
        """`name` if such an engine exists; otherwise a StudioError listing the ones that do."""
        ...

    def check_params(self, name: str, params: dict) -> dict:
        """`params` checked against the engine's declared settings (names, types, ranges)."""
        ...


def engine_name(value: Any, engines: Engines) -> str:
    """An engine this installation knows (see `studio engines`)."""
    return engines.require(text(value, "engine name", max_chars=64))


def engine_params(engine: str, value: Any, engines: Engines) -> dict[str, Any]:
    """Per-session engine settings from JSON text (or an already-parsed dict), checked for size,
    nesting and finite numbers here and against the declared settings of `engine` (a name
    `engine_name` returned) by `engines`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        parsed: Any = {}
    elif isinstance(value, str):
        parsed = _loads(
            text(value, "engine settings", max_chars=MAX_PARAMS_CHARS),
            "The engine settings are nested too deeply; give a flat JSON object.",
            lambda why: (
                f"The engine settings are not JSON ({why}); "
                'give an object such as {"draft_noise": 0.5}.'
            ),
        )
    else:
        parsed = value
    if not isinstance(parsed, dict):
        raise StudioError('The engine settings must be a JSON object, e.g. {"draft_noise": 0.5}.')
    json_value(parsed, "engine settings", depth=MAX_PARAMS_DEPTH, items=MAX_PARAMS_ITEMS)
    return engines.check_params(engine, parsed)


def new_session(
    prompt_text: Any,
    engine: Any,
    seed_input: Any = None,
    random_seed: Any = True,
    rounds_input: Any = 6,
    mode_input: Any = Mode.PROCESS.value,
    params_json: Any = "{}",
    *,
    engines: Engines,
) -> tuple[str, str, int | None, RunSettings]:
    """The inputs of /new_session (and of the page's New session) in their order, checked together:
    (prompt, engine, seed — None for a random one —, settings)."""
    name = engine_name(engine, engines)
    settings = RunSettings(
        max_rounds=rounds(rounds_input),
        mode=mode(mode_input),
        engine_params=engine_params(name, params_json, engines),
    )
    random = random_seed is True or str(random_seed).strip().lower() in ("true", "1")
    return prompt(prompt_text), name, None if random else seed(seed_input), settings


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def json_value(
    value: Any, what: str, *, depth: int, items: int, max_chars: int = MAX_NOTE_CHARS
) -> None:
    """Check that `value` is plain JSON data: dicts with text keys, lists, text, finite numbers,
    booleans, null; at most `depth` containers deep and `items` entries per container."""
    pending = [(value, 0)]
    while pending:
        current, level = pending.pop()
        if isinstance(current, (dict, list, tuple)):
            if level >= depth:
                raise StudioError(f"The {what} are nested too deeply (at most {depth} levels).")
            if len(current) > items:
                raise StudioError(
                    f"The {what} have {len(current):,} entries in one place; the limit is {items}."
                )
            if isinstance(current, dict):
                for key in current:
                    if not isinstance(key, str):
                        raise StudioError(f"The {what} have a key that is not text.")
                    text(key, f"{what} key", max_chars=100)
                children = current.values()
            else:
                children = current
            pending.extend((child, level + 1) for child in children)
        elif isinstance(current, str):
            text(current, what, max_chars=max_chars, allow_empty=True)
        elif isinstance(current, float) and not math.isfinite(current):
            raise StudioError(f"The {what} hold {current}; only finite numbers are allowed.")
        elif isinstance(current, int) and not isinstance(current, bool) and abs(current) > MAX_SEED:
            raise StudioError(f"The {what} hold a number beyond 64 bits.")
        elif current is not None and not isinstance(current, (bool, int, float)):
            raise StudioError(
                f"The {what} hold a {type(current).__name__}; only JSON data is allowed."
            )


def out_dir(value: Any) -> Path:
    """An output folder: a path that names something (an empty path would mean the current folder)."""
    if isinstance(value, Path):
        value = str(value)
    raw = text(value, "output folder", max_chars=4096)
    if raw in (".", "./"):
        raise StudioError(
            "--out names the current folder; give a new or empty folder, e.g. --out exports/run1."
        )
    return Path(raw).expanduser()


def data_dir(value: Any, what: str = "--data-dir") -> Path:
    """The folder for the database and images: a path that names something (an empty one would put
    studio.db and images/ in whatever folder the command happens to run in)."""
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise StudioError(
            f"{what} is empty, which would put studio.db and images/ in the current folder; give "
            "the data folder (e.g. sessions) or leave it out for the default."
        )
    return Path(text(value, "data folder", max_chars=4096)).expanduser()


_BATCH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def batch_name(value: Any) -> str:
    """A batch's name: it becomes a session tag (`batch:NAME`) and a database key, so a short plain word."""
    found = text(value, "batch name", max_chars=64)
    if not _BATCH_NAME.fullmatch(found):
        raise StudioError(
            f"The batch name {shown(found)} may hold only letters, digits, '.', '_' and '-' "
            "(at most 64, starting with a letter or digit); pass e.g. --name geneval-run1."
        )
    return found


def port(value: Any) -> int | None:
    if value is None:
        return None
    return integer(value, "port", 1, 65535)


def max_jobs(value: Any) -> int:
    return integer(value, "--max-jobs value (model jobs at once)", 1, MAX_JOBS)


def person_name(value: Any) -> str:
    """A person's name as recorded on what they do (a login name, or the local user's)."""
    found = text(value, "person's name", max_chars=MAX_NAME_CHARS)
    if any(ord(c) < 32 or ord(c) == 127 for c in found):
        raise StudioError(
            f"The person's name {shown(found)} contains a control character; use plain text."
        )
    return found


def rating(value: Any) -> str:
    """A rating: thumbs "up" or "down", or a score from 1 to 5."""
    found = (
        str(value).strip().lower()
        if isinstance(value, (str, int)) and not isinstance(value, bool)
        else None
    )
    if found not in RATING_VALUES:
        raise StudioError(f"The rating is {shown(value)}; rate up, down, or 1 to 5.")
    return found


def preference(value: Any) -> str:
    """Which of two images is better: "left", "right" or "tie"."""
    found = value.strip().lower() if isinstance(value, str) else None
    if found not in PREFERENCE_CHOICES:
        raise StudioError(f"The choice is {shown(value)}; say left, right or tie.")
    return found
