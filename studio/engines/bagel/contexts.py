"""BAGEL's per-branch contexts (KV caches) inside the worker, and the memory-bounded LRU that keeps them.

Runs in the worker (BAGEL's environment). A branch needs three contexts, because BAGEL's image
generation takes two classifier-free-guidance companions: everything (`gen`); the texts only
(`cfg_img`, for image CFG); everything but the latest conditioning text (`cfg_text`, for text CFG;
None while it equals `gen`). That is what BAGEL's own `interleave_inference` builds.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ..torch_support import tensor_bytes


@dataclass
class BranchContext:
    gen: Any
    cfg_img: Any
    cfg_text: Any = None
    dirty: bool = False  # changed since it left the cache (a failed stage must not put it back)
    nbytes: int = 0
    last_shape: tuple[int, int] | None = (
        None  # (H, W) of the latest image in `gen`, as BAGEL resized it
    )
    # what went into `gen`, in order: each text, and `image_mark(image)` for each image (what a model
    # call was conditioned on, for the studio to check; no tensors)
    parts: list[str] = field(default_factory=list)


def image_mark(image) -> str:
    """How an image shows in `BranchContext.parts`: the sha256 of its RGB pixels (12 hex digits) as given."""
    digest = hashlib.sha256(image.convert("RGB").tobytes()).hexdigest()[:12]
    return f"<image {digest} {image.width}x{image.height}>"


def fresh(inferencer) -> BranchContext:
    return BranchContext(inferencer.init_gen_context(), inferencer.init_gen_context())


def add_text(inferencer, bc: BranchContext, text: str, snapshot: bool = False) -> None:
    """A text goes into `gen` and `cfg_img`; a request that starts an image's conditioning text first
    snapshots `gen` as the text-CFG context (BAGEL's interleave_inference does the same deepcopy)."""
    bc.dirty = True
    if snapshot:
        bc.cfg_text = copy.deepcopy(bc.gen)
    bc.gen = inferencer.update_context_text(text, bc.gen)
    bc.cfg_img = inferencer.update_context_text(text, bc.cfg_img)
    bc.parts.append(text)


def add_image(inferencer, bc: BranchContext, image) -> None:
    """An image goes into `gen` (VAE and ViT), resized as BAGEL resizes its inputs; image CFG never sees it."""
    bc.dirty = True
    image = image.convert("RGB")
    mark = image_mark(image)
    image = inferencer.vae_transform.resize_transform(image)
    bc.gen = inferencer.update_context_image(image, bc.gen, vae=True, vit=True)
    bc.last_shape = (image.size[1], image.size[0])
    bc.parts.append(mark)
    bc.cfg_text = None  # nothing conditions on text after an image until the next request


class ContextCache:
    """Branch contexts by key, least recently used first out, bounded by the bytes their tensors hold.
    A context larger than the whole budget is not kept at all."""

    def __init__(self, budget_bytes: int):
        self.budget = int(budget_bytes)
        self.entries: OrderedDict[str, BranchContext] = OrderedDict()
        self.lock = threading.Lock()
        self.evictions = 0

    @property
    def total(self) -> int:
        return sum(entry.nbytes for entry in self.entries.values())

    def take(self, key: str) -> BranchContext | None:
        with self.lock:
            return self.entries.pop(key, None)

    def put(self, key: str, context: BranchContext) -> None:
        context.nbytes = tensor_bytes([context.gen, context.cfg_img, context.cfg_text])
        context.dirty = False
        with self.lock:
            self.entries[key] = context
            self.entries.move_to_end(key)
            while self.entries and self.total > self.budget:
                self.entries.popitem(last=False)
                self.evictions += 1

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "entries": len(self.entries),
                "bytes": self.total,
                "budget": self.budget,
                "evictions": self.evictions,
                "sizes": [entry.nbytes for entry in self.entries.values()],
            }
