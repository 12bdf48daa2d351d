"""`bagel`: BAGEL-7B-MoT, or a fine-tune with its layout (Uni-CoT, the paper's weights once public).

BAGEL is not on PyPI and not in transformers, and its code pins an environment (transformers 4.49,
numpy 1.24, torch 2.5.1, flash_attn) that cannot live beside the studio's. So the model runs in a
worker process started with the python of BAGEL's own environment (STROKE_STUDIO_BAGEL_PYTHON;
`scripts/bagel_env.sh` builds it from the user's clone), importing BAGEL's code from that clone
(nothing of it is copied here), and the studio talks to it over pipes (wire.py).

  engine.py      the Engine the runner sees (studio side; no torch)
  transcript.py  what goes into a context: requests, canonical answers (studio/core/protocol.py), context keys
  wire.py        the pipe between the studio and the worker: JSON headers plus PNG bytes, versioned
  client.py      starting, talking to, cancelling and surviving the worker (studio side)
  worker.py      the worker process: requests, progress, previews, failures
  contexts.py    per-branch KV contexts and their memory-bounded LRU (worker side)
  loader.py      loading BAGEL as its app.py does (worker side)
  placement.py   the dtype-aware device map and its memory arithmetic (worker side)

Configuration (keyword arguments win over the environment):
  STROKE_STUDIO_BAGEL_PYTHON      the python of BAGEL's environment (required)
  STROKE_STUDIO_BAGEL_MODEL       the snapshot folder (required)
  STROKE_STUDIO_BAGEL_REPO        the clone of the BAGEL repository (required)
  STROKE_STUDIO_BAGEL_MODE        bf16 | nf4 | int8; default bf16 (memory: README's arithmetic)
  STROKE_STUDIO_BAGEL_CACHE_GB    memory for kept contexts, in GiB (default 8), counted in the placement
  STROKE_STUDIO_BAGEL_MAX_MEMORY  per-GPU cap for the placement, e.g. 40GiB (default: 90% of each GPU)
Per session (settings.engine_params): see BagelEngine.params.

This package imports nothing heavy: the worker imports it too (as `studio.engines.bagel.worker`), in
an environment without the studio's dependencies, so BagelEngine is imported on first use.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "BagelEngine":
        from .engine import BagelEngine

        return BagelEngine
    raise AttributeError(name)
