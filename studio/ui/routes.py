"""The studio's own HTTP routes beside Gradio's: images by hash and export zips by name.

No folder of the studio is served through Gradio's `allowed_paths`. An image URL carries only the
image's sha256 (`/studio/image/<sha256>.png`) and is answered only to a viewer who may see a session
holding that image; an export URL carries only the zip's name (`/studio/export/<name>.zip`) and is
answered only to the person who made it. Everything else, forbidden or missing, is the same 404,
so an answer never tells what exists. The login is read the way `login_name` reads it for page
server functions (Gradio's access-token cookie).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from .auth import login_name

IMAGE = re.compile(r"([0-9a-f]{64})\.png")
EXPORT = re.compile(r"stroke-studio-[A-Za-z0-9_-]{1,64}\.zip")
NOT_FOUND = "Not found."
_NOBODY = object()  # logins are on and this request carries none


def not_found() -> Response:
    return PlainTextResponse(NOT_FOUND, status_code=404)


def studio_routes(studio: Any, accounts: Any = None) -> list[Route]:
    """The routes for `studio` (an `actions.Studio`); `accounts` as in `build_ui` (None: no logins)."""

    def login(request: Request) -> Any:
        """The login name behind a request; None without logins; _NOBODY when logins are on and
        the request has none."""
        if accounts is None:
            return None
        return login_name(request) or _NOBODY

    def image(request: Request) -> Response:
        found = IMAGE.fullmatch(request.path_params.get("name", ""))
        name = login(request)
        if found is None or name is _NOBODY:
            return not_found()
        viewer = accounts.person(name) if accounts is not None else None
        # Without logins, and for an admin, every stored image is theirs to see: no query (the file
        # check below answers a missing one); for anyone else, some session they may see holds it.
        restricted = viewer is not None and not viewer.is_admin
        if restricted and not studio.store.image_visible(found.group(1), viewer):
            return not_found()
        path = studio.store.image_path(found.group(1))  # from the hash, never from the URL's text
        if not path.is_file():
            return not_found()
        # content-addressed: the bytes behind a URL never change; private, as it was checked for a viewer
        return FileResponse(
            path, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"}
        )

    def export(request: Request) -> Response:
        text = request.path_params.get("name", "")
        name = login(request)
        if not EXPORT.fullmatch(text) or name is _NOBODY:
            return not_found()
        path = studio.exports.path_for(text, name)
        if path is None:
            return not_found()
        return FileResponse(
            path,
            media_type="application/zip",
            filename=text,
            headers={"Cache-Control": "private, no-store"},
        )

    return [
        Route("/studio/image/{name}", image, methods=["GET", "HEAD"]),
        Route("/studio/export/{name}", export, methods=["GET", "HEAD"]),
    ]
