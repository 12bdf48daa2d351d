"""The BAGEL worker: a process in BAGEL's own environment that holds the model and the branch contexts.

Why a process: BAGEL pins transformers 4.49 and friends, which cannot live beside the studio's stack,
and a crash, a host OOM kill or a CUDA device-side assert (which poisons every later CUDA call of the
process) must take down only this process, never the studio. The studio starts it with the python
the user names (STROKE_STUDIO_BAGEL_PYTHON), as `python -m studio.engines.bagel.worker` with the
project on PYTHONPATH; it imports only the standard library, torch, PIL and BAGEL's own stack.

It answers requests (wire.py) one at a time, in order: load, begin/fresh/prefill (get a branch's
context), add_text/add_image, gen_text/gen_image (streaming progress and previews), stash/abort
(return the context to the cache), stats, shutdown. A `cancel` is read by a second thread: one naming
the request in flight stops the model between two steps, one naming a request still queued makes
that request answer `cancelled` without running. The autoencoder's decode and encode cannot be
interrupted: before each the worker checks for a cancel and then announces a hold (`hold_s`, from the
last such call's duration), so the studio gives Stop that long instead of killing a worker mid-decode
(a kill costs a reload of the whole model). BAGEL's own prints go to stderr, so the protocol channel
(the original stdout) carries nothing else.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ...core.domain import StudioError
from ..torch_support import PREVIEW_SIZE
from . import autoencoder, contexts, loader, wire
from .contexts import BranchContext, ContextCache


class Cancelled(Exception):
    pass


# Seconds Stop may wait for an autoencoder call before its first one is timed (a CPU decode of 1024²
# takes minutes on a few cores); later holds are three times the last measured call, at least HOLD_MIN.
FIRST_HOLD = {"cpu": 900.0, "cuda": 120.0}
HOLD_MIN = 30.0


def hold_seconds(last: float | None, device: str) -> float:
    """How long Stop should wait for one uninterruptible autoencoder call."""
    if last is None:
        return FIRST_HOLD.get(device, FIRST_HOLD["cpu"])
    return max(HOLD_MIN, 3.0 * last)


def check_shape(shape, max_side: int, stride: int) -> tuple[int, int]:
    """(H, W) must be multiples of the latent stride within BAGEL's position table (max_latent_size)."""
    h, w = (int(v) for v in shape)
    if not (stride <= h <= max_side and stride <= w <= max_side) or h % stride or w % stride:
        raise StudioError(
            f"BAGEL draws images of {stride} to {max_side} pixels a side, in multiples of {stride}; "
            f"{w}×{h} is not one."
        )
    return h, w


@contextmanager
def patched(owner: Any, name: str, make) -> Iterator[bool]:
    """Temporarily wrap `owner.name` (an instance attribute shadowing the method); False when impossible."""
    original = getattr(owner, name, None) if owner is not None else None
    if original is None:
        yield False
        return
    object.__setattr__(owner, name, make(original))
    try:
        yield True
    finally:
        object.__delattr__(owner, name)


