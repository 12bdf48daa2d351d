"""An engine's settings: keyword, environment variable or default; checked numbers; the
GPU extra's packages; the hub's offline switch; TOML config files.

Like the whole package, it imports only the standard library at module level (BAGEL's worker
imports it in BAGEL's own environment); torch and the libraries are imported inside the functions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...core.domain import StudioError

_TRUE = {"1", "true", "yes", "on"}


def require_packages(engine: str, *packages: str) -> None:
    """Refuse early, with the install line, when the GPU extra is not installed (nothing is imported)."""
    import importlib.util

    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        raise StudioError(
            f"The {engine} engine needs {', '.join(missing)}: install the torch build for your GPU, then "
            '`pip install -e ".[gpu]"` (see the README\'s "GPU engines" section).'
        )


def setting(explicit: Any, env_name: str, default: Any = None) -> Any:
    """An engine setting: the keyword argument if given, else the environment variable, else the default."""
    if explicit is not None:
        return explicit
    value = os.environ.get(env_name, "").strip()
    return value if value else default


def number(
    params: dict[str, Any],
    name: str,
    default: float,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
) -> Any:
    """A numeric sampling parameter from the session's engine_params, checked; a bad value names itself."""
    value = params.get(name, default)
    if value is None:
        value = default
    try:
        value = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise StudioError(f"The engine setting {name} must be a number, not {value!r}.") from None
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f"between {low} and {high}"
            if low is not None and high is not None
            else (f"at least {low}" if low is not None else f"at most {high}")
        )
        raise StudioError(f"The engine setting {name} is {value}; it must be {bounds}.")
    return value


def hub_offline() -> bool:
    return any(
        os.environ.get(name, "").strip().lower() in _TRUE
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise StudioError(
                "Reading a TOML config on Python 3.10 needs `pip install tomli` "
                "(it comes with the gpu extra)."
            ) from None
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise StudioError(f"The config file {path} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise StudioError(f"The config file {path} is not valid TOML: {exc}.") from None
