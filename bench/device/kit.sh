#!/usr/bin/env bash
# Pack what the lent GPU machine lacks for `bench/gpu_check.py --full-size`, into DIR (at most 64 MiB).
#
#   bash bench/device/kit.sh DIR [--with-bitsandbytes]
#
# That machine has no internet and a python3 (3.12, /opt/torch/.venv) with torch 2.11 + CUDA 13,
# transformers 5.17, accelerate 1.15, numpy, safetensors, tokenizers, huggingface_hub, pillow,
# opencv, einops, sentencepiece, pyyaml and torchvision, but no SQLAlchemy, Alembic, Mako or diffusers
# (/work/.library/device/KINDS.md lists its packages). DIR gets:
#   wheels/        the studio's wheels for cp312 manylinux x86_64 (`pip download` here, from PyPI):
#                  SQLAlchemy, Alembic, Mako, diffusers, and transformers at the version the tests use
#                  (the device's 5.17 is older than the gpu extra's >=5.24); nothing the device has
#   bagel-wheels/  BAGEL's pins for its worker, installed apart (--target): transformers 4.49.0 and the
#                  tokenizers / huggingface_hub it accepts (BAGEL's modelling code needs 4.49)
#   bagel/         BAGEL's code (the clone the tests use, ../shared/third_party/Bagel)
#   studio/ bench/ tests/kits/ assets/ pyproject.toml   the project's source
#   run.sh         installs nothing globally: unpacks the wheels into DIR/site and DIR/bagel-site
#                  (pip --target) and runs gpu_check.py with PYTHONPATH, on the device's own torch
# --with-bitsandbytes adds bitsandbytes for BAGEL's nf4 mode when it still fits in 64 MiB.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: bash bench/device/kit.sh DIR [--with-bitsandbytes]" >&2
    exit 2
fi
out=$1
bnb=0
[ "${2:-}" = "--with-bitsandbytes" ] && bnb=1
root=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-"$root/.venv/bin/python"}
clone=${STROKE_STUDIO_TEST_BAGEL_REPO:-"$root/../shared/third_party/Bagel"}
limit=$((64 * 1024 * 1024))

rm -rf "$out"
mkdir -p "$out/wheels" "$out/bagel-wheels"
platforms=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
    manylinux1_x86_64 manylinux_2_34_x86_64 manylinux_2_31_x86_64 manylinux_2_24_x86_64 any; do
    platforms+=(--platform "$tag")
done
download() {  # download DEST SPEC...: those wheels alone, for the device's Python and platform
    local dest=$1
    shift
    "$python" -m pip --disable-pip-version-check -q download --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
        "${platforms[@]}" -d "$dest" "$@"
}
version() { "$python" -c "import importlib.metadata as m; print(m.version('$1'))"; }

# The studio's: the versions this checkout's tests run with, and what they need that the device lacks.
download "$out/wheels" "sqlalchemy==$(version sqlalchemy)" "alembic==$(version alembic)" \
    "mako==$(version mako)" "diffusers==$(version diffusers)" "transformers==$(version transformers)" \
    "importlib_metadata" "regex" "typing_extensions>=4.12" "huggingface_hub==$(version huggingface_hub)" \
    "tokenizers==$(version tokenizers)" "safetensors==$(version safetensors)" "httpx" "httpcore" "h11"
# BAGEL's worker: its own transformers, apart from the studio's.
download "$out/bagel-wheels" "transformers==4.49.0" "tokenizers>=0.21,<0.22" "huggingface_hub==0.29.1"
if [ "$bnb" = 1 ]; then
    download "$out/bagel-wheels" "bitsandbytes"
fi

# The project's source and BAGEL's code.
(cd "$root" && tar -cf - --exclude=__pycache__ studio bench tests/kits tests/__init__.py assets pyproject.toml) |
    (cd "$out" && tar -xf -)
if [ -f "$clone/inferencer.py" ]; then
    mkdir -p "$out/bagel"
    (cd "$clone" && tar -cf - --exclude=.git --exclude=__pycache__ --exclude='*.png' --exclude='*.jpg' \
        --exclude='*.gif' --exclude='*.mp4' .) | (cd "$out/bagel" && tar -xf -)
else
    echo "kit: no BAGEL clone at $clone (set STROKE_STUDIO_TEST_BAGEL_REPO): the check skips bagel" >&2
fi

cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# On the GPU machine: bash run.sh [gpu_check.py arguments, default --full-size]. Installs nothing globally.
set -euo pipefail
kit=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
pip_target() {
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$1" "${@:2}"
}
[ -d "$kit/site" ] || pip_target "$kit/site" "$kit"/wheels/*.whl
[ -d "$kit/bagel-site" ] || pip_target "$kit/bagel-site" "$kit"/bagel-wheels/*.whl
export PYTHONPATH="$kit/site:$kit${PYTHONPATH:+:$PYTHONPATH}"
export STROKE_STUDIO_BAGEL_SITE="$kit/bagel-site"
[ -d "$kit/bagel" ] && export STROKE_STUDIO_BAGEL_REPO="$kit/bagel"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"$python" -c "import torch, transformers, diffusers, sqlalchemy; print('kit:', 'torch', torch.__version__,
    'cuda', torch.version.cuda, 'transformers', transformers.__version__, 'diffusers', diffusers.__version__)"
cd "$kit"
if [ $# -eq 0 ]; then set -- --full-size; fi
exec "$python" bench/gpu_check.py "$@"
RUN
chmod +x "$out/run.sh"

size=$(du -sb "$out" | cut -f1)
echo "kit: $out holds $((size / 1024 / 1024)) MiB ($size bytes): $(ls "$out/wheels" | wc -l) studio wheels," \
    "$(ls "$out/bagel-wheels" | wc -l) BAGEL wheels"
if [ "$size" -gt "$limit" ]; then
    echo "kit: over the 64 MiB a device call may carry; drop --with-bitsandbytes" >&2
    exit 1
fi
