"""Where a batch worker runs: its place among the launcher's processes, and its GPU.

Launchers (accelerate launch, torchrun, Slurm with the variables set) tell each process its RANK,
LOCAL_RANK and WORLD_SIZE; a worker reads them here and takes the LOCAL_RANK-th visible GPU before
any engine imports torch. Judged without importing torch, so a CPU-only worker stays light.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from . import limits
from .domain import StudioError


@dataclass(frozen=True)
class Place:
    rank: int
    local_rank: int
    world_size: int

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Place":
        """RANK / LOCAL_RANK / WORLD_SIZE as accelerate, torchrun and most launchers set them."""
        env = os.environ if env is None else env

        def number(name: str, default: int) -> int:
            try:
                return int(env.get(name, default))
            except ValueError:
                raise StudioError(
                    f"The launcher set {name}={limits.shown(env.get(name))}; expected a number."
                ) from None

        rank = number("RANK", 0)
        return cls(rank, number("LOCAL_RANK", rank), number("WORLD_SIZE", 1))

    def worker_id(self) -> str:
        """Unique across machines and restarts, and names the process (host:pid) for whoever looks."""
        return f"{socket.gethostname()[:64]}:{os.getpid()}:rank{self.rank}"


def visible_gpus() -> list[str]:
    """The GPUs this process may use, judged without importing torch: CUDA_VISIBLE_DEVICES when set,
    else the NVIDIA device files (/dev/nvidia0, /dev/nvidia1, …)."""
    import re

    visible = [
        d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()
    ]
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return visible
    found = [
        m.group(1)
        for m in (re.fullmatch(r"nvidia(\d+)", p.name) for p in Path("/dev").glob("nvidia*"))
        if m
    ]
    return sorted(found, key=int)


def pin_device(place: Place) -> str | None:
    """Give this worker its own GPU: the LOCAL_RANK-th visible one (round robin when there are more
    workers than GPUs, e.g. several small models per GPU). Done through CUDA_VISIBLE_DEVICES before
    any engine imports torch, so every engine's "cuda" means this GPU with no code of theirs changed;
    with torch.cuda.set_device when torch is already imported. None when there is nothing to pin."""
    if place.world_size <= 1 and "LOCAL_RANK" not in os.environ:
        return None
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not count:
            return None
        torch.cuda.set_device(place.local_rank % count)
        return f"cuda:{place.local_rank % count}"
    gpus = visible_gpus()
    if not gpus:
        return None
    chosen = gpus[place.local_rank % len(gpus)]
    os.environ["CUDA_VISIBLE_DEVICES"] = chosen
    return f"GPU {chosen}"
