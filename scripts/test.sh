#!/usr/bin/env bash
# Sets up the environment (scripts/setup.sh) and runs the whole test suite, slow tests included.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Two workers, each test file on one of them (its module fixtures are built once); TEST_WORKERS=0
# runs everything in this process.
"${VENV:-.venv}/bin/python" -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
