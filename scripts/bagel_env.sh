#!/usr/bin/env bash
# Build the Python environment BAGEL's code needs, apart from the studio's .venv.
#
# Why a second environment: BAGEL pins its own stack (transformers 4.49, numpy 1.24, torch 2.5.1, ...)
# and its modelling code does not import beside the transformers 5 the studio's GPU engines use. The
# studio therefore runs BAGEL in a worker process started with this environment's python
# (STROKE_STUDIO_BAGEL_PYTHON) and talks to it over pipes; nothing of the studio is installed here.
#
#   bash scripts/bagel_env.sh ~/Bagel ~/bagel-env            BAGEL's requirements.txt from your clone,
#                                                            then flash_attn (needs CUDA and a compiler)
#   bash scripts/bagel_env.sh --cpu-test ~/Bagel ~/bagel-env  what the CPU tests need: the on-disk CPU
#                                                            torch 2.13.0, transformers 4.49.0 and BAGEL's
#                                                            other inference imports; no flash_attn or
#                                                            torchvision (the tests bring stand-ins)
# PYTHON=python3.10 picks the interpreter (BAGEL's README uses 3.10). Then:
#   export STROKE_STUDIO_BAGEL_PYTHON=~/bagel-env/bin/python
set -euo pipefail

cpu_test=0
if [ "${1:-}" = "--cpu-test" ]; then cpu_test=1; shift; fi
if [ $# -ne 2 ]; then
    echo "usage: bash scripts/bagel_env.sh [--cpu-test] BAGEL_CLONE ENV_DIR" >&2
    exit 2
fi
clone=$1
env_dir=$2
python=${PYTHON:-python3}
if [ ! -f "$clone/requirements.txt" ] || [ ! -f "$clone/inferencer.py" ]; then
    echo "$clone is not a clone of BAGEL's repository (no requirements.txt / inferencer.py):" \
         "git clone https://github.com/ByteDance-Seed/Bagel" >&2
    exit 2
fi

[ -x "$env_dir/bin/python" ] || "$python" -m venv "$env_dir"
pip() { "$env_dir/bin/python" -m pip --disable-pip-version-check -q "$@"; }

if [ "$cpu_test" = 1 ]; then
    # torch first and pinned, so nothing below resolves a multi-GB CUDA build. The rest is what
    # BAGEL's inference path imports (inferencer.py, modeling/, data/transforms.py, data/data_utils.py),
    # plus pyarrow and pandas: BAGEL's own dataset classes (data/) read the studio's exports in the tests
    # (pyarrow 21 and later need numpy 2).
    pip install "torch==2.13.0"
    pip install "transformers==4.49.0" "numpy<2" einops safetensors accelerate sentencepiece pillow \
        "opencv-python-headless<5" pyyaml "pyarrow<21" pandas
else
    # BAGEL's own pins, as its README installs them; flash_attn last (it builds against that torch).
    pip install -r "$clone/requirements.txt"
    pip install "flash_attn==2.5.8" --no-build-isolation
fi
"$env_dir/bin/python" -c "import torch, transformers; print('BAGEL environment ready:', '$env_dir',
    'torch', torch.__version__, 'transformers', transformers.__version__)"
