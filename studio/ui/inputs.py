"""Values from the page or an API client that the actions read the same way everywhere."""

from __future__ import annotations

from typing import Any

from ..core import limits
from ..core.domain import StudioError


def step_or_latest(value: Any) -> str:
    """A step id from a client, or "" (none named: the action takes the latest step of its kind)."""
    return limits.step_id(value) if value else ""


def flag(value: Any, fix: str = "A verdict is true (pass) or false (fail).") -> bool | None:
    """A yes/no from a checkbox, JSON or a form field; None stays None (nothing said)."""
    if value is None or isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "pass", "yes"):
        return True
    if str(value).lower() in ("false", "0", "fail", "no"):
        return False
    raise StudioError(fix)