class Worker:
    def __init__(self, out, inbox: "queue.Queue"):
        self.out, self.inbox = out, inbox
        self.cancel = threading.Event()
        self.current_id: Any = None
        self.lock = threading.Lock()  # current_id and early cancels, shared with the reader thread
        self.early_cancels: set[Any] = set()  # cancels for requests not started yet
        self.timed: dict[str, float] = {}  # seconds of the last autoencoder call, by kind
        self.inf = None
        self.info: dict[str, Any] = {}
        self.cache = ContextCache(0)
        self.bc: BranchContext | None = None
        self.key: str | None = None
        self.last_image = None

    # -- plumbing ------------------------------------------------------------------------------
    def send(self, header: dict[str, Any], blobs=()) -> None:
        wire.write_message(self.out, header, blobs)

    def progress(self, fraction: float, message: str, preview=None) -> None:
        if self.cancel.is_set():
            raise Cancelled()
        blobs = [wire.png_bytes(preview)] if preview is not None else []
        self.send(
            {
                "type": "progress",
                "id": self.current_id,
                "fraction": fraction,
                "message": message,
                "preview": bool(blobs),
            },
            blobs,
        )

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def cancel_request(self, request_id: Any) -> None:
        """A cancel from the studio: the request in flight stops; a queued one will not run."""
        with self.lock:
            if request_id == self.current_id:
                self.cancel.set()
            elif not (
                isinstance(request_id, int)
                and isinstance(self.current_id, int)
                and request_id < self.current_id
            ):  # the studio numbers its requests upwards: a lower id is one already answered
                self.early_cancels.add(request_id)

    def start_request(self, request_id: Any) -> None:
        with self.lock:
            self.current_id = request_id
            self.cancel.clear()
            if request_id in self.early_cancels:
                self.early_cancels.discard(request_id)
                self.cancel.set()

    @contextmanager
    def uninterruptible(self, kind: str, message: str) -> Iterator[None]:
        """An autoencoder call: cancel is checked before it, the studio is told how long to wait for it."""
        self.check()
        device = str(self.info.get("vae", "cpu")).split(":")[0].split(" ")[0]
        hold = hold_seconds(self.timed.get(kind), device)
        self.send(
            {
                "type": "progress",
                "id": self.current_id,
                "fraction": 0.99,
                "message": message,
                "preview": False,
                "hold_s": hold,
            }
        )
        started = time.perf_counter()
        yield
        self.timed[kind] = time.perf_counter() - started

    @contextmanager
    def autocast(self):
        import torch

        device = "cuda" if self.info.get("device") == "cuda" else "cpu"
        with torch.no_grad(), torch.autocast(device_type=device, dtype=torch.bfloat16):
            yield

    def need_context(self) -> BranchContext:
        if self.bc is None:
            raise StudioError("no branch context is open (begin or fresh first)")
        return self.bc

    # -- requests ------------------------------------------------------------------------------
    def op_load(self, msg, blobs):
        model_dir, repo_dir = loader.check_paths(msg["model"], msg["repo"])
        self.cache = ContextCache(int(msg["cache_bytes"]))
        self.inf, self.info = loader.load(
            model_dir, repo_dir, msg["mode"], msg.get("max_memory"), int(msg["cache_bytes"])
        )
        return self.info, ()

    def op_begin(self, msg, blobs):
        for index, key in msg["candidates"]:
            found = self.cache.take(key)
            if found is not None:
                self.bc, self.key = found, key
                return {"found": index}, ()
        self.bc, self.key = None, None
        return {"found": None}, ()

    def op_fresh(self, msg, blobs):
        self.bc, self.key = contexts.fresh(self.inf), None
        with self.autocast():
            for text in msg["texts"]:
                contexts.add_text(self.inf, self.bc, text)
        return {}, ()

    def op_prefill(self, msg, blobs):
        bc = self.need_context()
        with self.autocast():
            for item in msg["items"]:
                self.check()
                if item["kind"] == "image":
                    with self.uninterruptible("encode", "encoding an image into the context"):
                        contexts.add_image(self.inf, bc, wire.png_image(blobs[item["blob"]]))
                else:
                    contexts.add_text(
                        self.inf, bc, item["text"], snapshot=bool(item.get("snapshot"))
                    )
        return {}, ()

    def op_add_text(self, msg, blobs):
        with self.autocast():
            contexts.add_text(
                self.inf, self.need_context(), msg["text"], snapshot=bool(msg.get("snapshot"))
            )
        return {}, ()

    def op_add_image(self, msg, blobs):
        image = self.last_image if msg.get("last") else wire.png_image(blobs[0])
        with self.autocast(), self.uninterruptible("encode", "encoding the image into the context"):
            contexts.add_image(self.inf, self.need_context(), image)
        return {}, ()

    def op_gen_text(self, msg, blobs):
        import torch

        bc, inf = self.need_context(), self.inf
        max_length, label, count = int(msg["max_length"]), msg.get("label", "writing"), [0]

        def hook(original):
            def wrapped(*args, **kwargs):
                count[0] += 1
                if count[0] % 16 == 0:
                    self.progress(min(0.95, count[0] / max_length), f"{label}: {count[0]} tokens")
                else:
                    self.check()
                return original(*args, **kwargs)

            return wrapped

        temperature = float(msg.get("temperature", 0.0))
        with patched(inf.model.language_model, "forward_inference", hook), self.autocast():
            torch.manual_seed(int(msg["seed"]))
            text = inf.gen_text(
                bc.gen,
                max_length=max_length,
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else 1.0,
            )
        return {"text": text, "tokens": count[0], "context": list(bc.parts)}, ()

    def op_gen_image(self, msg, blobs):
        import torch

        bc, inf = self.need_context(), self.inf
        shape = msg.get("shape") or bc.last_shape or [msg["fallback_size"]] * 2
        shape = check_shape(shape, self.info["max_side"], self.info["stride"])
        settings = msg["settings"]
        total = max(1, int(settings["num_timesteps"]) - 1)
        every, label, steps = int(msg.get("preview_every", 0)), msg.get("label", "drawing"), [0]

        def hook(original):
            def wrapped(*args, **kwargs):
                v_t = original(*args, **kwargs)
                steps[0] += 1
                preview = None
                if every and steps[0] % every == 0 and steps[0] < total:
                    preview = self.preview(kwargs["x_t"], kwargs["timestep"], v_t, shape)
                self.progress(steps[0] / total, f"{label}: step {steps[0]}/{total}", preview)
                return v_t

            return wrapped

        def decoding(original):
            def wrapped(*args, **kwargs):
                with self.uninterruptible("decode", f"{label}: decoding the image"):
                    return original(*args, **kwargs)

            return wrapped

        with (
            patched(inf.model, "_forward_flow", hook),
            patched(inf, "decode_image", decoding),
            self.autocast(),
        ):
            torch.manual_seed(int(msg["seed"]))
            image = inf.gen_image(
                shape,
                bc.gen,
                cfg_text_precontext=bc.cfg_text if bc.cfg_text is not None else bc.gen,
                cfg_img_precontext=bc.cfg_img,
                **settings,
            )
        self.check()  # a Stop that came during the decode: the person asked for no image
        self.last_image = image
        header = {"steps": steps[0], "shape": list(shape), "context": list(bc.parts)}
        return header, (wire.png_bytes(image),)

    def preview(self, x_t, timestep, v_t, shape):
        """The clean image the flow is heading for (x0 = x_t − t·v), through the linear latent→RGB
        projection fitted at load (autoencoder.py): no decode, so a preview costs a matrix product.

        Devices: the flow's x_t lives on the CPU (BAGEL draws the noise there) while v_t comes from the
        model's last GPU, so v_t moves to x_t.
        """
        import torch

        model = self.inf.model
        t = timestep.reshape(-1)[0].to(device=x_t.device, dtype=x_t.dtype)
        x0 = x_t - t * v_t.to(device=x_t.device, dtype=x_t.dtype)
        h, w = shape[0] // model.latent_downsample, shape[1] // model.latent_downsample
        p, c = model.latent_patch_size, model.latent_channel
        latent = torch.einsum("nhwpqc->nchpwq", x0.reshape(1, h, w, p, p, c)).reshape(
            1, c, h * p, w * p
        )
        size = min(PREVIEW_SIZE, max(shape))
        return autoencoder.linear_preview(latent, self.inf.studio_projection, size)

    def op_stash(self, msg, blobs):
        self.cache.put(msg["key"], self.need_context())
        self.bc, self.key = None, None
        return {}, ()

    def op_abort(self, msg, blobs):
        """The stage failed: an untouched context goes back where it came from; a changed one is dropped."""
        if self.bc is not None and self.key is not None and not self.bc.dirty:
            self.cache.put(self.key, self.bc)
        self.bc, self.key = None, None
        return {}, ()

    def op_stats(self, msg, blobs):
        import torch

        stats = self.cache.stats()
        if torch.cuda.is_available():
            stats["peak_gib"] = round(
                max(torch.cuda.max_memory_allocated(i) for i in range(torch.cuda.device_count()))
                / 2**30,
                2,
            )
            if msg.get("reset_peak"):
                for i in range(torch.cuda.device_count()):
                    torch.cuda.reset_peak_memory_stats(i)
        return stats, ()

    # -- the loop ------------------------------------------------------------------------------
    def handle(self, msg: dict[str, Any], blobs: list[bytes]) -> bool:
        op = msg.get("op")
        self.start_request(msg.get("id"))
        if op == "shutdown":
            self.send({"type": "result", "id": self.current_id})
            return False
        method = getattr(self, f"op_{op}", None)
        try:
            if method is None:
                raise StudioError(f"the worker does not know the request {op!r}")
            if op != "load" and self.inf is None:
                raise StudioError("the model is not loaded")
            started = time.perf_counter()
            self.check()  # cancelled before it started
            header, out = method(msg, blobs)
            # busy_s: the request's own time in this process, so the studio can tell the pipe's cost apart
            self.send(
                {
                    "type": "result",
                    "id": self.current_id,
                    **header,
                    "busy_s": round(time.perf_counter() - started, 6),
                },
                out,
            )
        except Cancelled:
            self.send({"type": "cancelled", "id": self.current_id})
        except StudioError as exc:
            self.send(
                {"type": "error", "id": self.current_id, "kind": "input", "message": str(exc)}
            )
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, then judged
            return self.failed(exc)
        return True

    def failed(self, exc: BaseException) -> bool:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        lowered = str(exc).lower()
        traceback.print_exc(file=sys.stderr)
        # The open context stays for the studio's `abort`, which puts an untouched one back in the cache.
        if "out of memory" in lowered:
            self.cache.clear()
            try:
                import gc

                import torch

                gc.collect()
                torch.cuda.empty_cache()
            except Exception:
                pass
            self.send({"type": "error", "id": self.current_id, "kind": "oom", "message": text})
            return True
        if "cuda error" in lowered or "device-side assert" in lowered or "cublas" in lowered:
            # The CUDA context is poisoned for the life of this process: say so, then end it.
            self.send({"type": "error", "id": self.current_id, "kind": "fatal", "message": text})
            return False
        self.send(
            {
                "type": "error",
                "id": self.current_id,
                "kind": "error",
                "message": f"{type(exc).__name__}: {text}",
            }
        )
        return True


def _reader(stream, inbox: "queue.Queue", worker: Worker) -> None:
    """Reads requests; a cancel for the request in flight is acted on at once, the rest are queued."""
    while True:
        try:
            msg, blobs = wire.read_message(stream)
        except wire.ProtocolError:
            inbox.put(None)
            return
        if msg.get("op") == "cancel":
            worker.cancel_request(msg.get("id"))
            continue
        inbox.put((msg, blobs))


def main() -> int:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # BAGEL's prints and tqdm bars go to stderr, never into the protocol channel
    stream = sys.stdin.buffer
    inbox: "queue.Queue" = queue.Queue()
    worker = Worker(out, inbox)
    worker.send(
        {
            "type": "hello",
            "protocol": wire.PROTOCOL_VERSION,
            "pid": os.getpid(),
            "python": sys.executable,
            "root": str(Path(__file__).resolve().parents[3]),
        }
    )
    threading.Thread(target=_reader, args=(stream, inbox, worker), daemon=True).start()
    while True:
        item = inbox.get()
        if item is None:  # the studio went away
            return 0
        if not worker.handle(*item):
            out.flush()
            return 0 if item[0].get("op") == "shutdown" else 3


if __name__ == "__main__":
    sys.exit(main())
