"""Writing a file so that readers only ever see it whole.

The image store, the GenEval layout and the UI's overlays are read while they are written (other
threads, other processes, GenEval's evaluator walking the folder), so each file is written under
a temporary name and renamed into place; a failed write leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, temp_dir: Path | None = None) -> None:
    """Write `data` to a dot-file in `temp_dir` (default: `path`'s folder), then rename it onto `path`.

    Both folders are created if missing. `temp_dir` must be on the same file system as `path`; a
    folder outside `path`'s own keeps the half-written file out of sight of anyone listing it."""
    folder = temp_dir or path.parent
    folder.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
