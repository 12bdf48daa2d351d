"""BAGEL's real code for the tests: its environment in a second venv and a tiny random snapshot.

The second venv (`.bagel-env/` in the checkout, git-ignored) is built once by
`scripts/bagel_env.sh --cpu-test` — the on-disk CPU torch 2.13.0, transformers 4.49.0 from the
registry and BAGEL's other inference imports, ≈50 s — and rebuilt when that script changes. The
worker runs in it with the test-only stand-ins of tests/kits/bagel_standins/ (torchvision, decord) on
its PYTHONPATH (no flash_attn: the worker takes the studio's SDPA path, studio/engines/bagel/attention.py)
and BAGEL's code from ../shared/third_party/Bagel (the clone a user would have; without
it the tests that need it skip with how to get it: tests/kits/upstream.py).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from .upstream import BAGEL

ROOT = Path(__file__).resolve().parents[2]
CLONE = BAGEL.path
ENV = ROOT / ".bagel-env"
STANDINS = ROOT / "tests" / "kits" / "bagel_standins"
SCRIPT = ROOT / "scripts" / "bagel_env.sh"


def bagel_python() -> str:
    """The python of BAGEL's test environment, built on first use; skips the test without BAGEL's code."""
    BAGEL.require()
    marker = ENV / ".studio-ready"
    wanted = hashlib.sha256(SCRIPT.read_bytes()).hexdigest()
    python = ENV / "bin" / "python"
    if not (marker.is_file() and marker.read_text() == wanted and python.exists()):
        done = subprocess.run(
            ["bash", str(SCRIPT), "--cpu-test", str(CLONE), str(ENV)],
            capture_output=True,
            text=True,
            timeout=1200,
            env={**os.environ, "PYTHON": os.environ.get("PYTHON", _base())},
        )
        if done.returncode:
            raise RuntimeError(
                f"building BAGEL's test environment failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
            )
        marker.write_text(wanted)
    return str(python)


def _base() -> str:
    """The interpreter this test venv was made from (a venv made from a venv would share nothing)."""
    base = (
        Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    )
    return str(base) if base.exists() else "python3"


def build_snapshot(python: str, out: Path, flux_ae: bool = False) -> Path:
    """A tiny random snapshot; `flux_ae`: with the FLUX-size autoencoder BAGEL's trainer insists on."""
    done = subprocess.run(
        [python, str(ROOT / "tests" / "kits" / "bagel_tiny.py"), str(out), str(CLONE)]
        + (["--flux-ae"] if flux_ae else []),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(STANDINS)},
    )
    if done.returncode:
        raise RuntimeError(f"building the tiny BAGEL snapshot failed:\n{done.stderr[-4000:]}")
    return out


def make_engine(python: str, snapshot: Path, **kwargs):
    from studio.engines.bagel import BagelEngine

    # One torch thread in the worker: the tiny model gains nothing from more, and on a shared 2-core machine
    # OpenMP threads spinning against other processes made stages 10-30x slower (measured).
    kwargs.setdefault("worker_env", {"OMP_NUM_THREADS": "1"})
    return BagelEngine(
        str(snapshot), repo=str(CLONE), python=python, extra_path=(str(STANDINS),), **kwargs
    )
