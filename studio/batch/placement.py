"""Where a batch worker runs: its place among the launcher's processes, and its GPU.

Launchers (accelerate launch, torchrun, Slurm with the variables set) tell each process its RANK,
LOCAL_RANK and WORLD_SIZE; a worker reads them here and takes the LOCAL_RANK-th visible GPU before
any engine imports torch. Judged without importing torch, so a CPU-only worker stays light.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..core import limits
from ..core.domain import StudioError


@dataclass(frozen=True)
class Place:
    rank: int
    local_rank: int
    world_size: int

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Place":
        """RANK / LOCAL_RANK / WORLD_SIZE as accelerate, torchrun and most launchers set them."""
        if env is None:
            short = launcher_shortfall(os.environ, _parent_argv())
            if short:
                raise StudioError(short.refusal)
        found: Mapping[str, str] = os.environ if env is None else env

        def number(name: str, default: int) -> int:
            try:
                return int(found.get(name, default))
            except ValueError:
                raise StudioError(
                    f"The launcher set {name}={limits.shown(found.get(name))}; expected a number."
                ) from None

        rank = number("RANK", 0)
        return cls(rank, number("LOCAL_RANK", rank), number("WORLD_SIZE", 1))

    def worker_id(self) -> str:
        """Unique across machines and restarts, and names the process (host:pid) for whoever looks."""
        return f"{socket.gethostname()[:64]}:{os.getpid()}:rank{self.rank}"


@dataclass(frozen=True)
class Shortfall:
    """accelerate launch was asked for `asked` processes and started this one alone: on a machine
    without GPUs (and without --multi_gpu) it takes its one-process path, sets no WORLD_SIZE and says
    nothing. `command` is what it was to run (`-m MODULE ARGS…` or `SCRIPT ARGS…`)."""

    asked: int
    command: list[str]

    @property
    def why(self) -> str:
        return (
            f"accelerate launch was asked for {self.asked} processes but started only this one "
            "(without GPUs it needs --multi_gpu)"
        )

    @property
    def refusal(self) -> str:
        return f"{self.why}; nothing was run: start them with `{self.fix}`."

    @property
    def fix(self) -> str:
        tail = shlex.join(self.command) if self.command else "-m studio batch …"
        return f"torchrun --nproc_per_node {self.asked} {tail}"


def launcher_shortfall(env: Mapping[str, str], launcher_argv: list[str]) -> Shortfall | None:
    """The Shortfall when accelerate's launcher (whose command line is `launcher_argv`: the process
    that started this one) was asked for more processes than it started; None otherwise."""
    if "WORLD_SIZE" in env or "ACCELERATE_MIXED_PRECISION" not in env:
        return None  # a multi-process launcher placed us, or accelerate did not start us
    if "launch" not in launcher_argv[:3] or not any("accelerate" in a for a in launcher_argv[:2]):
        return None
    asked, command = 1, []
    for k, arg in enumerate(launcher_argv):
        name, _, value = arg.partition("=")
        if name in ("--num_processes", "--num-processes"):
            value = value or (launcher_argv[k + 1] if k + 1 < len(launcher_argv) else "")
            asked = int(value) if value.isdigit() else asked
        elif arg in ("-m", "--module") or arg.endswith(".py"):
            command = ["-m", *launcher_argv[k + 1 :]] if arg == "--module" else launcher_argv[k:]
            break
    return Shortfall(asked, command) if asked > 1 else None


def relaunch_as_asked() -> None:
    """Run what accelerate was asked for when it started one process instead of several: replace this
    process with torchrun starting them (accelerate's own --multi_gpu path is torchrun too), after
    one line saying so. Returns when nothing is short; refuses in one line when it cannot relaunch."""
    short = launcher_shortfall(os.environ, _parent_argv())
    if short is None:
        return
    if not short.command or importlib.util.find_spec("torch") is None:
        raise StudioError(short.refusal)
    sys.stderr.write(f"{short.why}: starting {short.asked} workers as `{short.fix}` would.\n")
    sys.stderr.flush()
    argv = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(short.asked)]
    os.execv(sys.executable, argv + short.command)


def _parent_argv() -> list[str]:
    """The command line of the process that started this one ([] where /proc cannot tell)."""
    try:
        raw = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def visible_gpus() -> list[str]:
    """The GPUs this process may use, judged without importing torch: CUDA_VISIBLE_DEVICES when set,
    else the NVIDIA device files (/dev/nvidia0, /dev/nvidia1, …)."""
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
