"""The one error path of the page and the HTTP API, and what a browser may be shown."""

from __future__ import annotations

import logging
import re

from ..core.domain import StudioError

log = logging.getLogger("studio.ui")

INTERNAL = "Something went wrong inside the studio; the server log has the details."
_HIDDEN = re.compile(r"[a-z][a-z0-9+.-]*://\S*|(?:[A-Za-z]:)?(?:[/\\][^\s/\\'\"]+){2,}[/\\]?")


def clean(message: str) -> str:
    """A message fit for a browser: database URLs and file paths are cut out, one line."""
    return " ".join(_HIDDEN.sub("…", str(message)).split()) or "That did not work."


def failure(error: Exception, where: str) -> str:
    """The one error path: the line a person sees. A StudioError says what to fix; anything else is
    logged here with its traceback and reported without internals. Paths and URLs never get through."""
    if isinstance(error, StudioError):
        return clean(str(error))
    log.error("studio %s failed", where, exc_info=error)
    return INTERNAL
