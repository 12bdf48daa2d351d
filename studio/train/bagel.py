"""`studio train bagel`: BAGEL's own trainer on train-ready exports, then a snapshot `--engine bagel` loads.

The flywheel's one command: exports of steered sessions (`unified_edit` and `vlm-sft` folders, which
write BAGEL's dataset info and data config: studio/export/training.py) and a BAGEL snapshot go in;
BAGEL's `train/pretrain_unified_navit.py` runs in BAGEL's environment (STROKE_STUDIO_BAGEL_PYTHON and
STROKE_STUDIO_BAGEL_REPO, as the engine's worker), under `torchrun` over the GPUs; the trained
weights come out as a snapshot folder: the base's configs, tokenizer and autoencoder, and the trained
model as `ema.safetensors` (the file the engine loads; a short fine-tune's EMA would barely have moved
from the base, so the trained weights are taken unless `use_ema`).

Example usage (a GPU machine with BAGEL's environment)::

    studio export --format unified_edit --out edits/
    studio train bagel edits/ --base ~/models/BAGEL-7B-MoT --out ~/models/bagel-steered --steps 500
    STROKE_STUDIO_BAGEL_MODEL=~/models/bagel-steered studio run "a red cup" --engine bagel
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..core.domain import StudioError
from ..engines.bagel.engine import PYTHON_SETTING, REPO_SETTING
from ..export import training

TRAINER = Path("train") / "pretrain_unified_navit.py"
WEIGHTS = ("ema.safetensors", "model.safetensors")
# Per-step losses as BAGEL's trainer prints them: "(step=0000001) Train Loss mse: 0.1234, Train Loss ce: 5.6…"
STEP_LINE = re.compile(r"\(step=(\d+)\)\s*(.*)")
LOSS = re.compile(r"Train Loss (\w+): ([0-9.eE+-]+|nan|inf)")
# BAGEL's fine-tuning example (its TRAIN.md): token budgets per GPU and the learning rate.
DEFAULT_ARGS = (
    "--layer_module", "Qwen2MoTDecoderLayer", "--max_latent_size", "64",
    "--finetune_from_hf", "True", "--resume_model_only", "True", "--finetune_from_ema", "True",
    "--expected_num_tokens", "10240", "--max_num_tokens", "11520",
    "--max_num_tokens_per_sample", "10240", "--num_workers", "1", "--warmup_steps", "0",
    "--log_every", "1", "--wandb_offline", "True",
)  # fmt: skip


@dataclass
class TrainOptions:
    exports: list[Path]  # train-ready export folders (dataset_info.json + data.yaml)
    base: Path  # the snapshot trained from (what `--engine bagel` loaded)
    out: Path  # the new snapshot folder (must not exist, or be empty)
    steps: int = 500
    lr: float = 2e-5
    gpus: int | None = None  # None: every GPU nvidia-smi lists
    python: str | None = None  # default: STROKE_STUDIO_BAGEL_PYTHON
    repo: Path | None = None  # default: STROKE_STUDIO_BAGEL_REPO
    data_config: Path | None = None  # default: the exports' data.yaml files merged
    use_ema: bool = False
    keep_checkpoints: bool = (
        False  # the trainer's checkpoint (with optimizer state: ~6x the model) is removed
    )
    trainer_args: list[str] = field(default_factory=list)  # passed on to BAGEL's trainer, last wins
    extra_path: list[str] = field(default_factory=list)  # more PYTHONPATH entries for the trainer


@dataclass
class TrainResult:
    snapshot: Path
    steps: int
    losses: list[dict[str, float]]  # one per logged step: {"step": n, "mse": …, "ce": …}
    elapsed_s: float
    run_dir: Path


def gpu_count() -> int:
    """GPUs `nvidia-smi -L` lists (0 without a driver): the processes torchrun starts."""
    try:
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in done.stdout.splitlines() if line.startswith("GPU "))


def merged_dataset_info(exports: list[Path], run_dir: Path) -> dict[str, dict]:
    """Every export's dataset info with absolute paths, merged; refused in one line per problem."""
    merged: dict[str, dict] = {}
    for number, folder in enumerate(exports):
        if not (folder / training.INFO_FILE).is_file():
            raise StudioError(
                f"{folder} is not a train-ready export (no {training.INFO_FILE}): export with "
                "`studio export --format unified_edit` or `--format vlm-sft`."
            )
        info = training.absolute_dataset_info(folder, run_dir / f"export-{number}")
        for family, entries in info.items():
            clash = set(entries) & set(merged.get(family, {}))
            if clash:
                raise StudioError(
                    f"Two exports both name the dataset {sorted(clash)[0]!r}; "
                    "train on one export of each format."
                )
            merged.setdefault(family, {}).update(entries)
    return merged


