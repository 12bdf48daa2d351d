"""The output folder, laid out the way GenEval's generation script writes it, plus our own records.

    OUT/
      <mode>/                   one GenEval image folder per mode: point evaluate_images.py here
        <NNNNN>/                the prompt's place in the metadata file, 5 digits
          metadata.jsonl        that prompt's metadata object, as one JSON line (json.dump)
          samples/<NNNN>.png    the final image of each sample, 4 digits
      records/<mode>/<NNNNN>-<NNNN>.json
                                what the studio knows about each sample: its session id, the verdict
                                and which checker gave it, sampling steps, rounds, wall time
      run.json                  the settings the folder was made with (a resume must match them)
      report.md, report.png, report.json

GenEval's evaluator reads only `metadata.jsonl` and files named `<digits>.png` under `samples/` of
folders named by digits, so nothing else goes inside `<mode>/`; a sample is written to a dot-file
beside `samples/` and renamed into place, so a killed run never leaves half a PNG there. A sample
counts as finished exactly when its PNG exists; its record is written just before the PNG.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.domain import StudioError
from ..core.files import write_atomic

RECORDS = "records"
RUN_FILE = "run.json"


def prompt_dir(out: Path, mode: str, index: int) -> Path:
    return out / mode / f"{index:05d}"


def sample_path(out: Path, mode: str, index: int, sample: int) -> Path:
    return prompt_dir(out, mode, index) / "samples" / f"{sample:04d}.png"


def record_path(out: Path, mode: str, index: int, sample: int) -> Path:
    return out / RECORDS / mode / f"{index:05d}-{sample:04d}.json"


def write_metadata(out: Path, mode: str, index: int, row: dict[str, Any]) -> Path:
    """`<mode>/<NNNNN>/metadata.jsonl` (as GenEval's `json.dump(metadata, fp)`) and an empty `samples/`."""
    folder = prompt_dir(out, mode, index)
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    path = folder / "metadata.jsonl"
    text = json.dumps(row)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_atomic(path, text.encode("utf-8"))
    return path


def write_sample(out: Path, mode: str, index: int, sample: int, png: bytes) -> Path:
    """The sample's PNG, renamed into `samples/` only once it is whole."""
    path = sample_path(out, mode, index, sample)
    write_atomic(path, png, temp_dir=path.parent.parent)
    return path


def is_finished(out: Path, mode: str, index: int, sample: int) -> bool:
    return sample_path(out, mode, index, sample).is_file()


def write_record(out: Path, record: dict[str, Any]) -> None:
    path = record_path(out, record["mode"], record["index"], record["sample"])
    write_atomic(path, json.dumps(record, indent=1).encode("utf-8"))


def read_record(out: Path, mode: str, index: int, sample: int) -> dict[str, Any] | None:
    path = record_path(out, mode, index, sample)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def check_run_settings(out: Path, settings: dict[str, Any]) -> None:
    """Remember the settings a folder was made with; refuse to resume it with different ones."""
    path = out / RUN_FILE
    if path.is_file():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            saved = None
        if isinstance(saved, dict):
            changed = [k for k in settings if k in saved and saved[k] != settings[k]]
            if changed:
                detail = "; ".join(f"{k}: {saved[k]!r} there, {settings[k]!r} now" for k in changed)
                raise StudioError(
                    f"{out} holds a run made with other settings ({detail}). Resume it with the same "
                    "settings, or pass another --out."
                )
            settings = {**saved, **settings}
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(settings, indent=1).encode("utf-8"))
