"""The bagel engine's GPU-facing decisions, checked on the CPU: attention without flash_attn, where the
autoencoder goes, linear previews, and how Stop and failures treat the worker's requests and context.
BAGEL itself is not needed here (the worker's pieces take small stand-ins, named where used)."""

from __future__ import annotations

import io
import queue
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from studio.engines.bagel import attention, autoencoder, placement, wire
from studio.engines.bagel.contexts import BranchContext, ContextCache
from studio.engines.bagel.worker import Worker, _reader, hold_seconds

GiB = 2**30


def _reference(q, k, v, causal):
    """Plain attention over one sequence, bottom-right causal (flash-attn >= 2.1), heads repeated."""
    qh, kh, vh = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
    kh = kh.repeat_interleave(qh.shape[0] // kh.shape[0], 0)
    vh = vh.repeat_interleave(qh.shape[0] // vh.shape[0], 0)
    scores = qh @ kh.transpose(-1, -2) / qh.shape[-1] ** 0.5
    if causal:
        lq, lk = qh.shape[1], kh.shape[1]
        keep = torch.ones(lq, lk, dtype=torch.bool).tril(diagonal=lk - lq)
        scores = scores.masked_fill(~keep, float("-inf"))
    return (scores.softmax(-1) @ vh).transpose(0, 1)


def test_sdpa_attention_matches_flash_attn_semantics_for_packed_sequences():
    torch.manual_seed(0)
    lens_q, lens_k = (
        [3, 5],
        [7, 5],
    )  # a query shorter than its keys (a cached prefix), and a square one
    q = torch.randn(sum(lens_q), 4, 8)
    k, v = (
        torch.randn(sum(lens_k), 2, 8),
        torch.randn(sum(lens_k), 2, 8),
    )  # grouped-query: 2 kv heads
    cu_q, cu_k = torch.tensor([0, 3, 8]), torch.tensor([0, 7, 12])
    for causal in (False, True):
        out = attention.flash_attn_varlen_func(q, k, v, cu_q, cu_k, 5, 7, causal=causal)
        expected = torch.cat(
            [_reference(q[:3], k[:7], v[:7], causal), _reference(q[3:], k[7:], v[7:], causal)]
        )
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_without_flash_attn_bagels_import_gets_the_sdpa_path():
    code = (
        "import sys; sys.modules['flash_attn'] = None\n"  # None: `import flash_attn` raises ImportError
        "from studio.engines.bagel import attention\n"
        "del sys.modules['flash_attn']\n"
        "import builtins; real = builtins.__import__\n"
        "def no_flash(name, *a, **k):\n"
        "    if name == 'flash_attn' and 'flash_attn' not in sys.modules: raise ImportError(name)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = no_flash\n"
        "print(attention.install())\n"
        "from flash_attn import flash_attn_varlen_func\n"
        "print(flash_attn_varlen_func is attention.flash_attn_varlen_func, attention.install())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["sdpa", "True", "sdpa"], done.stderr[-2000:]


def test_the_autoencoder_goes_to_the_models_gpu_in_the_modes_dtype_when_it_fits():
    params = 84 * 10**6  # FLUX's autoencoder
    one_gpu = placement.finish_map({"": 0}, {"vae2llm"})
    free = {0: 40 * GiB}
    assert placement.autoencoder_place("bf16", one_gpu, free, params, 8 * GiB) == (
        "cuda:0",
        "bfloat16",
    )
    assert placement.autoencoder_place("nf4", one_gpu, free, params, 8 * GiB) == (
        "cuda:0",
        "bfloat16",
    )
    assert placement.autoencoder_place("int8", one_gpu, free, params, 8 * GiB) == (
        "cuda:0",
        "float32",
    )
    # too little left on that GPU after the cache and the reserve: the CPU in float32, as app.py
    assert placement.autoencoder_place("bf16", one_gpu, {0: 9 * GiB}, params, 8 * GiB) == (
        "cpu",
        "float32",
    )
    two = {"": 1, "vae2llm": "cuda:1"}  # the autoencoder's latents meet the model on GPU 1
    assert placement.autoencoder_place("bf16", two, {0: 0, 1: 40 * GiB}, params, 0) == (
        "cuda:1",
        "bfloat16",
    )
    assert placement.autoencoder_place("bf16", {"": "cpu"}, {}, params, 0) == ("cpu", "float32")


class _LinearAutoencoder(nn.Module):
    """Stands in for BAGEL's AutoEncoder with a known linear latent space (8× down, 16 channels)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.mix = nn.Parameter(torch.randn(3, 16))

    def encode(self, x):
        pooled = nn.functional.avg_pool2d(x, 8)
        return torch.einsum("nrhw,rc->nchw", pooled, self.mix) + 0.5

    def decode(self, z):
        rgb = torch.einsum(
            "nchw,cr->nrhw", z - 0.5, torch.linalg.pinv(self.mix.float()).to(z.dtype)
        )
        return nn.functional.interpolate(rgb, scale_factor=8)


def test_a_linear_preview_fitted_on_the_loaded_autoencoder_shows_the_colours_without_a_decode():
    vae = _LinearAutoencoder()
    projection = autoencoder.fit_projection(vae, size=64, images=2)
    image = torch.zeros(1, 3, 64, 64)
    image[:, 0, :, :32] = 1.0  # left half red, right half blue (in [-1, 1])
    image[:, 2, :, 32:] = 1.0
    image = image * 2 - 1
    preview = autoencoder.linear_preview(vae.encode(image), projection, size=64)
    assert preview.size == (64, 64)
    red, blue = preview.getpixel((4, 32)), preview.getpixel((60, 32))
    assert red[0] > 200 and red[2] < 50 and blue[2] > 200 and blue[0] < 50


def test_an_autoencoder_on_another_device_takes_bagels_cpu_inputs_and_gives_float32():
    vae = autoencoder.place(_LinearAutoencoder(), "cpu", "bfloat16")  # the dtype move, on the CPU
    assert next(vae.parameters()).dtype == torch.bfloat16
    latent = vae.encode(torch.zeros(1, 3, 16, 16))  # a float32 input, as BAGEL's padded images
    assert latent.dtype == torch.bfloat16
    assert vae.decode(latent.float()).dtype == torch.float32


def _worker(inf=None) -> tuple[Worker, io.BytesIO]:
    out = io.BytesIO()
    worker = Worker(out, queue.Queue())
    worker.inf = inf or SimpleNamespace()
    return worker, out


def _answers(out: io.BytesIO) -> list[dict]:
    out.seek(0)
    found = []
    while True:
        try:
            found.append(wire.read_message(out)[0])
        except wire.ProtocolError:
            return found


def test_a_cancel_that_arrives_before_its_request_starts_is_not_dropped():
    worker, out = _worker()
    ran = []
    worker.op_stats = lambda msg, blobs: ran.append(msg["id"]) or ({}, ())  # type: ignore[attr-defined]
    pipe = io.BytesIO()
    wire.write_message(pipe, {"op": "stats", "id": 7})
    wire.write_message(
        pipe, {"op": "cancel", "id": 7}
    )  # read while request 7 still waits in the queue
    pipe.seek(0)
    _reader(pipe, worker.inbox, worker)
    msg, blobs = worker.inbox.get_nowait()
    assert worker.handle(msg, blobs)
    assert ran == [] and [a["type"] for a in _answers(out)] == ["cancelled"]
    worker.handle({"op": "stats", "id": 8}, [])  # the next request is not cancelled by it
    assert ran == [8]


def test_a_failed_request_leaves_the_context_for_abort_to_put_back():
    worker, out = _worker()
    worker.cache = ContextCache(2**30)
    worker.bc, worker.key = BranchContext(gen=None, cfg_img=None), "branch-key"

    def boom(msg, blobs):
        raise RuntimeError("something inside BAGEL broke")

    worker.op_boom = boom  # type: ignore[attr-defined]
    assert worker.handle({"op": "boom", "id": 1}, [])
    assert worker.handle({"op": "abort", "id": 2}, [])
    assert worker.cache.take("branch-key") is not None  # untouched: no extra prefill later
    assert [a["type"] for a in _answers(out)] == ["error", "result"]


def test_stop_waits_for_an_announced_decode_instead_of_killing_the_worker(tmp_path):
    from studio.engines.bagel.client import Cancelled, WorkerClient
    from studio.engines.base import CancelToken, StageContext

    # Stands in for the worker: after the request, it announces a 2-s decode, then honours the cancel.
    script = tmp_path / "python"
    script.write_text(
        "#!/bin/sh\n"
        'echo \'{"type":"hello","protocol":1,"blobs":[]}\'\n'
        "read request\n"
        'echo \'{"type":"progress","id":1,"fraction":0.99,"message":"decoding","hold_s":30,"blobs":[]}\'\n'
        "sleep 2\n"
        'echo \'{"type":"cancelled","id":1,"blobs":[]}\'\n'
        "sleep 30\n"
    )
    script.chmod(0o755)
    client = WorkerClient(str(script), cancel_grace=0.2)
    client.start()
    token = CancelToken()
    ctx = SimpleNamespace(cancel=token, stage=None, report=lambda p: None)
    threading.Timer(0.3, token.cancel).start()
    started = time.monotonic()
    try:
        with pytest.raises(Cancelled):
            client.request("gen_image", ctx, "sketching")  # type: ignore[arg-type]
        assert client.alive and time.monotonic() - started >= 1.5  # waited; not killed at 0.2 s
    finally:
        client.close(timeout=1)
    assert StageContext  # the real context type the client is given in the engine


def test_stop_holds_from_the_last_decode_and_start_generous():
    assert hold_seconds(None, "cpu") >= 600 and hold_seconds(None, "cuda") >= 60
    assert hold_seconds(95.0, "cpu") == 285.0 and hold_seconds(1.0, "cuda") == 30.0


def _env_script(tmp_path, *args, version="3.11"):
    from ..kits import bagel_kit

    clone = tmp_path / "Bagel"
    clone.mkdir(exist_ok=True)
    (clone / "requirements.txt").write_text("numpy==1.24.4\n")
    (clone / "inferencer.py").write_text("")
    python = tmp_path / "python"  # stands in for the interpreter: it only answers the version check
    python.write_text(f"#!/bin/sh\necho {version}\n")
    python.chmod(0o755)
    return subprocess.run(
        ["bash", str(bagel_kit.SCRIPT), "--dry-run", *args, str(clone), str(tmp_path / "env")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHON": str(python)},
    )


def test_the_env_script_installs_wheels_only_and_builds_flash_attn_only_when_asked(tmp_path):
    done = _env_script(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "--only-binary=:all: -r" in done.stdout and "--no-build-isolation" not in done.stdout
    assert "from a wheel only; without one, BAGEL runs on PyTorch's SDPA" in done.stdout
    asked = _env_script(tmp_path, "--flash-attn")
    assert "install flash_attn==2.5.8 --no-build-isolation" in asked.stdout


def test_the_env_script_names_a_python_with_wheels_for_bagels_pins(tmp_path):
    done = _env_script(tmp_path, version="3.12")
    assert done.returncode == 2 and not (tmp_path / "env").exists()
    assert "Python 3.12; BAGEL's requirements.txt (numpy 1.24.4" in done.stderr
    assert "rerun with PYTHON=python3.10" in done.stderr
    assert _env_script(tmp_path, "--cpu-test", version="3.12").returncode == 0  # its own pins