def merged_data_config(exports: list[Path], dataset_info: dict[str, dict]) -> dict:
    """The exports' data configs as one (dataset lists joined per family); it must train some text."""
    import yaml

    config: dict = {}
    for folder in exports:
        path = folder / training.CONFIG_FILE
        mine = yaml.safe_load(path.read_text("utf-8")) if path.is_file() else None
        for family, group in (mine or training.data_config(dataset_info)).items():
            if family in config:
                config[family]["dataset_names"] += group["dataset_names"]
                config[family]["num_used_data"] += group["num_used_data"]
            else:
                config[family] = dict(group)
    if not training.has_text_loss(config):
        raise StudioError(
            "These exports hold no text target (no verdict was exported), and BAGEL's trainer stops "
            "on a batch without one: export sessions that were inspected (`--format unified_edit` "
            "writes their verdicts beside the edits)."
        )
    return config


def command(options: TrainOptions, run_dir: Path) -> tuple[list[str], dict[str, str]]:
    """The trainer's command line and environment for one run (written to run_dir, nothing started)."""
    import yaml

    python = options.python or os.environ.get(PYTHON_SETTING)
    repo = options.repo or (
        Path(os.environ[REPO_SETTING]) if os.environ.get(REPO_SETTING) else None
    )
    if not python or not Path(python).expanduser().exists():
        raise StudioError(
            f"BAGEL's trainer runs in BAGEL's environment: set {PYTHON_SETTING} to its python "
            "(`bash scripts/bagel_env.sh <clone> <env>` builds one) or pass --python."
        )
    if repo is None or not (repo / TRAINER).is_file():
        raise StudioError(
            f"BAGEL's clone is needed for its trainer ({TRAINER}): set {REPO_SETTING} or pass --repo."
        )
    if not (options.base / "llm_config.json").is_file():
        raise StudioError(f"{options.base} is not a BAGEL snapshot (no llm_config.json).")
    if options.steps < 1:
        raise StudioError("--steps must be at least 1.")
    run_dir.mkdir(parents=True, exist_ok=True)
    info = merged_dataset_info(options.exports, run_dir)
    if options.data_config is not None:
        config_path = options.data_config.resolve()
    else:
        config_path = run_dir / "data.yaml"
        config_path.write_text(
            yaml.safe_dump(merged_data_config(options.exports, info), sort_keys=False), "utf-8"
        )
    info_path = run_dir / "dataset_info.json"
    info_path.write_text(json.dumps(info, indent=1), "utf-8")
    base = str(options.base.resolve())
    trainer = [
        str((repo / TRAINER).resolve()),
        "--dataset_config_file", str(config_path),
        "--model_path", base, "--resume_from", base,
        *DEFAULT_ARGS,
        "--lr", str(options.lr), "--total_steps", str(options.steps),
        "--save_every", str(max(options.steps, 1) + 1),  # one checkpoint, at the end
        "--results_dir", str(run_dir / "results"), "--checkpoint_dir", str(run_dir / "checkpoints"),
        *options.trainer_args,
    ]  # fmt: skip
    gpus = gpu_count() if options.gpus is None else options.gpus
    python = str(Path(python).expanduser())
    entry = ["-m", "studio.train.entry", str(info_path), *trainer]
    if gpus > 1:
        argv = [python, "-m", "torch.distributed.run", f"--nproc_per_node={gpus}", *entry]
    else:
        argv = [python, *entry]
    root = str(Path(__file__).resolve().parents[2])  # the studio's source, for the entry point
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(repo.resolve()), root, *options.extra_path]
            + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
        ),
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(run_dir),
    }
    if gpus <= 1:  # one process without torchrun: its rendezvous by hand
        env.update({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"})
        env.setdefault("MASTER_PORT", "29517")
    (run_dir / "command.json").write_text(json.dumps({"argv": argv}, indent=1), "utf-8")
    return argv, env


def parse_losses(line: str) -> dict[str, float] | None:
    """One logged step's losses from a line of BAGEL's trainer output; None for any other line."""
    found = STEP_LINE.search(line)
    if not found:
        return None
    losses = {name: float(value) for name, value in LOSS.findall(found.group(2))}
    return {"step": int(found.group(1)), **losses} if losses else None


def assemble(base: Path, checkpoint: Path, out: Path, use_ema: bool = False) -> Path:
    """A snapshot folder: the base's files (configs, tokenizer, autoencoder) and the trained weights
    as `ema.safetensors`, the file the engine loads."""
    trained = checkpoint / ("ema.safetensors" if use_ema else "model.safetensors")
    if not trained.is_file():
        raise StudioError(f"The trainer wrote no {trained.name} in {checkpoint}.")
    out.mkdir(parents=True, exist_ok=True)
    for item in base.iterdir():
        if item.is_file() and item.name not in WEIGHTS:
            shutil.copy2(item, out / item.name)
    shutil.copy2(trained, out / "ema.safetensors")
    return out


def latest_checkpoint(folder: Path) -> Path:
    steps = sorted(p for p in folder.glob("[0-9]*") if p.is_dir()) if folder.is_dir() else []
    if not steps:
        raise StudioError(f"BAGEL's trainer saved no checkpoint in {folder}.")
    return steps[-1]


def train(options: TrainOptions, on_line: Callable[[str], None] = lambda line: None) -> TrainResult:
    """Run BAGEL's trainer to the end and assemble the snapshot; StudioError with the trainer's last
    lines when it fails. `on_line` sees every line the trainer prints (a progress bar reads them)."""
    out = options.out
    if out.exists() and any(out.iterdir()):
        raise StudioError(f"{out} is not empty; name a new folder for the trained snapshot.")
    run_dir = Path(str(out) + ".run")
    argv, env = command(options, run_dir)
    started, losses, tail = time.perf_counter(), [], []
    with open(run_dir / "trainer.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=run_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            tail = (tail + [line.rstrip()])[-30:]
            step = parse_losses(line)
            if step is not None and not (losses and losses[-1]["step"] == step["step"]):
                losses.append(step)  # BAGEL logs each step twice (its logger and a print)
            on_line(line.rstrip())
        code = process.wait()
    if code:
        shown = "\n".join(tail[-15:])
        raise StudioError(
            f"BAGEL's trainer stopped with exit code {code}; its log is {run_dir / 'trainer.log'}. "
            f"Its last lines:\n{shown}"
        )
    snapshot = assemble(
        options.base, latest_checkpoint(run_dir / "checkpoints"), out, options.use_ema
    )
    if not options.keep_checkpoints:
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    result = TrainResult(snapshot, options.steps, losses, time.perf_counter() - started, run_dir)
    (out / "stroke_studio_training.json").write_text(
        json.dumps(
            {
                "base": str(options.base.resolve()),
                "exports": [str(p.resolve()) for p in options.exports],
                "steps": options.steps,
                "lr": options.lr,
                "weights": "ema" if options.use_ema else "model",
                "losses": losses,
            },
            indent=1,
        ),
        "utf-8",
    )
    return result
