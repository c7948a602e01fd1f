#!/usr/bin/env bash
# Sets up the environment (scripts/setup.sh) and runs the whole test suite, slow tests included.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
"${VENV:-.venv}/bin/python" -m pytest "$@"
