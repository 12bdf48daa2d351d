"""The bagel engine's pieces that need no worker: settings and paths, the pipe protocol, image limits,
and the device-map arithmetic (with accelerate and torch from the studio's own venv)."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from studio import engines
from studio.core.domain import StudioError
from studio.engines.bagel import BagelEngine, placement, wire
from studio.engines.bagel.loader import check_paths
from studio.engines.bagel.worker import check_shape

GiB = 2**30


def test_messages_round_trip_with_their_blobs_and_garbage_is_refused():
    pipe = io.BytesIO()
    wire.write_message(pipe, {"op": "prefill", "items": [{"text": "a\nb"}]}, [b"\x89PNG one", b""])
    wire.write_message(pipe, {"op": "stats"})
    pipe.seek(0)
    assert wire.read_message(pipe) == (
        {"op": "prefill", "items": [{"text": "a\nb"}]},
        [b"\x89PNG one", b""],
    )
    assert wire.read_message(pipe) == ({"op": "stats"}, [])
    with pytest.raises(wire.Closed):
        wire.read_message(pipe)
    with pytest.raises(wire.ProtocolError, match="not a protocol message"):
        wire.read_message(io.BytesIO(b"Loading checkpoint shards...\n"))
    with pytest.raises(wire.Closed):
        wire.read_message(io.BytesIO(b'{"op":"x","blobs":[10]}\nshort'))


def test_the_worker_refuses_shapes_outside_the_latent_table():
    assert check_shape([1024, 512], 1024, 16) == (1024, 512)
    for bad in ([1040, 1040], [2048, 2048], [1000, 1024], [0, 64]):
        with pytest.raises(StudioError, match="multiples of 16"):
            check_shape(bad, 1024, 16)


def test_missing_clone_model_and_environment_are_named(tmp_path, monkeypatch):
    monkeypatch.delenv("STROKE_STUDIO_BAGEL_REPO", raising=False)
    monkeypatch.delenv("STROKE_STUDIO_BAGEL_PYTHON", raising=False)
    with pytest.raises(StudioError, match="STROKE_STUDIO_BAGEL_REPO.*git clone.*bagel_env.sh"):
        check_paths(str(tmp_path), None)
    repo = tmp_path / "Bagel"
    for name in (
        "inferencer.py",
        "modeling/bagel/__init__.py",
        "modeling/autoencoder.py",
        "modeling/qwen2/__init__.py",
        "data/transforms.py",
    ):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("")
    with pytest.raises(StudioError, match="incomplete; missing: data/data_utils.py"):
        check_paths(str(tmp_path / "model"), str(repo))
    (repo / "data/data_utils.py").write_text("")
    with pytest.raises(
        StudioError, match="does not exist.*hf download ByteDance-Seed/BAGEL-7B-MoT"
    ):
        check_paths(str(tmp_path / "model"), str(repo))
    model = tmp_path / "model"
    model.mkdir()
    (model / "llm_config.json").write_text("{}")
    (model / "vocab.json").write_text("{}")
    with pytest.raises(
        StudioError, match="missing: vit_config.json, ae.safetensors, ema.safetensors"
    ):
        check_paths(str(model), str(repo))
    for name in ("vit_config.json", "ae.safetensors", "ema.safetensors"):
        (model / name).write_text("")
    assert check_paths(str(model), str(repo)) == (model, repo)
    with pytest.raises(StudioError, match="scripts/bagel_env.sh.*STROKE_STUDIO_BAGEL_PYTHON"):
        BagelEngine(str(model), repo=str(repo)).worker()
    with pytest.raises(StudioError, match="does not exist. Build BAGEL's environment"):
        BagelEngine(str(model), repo=str(repo), python=str(tmp_path / "nope" / "python")).worker()


def test_settings_come_from_the_environment_and_are_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("STROKE_STUDIO_BAGEL_MODEL", str(tmp_path / "m"))
    monkeypatch.setenv("STROKE_STUDIO_BAGEL_MODE", "nf4")
    monkeypatch.setenv("STROKE_STUDIO_BAGEL_CACHE_GB", "2")
    monkeypatch.setenv("STROKE_STUDIO_BAGEL_PYTHON", "/env/bin/python")
    engine = BagelEngine()
    assert (engine.model_path, engine.mode, engine.cache_bytes, engine.python) == (
        str(tmp_path / "m"),
        "nf4",
        2 * GiB,
        "/env/bin/python",
    )
    assert engine.client is None and "bagel" in engines.names()  # nothing started
    with pytest.raises(StudioError, match="bf16, nf4 or int8"):
        BagelEngine(mode="fp8")
    with pytest.raises(StudioError, match="write a size such as 40GiB"):
        BagelEngine(max_memory="lots")


class _Layer(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.mlp = nn.Linear(width, 4 * width, bias=False)
        self.norm = nn.LayerNorm(4 * width)


class _Model(nn.Module):
    """A stand-in shape for the arithmetic: embeddings, a stack of layers, a head (built on meta)."""

    def __init__(self, width=256, layers=8):
        super().__init__()
        self.language_model = nn.Module()
        self.language_model.model = nn.Module()
        self.language_model.model.embed_tokens = nn.Embedding(1000, width)
        self.vae2llm = nn.Linear(64, width)
        self.layers = nn.ModuleList([_Layer(width) for _ in range(layers)])
        self.lm_head = nn.Linear(width, 1000, bias=False)


def test_weights_are_sized_in_the_dtype_they_will_have():
    with torch.device("meta"):
        model = _Model()
    params = sum(p.numel() for p in model.parameters())
    linear = 8 * 256 * 1024 + 64 * 256
    assert placement.weight_bytes(model, "bf16") == 2 * params  # not the float32 meta size
    assert placement.weight_bytes(model, "nf4") == linear // 2 + 2 * (params - linear)
    assert placement.weight_bytes(model, "int8") == linear + 4 * (params - linear)


def test_caps_leave_room_for_the_context_cache_and_activations():
    caps = placement.gpu_caps([80 * GiB, 80 * GiB], None, 8 * GiB)
    assert caps == {
        0: int(72 * GiB) - 4 * GiB - placement.ACTIVATION_RESERVE,
        1: int(72 * GiB) - 4 * GiB - placement.ACTIVATION_RESERVE,
    }
    assert placement.gpu_caps([24 * GiB], "20GiB", 2 * GiB) == {
        0: 18 * GiB - placement.ACTIVATION_RESERVE
    }


def test_what_does_not_fit_the_gpu_spills_to_cpu_before_disk():
    with torch.device("meta"):
        model = _Model(width=512, layers=16)
    size = placement.weight_bytes(model, "bf16")  # ≈ 18.5 MiB
    tiny_gpu = int((placement.ACTIVATION_RESERVE + size // 2) / placement.GPU_SHARE)  # half fits
    placed, report = placement.device_map(model, "bf16", [tiny_gpu], None, 0, cpu_bytes=4 * GiB)
    devices = set(placed.values())
    assert 0 in devices and "cpu" in devices and "disk" not in devices
    assert (
        placed["language_model.model.embed_tokens"] == placed["vae2llm"] == "cuda:0"
    )  # kept together, as BAGEL's app
    assert report["placed_gib"]["cpu"] > 0 and "do not fit" in placement.spill_note(report)
    placed, _ = placement.device_map(model, "bf16", [tiny_gpu], None, 0, cpu_bytes=size // 4)
    assert "disk" in set(placed.values())  # only when the CPU is full too


def test_a_quantized_model_that_fits_one_gpu_gets_a_map_that_accelerate_dispatches_with_hooks():
    with torch.device("meta"):
        model = _Model(width=512, layers=16)
    for mode in ("nf4", "int8", "bf16"):
        placed, report = placement.device_map(model, mode, [80 * GiB], None, 0, cpu_bytes=4 * GiB)
        assert {placement.device_name(d) for d in placed.values()} == {"cuda:0"}  # it all fits
        # accelerate's rule without force_hooks (load_and_quantize_model passes none): >1 device value
        assert placement.adds_hooks(placed), (mode, placed)
        assert report["placed_gib"].keys() == {"cuda:0"}


def test_the_hook_decision_is_accelerates_rule_over_the_map_values():
    assert not placement.adds_hooks({"": 0})
    assert not placement.adds_hooks({"a": 0, "b": 0})
    assert placement.adds_hooks({"a": 0, "b": "cuda:0"})  # BAGEL's app.py: one GPU, two names
    assert placement.adds_hooks({"a": 0, "b": 1}) and placement.adds_hooks({"": "disk"})
    one_gpu = placement.finish_map({"": 0}, {"language_model.model.embed_tokens", "vae2llm"})
    assert one_gpu == {
        "": 0,
        "language_model.model.embed_tokens": "cuda:0",
        "vae2llm": "cuda:0",
    } and placement.adds_hooks(one_gpu)
    spilled = placement.finish_map({"language_model.model.embed_tokens": "cpu", "rest": 0}, set())
    assert spilled["language_model.model.embed_tokens"] == "cpu" and placement.adds_hooks(spilled)


def test_the_output_head_stays_unquantized_as_the_placement_sized_it():
    with torch.device("meta"):
        model = _Model()
    _, special = placement.mode_dtypes(model, "nf4")
    assert special["lm_head.weight"] == torch.bfloat16
    assert list(placement.UNQUANTIZED) == ["lm_head"]


def _fake_python(tmp_path, body: str) -> str:
    """An executable standing in for BAGEL's python: it ignores `-m studio.engines.bagel.worker` and runs `body`."""
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_a_worker_speaking_another_protocol_version_is_refused(tmp_path):
    from studio.engines.bagel.client import WorkerClient

    client = WorkerClient(
        _fake_python(tmp_path, """echo '{"type":"hello","protocol":99,"blobs":[]}'; sleep 30""")
    )
    with pytest.raises(StudioError, match="speaks protocol 99, this studio 1"):
        client.start()
    assert not client.alive


