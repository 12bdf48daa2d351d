"""BAGEL's trainer, started inside BAGEL's environment with an export's dataset info merged in.

    python -m studio.train.entry DATASET_INFO_JSON TRAINER_SCRIPT [trainer arguments …]

BAGEL keeps `DATASET_INFO` as a Python literal in its `data/dataset_info.py`; rather than have every
user edit that file, this merges the export's entries (made absolute by `studio train`) into it in
memory and then runs BAGEL's script as `__main__`, its files unchanged. Without flash-attn (a source
build BAGEL's environment often lacks) BAGEL's attention runs on PyTorch's SDPA
(studio/engines/bagel/attention.py), as the inference worker does.

`STROKE_STUDIO_BAGEL_TRAIN_PRELUDE` may name a Python file run first, in this process: a hook for
running the trainer where it was not written to run (the tests' CPU patches live in one; see
tests/kits/bagel_train_cpu.py). Standard library only: the studio's dependencies are not here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import runpy
import sys

PRELUDE_SETTING = "STROKE_STUDIO_BAGEL_TRAIN_PRELUDE"


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(
            "usage: python -m studio.train.entry DATASET_INFO_JSON TRAINER_SCRIPT [args …]"
        )
    info_path, script, args = argv[0], argv[1], argv[2:]
    if importlib.util.find_spec("flash_attn") is None:
        from ..engines.bagel import attention

        attention.install()
    prelude = os.environ.get(PRELUDE_SETTING)
    if prelude:
        runpy.run_path(prelude, run_name="stroke_studio_prelude")
    import data.dataset_info as bagel_datasets  # BAGEL's module, from its clone on PYTHONPATH

    with open(info_path, encoding="utf-8") as handle:
        for family, entries in json.load(handle).items():
            bagel_datasets.DATASET_INFO.setdefault(family, {}).update(entries)
    sys.argv = [script, *args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
