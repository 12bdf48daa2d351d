"""The CPU patches that let BAGEL's trainer (train/pretrain_unified_navit.py, its files unmodified) take a
few steps on this machine's CPU, run as `studio train bagel`'s prelude hook
(STROKE_STUDIO_BAGEL_TRAIN_PRELUDE, studio/train/entry.py). Test-only: on a GPU machine none is needed.

Each patch stands in for the CUDA machine the trainer was written for, and says which line it works
around (after ../shared/notes/recipes/bagel_train_cpu/cpu_launch.py, which found them one by one).
The dataset-info merge is not here: that is the product's (the entry point does it on GPUs too).
"""

import os

import torch
import torch.distributed as dist

# 1. main() starts with `assert torch.cuda.is_available()` and asks CUDA for its device, memory and name.
torch.cuda.is_available = lambda: True
torch.cuda.device_count = lambda: 1
torch.cuda.set_device = lambda device: None
torch.cuda.current_device = lambda: 0
torch.cuda.synchronize = lambda *a, **k: None
torch.cuda.empty_cache = lambda: None
torch.cuda.max_memory_allocated = lambda *a, **k: 0
torch.cuda.max_memory_reserved = lambda *a, **k: 0
torch.cuda.get_device_name = lambda *a, **k: "cpu"

# 2. dist.init_process_group("nccl"): NCCL is CUDA-only; gloo is the CPU's.
_init_process_group = dist.init_process_group
dist.init_process_group = lambda backend=None, *a, **k: _init_process_group("gloo", *a, **k)
for _name, _value in {"MASTER_ADDR": "127.0.0.1", "RANK": "0", "WORLD_SIZE": "1"}.items():
    os.environ.setdefault(_name, _value)

import data.dataset_base as dataset_base  # noqa: E402  (BAGEL's, from its clone)
import train.fsdp_utils as fsdp_utils  # noqa: E402


# 3. FSDP(device_id=rank % cuda.device_count()) names a CUDA device.
class _CpuFSDP(fsdp_utils.FSDP):
    def __init__(self, module, **kwargs):
        kwargs["device_id"] = torch.device("cpu")
        super().__init__(module, **kwargs)


fsdp_utils.FSDP = _CpuFSDP

# 4. `data.cuda(device)`: the packed batch is moved with tensor.cuda().
dataset_base.SimpleCustomBatch.cuda = lambda self, device: self

# 5. torch.amp.autocast("cuda", bfloat16) does nothing on the CPU: fp32 activations meet bf16 FSDP params.
_autocast = torch.amp.autocast
torch.amp.autocast = lambda device_type, *a, **k: _autocast(
    "cpu" if device_type == "cuda" else device_type, *a, **k
)


# 6. `device = dist.get_rank() % torch.cuda.device_count()` is a CUDA index (0 means cuda:0), used in
#    vae_model.to(device) and torch.tensor(..., device=device): such devices are the CPU here.
def _cpu(device):
    if isinstance(device, bool):
        return device
    if isinstance(device, int) or (device is not None and "cuda" in str(device)):
        return "cpu"
    return device


_module_to = torch.nn.Module.to


def _to(self, *args, **kwargs):
    args = tuple(_cpu(a) if isinstance(a, (int, str, torch.device)) else a for a in args)
    if "device" in kwargs:
        kwargs["device"] = _cpu(kwargs["device"])
    return _module_to(self, *args, **kwargs)


torch.nn.Module.to = _to
_tensor = torch.tensor
torch.tensor = lambda *a, **k: _tensor(
    *a, **({**k, "device": _cpu(k["device"])} if "device" in k else k)
)

# 7. Training attention forces sdpa_kernel([EFFICIENT_ATTENTION]) on a bf16 float mask: the CPU has no
#    such kernel ("No viable backend"), so SDPA may also use its MATH kernel.
import modeling.bagel.qwen2_navit as qwen2_navit  # noqa: E402
from torch.nn.attention import SDPBackend  # noqa: E402

_sdpa_kernel = qwen2_navit.sdpa_kernel
qwen2_navit.sdpa_kernel = lambda backends, *a, **k: _sdpa_kernel(
    list(backends) + [SDPBackend.MATH], *a, **k
)
