"""The registry of engines by name: which engines exist, and the one loaded instance of each.

Built-in engines are named by import path and imported only when used, so listing
them costs nothing (the GPU engines pull in torch). Other packages add engines
through the `stroke_studio.engines` entry-point group; code and tests may call
`register()` directly.

Example usage (`Squares` is the example engine of `studio.engines.base.Engine`)::

    from studio import engines
    from studio.runner import Runner
    from studio.store import Store

    engines.register("squares", Squares)  # a factory, called once, on first use
    runner = Runner(Store(data_dir="sessions"))
    trajectory = runner.new_session("a red apple left of a blue cup", engine="squares")
    runner.run(trajectory).status  # 'finished'
    engines.require("nope")  # StudioError: Unknown engine 'nope'. Available engines: bagel, …

A package offers an engine to every installation without code here, in its pyproject.toml::

    [project.entry-points."stroke_studio.engines"]
    squares = "my_package.engine:Squares"
"""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import entry_points
from typing import Callable

from ..core.domain import StudioError
from .base import Engine
from .base import check_params as _check_against

DEFAULT_ENGINE = "offline"
ENTRY_POINT_GROUP = "stroke_studio.engines"

_BUILTIN: dict[str, str] = {
    "offline": "studio.engines.offline.engine:OfflineEngine",
    "bagel": "studio.engines.bagel:BagelEngine",
    "janus": "studio.engines.janus:JanusEngine",
    "pipeline": "studio.engines.pipeline:PipelineEngine",
}
_registered: dict[str, Callable[[], Engine]] = {}
_loaded: dict[str, Engine] = {}
_slots: dict[str, threading.BoundedSemaphore] = {}
_lock = threading.Lock()


def register(name: str, factory: Callable[[], Engine]) -> None:
    """Make an engine available under `name` (replacing any earlier one of that name)."""
    with _lock:
        _registered[name] = factory
        _loaded.pop(name, None)
        _slots.pop(name, None)


def unregister(name: str) -> None:
    with _lock:
        _registered.pop(name, None)
        _slots.pop(name, None)
        engine = _loaded.pop(name, None)
    if engine is not None:
        engine.close()


def _plugins() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def names() -> list[str]:
    return sorted(set(_BUILTIN) | set(_registered) | set(_plugins()))


def require(name: str) -> str:
    """`name` if such an engine exists; otherwise a StudioError listing the ones that do."""
    if name in _registered or name in _BUILTIN or name in _plugins():
        return name
    known = ", ".join(names()) or "none"
    raise StudioError(f"Unknown engine {name!r}. Available engines: {known}.")


def _factory(name: str) -> Callable[[], Engine]:
    if name in _registered:
        return _registered[name]
    if name in _BUILTIN:
        module, _, attr = _BUILTIN[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    plugin = _plugins().get(require(name))
    return plugin.load()  # type: ignore[union-attr]


def load(name: str) -> Engine:
    """The process-wide instance of an engine: models load once and are shared by sessions."""
    with _lock:
        engine = _loaded.get(name)
        if engine is None:
            engine = _loaded[name] = _factory(require(name))()
        return engine


def check_params(name: str, params: dict) -> dict:
    """A session's engine settings checked against the engine's declared schema (`Engine.params`).
    Loads the engine (cheap: models load on first use), so an engine this install cannot run is
    refused here too, before any session is created."""
    return _check_against(name, getattr(load(name), "params", None), params)


def availability(name: str) -> str | None:
    """None when this installation can run the engine; else the one line saying what it needs."""
    try:
        load(name)
    except StudioError as error:
        return str(error)
    except Exception as error:  # a plug-in that fails to import: say so, list the others anyway
        return f"cannot be loaded ({type(error).__name__}: {error})"
    return None


def slot(name: str) -> threading.BoundedSemaphore:
    """The queue in front of an engine: at most `max_concurrent` stages run on it at once."""
    engine = load(name)
    with _lock:
        if name not in _slots:
            _slots[name] = threading.BoundedSemaphore(max(1, engine.max_concurrent))
        return _slots[name]
