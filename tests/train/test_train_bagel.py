"""`studio train bagel`'s own decisions, without running BAGEL: what it refuses, the dataset info and data
config it hands BAGEL's trainer, the command line, the trainer's log lines and the snapshot it assembles.
The trainer itself runs in tests/train/test_flywheel.py."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from studio.core.domain import StudioError
from studio.export import training
from studio.train.bagel import TrainOptions, assemble, command, merged_data_config, parse_losses


def export_folder(path, edit_rows=2, verdict_lines=3):
    """A train-ready export as the unified_edit format writes it: relative paths only."""
    (path / "train").mkdir(parents=True)
    (path / "train" / "part-00000.parquet").write_bytes(b"")
    (path / "parquet_info.json").write_text(
        json.dumps({"train/part-00000.parquet": {"num_row_groups": 1, "num_rows": edit_rows}})
    )
    info = {
        "unified_edit": {
            "stroke_studio_edit_train": {
                "data_dir": "train",
                "num_files": 1,
                "num_total_samples": edit_rows,
                "parquet_info_path": "parquet_info.json",
            }
        }
    }
    if verdict_lines:
        info["vlm_sft"] = training.vlm_sft_info(
            ["train/inspect.jsonl"], {"train/inspect.jsonl": verdict_lines}
        )
    training.write_training_files(path, info)
    return path


@pytest.fixture
def bagel_install(tmp_path):
    repo = tmp_path / "Bagel"
    (repo / "train").mkdir(parents=True)
    (repo / "train" / "pretrain_unified_navit.py").write_text("")
    base = tmp_path / "base"
    base.mkdir()
    for name in ("llm_config.json", "vit_config.json", "vocab.json"):
        (base / name).write_text("{}")
    (base / "ema.safetensors").write_bytes(b"base weights")
    (base / "ae.safetensors").write_bytes(b"autoencoder")
    return repo, base


def options(tmp_path, bagel_install, exports, **changes):
    repo, base = bagel_install
    values = dict(
        exports=exports, base=base, out=tmp_path / "new", steps=3, gpus=0,
        python=sys.executable, repo=repo,
    )  # fmt: skip
    values.update(changes)
    return TrainOptions(**values)


def test_a_copied_export_trains_from_anywhere_its_paths_are_made_absolute_for_the_run(
    tmp_path, bagel_install
):
    folder = export_folder(tmp_path / "copied" / "edits")
    run = tmp_path / "run"
    argv, env = command(options(tmp_path, bagel_install, [folder]), run)

    info = json.loads((run / "dataset_info.json").read_text())
    edit = info["unified_edit"]["stroke_studio_edit_train"]
    assert edit["data_dir"] == str(folder.resolve() / "train")
    # BAGEL joins data_dir and the file name and looks that up in parquet_info
    parquet_info = json.loads(open(edit["parquet_info_path"]).read())
    assert list(parquet_info) == [str(folder.resolve() / "train" / "part-00000.parquet")]
    verdicts = info["vlm_sft"]["stroke_studio_inspect_train"]
    assert verdicts["jsonl_path"] == str(folder.resolve() / "train" / "inspect.jsonl")
    assert verdicts["data_dir"] == str(folder.resolve())

    config = yaml.safe_load((run / "data.yaml").read_text())
    assert config["unified_edit"]["dataset_names"] == ["stroke_studio_edit_train"]
    assert config["vlm_sft"]["is_mandatory"] is True  # every batch carries a text target
    assert argv[1:4] == ["-m", "studio.train.entry", str(run / "dataset_info.json")]
    assert argv[argv.index("--total_steps") + 1] == "3"
    assert env["WANDB_MODE"] == "offline" and env["WORLD_SIZE"] == "1"


def test_several_gpus_run_under_torchrun_and_trainer_arguments_come_last(tmp_path, bagel_install):
    folder = export_folder(tmp_path / "edits")
    argv, env = command(
        options(tmp_path, bagel_install, [folder], gpus=4, trainer_args=["--lr", "1e-4"]),
        tmp_path / "run",
    )
    assert argv[1:4] == ["-m", "torch.distributed.run", "--nproc_per_node=4"]
    assert argv[-2:] == ["--lr", "1e-4"]
    assert (
        "RANK" not in env or env["RANK"] != "0" or env.get("WORLD_SIZE") != "1"
    )  # torchrun's to set


def test_an_export_without_verdicts_is_refused_before_bagel_stops_on_it(tmp_path, bagel_install):
    folder = export_folder(tmp_path / "edits", verdict_lines=0)
    assert "no text-loss dataset" in (folder / "TRAIN.md").read_text()
    with pytest.raises(StudioError, match="no text target"):
        command(options(tmp_path, bagel_install, [folder]), tmp_path / "run")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"python": "/nowhere/python"}, "BAGEL's environment"),
        ({"repo": None}, "BAGEL's clone"),
        ({"steps": 0}, "at least 1"),
    ],
)
def test_what_is_missing_is_named_in_one_line(
    tmp_path, bagel_install, monkeypatch, change, message
):
    monkeypatch.delenv("STROKE_STUDIO_BAGEL_REPO", raising=False)
    folder = export_folder(tmp_path / "edits")
    with pytest.raises(StudioError, match=message):
        command(options(tmp_path, bagel_install, [folder], **change), tmp_path / "run")


def test_a_folder_that_is_not_a_train_ready_export_is_refused(tmp_path, bagel_install):
    (tmp_path / "photos").mkdir()
    with pytest.raises(StudioError, match="not a train-ready export"):
        command(options(tmp_path, bagel_install, [tmp_path / "photos"]), tmp_path / "run")


def test_two_exports_mix_their_datasets(tmp_path):
    first = export_folder(tmp_path / "a")
    second = tmp_path / "b"
    second.mkdir()
    training.write_training_files(
        second,
        {"vlm_sft": training.vlm_sft_info(["train/conflict.jsonl"], {"train/conflict.jsonl": 4})},
    )
    info = {
        "vlm_sft": {"stroke_studio_inspect_train": {}, "stroke_studio_conflict_train": {}},
        "unified_edit": {"stroke_studio_edit_train": {}},
    }
    config = merged_data_config([first, second], info)
    assert config["vlm_sft"]["dataset_names"] == [
        "stroke_studio_inspect_train",
        "stroke_studio_conflict_train",
    ]
    assert config["vlm_sft"]["num_used_data"] == [3, 4]


def test_the_trainers_step_lines_give_the_losses():
    line = "(step=0000007) Train Loss mse: 1.1719, Train Loss ce: 5.7282, Train Steps/Sec: 0.05, "
    assert parse_losses(line) == {"step": 7, "mse": 1.1719, "ce": 5.7282}
    assert parse_losses("Preparing Dataset vlm_sft/x") is None


def test_the_snapshot_is_the_base_with_the_trained_weights_where_the_engine_reads_them(
    tmp_path, bagel_install
):
    _, base = bagel_install
    checkpoint = tmp_path / "checkpoints" / "0000003"
    checkpoint.mkdir(parents=True)
    (checkpoint / "model.safetensors").write_bytes(b"trained")
    (checkpoint / "ema.safetensors").write_bytes(b"ema")
    out = assemble(base, checkpoint, tmp_path / "new")
    assert (out / "ema.safetensors").read_bytes() == b"trained"
    assert (out / "ae.safetensors").read_bytes() == b"autoencoder"
    assert not (out / "model.safetensors").exists()
    ema = assemble(base, checkpoint, tmp_path / "new-ema", use_ema=True)
    assert (ema / "ema.safetensors").read_bytes() == b"ema"
