"""`studio train bagel`: fine-tune BAGEL on train-ready exports with BAGEL's own trainer.

Registered by `studio.cli` (`register(app)` adds the `train` group); the training code is imported
only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..core.domain import StudioError
from .common import out, print_json, progress_bar, safe

train_app = typer.Typer(
    help="Train the next model on what people steered: an export in, a snapshot out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@train_app.command("bagel")
def bagel(
    exports: Annotated[
        list[str],
        typer.Argument(
            help="Train-ready export folders (`studio export --format unified_edit` or `vlm-sft`), "
            "then, after `--`, arguments for BAGEL's trainer."
        ),
    ],
    base: Annotated[
        Path,
        typer.Option(help="The BAGEL snapshot to train from (the folder --engine bagel loads)."),
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="A new folder for the trained snapshot.")],
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 500,
    lr: Annotated[float, typer.Option(help="Learning rate (BAGEL's fine-tuning example).")] = 2e-5,
    gpus: Annotated[
        Optional[int],
        typer.Option(help="Processes for torchrun (default: every GPU nvidia-smi lists)."),
    ] = None,
    python: Annotated[
        Optional[str], typer.Option(help="BAGEL's python (default: STROKE_STUDIO_BAGEL_PYTHON).")
    ] = None,
    repo: Annotated[
        Optional[Path], typer.Option(help="BAGEL's clone (default: STROKE_STUDIO_BAGEL_REPO).")
    ] = None,
    data_config: Annotated[
        Optional[Path],
        typer.Option(help="BAGEL data-config YAML (default: the exports' data.yaml, merged)."),
    ] = None,
    use_ema: Annotated[
        bool, typer.Option(help="Take the trainer's EMA weights instead of the trained model's.")
    ] = False,
    keep_checkpoints: Annotated[
        bool, typer.Option(help="Keep the trainer's checkpoint (optimizer state included).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run BAGEL's train/pretrain_unified_navit.py on the exports in BAGEL's environment (torchrun on
    GPUs) and write a snapshot that --engine bagel loads. Arguments after `--` go to BAGEL's trainer."""
    import json

    from ..train.bagel import TrainOptions, parse_losses, train

    # click hands everything after `--` to the variadic argument: the first option-like word starts
    # BAGEL's own arguments
    split = next((i for i, word in enumerate(exports) if word.startswith("-")), len(exports))
    folders, trainer_args = [Path(word) for word in exports[:split]], exports[split:]
    if not folders:
        raise StudioError("Name at least one export folder to train on.")
    options = TrainOptions(
        exports=folders,
        base=base,
        out=out_dir,
        steps=steps,
        lr=lr,
        gpus=gpus,
        python=python,
        repo=repo,
        data_config=data_config,
        use_ema=use_ema,
        keep_checkpoints=keep_checkpoints,
        trainer_args=trainer_args,
    )
    with progress_bar(keep=True) as bar:
        task = bar.add_task("training", total=steps)

        def on_line(line: str) -> None:
            step = parse_losses(line)
            if step is not None:
                losses = ", ".join(f"{k} {v:.4f}" for k, v in step.items() if k != "step")
                bar.update(task, completed=step["step"] + 1, description=f"training ({losses})")

        result = train(options, on_line)
    summary = {
        "snapshot": str(result.snapshot),
        "steps": result.steps,
        "first": result.losses[0] if result.losses else None,
        "last": result.losses[-1] if result.losses else None,
        "elapsed_s": round(result.elapsed_s, 1),
        "log": str(result.run_dir / "trainer.log"),
    }
    if json_out:
        print_json(json.dumps(summary))
        return
    out.print(
        f"trained {result.steps} step(s) in {result.elapsed_s:.0f} s; snapshot: {safe(result.snapshot)}",
        highlight=False,
    )
    if result.losses:
        first, last = result.losses[0], result.losses[-1]
        out.print(
            "loss "
            + ", ".join(
                f"{k} {first[k]:.4f} → {last.get(k, float('nan')):.4f}"
                for k in first
                if k != "step"
            ),
            highlight=False,
        )
    out.print(
        f'use it: STROKE_STUDIO_BAGEL_MODEL={safe(result.snapshot)} studio run "…" --engine bagel',
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
