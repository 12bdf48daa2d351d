#!/usr/bin/env bash
# Static checks, run by .ci/run after the tests (and by hand: bash scripts/lint.sh). Each tool reads its
# settings from pyproject.toml: ruff (pyflakes, bugbear, mccabe, isort; the formatter at 100 columns),
# import-linter (the layers: UI/CLI -> runner -> engines/store -> domain) and mypy (the core's types).
# All four run, then the script fails if any of them did, so one run lists every finding.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
failed=()
run() { echo "== $*"; "$@" || failed+=("$1"); }
run "$bin/ruff" check .
run "$bin/ruff" format --check .
run "$bin/lint-imports"
run "$bin/mypy"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "lint failed: ${failed[*]##*/}" >&2
    exit 1
fi
echo "lint passed"
