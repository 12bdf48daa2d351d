"""Malformed request bodies on Gradio's endpoints get one readable line and a 4xx.

Gradio checks these bodies itself, but answers a malformed one with pydantic's list of errors (422),
a bare "Internal Server Error" (an endpoint name or component id that does not exist), or, for too
few values, a queued event that fails later with `{"error": null}` (the studio launches without
show_error). `BodyCheck` reads the JSON body of the POSTs below before Gradio does and refuses a
malformed one with `{"error": "<one line>"}`: 400, or 404 for an endpoint or component that does not
exist. A well-formed body reaches Gradio byte for byte; the values inside it are the studio's
boundary to check (studio.ui.api). Only the body's shape is judged, never a server path or file.

    /gradio_api/call/<api_name>, /gradio_api/run/<api_name>   {"data": [...], ...}
    /gradio_api/queue/join                                      {"data": [...], "fn_index": n, ...}
    /gradio_api/component_server                                {"session_hash", "component_id",
                                                                 "fn_name", "data"} (JSON only)
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core import limits

_PREDICT = re.compile(r"/gradio_api/(?:call|run)/([^/]+)/?")
_JOIN = re.compile(r"/gradio_api/queue/join/?")
_COMPONENT = re.compile(r"/gradio_api/component_server/?")


class Refused(Exception):
    def __init__(self, line: str, status: int = 400):
        super().__init__(line)
        self.line, self.status = line, status


def middleware() -> list[Middleware]:
    """For `launch(app_kwargs={"middleware": bodies.middleware()})` (FastAPI's own argument)."""
    return [Middleware(BodyCheck)]


class BodyCheck:
    """ASGI middleware: checks the bodies above; the Gradio app is `scope["app"]` (its blocks)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope["type"] != "http" or scope.get("method") != "POST" or not _checked(path):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        kind = headers.get(b"content-type", b"").decode("latin-1").lower()
        if _COMPONENT.fullmatch(path) and kind.startswith("multipart/"):
            return await self.app(scope, receive, send)  # an upload: Gradio reads it as files
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            check(path, body, scope["app"].get_blocks())
        except Refused as refusal:
            return await JSONResponse({"error": refusal.line}, refusal.status)(scope, receive, send)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _checked(path: str) -> bool:
    return bool(_PREDICT.fullmatch(path) or _JOIN.fullmatch(path) or _COMPONENT.fullmatch(path))


def check(path: str, body: bytes, blocks: Any) -> None:
    """Raise Refused with the line to answer when `body` is malformed for the endpoint at `path`."""
    wanted = (
        'a JSON object with "session_hash", "component_id", "fn_name" and "data"'
        if _COMPONENT.fullmatch(path)
        else 'a JSON object such as {"data": [...]}'
    )
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(f"The request body is not JSON; send {wanted}.") from None
    if not isinstance(parsed, dict):
        raise Refused(f"The request body is a JSON {_kind(parsed)}; send {wanted}.")
    if _COMPONENT.fullmatch(path):
        return _component(parsed, blocks)
    data = parsed.get("data")
    if not isinstance(data, list):
        raise Refused(
            f'The request body needs "data": a list of the endpoint\'s values (got {_kind(data)}).'
        )
    session = parsed.get("session_hash")
    if session is not None and not isinstance(session, str):
        raise Refused(f'"session_hash" must be text, not {_kind(session)}.')
    found = _PREDICT.fullmatch(path)
    fn, name = _function(blocks, parsed, found.group(1) if found else None)
    needed = len(getattr(fn, "inputs", None) or [])
    if len(data) < needed:
        sent = f"{len(data)} {'was' if len(data) == 1 else 'were'}"
        raise Refused(f"{name} takes {needed} value{'s' * (needed != 1)}; {sent} sent.")


def _function(blocks: Any, body: dict, api_name: str | None) -> tuple[Any, str]:
    """The event the body names (by fn_index, else by the URL's endpoint name), as Gradio finds it."""
    fns = getattr(blocks, "fns", {}) or {}
    index = body.get("fn_index")
    if index is not None:
        if not isinstance(index, int) or isinstance(index, bool):
            raise Refused(f'"fn_index" must be a whole number, not {_kind(index)}.')
        if index not in fns:
            raise Refused(f"There is no event {index} on this page.", 404)
        fn = fns[index]
        return fn, f"/{fn.api_name}" if getattr(fn, "api_name", None) else f"event {index}"
    if api_name is None:
        raise Refused('The request body needs "fn_index": the number of the page\'s event.')
    for fn in fns.values():
        if getattr(fn, "api_name", None) == api_name:
            return fn, f"/{api_name}"
    raise Refused(
        f"There is no endpoint {limits.shown(api_name)}; the studio's endpoints are listed at "
        "/?view=api.",
        404,
    )


def _component(body: dict, blocks: Any) -> None:
    for key, wanted in (("session_hash", str), ("fn_name", str)):
        if not isinstance(body.get(key), wanted):
            raise Refused(f'The request body needs "{key}" as text (got {_kind(body.get(key))}).')
    component = body.get("component_id")
    if not isinstance(component, int) or isinstance(component, bool):
        raise Refused(
            f'The request body needs "component_id" as a whole number (got {_kind(component)}).'
        )
    if "data" not in body:
        raise Refused('The request body needs "data": the server function\'s arguments.')
    if component not in (getattr(blocks, "blocks", {}) or {}):
        raise Refused(f"There is no component {component} on this page.", 404)


def _kind(value: Any) -> str:
    return {
        type(None): "null",
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "list",
        dict: "object",
    }.get(type(value), "value")