def test_a_worker_that_dies_before_its_hello_is_reported_with_its_log(tmp_path):
    from studio.engines.bagel.client import WorkerClient

    client = WorkerClient(
        _fake_python(tmp_path, "echo 'ModuleNotFoundError: No module named torch' >&2; exit 1")
    )
    with pytest.raises(
        StudioError, match="failed to start: ModuleNotFoundError: No module named torch"
    ):
        client.start()


def test_previews_move_the_velocity_to_the_flow_and_project_without_decoding():
    from types import SimpleNamespace

    from studio.engines.bagel.worker import Worker

    class VAE(nn.Module):  # stands in for BAGEL's autoencoder: a preview must never decode
        def decode(self, z):
            raise AssertionError("a preview decoded")

    model = SimpleNamespace(latent_downsample=16, latent_patch_size=2, latent_channel=16)
    worker = Worker(io.BytesIO(), None)
    projection = (torch.zeros(16, 3), torch.tensor([1.0, -1.0, 0.0]))  # every latent: pure red
    worker.inf = SimpleNamespace(model=model, vae_model=VAE(), studio_projection=projection)
    tokens = 64 * 64  # a 1024² image: 64 × 64 latent patches of 2 × 2 × 16
    x_t = torch.randn(tokens, 64)
    v_t = torch.randn(tokens, 64, dtype=torch.bfloat16)  # the model's output dtype
    preview = worker.preview(x_t, torch.tensor([0.5]), v_t, (1024, 1024))
    assert preview.size == (256, 256) and preview.getpixel((10, 10)) == (255, 0, 128)
