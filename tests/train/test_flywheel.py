"""The flywheel, closed: sessions people steered → a train-ready export → BAGEL's own trainer → a new
snapshot → the bagel engine runs a session on it → `studio bench geneval --engine bagel` scores it.

Everything is real at tiny size on the CPU: the studio's store, runner, offline engine and exporter;
BAGEL's train/pretrain_unified_navit.py, unmodified, in BAGEL's environment (tests/kits/bagel_kit.py),
started by `studio train bagel`; BAGEL's inference code in the engine's worker. The test's own parts
say what they stand in for: the CPU patches (tests/kits/bagel_train_cpu.py, the prelude hook) stand in
for a CUDA machine, the data config's small image sizes for a model of real size, and the wandb and
torchvision stand-ins (tests/kits/bagel_standins/) for packages the CPU run has no use for.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import yaml

from studio import engines
from studio.core.domain import RunSettings, Stage
from studio.runner import PausePolicy, Runner
from studio.store import Store

from ..kits import bagel_kit
from ..kits.cli_support import studio
from ..kits.upstream import GENEVAL

TINY = {  # the engine at the tiny model's size (as tests/engines/test_engine_bagel.py runs it)
    "num_timesteps": 4,
    "image_size": 64,
    "max_think_tokens": 24,
    "cfg_interval": [0.0, 1.0],
}
CPU_TRAINER = (  # token budgets and sharding for one CPU process (BAGEL's defaults are for 8 GPUs)
    "--sharding_strategy FULL_SHARD --num_shard 1 --expected_num_tokens 2048 --max_num_tokens 8192 "
    "--max_num_tokens_per_sample 8192 --prefer_buffer_before 1024 --max_buffer_size 4 "
    "--prefetch_factor 2 --copy_init_moe True --freeze_und False"
).split()
SMALL_IMAGES = {  # BAGEL's example sizes are for the 7B model; the tiny one trains on 32-64 px
    "unified_edit": {
        "image_transform_args": {"image_stride": 16, "max_image_size": 64, "min_image_size": 32},
        "vit_image_transform_args": {
            "image_stride": 14,
            "max_image_size": 56,
            "min_image_size": 28,
        },
    },
    "vlm_sft": {
        "image_transform_args": {
            "image_stride": 14,
            "max_image_size": 56,
            "min_image_size": 28,
            "max_pixels": 3136,
        }
    },
}


def steer(store):
    """Offline sessions a person corrected: an override with a critique, a refine of their own, a
    rejected sketch with its reason."""
    runner = Runner(store)
    for seed, (prompt, fix) in enumerate(
        [
            ("a red cup left of a blue clock", "make the clock green"),
            ("two green apples", "make the apples red"),
            ("a yellow dog below a white cat", "make the cat black"),
        ]
    ):
        trajectory = runner.new_session(
            prompt,
            engine="offline",
            seed=seed,
            settings=RunSettings(max_rounds=4, engine_params={"draft_noise": 0}),
        )
        runner.run(trajectory, PausePolicy.AT_INSPECT)
        verdict = runner.target(trajectory, None, Stage.INSPECT)
        runner.override(trajectory, verdict.id, sketch_passed=False, sketch_critique=fix, by="ana")
        runner.refine_with(trajectory, verdict.id, fix, by="ana")
        runner.run(trajectory)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_flywheel_steered_sessions_train_bagel_and_the_new_snapshot_runs_and_benches(
    tmp_path, capsys, monkeypatch
):
    python = bagel_kit.bagel_python()
    GENEVAL.require()
    base = bagel_kit.build_snapshot(python, tmp_path / "base", flux_ae=True)
    data = tmp_path / "data"
    store = Store(data_dir=data)
    steer(store)
    store.close()

    code, _, err = studio(
        capsys, "export", "--format", "unified_edit", "--out", tmp_path / "edits",
        "--data-dir", data, "--val-fraction", 0,
    )  # fmt: skip
    assert code == 0, err
    copied = tmp_path / "elsewhere" / "edits"  # a copied export still trains
    shutil.copytree(tmp_path / "edits", copied)
    shutil.rmtree(tmp_path / "edits")
    config = yaml.safe_load((copied / "data.yaml").read_text())
    assert set(config) == {"unified_edit", "vlm_sft"}  # edits and the text targets beside them
    for family, sizes in SMALL_IMAGES.items():
        config[family].update(sizes)
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(config))

    monkeypatch.setenv(
        "STROKE_STUDIO_BAGEL_TRAIN_PRELUDE", str(bagel_kit.ROOT / "tests/kits/bagel_train_cpu.py")
    )
    monkeypatch.setenv("PYTHONPATH", str(bagel_kit.STANDINS))
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    new = tmp_path / "snapshots" / "steered"
    code, stdout, err = studio(
        capsys, "train", "bagel", copied, "--base", base, "--out", new, "--steps", 2,
        "--lr", "1e-3", "--gpus", 0, "--python", python, "--repo", bagel_kit.CLONE,
        "--data-config", tmp_path / "small.yaml", "--json", "--", *CPU_TRAINER,
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(stdout)
    assert result["steps"] == 2 and result["last"]["step"] == 1
    assert (
        result["first"]["ce"] > 0 and result["first"]["mse"] > 0
    )  # text and image targets trained
    assert digest(new / "ema.safetensors") != digest(base / "ema.safetensors")
    assert digest(new / "ae.safetensors") == digest(base / "ae.safetensors")
    assert json.loads((new / "stroke_studio_training.json").read_text())["steps"] == 2

    engine = bagel_kit.make_engine(python, new, cache_gb=1.0)
    engines.register("bagel", lambda: engine)  # --engine bagel, on the new snapshot
    try:
        store = Store(data_dir=data)
        runner = Runner(store)
        trajectory = runner.new_session(
            "a red cup left of a blue clock",
            engine="bagel",
            seed=3,
            settings=RunSettings(max_rounds=2, engine_params=TINY),
        )
        outcome = runner.run(trajectory)
        assert outcome.status == "finished"
        final = trajectory.head()
        assert final.stage is Stage.FINAL and final.image is not None
        store.close()

        code, stdout, err = studio(
            capsys, "bench", "geneval", "--prompts", GENEVAL.require() / "evaluation_metadata.jsonl",
            "--engine", "bagel", "--limit", 2, "--samples", 1,
            "--rounds", 2, "--params", json.dumps(TINY), "--out", tmp_path / "geneval",
            "--data-dir", data,
        )  # fmt: skip
        assert code == 0, err
        report = (tmp_path / "geneval" / "report.md").read_text()
        assert "engine: `bagel`" in report and "| **overall** |" in report
    finally:
        engines.unregister("bagel")
        engine.close()
