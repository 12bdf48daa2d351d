"""Who is asking: the login behind a request, read the way Gradio's own login check reads it.

Used by the page's server functions, the HTTP API and the studio's own routes (`routes`), so a lost
cookie is the same "nobody" everywhere.
"""

from __future__ import annotations

from typing import Any


def login_name(request: Any) -> str | None:
    """The logged-in name behind a request. Events get a gr.Request with `username`; page server functions
    get the raw FastAPI request, so the name is looked up the way Gradio's own login check does
    (its access-token cookie in the app's token table)."""
    name = getattr(request, "username", None)
    if name:
        return name
    raw = getattr(request, "request", None) or request
    app, cookies = getattr(raw, "app", None), getattr(raw, "cookies", None) or {}
    cookie_id = getattr(app, "cookie_id", None)
    if cookie_id is None:
        return None
    token = cookies.get(f"access-token-{cookie_id}") or cookies.get(
        f"access-token-unsecure-{cookie_id}"
    )
    return getattr(app, "tokens", {}).get(token)
