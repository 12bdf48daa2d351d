#!/usr/bin/env bash
# Build the Python environment BAGEL's code needs, apart from the studio's .venv.
#
# Why a second environment: BAGEL pins its own stack (transformers 4.49, numpy 1.24, torch 2.5.1, ...)
# and its modelling code does not import beside the transformers 5 the studio's GPU engines use. The
# studio therefore runs BAGEL in a worker process started with this environment's python
# (STROKE_STUDIO_BAGEL_PYTHON) and talks to it over pipes; nothing of the studio is installed here.
#
#   bash scripts/bagel_env.sh ~/Bagel ~/bagel-env            BAGEL's requirements.txt from your clone
#                                                            (wheels only); no flash_attn build
#   bash scripts/bagel_env.sh --flash-attn ~/Bagel ~/bagel-env  also flash_attn 2.5.8, which PyPI has as
#                                                            source only: it compiles for about an hour
#                                                            and needs an nvcc matching torch's CUDA
#   bash scripts/bagel_env.sh --cpu-test ~/Bagel ~/bagel-env  what the CPU tests need: the on-disk CPU
#                                                            torch 2.13.0, transformers 4.49.0 and BAGEL's
#                                                            other inference imports; no flash_attn or
#                                                            torchvision (the tests bring a torchvision
#                                                            stand-in)
#   --dry-run (first)                                        print the Python check and the pip commands,
#                                                            install nothing
# Without flash_attn the studio runs BAGEL's attention on PyTorch's SDPA (studio/engines/bagel/attention.py;
# README: what it costs). BAGEL's requirements.txt pins numpy 1.24.4, torch 2.5.1 and friends, whose
# wheels stop at Python 3.11: the script checks the interpreter and names one to use. PYTHON=python3.10
# picks it (BAGEL's README uses 3.10). Then:
#   export STROKE_STUDIO_BAGEL_PYTHON=~/bagel-env/bin/python
set -euo pipefail

cpu_test=0
flash=0
dry=0
while [ $# -gt 0 ]; do
    case "$1" in
        --cpu-test) cpu_test=1; shift ;;
        --flash-attn) flash=1; shift ;;
        --dry-run) dry=1; shift ;;
        *) break ;;
    esac
done
if [ $# -ne 2 ]; then
    echo "usage: bash scripts/bagel_env.sh [--dry-run] [--cpu-test | --flash-attn] BAGEL_CLONE ENV_DIR" >&2
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
if ! version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); then
    echo "PYTHON=$python does not run: set PYTHON to a Python 3.10 or 3.11 interpreter." >&2
    exit 2
fi
minor=${version#3.}
if [ "$cpu_test" = 0 ] && { [ "${version%%.*}" != 3 ] || [ "$minor" -lt 9 ] || [ "$minor" -gt 11 ]; }; then
    echo "$python is Python $version; BAGEL's requirements.txt (numpy 1.24.4, torch 2.5.1, ...) has wheels" \
         "for Python 3.9 to 3.11 only: rerun with PYTHON=python3.10 (or python3.11)." >&2
    exit 2
fi
echo "python: $python (Python $version)"

run() {
    if [ "$dry" = 1 ]; then echo "would run: $*"; else "$@"; fi
}
if [ "$dry" = 0 ]; then
    [ -x "$env_dir/bin/python" ] || "$python" -m venv "$env_dir"
fi
pip() { run "$env_dir/bin/python" -m pip --disable-pip-version-check -q "$@"; }

if [ "$cpu_test" = 1 ]; then
    # torch first and pinned, so nothing below resolves a multi-GB CUDA build. The rest is what
    # BAGEL's inference path imports (inferencer.py, modeling/, data/transforms.py, data/data_utils.py),
    # plus pyarrow and pandas: BAGEL's own dataset classes (data/) read the studio's exports in the tests
    # (pyarrow 21 and later need numpy 2).
    pip install "torch==2.13.0"
    pip install "transformers==4.49.0" "numpy<2" einops safetensors accelerate sentencepiece pillow \
        "opencv-python-headless<5" pyyaml "pyarrow<21" pandas
else
    # BAGEL's own pins, as its README installs them, from wheels only (a pin without a wheel for this
    # Python fails here in seconds instead of compiling).
    pip install --only-binary=:all: -r "$clone/requirements.txt"
    if [ "$flash" = 1 ]; then
        # asked for: flash_attn last, built against that torch (about an hour; nvcc must match torch's CUDA)
        pip install "flash_attn==2.5.8" --no-build-isolation
    elif [ "$dry" = 1 ]; then
        echo "would try flash_attn==2.5.8 from a wheel only; without one, BAGEL runs on PyTorch's SDPA"
    elif pip install --only-binary=:all: "flash_attn==2.5.8" 2>/dev/null; then
        echo "flash_attn installed from a wheel"
    else
        echo "no flash_attn wheel for this Python and platform: BAGEL will run its attention on PyTorch's" \
             "SDPA (rerun with --flash-attn to build it from source, about an hour)."
    fi
fi
if [ "$dry" = 0 ]; then
    "$env_dir/bin/python" -c "import torch, transformers; print('BAGEL environment ready:', '$env_dir',
        'torch', torch.__version__, 'transformers', transformers.__version__)"
fi
